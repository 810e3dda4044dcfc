/*-------------------------------------------------------------------------
 * pr_api_refund.c
 *		report_refund(): append a refund to a guaranteed record.
 *
 * The record row is locked before anything is decided, so refunds of one
 * record are serialized; the decision reads the latest committed chain
 * head (see pr_scan.c).  The refund trigger checks the same rules again
 * for every insert, API or not: this function gives the caller clear
 * errors, the trigger is the guarantee.
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "pr_compat.h"

#include "executor/spi.h"
#include "utils/lsyscache.h"

#include "pr_api.h"
#include "pr_build.h"
#include "pr_catalog.h"
#include "pr_endpoints.h"
#include "pr_errors.h"
#include "pr_params.h"
#include "pr_schemas.h"

PG_FUNCTION_INFO_V1(payment_records_report_refund);

pg_noreturn static void raise_reference_used(const char *reference);

/*
 * The Stripe-shaped error for a refund reference that was already used,
 * raised in place of the unique violation of the references' index
 * (refund_reference_key, PR_I_REFUND_REFERENCE).
 */
static void
raise_reference_used(const char *reference)
{
	pr_error(ERRCODE_UNIQUE_VIOLATION, PR_CODE_EXISTS,
			 "processor_details[custom][refund_reference]",
			 "refund reference \"%s\" has already been used", reference);
}

/*
 * Is the error being handled the unique violation of the index of refund
 * references, whose current name is index_name?  If so it is dropped, for
 * the caller to raise the Stripe-shaped one, and cxt is left current: the
 * handler may be running in ErrorContext, which dropping the error resets.
 */
static bool
reference_conflict(MemoryContext cxt, const char *index_name)
{
	MemoryContext old = MemoryContextSwitchTo(cxt);
	ErrorData  *e = CopyErrorData();

	if (e->sqlerrcode == ERRCODE_UNIQUE_VIOLATION && e->constraint_name != NULL &&
		index_name != NULL && strcmp(e->constraint_name, index_name) == 0)
	{
		FlushErrorState();
		return true;
	}
	MemoryContextSwitchTo(old);
	return false;
}

/*
 * report_refund(id text, params jsonb, idempotency_key text) -> jsonb:
 * refund all of the remaining amount, or params' amount, of a record whose
 * latest attempt is guaranteed; returns the record and emits
 * payment_record.refunded.
 */
Datum
payment_records_report_refund(PG_FUNCTION_ARGS)
{
	MemoryContext cxt = CurrentMemoryContext;
	char	   *id = pr_arg_id(fcinfo, 0);
	Jsonb	   *params = pr_arg_params(fcinfo, 1);
	JsonbValue *tree;
	JsonbValue *amount;
	JsonbValue *meta;
	PrRecord	rec;
	PrRefund	rf;
	int64		remaining;
	char	   *key = pr_arg_idempotency_key(fcinfo, 2);
	PrIdem		idem;
	Jsonb	   *replay;
	char	   *reference_index = NULL;

	tree = pr_validate(params, pr_schema_report_refund);

	memset(&rf, 0, sizeof(rf));
	rf.reference = pj_cstring(pj_get(pj_get(pr_field(tree, "processor_details"), "custom"),
									 "refund_reference"));
	rf.has_initiated_at = pr_ts_param(tree, "initiated_at", NULL, &rf.initiated_at);
	rf.has_refunded_at = pr_ts_param(tree, "refunded", "refunded_at", &rf.refunded_at);
	meta = pr_field(tree, "metadata");
	rf.metadata = pr_metadata_merge(NULL, meta);
	amount = pr_field(tree, "amount");

	if ((replay = pr_write_begin(&idem, PR_ENDPOINT_REPORT_REFUND, id, params, key)) != NULL)
		PG_RETURN_JSONB_P(replay);
	pr_lock_record_for_write(id, &rec);

	if (rec.latest.status != PR_STATUS_GUARANTEED)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 pr_errstripe(PR_CODE_TRANSITION),
				 errmsg("payment record \"%s\" cannot be refunded: its latest payment attempt is %s",
						rec.id, pr_status_text(rec.latest.status)),
				 errhint("Only a guaranteed payment can be refunded.")));

	remaining = rec.amount - rec.refunded;
	if (amount != NULL)
	{
		char	   *currency = pr_field_string(amount, "currency");

		if (strcmp(currency, rec.currency) != 0)
			pr_error(ERRCODE_CHECK_VIOLATION, NULL, "amount[currency]",
					 "refund currency \"%s\" does not match payment record currency \"%s\"",
					 currency, rec.currency);
		pr_field_int(amount, "value", &rf.amount);
		if (rf.amount > remaining)
			pr_error(ERRCODE_CHECK_VIOLATION, PR_CODE_TOO_LARGE, "amount[value]",
					 "refund amount " INT64_FORMAT " exceeds the remaining refundable amount " INT64_FORMAT " of payment record \"%s\"",
					 rf.amount, remaining, rec.id);
	}
	else
	{
		if (remaining <= 0)
			pr_error(ERRCODE_CHECK_VIOLATION, PR_CODE_REFUNDED, "amount[value]",
					 "payment record \"%s\" has no remaining refundable amount", rec.id);
		rf.amount = remaining;
	}

	/*
	 * A reference already used makes the insert raise the unique violation
	 * of the references' index (its unique check waits out a transaction
	 * still inserting the same reference, at every isolation level), which
	 * is turned here into the Stripe-shaped error.  The index is the one
	 * pr_catalog.c found by OID as the extension's own; its name, which the
	 * violation carries as the constraint's, is read from the catalog before
	 * the insert, not in the error handler.
	 */
	if (rf.reference != NULL)
		reference_index = get_rel_name(pr_index_relid(PR_I_REFUND_REFERENCE));
	PG_TRY();
	{
		pr_store_insert_refund(&rec, &rf);
	}
	PG_CATCH();
	{
		if (rf.reference != NULL && reference_conflict(cxt, reference_index))
			raise_reference_used(rf.reference);
		PG_RE_THROW();
	}
	PG_END_TRY();
	rec.refunded += rf.amount;
	rec.refund_count++;

	if (meta != NULL)
		pr_store_set_attempt_metadata(&rec.latest,
									  pr_metadata_merge(rec.latest.metadata, meta));

	PG_RETURN_JSONB_P(pr_write_finish(&idem, PR_EVENT_RECORD_REFUNDED, rec.livemode,
									  pr_build_record(&rec), NULL));
}
