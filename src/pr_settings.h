/*-------------------------------------------------------------------------
 * pr_settings.h
 *		The settings of payment_records, as the rest of the module reads
 *		them.
 *
 * pr_module.c defines every setting (DefineCustom*Variable in _PG_init)
 * over the variables of pr_settings.c; PostgreSQL validates and sets
 * them.  Other files only read them, through this header, never through
 * current_setting().
 *-------------------------------------------------------------------------
 */
#ifndef PR_SETTINGS_H
#define PR_SETTINGS_H

#include "datatype/timestamp.h"

/* payment_records.notify_events: NOTIFY on every write (default off) */
extern bool pr_notify_events;

/* payment_records.idempotency_retention, in seconds (>= 24 h) */
extern int	pr_idempotency_retention;

/* payment_records.allow_drop: DROP EXTENSION allowed with data in it */
extern bool pr_allow_drop;

/* payment_records.shard: this node's shard number, -1 when not sharded */
extern int	pr_shard;

/* Idempotency keys created before this have expired. */
extern TimestampTz pr_idempotency_expiry(void);

#endif							/* PR_SETTINGS_H */
