/*-------------------------------------------------------------------------
 * pr_events.h
 *		Change events: one row per successful write, NOTIFY after commit.
 *-------------------------------------------------------------------------
 */
#ifndef PR_EVENTS_H
#define PR_EVENTS_H

#include "utils/jsonb.h"

#define PR_EVENT_CHANNEL "payment_records_events"



/* Inside SPI: append an event of type with object, and queue the NOTIFY. */
extern void pr_event_emit(const char *type, bool livemode, Jsonb *object);

#endif							/* PR_EVENTS_H */
