/*-------------------------------------------------------------------------
 * pr_module.c
 *		Module entry point: _PG_init, which defines every setting.
 *
 * The top of the module's dependency order: nothing includes anything of
 * this file.  The settings' variables live in pr_settings.c, and other
 * files read them through pr_settings.h; no setting may weaken an
 * invariant (see there).
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "fmgr.h"
#include "utils/guc.h"

#include "pr_catalog.h"
#include "pr_settings.h"
#include "pr_shard.h"

PG_MODULE_MAGIC;

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
