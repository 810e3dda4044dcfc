/*-------------------------------------------------------------------------
 * pr_form.c
 *		form_to_jsonb(): a form-encoded body, with Stripe's bracket nesting,
 *		as the params jsonb that the API functions take.
 *
 * "a=1&b[c]=2&b[d][e]=3" is {"a": "1", "b": {"c": "2", "d": {"e": "3"}}};
 * "expand[]=x&expand[]=y" and "expand[0]=x&expand[1]=y" are both
 * {"expand": ["x", "y"]}.  As the endpoints' schemas say, "metadata" is
 * always a hash: "metadata[0]=x" is {"metadata": {"0": "x"}}.  Keys and values are percent-decoded ("+" is a
 * space), must be UTF-8 and are converted to the server encoding; every
 * value stays a string, since the validator accepts decimal strings
 * wherever it wants an integer.  This is how Stripe's curl examples can be
 * replayed against the SQL functions, and how request() reads the query
 * string of a path.
 *
 * The pairs are first assembled in a small tree, so that a key given twice
 * or used both as a value and as a hash is caught, and the tree is then
 * pushed through the pr_json.h builder (never through JSON text).  The
 * input is not trusted: anything malformed is an
 * ERRCODE_INVALID_PARAMETER_VALUE error with the key in the column-name
 * field, nesting is bounded by PR_FORM_MAX_DEPTH, and keys are looked up in
 * a hash table so that a body with many keys is decoded in linear time.
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "common/hashfn.h"
#include "fmgr.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "utils/hsearch.h"

#include "pr_errors.h"
#include "pr_form.h"
#include "pr_json.h"

PG_FUNCTION_INFO_V1(payment_records_form_to_jsonb);

/* longest key, in bytes, quoted in an error message or param */
#define PR_FORM_ERROR_KEY_LEN	200

typedef enum FormKind
{
	FK_STRING,
	FK_HASH,
	FK_ARRAY
} FormKind;

/*
 * One node of the tree being assembled.  A string is a leaf; a hash keeps
 * its children in a list (jsonb sorts keys anyway, the list only has to be
 * complete) and finds them through FormState.slots; an array keeps its
 * elements in order.
 */
typedef struct FormNode
{
	FormKind	kind;
	int			id;				/* names a hash in FormSlotKey */
	/* FK_STRING */
	const char *str;
	int			len;
	/* as a child of a hash: its key and next sibling */
	const char *key;
	int			keylen;
	struct FormNode *next;
	/* FK_HASH */
	struct FormNode *first;
	struct FormNode *last;
	/* FK_ARRAY */
	struct FormNode **elems;
	int			nelems;
	int			maxelems;
} FormNode;

/* key of the lookup table: one key of one hash */
typedef struct FormSlotKey
{
	int			parent;			/* FormNode.id of the hash */
	const char *key;
	int			keylen;
} FormSlotKey;

typedef struct FormSlot
{
	FormSlotKey key;			/* hash key, must be first */
	FormNode   *child;
} FormSlot;

/* what one decoding needs: the tree, its lookup table, the current key */
typedef struct FormState
{
	FormNode   *root;
	HTAB	   *slots;
	int			next_id;
	const char *key;			/* decoded key of the pair being added */
	int			keylen;
} FormState;

/*
 * A key as quoted in messages and in the param field: at most
 * PR_FORM_ERROR_KEY_LEN bytes, cut on a character boundary, so that a huge
 * key cannot make a huge error.
 */
static char *
FormErrorKey(const char *key, int len)
{
	if (len > PR_FORM_ERROR_KEY_LEN)
		len = pg_mbcliplen(key, len, PR_FORM_ERROR_KEY_LEN);
	return pnstrdup(key, len);
}

/* The value of one hexadecimal digit, or -1. */
static int
FormHexValue(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/*
 * Percent-decode src[0..len) into a new NUL-terminated buffer, "+" being a
 * space.  Returns false on a "%" that is not followed by two hexadecimal
 * digits, which browsers and curl never produce.
 */
static bool
FormUnescape(const char *src, int len, char **out, int *outlen)
{
	char	   *dst = palloc(len + 1);
	int			n = 0;
	int			i;

	for (i = 0; i < len; i++)
	{
		if (src[i] == '+')
			dst[n++] = ' ';
		else if (src[i] == '%')
		{
			int			hi,
						lo;

			if (len - i < 3)
				return false;
			hi = FormHexValue(src[i + 1]);
			lo = FormHexValue(src[i + 2]);
			if (hi < 0 || lo < 0)
				return false;
			dst[n++] = (char) ((hi << 4) | lo);
			i += 2;
		}
		else
			dst[n++] = src[i];
	}
	dst[n] = '\0';
	*out = dst;
	*outlen = n;
	return true;
}

/*
 * Decode one key or value: percent-decoding, then UTF-8 without NUL bytes
 * (jsonb strings cannot hold NUL), then conversion to the server encoding.
 * what is "form key" or "the value of form key"; the error names name (the
 * decoded key of a value) or, for a key, the key as it was sent.
 */
static char *
FormDecodeText(const char *raw, int rawlen, const char *what,
			   const char *name, int namelen, int *outlen)
{
	char	   *s = NULL;
	char	   *conv;
	int			len = 0;
	const char *problem = NULL;
	const char *code = NULL;	/* a bad escape has no code of its own */

	if (!FormUnescape(raw, rawlen, &s, &len))
		problem = "invalid percent-encoding";
	else if (memchr(s, '\0', len) != NULL)
	{
		problem = "NUL byte";
		code = PR_CODE_CHARACTERS;
	}
	else if (!pg_verify_mbstr(PG_UTF8, s, len, true))
	{
		problem = "invalid UTF-8";
		code = PR_CODE_CHARACTERS;
	}
	if (problem != NULL)
	{
		char	   *errkey = (name != NULL) ? FormErrorKey(name, namelen) :
			FormErrorKey(raw, rawlen);

		pr_error(ERRCODE_INVALID_PARAMETER_VALUE, code, errkey,
				 "%s in %s \"%s\"", problem, what, errkey);
	}

	/*
	 * A character the server encoding lacks is malformed input for this
	 * database (22023 with the key, as every other decoding error), not a
	 * conversion failure: catch the conversion error and raise ours.
	 */
	{
		MemoryContext cxt = CurrentMemoryContext;

		PG_TRY();
		{
			conv = pg_any_to_server(s, len, PG_UTF8);
		}
		PG_CATCH();
		{
			char	   *errkey;
			ErrorData  *edata;

			/*
			 * Only the conversion's own input errors are relabelled; any
			 * other (out of memory, a cancel) goes on unchanged.
			 */
			MemoryContextSwitchTo(cxt);
			edata = CopyErrorData();
			if (edata->sqlerrcode != ERRCODE_UNTRANSLATABLE_CHARACTER &&
				edata->sqlerrcode != ERRCODE_CHARACTER_NOT_IN_REPERTOIRE)
			{
				FreeErrorData(edata);
				PG_RE_THROW();
			}
			FreeErrorData(edata);
			FlushErrorState();
			errkey = (name != NULL) ? FormErrorKey(name, namelen) :
				FormErrorKey(raw, rawlen);
			pr_error(ERRCODE_INVALID_PARAMETER_VALUE, PR_CODE_CHARACTERS, errkey,
					 "character not representable in the database encoding in %s \"%s\"",
					 what, errkey);
		}
		PG_END_TRY();
	}
	if (conv != s)
		len = strlen(conv);
	if (len > JENTRY_OFFLENMASK)
	{
		char	   *errkey = (name != NULL) ? FormErrorKey(name, namelen) :
			FormErrorKey(conv, len);

		pr_error(ERRCODE_PROGRAM_LIMIT_EXCEEDED, NULL, errkey,
				 "%s \"%s\" is too long", what, errkey);
	}
	*outlen = len;
	return conv;
}

/* "a string", "a hash", "an array" for conflict messages */
static const char *
FormKindName(FormKind kind)
{
	switch (kind)
	{
		case FK_STRING:
			return "a string";
		case FK_HASH:
			return "a hash";
		case FK_ARRAY:
			return "an array";
	}
	return "a value";			/* keep the compiler quiet */
}

/*
 * A slot that already holds a node is asked for a node of kind want: the
 * same container is walked into, anything else is an error naming the
 * whole key and the part of it (prefix bytes) that conflicts.
 */
static FormNode *
FormReuse(FormState *st, FormNode *found, FormKind want, int prefix)
{
	char	   *errkey = FormErrorKey(st->key, st->keylen);

	if (found->kind == FK_STRING && want == FK_STRING)
		pr_error(ERRCODE_INVALID_PARAMETER_VALUE, NULL, errkey,
				 "form key \"%s\" is given more than once", errkey);
	if (found->kind != want)
	{
		char	   *part = FormErrorKey(st->key, prefix);

		pr_error(ERRCODE_INVALID_PARAMETER_VALUE, NULL, errkey,
				 "form key \"%s\" uses \"%s\" both as %s and as %s",
				 errkey, part, FormKindName(found->kind), FormKindName(want));
	}
	return found;
}

/* A new node of a kind. */
static FormNode *
FormNewNode(FormState *st, FormKind kind)
{
	FormNode   *n = palloc0(sizeof(FormNode));

	n->kind = kind;
	n->id = st->next_id++;
	return n;
}

/* Hash function of the lookup table: the key's bytes and the hash's id. */
static uint32
FormSlotHash(const void *key, Size keysize)
{
	const FormSlotKey *k = (const FormSlotKey *) key;

	return hash_combine(hash_bytes((const unsigned char *) k->key, k->keylen),
						hash_bytes_uint32((uint32) k->parent));
}

/* Match function of the lookup table: 0 when both name the same slot. */
static int
FormSlotMatch(const void *key1, const void *key2, Size keysize)
{
	const FormSlotKey *a = (const FormSlotKey *) key1;
	const FormSlotKey *b = (const FormSlotKey *) key2;

	if (a->parent == b->parent && a->keylen == b->keylen &&
		memcmp(a->key, b->key, a->keylen) == 0)
		return 0;
	return 1;
}

/*
 * The child of hash under key[0..keylen), created with kind want when
 * absent, checked against want when present.
 */
static FormNode *
FormHashSlot(FormState *st, FormNode *hash, const char *key, int keylen,
			 FormKind want, int prefix)
{
	FormSlotKey k;
	FormSlot   *slot;
	bool		found;
	FormNode   *child;

	memset(&k, 0, sizeof(k));
	k.parent = hash->id;
	k.key = key;
	k.keylen = keylen;
	slot = (FormSlot *) hash_search(st->slots, &k, HASH_ENTER, &found);
	if (found)
		return FormReuse(st, slot->child, want, prefix);

	child = FormNewNode(st, want);
	child->key = key;
	child->keylen = keylen;
	if (hash->last == NULL)
		hash->first = child;
	else
		hash->last->next = child;
	hash->last = child;
	slot->child = child;
	return child;
}

/* Whether seg[0..len) is the decimal form of n, with no leading zero. */
static bool
FormIndexIs(const char *seg, int len, int n)
{
	char		buf[16];

	snprintf(buf, sizeof(buf), "%d", n);
	return len == (int) strlen(buf) && memcmp(seg, buf, len) == 0;
}

/*
 * The element of array named by seg ("" for "[]", else an index), created
 * with kind want or checked against it.  Indexes must count up from 0: an
 * index may be the next one (a new element) or, to add to a hash or array
 * element, the last one again; anything else is out of order.  "[]" only
 * appends a string: "a[][b]" has no single meaning.
 */
static FormNode *
FormArraySlot(FormState *st, FormNode *array, const char *seg, int seglen,
			  FormKind want, int prefix)
{
	FormNode   *child;
	int			n = array->nelems;

	if (seglen == 0 && want != FK_STRING)
	{
		char	   *errkey = FormErrorKey(st->key, st->keylen);

		pr_error(ERRCODE_INVALID_PARAMETER_VALUE, NULL, errkey,
				 "form key \"%s\" has \"[]\" before its last part", errkey);
	}
	if (seglen > 0 && !FormIndexIs(seg, seglen, n))
	{
		char	   *errkey;

		if (n > 0 && FormIndexIs(seg, seglen, n - 1))
			return FormReuse(st, array->elems[n - 1], want, prefix);
		errkey = FormErrorKey(st->key, st->keylen);
		if (n > 0 && want != FK_STRING)
			pr_error(ERRCODE_INVALID_PARAMETER_VALUE, NULL, errkey,
					 "form key \"%s\" has an array index out of order: expected %d or %d",
					 errkey, n - 1, n);
		pr_error(ERRCODE_INVALID_PARAMETER_VALUE, NULL, errkey,
				 "form key \"%s\" has an array index out of order: expected %d",
				 errkey, n);
	}

	if (n == array->maxelems)
	{
		array->maxelems = (n == 0) ? 4 : n * 2;
		if (array->elems == NULL)
			array->elems = palloc(array->maxelems * sizeof(FormNode *));
		else
			array->elems = repalloc(array->elems,
									array->maxelems * sizeof(FormNode *));
	}
	child = FormNewNode(st, want);
	array->elems[array->nelems++] = child;
	return child;
}

/*
 * What a bracket part asks its parent slot to hold: an array for "[]" and
 * for an index, a hash for any other name.
 */
static FormKind
FormPartKind(const char *seg, int len)
{
	int			i;

	for (i = 0; i < len; i++)
	{
		if (seg[i] < '0' || seg[i] > '9')
			return FK_HASH;
	}
	return FK_ARRAY;
}

/*
 * Add one "key=value" pair (still encoded) to the tree.  The key is a name
 * followed by bracket parts, "a[b][]" or "a[0][c]"; a bracket inside a part,
 * text after a "]" or an empty name is malformed.
 */
static void
FormAddPair(FormState *st, const char *rawkey, int rawkeylen,
			const char *rawval, int rawvallen)
{
	const char *parts[PR_FORM_MAX_DEPTH];
	int			partlens[PR_FORM_MAX_DEPTH];
	int			nparts = 0;
	char	   *key;
	int			keylen;
	char	   *val;
	int			vallen;
	int			baselen;
	const char *p;
	FormNode   *cur;
	const char *slot;
	int			slotlen;
	int			level;

	key = FormDecodeText(rawkey, rawkeylen, "form key", NULL, 0, &keylen);
	if (keylen == 0)
		pr_error(ERRCODE_INVALID_PARAMETER_VALUE, NULL, NULL,
				 "form body has a pair with an empty key");
	val = FormDecodeText(rawval, rawvallen, "the value of form key",
						 key, keylen, &vallen);

	/* the name, then "[part]" after "[part]" up to the end */
	baselen = strcspn(key, "[]");
	if (baselen == 0 || key[baselen] == ']')
	{
		char	   *errkey = FormErrorKey(key, keylen);

		pr_error(ERRCODE_INVALID_PARAMETER_VALUE, NULL, errkey,
				 "malformed form key \"%s\"", errkey);
	}
	for (p = key + baselen; *p != '\0';)
	{
		const char *close;

		close = (*p == '[') ? strpbrk(p + 1, "[]") : NULL;
		if (close == NULL || *close != ']')
		{
			char	   *errkey = FormErrorKey(key, keylen);

			pr_error(ERRCODE_INVALID_PARAMETER_VALUE, NULL, errkey,
					 "malformed form key \"%s\"", errkey);
		}
		if (nparts == PR_FORM_MAX_DEPTH)
		{
			char	   *errkey = FormErrorKey(key, keylen);

			pr_error(ERRCODE_INVALID_PARAMETER_VALUE, NULL, errkey,
					 "form key \"%s\" is nested more than %d levels deep",
					 errkey, PR_FORM_MAX_DEPTH);
		}
		parts[nparts] = p + 1;
		partlens[nparts] = close - (p + 1);
		nparts++;
		p = close + 1;
	}

	/*
	 * Walk down from the root: at each level the slot (the name, then each
	 * part) of the current container holds the container the next part
	 * asks for, and the last slot holds the value.
	 */
	st->key = key;
	st->keylen = keylen;
	cur = st->root;
	slot = key;
	slotlen = baselen;
	for (level = 0; level <= nparts; level++)
	{
		FormKind	want;
		int			prefix;
		FormNode   *child;

		want = (level == nparts) ? FK_STRING :
			FormPartKind(parts[level], partlens[level]);

		/*
		 * metadata is a hash in every endpoint's schema, whatever its keys
		 * look like: "metadata[0]=zero" (how SDKs send {0: "zero"}) is the
		 * key "0", not an array element.
		 */
		if (level == 0 && want == FK_ARRAY && partlens[0] > 0 &&
			baselen == 8 && memcmp(key, "metadata", 8) == 0)
			want = FK_HASH;
		/* the key up to and including this slot, for conflict messages */
		prefix = (slot - key) + slotlen + (level > 0 ? 1 : 0);
		if (cur->kind == FK_HASH)
			child = FormHashSlot(st, cur, slot, slotlen, want, prefix);
		else
			child = FormArraySlot(st, cur, slot, slotlen, want, prefix);
		if (level == nparts)
		{
			child->str = val;
			child->len = vallen;
		}
		else
		{
			cur = child;
			slot = parts[level];
			slotlen = partlens[level];
		}
	}
}

/* Push a node, and what it holds, to the builder. */
static void
FormEmit(PrJson *j, FormNode *n)
{
	FormNode   *c;
	int			i;

	check_stack_depth();
	switch (n->kind)
	{
		case FK_STRING:
			pj_string_len(j, n->str, n->len);
			break;
		case FK_HASH:
			pj_begin_object(j);
			for (c = n->first; c != NULL; c = c->next)
			{
				pj_key_len(j, c->key, c->keylen);
				FormEmit(j, c);
			}
			pj_end_object(j);
			break;
		case FK_ARRAY:
			pj_begin_array(j);
			for (i = 0; i < n->nelems; i++)
				FormEmit(j, n->elems[i]);
			pj_end_array(j);
			break;
	}
}

/*
 * Split the body on "&" (empty pairs, as in "a=1&&b=2&", are skipped) and
 * each pair on its first "=", add every pair to the tree, then build the
 * jsonb object.  A pair without "=" is an error rather than a guess.
 */
Jsonb *
pr_form_decode(const char *body, int len)
{
	FormState	st;
	HASHCTL		ctl;
	const char *p = body;
	const char *end = body + len;
	PrJson		j;

	memset(&st, 0, sizeof(st));
	st.root = FormNewNode(&st, FK_HASH);

	memset(&ctl, 0, sizeof(ctl));
	ctl.keysize = sizeof(FormSlotKey);
	ctl.entrysize = sizeof(FormSlot);
	ctl.hash = FormSlotHash;
	ctl.match = FormSlotMatch;
	ctl.hcxt = CurrentMemoryContext;
	st.slots = hash_create("payment_records form keys", 64, &ctl,
						   HASH_ELEM | HASH_FUNCTION | HASH_COMPARE | HASH_CONTEXT);

	while (p < end)
	{
		const char *amp = memchr(p, '&', end - p);
		const char *pair_end = (amp != NULL) ? amp : end;

		CHECK_FOR_INTERRUPTS();
		if (pair_end > p)
		{
			const char *eq = memchr(p, '=', pair_end - p);

			if (eq == NULL)
			{
				char	   *errkey = FormErrorKey(p, pair_end - p);

				pr_error(ERRCODE_INVALID_PARAMETER_VALUE, NULL, errkey,
						 "form key \"%s\" is not followed by \"=\"", errkey);
			}
			FormAddPair(&st, p, eq - p, eq + 1, pair_end - (eq + 1));
		}
		if (amp == NULL)
			break;
		p = amp + 1;
	}

	pj_init(&j);
	FormEmit(&j, st.root);
	hash_destroy(st.slots);
	return pj_finish(&j);
}

/*
 * form_to_jsonb(body text) returns jsonb: SQL access to pr_form_decode(),
 * so that the curl examples in Stripe's docs can be replayed verbatim.
 */
Datum
payment_records_form_to_jsonb(PG_FUNCTION_ARGS)
{
	text	   *body = PG_GETARG_TEXT_PP(0);

	PG_RETURN_JSONB_P(pr_form_decode(VARDATA_ANY(body),
									 VARSIZE_ANY_EXHDR(body)));
}
