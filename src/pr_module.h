/*-------------------------------------------------------------------------
 * pr_module.h
 *		Settings of payment_records and the caller's mode (pr_module.c).
 *-------------------------------------------------------------------------
 */
#ifndef PR_MODULE_H
#define PR_MODULE_H

#include "datatype/timestamp.h"

/* the role whose members act in live mode */
#define PR_LIVE_ROLE "payment_records_live"

/* payment_records.notify_events: NOTIFY on every write (default off) */
extern bool pr_notify_events;

/* payment_records.idempotency_retention, in seconds (>= 24 h) */
extern int	pr_idempotency_retention;

/* payment_records.allow_drop: DROP EXTENSION allowed with data in it */
extern bool pr_allow_drop;

/* payment_records.shard: this node's shard number, -1 when not sharded */
extern int	pr_shard_number(void);

/* Idempotency keys created before this have expired. */
extern TimestampTz pr_idempotency_expiry(void);

/* The caller's mode: true for live (see pr_module.c). */
extern bool pr_caller_livemode(void);

/* Whether a role acts in live mode (pr_module.c). */
extern bool pr_role_livemode(Oid role);

/* unix seconds <-> timestamptz */
#define PR_UNIX_EPOCH_OFFSET \
	((int64) (POSTGRES_EPOCH_JDATE - UNIX_EPOCH_JDATE) * SECS_PER_DAY)
#define PR_TS_FROM_UNIX(s)	((TimestampTz) (((s) - PR_UNIX_EPOCH_OFFSET) * USECS_PER_SEC))
/* floor division: C's "/" rounds toward zero, wrong before 2000-01-01 */
#define PR_UNIX_FROM_TS(t) \
	((int64) (((t) >= 0 ? (t) : (t) - (USECS_PER_SEC - 1)) / USECS_PER_SEC) + \
	 PR_UNIX_EPOCH_OFFSET)

#endif							/* PR_MODULE_H */
