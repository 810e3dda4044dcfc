/*-------------------------------------------------------------------------
 * pr_event_row.c
 *		The change events' rows: one insert per successful write.
 *
 * The row goes in without an SQL statement (pr_insert.c), in the same
 * transaction as the write it reports; pr_events.c decides what to emit.
 *
 * This is the one file that includes access/toast_internals.h: PostgreSQL
 * has no public call that compresses a datum with a chosen method, and the
 * column's own compression would not apply to rows this small (see
 * compressed_jsonb).
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/toast_compression.h"
#include "access/toast_internals.h"
#include "access/xact.h"
#include "utils/builtins.h"
#include "utils/timestamp.h"

#include "pr_insert.h"
#include "pr_store.h"

/*
 * An event's object is a whole response, about 1 kB: under the row size
 * at which PostgreSQL compresses anything by itself, yet more than half
 * of the WAL a report_payment writes.  It is stored lz4-compressed (when
 * the server has lz4), which halves that; readers get the same jsonb.
 */
static Datum
compressed_jsonb(Jsonb *j)
{
#ifdef USE_LZ4
	Datum		c = toast_compress_datum(JsonbPGetDatum(j), TOAST_LZ4_COMPRESSION);

	/* NULL when compressing would not save space */
	if (DatumGetPointer(c) != NULL)
		return c;
#endif
	return JsonbPGetDatum(j);
}

/*
 * Insert an event row of type for object; returns its id, which
 * pr_event_emit sends in the notification.
 */
int64
pr_store_event_insert(const char *type, bool livemode, Jsonb *object)
{
	Datum		v[PR_EV_NATTS];
	bool		n[PR_EV_NATTS] = {0};
	PrInsertBatch *b = pr_insert_begin();
	int64		id = pr_next_serial(PR_T_EVENT);

	v[PR_EV_ID] = Int64GetDatum(id);
	v[PR_EV_TYPE] = CStringGetTextDatum(type);
	v[PR_EV_LIVEMODE] = BoolGetDatum(livemode);
	v[PR_EV_OBJECT] = compressed_jsonb(object);
	v[PR_EV_CREATED] = TimestampTzGetDatum(GetCurrentTransactionStartTimestamp());
	pr_insert_row(b, PR_T_EVENT, v, n);
	pr_insert_end(b);
	return id;
}
