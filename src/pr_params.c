/*-------------------------------------------------------------------------
 * pr_params.c
 *		One pass over the request jsonb, against an endpoint's schema.
 *
 * The walk uses JsonbIteratorNext() with skipNested, so each level sees
 * every key it was given and an unknown key is caught where it stands.
 * Errors name the Stripe parameter path ("a[b][c]") and never echo the
 * value that was sent: values may be personal or payment data.
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <ctype.h>

#include "lib/stringinfo.h"
#include "mb/pg_wchar.h"
#include "utils/builtins.h"
#include "utils/numeric.h"

#include "pr_currency.h"
#include "pr_errors.h"
#include "pr_json.h"
#include "pr_params.h"

static void validate_value(PrJson *out, const PrField *f, JsonbValue *v,
						   StringInfo path);

/* Append "[key]" (or "key" at the top) to path; returns the old length. */
static int
path_push(StringInfo path, const char *key, int keylen)
{
	int			old = path->len;

	if (path->len == 0)
		appendBinaryStringInfo(path, key, keylen);
	else
	{
		appendStringInfoChar(path, '[');
		appendBinaryStringInfo(path, key, keylen);
		appendStringInfoChar(path, ']');
	}
	return old;
}

/* Cut path back to the length path_push returned. */
static void
path_pop(StringInfo path, int old)
{
	path->len = old;
	path->data[old] = '\0';
}

/* "a string", "an object", ... for messages about a wrong type */
static const char *
type_name(JsonbValue *v)
{
	switch (v->type)
	{
		case jbvNull:
			return "null";
		case jbvString:
			return "a string";
		case jbvNumeric:
			return "a number";
		case jbvBool:
			return "a boolean";
		case jbvBinary:
			return JsonContainerIsArray(v->val.binary.data) ? "an array" : "an object";
		default:
			return "a value";
	}
}

/* Is v a stored object (not an array, not a scalar)? */
static bool
is_object(JsonbValue *v)
{
	return v->type == jbvBinary && JsonContainerIsObject(v->val.binary.data);
}

/* Strict decimal integer: optional '-', 1 to 19 digits, nothing else. */
static bool
parse_int64_text(const char *s, int len, int64 *out)
{
	bool		neg = false;
	uint64		acc = 0;
	int			i = 0;

	if (len > 0 && s[0] == '-')
	{
		neg = true;
		i = 1;
	}
	if (i >= len || len - i > 19)
		return false;
	for (; i < len; i++)
	{
		if (s[i] < '0' || s[i] > '9')
			return false;
		acc = acc * 10 + (s[i] - '0');
	}
	if (acc > (uint64) PG_INT64_MAX)
		return false;
	*out = neg ? -(int64) acc : (int64) acc;
	return true;
}

/*
 * Integers arrive as JSON numbers or, from form bodies, as decimal strings.
 * A number with a fractional part (even ".0") is not an integer.
 */
bool
pr_parse_int64(JsonbValue *v, int64 *out)
{
	if (v->type == jbvString)
		return parse_int64_text(v->val.string.val, v->val.string.len, out);
	if (v->type == jbvNumeric)
	{
		char	   *s;

		s = DatumGetCString(DirectFunctionCall1(numeric_out,
												NumericGetDatum(v->val.numeric)));
		return parse_int64_text(s, strlen(s), out);
	}
	return false;
}

/*
 * Raise the error for a parameter at path that is not of the expected
 * type ("a string", ...); a null one counts as empty.
 */
static void
type_error(StringInfo path, const char *expected, JsonbValue *v)
{
	pr_error(ERRCODE_INVALID_PARAMETER_VALUE,
			 v->type == jbvNull ? PR_CODE_EMPTY : NULL, path->data,
			 "parameter \"%s\" must be %s, not %s", path->data, expected, type_name(v));
}

/* Raise the error for a parameter at path that is not an integer. */
static void
integer_error(StringInfo path)
{
	pr_error(ERRCODE_INVALID_PARAMETER_VALUE, PR_CODE_INTEGER, path->data,
			 "parameter \"%s\" must be an integer", path->data);
}

/* Non-empty, non-blank string of at most max characters. */
static void
check_string(JsonbValue *v, StringInfo path, int max)
{
	int			i;
	bool		blank = true;

	if (v->type != jbvString)
		type_error(path, "a string", v);
	if (v->val.string.len == 0)
		pr_error(ERRCODE_INVALID_PARAMETER_VALUE, PR_CODE_EMPTY, path->data,
				 "parameter \"%s\" must not be empty", path->data);
	for (i = 0; i < v->val.string.len; i++)
	{
		if (!isspace((unsigned char) v->val.string.val[i]))
		{
			blank = false;
			break;
		}
	}
	if (blank)
		pr_error(ERRCODE_INVALID_PARAMETER_VALUE, PR_CODE_BLANK, path->data,
				 "parameter \"%s\" must not be blank", path->data);
	if (v->val.string.len > max &&
		pg_mbstrlen_with_len(v->val.string.val, v->val.string.len) > max)
		pr_error(ERRCODE_INVALID_PARAMETER_VALUE, NULL, path->data,
				 "parameter \"%s\" must be at most %d characters", path->data, max);
}

/*
 * A string (see check_string) with one '@', something before and after
 * it, and no white space; no more is checked.
 */
static void
check_email(JsonbValue *v, StringInfo path)
{
	const char *s = v->val.string.val;
	int			len = v->val.string.len;
	int			at = -1;
	int			i;

	check_string(v, path, PR_MAX_EMAIL);
	for (i = 0; i < len; i++)
	{
		if (s[i] == '@')
		{
			if (at >= 0)
				break;
			at = i;
		}
		else if (isspace((unsigned char) s[i]))
			break;
	}
	if (i < len || at <= 0 || at == len - 1)
		pr_error(ERRCODE_INVALID_PARAMETER_VALUE, PR_CODE_EMAIL, path->data,
				 "parameter \"%s\" must be an email address", path->data);
}

/* A string equal to one of the NULL-terminated values. */
static void
check_enum(JsonbValue *v, StringInfo path, const char *const *values)
{
	const char *const *p;
	StringInfoData list;

	check_string(v, path, PR_MAX_STRING);
	for (p = values; *p; p++)
	{
		if (strlen(*p) == v->val.string.len &&
			memcmp(*p, v->val.string.val, v->val.string.len) == 0)
			return;
	}
	initStringInfo(&list);
	for (p = values; *p; p++)
		appendStringInfo(&list, "%s\"%s\"", p == values ? "" : ", ", *p);
	pr_error(ERRCODE_INVALID_PARAMETER_VALUE, NULL, path->data,
			 "parameter \"%s\" must be one of %s", path->data, list.data);
}

/*
 * The integer value of v, a number or decimal string, between min and
 * max; anything else is an error naming path.
 */
static int64
check_integer(JsonbValue *v, StringInfo path, int64 min, int64 max)
{
	int64		i;

	/* an empty value is "empty", as for strings, not a malformed integer */
	if (v->type == jbvNull || (v->type == jbvString && v->val.string.len == 0))
		pr_error(ERRCODE_INVALID_PARAMETER_VALUE, PR_CODE_EMPTY, path->data,
				 "parameter \"%s\" must not be empty", path->data);
	if (!pr_parse_int64(v, &i))
		integer_error(path);
	if (i < min || i > max)
		pr_error(ERRCODE_INVALID_PARAMETER_VALUE, PR_CODE_INTEGER, path->data,
				 "parameter \"%s\" must be an integer between " INT64_FORMAT " and " INT64_FORMAT,
				 path->data, min, max);
	return i;
}

/*
 * The value of a required key of a hash (into buf), with path extended to
 * it; raises parameter_missing when absent.  The caller pops the path.
 */
static JsonbValue *
required_key(JsonbContainer *c, const char *key, JsonbValue *buf, StringInfo path,
			 int *old)
{
	JsonbValue *v = pj_get_container(c, key, buf);

	*old = path_push(path, key, strlen(key));
	if (v == NULL)
		pr_error(ERRCODE_INVALID_PARAMETER_VALUE, PR_CODE_MISSING, path->data,
				 "missing required parameter \"%s\"", path->data);
	return v;
}

/*
 * {currency, value}: the currency must be supported (case-insensitive), the
 * value a positive integer no larger than the currency's maximum, and for
 * three-decimal currencies a multiple of 10.
 */
static void
validate_amount(PrJson *out, JsonbValue *v, StringInfo path)
{
	JsonbValue	cur_buf,
				val_buf;
	JsonbValue *cur,
			   *val;
	JsonbIterator *it;
	JsonbIteratorToken tok;
	JsonbValue	k;
	char		code[4];
	int			exponent;
	int64		value;
	int			old;
	int			i;

	if (!is_object(v))
		type_error(path, "an object", v);

	/* closed schema: only currency and value */
	it = JsonbIteratorInit(v->val.binary.data);
	while ((tok = JsonbIteratorNext(&it, &k, true)) != WJB_DONE)
	{
		if (tok != WJB_KEY)
			continue;
		if (!((k.val.string.len == 8 && memcmp(k.val.string.val, "currency", 8) == 0) ||
			  (k.val.string.len == 5 && memcmp(k.val.string.val, "value", 5) == 0)))
		{
			old = path_push(path, k.val.string.val, k.val.string.len);
			pr_error(ERRCODE_INVALID_PARAMETER_VALUE, PR_CODE_UNKNOWN, path->data,
					 "unknown parameter \"%s\"", path->data);
			path_pop(path, old);
		}
	}

	cur = required_key(v->val.binary.data, "currency", &cur_buf, path, &old);
	check_string(cur, path, PR_MAX_STRING);
	exponent = -1;
	if (cur->val.string.len == 3)
	{
		for (i = 0; i < 3; i++)
			code[i] = pg_ascii_tolower((unsigned char) cur->val.string.val[i]);
		code[3] = '\0';
		exponent = pr_currency_exponent(code);
	}
	if (exponent < 0)
		pr_error(ERRCODE_INVALID_PARAMETER_VALUE, NULL, path->data,
				 "parameter \"%s\" must be a supported three-letter currency code",
				 path->data);
	path_pop(path, old);

	val = required_key(v->val.binary.data, "value", &val_buf, path, &old);
	if (!pr_parse_int64(val, &value))
		integer_error(path);
	if (value <= 0)
		pr_error(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE, PR_CODE_TOO_SMALL, path->data,
				 "parameter \"%s\" must be greater than 0", path->data);
	if (value > pr_currency_max_value(code))
		pr_error(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE, PR_CODE_TOO_LARGE, path->data,
				 "parameter \"%s\" must be at most " INT64_FORMAT " for currency \"%s\"",
				 path->data, pr_currency_max_value(code), code);
	if (exponent == 3 && value % 10 != 0)
		pr_error(ERRCODE_INVALID_PARAMETER_VALUE, PR_CODE_INTEGER, path->data,
				 "parameter \"%s\" must be a multiple of 10 for currency \"%s\"",
				 path->data, code);
	path_pop(path, old);

	pj_begin_object(out);
	pj_key(out, "currency");
	pj_string(out, pstrdup(code));	/* the tree outlives this frame */
	pj_key(out, "value");
	pj_int(out, value);
	pj_end_object(out);
}

/*
 * Metadata: an object of at most 50 keys (<= 40 characters, no brackets),
 * values strings of <= 500 characters; numbers and booleans are kept as
 * their text.  An empty value (or null) removes the key and comes out as
 * null; "" for the whole of metadata removes all keys and comes out as "".
 */
static void
validate_metadata(PrJson *out, JsonbValue *v, StringInfo path)
{
	JsonbIterator *it;
	JsonbIteratorToken tok;
	JsonbValue	k,
				val;
	int			nkeys = 0;
	int			old;

	if (v->type == jbvString && v->val.string.len == 0)
	{
		pj_string(out, "");
		return;
	}
	if (!is_object(v))
		type_error(path, "an object", v);

	pj_begin_object(out);
	it = JsonbIteratorInit(v->val.binary.data);
	while ((tok = JsonbIteratorNext(&it, &k, true)) != WJB_DONE)
	{
		if (tok != WJB_KEY)
			continue;
		old = path_push(path, k.val.string.val, k.val.string.len);
		if (k.val.string.len == 0)
			pr_error(ERRCODE_INVALID_PARAMETER_VALUE, PR_CODE_EMPTY, path->data,
					 "metadata keys must not be empty");
		if (pg_mbstrlen_with_len(k.val.string.val, k.val.string.len) > PR_MAX_META_KEY)
			pr_error(ERRCODE_INVALID_PARAMETER_VALUE, NULL, path->data,
					 "metadata keys must be at most %d characters", PR_MAX_META_KEY);
		if (memchr(k.val.string.val, '[', k.val.string.len) ||
			memchr(k.val.string.val, ']', k.val.string.len))
			pr_error(ERRCODE_INVALID_PARAMETER_VALUE, PR_CODE_CHARACTERS, path->data,
					 "metadata keys must not contain \"[\" or \"]\"");

		tok = JsonbIteratorNext(&it, &val, true);
		Assert(tok == WJB_VALUE);
		pj_key_len(out, k.val.string.val, k.val.string.len);
		switch (val.type)
		{
			case jbvNull:
				pj_null(out);
				break;
			case jbvString:
				if (val.val.string.len == 0)
					pj_null(out);
				else
				{
					if (pg_mbstrlen_with_len(val.val.string.val, val.val.string.len) > PR_MAX_META_VALUE)
						pr_error(ERRCODE_INVALID_PARAMETER_VALUE, NULL, path->data,
								 "metadata values must be at most %d characters",
								 PR_MAX_META_VALUE);
					pj_value(out, &val);
					nkeys++;
				}
				break;
			case jbvNumeric:
				{
					/* kept as its text, so the text's length limit applies */
					char	   *num = DatumGetCString(DirectFunctionCall1(numeric_out,
																		  NumericGetDatum(val.val.numeric)));

					if (strlen(num) > PR_MAX_META_VALUE)
						pr_error(ERRCODE_INVALID_PARAMETER_VALUE, NULL, path->data,
								 "metadata values must be at most %d characters",
								 PR_MAX_META_VALUE);
					pj_string(out, num);
				}
				nkeys++;
				break;
			case jbvBool:
				pj_string(out, val.val.boolean ? "true" : "false");
				nkeys++;
				break;
			default:
				type_error(path, "a string", &val);
		}
		path_pop(path, old);
	}
	pj_end_object(out);
	if (nkeys > PR_MAX_META_KEYS)
		pr_error(ERRCODE_INVALID_PARAMETER_VALUE, NULL, path->data,
				 "metadata must have at most %d keys", PR_MAX_META_KEYS);
}

/* expand: an array of non-empty strings; nothing here is expandable. */
static void
validate_expand(JsonbValue *v, StringInfo path)
{
	JsonbIterator *it;
	JsonbIteratorToken tok;
	JsonbValue	e;
	int			n = 0;
	char		idx[16];
	int			old;

	if (!(v->type == jbvBinary && JsonContainerIsArray(v->val.binary.data)))
		type_error(path, "an array", v);
	it = JsonbIteratorInit(v->val.binary.data);
	while ((tok = JsonbIteratorNext(&it, &e, true)) != WJB_DONE)
	{
		if (tok != WJB_ELEM)
			continue;
		snprintf(idx, sizeof(idx), "%d", n++);
		old = path_push(path, idx, strlen(idx));
		check_string(&e, path, PR_MAX_STRING);
		path_pop(path, old);
	}
}

/*
 * Check hash in against schema and push its checked copy to out: unknown
 * keys and missing required ones are errors; expand is checked but not
 * copied.
 */
static void
validate_object(PrJson *out, JsonbContainer *in, const PrField *schema,
				StringInfo path)
{
	JsonbIterator *it;
	JsonbIteratorToken tok;
	JsonbValue	k,
				v;
	const PrField *f;
	uint64		seen = 0;
	int			i;
	int			old;

	pj_begin_object(out);
	it = JsonbIteratorInit(in);
	while ((tok = JsonbIteratorNext(&it, &k, true)) != WJB_DONE)
	{
		if (tok != WJB_KEY)
			continue;
		old = path_push(path, k.val.string.val, k.val.string.len);
		for (i = 0, f = schema; f->name; f++, i++)
		{
			if (strlen(f->name) == k.val.string.len &&
				memcmp(f->name, k.val.string.val, k.val.string.len) == 0)
				break;
		}
		if (f->name == NULL)
			pr_error(ERRCODE_INVALID_PARAMETER_VALUE, PR_CODE_UNKNOWN, path->data,
					 "unknown parameter \"%s\"", path->data);
		seen |= UINT64CONST(1) << i;

		tok = JsonbIteratorNext(&it, &v, true);
		Assert(tok == WJB_VALUE);
		if (f->kind != PK_EXPAND)
			pj_key(out, f->name);
		validate_value(out, f, &v, path);
		path_pop(path, old);
	}
	pj_end_object(out);

	for (i = 0, f = schema; f->name; f++, i++)
	{
		if ((f->flags & PF_REQUIRED) && !(seen & (UINT64CONST(1) << i)))
		{
			old = path_push(path, f->name, strlen(f->name));
			pr_error(ERRCODE_INVALID_PARAMETER_VALUE, PR_CODE_MISSING, path->data,
					 "missing required parameter \"%s\"", path->data);
		}
	}
}

/*
 * Check v, the value of field f, and push its checked form to out:
 * integers and timestamps as numbers (form bodies send them as strings),
 * an unset value as null.
 */
static void
validate_value(PrJson *out, const PrField *f, JsonbValue *v, StringInfo path)
{
	/* unsetting, where Stripe allows it */
	if ((f->flags & PF_UNSETTABLE) &&
		(v->type == jbvNull || (v->type == jbvString && v->val.string.len == 0)))
	{
		pj_null(out);
		return;
	}

	switch (f->kind)
	{
		case PK_STRING:
			check_string(v, path, f->max > 0 ? (int) f->max : PR_MAX_STRING);
			pj_value(out, v);
			break;
		case PK_EMAIL:
			check_email(v, path);
			pj_value(out, v);
			break;
		case PK_ENUM:
			check_enum(v, path, f->values);
			pj_value(out, v);
			break;
		case PK_TIMESTAMP:
			pj_int(out, check_integer(v, path, 0, PR_MAX_TIMESTAMP));
			break;
		case PK_INTEGER:
			pj_int(out, check_integer(v, path, f->min, f->max));
			break;
		case PK_OBJECT:
			if (v->type == jbvString && v->val.string.len == 0)
				pr_error(ERRCODE_INVALID_PARAMETER_VALUE, PR_CODE_EMPTY, path->data,
						 "parameter \"%s\" must not be empty", path->data);
			if (!is_object(v))
				type_error(path, "an object", v);
			validate_object(out, v->val.binary.data, f->fields, path);
			break;
		case PK_AMOUNT:
			validate_amount(out, v, path);
			break;
		case PK_METADATA:
			validate_metadata(out, v, path);
			break;
		case PK_EXPAND:
			validate_expand(v, path);
			break;
	}
}

/*
 * Check params (NULL: none) against schema and return the checked tree,
 * the only form the API functions read params in.  The first problem
 * found is raised, naming its parameter.
 */
JsonbValue *
pr_validate(Jsonb *params, const PrField *schema)
{
	PrJson		out;
	StringInfoData path;

	initStringInfo(&path);
	pj_init(&out);
	if (params == NULL)
	{
		/* no parameters at all: an empty object, so required ones are missed */
		pj_begin_object(&out);
		pj_end_object(&out);
		params = pj_finish(&out);
		pj_init(&out);
	}
	if (!JB_ROOT_IS_OBJECT(params) || JB_ROOT_IS_SCALAR(params))
		pr_error(ERRCODE_INVALID_PARAMETER_VALUE, NULL, NULL,
				 "request parameters must be a JSON object");
	validate_object(&out, &params->root, schema, &path);
	return out.result;
}

/* The value of a key of a checked tree, or NULL when absent. */
JsonbValue *
pr_field(JsonbValue *tree, const char *name)
{
	return pj_get(tree, name);
}

/* A palloc'd copy of a string field; NULL when absent or unset. */
char *
pr_field_string(JsonbValue *tree, const char *name)
{
	return pj_cstring(pj_get(tree, name));
}

/* Read an integer field into *out; false when absent or unset. */
bool
pr_field_int(JsonbValue *tree, const char *name, int64 *out)
{
	JsonbValue *v = pj_get(tree, name);

	if (v == NULL || v->type != jbvNumeric)
		return false;
	*out = pj_int_value(v);
	return true;
}

/* The subtree as a jsonb document, NULL when absent or unset. */
Jsonb *
pr_field_jsonb(JsonbValue *tree, const char *name)
{
	JsonbValue *v = pj_get(tree, name);

	if (v == NULL || v->type == jbvNull)
		return NULL;
	return pj_tree_to_jsonb(v);
}

/*
 * Stripe's metadata update: "" removes all keys, a null value removes its
 * key, other keys are set.  Returns the merged metadata, NULL when empty;
 * more than PR_MAX_META_KEYS keys is an error.
 */
Jsonb *
pr_metadata_merge(Jsonb *stored, JsonbValue *update)
{
	PrJson		out;
	JsonbIterator *it;
	JsonbIteratorToken tok;
	JsonbValue	k,
				v;
	int			n = 0;
	int			i;

	if (update == NULL)
		return stored;
	if (update->type == jbvString)	/* "": remove all */
		return NULL;

	pj_init(&out);
	pj_begin_object(&out);
	/* stored keys not mentioned in the update */
	if (stored != NULL)
	{
		it = JsonbIteratorInit(&stored->root);
		while ((tok = JsonbIteratorNext(&it, &k, true)) != WJB_DONE)
		{
			if (tok != WJB_KEY)
				continue;
			tok = JsonbIteratorNext(&it, &v, true);
			for (i = 0; i < update->val.object.nPairs; i++)
			{
				JsonbValue *uk = &update->val.object.pairs[i].key;

				if (uk->val.string.len == k.val.string.len &&
					memcmp(uk->val.string.val, k.val.string.val, k.val.string.len) == 0)
					break;
			}
			if (i < update->val.object.nPairs)
				continue;
			pj_key_len(&out, k.val.string.val, k.val.string.len);
			pj_value(&out, &v);
			n++;
		}
	}
	/* the update's own keys, except removals */
	for (i = 0; i < update->val.object.nPairs; i++)
	{
		JsonbPair  *p = &update->val.object.pairs[i];

		if (p->value.type == jbvNull)
			continue;
		pj_key_len(&out, p->key.val.string.val, p->key.val.string.len);
		pj_value(&out, &p->value);
		n++;
	}
	pj_end_object(&out);
	if (n > PR_MAX_META_KEYS)
		pr_error(ERRCODE_INVALID_PARAMETER_VALUE, NULL, "metadata",
				 "metadata must have at most %d keys", PR_MAX_META_KEYS);
	if (n == 0)
		return NULL;
	return pj_finish(&out);
}

/*
 * outcome and the guaranteed / failed / canceled hashes must agree:
 * outcome=X needs the X hash, and another outcome's hash (or any of them
 * without an outcome) is refused rather than ignored.  Shared by
 * report_payment and report_payment_attempt.
 */
PrStatus
pr_check_outcome(JsonbValue *tree)
{
	static const PrStatus outcomes[] = {
		PR_STATUS_GUARANTEED, PR_STATUS_FAILED, PR_STATUS_CANCELED
	};
	char	   *outcome = pr_field_string(tree, "outcome");
	int			i;

	if (outcome == NULL)
	{
		for (i = 0; i < lengthof(outcomes); i++)
		{
			const char *name = pr_status_text(outcomes[i]);

			if (pr_field(tree, name) != NULL)
				pr_error(ERRCODE_INVALID_PARAMETER_VALUE, PR_CODE_MISSING, "outcome",
						 "parameter \"%s\" requires parameter \"outcome\"", name);
		}
		return PR_STATUS_PENDING;
	}
	for (i = 0; i < lengthof(outcomes); i++)
	{
		const char *name = pr_status_text(outcomes[i]);

		if (strcmp(outcome, name) != 0 && pr_field(tree, name) != NULL)
			pr_error(ERRCODE_INVALID_PARAMETER_VALUE, PR_CODE_EXCLUSIVE, name,
					 "parameter \"%s\" cannot be used with outcome \"%s\"",
					 name, outcome);
	}
	for (i = 0; i < lengthof(outcomes); i++)
	{
		const char *name = pr_status_text(outcomes[i]);

		if (strcmp(outcome, name) == 0)
		{
			if (pr_field(tree, name) == NULL)
				pr_error(ERRCODE_INVALID_PARAMETER_VALUE, PR_CODE_MISSING, name,
						 "missing required parameter \"%s\"", name);
			return outcomes[i];
		}
	}
	elog(ERROR, "unexpected outcome \"%s\"", outcome);
	return PR_STATUS_INVALID;
}

/*
 * payment_method_details needs a payment_method or type=custom; a custom
 * hash needs type=custom beside it.  Shared by report_payment and
 * report_payment_attempt.
 */
void
pr_check_payment_method(JsonbValue *tree)
{
	JsonbValue *pmd = pr_field(tree, "payment_method_details");

	if (pmd == NULL)
		return;
	if (pj_get(pmd, "type") == NULL &&
		(pj_get(pmd, "payment_method") == NULL || pj_get(pmd, "custom") != NULL))
		pr_error(ERRCODE_INVALID_PARAMETER_VALUE, PR_CODE_MISSING,
				 "payment_method_details[type]",
				 "missing required parameter \"payment_method_details[type]\"");
}
