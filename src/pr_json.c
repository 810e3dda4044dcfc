/*-------------------------------------------------------------------------
 * pr_json.c
 *		The one jsonb builder: thin wrappers over pushJsonbValue().
 *
 * Building JsonbValue trees directly (never text that is re-parsed) keeps
 * responses cheap and exact: money is pushed as an integer numeric, so
 * no floating point ever touches an amount.
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "utils/builtins.h"
#include "utils/numeric.h"

#include "pr_json.h"

/* Start an empty builder. */
void
pj_init(PrJson *j)
{
	j->state = NULL;
	j->result = NULL;
}

/* Push a token; the value returned by the closing token is the result. */
static void
pj_push(PrJson *j, JsonbIteratorToken tok, JsonbValue *v)
{
	JsonbValue *r = pushJsonbValue(&j->state, tok, v);

	if ((tok == WJB_END_OBJECT || tok == WJB_END_ARRAY) && j->state == NULL)
		j->result = r;
}

/* Open an object. */
void
pj_begin_object(PrJson *j)
{
	pj_push(j, WJB_BEGIN_OBJECT, NULL);
}

/* Close the innermost object. */
void
pj_end_object(PrJson *j)
{
	pj_push(j, WJB_END_OBJECT, NULL);
}

/* Open an array. */
void
pj_begin_array(PrJson *j)
{
	pj_push(j, WJB_BEGIN_ARRAY, NULL);
}

/* Close the innermost array. */
void
pj_end_array(PrJson *j)
{
	pj_push(j, WJB_END_ARRAY, NULL);
}

/* Push an object key of len bytes (not NUL-terminated). */
void
pj_key_len(PrJson *j, const char *key, int len)
{
	JsonbValue	v;

	v.type = jbvString;
	v.val.string.val = (char *) key;
	v.val.string.len = len;
	pj_push(j, WJB_KEY, &v);
}

/* Push an object key. */
void
pj_key(PrJson *j, const char *key)
{
	pj_key_len(j, key, strlen(key));
}

/*
 * A scalar is pushed as WJB_VALUE inside an object and WJB_ELEM inside an
 * array; pushJsonbValue knows which container is open.
 */
static void
pj_scalar(PrJson *j, JsonbValue *v)
{
	if (j->state != NULL && j->state->contVal.type == jbvArray)
		pj_push(j, WJB_ELEM, v);
	else
		pj_push(j, WJB_VALUE, v);
}

/* Push a string value of len bytes (not NUL-terminated). */
void
pj_string_len(PrJson *j, const char *s, int len)
{
	JsonbValue	v;

	v.type = jbvString;
	v.val.string.val = (char *) s;
	v.val.string.len = len;
	pj_scalar(j, &v);
}

/* Push a string value. */
void
pj_string(PrJson *j, const char *s)
{
	pj_string_len(j, s, strlen(s));
}

/* Push a string value, or null when s is NULL. */
void
pj_string_or_null(PrJson *j, const char *s)
{
	if (s == NULL)
		pj_null(j);
	else
		pj_string(j, s);
}

/* Push an integer as an exact numeric. */
void
pj_int(PrJson *j, int64 i)
{
	JsonbValue	v;

	v.type = jbvNumeric;
	v.val.numeric = int64_to_numeric(i);
	pj_scalar(j, &v);
}

/* Push a boolean value. */
void
pj_bool(PrJson *j, bool b)
{
	JsonbValue	v;

	v.type = jbvBool;
	v.val.boolean = b;
	pj_scalar(j, &v);
}

/* Push null. */
void
pj_null(PrJson *j)
{
	JsonbValue	v;

	v.type = jbvNull;
	pj_scalar(j, &v);
}

/*
 * Push any value: a scalar, a binary container (copied in as is) or an
 * in-memory object/array tree (walked, because pushJsonbValue only takes
 * scalars and binaries).
 */
void
pj_value(PrJson *j, JsonbValue *v)
{
	int			i;

	switch (v->type)
	{
		case jbvObject:
			pj_begin_object(j);
			for (i = 0; i < v->val.object.nPairs; i++)
			{
				JsonbPair  *p = &v->val.object.pairs[i];

				pj_push(j, WJB_KEY, &p->key);
				pj_value(j, &p->value);
			}
			pj_end_object(j);
			break;
		case jbvArray:
			pj_begin_array(j);
			for (i = 0; i < v->val.array.nElems; i++)
				pj_value(j, &v->val.array.elems[i]);
			pj_end_array(j);
			break;
		case jbvBinary:
			if (j->state == NULL)
			{
				/* a whole document: push its tokens */
				JsonbIterator *it = JsonbIteratorInit(v->val.binary.data);
				JsonbValue	tv;
				JsonbIteratorToken tok;

				while ((tok = JsonbIteratorNext(&it, &tv, false)) != WJB_DONE)
					pj_push(j, tok,
							(tok < WJB_BEGIN_ARRAY ||
							 (tok == WJB_BEGIN_ARRAY && tv.val.array.rawScalar)) ? &tv : NULL);
			}
			else
				pj_scalar(j, v);
			break;
		default:
			pj_scalar(j, v);
			break;
	}
}

/* Push a stored jsonb document (object or array) as a nested value. */
void
pj_jsonb(PrJson *j, Jsonb *jb)
{
	JsonbValue	v;

	v.type = jbvBinary;
	v.val.binary.data = &jb->root;
	v.val.binary.len = VARSIZE(jb) - VARHDRSZ;
	pj_value(j, &v);
}

/* {"currency": ..., "value": ...}, the shape of every Stripe amount */
void
pj_amount(PrJson *j, const char *key, const char *currency, int64 value)
{
	pj_key(j, key);
	pj_begin_object(j);
	/* storage order (shorter key first): see pr_build.c */
	pj_key(j, "value");
	pj_int(j, value);
	pj_key(j, "currency");
	pj_string(j, currency);
	pj_end_object(j);
}

/* The finished document as a jsonb; the outermost container is closed. */
Jsonb *
pj_finish(PrJson *j)
{
	Assert(j->result != NULL);
	return JsonbValueToJsonb(j->result);
}

/* Look a key up in an in-memory object tree (NULL if absent). */
JsonbValue *
pj_get(JsonbValue *obj, const char *key)
{
	int			len = strlen(key);
	int			i;

	if (obj == NULL || obj->type != jbvObject)
		return NULL;
	for (i = 0; i < obj->val.object.nPairs; i++)
	{
		JsonbValue *k = &obj->val.object.pairs[i].key;

		if (k->val.string.len == len && memcmp(k->val.string.val, key, len) == 0)
			return &obj->val.object.pairs[i].value;
	}
	return NULL;
}

/* Look a key up in a stored container; the result is written to buf. */
JsonbValue *
pj_get_container(JsonbContainer *c, const char *key, JsonbValue *buf)
{
	JsonbValue	k;
	JsonbValue *r;

	k.type = jbvString;
	k.val.string.val = (char *) key;
	k.val.string.len = strlen(key);
	r = findJsonbValueFromContainer(c, JB_FOBJECT, &k);
	if (r == NULL)
		return NULL;
	*buf = *r;
	pfree(r);
	return buf;
}

/* A palloc'd copy of a string value; NULL for NULL or a non-string. */
char *
pj_cstring(JsonbValue *v)
{
	if (v == NULL || v->type != jbvString)
		return NULL;
	return pnstrdup(v->val.string.val, v->val.string.len);
}

/* Integer value of a numeric the validator has already checked. */
int64
pj_int_value(JsonbValue *v)
{
	Assert(v->type == jbvNumeric);
	return DatumGetInt64(DirectFunctionCall1(numeric_int8,
											 NumericGetDatum(v->val.numeric)));
}

/* Serialize an in-memory tree (object/array/scalar) as a jsonb document. */
Jsonb *
pj_tree_to_jsonb(JsonbValue *v)
{
	PrJson		j;

	if (v->type == jbvObject || v->type == jbvArray || v->type == jbvBinary)
	{
		pj_init(&j);
		pj_value(&j, v);
		return pj_finish(&j);
	}
	return JsonbValueToJsonb(v);
}
