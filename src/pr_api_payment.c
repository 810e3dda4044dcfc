/*-------------------------------------------------------------------------
 * pr_api_payment.c
 *		report_payment() and retrieve_payment_record().
 *
 * report_payment creates a record and its first attempt in one statement;
 * the response is built from what was just written, without reading back.
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
#include "pr_mode.h"
#include "pr_params.h"
#include "pr_schemas.h"
#include "pr_spi.h"

PG_FUNCTION_INFO_V1(payment_records_report_payment);
PG_FUNCTION_INFO_V1(payment_records_retrieve_payment_record);

/*
 * report_payment(params jsonb, idempotency_key text) -> jsonb: a new
 * payment record with its first attempt, in the state the params report;
 * returns the record and emits payment_record.reported.
 */
Datum
payment_records_report_payment(PG_FUNCTION_ARGS)
{
	Jsonb	   *params = pr_arg_params(fcinfo, 0);
	JsonbValue *tree;
	JsonbValue *amount;
	PrRecord	rec;
	PrNewAttempt na;
	PrStatus	status;
	char	   *key = pr_arg_idempotency_key(fcinfo, 1);
	PrIdem		idem;
	Jsonb	   *replay;

	tree = pr_validate(params, pr_schema_report_payment);
	status = pr_check_outcome(tree);
	pr_check_payment_method(tree);

	memset(&rec, 0, sizeof(rec));
	memset(&na, 0, sizeof(na));
	pr_new_id(rec.id, "pr_");
	pr_new_id(rec.latest.id, "par_");
	rec.livemode = pr_caller_livemode();
	rec.created = GetCurrentTransactionStartTimestamp();
	amount = pr_field(tree, "amount_requested");
	strlcpy(rec.currency, pr_field_string(amount, "currency"), sizeof(rec.currency));
	pr_field_int(amount, "value", &rec.amount);

	rec.latest.attempt = 1;
	rec.latest.status = status;
	rec.latest.created = rec.created;
	rec.latest.customer_details = pr_field_jsonb(tree, "customer_details");
	rec.latest.customer_presence = pr_field_string(tree, "customer_presence");
	rec.latest.description = pr_field_string(tree, "description");
	rec.latest.metadata = pr_metadata_merge(NULL, pr_field(tree, "metadata"));
	rec.latest.payment_method_details = pr_field_jsonb(tree, "payment_method_details");
	rec.latest.processor_details = pr_field_jsonb(tree, "processor_details");
	rec.latest.shipping_details = pr_field_jsonb(tree, "shipping_details");

	pr_ts_param(tree, "initiated_at", NULL, &na.initiated_at);
	na.has_guaranteed_at = pr_ts_param(tree, "guaranteed", "guaranteed_at", &na.guaranteed_at);
	na.has_failed_at = pr_ts_param(tree, "failed", "failed_at", &na.failed_at);
	na.has_canceled_at = pr_ts_param(tree, "canceled", "canceled_at", &na.canceled_at);

	if ((replay = pr_write_begin(&idem, PR_ENDPOINT_REPORT_PAYMENT, NULL, params, key)) != NULL)
		PG_RETURN_JSONB_P(replay);
	pr_store_insert_payment(&rec, &na);
	PG_RETURN_JSONB_P(pr_write_finish(&idem, PR_EVENT_RECORD_REPORTED, rec.livemode,
									  pr_build_record(&rec), NULL));
}

/*
 * retrieve_payment_record(id text) -> jsonb: one record of the caller's
 * mode, or resource_missing.
 */
Datum
payment_records_retrieve_payment_record(PG_FUNCTION_ARGS)
{
	char	   *id = pr_arg_id(fcinfo, 0);
	PrRecord	rec;
	Jsonb	   *result;

	pr_spi_connect();
	if (!pr_store_fetch_record(id, pr_caller_livemode(), &rec))
		pr_raise_missing("payment_record", id, "id");
	result = pr_spi_finish_jsonb(pr_build_record(&rec));
	PG_RETURN_JSONB_P(result);
}
