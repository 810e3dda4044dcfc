/*-------------------------------------------------------------------------
 * pr_events.c
 *		Change events.
 *
 * Every successful write appends a row to payment_records.event in its
 * own transaction, so an event commits (and survives a crash) exactly when
 * the write does.  Event ids come from a sequence, in insertion order;
 * concurrent writers may commit out of id order, so a reader resuming
 * from the last id it saw can miss a lower id committed later (the README
 * says how to follow them).  NOTIFY payment_records_events carries the id
 * and, as NOTIFY does, is delivered only after commit and in commit order,
 * so a listener never hears of a write it cannot read.
 *
 * NOTIFY is off by default (payment_records.notify_events): PostgreSQL
 * takes a database-wide lock in the commit of every notifying
 * transaction and holds it through the commit's WAL flush, so notifying
 * writers commit one at a time, and a transaction that has notified
 * cannot be prepared (two-phase commit).  The event row is written all
 * the same and followers read the table.
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "commands/async.h"

#include "pr_events.h"
#include "pr_settings.h"
#include "pr_store.h"


/*
 * Record an event of type for object, and, if pr_notify_events is on,
 * NOTIFY PR_EVENT_CHANNEL with the event's id (see above for the cost).
 */
void
pr_event_emit(const char *type, bool livemode, Jsonb *object)
{
	int64		id = pr_store_event_insert(type, livemode, object);
	char		payload[32];

	if (!pr_notify_events)
		return;
	snprintf(payload, sizeof(payload), INT64_FORMAT, id);
	Async_Notify(PR_EVENT_CHANNEL, payload);
}
