/*-------------------------------------------------------------------------
 * pr_write.c
 *		Writes of records, attempts and refunds.
 *
 * New rows go in without an SQL statement (pr_insert.c), in the column
 * order of pr_layout.h; the three changes an attempt can undergo are
 * UPDATE statements, written out in full beside the function that runs
 * each.  The constraint triggers check every one of these writes.
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "catalog/pg_type.h"
#include "common/int.h"
#include "utils/builtins.h"
#include "utils/timestamp.h"

#include "pr_insert.h"
#include "pr_spi.h"
#include "pr_store.h"

/* A jsonb value for pr_insert_row, with its null flag. */
static Datum
jsonb_value(Jsonb *j, bool *nulls, int i)
{
	nulls[i] = (j == NULL);
	return j == NULL ? (Datum) 0 : JsonbPGetDatum(j);
}

/* A text value for pr_insert_row, with its null flag. */
static Datum
text_value(const char *s, bool *nulls, int i)
{
	nulls[i] = (s == NULL);
	return s == NULL ? (Datum) 0 : CStringGetTextDatum(s);
}

/* Insert rec->latest as attempt row of record rec->seq into a batch. */
static void
insert_attempt_row(PrInsertBatch *b, PrRecord *rec, PrNewAttempt *na)
{
	Datum		v[PR_ATT_NATTS];
	bool		n[PR_ATT_NATTS] = {0};
	PrAttempt  *a = &rec->latest;

	v[PR_ATT_RECORD_SEQ] = Int64GetDatum(rec->seq);
	v[PR_ATT_CREATED] = TimestampTzGetDatum(a->created);
	v[PR_ATT_INITIATED_AT] = TimestampTzGetDatum(na->initiated_at);
	v[PR_ATT_GUARANTEED_AT] = TimestampTzGetDatum(na->guaranteed_at);
	n[PR_ATT_GUARANTEED_AT] = !na->has_guaranteed_at;
	v[PR_ATT_FAILED_AT] = TimestampTzGetDatum(na->failed_at);
	n[PR_ATT_FAILED_AT] = !na->has_failed_at;
	v[PR_ATT_CANCELED_AT] = TimestampTzGetDatum(na->canceled_at);
	n[PR_ATT_CANCELED_AT] = !na->has_canceled_at;
	v[PR_ATT_ATTEMPT] = Int32GetDatum(a->attempt);
	v[PR_ATT_ID] = CStringGetTextDatum(a->id);
	v[PR_ATT_STATUS] = CStringGetTextDatum(pr_status_text(a->status));
	v[PR_ATT_CUSTOMER_PRESENCE] = text_value(a->customer_presence, n, PR_ATT_CUSTOMER_PRESENCE);
	v[PR_ATT_DESCRIPTION] = text_value(a->description, n, PR_ATT_DESCRIPTION);
	v[PR_ATT_CUSTOMER_DETAILS] = jsonb_value(a->customer_details, n, PR_ATT_CUSTOMER_DETAILS);
	v[PR_ATT_METADATA] = jsonb_value(a->metadata, n, PR_ATT_METADATA);
	v[PR_ATT_PAYMENT_METHOD_DETAILS] = jsonb_value(a->payment_method_details, n,
												   PR_ATT_PAYMENT_METHOD_DETAILS);
	v[PR_ATT_PROCESSOR_DETAILS] = jsonb_value(a->processor_details, n,
											  PR_ATT_PROCESSOR_DETAILS);
	v[PR_ATT_SHIPPING_DETAILS] = jsonb_value(a->shipping_details, n,
											 PR_ATT_SHIPPING_DETAILS);
	pr_insert_row(b, PR_T_ATTEMPT, v, n);
}

/*
 * Insert a record and its first attempt, without an SQL statement (see
 * pr_insert.h); fills rec->seq.  The triggers and the foreign key check
 * both rows when the batch ends.
 */
void
pr_store_insert_payment(PrRecord *rec, PrNewAttempt *na)
{
	Datum		v[PR_REC_NATTS];
	bool		n[PR_REC_NATTS] = {0};
	PrInsertBatch *b = pr_insert_begin();

	rec->seq = pr_next_serial(PR_T_RECORD);
	v[PR_REC_ID] = CStringGetTextDatum(rec->id);
	v[PR_REC_LIVEMODE] = BoolGetDatum(rec->livemode);
	v[PR_REC_CURRENCY] = CStringGetTextDatum(rec->currency);
	v[PR_REC_SEQ] = Int64GetDatum(rec->seq);
	v[PR_REC_CREATED] = TimestampTzGetDatum(rec->created);
	v[PR_REC_AMOUNT] = Int64GetDatum(rec->amount);
	pr_insert_row(b, PR_T_RECORD, v, n);
	insert_attempt_row(b, rec, na);
	pr_insert_end(b);
}

/* Insert rec->latest as a new attempt of a locked record. */
void
pr_store_insert_attempt(PrRecord *rec, PrNewAttempt *na)
{
	PrInsertBatch *b = pr_insert_begin();

	insert_attempt_row(b, rec, na);
	pr_insert_end(b);
}

/*
 * Append a refund to a locked record's chain.  A reference already used
 * raises the unique violation of refund_reference_key, as any INSERT
 * would (after waiting for a transaction that is inserting it).
 */
void
pr_store_insert_refund(PrRecord *rec, PrRefund *rf)
{
	Datum		v[PR_RF_NATTS];
	bool		n[PR_RF_NATTS] = {0};
	PrInsertBatch *b = pr_insert_begin();
	int64		total;

	v[PR_RF_RECORD_SEQ] = Int64GetDatum(rec->seq);
	v[PR_RF_AMOUNT] = Int64GetDatum(rf->amount);
	if (pg_add_s64_overflow(rec->refunded, rf->amount, &total))
		ereport(ERROR,
				(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
				 errmsg("refunded total of payment record \"%s\" is out of range", rec->id)));
	v[PR_RF_REFUNDED_TOTAL] = Int64GetDatum(total);
	v[PR_RF_INITIATED_AT] = TimestampTzGetDatum(rf->initiated_at);
	n[PR_RF_INITIATED_AT] = !rf->has_initiated_at;
	v[PR_RF_REFUNDED_AT] = TimestampTzGetDatum(rf->refunded_at);
	n[PR_RF_REFUNDED_AT] = !rf->has_refunded_at;
	v[PR_RF_CREATED] = TimestampTzGetDatum(GetCurrentTransactionStartTimestamp());
	v[PR_RF_REFUND_NO] = Int32GetDatum(rec->refund_count + 1);
	v[PR_RF_LIVEMODE] = BoolGetDatum(rec->livemode);
	v[PR_RF_REFUND_REFERENCE] = text_value(rf->reference, n, PR_RF_REFUND_REFERENCE);
	v[PR_RF_METADATA] = jsonb_value(rf->metadata, n, PR_RF_METADATA);

	pr_insert_row(b, PR_T_REFUND, v, n);
	pr_insert_end(b);
}

/* replace an attempt's metadata */
static PrStatement set_attempt_metadata_sql = {
	"set_attempt_metadata",
	"UPDATE payment_records.payment_attempt_record SET metadata = $2"
	" WHERE id OPERATOR(pg_catalog.=) $1",
	2, {TEXTOID, JSONBOID},
	PR_TABLE_BIT(PR_T_ATTEMPT)
};

/* Replace the metadata of attempt a (NULL: none), in the row and in *a. */
void
pr_store_set_attempt_metadata(PrAttempt *a, Jsonb *metadata)
{
	Datum		v[2];
	char		n[2] = {' ', ' '};

	v[0] = CStringGetTextDatum(a->id);
	v[1] = pr_spi_jsonb_arg(metadata, n, 1);
	if (pr_spi_run(&set_attempt_metadata_sql, v, n, false, SPI_OK_UPDATE) != 1)
		elog(ERROR, "payment attempt record \"%s\" was not updated", a->id);
	a->metadata = metadata;
}

/* move a pending attempt to a terminal status, with its outcome time */
static PrStatement set_attempt_state_sql = {
	"set_attempt_state",
	"UPDATE payment_records.payment_attempt_record"
	"   SET status = $2, guaranteed_at = $3, failed_at = $4, canceled_at = $5,"
	"       metadata = $6"
	" WHERE id OPERATOR(pg_catalog.=) $1",
	6, {TEXTOID, TEXTOID, TIMESTAMPTZOID, TIMESTAMPTZOID, TIMESTAMPTZOID, JSONBOID},
	PR_TABLE_BIT(PR_T_ATTEMPT)
};

/*
 * Move a pending attempt to a terminal status, with the time that goes
 * with it (status_at is stored in the column named after the status).
 */
void
pr_store_set_attempt_state(PrAttempt *a, PrStatus status, TimestampTz status_at,
						   Jsonb *metadata)
{
	Datum		v[6];
	char		n[6];

	memset(n, 'n', sizeof(n));
	v[0] = CStringGetTextDatum(a->id);
	n[0] = ' ';
	v[1] = CStringGetTextDatum(pr_status_text(status));
	n[1] = ' ';
	v[2] = v[3] = v[4] = TimestampTzGetDatum(status_at);
	switch (status)
	{
		case PR_STATUS_GUARANTEED:
			n[2] = ' ';
			break;
		case PR_STATUS_FAILED:
			n[3] = ' ';
			break;
		default:
			n[4] = ' ';
			break;
	}
	v[5] = pr_spi_jsonb_arg(metadata, n, 5);
	if (pr_spi_run(&set_attempt_state_sql, v, n, false, SPI_OK_UPDATE) != 1)
		elog(ERROR, "payment attempt record \"%s\" was not updated", a->id);
	a->status = status;
	a->metadata = metadata;
}

/* write an attempt's informational fields */
static PrStatement set_attempt_info_sql = {
	"set_attempt_info",
	"UPDATE payment_records.payment_attempt_record"
	"   SET customer_details = $2, description = $3, metadata = $4, shipping_details = $5"
	" WHERE id OPERATOR(pg_catalog.=) $1",
	5, {TEXTOID, JSONBOID, TEXTOID, JSONBOID, JSONBOID},
	PR_TABLE_BIT(PR_T_ATTEMPT)
};

/* Write an attempt's informational fields as they are in *a. */
void
pr_store_set_attempt_info(PrAttempt *a)
{
	Datum		v[5];
	char		n[5];

	memset(n, ' ', sizeof(n));
	v[0] = CStringGetTextDatum(a->id);
	v[1] = pr_spi_jsonb_arg(a->customer_details, n, 1);
	v[2] = pr_spi_text_arg(a->description, n, 2);
	v[3] = pr_spi_jsonb_arg(a->metadata, n, 3);
	v[4] = pr_spi_jsonb_arg(a->shipping_details, n, 4);
	if (pr_spi_run(&set_attempt_info_sql, v, n, false, SPI_OK_UPDATE) != 1)
		elog(ERROR, "payment attempt record \"%s\" was not updated", a->id);
}
