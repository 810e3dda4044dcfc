/*-------------------------------------------------------------------------
 * pr_api.c
 *		Argument handling shared by every SQL-callable API function.
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "executor/spi.h"
#include "mb/pg_wchar.h"
#include "utils/builtins.h"

#include "pr_api.h"
#include "pr_errors.h"
#include "pr_events.h"
#include "pr_json.h"
#include "pr_mode.h"
#include "pr_params.h"
#include "pr_spi.h"
#include "pr_time.h"


/*
 * The record or attempt id argument as a C string; a NULL id is
 * parameter_missing for "id".
 */
char *
pr_arg_id(FunctionCallInfo fcinfo, int argno)
{
	if (PG_ARGISNULL(argno))
		pr_error(ERRCODE_INVALID_PARAMETER_VALUE, PR_CODE_MISSING, "id",
				 "missing required parameter \"id\"");
	return text_to_cstring(PG_GETARG_TEXT_PP(argno));
}

/* The params argument, or NULL when it is SQL NULL. */
Jsonb *
pr_arg_params(FunctionCallInfo fcinfo, int argno)
{
	if (PG_ARGISNULL(argno))
		return NULL;
	return PG_GETARG_JSONB_P(argno);
}

/*
 * The optional idempotency key argument, or NULL when absent or NULL.  An
 * empty key, or one over PR_MAX_IDEMPOTENCY_KEY characters, is an error.
 */
char *
pr_arg_idempotency_key(FunctionCallInfo fcinfo, int argno)
{
	text	   *t;
	char	   *key;

	if (PG_NARGS() <= argno || PG_ARGISNULL(argno))
		return NULL;
	t = PG_GETARG_TEXT_PP(argno);
	key = text_to_cstring(t);
	if (key[0] == '\0')
		pr_error(ERRCODE_INVALID_PARAMETER_VALUE, PR_CODE_EMPTY, "idempotency_key",
				 "idempotency key must not be empty");
	if (pg_mbstrlen(key) > PR_MAX_IDEMPOTENCY_KEY)
		pr_error(ERRCODE_INVALID_PARAMETER_VALUE, NULL, "idempotency_key",
				 "idempotency key must be at most %d characters",
				 PR_MAX_IDEMPOTENCY_KEY);
	return key;
}

/*
 * Read tree[key] (or tree[key][sub]), unix seconds, into *out.  Returns
 * false, leaving *out alone, when it is absent or not a number.
 */
bool
pr_ts_param(JsonbValue *tree, const char *key, const char *sub, TimestampTz *out)
{
	JsonbValue *v = pj_get(tree, key);

	if (v != NULL && sub != NULL)
		v = pj_get(v, sub);
	if (v == NULL || v->type != jbvNumeric)
		return false;
	*out = PR_TS_FROM_UNIX(pj_int_value(v));
	return true;
}

/* longest id quoted in a resource_missing message (ids are 27 or 28) */
#define PR_MAX_ECHOED_ID	64

/*
 * Raise resource_missing for a kind ("payment_record", ...) and id, blamed
 * on param.  The id is quoted back unless it is implausibly long.
 */
void
pr_raise_missing(const char *kind, const char *id, const char *param)
{
	/* an id far longer than any is not echoed back */
	if (strlen(id) > PR_MAX_ECHOED_ID)
		pr_error(ERRCODE_NO_DATA_FOUND, PR_CODE_MISSING_RES, param,
				 "no such %s: the id is longer than %d bytes", kind, PR_MAX_ECHOED_ID);
	pr_error(ERRCODE_NO_DATA_FOUND, PR_CODE_MISSING_RES, param,
			 "no such %s: \"%s\"", kind, id);
	pg_unreachable();
}

/*
 * Lock the row of record id in the caller's mode and read it and its
 * latest attempt into *rec; an unknown id is resource_missing.
 */
void
pr_lock_record_for_write(const char *id, PrRecord *rec)
{
	if (!pr_store_lock_record(id, pr_caller_livemode(), rec))
		pr_raise_missing("payment_record", id, "id");
	pr_store_read_state(rec);
}

/*
 * Start a write: connect to SPI and look up the idempotency key.  Returns
 * a replayed response (SPI already finished), or NULL with SPI still
 * connected for the caller to do the write and then call pr_write_finish.
 */
Jsonb *
pr_write_begin(PrIdem *idem, const char *endpoint, const char *id, Jsonb *params,
			   const char *key)
{
	Jsonb	   *replay;

	pr_spi_connect();
	replay = pr_idem_begin(idem, endpoint, id, params, key);
	if (replay != NULL)
		return pr_spi_finish_jsonb(replay);
	return NULL;
}

/*
 * End a write begun by pr_write_begin: store response under the
 * idempotency key, emit event_type with event_object (default: the
 * response), and return the response copied out of SPI.
 */
Jsonb *
pr_write_finish(PrIdem *idem, const char *event_type, bool livemode,
				Jsonb *response, Jsonb *event_object)
{
	pr_idem_finish(idem, response);
	pr_event_emit(event_type, livemode, event_object ? event_object : response);
	return pr_spi_finish_jsonb(response);
}
