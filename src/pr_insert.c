/*-------------------------------------------------------------------------
 * pr_insert.c
 *		Row inserts without an SQL statement (see pr_insert.h).
 *
 * A batch is one EState, like one INSERT statement's, modelled on logical
 * replication's apply worker (create_edata_for_relation): a range table
 * of the extension's tables, each opened on first use with its privilege
 * and row-level security checked and its BEFORE STATEMENT triggers fired;
 * rows inserted into it queue their AFTER ROW triggers (record_check,
 * attempt_check, refund_check, the foreign keys: none is skipped), and
 * pr_insert_end fires the AFTER STATEMENT and then all queued triggers,
 * as the end of a statement does.  An error anywhere aborts the
 * (sub)transaction, which releases what the batch opened, as it would
 * for a statement.  Relations are found by OID, their layout checked,
 * by pr_catalog.c; the columns are pr_layout.h's.
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
#include "utils/lsyscache.h"
#include "utils/rel.h"
#include "utils/rls.h"

#include "pr_catalog.h"
#include "pr_insert.h"
#include "pr_shard.h"

struct PrInsertBatch
{
	EState	   *estate;
	ResultRelInfo *rri[PR_T_DIRECT_COUNT];
	TupleTableSlot *slot[PR_T_DIRECT_COUNT];
};

/*
 * nextval() of a table's serial column, with nextval's permission check,
 * made the node's serial key (n * 4096 + shard on a sharded node).
 */
int64
pr_next_serial(PrTable t)
{
	return pr_shard_serial(nextval_internal(pr_serial_relid(t), true));
}

/*
 * Start a batch: an executor state with a range table holding every
 * table of the extension, each needing INSERT (range table index t + 1),
 * and an AFTER trigger query level, as ExecutorStart gives an INSERT.
 */
PrInsertBatch *
pr_insert_begin(void)
{
	PrInsertBatch *b = palloc0(sizeof(PrInsertBatch));
	List	   *rtable = NIL;
	List	   *perminfos = NIL;
	int			t;

	b->estate = CreateExecutorState();
	for (t = 0; t < PR_T_DIRECT_COUNT; t++)
	{
		RangeTblEntry *rte = makeNode(RangeTblEntry);

		rte->rtekind = RTE_RELATION;
		rte->relid = pr_table_relid(t);
		rte->relkind = RELKIND_RELATION;
		rte->rellockmode = RowExclusiveLock;
		rte->inh = false;
		PR_RTE_REQUIRE_INSERT(&perminfos, rte);
		rtable = lappend(rtable, rte);
	}
	PR_EXEC_INIT_RANGE_TABLE(b->estate, rtable, perminfos);
	b->estate->es_output_cid = GetCurrentCommandId(true);
	AfterTriggerBeginQuery();
	return b;
}

/*
 * The checks an INSERT statement's executor makes on its target, as
 * logical replication's apply worker makes them (TargetPrivilegesCheck):
 * the current user (the API functions' owner) needs INSERT on the table,
 * and a table with row-level security enabled for that user is refused,
 * since no policy is evaluated here.  Statement triggers with transition
 * tables would need the rows captured, which this path does not do, so a
 * table that has them is refused too.
 */
static void
check_target(ResultRelInfo *rri)
{
	Relation	rel = rri->ri_RelationDesc;
	Oid			relid = RelationGetRelid(rel);
	AclResult	aclresult;

	aclresult = pg_class_aclcheck(relid, GetUserId(), ACL_INSERT);
	if (aclresult != ACLCHECK_OK)
		aclcheck_error(aclresult, OBJECT_TABLE, RelationGetRelationName(rel));
	if (check_enable_rls(relid, InvalidOid, false) == RLS_ENABLED)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("payment_records cannot write to table \"%s\" while row-level security is enabled on it",
						RelationGetRelationName(rel)),
				 errhint("Disable row-level security on the extension's tables.")));
	if (rri->ri_TrigDesc != NULL && rri->ri_TrigDesc->trig_insert_new_table)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("payment_records cannot write to table \"%s\": it has a trigger with a transition table",
						RelationGetRelationName(rel))));
}

/*
 * Open a table for the batch, as ExecInitModifyTable would, and fire its
 * BEFORE STATEMENT triggers (once per batch, as one INSERT statement).
 */
static void
open_table(PrInsertBatch *b, PrTable t)
{
	Relation	rel = pr_table_open(t, RowExclusiveLock);
	ResultRelInfo *rri = makeNode(ResultRelInfo);

	InitResultRelInfo(rri, rel, t + 1, NULL, 0);
	check_target(rri);
	ExecOpenIndices(rri, false);
	/* where AfterTriggerEndQuery looks for the relation of each event */
	b->estate->es_opened_result_relations =
		lappend(b->estate->es_opened_result_relations, rri);
	b->rri[t] = rri;
	b->slot[t] = ExecInitExtraTupleSlot(b->estate, RelationGetDescr(rel),
										table_slot_callbacks(rel));
	ExecBSInsertTriggers(b->estate, rri);
}

/*
 * Insert one row: NOT NULL and CHECK constraints, heap tuple, index
 * entries (unique violations raise as for any INSERT), AFTER ROW triggers
 * queued.  values and isnull hold the layout's columns; a slot of any
 * other width (a table altered under us) is refused, never half filled.
 */
void
pr_insert_row(PrInsertBatch *b, PrTable t, Datum *values, bool *isnull)
{
	TupleTableSlot *slot;
	int			natts = pr_layout[t].natts;

	if (b->rri[t] == NULL)
		open_table(b, t);
	slot = b->slot[t];
	/* a backstop: the layout was checked on the table under its lock */
	if (slot->tts_tupleDescriptor->natts != natts)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("table \"%s\" has %d columns, payment_records expects %d",
						pr_layout[t].name, slot->tts_tupleDescriptor->natts, natts),
				 errhint("The table was altered outside the extension's install and update scripts; undo the change.")));
	ExecClearTuple(slot);
	memcpy(slot->tts_values, values, natts * sizeof(Datum));
	memcpy(slot->tts_isnull, isnull, natts * sizeof(bool));
	ExecStoreVirtualTuple(slot);
	ExecSimpleRelationInsert(b->rri[t], b->estate, slot);
}

/*
 * End the batch as an INSERT statement ends: queue the AFTER STATEMENT
 * triggers, fire every queued AFTER trigger, release what was opened.
 */
void
pr_insert_end(PrInsertBatch *b)
{
	int			t;

	for (t = 0; t < PR_T_DIRECT_COUNT; t++)
		if (b->rri[t] != NULL)
			ExecASInsertTriggers(b->estate, b->rri[t], NULL);
	AfterTriggerEndQuery(b->estate);
	for (t = 0; t < PR_T_DIRECT_COUNT; t++)
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
