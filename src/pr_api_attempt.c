/*-------------------------------------------------------------------------
 * pr_api_attempt.c
 *		report_payment_attempt() and the calls that move an attempt on.
 *
 * Each call locks the record row, reads the latest attempt with the
 * latest snapshot, checks the state machine of the README's contract
 * clause C5 so the caller gets a message naming the state, then writes;
 * the attempt trigger enforces the same machine for every write.
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "executor/spi.h"
#include "utils/timestamp.h"

#include "pr_api.h"
#include "pr_build.h"
#include "pr_endpoints.h"
#include "pr_errors.h"
#include "pr_ids.h"
#include "pr_params.h"
#include "pr_schemas.h"

PG_FUNCTION_INFO_V1(payment_records_report_payment_attempt);
PG_FUNCTION_INFO_V1(payment_records_report_payment_attempt_canceled);
PG_FUNCTION_INFO_V1(payment_records_report_payment_attempt_failed);
PG_FUNCTION_INFO_V1(payment_records_report_payment_attempt_guaranteed);
PG_FUNCTION_INFO_V1(payment_records_report_payment_attempt_informational);

/*
 * A new attempt on a record whose attempts are all failed or canceled.
 * It inherits what it does not override: details, description, customer
 * fields; metadata merges into the inherited metadata.
 */
Datum
payment_records_report_payment_attempt(PG_FUNCTION_ARGS)
{
	char	   *id = pr_arg_id(fcinfo, 0);
	Jsonb	   *params = pr_arg_params(fcinfo, 1);
	JsonbValue *tree;
	PrStatus	status;
	PrRecord	rec;
	PrAttempt  *a = &rec.latest;
	PrNewAttempt na;
	JsonbValue *v;
	char	   *key = pr_arg_idempotency_key(fcinfo, 2);
	PrIdem		idem;
	Jsonb	   *replay;

	tree = pr_validate(params, pr_schema_report_attempt);
	status = pr_check_outcome(tree);
	pr_check_payment_method(tree);

	if ((replay = pr_write_begin(&idem, PR_ENDPOINT_REPORT_ATTEMPT, id, params, key)) != NULL)
		PG_RETURN_JSONB_P(replay);
	pr_lock_record_for_write(id, &rec);
	if (a->status != PR_STATUS_FAILED && a->status != PR_STATUS_CANCELED)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 pr_errstripe(PR_CODE_TRANSITION),
				 errmsg("cannot report a new payment attempt on payment record \"%s\": the latest payment attempt is %s",
						rec.id, pr_status_text(a->status)),
				 errhint("A new attempt can only follow a failed or canceled one.")));

	memset(&na, 0, sizeof(na));
	pr_ts_param(tree, "initiated_at", NULL, &na.initiated_at);
	na.has_guaranteed_at = pr_ts_param(tree, "guaranteed", "guaranteed_at", &na.guaranteed_at);
	na.has_failed_at = pr_ts_param(tree, "failed", "failed_at", &na.failed_at);
	na.has_canceled_at = pr_ts_param(tree, "canceled", "canceled_at", &na.canceled_at);

	pr_new_id(a->id, "par_");
	a->attempt++;
	a->status = status;
	a->created = GetCurrentTransactionStartTimestamp();
	if ((v = pr_field(tree, "description")) != NULL)
		a->description = pj_cstring(v);
	if (pr_field(tree, "payment_method_details") != NULL)
		a->payment_method_details = pr_field_jsonb(tree, "payment_method_details");
	if (pr_field(tree, "shipping_details") != NULL)
		a->shipping_details = pr_field_jsonb(tree, "shipping_details");
	a->metadata = pr_metadata_merge(a->metadata, pr_field(tree, "metadata"));

	pr_store_insert_attempt(&rec, &na);
	PG_RETURN_JSONB_P(pr_write_finish(&idem, PR_EVENT_ATTEMPT_REPORTED, rec.livemode,
									  pr_build_record(&rec), pr_build_attempt(&rec, a)));
}

/*
 * canceled / failed / guaranteed: the latest attempt must be pending.
 * status_key is the required timestamp parameter (e.g. "failed_at").
 */
static Datum
report_outcome(FunctionCallInfo fcinfo, const char *endpoint, const PrField *schema,
			   PrStatus status, const char *status_key, const char *event_type)
{
	char	   *id = pr_arg_id(fcinfo, 0);
	Jsonb	   *params = pr_arg_params(fcinfo, 1);
	JsonbValue *tree;
	PrRecord	rec;
	TimestampTz at = 0;
	char	   *key = pr_arg_idempotency_key(fcinfo, 2);
	PrIdem		idem;
	Jsonb	   *replay;

	tree = pr_validate(params, schema);
	pr_ts_param(tree, status_key, NULL, &at);

	if ((replay = pr_write_begin(&idem, endpoint, id, params, key)) != NULL)
		PG_RETURN_JSONB_P(replay);
	pr_lock_record_for_write(id, &rec);
	if (rec.latest.status != PR_STATUS_PENDING)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 pr_errstripe(PR_CODE_TRANSITION),
				 errmsg("cannot report payment record \"%s\" as %s: the latest payment attempt is already %s",
						rec.id, pr_status_text(status), pr_status_text(rec.latest.status)),
				 errhint("Only a pending payment attempt can become guaranteed, failed or canceled.")));

	pr_store_set_attempt_state(&rec.latest, status, at,
							   pr_metadata_merge(rec.latest.metadata,
												 pr_field(tree, "metadata")));
	PG_RETURN_JSONB_P(pr_write_finish(&idem, event_type, rec.livemode, pr_build_record(&rec),
									  pr_build_attempt(&rec, &rec.latest)));
}

/*
 * report_payment_attempt_canceled(id text, params jsonb,
 * idempotency_key text) -> jsonb: the pending latest attempt becomes
 * canceled; see report_outcome.
 */
Datum
payment_records_report_payment_attempt_canceled(PG_FUNCTION_ARGS)
{
	return report_outcome(fcinfo, PR_ENDPOINT_REPORT_ATTEMPT_CANCELED, pr_schema_attempt_canceled,
						  PR_STATUS_CANCELED, "canceled_at", PR_EVENT_ATTEMPT_CANCELED);
}

/*
 * report_payment_attempt_failed(id text, params jsonb,
 * idempotency_key text) -> jsonb: the pending latest attempt becomes
 * failed; see report_outcome.
 */
Datum
payment_records_report_payment_attempt_failed(PG_FUNCTION_ARGS)
{
	return report_outcome(fcinfo, PR_ENDPOINT_REPORT_ATTEMPT_FAILED, pr_schema_attempt_failed,
						  PR_STATUS_FAILED, "failed_at", PR_EVENT_ATTEMPT_FAILED);
}

/*
 * report_payment_attempt_guaranteed(id text, params jsonb,
 * idempotency_key text) -> jsonb: the pending latest attempt becomes
 * guaranteed; see report_outcome.
 */
Datum
payment_records_report_payment_attempt_guaranteed(PG_FUNCTION_ARGS)
{
	return report_outcome(fcinfo, PR_ENDPOINT_REPORT_ATTEMPT_GUARANTEED, pr_schema_attempt_guaranteed,
						  PR_STATUS_GUARANTEED, "guaranteed_at", PR_EVENT_ATTEMPT_GUARANTEED);
}

/*
 * Informational updates of the latest attempt (and so of the record):
 * customer_details replaces, description and shipping_details replace or,
 * given "", unset; metadata merges.  Allowed in every state.
 */
Datum
payment_records_report_payment_attempt_informational(PG_FUNCTION_ARGS)
{
	char	   *id = pr_arg_id(fcinfo, 0);
	Jsonb	   *params = pr_arg_params(fcinfo, 1);
	JsonbValue *tree;
	JsonbValue *v;
	PrRecord	rec;
	PrAttempt  *a = &rec.latest;
	char	   *key = pr_arg_idempotency_key(fcinfo, 2);
	PrIdem		idem;
	Jsonb	   *replay;

	tree = pr_validate(params, pr_schema_attempt_informational);

	if ((replay = pr_write_begin(&idem, PR_ENDPOINT_REPORT_ATTEMPT_INFORMATIONAL, id, params,
								 key)) != NULL)
		PG_RETURN_JSONB_P(replay);
	pr_lock_record_for_write(id, &rec);
	if (pr_field(tree, "customer_details") != NULL)
		a->customer_details = pr_field_jsonb(tree, "customer_details");
	if ((v = pr_field(tree, "description")) != NULL)
		a->description = pj_cstring(v);	/* NULL when unset */
	if (pr_field(tree, "shipping_details") != NULL)
		a->shipping_details = pr_field_jsonb(tree, "shipping_details");
	a->metadata = pr_metadata_merge(a->metadata, pr_field(tree, "metadata"));
	pr_store_set_attempt_info(a);
	PG_RETURN_JSONB_P(pr_write_finish(&idem, PR_EVENT_RECORD_UPDATED, rec.livemode,
									  pr_build_record(&rec), NULL));
}
