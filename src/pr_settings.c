/*-------------------------------------------------------------------------
 * pr_settings.c
 *		The variables behind the settings, and what is derived from them.
 *
 * No setting may weaken an invariant: the refund limit, reference
 * uniqueness and the state machine are enforced by triggers whatever
 * these say.  pr_module.c defines the settings over these variables,
 * which PostgreSQL has validated when the module was loaded (a value set
 * as a placeholder before the load, by a role without the right to set
 * it, is discarded then).
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "utils/timestamp.h"

#include "pr_settings.h"

bool		pr_notify_events = false;
int			pr_idempotency_retention = 24 * 60 * 60;
bool		pr_allow_drop = false;
int			pr_shard = -1;

/*
 * Idempotency keys created before this have expired: now minus
 * payment_records.idempotency_retention, in 64-bit microseconds (the
 * retention may be up to 68 years).
 */
TimestampTz
pr_idempotency_expiry(void)
{
	return GetCurrentTimestamp() - (TimestampTz) pr_idempotency_retention * USECS_PER_SEC;
}
