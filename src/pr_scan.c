/*-------------------------------------------------------------------------
 * pr_scan.c
 *		Direct index probes of the write paths and the triggers: the
 *		record row lock, and reads of a record's attempt and refund chains.
 *
 * These run on every refund and state change, some twice (the API, then
 * the trigger), where an SQL statement would cost more than the rest of
 * the check: each is one index descent, by the indexes of pr_layout.h
 * found by OID (pr_catalog.c), reading columns by their pr_layout.h
 * numbers.
 *
 * Reads that decide whether a write is allowed run after the record row
 * is locked and use the latest snapshot: under REPEATABLE READ the
 * transaction snapshot may predate a refund committed by the session we
 * just waited for, and deciding on it would let two sessions refund past
 * the limit (README, contract clause C5).
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
#include "access/xact.h"
#include "catalog/pg_collation.h"
#include "executor/tuptable.h"
#include "utils/builtins.h"
#include "utils/timestamp.h"
#include "utils/fmgroids.h"
#include "utils/rel.h"
#include "utils/snapmgr.h"

#include "pr_catalog.h"
#include "pr_store.h"

/* a text column (pr_layout.h number) of a slot, as a palloc'd C string, or NULL */
static char *
slot_text(TupleTableSlot *slot, int att)
{
	bool		isnull;
	Datum		d = slot_getattr(slot, PR_ATTNO(att), &isnull);

	return isnull ? NULL : TextDatumGetCString(d);
}

/* a jsonb column (pr_layout.h number) of a slot, copied out of it, or NULL */
static Jsonb *
slot_jsonb(TupleTableSlot *slot, int att)
{
	bool		isnull;
	Datum		d = slot_getattr(slot, PR_ATTNO(att), &isnull);

	return isnull ? NULL : DatumGetJsonbPCopy(d);
}

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
lock_record_row(Relation rel, PrIndex index, Datum key, Oid eqproc, int want_live,
				bool lock, TupleTableSlot *slot)
{
	Relation	idx = pr_index_open(index, rel, AccessShareLock);
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
		DatumGetBool(slot_getattr(slot, PR_ATTNO(PR_REC_LIVEMODE), &isnull)) != (want_live == 1))
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

	found = lock_record_row(rel, PR_I_RECORD_ID, CStringGetTextDatum(id), F_TEXTEQ,
							livemode ? 1 : 0, true, slot);
	if (found)
	{
		strlcpy(rec->id, id, PR_ID_MAXLEN);
		rec->livemode = livemode;
		rec->seq = DatumGetInt64(slot_getattr(slot, PR_ATTNO(PR_REC_SEQ), &isnull));
		rec->created = DatumGetTimestampTz(slot_getattr(slot, PR_ATTNO(PR_REC_CREATED), &isnull));
		strlcpy(rec->currency, slot_text(slot, PR_REC_CURRENCY), sizeof(rec->currency));
		rec->amount = DatumGetInt64(slot_getattr(slot, PR_ATTNO(PR_REC_AMOUNT), &isnull));
	}
	ExecDropSingleTupleTableSlot(slot);
	table_close(rel, NoLock);
	return found;
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
chain_row(Relation rel, PrIndex index, int64 record_seq, int32 n, Snapshot snap,
		  TupleTableSlot *slot)
{
	Relation	idx = pr_index_open(index, rel, AccessShareLock);
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
	if (!chain_row(rel, PR_I_ATTEMPT_CHAIN, rec->seq, 0, snap, slot))
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
	strlcpy(a->id, slot_text(slot, PR_ATT_ID), PR_ID_MAXLEN);
	a->attempt = DatumGetInt32(slot_getattr(slot, PR_ATTNO(PR_ATT_ATTEMPT), &isnull));
	a->status = pr_status_from_text(slot_text(slot, PR_ATT_STATUS));
	a->created = DatumGetTimestampTz(slot_getattr(slot, PR_ATTNO(PR_ATT_CREATED), &isnull));
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
	if (chain_row(rel, PR_I_REFUND_CHAIN, rec->seq, 0, snap, slot))
	{
		rec->refund_count = DatumGetInt32(slot_getattr(slot, PR_ATTNO(PR_RF_REFUND_NO), &isnull));
		rec->refunded = DatumGetInt64(slot_getattr(slot, PR_ATTNO(PR_RF_REFUNDED_TOTAL), &isnull));
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

	found = lock_record_row(rel, PR_I_RECORD_SEQ, Int64GetDatum(seq), F_INT8EQ, -1,
							lock, slot);
	if (found)
	{
		rk->amount = DatumGetInt64(slot_getattr(slot, PR_ATTNO(PR_REC_AMOUNT), &isnull));
		rk->livemode = DatumGetBool(slot_getattr(slot, PR_ATTNO(PR_REC_LIVEMODE), &isnull));
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
chain_read(PrChainRead *r, PrTable t, PrIndex index, int64 record_seq, int32 n)
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
	bool		found = chain_read(&r, PR_T_ATTEMPT, PR_I_ATTEMPT_CHAIN,
								   record_seq, n);

	if (found)
	{
		out->status = pr_status_from_text(slot_text(r.slot, PR_ATT_STATUS));
		out->attempt = DatumGetInt32(slot_getattr(r.slot, PR_ATTNO(PR_ATT_ATTEMPT), &isnull));
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
	bool		found = chain_read(&r, PR_T_REFUND, PR_I_REFUND_CHAIN, record_seq, refund_no);

	if (found)
		*total = DatumGetInt64(slot_getattr(r.slot, PR_ATTNO(PR_RF_REFUNDED_TOTAL), &isnull));
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
	Relation	idx = pr_index_open(PR_I_RECORD_ID, rel, AccessShareLock);
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
		DatumGetBool(slot_getattr(slot, PR_ATTNO(PR_REC_LIVEMODE), &isnull)) == livemode;
	index_endscan(scan);
	UnregisterSnapshot(snap);
	ExecDropSingleTupleTableSlot(slot);
	index_close(idx, AccessShareLock);
	table_close(rel, AccessShareLock);
	return found;
}

/* Delete up to batch keys created before cutoff; returns how many. */
