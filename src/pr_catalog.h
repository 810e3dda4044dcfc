/*-------------------------------------------------------------------------
 * pr_catalog.h
 *		The extension's own objects, found by OID (see pr_catalog.c).
 *-------------------------------------------------------------------------
 */
#ifndef PR_CATALOG_H
#define PR_CATALOG_H

#include "storage/lockdefs.h"
#include "utils/relcache.h"

#include "pr_layout.h"

#define PR_EXTENSION_NAME "payment_records"
#define PR_SCHEMA_NAME "payment_records"

extern void pr_catalog_init(void);
extern Oid	pr_ext_oid(void);
extern Oid	pr_ext_namespace(void);
extern Oid	pr_ext_owner(void);
extern Oid	pr_relid(const char *name);
extern Oid	pr_table_relid(PrTable t);
extern Oid	pr_serial_relid(PrTable t);
extern Oid	pr_index_relid(PrIndex i);
extern Relation pr_index_open(PrIndex i, Relation heap, LOCKMODE mode);
extern Relation pr_table_open(PrTable t, LOCKMODE mode);
extern void pr_tables_lock(uint32 tables, LOCKMODE mode);
extern Oid	pr_funcid(const char *name, int nargs, const Oid *argtypes);

#endif							/* PR_CATALOG_H */
