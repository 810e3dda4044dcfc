/*-------------------------------------------------------------------------
 * pr_module.c
 *		Module entry point and settings.
 *
 * No setting may weaken an invariant: the refund limit, reference
 * uniqueness and the state machine are enforced by triggers whatever
 * these say.
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "fmgr.h"
#include "utils/guc.h"

#include "pr_events.h"
#include "pr_idempotency.h"
#include "pr_insert.h"
#include "pr_module.h"

PG_MODULE_MAGIC;

bool		pr_livemode = false;

void		_PG_init(void);

void
_PG_init(void)
{
	DefineCustomBoolVariable("payment_records.livemode",
							 "Whether new payment records are live-mode objects.",
							 "Objects of the other mode are invisible to the API.",
							 &pr_livemode,
							 false,
							 PGC_USERSET,
							 0,
							 NULL, NULL, NULL);

	DefineCustomBoolVariable("payment_records.notify_events",
							 "Whether each write sends NOTIFY payment_records_events.",
							 "Events are always written; NOTIFY makes PostgreSQL commit notifying transactions one at a time, so writers that need throughput may turn it off and followers read the event table instead.",
							 &pr_notify_events,
							 true,
							 PGC_USERSET,
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

	MarkGUCPrefixReserved("payment_records");

	pr_insert_init();
}
