/*-------------------------------------------------------------------------
 * pr_form.h
 *		Decoding of application/x-www-form-urlencoded bodies with Stripe's
 *		bracket nesting into the params jsonb of the API functions.
 *
 * Used by form_to_jsonb() and by request() for the query string of a
 * path.  Every malformed input is an ERRCODE_INVALID_PARAMETER_VALUE
 * error naming the offending key in the column-name field.
 *-------------------------------------------------------------------------
 */
#ifndef PR_FORM_H
#define PR_FORM_H

#include "utils/jsonb.h"

/* deepest nesting accepted: a[1][2]...[16] */
#define PR_FORM_MAX_DEPTH	16

/*
 * Decode len bytes of a form body (in the server encoding, not necessarily
 * NUL-terminated) into a jsonb object whose leaves are all strings.
 */
extern Jsonb *pr_form_decode(const char *body, int len);

#endif							/* PR_FORM_H */
