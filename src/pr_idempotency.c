/*-------------------------------------------------------------------------
 * pr_idempotency.c
 *		Idempotency keys: replay, mismatch, in-use, retention.
 *
 * A key belongs to a mode.  The first call that executes under it stores
 * its response, with the endpoint and a SHA-256 of (endpoint, id, params),
 * in payment_records.idempotency_key in the same transaction as its write,
 * so the two commit or vanish together.  A retry with the same request
 * gets the stored jsonb back unchanged and writes nothing; any other
 * request under the key is an idempotency_error.
 *
 * Concurrent use: before looking a key up, the call takes a transaction
 * advisory lock on the key's hash without waiting.  If another
 * transaction holds it, that call has not finished, and this one gets
 * idempotency_key_in_use (55P03) at once instead of blocking behind it.
 * The lock class is our own (field4 below), so it never collides with
 * the application's pg_advisory_lock() numbers.
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "common/cryptohash.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/timestamp.h"

#include "pr_catalog.h"
#include "pr_errors.h"
#include "pr_idempotency.h"
#include "pr_json.h"
#include "pr_locks.h"
#include "pr_mode.h"
#include "pr_settings.h"
#include "pr_spi.h"
#include "pr_store.h"


/*
 * SHA-256 of the request -- endpoint, id and params' text -- into
 * idem->hash, to tell a retry from another request under the same key.
 */
static void
hash_request(PrIdem *idem, const char *id, Jsonb *params)
{
	pg_cryptohash_ctx *ctx = pg_cryptohash_create(PG_SHA256);
	char	   *text = params ? JsonbToCString(NULL, &params->root, VARSIZE(params)) : "";

	if (pg_cryptohash_init(ctx) < 0 ||
		pg_cryptohash_update(ctx, (const uint8 *) idem->endpoint, strlen(idem->endpoint) + 1) < 0 ||
		pg_cryptohash_update(ctx, (const uint8 *) (id ? id : ""), strlen(id ? id : "") + 1) < 0 ||
		pg_cryptohash_update(ctx, (const uint8 *) text, strlen(text)) < 0 ||
		pg_cryptohash_final(ctx, idem->hash, sizeof(idem->hash)) < 0)
		elog(ERROR, "could not compute the idempotency hash");
	pg_cryptohash_free(ctx);
}

/* Take the key's lock for this transaction, or fail at once. */
static void
claim_key(PrIdem *idem)
{
	if (!pr_lock_value(PR_LOCK_IDEMPOTENCY_KEY, idem->livemode, idem->key, false))
		pr_error(ERRCODE_LOCK_NOT_AVAILABLE, PR_CODE_IDEM_IN_USE, "idempotency_key",
				 "idempotency key is in use by another request that has not finished");
}

/* Raise a stored error again, exactly as it was first raised. */
static void
reraise(Jsonb *error)
{
	JsonbValue	b1,
				b2,
				b3,
				b4;
	JsonbValue *st = pj_get_container(&error->root, "sqlstate", &b1);
	JsonbValue *msg = pj_get_container(&error->root, "message", &b2);
	char	   *param = pj_cstring(pj_get_container(&error->root, "param", &b3));
	char	   *code = pj_cstring(pj_get_container(&error->root, "code", &b4));
	char	   *s = pj_cstring(st);

	ereport(ERROR,
			(errcode(MAKE_SQLSTATE(s[0], s[1], s[2], s[3], s[4])),
			 errmsg_internal("%s", pj_cstring(msg)),
			 pr_errstripe(code),
			 pr_errparam(param)));
}

/*
 * Set up idem for a call under key (NULL: none) and claim the key.
 * Returns the stored response when this is a retry; NULL to execute.
 * Raises the stored error of a retried failed call, and an error when
 * the key was used for another request.
 */
Jsonb *
pr_idem_begin(PrIdem *idem, const char *endpoint, const char *id, Jsonb *params,
			  const char *key)
{
	PrStoredKey stored;

	memset(idem, 0, sizeof(*idem));
	if (key == NULL)
		return NULL;
	idem->active = true;
	idem->livemode = pr_caller_livemode();
	idem->key = pstrdup(key);
	idem->endpoint = endpoint;
	hash_request(idem, id, params);
	claim_key(idem);

	if (!pr_store_idem_get(idem->livemode, idem->key, &stored))
		return NULL;

	/* expired: forget it and execute as new */
	if (stored.created < pr_idempotency_expiry())
	{
		pr_store_idem_delete(idem->livemode, idem->key);
		return NULL;
	}
	if (strcmp(stored.endpoint, endpoint) != 0 ||
		memcmp(stored.hash, idem->hash, sizeof(idem->hash)) != 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("idempotency key was already used with other parameters or another endpoint"),
				 errdetail_internal("%s", PR_TYPE_IDEMPOTENCY),
				 pr_errparam("idempotency_key")));
	if (stored.error != NULL)
		reraise(stored.error);
	idem->active = false;		/* a replay stores nothing */
	return stored.response;
}

/* Store the response of a call that executed under its key, if any. */
void
pr_idem_finish(PrIdem *idem, Jsonb *response)
{
	if (idem->active)
		pr_store_idem_put(idem->livemode, idem->key, idem->endpoint, idem->hash,
						  response, NULL);
}

/*
 * Business errors, the ones a retry must see again: those the API raised
 * itself about the request and the state it found.  An error raised by a
 * constraint or a trigger (it names a table or a constraint) says that
 * something went wrong inside, not what the request deserves, so a retry
 * must execute again rather than replay it.
 */
static bool
is_stored_error(ErrorData *edata)
{
	return (edata->sqlerrcode == ERRCODE_NO_DATA_FOUND ||
			edata->sqlerrcode == ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE ||
			edata->sqlerrcode == ERRCODE_CHECK_VIOLATION ||
			edata->sqlerrcode == ERRCODE_UNIQUE_VIOLATION) &&
		edata->table_name == NULL && edata->constraint_name == NULL;
}

static void store_error(PrIdem *idem, const char *endpoint, ErrorData *edata);

/*
 * For request(): store a failed call's business error under its key (see
 * pr_idempotency.h).
 */
void
pr_idem_store_error(const char *endpoint, const char *id, Jsonb *params,
					const char *key, ErrorData *edata)
{
	PrIdem		idem;
	Oid			save_userid;
	int			save_sec;

	if (key == NULL || !is_stored_error(edata))
		return;

	memset(&idem, 0, sizeof(idem));
	idem.livemode = pr_caller_livemode();
	idem.key = pstrdup(key);
	idem.endpoint = endpoint;
	hash_request(&idem, id, params);

	/*
	 * request() is not SECURITY DEFINER: store the error as the extension's
	 * owner, as the write function itself would have stored its answer (the
	 * table is the extension's alone; callers cannot write it), switching
	 * the user as a SECURITY DEFINER call does.
	 */
	GetUserIdAndSecContext(&save_userid, &save_sec);
	SetUserIdAndSecContext(pr_ext_owner(), save_sec | SECURITY_LOCAL_USERID_CHANGE);
	PG_TRY();
	{
		store_error(&idem, endpoint, edata);
	}
	PG_FINALLY();
	{
		SetUserIdAndSecContext(save_userid, save_sec);
	}
	PG_END_TRY();
}

/* Store a business error under a key not yet used (as the owner). */
static void
store_error(PrIdem *idem, const char *endpoint, ErrorData *edata)
{
	PrStoredKey stored;
	PrJson		j;

	pr_spi_connect();
	claim_key(idem);
	if (!pr_store_idem_get(idem->livemode, idem->key, &stored))
	{
		pj_init(&j);
		pj_begin_object(&j);
		pj_key(&j, "sqlstate");
		pj_string(&j, unpack_sql_state(edata->sqlerrcode));
		pj_key(&j, "message");
		pj_string(&j, edata->message ? edata->message : "");
		if (edata->column_name)
		{
			pj_key(&j, "param");
			pj_string(&j, edata->column_name);
		}
		if (edata->detail)
		{
			pj_key(&j, "code");
			pj_string(&j, edata->detail);
		}
		pj_end_object(&j);
		pr_store_idem_put(idem->livemode, idem->key, endpoint, idem->hash, NULL,
						  pj_finish(&j));
	}
	pr_spi_finish();
}

PG_FUNCTION_INFO_V1(payment_records_purge_idempotency_keys);

/*
 * purge_idempotency_keys(batch_size integer DEFAULT 1000) -> bigint:
 * delete the expired keys, batch_size rows per statement (no statement
 * holds many row locks or runs long; keys a concurrent call holds are
 * skipped), and return how many.  In C, so that the extension depends on
 * no procedural language that a DROP ... CASCADE could take with it.
 */
Datum
payment_records_purge_idempotency_keys(PG_FUNCTION_ARGS)
{
	int32		batch;
	TimestampTz cutoff = pr_idempotency_expiry();
	int64		total = 0;
	int64		n;

	if (PG_ARGISNULL(0) || PG_GETARG_INT32(0) < 1)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("batch_size must be at least 1")));
	batch = PG_GETARG_INT32(0);
	pr_spi_connect();
	do
	{
		n = pr_store_purge_keys(cutoff, batch);
		total += n;
	} while (n == batch);
	pr_spi_finish();
	PG_RETURN_INT64(total);
}
