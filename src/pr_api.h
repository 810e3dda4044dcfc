/*-------------------------------------------------------------------------
 * pr_api.h
 *		Helpers shared by the SQL-callable API functions.
 *-------------------------------------------------------------------------
 */
#ifndef PR_API_H
#define PR_API_H

#include "fmgr.h"
#include "utils/jsonb.h"

#include "pr_compat.h"
#include "pr_idempotency.h"
#include "pr_store.h"

/* The id argument as a C string; NULL raises parameter_missing "id". */
extern char *pr_arg_id(FunctionCallInfo fcinfo, int argno);

/* The params argument (NULL when SQL NULL). */
extern Jsonb *pr_arg_params(FunctionCallInfo fcinfo, int argno);

/* The idempotency key argument, checked (NULL when absent). */
extern char *pr_arg_idempotency_key(FunctionCallInfo fcinfo, int argno);

/* A timestamp parameter (unix seconds) at tree[key] or tree[key][sub]. */
extern bool pr_ts_param(JsonbValue *tree, const char *key, const char *sub,
						TimestampTz *out);

/*
 * Start a write: SPI_connect(), then the idempotency key (if any).
 * Returns the stored response when this is a replay (already copied out
 * of SPI and SPI finished: return it as is), else NULL.
 */
extern Jsonb *pr_write_begin(PrIdem *idem, const char *endpoint, const char *id,
							 Jsonb *params, const char *key);

/*
 * End a write: store the response under the key, append the change event
 * (event_object, or the response when NULL), copy the response out of SPI.
 */
extern Jsonb *pr_write_finish(PrIdem *idem, const char *event_type, bool livemode,
							  Jsonb *response, Jsonb *event_object);

/* Lock a record for a write and read its state; raises resource_missing. */
extern void pr_lock_record_for_write(const char *id, PrRecord *rec);

/* raise resource_missing for an id of a kind ("payment_record", ...) */
pg_noreturn extern void pr_raise_missing(const char *kind, const char *id, const char *param);

#endif							/* PR_API_H */
