/*-------------------------------------------------------------------------
 * pr_compat.h
 *		Differences between the PostgreSQL major versions we build on.
 *
 * Every PG_VERSION_NUM test of the extension lives here.
 *-------------------------------------------------------------------------
 */
#ifndef PR_COMPAT_H
#define PR_COMPAT_H

#include "executor/executor.h"
#include "nodes/parsenodes.h"
#if PG_VERSION_NUM >= 160000
#include "parser/parse_relation.h"
#endif

/*
 * An executor range table of relations the extension inserts into, as an
 * INSERT statement would have: each entry requires INSERT, checked as the
 * current user.  Since 16 the permissions live in RTEPermissionInfo
 * nodes beside the range table; since 18 ExecInitRangeTable also takes
 * the set of unpruned relations (all of ours).
 */
static inline void
pr_init_insert_range_table(EState *estate, List *rtable)
{
#if PG_VERSION_NUM >= 160000
	List	   *perminfos = NIL;
	ListCell   *lc;

	foreach(lc, rtable)
	{
		RangeTblEntry *rte = (RangeTblEntry *) lfirst(lc);
		RTEPermissionInfo *p = addRTEPermissionInfo(&perminfos, rte);

		p->requiredPerms = ACL_INSERT;
	}
#if PG_VERSION_NUM >= 180000
	ExecInitRangeTable(estate, rtable, perminfos,
					   bms_add_range(NULL, 1, list_length(rtable)));
#else
	ExecInitRangeTable(estate, rtable, perminfos);
#endif
#else
	ListCell   *lc;

	foreach(lc, rtable)
		((RangeTblEntry *) lfirst(lc))->requiredPerms = ACL_INSERT;
	ExecInitRangeTable(estate, rtable);
#endif
}

#endif							/* PR_COMPAT_H */
