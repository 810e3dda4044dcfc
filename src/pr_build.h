/*-------------------------------------------------------------------------
 * pr_build.h
 *		Rendering of Stripe objects (README, contract clause C3) from
 *		stored rows.
 *-------------------------------------------------------------------------
 */
#ifndef PR_BUILD_H
#define PR_BUILD_H

#include "pr_json.h"
#include "pr_store.h"

/* payment_record object of a record and its latest attempt */
extern Jsonb *pr_build_record(PrRecord *rec);

/* payment_attempt_record object of one attempt of rec */
extern Jsonb *pr_build_attempt(PrRecord *rec, PrAttempt *a);

/* push the same objects into an enclosing builder (lists) */
extern void pr_push_record(PrJson *j, PrRecord *rec);
extern void pr_push_attempt(PrJson *j, PrRecord *rec, PrAttempt *a);

#endif							/* PR_BUILD_H */
