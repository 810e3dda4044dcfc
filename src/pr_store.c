/*-------------------------------------------------------------------------
 * pr_store.c
 *		Every read and write of payment_records' tables.
 *
 * Statements are prepared once and kept; the inserts of the write paths
 * (records, attempts, refunds, events) skip SQL and go through pr_insert.
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

#include "pr_compat.h"

#include "access/genam.h"
#include "access/relscan.h"
#include "access/skey.h"
#include "access/stratnum.h"
#include "access/table.h"
#include "access/tableam.h"
#include "access/toast_compression.h"
#include "access/xact.h"
#include "common/int.h"
#include "access/toast_internals.h"
#include "catalog/namespace.h"
#include "catalog/pg_collation.h"
#include "catalog/pg_type.h"
#include "executor/tuptable.h"
#include "storage/lmgr.h"
#include "utils/fmgroids.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"
#include "common/sha2.h"
#include "executor/spi.h"
#include "utils/builtins.h"
#include "utils/jsonb.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"

#include "pr_catalog.h"
#include "pr_insert.h"
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
	Q_FETCH_RECORD,
	Q_SET_ATTEMPT_METADATA,
	Q_SET_ATTEMPT_STATE,
	Q_SET_ATTEMPT_INFO,
	Q_FETCH_ATTEMPT,
	Q_LIST_ATTEMPTS_DESC,
	Q_LIST_ATTEMPTS_ASC,
	Q_ATTEMPT_CURSOR,
	Q_RECORD_CURSOR,
	Q_LIST_RECORDS_DESC,
	Q_LIST_RECORDS_ASC,
	Q_IDEM_GET,
	Q_IDEM_PUT,
	Q_IDEM_DELETE,
	Q_HAS_RECORDS,
	Q_PURGE_KEYS,
	Q_COUNT
} PrQuery;

typedef struct PrQueryDef
{
	const char *sql;
	int			nargs;
	Oid			argtypes[17];
} PrQueryDef;

static const PrQueryDef query_defs[Q_COUNT] = {
	[Q_FETCH_RECORD] = {
		"SELECT " ATTEMPT_COLS ", h.refund_no, h.refunded_total,"
		" r.seq, r.created, r.currency, r.amount, r.id"
		" FROM " S "payment_record r CROSS JOIN LATERAL " LATEST_ATTEMPT("r.seq")
		" " REFUND_HEAD("r.seq")
		" WHERE r.id" EQ "$1 AND r.livemode" EQ "$2",
		2, {TEXTOID, BOOLOID}
	},
	[Q_SET_ATTEMPT_METADATA] = {
		"UPDATE " S "payment_attempt_record SET metadata = $2 WHERE id" EQ "$1",
		2, {TEXTOID, JSONBOID}
	},
	[Q_SET_ATTEMPT_STATE] = {
		"UPDATE " S "payment_attempt_record SET status = $2, guaranteed_at = $3,"
		" failed_at = $4, canceled_at = $5, metadata = $6 WHERE id" EQ "$1",
		6, {TEXTOID, TEXTOID, TIMESTAMPTZOID, TIMESTAMPTZOID, TIMESTAMPTZOID, JSONBOID}
	},
	[Q_SET_ATTEMPT_INFO] = {
		"UPDATE " S "payment_attempt_record SET customer_details = $2, description = $3,"
		" metadata = $4, shipping_details = $5 WHERE id" EQ "$1",
		5, {TEXTOID, JSONBOID, TEXTOID, JSONBOID, JSONBOID}
	},
	[Q_FETCH_ATTEMPT] = {
		"SELECT " ATTEMPT_COLS ", h.refund_no, h.refunded_total,"
		" r.seq, r.created, r.currency, r.amount, r.id"
		" FROM " S "payment_attempt_record a JOIN " S "payment_record r"
		" ON r.seq" EQ "a.record_seq " REFUND_HEAD("r.seq")
		" WHERE a.id" EQ "$1 AND r.livemode" EQ "$2",
		2, {TEXTOID, BOOLOID}
	},
	[Q_LIST_ATTEMPTS_DESC] = {
		"SELECT " ATTEMPT_COLS " FROM " S "payment_attempt_record a"
		" WHERE a.record_seq" EQ "$1 AND a.attempt OPERATOR(pg_catalog.<) $2"
		" ORDER BY a.attempt DESC LIMIT $3",
		3, {INT8OID, INT4OID, INT8OID}
	},
	[Q_LIST_ATTEMPTS_ASC] = {
		"SELECT " ATTEMPT_COLS " FROM " S "payment_attempt_record a"
		" WHERE a.record_seq" EQ "$1 AND a.attempt OPERATOR(pg_catalog.>) $2"
		" ORDER BY a.attempt LIMIT $3",
		3, {INT8OID, INT4OID, INT8OID}
	},
	[Q_ATTEMPT_CURSOR] = {
		"SELECT attempt FROM " S "payment_attempt_record"
		" WHERE id" EQ "$1 AND record_seq" EQ "$2",
		2, {TEXTOID, INT8OID}
	},
	[Q_RECORD_CURSOR] = {
		"SELECT created, seq FROM " S "payment_record WHERE id" EQ "$1 AND livemode" EQ "$2",
		2, {TEXTOID, BOOLOID}
	},
	/*
	 * Keyset pagination on (livemode, created, seq): the cursor and the
	 * created bounds are always bound (to infinities when absent) so one
	 * generic plan serves every page as an index range scan.
	 */
#define LIST_RECORDS(cmp, dir) \
		"SELECT " ATTEMPT_COLS ", h.refund_no, h.refunded_total," \
		" r.seq, r.created, r.currency, r.amount, r.id" \
		" FROM (SELECT * FROM " S "payment_record" \
		"  WHERE livemode" EQ "$1 AND created OPERATOR(pg_catalog.>=) $2" \
		"  AND created OPERATOR(pg_catalog.<) $3" \
		"  AND (created, seq) OPERATOR(pg_catalog." cmp ") ($4, $5)" \
		"  ORDER BY created " dir ", seq " dir " LIMIT $6) r" \
		" CROSS JOIN LATERAL " LATEST_ATTEMPT("r.seq") " " REFUND_HEAD("r.seq") \
		" ORDER BY r.created " dir ", r.seq " dir
#define LIST_ARGS 6, {BOOLOID, TIMESTAMPTZOID, TIMESTAMPTZOID, TIMESTAMPTZOID, INT8OID, INT8OID}
	[Q_LIST_RECORDS_DESC] = {LIST_RECORDS("<", "DESC"), LIST_ARGS},
	[Q_LIST_RECORDS_ASC] = {LIST_RECORDS(">", "ASC"), LIST_ARGS},
	[Q_IDEM_GET] = {
		"SELECT endpoint, request_hash, response, error, created FROM " S "idempotency_key"
		" WHERE livemode" EQ "$1 AND key" EQ "$2",
		2, {BOOLOID, TEXTOID}
	},
	[Q_IDEM_PUT] = {
		"INSERT INTO " S "idempotency_key (livemode, key, endpoint, request_hash, response,"
		" error, created) VALUES ($1, $2, $3, $4, $5, $6, $7)",
		7, {BOOLOID, TEXTOID, TEXTOID, BYTEAOID, JSONBOID, JSONBOID, TIMESTAMPTZOID}
	},
	[Q_IDEM_DELETE] = {
		"DELETE FROM " S "idempotency_key WHERE livemode" EQ "$1 AND key" EQ "$2",
		2, {BOOLOID, TEXTOID}
	},
	/* a batch of expired keys, skipping those a concurrent call holds */
	[Q_PURGE_KEYS] = {
		"DELETE FROM " S "idempotency_key k WHERE k.ctid OPERATOR(pg_catalog.=) ANY (ARRAY("
		" SELECT i.ctid FROM " S "idempotency_key i WHERE i.created OPERATOR(pg_catalog.<) $1"
		" ORDER BY i.created LIMIT $2 FOR UPDATE SKIP LOCKED))",
		2, {TIMESTAMPTZOID, INT4OID}
	},
	[Q_HAS_RECORDS] = {
		"SELECT 1 FROM " S "payment_record LIMIT 1",
		0, {InvalidOid}
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

	/* the schema named in the SQL text is the extension's own */
	(void) pr_ext_namespace();
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

/* row of SPI_tuptable that col() reads: 0 but while walking a list */
static uint64 cur_row = 0;

/* Column c (1-based) of the current row of SPI_tuptable. */
static Datum
col(int c, bool *isnull)
{
	return SPI_getbinval(SPI_tuptable->vals[cur_row], SPI_tuptable->tupdesc, c, isnull);
}

/* A text column of the current row, as a palloc'd C string, or NULL. */
static char *
col_text(int c)
{
	bool		isnull;
	Datum		d = col(c, &isnull);

	return isnull ? NULL : TextDatumGetCString(d);
}

/* A jsonb column of the current row, copied out of the tuple, or NULL. */
static Jsonb *
col_jsonb(int c)
{
	bool		isnull;
	Datum		d = col(c, &isnull);

	return isnull ? NULL : DatumGetJsonbPCopy(d);
}

/* Copy an object id into a PR_ID_MAXLEN buffer. */
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

/*
 * A jsonb parameter Datum for run(), setting the SPI null flag ('n') of
 * parameter i when j is NULL.
 */
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

/*
 * A text parameter Datum for run(), setting the SPI null flag ('n') of
 * parameter i when s is NULL.
 */
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

/* the same, for pr_insert_row's bool null flags */
static Datum
jsonb_or_null_b(Jsonb *j, bool *nulls, int i)
{
	nulls[i] = (j == NULL);
	return j == NULL ? (Datum) 0 : JsonbPGetDatum(j);
}

/* text_or_null for pr_insert_row's bool null flags */
static Datum
text_or_null_b(const char *s, bool *nulls, int i)
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
	v[PR_ATT_STATUS] = CStringGetTextDatum(a->status);
	v[PR_ATT_CUSTOMER_PRESENCE] = text_or_null_b(a->customer_presence, n, PR_ATT_CUSTOMER_PRESENCE);
	v[PR_ATT_DESCRIPTION] = text_or_null_b(a->description, n, PR_ATT_DESCRIPTION);
	v[PR_ATT_CUSTOMER_DETAILS] = jsonb_or_null_b(a->customer_details, n, PR_ATT_CUSTOMER_DETAILS);
	v[PR_ATT_METADATA] = jsonb_or_null_b(a->metadata, n, PR_ATT_METADATA);
	v[PR_ATT_PAYMENT_METHOD_DETAILS] = jsonb_or_null_b(a->payment_method_details, n,
													   PR_ATT_PAYMENT_METHOD_DETAILS);
	v[PR_ATT_PROCESSOR_DETAILS] = jsonb_or_null_b(a->processor_details, n,
												  PR_ATT_PROCESSOR_DETAILS);
	v[PR_ATT_SHIPPING_DETAILS] = jsonb_or_null_b(a->shipping_details, n,
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

static char *slot_text(TupleTableSlot *slot, int att);

/*
 * Lock a record row FOR NO KEY UPDATE, found by one of its unique indexes
 * (the id or the seq) under the latest snapshot, the way the executor's
 * SELECT ... FOR NO KEY UPDATE does it (ExecLockRows): wait for another
 * transaction that holds the row, follow the row to its latest version
 * under READ COMMITTED, fail with 40001 if it changed after the snapshot
 * under REPEATABLE READ or SERIALIZABLE.  A row this transaction inserted
 * itself needs no lock: no other transaction can see it yet.  Without an
 * SQL statement: every refund and state change takes this lock, some of
 * them twice (the API, then the trigger), and a statement costs more than
 * the rest of the check.  want_live: -1 any mode, else the mode the row
 * must have (checked before locking).  lock false: only find the row.
 * Returns false if there is no such row; the slot then holds the row.
 */
static bool
lock_record_row(Relation rel, const char *index, Datum key, Oid eqproc, int want_live,
				bool lock, TupleTableSlot *slot)
{
	Relation	idx = index_open(pr_relid(index), AccessShareLock);
	ScanKeyData skey;
	Snapshot	snap;
	IndexScanDesc scan;
	bool		found;
	bool		isnull;

	ScanKeyInit(&skey, 1, BTEqualStrategyNumber, eqproc, key);
	skey.sk_collation = C_COLLATION_OID;	/* the id column's; ignored for seq */
	CommandCounterIncrement();
	snap = RegisterSnapshot(GetLatestSnapshot());
	scan = PR_INDEX_BEGINSCAN(rel, idx, snap, 1, 0);
	index_rescan(scan, &skey, 1, NULL, 0);
	found = index_getnext_slot(scan, ForwardScanDirection, slot);
	index_endscan(scan);
	index_close(idx, AccessShareLock);

	if (found && want_live >= 0 &&
		DatumGetBool(slot_getattr(slot, PR_REC_LIVEMODE + 1, &isnull)) != (want_live == 1))
		found = false;
	if (found && lock &&
		!TransactionIdIsCurrentTransactionId(DatumGetTransactionId(
			slot_getsysattr(slot, MinTransactionIdAttributeNumber, &isnull))))
	{
		ItemPointerData tid = slot->tts_tid;
		TM_FailureData tmfd;
		TM_Result	res;

		res = table_tuple_lock(rel, &tid, snap, slot, GetCurrentCommandId(false),
							   LockTupleNoKeyExclusive, LockWaitBlock,
							   IsolationUsesXactSnapshot() ? 0 : TUPLE_LOCK_FLAG_FIND_LAST_VERSION,
							   &tmfd);
		switch (res)
		{
			case TM_Ok:
				break;
			case TM_Updated:
			case TM_Deleted:
				if (IsolationUsesXactSnapshot())
					ereport(ERROR,
							(errcode(ERRCODE_T_R_SERIALIZATION_FAILURE),
							 errmsg("could not serialize access due to concurrent update")));
				found = false;	/* deleted: records never are, but say so */
				break;
			default:
				elog(ERROR, "unexpected result %d locking a payment record", (int) res);
		}
	}
	UnregisterSnapshot(snap);
	return found;
}

/*
 * Lock a record row (FOR NO KEY UPDATE) by its public id in one mode.
 * Every path that adds a refund or changes an attempt takes this lock
 * first, so such writes on one record are serialized.
 */
bool
pr_store_lock_record(const char *id, bool livemode, PrRecord *rec)
{
	Relation	rel = pr_table_open(PR_T_RECORD, RowShareLock);
	TupleTableSlot *slot = table_slot_create(rel, NULL);
	bool		found;
	bool		isnull;

	found = lock_record_row(rel, "payment_record_pkey", CStringGetTextDatum(id), F_TEXTEQ,
							livemode ? 1 : 0, true, slot);
	if (found)
	{
		copy_id(rec->id, id);
		rec->livemode = livemode;
		rec->seq = DatumGetInt64(slot_getattr(slot, PR_REC_SEQ + 1, &isnull));
		rec->created = DatumGetTimestampTz(slot_getattr(slot, PR_REC_CREATED + 1, &isnull));
		strlcpy(rec->currency, slot_text(slot, PR_REC_CURRENCY), sizeof(rec->currency));
		rec->amount = DatumGetInt64(slot_getattr(slot, PR_REC_AMOUNT + 1, &isnull));
	}
	ExecDropSingleTupleTableSlot(slot);
	table_close(rel, NoLock);
	return found;
}

/* a text column of a slot, as a palloc'd C string, or NULL */
static char *
slot_text(TupleTableSlot *slot, int att)
{
	bool		isnull;
	Datum		d = slot_getattr(slot, att + 1, &isnull);

	return isnull ? NULL : TextDatumGetCString(d);
}

/* a jsonb column of a slot, copied out of it, or NULL */
static Jsonb *
slot_jsonb(TupleTableSlot *slot, int att)
{
	bool		isnull;
	Datum		d = slot_getattr(slot, att + 1, &isnull);

	return isnull ? NULL : DatumGetJsonbPCopy(d);
}

/*
 * Row n of a record's chain -- its attempts by number, its refunds by
 * refund_no -- or, for n = 0, the newest one (a backward scan), by the
 * chain's unique index (record_seq, n): one index descent whatever the
 * length of the chain.  A kept SQL plan can do worse: made while the
 * table was small, it may scan the whole table, and go on doing so for
 * every call of a transaction that grows the chain (20,000 refunds took
 * 19 s so).
 */
static bool
chain_row(Relation rel, const char *index, int64 record_seq, int32 n, Snapshot snap,
		  TupleTableSlot *slot)
{
	Relation	idx = index_open(pr_relid(index), AccessShareLock);
	ScanKeyData key[2];
	int			nkeys = n > 0 ? 2 : 1;
	IndexScanDesc scan;
	bool		found;

	ScanKeyInit(&key[0], 1, BTEqualStrategyNumber, F_INT8EQ, Int64GetDatum(record_seq));
	ScanKeyInit(&key[1], 2, BTEqualStrategyNumber, F_INT4EQ, Int32GetDatum(n));
	scan = PR_INDEX_BEGINSCAN(rel, idx, snap, nkeys, 0);
	index_rescan(scan, key, nkeys, NULL, 0);
	found = index_getnext_slot(scan, n > 0 ? ForwardScanDirection : BackwardScanDirection,
							   slot);
	if (found)
		slot_getallattrs(slot);
	index_endscan(scan);
	index_close(idx, AccessShareLock);
	return found;
}

/*
 * Latest attempt and refund total of a locked record, read with the
 * latest snapshot (see the file header).  The command counter is advanced
 * first so that the snapshot also sees this transaction's own rows
 * written by the same command (pr_insert writes with the current one).
 */
void
pr_store_read_state(PrRecord *rec)
{
	Snapshot	snap;
	Relation	rel;
	TupleTableSlot *slot;
	PrAttempt  *a = &rec->latest;
	bool		isnull;

	CommandCounterIncrement();
	snap = RegisterSnapshot(GetLatestSnapshot());

	rel = pr_table_open(PR_T_ATTEMPT, AccessShareLock);
	slot = table_slot_create(rel, NULL);
	if (!chain_row(rel, "payment_attempt_record_attempt_key", rec->seq, 0, snap, slot))
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("payment record \"%s\" has no payment attempt", rec->id),
				 errdetail("It was inserted in this transaction without one, which its commit will refuse.")));

	/*
	 * Under REPEATABLE READ and SERIALIZABLE the write will update or
	 * follow this attempt; if it is newer than the transaction's snapshot,
	 * the transaction must be retried, as an UPDATE of a row changed after
	 * the snapshot would be.
	 */
	if (IsolationUsesXactSnapshot() &&
		!table_tuple_satisfies_snapshot(rel, slot, GetTransactionSnapshot()))
		ereport(ERROR,
				(errcode(ERRCODE_T_R_SERIALIZATION_FAILURE),
				 errmsg("could not serialize access due to concurrent update"),
				 errdetail("The latest payment attempt of payment record \"%s\" changed after this transaction began.",
						   rec->id),
				 errhint("Retry the transaction.")));
	copy_id(a->id, slot_text(slot, PR_ATT_ID));
	a->attempt = DatumGetInt32(slot_getattr(slot, PR_ATT_ATTEMPT + 1, &isnull));
	strlcpy(a->status, slot_text(slot, PR_ATT_STATUS), sizeof(a->status));
	a->created = DatumGetTimestampTz(slot_getattr(slot, PR_ATT_CREATED + 1, &isnull));
	a->customer_details = slot_jsonb(slot, PR_ATT_CUSTOMER_DETAILS);
	a->customer_presence = slot_text(slot, PR_ATT_CUSTOMER_PRESENCE);
	a->description = slot_text(slot, PR_ATT_DESCRIPTION);
	a->metadata = slot_jsonb(slot, PR_ATT_METADATA);
	a->payment_method_details = slot_jsonb(slot, PR_ATT_PAYMENT_METHOD_DETAILS);
	a->processor_details = slot_jsonb(slot, PR_ATT_PROCESSOR_DETAILS);
	a->shipping_details = slot_jsonb(slot, PR_ATT_SHIPPING_DETAILS);
	ExecDropSingleTupleTableSlot(slot);
	table_close(rel, AccessShareLock);

	rel = pr_table_open(PR_T_REFUND, AccessShareLock);
	slot = table_slot_create(rel, NULL);
	if (chain_row(rel, "refund_pkey", rec->seq, 0, snap, slot))
	{
		rec->refund_count = DatumGetInt32(slot_getattr(slot, PR_RF_REFUND_NO + 1, &isnull));
		rec->refunded = DatumGetInt64(slot_getattr(slot, PR_RF_REFUNDED_TOTAL + 1, &isnull));
	}
	else
	{
		rec->refund_count = 0;
		rec->refunded = 0;
	}
	ExecDropSingleTupleTableSlot(slot);
	table_close(rel, AccessShareLock);

	UnregisterSnapshot(snap);
}

/*
 * A row of ATTEMPT_COLS, refund head, r.seq, r.created, r.currency,
 * r.amount, r.id (the shape of every record-reading statement).
 */
static void
read_record_row(PrRecord *rec, bool livemode)
{
	bool		isnull;

	read_attempt(&rec->latest);
	read_refund_head(rec);
	rec->livemode = livemode;
	rec->seq = DatumGetInt64(col(N_ATTEMPT_COLS + 3, &isnull));
	rec->created = DatumGetTimestampTz(col(N_ATTEMPT_COLS + 4, &isnull));
	strlcpy(rec->currency, col_text(N_ATTEMPT_COLS + 5), sizeof(rec->currency));
	rec->amount = DatumGetInt64(col(N_ATTEMPT_COLS + 6, &isnull));
	copy_id(rec->id, col_text(N_ATTEMPT_COLS + 7));
}

/* A record, its latest attempt and refund total, for reading. */
bool
pr_store_fetch_record(const char *id, bool livemode, PrRecord *rec)
{
	Datum		v[2];

	v[0] = CStringGetTextDatum(id);
	v[1] = BoolGetDatum(livemode);
	if (run(Q_FETCH_RECORD, v, NULL, false, SPI_OK_SELECT) == 0)
		return false;
	read_record_row(rec, livemode);
	return true;
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
	v[PR_RF_REFUND_REFERENCE] = text_or_null_b(rf->reference, n, PR_RF_REFUND_REFERENCE);
	v[PR_RF_METADATA] = jsonb_or_null_b(rf->metadata, n, PR_RF_METADATA);

	pr_insert_row(b, PR_T_REFUND, v, n);
	pr_insert_end(b);
}

/* Replace the metadata of attempt a (NULL: none), in the row and in *a. */
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

/*
 * For the triggers: read what refund and attempt checks need of a record,
 * by its internal key, locking it (FOR NO KEY UPDATE) if lock is true.
 */
bool
pr_store_record_key(int64 seq, bool lock, PrRecordKey *rk)
{
	Relation	rel = pr_table_open(PR_T_RECORD, RowShareLock);
	TupleTableSlot *slot = table_slot_create(rel, NULL);
	bool		found;
	bool		isnull;

	found = lock_record_row(rel, "payment_record_seq_key", Int64GetDatum(seq), F_INT8EQ, -1,
							lock, slot);
	if (found)
	{
		rk->amount = DatumGetInt64(slot_getattr(slot, PR_REC_AMOUNT + 1, &isnull));
		rk->livemode = DatumGetBool(slot_getattr(slot, PR_REC_LIVEMODE + 1, &isnull));
		strlcpy(rk->currency, slot_text(slot, PR_REC_CURRENCY), sizeof(rk->currency));
	}
	ExecDropSingleTupleTableSlot(slot);
	table_close(rel, NoLock);
	return found;
}

/*
 * Row n of a record's chain (0: the newest) read into a fresh slot under
 * the latest snapshot, after a CommandCounterIncrement so that it also
 * sees this transaction's rows of the statement being checked.  The
 * caller reads what it needs from the slot, then calls chain_done.
 */
typedef struct PrChainRead
{
	Relation	rel;
	TupleTableSlot *slot;
	Snapshot	snap;
} PrChainRead;

/*
 * Open table t and read row n of record_seq's chain by index into
 * r->slot, as described above; false when there is no such row.
 */
static bool
chain_read(PrChainRead *r, PrTable t, const char *index, int64 record_seq, int32 n)
{
	r->rel = pr_table_open(t, AccessShareLock);
	r->slot = table_slot_create(r->rel, NULL);
	CommandCounterIncrement();
	r->snap = RegisterSnapshot(GetLatestSnapshot());
	return chain_row(r->rel, index, record_seq, n, r->snap, r->slot);
}

/* Release what chain_read took: snapshot, slot, table. */
static void
chain_done(PrChainRead *r)
{
	UnregisterSnapshot(r->snap);
	ExecDropSingleTupleTableSlot(r->slot);
	table_close(r->rel, AccessShareLock);
}

/*
 * For the triggers: the status and number of attempt n of a record (n = 0:
 * the latest), by an index probe under the latest snapshot.
 */
bool
pr_store_attempt_state(int64 record_seq, int32 n, PrAttemptState *out)
{
	PrChainRead r;
	bool		isnull;
	bool		found = chain_read(&r, PR_T_ATTEMPT, "payment_attempt_record_attempt_key",
								   record_seq, n);

	if (found)
	{
		out->status = pr_status_from_text(slot_text(r.slot, PR_ATT_STATUS));
		out->attempt = DatumGetInt32(slot_getattr(r.slot, PR_ATT_ATTEMPT + 1, &isnull));
	}
	chain_done(&r);
	return found;
}

/* For the triggers: the running total of refund n of a record. */
bool
pr_store_refund_total(int64 record_seq, int32 refund_no, int64 *total)
{
	PrChainRead r;
	bool		isnull;
	bool		found = chain_read(&r, PR_T_REFUND, "refund_pkey", record_seq, refund_no);

	if (found)
		*total = DatumGetInt64(slot_getattr(r.slot, PR_RF_REFUNDED_TOTAL + 1, &isnull));
	chain_done(&r);
	return found;
}

/*
 * For the triggers: does a record of this id exist in this mode?  An
 * index probe under the latest snapshot, with no privilege check: a
 * deferred trigger runs as whoever commits, who may not read the table.
 */
bool
pr_store_record_exists(const char *id, bool livemode)
{
	Relation	rel = pr_table_open(PR_T_RECORD, AccessShareLock);
	Relation	idx = index_open(pr_relid("payment_record_pkey"), AccessShareLock);
	TupleTableSlot *slot = table_slot_create(rel, NULL);
	ScanKeyData key;
	Snapshot	snap;
	IndexScanDesc scan;
	bool		found;
	bool		isnull;

	ScanKeyInit(&key, 1, BTEqualStrategyNumber, F_TEXTEQ, CStringGetTextDatum(id));
	key.sk_collation = C_COLLATION_OID;
	CommandCounterIncrement();
	snap = RegisterSnapshot(GetLatestSnapshot());
	scan = PR_INDEX_BEGINSCAN(rel, idx, snap, 1, 0);
	index_rescan(scan, &key, 1, NULL, 0);
	found = index_getnext_slot(scan, ForwardScanDirection, slot) &&
		DatumGetBool(slot_getattr(slot, PR_REC_LIVEMODE + 1, &isnull)) == livemode;
	index_endscan(scan);
	UnregisterSnapshot(snap);
	ExecDropSingleTupleTableSlot(slot);
	index_close(idx, AccessShareLock);
	table_close(rel, AccessShareLock);
	return found;
}

/* Delete up to batch keys created before cutoff; returns how many. */
int64
pr_store_purge_keys(TimestampTz cutoff, int32 batch)
{
	Datum		v[2];

	v[0] = TimestampTzGetDatum(cutoff);
	v[1] = Int32GetDatum(batch);
	return (int64) run(Q_PURGE_KEYS, v, NULL, false, SPI_OK_DELETE);
}

/* Is there any payment record at all? */
bool
pr_store_has_records(void)
{
	return run(Q_HAS_RECORDS, NULL, NULL, true, SPI_OK_SELECT) > 0;
}

/* An attempt status from its stored text (PR_STATUS_INVALID if none). */
PrStatus
pr_status_from_text(const char *s)
{
	if (strcmp(s, "pending") == 0)
		return PR_STATUS_PENDING;
	if (strcmp(s, "guaranteed") == 0)
		return PR_STATUS_GUARANTEED;
	if (strcmp(s, "failed") == 0)
		return PR_STATUS_FAILED;
	if (strcmp(s, "canceled") == 0)
		return PR_STATUS_CANCELED;
	return PR_STATUS_INVALID;
}

/* The stored text of an attempt status. */
const char *
pr_status_text(PrStatus s)
{
	switch (s)
	{
		case PR_STATUS_PENDING:
			return "pending";
		case PR_STATUS_GUARANTEED:
			return "guaranteed";
		case PR_STATUS_FAILED:
			return "failed";
		case PR_STATUS_CANCELED:
			return "canceled";
		default:
			return "invalid";
	}
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
 * Move a pending attempt to a terminal status, with the time that goes
 * with it (status_at is stored in the column named after the status).
 */
void
pr_store_set_attempt_state(PrAttempt *a, const char *status, TimestampTz status_at,
						   Jsonb *metadata)
{
	Datum		v[6];
	char		n[6];

	memset(n, 'n', sizeof(n));
	v[0] = CStringGetTextDatum(a->id);
	n[0] = ' ';
	v[1] = CStringGetTextDatum(status);
	n[1] = ' ';
	v[2] = v[3] = v[4] = TimestampTzGetDatum(status_at);
	if (strcmp(status, "guaranteed") == 0)
		n[2] = ' ';
	else if (strcmp(status, "failed") == 0)
		n[3] = ' ';
	else
		n[4] = ' ';
	v[5] = jsonb_or_null(metadata, n, 5);
	if (metadata != NULL)
		n[5] = ' ';
	if (run(Q_SET_ATTEMPT_STATE, v, n, false, SPI_OK_UPDATE) != 1)
		elog(ERROR, "payment attempt record \"%s\" was not updated", a->id);
	strlcpy(a->status, status, sizeof(a->status));
	a->metadata = metadata;
}

/* Write an attempt's informational fields as they are in *a. */
void
pr_store_set_attempt_info(PrAttempt *a)
{
	Datum		v[5];
	char		n[5];

	memset(n, ' ', sizeof(n));
	v[0] = CStringGetTextDatum(a->id);
	v[1] = jsonb_or_null(a->customer_details, n, 1);
	v[2] = text_or_null(a->description, n, 2);
	v[3] = jsonb_or_null(a->metadata, n, 3);
	v[4] = jsonb_or_null(a->shipping_details, n, 4);
	if (run(Q_SET_ATTEMPT_INFO, v, n, false, SPI_OK_UPDATE) != 1)
		elog(ERROR, "payment attempt record \"%s\" was not updated", a->id);
}

/* An attempt by id in one mode, with its record. */
bool
pr_store_fetch_attempt(const char *id, bool livemode, PrRecord *rec, PrAttempt *a)
{
	Datum		v[2];

	v[0] = CStringGetTextDatum(id);
	v[1] = BoolGetDatum(livemode);
	if (run(Q_FETCH_ATTEMPT, v, NULL, false, SPI_OK_SELECT) == 0)
		return false;
	read_record_row(rec, livemode);
	*a = rec->latest;			/* the row's attempt is this one */
	return true;
}

/* Attempt number of a cursor id, which must belong to the record. */
bool
pr_store_attempt_cursor(int64 record_seq, const char *id, int32 *attempt)
{
	Datum		v[2];
	bool		isnull;

	v[0] = CStringGetTextDatum(id);
	v[1] = Int64GetDatum(record_seq);
	if (run(Q_ATTEMPT_CURSOR, v, NULL, false, SPI_OK_SELECT) == 0)
		return false;
	*attempt = DatumGetInt32(col(1, &isnull));
	return true;
}

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
	n = run(asc ? Q_LIST_ATTEMPTS_ASC : Q_LIST_ATTEMPTS_DESC, v, NULL, false,
			SPI_OK_SELECT);
	*out = palloc0(sizeof(PrAttempt) * (n + 1));
	for (i = 0; i < n; i++)
	{
		cur_row = i;
		read_attempt(&(*out)[i]);
	}
	cur_row = 0;
	return (int) n;
}

/* created and seq of a record used as a list cursor. */
bool
pr_store_record_cursor(const char *id, bool livemode, TimestampTz *created, int64 *seq)
{
	Datum		v[2];
	bool		isnull;

	v[0] = CStringGetTextDatum(id);
	v[1] = BoolGetDatum(livemode);
	if (run(Q_RECORD_CURSOR, v, NULL, false, SPI_OK_SELECT) == 0)
		return false;
	*created = DatumGetTimestampTz(col(1, &isnull));
	*seq = DatumGetInt64(col(2, &isnull));
	return true;
}

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
	n = run(asc ? Q_LIST_RECORDS_ASC : Q_LIST_RECORDS_DESC, v, NULL, false,
			SPI_OK_SELECT);
	*out = palloc0(sizeof(PrRecord) * (n + 1));
	for (i = 0; i < n; i++)
	{
		cur_row = i;
		read_record_row(&(*out)[i], livemode);
	}
	cur_row = 0;
	return (int) n;
}

/* A stored idempotency key (latest snapshot: we hold the key's lock). */
bool
pr_store_idem_get(bool livemode, const char *key, PrStoredKey *out)
{
	Datum		v[2];
	bool		isnull;
	bytea	   *hash;

	v[0] = BoolGetDatum(livemode);
	v[1] = CStringGetTextDatum(key);
	if (run(Q_IDEM_GET, v, NULL, true, SPI_OK_SELECT) == 0)
		return false;
	out->endpoint = col_text(1);
	hash = DatumGetByteaPP(col(2, &isnull));
	memset(out->hash, 0, sizeof(out->hash));
	memcpy(out->hash, VARDATA_ANY(hash), Min(VARSIZE_ANY_EXHDR(hash), sizeof(out->hash)));
	out->response = col_jsonb(3);
	out->error = col_jsonb(4);
	out->created = DatumGetTimestampTz(col(5, &isnull));
	return true;
}

/*
 * Store an idempotency key of mode livemode with its endpoint, request
 * hash, and either the response or the error to replay.
 */
void
pr_store_idem_put(bool livemode, const char *key, const char *endpoint,
				  const uint8 *hash, Jsonb *response, Jsonb *error)
{
	Datum		v[7];
	char		n[7];
	bytea	   *h = palloc(VARHDRSZ + PG_SHA256_DIGEST_LENGTH);

	memset(n, ' ', sizeof(n));
	SET_VARSIZE(h, VARHDRSZ + PG_SHA256_DIGEST_LENGTH);
	memcpy(VARDATA(h), hash, PG_SHA256_DIGEST_LENGTH);
	v[0] = BoolGetDatum(livemode);
	v[1] = CStringGetTextDatum(key);
	v[2] = CStringGetTextDatum(endpoint);
	v[3] = PointerGetDatum(h);
	v[4] = jsonb_or_null(response, n, 4);
	v[5] = jsonb_or_null(error, n, 5);
	v[6] = TimestampTzGetDatum(GetCurrentTransactionStartTimestamp());
	if (run(Q_IDEM_PUT, v, n, false, SPI_OK_INSERT) != 1)
		elog(ERROR, "idempotency key was not stored");
}

/* Forget an idempotency key (an expired one, before it is used anew). */
void
pr_store_idem_delete(bool livemode, const char *key)
{
	Datum		v[2];

	v[0] = BoolGetDatum(livemode);
	v[1] = CStringGetTextDatum(key);
	(void) run(Q_IDEM_DELETE, v, NULL, false, SPI_OK_DELETE);
}

/*
 * An event's object is a whole response, about 1 kB: under the row size
 * at which PostgreSQL compresses anything by itself, yet more than half
 * of the WAL a report_payment writes.  It is stored lz4-compressed (when
 * the server has lz4), which halves that; readers get the same jsonb.
 */
static Datum
compressed_jsonb(Jsonb *j)
{
#ifdef USE_LZ4
	Datum		c = toast_compress_datum(JsonbPGetDatum(j), TOAST_LZ4_COMPRESSION);

	/* NULL when compressing would not save space */
	if (DatumGetPointer(c) != NULL)
		return c;
#endif
	return JsonbPGetDatum(j);
}

/*
 * Insert an event row of type for object; returns its id, which
 * pr_event_emit sends in the notification.
 */
int64
pr_store_event_insert(const char *type, bool livemode, Jsonb *object)
{
	Datum		v[PR_EV_NATTS];
	bool		n[PR_EV_NATTS] = {0};
	PrInsertBatch *b = pr_insert_begin();
	int64		id = pr_next_serial(PR_T_EVENT);

	v[PR_EV_ID] = Int64GetDatum(id);
	v[PR_EV_TYPE] = CStringGetTextDatum(type);
	v[PR_EV_LIVEMODE] = BoolGetDatum(livemode);
	v[PR_EV_OBJECT] = compressed_jsonb(object);
	v[PR_EV_CREATED] = TimestampTzGetDatum(GetCurrentTransactionStartTimestamp());
	pr_insert_row(b, PR_T_EVENT, v, n);
	pr_insert_end(b);
	return id;
}
