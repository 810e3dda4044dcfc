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
#include "executor/spi.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/timestamp.h"

#include "pr_errors.h"
#include "pr_idempotency.h"
#include "pr_json.h"
#include "pr_locks.h"
#include "pr_module.h"
#include "pr_store.h"


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
	if (TimestampDifferenceExceeds(stored.created, GetCurrentTimestamp(),
								   pr_idempotency_retention * 1000))
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

void
pr_idem_finish(PrIdem *idem, Jsonb *response)
{
	if (idem->active)
		pr_store_idem_put(idem->livemode, idem->key, idem->endpoint, idem->hash,
						  response, NULL);
}

/* business errors, the ones a retry must see again */
static bool
is_stored_error(int sqlerrcode)
{
	return sqlerrcode == ERRCODE_NO_DATA_FOUND ||
		sqlerrcode == ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE ||
		sqlerrcode == ERRCODE_CHECK_VIOLATION ||
		sqlerrcode == ERRCODE_UNIQUE_VIOLATION;
}

void
pr_idem_store_error(const char *endpoint, const char *id, Jsonb *params,
					const char *key, ErrorData *edata)
{
	PrIdem		idem;
	PrStoredKey stored;
	PrJson		j;

	if (key == NULL || !is_stored_error(edata->sqlerrcode))
		return;

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	memset(&idem, 0, sizeof(idem));
	idem.livemode = pr_caller_livemode();
	idem.key = pstrdup(key);
	idem.endpoint = endpoint;
	hash_request(&idem, id, params);
	claim_key(&idem);
	if (!pr_store_idem_get(idem.livemode, idem.key, &stored))
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
		pr_store_idem_put(idem.livemode, idem.key, endpoint, idem.hash, NULL,
						  pj_finish(&j));
	}
	if (SPI_finish() != SPI_OK_FINISH)
		elog(ERROR, "SPI_finish failed");
}

PG_FUNCTION_INFO_V1(payment_records_idempotency_expiry);

/*
 * idempotency_expiry() -> timestamptz: keys created before this have
 * expired (now minus payment_records.idempotency_retention).  The purge
 * reads the retention here, as this module validated it, never as text
 * from current_setting(), which would take a placeholder set before the
 * module was loaded.
 */
Datum
payment_records_idempotency_expiry(PG_FUNCTION_ARGS)
{
	TimestampTz now = GetCurrentTransactionStartTimestamp();

	PG_RETURN_TIMESTAMPTZ(now - (TimestampTz) pr_idempotency_retention * USECS_PER_SEC);
}
