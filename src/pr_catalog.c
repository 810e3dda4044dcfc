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
 * here, once per session: when pr_table_relid() first resolves a table
 * (and again after any invalidation), its columns must be those of
 * pr_layout.h, in that order and of those types, or the call fails with
 * 55000 (object_not_in_prerequisite_state) naming the column.  This is
 * the one layout check; everything that reads or writes the tables by
 * column number relies on it.
 *
 * The SQL statements of the data layer (pr_spi.c) name the schema as
 * text; before any of them runs, pr_ext_namespace() has checked that the
 * schema called "payment_records" is the extension's own, so the text
 * resolves to the
 * objects checked here.  Only a superuser can rename that schema (the
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
#include "catalog/pg_class.h"
#include "catalog/pg_extension.h"
#include "catalog/pg_proc.h"
#include "catalog/pg_type.h"
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

/*
 * The table must have the columns of pr_layout.h, in that order and of
 * those types: the data layer and the triggers address columns by number.
 * A table altered outside the install and update scripts is refused with
 * 55000 rather than read or written wrongly.
 */
static void
check_layout(PrTable t, Relation rel)
{
	const PrTableLayout *l = &pr_layout[t];
	TupleDesc	desc = RelationGetDescr(rel);
	int			i;

	if (desc->natts != l->natts)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("table \"%s\" has %d columns, payment_records expects %d",
						l->name, desc->natts, l->natts),
				 errhint("The table was altered outside the extension's install and update scripts; undo the change."),
				 errtable(rel)));
	for (i = 0; i < desc->natts; i++)
	{
		Form_pg_attribute att = TupleDescAttr(desc, i);
		const PrColumn *want = &l->atts[i];

		if (att->attisdropped || strcmp(NameStr(att->attname), want->name) != 0 ||
			att->atttypid != want->type)
			ereport(ERROR,
					(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
					 errmsg("column %d of table \"%s\" is not \"%s\" of type %s",
							i + 1, l->name, want->name, format_type_be(want->type)),
					 errhint("The table was altered outside the extension's install and update scripts; undo the change."),
					 errtable(rel)));
	}
}

/*
 * The OID of one of the laid-out tables, its layout checked (see the file
 * header) the first time in a session and after any invalidation; later
 * calls cost an array lookup.
 */
Oid
pr_table_relid(PrTable t)
{
	uint64		gen = generation;
	Oid			oid;
	Relation	rel;

	if (table_gen[t] == gen && OidIsValid(table_oid[t]))
		return table_oid[t];
	oid = pr_relid(pr_layout[t].name);
	rel = table_open(oid, AccessShareLock);
	check_layout(t, rel);
	table_close(rel, AccessShareLock);
	/* an invalidation while checking leaves gen stale: checked again */
	table_oid[t] = oid;
	table_gen[t] = gen;
	return oid;
}

/* The OID of the serial sequence of a laid-out table that has one. */
Oid
pr_serial_relid(PrTable t)
{
	Assert(pr_layout[t].serial != NULL);
	return pr_relid(pr_layout[t].serial);
}

/* The OID of one of the indexes of pr_layout.h (a member table's). */
Oid
pr_index_relid(PrIndex i)
{
	if (index_gen[i] != generation || !OidIsValid(index_oid[i]))
	{
		uint64		gen = generation;
		Oid			oid = pr_relid(pr_index_name[i]);

		index_oid[i] = oid;
		index_gen[i] = gen;
	}
	return index_oid[i];
}

/* Open one of the laid-out tables (its layout checked, see above). */
Relation
pr_table_open(PrTable t, LOCKMODE mode)
{
	return table_open(pr_table_relid(t), mode);
}
