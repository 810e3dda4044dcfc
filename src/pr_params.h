/*-------------------------------------------------------------------------
 * pr_params.h
 *		Schema-driven validation of request parameters.
 *
 * Each endpoint describes its parameters as a static table of PrField
 * (pr_schemas.c).  pr_validate() walks the request jsonb once, against the
 * table, and returns a normalized in-memory tree: currencies lower-cased,
 * integers given as strings turned into numbers, metadata values turned
 * into strings, "expand" dropped.  Every schema is closed: a key that is
 * not in the table is an error.  Cross-field rules (outcome vs. hashes,
 * refund amount vs. record) are the endpoint's job.
 *-------------------------------------------------------------------------
 */
#ifndef PR_PARAMS_H
#define PR_PARAMS_H

#include "utils/jsonb.h"

#include "pr_status.h"

typedef enum PrKind
{
	PK_STRING,					/* non-empty, non-blank, <= max_len characters */
	PK_EMAIL,					/* a string <= 800 with one '@' */
	PK_ENUM,					/* one of values[] */
	PK_TIMESTAMP,				/* integer unix seconds */
	PK_INTEGER,					/* integer within [min, max] (list limit) */
	PK_OBJECT,					/* closed hash of fields[] */
	PK_AMOUNT,					/* {currency, value} checked together */
	PK_METADATA,				/* Stripe metadata, "" unsets all */
	PK_EXPAND					/* array of strings, accepted and dropped */
} PrKind;

/* flags */
#define PF_REQUIRED		0x01
#define PF_UNSETTABLE	0x02	/* "" (or null) is accepted and means unset */

typedef struct PrField
{
	const char *name;			/* NULL ends a table */
	PrKind		kind;
	int			flags;
	const struct PrField *fields;	/* PK_OBJECT: its keys */
	const char *const *values;	/* PK_ENUM: NULL-terminated */
	int64		min;			/* PK_INTEGER bounds */
	int64		max;
} PrField;

#define PR_MAX_STRING		5000
#define PR_MAX_EMAIL		800
#define PR_MAX_META_KEYS	50
#define PR_MAX_META_KEY		40
#define PR_MAX_META_VALUE	500
#define PR_MAX_IDEMPOTENCY_KEY 255
#define PR_MAX_TIMESTAMP	INT64CONST(253402300799)	/* 9999-12-31 */

/*
 * Validate params (NULL counts as {}) against a schema; returns a jbvObject
 * tree whose unset-able values that were unset are jbvNull.
 */
extern JsonbValue *pr_validate(Jsonb *params, const PrField *schema);

/* Parse an integer given as a JSON number or a decimal string. */
extern bool pr_parse_int64(JsonbValue *v, int64 *out);

/* Field accessors on a validated tree (NULL / default when absent). */
extern JsonbValue *pr_field(JsonbValue *tree, const char *name);
extern char *pr_field_string(JsonbValue *tree, const char *name);
extern bool pr_field_int(JsonbValue *tree, const char *name, int64 *out);
extern Jsonb *pr_field_jsonb(JsonbValue *tree, const char *name);

/*
 * Apply a validated metadata update (jbvObject with jbvNull for removals,
 * or jbvString "" for "remove all") to stored metadata (may be NULL).
 * Returns NULL for an empty result.  Raises the 50-key limit error.
 */
extern Jsonb *pr_metadata_merge(Jsonb *stored, JsonbValue *update);

/*
 * The rules that report_payment and report_payment_attempt share: outcome
 * against the guaranteed / failed / canceled hashes, which gives the new
 * attempt's status; payment_method_details needs a payment_method or type.
 */
extern PrStatus pr_check_outcome(JsonbValue *tree);
extern void pr_check_payment_method(JsonbValue *tree);

#endif							/* PR_PARAMS_H */
