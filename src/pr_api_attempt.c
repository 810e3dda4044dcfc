/*-------------------------------------------------------------------------
 * pr_api_attempt.c
 *		report_payment_attempt() and the attempt state calls.
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "fmgr.h"

PG_FUNCTION_INFO_V1(payment_records_report_payment_attempt);
PG_FUNCTION_INFO_V1(payment_records_report_payment_attempt_canceled);
PG_FUNCTION_INFO_V1(payment_records_report_payment_attempt_failed);
PG_FUNCTION_INFO_V1(payment_records_report_payment_attempt_guaranteed);
PG_FUNCTION_INFO_V1(payment_records_report_payment_attempt_informational);
PG_FUNCTION_INFO_V1(payment_records_retrieve_payment_attempt_record);
PG_FUNCTION_INFO_V1(payment_records_list_payment_attempt_records);
PG_FUNCTION_INFO_V1(payment_records_list_payment_records);

#define TODO ereport(ERROR, (errcode(ERRCODE_FEATURE_NOT_SUPPORTED), errmsg("not implemented yet")))

Datum payment_records_report_payment_attempt(PG_FUNCTION_ARGS) { TODO; PG_RETURN_NULL(); }
Datum payment_records_report_payment_attempt_canceled(PG_FUNCTION_ARGS) { TODO; PG_RETURN_NULL(); }
Datum payment_records_report_payment_attempt_failed(PG_FUNCTION_ARGS) { TODO; PG_RETURN_NULL(); }
Datum payment_records_report_payment_attempt_guaranteed(PG_FUNCTION_ARGS) { TODO; PG_RETURN_NULL(); }
Datum payment_records_report_payment_attempt_informational(PG_FUNCTION_ARGS) { TODO; PG_RETURN_NULL(); }
Datum payment_records_retrieve_payment_attempt_record(PG_FUNCTION_ARGS) { TODO; PG_RETURN_NULL(); }
Datum payment_records_list_payment_attempt_records(PG_FUNCTION_ARGS) { TODO; PG_RETURN_NULL(); }
Datum payment_records_list_payment_records(PG_FUNCTION_ARGS) { TODO; PG_RETURN_NULL(); }
