/*-------------------------------------------------------------------------
 * pr_insert.h
 *		Row inserts without an SQL statement, for the hot write paths.
 *
 * An INSERT through SPI pays for a whole executor start and end per call.
 * These write the row the way the executor's own ModifyTable does (and as
 * logical replication's apply does, through ExecSimpleRelationInsert): the
 * heap tuple, every index entry with its unique check, the BEFORE and
 * AFTER ROW triggers and the statement triggers, so the constraint
 * triggers and foreign keys check these rows exactly as they check any
 * INSERT.  Like the apply worker, it works on a real range table, checks
 * the INSERT privilege, and refuses tables with row-level security.
 *
 * Values are in the table's column order (pr_layout.h), which the install
 * script defines; pr_catalog.c checks once per session that the table
 * still has those columns.  Only the PR_T_DIRECT_COUNT first tables of
 * pr_layout.h are written here.
 *-------------------------------------------------------------------------
 */
#ifndef PR_INSERT_H
#define PR_INSERT_H

#include "storage/lockdefs.h"
#include "utils/relcache.h"

#include "pr_layout.h"

typedef struct PrInsertBatch PrInsertBatch;

extern int64 pr_next_serial(PrTable t);
extern PrInsertBatch *pr_insert_begin(void);
extern void pr_insert_row(PrInsertBatch *b, PrTable t, Datum *values, bool *isnull);
extern void pr_insert_end(PrInsertBatch *b);

#endif							/* PR_INSERT_H */
