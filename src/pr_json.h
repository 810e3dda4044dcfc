/*-------------------------------------------------------------------------
 * pr_json.h
 *		The one jsonb builder of payment_records.
 *
 * All construction of jsonb goes through these calls, which wrap
 * pushJsonbValue(): PostgreSQL 19 changes that API and only pr_json.c
 * should have to follow.  Values are pushed in order; keys are sorted by
 * jsonb itself, so the order of pj_key() calls does not matter.
 *-------------------------------------------------------------------------
 */
#ifndef PR_JSON_H
#define PR_JSON_H

#include "utils/jsonb.h"

typedef struct PrJson
{
	JsonbParseState *state;
	JsonbValue *result;			/* set by the outermost pj_end_*() */
} PrJson;

extern void pj_init(PrJson *j);
extern void pj_begin_object(PrJson *j);
extern void pj_end_object(PrJson *j);
extern void pj_begin_array(PrJson *j);
extern void pj_end_array(PrJson *j);
extern void pj_key(PrJson *j, const char *key);
extern void pj_key_len(PrJson *j, const char *key, int len);
extern void pj_string(PrJson *j, const char *s);
extern void pj_string_len(PrJson *j, const char *s, int len);
extern void pj_string_or_null(PrJson *j, const char *s);
extern void pj_int(PrJson *j, int64 v);
extern void pj_bool(PrJson *j, bool v);
extern void pj_null(PrJson *j);
extern void pj_value(PrJson *j, JsonbValue *v);
extern void pj_jsonb(PrJson *j, Jsonb *v);
extern void pj_amount(PrJson *j, const char *key, const char *currency, int64 value);
extern Jsonb *pj_finish(PrJson *j);

/* reading helpers, for normalized trees and stored jsonb */
extern JsonbValue *pj_get(JsonbValue *obj, const char *key);
extern JsonbValue *pj_get_container(JsonbContainer *c, const char *key, JsonbValue *buf);
extern char *pj_cstring(JsonbValue *v);
extern int64 pj_int_value(JsonbValue *v);
extern Jsonb *pj_tree_to_jsonb(JsonbValue *v);

#endif							/* PR_JSON_H */
