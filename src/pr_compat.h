/*-------------------------------------------------------------------------
 * pr_compat.h
 *		Every difference between the PostgreSQL versions payment_records
 *		builds against (15, 16, 17, 18), in one place.
 *
 * Include it right after postgres.h (headers that need it include it
 * themselves).  The rest of the code is written once, against the macros
 * below; each names the version that changed the API and what changed.
 * 15, 17 and 18 are built and tested (test/all.sh); 16 is not tested, as
 * no reachable Debian release ships it, but the guards place it on the
 * side of the version that introduced each change.
 *
 *	pg_noreturn (18 renamed pg_attribute_noreturn() and moved it)
 *		Write `pg_noreturn extern void f(...);` -- BEFORE the declaration,
 *		as 18 requires (C11 _Noreturn is a function specifier).  Before 18
 *		it is defined here as pg_attribute_noreturn(), i.e.
 *		__attribute__((noreturn)) with gcc and clang, which may also stand
 *		first.
 *
 *	PR_PROC_ACLCHECK(funcoid, roleid, mode) (16 replaced pg_proc_aclcheck
 *		by object_aclcheck(ProcedureRelationId, ...); 17 no longer has it)
 *		The caller includes catalog/pg_proc.h (ProcedureRelationId) and
 *		utils/acl.h, as it would anyway.
 *
 *	PR_INDEX_BEGINSCAN(heap, index, snapshot, nkeys, norderbys) (18 added
 *		an IndexScanInstrumentation * argument after the snapshot; NULL:
 *		no instrumentation, as for any scan outside EXPLAIN ANALYZE)
 *
 *	PR_MYPROC_LXID (17 moved PGPROC's lxid into vxid: MyProc->vxid.lxid)
 *		The current top-level transaction's local id, as an lvalue-free
 *		expression.
 *
 *	PR_EXEC_INIT_RANGE_TABLE(estate, rtable, perminfos)
 *		ExecInitRangeTable as of 16 (range table and the list of
 *		RTEPermissionInfo); on 15 the permission list does not exist
 *		(permissions live in the RangeTblEntry) and is ignored -- pass NIL
 *		or anything; on 18 the 4th argument, the range table indexes not
 *		pruned away, is every index of the range table (1..length), which
 *		is what a plan without partition pruning has (logical replication
 *		passes bms_make_singleton(1) for its one-relation range table).
 *		The caller includes executor/executor.h.
 *-------------------------------------------------------------------------
 */
#ifndef PR_COMPAT_H
#define PR_COMPAT_H

#if PG_VERSION_NUM < 150000
#error "payment_records needs PostgreSQL 15 or later"
#endif

#if PG_VERSION_NUM >= 180000
#include "nodes/bitmapset.h"
#include "nodes/pg_list.h"
#endif

/* 18: pg_noreturn, placed before the declaration */
#ifndef pg_noreturn
#define pg_noreturn pg_attribute_noreturn()
#endif

/* 16: object_aclcheck(classid, ...); 17 removed pg_proc_aclcheck */
#if PG_VERSION_NUM >= 160000
#define PR_PROC_ACLCHECK(funcoid, roleid, mode) \
	object_aclcheck(ProcedureRelationId, (funcoid), (roleid), (mode))
#else
#define PR_PROC_ACLCHECK(funcoid, roleid, mode) \
	pg_proc_aclcheck((funcoid), (roleid), (mode))
#endif

/* 18: index_beginscan(heap, index, snapshot, instrument, nkeys, norderbys) */
#if PG_VERSION_NUM >= 180000
#define PR_INDEX_BEGINSCAN(heap, index, snapshot, nkeys, norderbys) \
	index_beginscan((heap), (index), (snapshot), NULL, (nkeys), (norderbys))
#else
#define PR_INDEX_BEGINSCAN(heap, index, snapshot, nkeys, norderbys) \
	index_beginscan((heap), (index), (snapshot), (nkeys), (norderbys))
#endif

/* 17: PGPROC.lxid became PGPROC.vxid.lxid */
#if PG_VERSION_NUM >= 170000
#define PR_MYPROC_LXID (MyProc->vxid.lxid + 0)
#else
#define PR_MYPROC_LXID (MyProc->lxid + 0)
#endif

/*
 * 16: ExecInitRangeTable(estate, rangeTable, permInfos)
 * 18: ExecInitRangeTable(estate, rangeTable, permInfos, unpruned_relids)
 */
#if PG_VERSION_NUM >= 180000
/* every range table index, 1..length: nothing was pruned */
static inline Bitmapset *
pr_unpruned_relids(List *rtable)
{
	int			n = list_length(rtable);

	return n > 0 ? bms_add_range(NULL, 1, n) : NULL;
}
#define PR_EXEC_INIT_RANGE_TABLE(estate, rtable, perminfos) \
	ExecInitRangeTable((estate), (rtable), (perminfos), pr_unpruned_relids(rtable))
#elif PG_VERSION_NUM >= 160000
#define PR_EXEC_INIT_RANGE_TABLE(estate, rtable, perminfos) \
	ExecInitRangeTable((estate), (rtable), (perminfos))
#else
#define PR_EXEC_INIT_RANGE_TABLE(estate, rtable, perminfos) \
	((void) (perminfos), ExecInitRangeTable((estate), (rtable)))
#endif

/*
 * 16: the permissions an executor checks moved from RangeTblEntry into
 * RTEPermissionInfo nodes, listed beside the range table.
 * PR_RTE_REQUIRE_INSERT(&perminfos, rte) marks rte as needing INSERT, in
 * whichever place this version keeps it (on 15 perminfos stays NIL).
 */
#if PG_VERSION_NUM >= 160000
#include "parser/parse_relation.h"
#define PR_RTE_REQUIRE_INSERT(perminfos, rte) \
	((void) (addRTEPermissionInfo((perminfos), (rte))->requiredPerms = ACL_INSERT))
#else
#define PR_RTE_REQUIRE_INSERT(perminfos, rte) \
	((void) (perminfos), (void) ((rte)->requiredPerms = ACL_INSERT))
#endif

#endif							/* PR_COMPAT_H */
