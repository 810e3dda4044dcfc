/*-------------------------------------------------------------------------
 * pr_catalog.c
 *		The extension's own objects, found by OID.
 *
 * Nothing here trusts a name as it stands at run time.  The extension is
 * found in pg_extension, its schema is pg_extension.extnamespace (an
 * OID), and a table, index or function is accepted only if pg_depend
 * says it belongs to this extension (an index: its table does).  A
 * schema of the same name planted elsewhere, a renamed schema, or a
 * look-alike object put into the schema is never used: the lookup fails
 * with a clear error instead.
 *
 * The tables whose layout C knows (pr_layout.h) are checked against it
 * here, once per session: when a table is first opened or locked (and
 * again after any invalidation), its columns must be those of
 * pr_layout.h, in that order and of those types, or the call fails with
 * 55000 (object_not_in_prerequisite_state) naming the column.  The check
 * is made on the table as it is under the caller's lock: taking the lock
 * is what makes a session see another session's committed ALTER TABLE.
 * This is the one layout check; everything that reads or writes the
 * tables by column number relies on it.  The indexes that pr_scan.c
 * probes are checked the same way against their description in
 * pr_layout.c (columns, types, operator classes, order, uniqueness).
 *
 * The SQL statements of the data layer (pr_spi.c) name the schema as
 * text; before any of them runs, pr_ext_namespace() has checked that the
 * schema called "payment_records" is the extension's own, so the text
 * resolves to the objects checked here, and the tables each statement
 * names are locked and checked (pr_tables_lock).  Only a superuser can rename that schema (the
 * install script refuses a schema the extension did not create itself).
 *
 * Everything is cached per backend and forgotten on any relcache or
 * namespace invalidation that may concern it (DROP EXTENSION, ALTER
 * SCHEMA ... RENAME).
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/genam.h"
#include "access/htup_details.h"
#include "access/table.h"
#include "storage/lmgr.h"
#include "catalog/dependency.h"
#include "catalog/index.h"
#include "catalog/indexing.h"
#include "catalog/namespace.h"
#include "catalog/pg_am.h"
#include "catalog/pg_class.h"
#include "catalog/pg_collation.h"
#include "catalog/pg_index.h"
#include "catalog/pg_extension.h"
#include "catalog/pg_proc.h"
#include "catalog/pg_type.h"
#include "commands/defrem.h"
#include "commands/extension.h"
#include "parser/parse_func.h"
#include "utils/fmgroids.h"
#include "utils/inval.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"
#include "utils/syscache.h"

#include "pr_catalog.h"
#include "pr_layout.h"

#define PR_RELID_CACHE 24

static Oid	ext_oid = InvalidOid;
static Oid	ext_nsp = InvalidOid;
static Oid	ext_owner = InvalidOid;
static struct
{
	const char *name;			/* a string constant of the caller's */
	Oid			oid;
}			relids[PR_RELID_CACHE];
static int	n_relids = 0;
static uint64 generation = 1;

/* OIDs of the laid-out tables and the indexes, valid at generation *_gen */
static Oid	table_oid[PR_T_COUNT];
static uint64 table_gen[PR_T_COUNT];
static Oid	index_oid[PR_I_COUNT];
static uint64 index_gen[PR_I_COUNT];
static bool callbacks_registered = false;

/* Forget everything: some cached object may have changed. */
static void
forget_all(void)
{
	ext_oid = InvalidOid;
	ext_nsp = InvalidOid;
	ext_owner = InvalidOid;
	n_relids = 0;
	generation++;
}

/* Relcache callback: forget if one of ours (or everything) changed. */
static void
relcache_changed(Datum arg, Oid relid)
{
	int			i;

	if (relid == InvalidOid)
	{
		forget_all();
		return;
	}
	for (i = 0; i < n_relids; i++)
		if (relids[i].oid == relid)
		{
			forget_all();
			return;
		}
	/* the checked tables and indexes, even if the name cache was full */
	for (i = 0; i < PR_T_COUNT; i++)
		if (table_oid[i] == relid)
		{
			forget_all();
			return;
		}
	for (i = 0; i < PR_I_COUNT; i++)
		if (index_oid[i] == relid)
		{
			forget_all();
			return;
		}
}

/* Syscache callback (namespaces, extensions' schemas): forget. */
static void
syscache_changed(Datum arg, int cacheid, uint32 hashvalue)
{
	forget_all();
}

/* Register the invalidation callbacks once per backend (from _PG_init). */
void
pr_catalog_init(void)
{
	if (callbacks_registered)
		return;
	CacheRegisterRelcacheCallback(relcache_changed, (Datum) 0);
	CacheRegisterSyscacheCallback(NAMESPACEOID, syscache_changed, (Datum) 0);
	callbacks_registered = true;
}

/*
 * Read this extension's row of pg_extension: its OID, schema and owner.
 * Not found is the usual "extension does not exist" error.
 */
static void
load_extension(void)
{
	Relation	rel;
	ScanKeyData key;
	SysScanDesc scan;
	HeapTuple	tup;
	Oid			oid = get_extension_oid(PR_EXTENSION_NAME, false);
	char	   *nspname;

	rel = table_open(ExtensionRelationId, AccessShareLock);
	ScanKeyInit(&key, Anum_pg_extension_oid, BTEqualStrategyNumber, F_OIDEQ,
				ObjectIdGetDatum(oid));
	scan = systable_beginscan(rel, ExtensionOidIndexId, true, NULL, 1, &key);
	tup = systable_getnext(scan);
	if (!HeapTupleIsValid(tup))
		elog(ERROR, "extension %u has no pg_extension row", oid);
	ext_nsp = ((Form_pg_extension) GETSTRUCT(tup))->extnamespace;
	ext_owner = ((Form_pg_extension) GETSTRUCT(tup))->extowner;
	systable_endscan(scan);
	table_close(rel, AccessShareLock);

	nspname = get_namespace_name(ext_nsp);
	if (nspname == NULL || strcmp(nspname, PR_SCHEMA_NAME) != 0)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("the schema of extension \"%s\" is not named \"%s\"",
						PR_EXTENSION_NAME, PR_SCHEMA_NAME),
				 errhint("Rename schema \"%s\" back to \"%s\".",
						 nspname ? nspname : "?", PR_SCHEMA_NAME)));
	ext_oid = oid;
}

/* The extension's OID. */
Oid
pr_ext_oid(void)
{
	if (!OidIsValid(ext_oid))
		load_extension();
	return ext_oid;
}

/* The OID of the extension's schema (checked to be named payment_records). */
Oid
pr_ext_namespace(void)
{
	if (!OidIsValid(ext_oid))
		load_extension();
	return ext_nsp;
}

/* The role that owns the extension (and its tables and functions). */
Oid
pr_ext_owner(void)
{
	if (!OidIsValid(ext_oid))
		load_extension();
	return ext_owner;
}

/* Is this object a member of the extension? */
static bool
is_member(Oid classid, Oid objid)
{
	return getExtensionOfObject(classid, objid) == pr_ext_oid();
}

/*
 * The OID of one of the extension's relations by its name in the
 * extension's schema: a table, sequence or view that is a member, or an
 * index of a member table.  Anything else is an error.
 */
Oid
pr_relid(const char *name)
{
	int			i;
	Oid			oid;
	Oid			owner;

	for (i = 0; i < n_relids; i++)
		if (relids[i].name == name || strcmp(relids[i].name, name) == 0)
			return relids[i].oid;

	oid = get_relname_relid(name, pr_ext_namespace());
	if (!OidIsValid(oid))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_TABLE),
				 errmsg("relation \"%s.%s\" does not exist", PR_SCHEMA_NAME, name),
				 errhint("Is the payment_records extension installed?")));
	owner = get_rel_relkind(oid) == RELKIND_INDEX ? IndexGetRelation(oid, false) : oid;
	if (!is_member(RelationRelationId, owner))
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("relation \"%s.%s\" is not part of extension \"%s\"",
						PR_SCHEMA_NAME, name, PR_EXTENSION_NAME)));
	if (n_relids < PR_RELID_CACHE)
	{
		relids[n_relids].name = name;
		relids[n_relids].oid = oid;
		n_relids++;
	}
	return oid;
}

/*
 * The OID of one of the extension's functions, by name and argument
 * types, in the extension's schema; it must be a member.
 */
Oid
pr_funcid(const char *name, int nargs, const Oid *argtypes)
{
	List	   *qname = list_make2(makeString(get_namespace_name(pr_ext_namespace())),
								   makeString(pstrdup(name)));
	Oid			oid = LookupFuncName(qname, nargs, argtypes, false);

	if (get_func_namespace(oid) != pr_ext_namespace() || !is_member(ProcedureRelationId, oid))
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("function \"%s.%s\" is not part of extension \"%s\"",
						PR_SCHEMA_NAME, name, PR_EXTENSION_NAME)));
	return oid;
}

/* the hint of a table altered outside the scripts, when the change can be undone */
#define HINT_UNDO "The table was altered outside the extension's install and update scripts; undo the change."

/*
 * The table must have the columns of pr_layout.h, in that order and of
 * those types: the data layer and the triggers address columns by number.
 * A table altered outside the install and update scripts is refused with
 * 55000 rather than read or written wrongly.  A dropped column stays in
 * the table (attisdropped), and the positional writes do not skip it:
 * such a table is refused too, for good, with a hint on how to recover
 * (README, Limits), since the change cannot be undone in place.
 */
static void
check_layout(PrTable t, Relation rel)
{
	const PrTableLayout *l = &pr_layout[t];
	TupleDesc	desc = RelationGetDescr(rel);
	int			i;

	for (i = 0; i < desc->natts; i++)
		if (TupleDescAttr(desc, i)->attisdropped)
			ereport(ERROR,
					(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
					 errmsg("table \"%s\" has a dropped column, which payment_records cannot write around",
							l->name),
					 errdetail("Column %d was dropped; a dropped column stays in the table.", i + 1),
					 errhint("Dump the database and restore it into a new one, which creates the extension's tables afresh (see Limits in the README)."),
					 errtable(rel)));
	if (desc->natts != l->natts)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("table \"%s\" has %d columns, payment_records expects %d",
						l->name, desc->natts, l->natts),
				 errhint("The table was altered outside the extension's install and update scripts. An added column cannot be dropped again without leaving a dropped column behind: see Limits in the README for how to recover."),
				 errtable(rel)));
	for (i = 0; i < desc->natts; i++)
	{
		Form_pg_attribute att = TupleDescAttr(desc, i);
		const PrColumn *want = &l->atts[i];

		if (strcmp(NameStr(att->attname), want->name) != 0 || att->atttypid != want->type)
			ereport(ERROR,
					(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
					 errmsg("column %d of table \"%s\" is not \"%s\" of type %s",
							i + 1, l->name, want->name, format_type_be(want->type)),
					 errhint(HINT_UNDO),
					 errtable(rel)));
	}
}

/*
 * Lock laid-out table t in mode and return its OID, its layout checked on
 * the table as it is under that lock.  Taking a lock is what makes a
 * session see another's committed ALTER TABLE (the invalidation arrives
 * then, and moves the generation on), so the check cached for the current
 * generation is trusted only if the generation did not move while the
 * lock was taken; else the name is resolved again under the lock (it may
 * now be another table) and the table checked again.  The usual cost: one
 * lock taken (or found held) and a comparison.  The lock is the caller's,
 * released as the caller releases it.
 */
static Oid
lock_checked(PrTable t, LOCKMODE mode)
{
	Oid			oid = table_gen[t] == generation ? table_oid[t] : InvalidOid;

	for (;;)
	{
		uint64		gen;
		Relation	rel;

		if (!OidIsValid(oid))
			oid = pr_relid(pr_layout[t].name);
		LockRelationOid(oid, mode);
		gen = generation;
		if (table_oid[t] == oid && table_gen[t] == gen)
			return oid;
		if (pr_relid(pr_layout[t].name) != oid)
		{
			/* re-created while we waited: start again with the new one */
			UnlockRelationOid(oid, mode);
			oid = InvalidOid;
			continue;
		}
		rel = table_open(oid, NoLock);
		check_layout(t, rel);
		table_close(rel, NoLock);
		/* a later invalidation leaves gen stale: checked again next time */
		table_oid[t] = oid;
		table_gen[t] = gen;
		return oid;
	}
}

/*
 * The OID of one of the laid-out tables, its layout checked (see the file
 * header) the first time in a session and after any invalidation; later
 * calls cost an array lookup.  The check locks the table and releases
 * that lock after (one held before stays held): whoever opens the table
 * later does so with pr_table_open, which checks again under its own lock.
 */
Oid
pr_table_relid(PrTable t)
{
	Oid			oid;

	if (table_gen[t] == generation && OidIsValid(table_oid[t]))
		return table_oid[t];
	oid = lock_checked(t, AccessShareLock);
	UnlockRelationOid(oid, AccessShareLock);
	return oid;
}

/*
 * Lock the laid-out tables of the set (bits PR_TABLE_BIT(t)) in mode, each
 * checked under its lock (lock_checked): for an SQL statement about to
 * run on them, so that it never runs on a table of another layout and its
 * own locks find those held (the lock stays to the end of the
 * transaction, as the statement's would).
 */
void
pr_tables_lock(uint32 tables, LOCKMODE mode)
{
	int			t;

	for (t = 0; t < PR_T_COUNT; t++)
		if (tables & PR_TABLE_BIT(t))
			(void) lock_checked(t, mode);
}

/* The OID of the serial sequence of a laid-out table that has one. */
Oid
pr_serial_relid(PrTable t)
{
	Assert(pr_layout[t].serial != NULL);
	return pr_relid(pr_layout[t].serial);
}

/*
 * The OID of one of the indexes of pr_layout.h (a member table's), by its
 * name, for naming it (an error's constraint, say); its shape is not
 * checked: an index that is scanned is opened with pr_index_open.
 */
Oid
pr_index_relid(PrIndex i)
{
	return pr_relid(pr_index_layout[i].name);
}

/* the hint of an index that is not the install script's */
#define HINT_INDEX "The index was changed outside the extension's install and update scripts; create it again as the install script defines it."

/* Refuse index i (open as idx): detail says how it differs. */
static void
index_error(PrIndex i, Relation idx, const char *detail)
{
	const PrIndexLayout *l = &pr_index_layout[i];

	ereport(ERROR,
			(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
			 errmsg("index \"%s\" of table \"%s\" is not the one payment_records expects",
					l->name, pr_layout[l->table].name),
			 errdetail_internal("%s", detail),
			 errhint(HINT_INDEX)));
}

/*
 * The index must be what pr_layout.h describes (see PrIndexLayout) and
 * what the scans of pr_scan.c assume: their scan keys are of the key
 * columns' types, compared with those types' default btree operators in
 * collation "C" (text), they read the newest row of a chain by scanning
 * backwards, and they take the first row found as the only one.  An
 * index that differs would make them crash or answer wrongly: 55000.
 */
static void
check_index(PrIndex i, Relation idx, Oid heap_oid)
{
	const PrIndexLayout *l = &pr_index_layout[i];
	const PrTableLayout *tl = &pr_layout[l->table];
	Form_pg_index ind = idx->rd_index;
	int			k;

	if (ind->indrelid != heap_oid)
		index_error(i, idx, psprintf("It is not an index of table \"%s\".", tl->name));
	if (idx->rd_rel->relam != BTREE_AM_OID)
		index_error(i, idx, "It is not a btree index.");
	if (ind->indnatts != l->nkeys || ind->indnkeyatts != l->nkeys)
		index_error(i, idx, psprintf("It has %d columns, payment_records expects %d.",
									 ind->indnatts, l->nkeys));
	for (k = 0; k < l->nkeys; k++)
	{
		const PrColumn *col = &tl->atts[l->keys[k]];
		Oid			opclass = GetDefaultOpClass(col->type, BTREE_AM_OID);
		Oid			collation = type_is_collatable(col->type) ? C_COLLATION_OID : InvalidOid;

		if (ind->indkey.values[k] != PR_ATTNO(l->keys[k]))
			index_error(i, idx, psprintf("Its column %d is not column \"%s\" of the table.",
										 k + 1, col->name));
		if (!OidIsValid(opclass) || idx->rd_opfamily[k] != get_opclass_family(opclass) ||
			idx->rd_opcintype[k] != col->type || idx->rd_indcollation[k] != collation ||
			idx->rd_indoption[k] != 0)
			index_error(i, idx, psprintf("Its column %d (\"%s\") is not in ascending order with the default operator class of type %s%s.",
										 k + 1, col->name, format_type_be(col->type),
										 OidIsValid(collation) ? " and collation \"C\"" : ""));
	}
	if (!heap_attisnull(idx->rd_indextuple, Anum_pg_index_indexprs, NULL))
		index_error(i, idx, "It has an expression.");
	if (!heap_attisnull(idx->rd_indextuple, Anum_pg_index_indpred, NULL))
		index_error(i, idx, "It is a partial index.");
	if (!ind->indisunique)
		index_error(i, idx, "It is not unique.");
	if (!ind->indimmediate)
		index_error(i, idx, "Its uniqueness is checked at the end of the transaction, not immediately.");
	if (!ind->indisvalid || !ind->indisready || !ind->indislive)
		index_error(i, idx, "It is not valid (a concurrent build or drop failed or is in progress).");
}

/*
 * Open one of the indexes of pr_layout.h, of its table heap (opened by
 * the caller, with its lock), and lock it in mode.  It is found by name,
 * and checked (check_index) the first time in a session and after any
 * invalidation, on the index as it is under the lock; later calls cost
 * the open and a comparison.  Missing, it is refused with 55000 too.
 */
Relation
pr_index_open(PrIndex i, Relation heap, LOCKMODE mode)
{
	const PrIndexLayout *l = &pr_index_layout[i];
	Oid			oid = index_gen[i] == generation ? index_oid[i] : InvalidOid;

	Assert(l->nkeys > 0);		/* only a described index is scanned */
	for (;;)
	{
		uint64		gen;
		Relation	idx;

		if (!OidIsValid(oid))
		{
			if (!OidIsValid(get_relname_relid(l->name, pr_ext_namespace())))
				ereport(ERROR,
						(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
						 errmsg("index \"%s\" of table \"%s\" does not exist",
								l->name, pr_layout[l->table].name),
						 errhint(HINT_INDEX)));
			oid = pr_relid(l->name);
		}
		LockRelationOid(oid, mode);
		gen = generation;
		if (index_oid[i] == oid && index_gen[i] == gen)
		{
			idx = index_open(oid, NoLock);
			/* the table is the caller's: cheap, checked every time */
			if (idx->rd_index->indrelid != RelationGetRelid(heap))
				check_index(i, idx, RelationGetRelid(heap));
			return idx;
		}
		if (!OidIsValid(get_relname_relid(l->name, pr_ext_namespace())) ||
			pr_relid(l->name) != oid)
		{
			/* dropped or re-created while we waited: look again */
			UnlockRelationOid(oid, mode);
			oid = InvalidOid;
			continue;
		}
		if (get_rel_relkind(oid) != RELKIND_INDEX)
			ereport(ERROR,
					(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
					 errmsg("relation \"%s\" of payment_records is not an index", l->name),
					 errhint(HINT_INDEX)));
		idx = index_open(oid, NoLock);
		check_index(i, idx, RelationGetRelid(heap));
		index_oid[i] = oid;
		index_gen[i] = gen;
		return idx;
	}
}

/*
 * Open one of the laid-out tables with a lock of mode, its layout checked
 * on the table as it is under that lock (see lock_checked).
 */
Relation
pr_table_open(PrTable t, LOCKMODE mode)
{
	return table_open(lock_checked(t, mode), NoLock);
}
