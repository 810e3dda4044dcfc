/*-------------------------------------------------------------------------
 * pr_store.c
 *		Every SQL statement of payment_records, prepared once and kept.
 *
 * Operators are written OPERATOR(pg_catalog.=): a kept plan is re-analyzed
 * under the search_path of whoever runs it next (a trigger fired by the
 * owner's own DML, say), so nothing may depend on that path.
 *
 * Reads that decide whether a write is allowed run after the record row
 * is locked and use the latest snapshot: under REPEATABLE READ the
 * transaction snapshot may predate a refund committed by the session we
 * just waited for, and deciding on it would let two sessions refund past
 * the limit (SPEC section 9).
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "utils/builtins.h"
#include "utils/jsonb.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"

#include "pr_store.h"

#define EQ " OPERATOR(pg_catalog.=) "
#define S "payment_records."

#define ATTEMPT_COLS \
	"a.id, a.attempt, a.status, a.created, a.customer_details, " \
	"a.customer_presence, a.description, a.metadata, " \
	"a.payment_method_details, a.processor_details, a.shipping_details"
#define N_ATTEMPT_COLS 11

#define LATEST_ATTEMPT(rec) \
	"(SELECT * FROM " S "payment_attempt_record WHERE record_seq" EQ rec \
	" ORDER BY attempt DESC LIMIT 1) a"
#define REFUND_HEAD(rec) \
	"LEFT JOIN LATERAL (SELECT refund_no, refunded_total FROM " S "refund" \
	" WHERE record_seq" EQ rec " ORDER BY refund_no DESC LIMIT 1) h ON true"

typedef enum PrQuery
{
	Q_INSERT_PAYMENT,
	Q_LOCK_RECORD,
	Q_READ_STATE,
	Q_FETCH_RECORD,
	Q_INSERT_REFUND,
	Q_SET_ATTEMPT_METADATA,
	Q_LOCK_RECORD_SEQ,
	Q_LATEST_STATUS,
	Q_ATTEMPT_STATUS,
	Q_REFUND_TOTAL,
	Q_COUNT
} PrQuery;

typedef struct PrQueryDef
{
	const char *sql;
	int			nargs;
	Oid			argtypes[17];
} PrQueryDef;

static const PrQueryDef query_defs[Q_COUNT] = {
	[Q_INSERT_PAYMENT] = {
		"WITH r AS (INSERT INTO " S "payment_record (id, livemode, created, currency, amount)"
		" VALUES ($1, $2, $3, $4, $5) RETURNING seq)"
		" INSERT INTO " S "payment_attempt_record (id, record_seq, attempt, created, status,"
		" initiated_at, guaranteed_at, failed_at, customer_details, customer_presence,"
		" description, metadata, payment_method_details, processor_details, shipping_details)"
		" SELECT $6, r.seq, 1, $3, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17 FROM r"
		" RETURNING record_seq",
		17,
		{TEXTOID, BOOLOID, TIMESTAMPTZOID, TEXTOID, INT8OID, TEXTOID, TEXTOID,
			TIMESTAMPTZOID, TIMESTAMPTZOID, TIMESTAMPTZOID, JSONBOID, TEXTOID, TEXTOID,
		JSONBOID, JSONBOID, JSONBOID, JSONBOID}
	},
	[Q_LOCK_RECORD] = {
		"SELECT seq, created, currency, amount FROM " S "payment_record"
		" WHERE id" EQ "$1 AND livemode" EQ "$2 FOR NO KEY UPDATE",
		2, {TEXTOID, BOOLOID}
	},
	[Q_READ_STATE] = {
		"SELECT " ATTEMPT_COLS ", h.refund_no, h.refunded_total FROM "
		LATEST_ATTEMPT("$1") " " REFUND_HEAD("$1"),
		1, {INT8OID}
	},
	[Q_FETCH_RECORD] = {
		"SELECT " ATTEMPT_COLS ", h.refund_no, h.refunded_total,"
		" r.seq, r.created, r.currency, r.amount"
		" FROM " S "payment_record r CROSS JOIN LATERAL " LATEST_ATTEMPT("r.seq")
		" " REFUND_HEAD("r.seq")
		" WHERE r.id" EQ "$1 AND r.livemode" EQ "$2",
		2, {TEXTOID, BOOLOID}
	},
	[Q_INSERT_REFUND] = {
		"INSERT INTO " S "refund (record_seq, refund_no, amount, refunded_total, livemode,"
		" refund_reference, initiated_at, refunded_at, created, metadata)"
		" VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)"
		" ON CONFLICT (livemode, refund_reference) WHERE refund_reference IS NOT NULL"
		" DO NOTHING",
		10,
		{INT8OID, INT4OID, INT8OID, INT8OID, BOOLOID, TEXTOID, TIMESTAMPTZOID,
		 TIMESTAMPTZOID, TIMESTAMPTZOID, JSONBOID}
	},
	[Q_SET_ATTEMPT_METADATA] = {
		"UPDATE " S "payment_attempt_record SET metadata = $2 WHERE id" EQ "$1",
		2, {TEXTOID, JSONBOID}
	},
	[Q_LOCK_RECORD_SEQ] = {
		"SELECT amount, livemode FROM " S "payment_record WHERE seq" EQ "$1"
		" FOR NO KEY UPDATE",
		1, {INT8OID}
	},
	[Q_LATEST_STATUS] = {
		"SELECT status, attempt FROM " S "payment_attempt_record WHERE record_seq" EQ "$1"
		" ORDER BY attempt DESC LIMIT 1",
		1, {INT8OID}
	},
	[Q_ATTEMPT_STATUS] = {
		"SELECT status FROM " S "payment_attempt_record"
		" WHERE record_seq" EQ "$1 AND attempt" EQ "$2",
		2, {INT8OID, INT4OID}
	},
	[Q_REFUND_TOTAL] = {
		"SELECT refunded_total FROM " S "refund WHERE record_seq" EQ "$1 AND refund_no" EQ "$2",
		2, {INT8OID, INT4OID}
	},
};

static SPIPlanPtr plans[Q_COUNT];

/* The kept plan of a statement, prepared on first use in this backend. */
static SPIPlanPtr
get_plan(PrQuery q)
{
	if (plans[q] == NULL)
	{
		const PrQueryDef *d = &query_defs[q];
		SPIPlanPtr	p;

		p = SPI_prepare(d->sql, d->nargs, (Oid *) d->argtypes);
		if (p == NULL)
			elog(ERROR, "SPI_prepare failed for payment_records statement %d: %s",
				 (int) q, SPI_result_code_string(SPI_result));
		if (SPI_keepplan(p) != 0)
			elog(ERROR, "SPI_keepplan failed");
		plans[q] = p;
	}
	return plans[q];
}

/*
 * Run a statement.  latest: read with the latest snapshot (see file
 * header).  Returns SPI_processed.
 */
static uint64
run(PrQuery q, Datum *values, const char *nulls, bool latest, int expect)
{
	int			rc;

	if (latest)
		rc = SPI_execute_snapshot(get_plan(q), values, nulls,
								  GetLatestSnapshot(), InvalidSnapshot,
								  false, true, 0);
	else
		rc = SPI_execute_plan(get_plan(q), values, nulls, false, 0);
	if (rc != expect)
		elog(ERROR, "payment_records statement %d failed: %s",
			 (int) q, SPI_result_code_string(rc));
	return SPI_processed;
}

static Datum
col(int c, bool *isnull)
{
	return SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, c, isnull);
}

static char *
col_text(int c)
{
	bool		isnull;
	Datum		d = col(c, &isnull);

	return isnull ? NULL : TextDatumGetCString(d);
}

static Jsonb *
col_jsonb(int c)
{
	bool		isnull;
	Datum		d = col(c, &isnull);

	return isnull ? NULL : DatumGetJsonbPCopy(d);
}

static void
copy_id(char *dst, const char *src)
{
	strlcpy(dst, src, PR_ID_MAXLEN);
}

/* Read ATTEMPT_COLS starting at column 1 of the current row. */
static void
read_attempt(PrAttempt *a)
{
	bool		isnull;

	copy_id(a->id, col_text(1));
	a->attempt = DatumGetInt32(col(2, &isnull));
	strlcpy(a->status, col_text(3), sizeof(a->status));
	a->created = DatumGetTimestampTz(col(4, &isnull));
	a->customer_details = col_jsonb(5);
	a->customer_presence = col_text(6);
	a->description = col_text(7);
	a->metadata = col_jsonb(8);
	a->payment_method_details = col_jsonb(9);
	a->processor_details = col_jsonb(10);
	a->shipping_details = col_jsonb(11);
}

/* The refund head (count and running total) after ATTEMPT_COLS. */
static void
read_refund_head(PrRecord *rec)
{
	bool		isnull;
	Datum		d = col(N_ATTEMPT_COLS + 1, &isnull);

	if (isnull)
	{
		rec->refund_count = 0;
		rec->refunded = 0;
	}
	else
	{
		rec->refund_count = DatumGetInt32(d);
		rec->refunded = DatumGetInt64(col(N_ATTEMPT_COLS + 2, &isnull));
	}
}

static Datum
jsonb_or_null(Jsonb *j, char *nulls, int i)
{
	if (j == NULL)
	{
		nulls[i] = 'n';
		return (Datum) 0;
	}
	return JsonbPGetDatum(j);
}

static Datum
text_or_null(const char *s, char *nulls, int i)
{
	if (s == NULL)
	{
		nulls[i] = 'n';
		return (Datum) 0;
	}
	return CStringGetTextDatum(s);
}

/*
 * Insert a record and its first attempt in one statement; fills rec->seq.
 */
void
pr_store_insert_payment(PrRecord *rec, PrNewAttempt *na)
{
	Datum		v[17];
	char		n[17];
	PrAttempt  *a = &rec->latest;
	bool		isnull;

	memset(n, ' ', sizeof(n));
	v[0] = CStringGetTextDatum(rec->id);
	v[1] = BoolGetDatum(rec->livemode);
	v[2] = TimestampTzGetDatum(rec->created);
	v[3] = CStringGetTextDatum(rec->currency);
	v[4] = Int64GetDatum(rec->amount);
	v[5] = CStringGetTextDatum(a->id);
	v[6] = CStringGetTextDatum(a->status);
	v[7] = TimestampTzGetDatum(na->initiated_at);
	v[8] = TimestampTzGetDatum(na->guaranteed_at);
	n[8] = na->has_guaranteed_at ? ' ' : 'n';
	v[9] = TimestampTzGetDatum(na->failed_at);
	n[9] = na->has_failed_at ? ' ' : 'n';
	v[10] = jsonb_or_null(a->customer_details, n, 10);
	v[11] = text_or_null(a->customer_presence, n, 11);
	v[12] = text_or_null(a->description, n, 12);
	v[13] = jsonb_or_null(a->metadata, n, 13);
	v[14] = jsonb_or_null(a->payment_method_details, n, 14);
	v[15] = jsonb_or_null(a->processor_details, n, 15);
	v[16] = jsonb_or_null(a->shipping_details, n, 16);

	if (run(Q_INSERT_PAYMENT, v, n, false, SPI_OK_INSERT_RETURNING) != 1)
		elog(ERROR, "payment record was not inserted");
	rec->seq = DatumGetInt64(col(1, &isnull));
}

/*
 * Lock a record row (FOR NO KEY UPDATE) by its public id in one mode.
 * Every path that adds a refund or changes an attempt takes this lock
 * first, so such writes on one record are serialized.
 */
bool
pr_store_lock_record(const char *id, bool livemode, PrRecord *rec)
{
	Datum		v[2];
	bool		isnull;

	v[0] = CStringGetTextDatum(id);
	v[1] = BoolGetDatum(livemode);
	if (run(Q_LOCK_RECORD, v, NULL, false, SPI_OK_SELECT) == 0)
		return false;
	copy_id(rec->id, id);
	rec->livemode = livemode;
	rec->seq = DatumGetInt64(col(1, &isnull));
	rec->created = DatumGetTimestampTz(col(2, &isnull));
	strlcpy(rec->currency, col_text(3), sizeof(rec->currency));
	rec->amount = DatumGetInt64(col(4, &isnull));
	return true;
}

/* Latest attempt and refund total of a locked record, latest snapshot. */
void
pr_store_read_state(PrRecord *rec)
{
	Datum		v[1];

	v[0] = Int64GetDatum(rec->seq);
	if (run(Q_READ_STATE, v, NULL, true, SPI_OK_SELECT) != 1)
		elog(ERROR, "payment record \"%s\" has no payment attempt", rec->id);
	read_attempt(&rec->latest);
	read_refund_head(rec);
}

/* A record, its latest attempt and refund total, for reading. */
bool
pr_store_fetch_record(const char *id, bool livemode, PrRecord *rec)
{
	Datum		v[2];
	bool		isnull;

	v[0] = CStringGetTextDatum(id);
	v[1] = BoolGetDatum(livemode);
	if (run(Q_FETCH_RECORD, v, NULL, false, SPI_OK_SELECT) == 0)
		return false;
	read_attempt(&rec->latest);
	read_refund_head(rec);
	copy_id(rec->id, id);
	rec->livemode = livemode;
	rec->seq = DatumGetInt64(col(N_ATTEMPT_COLS + 3, &isnull));
	rec->created = DatumGetTimestampTz(col(N_ATTEMPT_COLS + 4, &isnull));
	strlcpy(rec->currency, col_text(N_ATTEMPT_COLS + 5), sizeof(rec->currency));
	rec->amount = DatumGetInt64(col(N_ATTEMPT_COLS + 6, &isnull));
	return true;
}

/*
 * Append a refund to a locked record's chain.  Returns false when the
 * refund reference is already taken (ON CONFLICT waits for a concurrent
 * holder of the same reference to finish, so the loser learns it here
 * rather than through a bare unique-violation).
 */
bool
pr_store_insert_refund(PrRecord *rec, PrRefund *rf)
{
	Datum		v[10];
	char		n[10];

	memset(n, ' ', sizeof(n));
	v[0] = Int64GetDatum(rec->seq);
	v[1] = Int32GetDatum(rec->refund_count + 1);
	v[2] = Int64GetDatum(rf->amount);
	v[3] = Int64GetDatum(rec->refunded + rf->amount);
	v[4] = BoolGetDatum(rec->livemode);
	v[5] = text_or_null(rf->reference, n, 5);
	v[6] = TimestampTzGetDatum(rf->initiated_at);
	n[6] = rf->has_initiated_at ? ' ' : 'n';
	v[7] = TimestampTzGetDatum(rf->refunded_at);
	n[7] = rf->has_refunded_at ? ' ' : 'n';
	v[8] = TimestampTzGetDatum(GetCurrentTransactionStartTimestamp());
	v[9] = jsonb_or_null(rf->metadata, n, 9);

	return run(Q_INSERT_REFUND, v, n, false, SPI_OK_INSERT) == 1;
}

void
pr_store_set_attempt_metadata(PrAttempt *a, Jsonb *metadata)
{
	Datum		v[2];
	char		n[2] = {' ', ' '};

	v[0] = CStringGetTextDatum(a->id);
	v[1] = jsonb_or_null(metadata, n, 1);
	if (run(Q_SET_ATTEMPT_METADATA, v, n, false, SPI_OK_UPDATE) != 1)
		elog(ERROR, "payment attempt record \"%s\" was not updated", a->id);
	a->metadata = metadata;
}

bool
pr_store_lock_record_seq(int64 seq, int64 *amount, bool *livemode)
{
	Datum		v[1];
	bool		isnull;

	v[0] = Int64GetDatum(seq);
	if (run(Q_LOCK_RECORD_SEQ, v, NULL, false, SPI_OK_SELECT) == 0)
		return false;
	*amount = DatumGetInt64(col(1, &isnull));
	*livemode = DatumGetBool(col(2, &isnull));
	return true;
}

bool
pr_store_latest_status(int64 record_seq, char *status, int32 *attempt)
{
	Datum		v[1];
	bool		isnull;

	v[0] = Int64GetDatum(record_seq);
	if (run(Q_LATEST_STATUS, v, NULL, true, SPI_OK_SELECT) == 0)
		return false;
	strlcpy(status, col_text(1), 12);
	*attempt = DatumGetInt32(col(2, &isnull));
	return true;
}

bool
pr_store_attempt_status(int64 record_seq, int32 attempt, char *status)
{
	Datum		v[2];

	v[0] = Int64GetDatum(record_seq);
	v[1] = Int32GetDatum(attempt);
	if (run(Q_ATTEMPT_STATUS, v, NULL, true, SPI_OK_SELECT) == 0)
		return false;
	strlcpy(status, col_text(1), 12);
	return true;
}

bool
pr_store_refund_total(int64 record_seq, int32 refund_no, int64 *total)
{
	Datum		v[2];
	bool		isnull;

	v[0] = Int64GetDatum(record_seq);
	v[1] = Int32GetDatum(refund_no);
	if (run(Q_REFUND_TOTAL, v, NULL, true, SPI_OK_SELECT) == 0)
		return false;
	*total = DatumGetInt64(col(1, &isnull));
	return true;
}
