/*-------------------------------------------------------------------------
 * pr_catalog.h
 *		The extension's own objects, found by OID (see pr_catalog.c).
 *-------------------------------------------------------------------------
 */
#ifndef PR_CATALOG_H
#define PR_CATALOG_H

#define PR_EXTENSION_NAME "payment_records"
#define PR_SCHEMA_NAME "payment_records"

extern void pr_catalog_init(void);
extern uint64 pr_catalog_generation(void);
extern Oid	pr_ext_oid(void);
extern Oid	pr_ext_namespace(void);
extern Oid	pr_ext_owner(void);
extern Oid	pr_relid(const char *name);
extern Oid	pr_funcid(const char *name, int nargs, const Oid *argtypes);

#endif							/* PR_CATALOG_H */
