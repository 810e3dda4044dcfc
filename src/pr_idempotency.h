/*-------------------------------------------------------------------------
 * pr_idempotency.h
 *		Idempotency keys (README, contract clause C6).
 *-------------------------------------------------------------------------
 */
#ifndef PR_IDEMPOTENCY_H
#define PR_IDEMPOTENCY_H

#include "common/sha2.h"
#include "utils/elog.h"
#include "utils/jsonb.h"

typedef struct PrIdem
{
	bool		active;			/* a key was given */
	bool		livemode;
	char	   *key;
	const char *endpoint;		/* SQL function name, e.g. "report_refund" */
	uint8		hash[PG_SHA256_DIGEST_LENGTH];	/* of endpoint, id, params */
} PrIdem;


/*
 * Inside SPI, after validation: claim the key for this transaction (or
 * raise idempotency_key_in_use without waiting) and look it up.  Returns
 * the stored response to replay, or NULL when the call must execute;
 * re-raises a stored error; raises idempotency_error on a mismatch.
 * With key NULL it does nothing and returns NULL.
 */
extern Jsonb *pr_idem_begin(PrIdem *idem, const char *endpoint, const char *id,
							Jsonb *params, const char *key);

/* Store the response of an executed call, in the same transaction. */
extern void pr_idem_finish(PrIdem *idem, Jsonb *response);

/*
 * For request(), which turns errors into bodies and goes on: after the
 * failed call's subtransaction is rolled back, store its business error
 * under the key so a retry replays it.  Validation errors and
 * idempotency errors are not stored.
 */
extern void pr_idem_store_error(const char *endpoint, const char *id, Jsonb *params,
								const char *key, ErrorData *edata);

#endif							/* PR_IDEMPOTENCY_H */
