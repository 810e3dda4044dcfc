/*-------------------------------------------------------------------------
 * pr_insert.c
 *		Row inserts without an SQL statement (see pr_insert.h).
 *
 * A batch is one EState, like one INSERT statement's: rows inserted into
 * it queue their AFTER ROW triggers (record_check, attempt_check, the
 * foreign keys), and pr_insert_end fires them, as the end of a statement
 * does.  An error anywhere aborts the (sub)transaction, which releases
 * what the batch opened, as it would for a statement.
 *
 * Relation OIDs are looked up once per backend and forgotten whenever the
 * relcache invalidates any of them (DROP EXTENSION, for one).
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "pr_compat.h"

#include "access/table.h"
#include "access/tableam.h"
#include "catalog/namespace.h"
#include "catalog/pg_type.h"
#include "commands/sequence.h"
#include "commands/trigger.h"
#include "executor/executor.h"
#include "miscadmin.h"
#include "nodes/makefuncs.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/inval.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"

#include "pr_insert.h"

#define PR_SCHEMA "payment_records"

/* The directly written tables, their serial sequences, columns and types. */
typedef struct PrColumn
{
	const char *name;
	Oid			type;
} PrColumn;

static const struct
{
	const char *table;
	const char *serial;			/* sequence of the serial column */
	int			natts;
	const PrColumn *atts;
}			tables[PR_T_COUNT] = {
	[PR_T_RECORD] = {"payment_record", "payment_record_seq_seq", PR_REC_NATTS,
		(const PrColumn[]) {{"id", TEXTOID}, {"livemode", BOOLOID}, {"currency", TEXTOID},
			{"seq", INT8OID}, {"created", TIMESTAMPTZOID}, {"amount", INT8OID}}},
	[PR_T_ATTEMPT] = {"payment_attempt_record", NULL, PR_ATT_NATTS,
		(const PrColumn[]) {{"record_seq", INT8OID}, {"created", TIMESTAMPTZOID},
			{"initiated_at", TIMESTAMPTZOID}, {"guaranteed_at", TIMESTAMPTZOID},
			{"failed_at", TIMESTAMPTZOID}, {"canceled_at", TIMESTAMPTZOID},
			{"attempt", INT4OID}, {"id", TEXTOID}, {"status", TEXTOID},
			{"customer_presence", TEXTOID}, {"description", TEXTOID},
			{"customer_details", JSONBOID}, {"metadata", JSONBOID},
			{"payment_method_details", JSONBOID}, {"processor_details", JSONBOID},
		{"shipping_details", JSONBOID}}},
	[PR_T_EVENT] = {"event", "event_id_seq", PR_EV_NATTS,
		(const PrColumn[]) {{"id", INT8OID}, {"type", TEXTOID}, {"livemode", BOOLOID},
		{"object", JSONBOID}, {"created", TIMESTAMPTZOID}}},
	[PR_T_REFUND] = {"refund", NULL, PR_RF_NATTS,
		(const PrColumn[]) {{"record_seq", INT8OID}, {"amount", INT8OID},
			{"refunded_total", INT8OID}, {"initiated_at", TIMESTAMPTZOID},
			{"refunded_at", TIMESTAMPTZOID}, {"created", TIMESTAMPTZOID},
			{"refund_no", INT4OID}, {"livemode", BOOLOID}, {"refund_reference", TEXTOID},
		{"metadata", JSONBOID}}},
};

/* name -> OID, filled on first use */
#define PR_RELID_CACHE 16
static struct
{
	const char *name;			/* a string constant of the caller's */
	Oid			oid;
}			relids[PR_RELID_CACHE];
static int	n_relids = 0;
static bool layout_checked[PR_T_COUNT];

struct PrInsertBatch
{
	EState	   *estate;
	ResultRelInfo *rri[PR_T_COUNT];
	TupleTableSlot *slot[PR_T_COUNT];
};

static void
forget_relids(Datum arg, Oid relid)
{
	int			i;

	for (i = 0; i < n_relids; i++)
		if (relid == InvalidOid || relids[i].oid == relid)
		{
			n_relids = 0;
			memset(layout_checked, 0, sizeof(layout_checked));
			return;
		}
}

void
pr_insert_init(void)
{
	CacheRegisterRelcacheCallback(forget_relids, (Datum) 0);
}

/* The OID of one of the extension's relations, by name. */
Oid
pr_relid(const char *name)
{
	int			i;
	Oid			oid;

	for (i = 0; i < n_relids; i++)
		if (relids[i].name == name || strcmp(relids[i].name, name) == 0)
			return relids[i].oid;
	oid = get_relname_relid(name, get_namespace_oid(PR_SCHEMA, false));
	if (!OidIsValid(oid))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_TABLE),
				 errmsg("relation \"%s.%s\" does not exist", PR_SCHEMA, name),
				 errhint("Is the payment_records extension installed?")));
	if (n_relids < PR_RELID_CACHE)
	{
		relids[n_relids].name = name;
		relids[n_relids].oid = oid;
		n_relids++;
	}
	return oid;
}

/* nextval() of a table's serial column, with nextval's permission check. */
int64
pr_next_serial(PrTable t)
{
	Assert(tables[t].serial != NULL);
	return nextval_internal(pr_relid(tables[t].serial), true);
}

/* The table must have the columns this file writes, in this order. */
static void
check_layout(PrTable t, Relation rel)
{
	TupleDesc	desc = RelationGetDescr(rel);
	int			i;

	if (desc->natts != tables[t].natts)
		elog(ERROR, "table \"%s\" has %d columns, payment_records expects %d",
			 tables[t].table, desc->natts, tables[t].natts);
	for (i = 0; i < desc->natts; i++)
	{
		Form_pg_attribute att = TupleDescAttr(desc, i);
		const PrColumn *want = &tables[t].atts[i];

		if (att->attisdropped || strcmp(NameStr(att->attname), want->name) != 0 ||
			att->atttypid != want->type)
			elog(ERROR, "column %d of table \"%s\" is not \"%s\" of type %s",
				 i + 1, tables[t].table, want->name, format_type_be(want->type));
	}
	layout_checked[t] = true;
}

PrInsertBatch *
pr_insert_begin(void)
{
	PrInsertBatch *b = palloc0(sizeof(PrInsertBatch));

	b->estate = CreateExecutorState();
	b->estate->es_output_cid = GetCurrentCommandId(true);
	AfterTriggerBeginQuery();
	return b;
}

/*
 * The batch's rows skip the foreign-key check triggers, and only those.
 * Every row written here references a record that exists and cannot go
 * away: a first attempt's record is inserted in the same batch; later
 * attempts and refunds are written under the record's row lock (FOR NO
 * KEY UPDATE, stronger than the FOR KEY SHARE the check would take); and
 * records are never deleted (record_check).  The check would prove that
 * again with an SQL query per row -- a sixth of report_payment's CPU.
 * PostgreSQL skips such checks itself where it can tell they hold
 * (RI_FKey_fk_upd_check_required), and logical replication skips them
 * altogether.  The constraints stay, checked for every other writer; the
 * extension's own constraint triggers still run on these rows.
 */
static void
skip_fk_checks(ResultRelInfo *rri)
{
	TriggerDesc *td = rri->ri_TrigDesc;
	int			i,
				kept = 0;

	if (td == NULL)
		return;
	for (i = 0; i < td->numtriggers; i++)
		if (RI_FKey_trigger_type(td->triggers[i].tgfoid) != RI_TRIGGER_FK)
			td->triggers[kept++] = td->triggers[i];
	td->numtriggers = kept;
}

/* Open one of the tables, checking its layout once per session. */
Relation
pr_table_open(PrTable t, LOCKMODE mode)
{
	Relation	rel = table_open(pr_relid(tables[t].table), mode);

	if (!layout_checked[t])
		check_layout(t, rel);
	return rel;
}

/* Open a table for the batch, as ExecInitModifyTable would. */
static void
open_table(PrInsertBatch *b, PrTable t)
{
	Relation	rel = pr_table_open(t, RowExclusiveLock);
	ResultRelInfo *rri = makeNode(ResultRelInfo);
	AclResult	aclresult;
	/* the function owner's right to insert, as the executor checks it */
	aclresult = pg_class_aclcheck(RelationGetRelid(rel), GetUserId(), ACL_INSERT);
	if (aclresult != ACLCHECK_OK)
		aclcheck_error(aclresult, OBJECT_TABLE, RelationGetRelationName(rel));

	InitResultRelInfo(rri, rel, 0, NULL, 0);
	skip_fk_checks(rri);		/* a private copy of the relation's triggers */
	ExecOpenIndices(rri, false);
	/* where AfterTriggerEndQuery looks for the relation of each event */
	b->estate->es_opened_result_relations =
		lappend(b->estate->es_opened_result_relations, rri);
	b->rri[t] = rri;
	b->slot[t] = ExecInitExtraTupleSlot(b->estate, RelationGetDescr(rel),
										table_slot_callbacks(rel));
}

/*
 * Insert one row: NOT NULL and CHECK constraints, heap tuple, index
 * entries (unique violations raise as for any INSERT), AFTER ROW triggers
 * queued.
 */
void
pr_insert_row(PrInsertBatch *b, PrTable t, Datum *values, bool *isnull)
{
	TupleTableSlot *slot;
	int			natts = tables[t].natts;

	if (b->rri[t] == NULL)
		open_table(b, t);
	slot = b->slot[t];
	ExecClearTuple(slot);
	memcpy(slot->tts_values, values, natts * sizeof(Datum));
	memcpy(slot->tts_isnull, isnull, natts * sizeof(bool));
	ExecStoreVirtualTuple(slot);
	ExecSimpleRelationInsert(b->rri[t], b->estate, slot);
}

/* Fire the queued AFTER triggers and release the batch. */
void
pr_insert_end(PrInsertBatch *b)
{
	int			t;

	AfterTriggerEndQuery(b->estate);
	for (t = 0; t < PR_T_COUNT; t++)
		if (b->rri[t] != NULL)
		{
			ExecCloseIndices(b->rri[t]);
			/* the lock is kept to the end of the transaction */
			table_close(b->rri[t]->ri_RelationDesc, NoLock);
		}
	ExecResetTupleTable(b->estate->es_tupleTable, false);
	FreeExecutorState(b->estate);
	pfree(b);
}
