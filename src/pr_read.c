/*-------------------------------------------------------------------------
 * pr_read.c
 *		Reads of records and attempts through SQL: one record, one
 *		attempt, list pages and their cursors.
 *
 * Each statement is written out in full beside the function that runs it
 * (pr_spi.c prepares and keeps it).  The record-reading statements all
 * return one shape, read by read_record_row:
 *	 1-11	the attempt: id, attempt, status, created, customer_details,
 *			customer_presence, description, metadata,
 *			payment_method_details, processor_details, shipping_details
 *	12-13	the refund head: refund_no, refunded_total (NULL: no refund)
 *	14-18	the record: seq, created, currency, amount, id
 * These reads answer retrieve and list calls; the write paths read their
 * record with pr_scan.c's index probes after locking it.
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "utils/builtins.h"
#include "utils/timestamp.h"

#include "pr_spi.h"
#include "pr_store.h"

/* columns of the record-reading statements (see the file header) */
enum
{
	C_ATT_ID = 1, C_ATT_ATTEMPT, C_ATT_STATUS, C_ATT_CREATED, C_ATT_CUSTOMER_DETAILS,
	C_ATT_CUSTOMER_PRESENCE, C_ATT_DESCRIPTION, C_ATT_METADATA,
	C_ATT_PAYMENT_METHOD_DETAILS, C_ATT_PROCESSOR_DETAILS, C_ATT_SHIPPING_DETAILS,
	C_REFUND_NO, C_REFUNDED_TOTAL,
	C_REC_SEQ, C_REC_CREATED, C_REC_CURRENCY, C_REC_AMOUNT, C_REC_ID
};

/* Read the attempt columns (1-11) of row into *a. */
static void
read_attempt(PrRow row, PrAttempt *a)
{
	bool		isnull;

	strlcpy(a->id, pr_row_text(row, C_ATT_ID), PR_ID_MAXLEN);
	a->attempt = DatumGetInt32(pr_row_datum(row, C_ATT_ATTEMPT, INT4OID, &isnull));
	a->status = pr_status_from_text(pr_row_text(row, C_ATT_STATUS));
	a->created = DatumGetTimestampTz(pr_row_datum(row, C_ATT_CREATED, TIMESTAMPTZOID, &isnull));
	a->customer_details = pr_row_jsonb(row, C_ATT_CUSTOMER_DETAILS);
	a->customer_presence = pr_row_text(row, C_ATT_CUSTOMER_PRESENCE);
	a->description = pr_row_text(row, C_ATT_DESCRIPTION);
	a->metadata = pr_row_jsonb(row, C_ATT_METADATA);
	a->payment_method_details = pr_row_jsonb(row, C_ATT_PAYMENT_METHOD_DETAILS);
	a->processor_details = pr_row_jsonb(row, C_ATT_PROCESSOR_DETAILS);
	a->shipping_details = pr_row_jsonb(row, C_ATT_SHIPPING_DETAILS);
}

/* Read a whole record-shaped row (see the file header) into *rec. */
static void
read_record_row(PrRow row, PrRecord *rec, bool livemode)
{
	bool		isnull;
	Datum		d;

	read_attempt(row, &rec->latest);
	d = pr_row_datum(row, C_REFUND_NO, INT4OID, &isnull);
	if (isnull)
	{
		rec->refund_count = 0;
		rec->refunded = 0;
	}
	else
	{
		rec->refund_count = DatumGetInt32(d);
		rec->refunded = DatumGetInt64(pr_row_datum(row, C_REFUNDED_TOTAL, INT8OID, &isnull));
	}
	rec->livemode = livemode;
	rec->seq = DatumGetInt64(pr_row_datum(row, C_REC_SEQ, INT8OID, &isnull));
	rec->created = DatumGetTimestampTz(pr_row_datum(row, C_REC_CREATED, TIMESTAMPTZOID, &isnull));
	strlcpy(rec->currency, pr_row_text(row, C_REC_CURRENCY), sizeof(rec->currency));
	rec->amount = DatumGetInt64(pr_row_datum(row, C_REC_AMOUNT, INT8OID, &isnull));
	strlcpy(rec->id, pr_row_text(row, C_REC_ID), PR_ID_MAXLEN);
}

/* a record of a mode by id, with its latest attempt and refund head */
static PrStatement fetch_record_sql = {
	"fetch_record",
	"SELECT a.id, a.attempt, a.status, a.created, a.customer_details,"
	" a.customer_presence, a.description, a.metadata,"
	" a.payment_method_details, a.processor_details, a.shipping_details,"
	" h.refund_no, h.refunded_total,"
	" r.seq, r.created, r.currency, r.amount, r.id"
	" FROM payment_records.payment_record r"
	" CROSS JOIN LATERAL (SELECT * FROM payment_records.payment_attempt_record"
	" WHERE record_seq OPERATOR(pg_catalog.=) r.seq ORDER BY attempt DESC LIMIT 1) a"
	" LEFT JOIN LATERAL (SELECT refund_no, refunded_total FROM payment_records.refund"
	" WHERE record_seq OPERATOR(pg_catalog.=) r.seq ORDER BY refund_no DESC LIMIT 1) h ON true"
	" WHERE r.id OPERATOR(pg_catalog.=) $1 AND r.livemode OPERATOR(pg_catalog.=) $2",
	2, {TEXTOID, BOOLOID},
	PR_TABLE_BIT(PR_T_RECORD) | PR_TABLE_BIT(PR_T_ATTEMPT) | PR_TABLE_BIT(PR_T_REFUND)
};

/*
 * Run stmt (fetch_record_sql or fetch_attempt_sql: an id and a mode in,
 * one row of read_record_row's shape out) and read its row into *rec;
 * false when there is none.
 */
static bool
fetch_by_id(PrStatement *stmt, const char *id, bool livemode, PrRecord *rec)
{
	Datum		v[2];

	v[0] = CStringGetTextDatum(id);
	v[1] = BoolGetDatum(livemode);
	if (pr_spi_run(stmt, v, NULL, false, SPI_OK_SELECT) == 0)
		return false;
	read_record_row(pr_spi_row(0), rec, livemode);
	return true;
}

/* A record, its latest attempt and refund total, for reading. */
bool
pr_store_fetch_record(const char *id, bool livemode, PrRecord *rec)
{
	return fetch_by_id(&fetch_record_sql, id, livemode, rec);
}

/* an attempt of a mode by id, with its record and the record's refund head */
static PrStatement fetch_attempt_sql = {
	"fetch_attempt",
	"SELECT a.id, a.attempt, a.status, a.created, a.customer_details,"
	" a.customer_presence, a.description, a.metadata,"
	" a.payment_method_details, a.processor_details, a.shipping_details,"
	" h.refund_no, h.refunded_total,"
	" r.seq, r.created, r.currency, r.amount, r.id"
	" FROM payment_records.payment_attempt_record a JOIN payment_records.payment_record r"
	" ON r.seq OPERATOR(pg_catalog.=) a.record_seq"
	" LEFT JOIN LATERAL (SELECT refund_no, refunded_total FROM payment_records.refund"
	" WHERE record_seq OPERATOR(pg_catalog.=) r.seq ORDER BY refund_no DESC LIMIT 1) h ON true"
	" WHERE a.id OPERATOR(pg_catalog.=) $1 AND r.livemode OPERATOR(pg_catalog.=) $2",
	2, {TEXTOID, BOOLOID},
	PR_TABLE_BIT(PR_T_RECORD) | PR_TABLE_BIT(PR_T_ATTEMPT) | PR_TABLE_BIT(PR_T_REFUND)
};

/* An attempt by id in one mode, with its record. */
bool
pr_store_fetch_attempt(const char *id, bool livemode, PrRecord *rec, PrAttempt *a)
{
	if (!fetch_by_id(&fetch_attempt_sql, id, livemode, rec))
		return false;
	*a = rec->latest;			/* the row's attempt is this one */
	return true;
}

/* the attempt number of an attempt id of one record (a list cursor) */
static PrStatement attempt_cursor_sql = {
	"attempt_cursor",
	"SELECT attempt FROM payment_records.payment_attempt_record"
	" WHERE id OPERATOR(pg_catalog.=) $1 AND record_seq OPERATOR(pg_catalog.=) $2",
	2, {TEXTOID, INT8OID},
	PR_TABLE_BIT(PR_T_ATTEMPT)
};

/* Attempt number of a cursor id, which must belong to the record. */
bool
pr_store_attempt_cursor(int64 record_seq, const char *id, int32 *attempt)
{
	Datum		v[2];
	bool		isnull;

	v[0] = CStringGetTextDatum(id);
	v[1] = Int64GetDatum(record_seq);
	if (pr_spi_run(&attempt_cursor_sql, v, NULL, false, SPI_OK_SELECT) == 0)
		return false;
	*attempt = DatumGetInt32(pr_row_datum(pr_spi_row(0), 1, INT4OID, &isnull));
	return true;
}

/* a page of a record's attempts, newest first, below an attempt number */
static PrStatement list_attempts_desc_sql = {
	"list_attempts_desc",
	"SELECT a.id, a.attempt, a.status, a.created, a.customer_details,"
	" a.customer_presence, a.description, a.metadata,"
	" a.payment_method_details, a.processor_details, a.shipping_details"
	" FROM payment_records.payment_attempt_record a"
	" WHERE a.record_seq OPERATOR(pg_catalog.=) $1 AND a.attempt OPERATOR(pg_catalog.<) $2"
	" ORDER BY a.attempt DESC LIMIT $3",
	3, {INT8OID, INT4OID, INT8OID},
	PR_TABLE_BIT(PR_T_ATTEMPT)
};

/* a page of a record's attempts, oldest first, above an attempt number */
static PrStatement list_attempts_asc_sql = {
	"list_attempts_asc",
	"SELECT a.id, a.attempt, a.status, a.created, a.customer_details,"
	" a.customer_presence, a.description, a.metadata,"
	" a.payment_method_details, a.processor_details, a.shipping_details"
	" FROM payment_records.payment_attempt_record a"
	" WHERE a.record_seq OPERATOR(pg_catalog.=) $1 AND a.attempt OPERATOR(pg_catalog.>) $2"
	" ORDER BY a.attempt LIMIT $3",
	3, {INT8OID, INT4OID, INT8OID},
	PR_TABLE_BIT(PR_T_ATTEMPT)
};

/*
 * Up to limit attempts of a record below (desc) or above (asc) bound, in
 * that direction.  Returns the count; *out is palloc'd.
 */
int
pr_store_list_attempts(int64 record_seq, bool asc, int32 bound, int64 limit,
					   PrAttempt **out)
{
	Datum		v[3];
	uint64		n;
	uint64		i;

	v[0] = Int64GetDatum(record_seq);
	v[1] = Int32GetDatum(bound);
	v[2] = Int64GetDatum(limit);
	n = pr_spi_run(asc ? &list_attempts_asc_sql : &list_attempts_desc_sql, v, NULL,
				   false, SPI_OK_SELECT);
	*out = palloc0(sizeof(PrAttempt) * (n + 1));
	for (i = 0; i < n; i++)
		read_attempt(pr_spi_row(i), &(*out)[i]);
	return (int) n;
}

/* created and seq of a record of a mode by id (a list cursor) */
static PrStatement record_cursor_sql = {
	"record_cursor",
	"SELECT created, seq FROM payment_records.payment_record"
	" WHERE id OPERATOR(pg_catalog.=) $1 AND livemode OPERATOR(pg_catalog.=) $2",
	2, {TEXTOID, BOOLOID},
	PR_TABLE_BIT(PR_T_RECORD)
};

/* created and seq of a record used as a list cursor. */
bool
pr_store_record_cursor(const char *id, bool livemode, TimestampTz *created, int64 *seq)
{
	Datum		v[2];
	bool		isnull;
	PrRow		row;

	v[0] = CStringGetTextDatum(id);
	v[1] = BoolGetDatum(livemode);
	if (pr_spi_run(&record_cursor_sql, v, NULL, false, SPI_OK_SELECT) == 0)
		return false;
	row = pr_spi_row(0);
	*created = DatumGetTimestampTz(pr_row_datum(row, 1, TIMESTAMPTZOID, &isnull));
	*seq = DatumGetInt64(pr_row_datum(row, 2, INT8OID, &isnull));
	return true;
}

/*
 * Keyset pagination on (livemode, created, seq): the cursor and the
 * created bounds are always bound (to infinities when absent) so one
 * generic plan serves every page as an index range scan.  Newest first:
 */
static PrStatement list_records_desc_sql = {
	"list_records_desc",
	"SELECT a.id, a.attempt, a.status, a.created, a.customer_details,"
	" a.customer_presence, a.description, a.metadata,"
	" a.payment_method_details, a.processor_details, a.shipping_details,"
	" h.refund_no, h.refunded_total,"
	" r.seq, r.created, r.currency, r.amount, r.id"
	" FROM (SELECT * FROM payment_records.payment_record "
	" WHERE livemode OPERATOR(pg_catalog.=) $1 AND created OPERATOR(pg_catalog.>=) $2 "
	" AND created OPERATOR(pg_catalog.<) $3 "
	" AND (created, seq) OPERATOR(pg_catalog.<) ($4, $5) "
	" ORDER BY created DESC, seq DESC LIMIT $6) r"
	" CROSS JOIN LATERAL (SELECT * FROM payment_records.payment_attempt_record"
	" WHERE record_seq OPERATOR(pg_catalog.=) r.seq ORDER BY attempt DESC LIMIT 1) a"
	" LEFT JOIN LATERAL (SELECT refund_no, refunded_total FROM payment_records.refund"
	" WHERE record_seq OPERATOR(pg_catalog.=) r.seq ORDER BY refund_no DESC LIMIT 1) h ON true"
	" ORDER BY r.created DESC, r.seq DESC",
	6, {BOOLOID, TIMESTAMPTZOID, TIMESTAMPTZOID, TIMESTAMPTZOID, INT8OID, INT8OID},
	PR_TABLE_BIT(PR_T_RECORD) | PR_TABLE_BIT(PR_T_ATTEMPT) | PR_TABLE_BIT(PR_T_REFUND)
};

/* the same page, oldest first */
static PrStatement list_records_asc_sql = {
	"list_records_asc",
	"SELECT a.id, a.attempt, a.status, a.created, a.customer_details,"
	" a.customer_presence, a.description, a.metadata,"
	" a.payment_method_details, a.processor_details, a.shipping_details,"
	" h.refund_no, h.refunded_total,"
	" r.seq, r.created, r.currency, r.amount, r.id"
	" FROM (SELECT * FROM payment_records.payment_record "
	" WHERE livemode OPERATOR(pg_catalog.=) $1 AND created OPERATOR(pg_catalog.>=) $2 "
	" AND created OPERATOR(pg_catalog.<) $3 "
	" AND (created, seq) OPERATOR(pg_catalog.>) ($4, $5) "
	" ORDER BY created ASC, seq ASC LIMIT $6) r"
	" CROSS JOIN LATERAL (SELECT * FROM payment_records.payment_attempt_record"
	" WHERE record_seq OPERATOR(pg_catalog.=) r.seq ORDER BY attempt DESC LIMIT 1) a"
	" LEFT JOIN LATERAL (SELECT refund_no, refunded_total FROM payment_records.refund"
	" WHERE record_seq OPERATOR(pg_catalog.=) r.seq ORDER BY refund_no DESC LIMIT 1) h ON true"
	" ORDER BY r.created ASC, r.seq ASC",
	6, {BOOLOID, TIMESTAMPTZOID, TIMESTAMPTZOID, TIMESTAMPTZOID, INT8OID, INT8OID},
	PR_TABLE_BIT(PR_T_RECORD) | PR_TABLE_BIT(PR_T_ATTEMPT) | PR_TABLE_BIT(PR_T_REFUND)
};

/*
 * Up to limit records of a mode with lo <= created < hi, strictly before
 * (desc) or after (asc) the cursor (cur_created, cur_seq).
 */
int
pr_store_list_records(bool livemode, bool asc, TimestampTz lo, TimestampTz hi,
					  TimestampTz cur_created, int64 cur_seq, int64 limit,
					  PrRecord **out)
{
	Datum		v[6];
	uint64		n;
	uint64		i;

	v[0] = BoolGetDatum(livemode);
	v[1] = TimestampTzGetDatum(lo);
	v[2] = TimestampTzGetDatum(hi);
	v[3] = TimestampTzGetDatum(cur_created);
	v[4] = Int64GetDatum(cur_seq);
	v[5] = Int64GetDatum(limit);
	n = pr_spi_run(asc ? &list_records_asc_sql : &list_records_desc_sql, v, NULL,
				   false, SPI_OK_SELECT);
	*out = palloc0(sizeof(PrRecord) * (n + 1));
	for (i = 0; i < n; i++)
		read_record_row(pr_spi_row(i), &(*out)[i], livemode);
	return (int) n;
}

/* whether there is any payment record at all */
static PrStatement has_records_sql = {
	"has_records",
	"SELECT 1 FROM payment_records.payment_record LIMIT 1",
	0, {InvalidOid},
	PR_TABLE_BIT(PR_T_RECORD)
};

/* Is there any payment record at all (latest snapshot)? */
bool
pr_store_has_records(void)
{
	return pr_spi_run(&has_records_sql, NULL, NULL, true, SPI_OK_SELECT) > 0;
}
