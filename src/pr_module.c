/*-------------------------------------------------------------------------
 * pr_module.c
 *		Module entry point, every setting, and the caller's mode.
 *
 * No setting may weaken an invariant: the refund limit, reference
 * uniqueness and the state machine are enforced by triggers whatever
 * these say.  Settings are read only through the C variables below,
 * which PostgreSQL has validated when this module was loaded (a value
 * set as a placeholder before the load, by a role without the right to
 * set it, is discarded then), never through current_setting().
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "fmgr.h"
#include "miscadmin.h"
#include "utils/acl.h"
#include "utils/guc.h"
#include "utils/timestamp.h"

#include "pr_catalog.h"
#include "pr_module.h"
#include "pr_shard.h"

PG_MODULE_MAGIC;

bool		pr_notify_events = false;
int			pr_idempotency_retention = 24 * 60 * 60;
bool		pr_allow_drop = false;
static int	pr_shard = -1;

void		_PG_init(void);

/* Define the settings and register the catalog cache callbacks. */
void
_PG_init(void)
{
	DefineCustomBoolVariable("payment_records.notify_events",
							 "Whether each write sends NOTIFY payment_records_events.",
							 "Events are always written.  NOTIFY makes PostgreSQL commit notifying transactions one at a time, and a transaction that has notified cannot be prepared (two-phase commit).",
							 &pr_notify_events,
							 false,
							 PGC_SUSET,
							 0,
							 NULL, NULL, NULL);

	DefineCustomIntVariable("payment_records.idempotency_retention",
							"How long idempotency keys are kept.",
							"Keys older than this are forgotten and removed by purge_idempotency_keys(); at least 24 hours, as Stripe keeps them.",
							&pr_idempotency_retention,
							24 * 60 * 60,
							24 * 60 * 60,
							PG_INT32_MAX,
							PGC_SUSET,
							GUC_UNIT_S,
							NULL, NULL, NULL);

	DefineCustomBoolVariable("payment_records.allow_drop",
							 "Allow DROP EXTENSION payment_records while it holds payment records.",
							 "Dropping the extension deletes every payment; set it (SET LOCAL) in the transaction that means to.",
							 &pr_allow_drop,
							 false,
							 PGC_SUSET,
							 0,
							 NULL, NULL, NULL);

	DefineCustomIntVariable("payment_records.shard",
							"This node's shard number in a sharded deployment, or -1.",
							"Stamped into every new id and serial key (see pr_shard.c); set once per shard database by a superuser, never changed while the shard holds records.",
							&pr_shard,
							-1,
							-1,
							PR_SHARD_MAX,
							PGC_SUSET,
							0,
							NULL, NULL, NULL);

	MarkGUCPrefixReserved("payment_records");

	pr_catalog_init();
}

/*
 * The caller's mode: live if the role the session acts as (SET ROLE
 * included, SECURITY DEFINER switches excluded) is a member of
 * payment_records_live, which only its administrators can grant;
 * superusers are not members by virtue of being superusers.  Test mode
 * otherwise, and when the role does not exist.
 */
bool
pr_caller_livemode(void)
{
	return pr_role_livemode(GetOuterUserId());
}

/*
 * Whether a role acts in live mode: a member of payment_records_live (not
 * by being superuser).  The one rule for callers and for gateway keys.
 */
bool
pr_role_livemode(Oid role)
{
	Oid			live = get_role_oid(PR_LIVE_ROLE, true);

	return OidIsValid(live) && is_member_of_role_nosuper(role, live);
}

/* payment_records.shard: this node's shard, -1 when not sharded. */
int
pr_shard_number(void)
{
	return pr_shard;
}

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

PG_FUNCTION_INFO_V1(payment_records_caller_livemode);

/*
 * caller_livemode() -> boolean: the caller's mode, as the API decides it;
 * the row-level security policies of the tables show each caller only
 * the rows of its own mode.
 */
Datum
payment_records_caller_livemode(PG_FUNCTION_ARGS)
{
	PG_RETURN_BOOL(pr_caller_livemode());
}
