/*-------------------------------------------------------------------------
 * pr_build.c
 *		payment_record and payment_attempt_record objects, every key present.
 *
 * Details are stored as the caller sent them (validated); here they are
 * rendered in Stripe's full shape: a hash that was sent gets all of its
 * keys, null where not sent, and an address inside details is never null.
 * The record shows its latest attempt's buckets and details (README,
 * contract clause C5).
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "pr_build.h"
#include "pr_time.h"

/* How a key of a details hash is rendered when it was not sent. */
#define SH_NULL			0		/* null */
#define SH_OMIT			1		/* key left out ("custom" hashes) */
#define SH_EMPTY_SHAPE	2		/* the sub-shape with every key null */

typedef struct PrShape
{
	const char *key;			/* NULL ends a shape */
	const struct PrShape *sub;	/* hash rendered by this shape, or NULL */
	int			absent;
	const char *dflt;			/* string shown when not sent, or NULL */
} PrShape;

/*
 * Keys are listed, and pushed below, in jsonb's storage order -- shorter
 * keys first, then bytewise -- because pushJsonbValue sorts every object
 * it closes: an object already in order is sorted in one pass, while a
 * shuffled one cost a tenth of report_payment's CPU.  Only speed depends
 * on it: any order gives the same jsonb.
 */
static const PrShape address_shape[] = {
	{"city"}, {"line1"}, {"line2"}, {"state"}, {"country"}, {"postal_code"}, {NULL}
};
static const PrShape billing_shape[] = {
	{"name"}, {"email"}, {"phone"}, {"address", address_shape, SH_EMPTY_SHAPE}, {NULL}
};
static const PrShape customer_shape[] = {
	{"name"}, {"email"}, {"phone"}, {"customer"}, {NULL}
};
static const PrShape shipping_shape[] = {
	{"name"}, {"phone"}, {"address", address_shape, SH_EMPTY_SHAPE}, {NULL}
};
/*
 * Stripe documents payment_method_details.type and custom.display_name as
 * non-null strings: "custom" (the only type this API takes) when no type
 * was sent, and "Custom" when no display name was (README, Decisions).
 */
static const PrShape pm_custom_shape[] = {
	{"type"}, {"display_name", NULL, SH_NULL, "Custom"}, {NULL}
};
static const PrShape payment_method_shape[] = {
	{"type", NULL, SH_NULL, "custom"},
	{"custom", pm_custom_shape, SH_OMIT},
	{"payment_method"},
	{"billing_details", billing_shape, SH_NULL},
	{NULL}
};
static const PrShape processor_custom_shape[] = {{"payment_reference"}, {NULL}};
static const PrShape processor_shape[] = {
	{"type"}, {"custom", processor_custom_shape, SH_OMIT}, {NULL}
};

/*
 * Push stored hash c (NULL: not sent) as an object with exactly the keys
 * of shape, in its order; an absent key is left out, null, a default or
 * an empty nested shape, as its entry says.
 */
static void
push_shape(PrJson *j, JsonbContainer *c, const PrShape *shape)
{
	const PrShape *s;
	JsonbValue	buf;
	JsonbValue *v;

	pj_begin_object(j);
	for (s = shape; s->key; s++)
	{
		v = c ? pj_get_container(c, s->key, &buf) : NULL;
		if (v == NULL && s->absent == SH_OMIT)
			continue;
		pj_key(j, s->key);
		if (v == NULL || v->type == jbvNull)
		{
			if (s->sub && s->absent == SH_EMPTY_SHAPE)
				push_shape(j, NULL, s->sub);
			else if (s->dflt != NULL)
				pj_string(j, s->dflt);
			else
				pj_null(j);
		}
		else if (s->sub && v->type == jbvBinary)
			push_shape(j, v->val.binary.data, s->sub);
		else
			pj_value(j, v);
	}
	pj_end_object(j);
}

/* Push key with a stored details hash rendered by shape, or null. */
static void
push_details(PrJson *j, const char *key, Jsonb *stored, const PrShape *shape)
{
	pj_key(j, key);
	if (stored == NULL)
		pj_null(j);
	else
		push_shape(j, &stored->root, shape);
}

/*
 * A record or an attempt: the two share every key but the one that links
 * them ("latest_payment_attempt_record" of a record, "payment_record" of
 * an attempt).  Keys in storage order, see above.
 */
static void
push_object(PrJson *j, const char *object, const char *id, const char *link,
			PrRecord *rec, PrAttempt *a, TimestampTz created, int64 refunded)
{
	bool		is_attempt = strcmp(object, "payment_attempt_record") == 0;
	bool		guaranteed = a->status == PR_STATUS_GUARANTEED;

	pj_begin_object(j);
	pj_key(j, "id");
	pj_string(j, id);
	pj_amount(j, "amount", rec->currency, rec->amount);
	pj_key(j, "object");
	pj_string(j, object);
	pj_key(j, "created");
	pj_int(j, PR_UNIX_FROM_TS(created));
	pj_key(j, "livemode");
	pj_bool(j, rec->livemode);
	pj_key(j, "metadata");
	if (a->metadata)
		pj_jsonb(j, a->metadata);
	else
	{
		pj_begin_object(j);
		pj_end_object(j);
	}
	pj_key(j, "application");
	pj_null(j);
	pj_key(j, "description");
	pj_string_or_null(j, a->description);
	pj_key(j, "reported_by");
	pj_string(j, "self");
	pj_amount(j, "amount_failed", rec->currency,
			  a->status == PR_STATUS_FAILED ? rec->amount : 0);
	if (is_attempt)
	{
		pj_key(j, "payment_record");
		pj_string(j, link);
	}
	pj_amount(j, "amount_canceled", rec->currency,
			  a->status == PR_STATUS_CANCELED ? rec->amount : 0);
	pj_amount(j, "amount_refunded", rec->currency, refunded);
	pj_amount(j, "amount_requested", rec->currency, rec->amount);
	push_details(j, "customer_details", a->customer_details, customer_shape);
	push_details(j, "shipping_details", a->shipping_details, shipping_shape);
	pj_amount(j, "amount_authorized", rec->currency, guaranteed ? rec->amount : 0);
	pj_amount(j, "amount_guaranteed", rec->currency, guaranteed ? rec->amount : 0);
	pj_key(j, "customer_presence");
	pj_string_or_null(j, a->customer_presence);
	pj_key(j, "processor_details");
	if (a->processor_details)
		push_shape(j, &a->processor_details->root, processor_shape);
	else
	{
		/* not sent: a custom processor with nothing more to say */
		pj_begin_object(j);
		pj_key(j, "type");
		pj_string(j, "custom");
		pj_end_object(j);
	}
	push_details(j, "payment_method_details", a->payment_method_details,
				 payment_method_shape);
	if (!is_attempt)
	{
		pj_key(j, "latest_payment_attempt_record");
		pj_string(j, link);
	}
	pj_end_object(j);
}

/* Push a payment_record object for rec, as of its latest attempt. */
void
pr_push_record(PrJson *j, PrRecord *rec)
{
	push_object(j, "payment_record", rec->id, rec->latest.id, rec, &rec->latest,
				rec->created, rec->refunded);
}

/*
 * Refunds are only possible while the guaranteed attempt is the latest
 * (and it stays the latest for good), so the refund total belongs to the
 * guaranteed attempt and every other attempt shows 0 refunded.
 */
void
pr_push_attempt(PrJson *j, PrRecord *rec, PrAttempt *a)
{
	push_object(j, "payment_attempt_record", a->id, rec->id, rec, a, a->created,
				a->status == PR_STATUS_GUARANTEED ? rec->refunded : 0);
}

/* A payment_record object for rec, as a jsonb document. */
Jsonb *
pr_build_record(PrRecord *rec)
{
	PrJson		j;

	pj_init(&j);
	pr_push_record(&j, rec);
	return pj_finish(&j);
}

/* A payment_attempt_record object for attempt a of rec, as a jsonb. */
Jsonb *
pr_build_attempt(PrRecord *rec, PrAttempt *a)
{
	PrJson		j;

	pj_init(&j);
	pr_push_attempt(&j, rec, a);
	return pj_finish(&j);
}
