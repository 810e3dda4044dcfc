/*-------------------------------------------------------------------------
 * pr_layout.c
 *		The names and types of the columns of pr_layout.h.
 *
 * Each entry is indexed by its enum value, so a column cannot be listed
 * under the wrong number.  pr_catalog.c compares the installed tables
 * and indexes with these once per session.
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type.h"

#include "pr_layout.h"

static const PrColumn record_cols[PR_REC_NATTS] = {
	[PR_REC_ID] = {"id", TEXTOID},
	[PR_REC_LIVEMODE] = {"livemode", BOOLOID},
	[PR_REC_CURRENCY] = {"currency", TEXTOID},
	[PR_REC_SEQ] = {"seq", INT8OID},
	[PR_REC_CREATED] = {"created", TIMESTAMPTZOID},
	[PR_REC_AMOUNT] = {"amount", INT8OID},
};

static const PrColumn attempt_cols[PR_ATT_NATTS] = {
	[PR_ATT_RECORD_SEQ] = {"record_seq", INT8OID},
	[PR_ATT_CREATED] = {"created", TIMESTAMPTZOID},
	[PR_ATT_INITIATED_AT] = {"initiated_at", TIMESTAMPTZOID},
	[PR_ATT_GUARANTEED_AT] = {"guaranteed_at", TIMESTAMPTZOID},
	[PR_ATT_FAILED_AT] = {"failed_at", TIMESTAMPTZOID},
	[PR_ATT_CANCELED_AT] = {"canceled_at", TIMESTAMPTZOID},
	[PR_ATT_ATTEMPT] = {"attempt", INT4OID},
	[PR_ATT_ID] = {"id", TEXTOID},
	[PR_ATT_STATUS] = {"status", TEXTOID},
	[PR_ATT_CUSTOMER_PRESENCE] = {"customer_presence", TEXTOID},
	[PR_ATT_DESCRIPTION] = {"description", TEXTOID},
	[PR_ATT_CUSTOMER_DETAILS] = {"customer_details", JSONBOID},
	[PR_ATT_METADATA] = {"metadata", JSONBOID},
	[PR_ATT_PAYMENT_METHOD_DETAILS] = {"payment_method_details", JSONBOID},
	[PR_ATT_PROCESSOR_DETAILS] = {"processor_details", JSONBOID},
	[PR_ATT_SHIPPING_DETAILS] = {"shipping_details", JSONBOID},
};

static const PrColumn event_cols[PR_EV_NATTS] = {
	[PR_EV_ID] = {"id", INT8OID},
	[PR_EV_TYPE] = {"type", TEXTOID},
	[PR_EV_LIVEMODE] = {"livemode", BOOLOID},
	[PR_EV_OBJECT] = {"object", JSONBOID},
	[PR_EV_CREATED] = {"created", TIMESTAMPTZOID},
};

static const PrColumn refund_cols[PR_RF_NATTS] = {
	[PR_RF_RECORD_SEQ] = {"record_seq", INT8OID},
	[PR_RF_AMOUNT] = {"amount", INT8OID},
	[PR_RF_REFUNDED_TOTAL] = {"refunded_total", INT8OID},
	[PR_RF_INITIATED_AT] = {"initiated_at", TIMESTAMPTZOID},
	[PR_RF_REFUNDED_AT] = {"refunded_at", TIMESTAMPTZOID},
	[PR_RF_CREATED] = {"created", TIMESTAMPTZOID},
	[PR_RF_REFUND_NO] = {"refund_no", INT4OID},
	[PR_RF_LIVEMODE] = {"livemode", BOOLOID},
	[PR_RF_REFUND_REFERENCE] = {"refund_reference", TEXTOID},
	[PR_RF_METADATA] = {"metadata", JSONBOID},
};

static const PrColumn idempotency_key_cols[PR_IK_NATTS] = {
	[PR_IK_LIVEMODE] = {"livemode", BOOLOID},
	[PR_IK_KEY] = {"key", TEXTOID},
	[PR_IK_ENDPOINT] = {"endpoint", TEXTOID},
	[PR_IK_REQUEST_HASH] = {"request_hash", BYTEAOID},
	[PR_IK_RESPONSE] = {"response", JSONBOID},
	[PR_IK_ERROR] = {"error", JSONBOID},
	[PR_IK_CREATED] = {"created", TIMESTAMPTZOID},
};

const PrTableLayout pr_layout[PR_T_COUNT] = {
	[PR_T_RECORD] = {"payment_record", "payment_record_seq_seq", PR_REC_NATTS, record_cols},
	[PR_T_ATTEMPT] = {"payment_attempt_record", NULL, PR_ATT_NATTS, attempt_cols},
	[PR_T_EVENT] = {"event", "event_id_seq", PR_EV_NATTS, event_cols},
	[PR_T_REFUND] = {"refund", NULL, PR_RF_NATTS, refund_cols},
	[PR_T_IDEMPOTENCY_KEY] = {"idempotency_key", NULL, PR_IK_NATTS, idempotency_key_cols},
};

const PrIndexLayout pr_index_layout[PR_I_COUNT] = {
	[PR_I_RECORD_ID] = {"payment_record_pkey", PR_T_RECORD, 1, {PR_REC_ID}},
	[PR_I_RECORD_SEQ] = {"payment_record_seq_key", PR_T_RECORD, 1, {PR_REC_SEQ}},
	[PR_I_ATTEMPT_CHAIN] = {"payment_attempt_record_attempt_key", PR_T_ATTEMPT, 2,
	{PR_ATT_RECORD_SEQ, PR_ATT_ATTEMPT}},
	[PR_I_REFUND_CHAIN] = {"refund_pkey", PR_T_REFUND, 2, {PR_RF_RECORD_SEQ, PR_RF_REFUND_NO}},
	/* named only (pr_api_refund.c), never probed: no shape to check */
	[PR_I_REFUND_REFERENCE] = {"refund_reference_key", PR_T_REFUND, 0, {0}},
};
