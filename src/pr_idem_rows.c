/*-------------------------------------------------------------------------
 * pr_idem_rows.c
 *		The rows of payment_records.idempotency_key: look up, store,
 *		forget, purge.
 *
 * Each statement is written out in full beside the function that runs it
 * (pr_spi.c prepares and keeps it).  The rules of idempotency -- the
 * lock, the hash, replay and mismatch -- are pr_idempotency.c's.
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "catalog/pg_type.h"
#include "common/sha2.h"
#include "utils/builtins.h"
#include "utils/timestamp.h"

#include "pr_spi.h"
#include "pr_store.h"

/* a stored key of a mode */
static PrStatement idem_get_sql = {
	"idem_get",
	"SELECT endpoint, request_hash, response, error, created"
	"  FROM payment_records.idempotency_key"
	" WHERE livemode OPERATOR(pg_catalog.=) $1 AND key OPERATOR(pg_catalog.=) $2",
	2, {BOOLOID, TEXTOID},
	PR_TABLE_BIT(PR_T_IDEMPOTENCY_KEY)
};

/* A stored idempotency key (latest snapshot: we hold the key's lock). */
bool
pr_store_idem_get(bool livemode, const char *key, PrStoredKey *out)
{
	Datum		v[2];
	bool		isnull;
	bytea	   *hash;
	PrRow		row;

	v[0] = BoolGetDatum(livemode);
	v[1] = CStringGetTextDatum(key);
	if (pr_spi_run(&idem_get_sql, v, NULL, true, SPI_OK_SELECT) == 0)
		return false;
	row = pr_spi_row(0);
	out->endpoint = pr_row_text(row, 1);
	hash = DatumGetByteaPP(pr_row_datum(row, 2, BYTEAOID, &isnull));
	memset(out->hash, 0, sizeof(out->hash));
	memcpy(out->hash, VARDATA_ANY(hash), Min(VARSIZE_ANY_EXHDR(hash), sizeof(out->hash)));
	out->response = pr_row_jsonb(row, 3);
	out->error = pr_row_jsonb(row, 4);
	out->created = DatumGetTimestampTz(pr_row_datum(row, 5, TIMESTAMPTZOID, &isnull));
	return true;
}

/* store a key with the answer to replay */
static PrStatement idem_put_sql = {
	"idem_put",
	"INSERT INTO payment_records.idempotency_key"
	"       (livemode, key, endpoint, request_hash, response, error, created)"
	" VALUES ($1, $2, $3, $4, $5, $6, $7)",
	7, {BOOLOID, TEXTOID, TEXTOID, BYTEAOID, JSONBOID, JSONBOID, TIMESTAMPTZOID},
	PR_TABLE_BIT(PR_T_IDEMPOTENCY_KEY)
};

/*
 * Store an idempotency key of mode livemode with its endpoint, request
 * hash, and either the response or the error to replay.
 */
void
pr_store_idem_put(bool livemode, const char *key, const char *endpoint,
				  const uint8 *hash, Jsonb *response, Jsonb *error)
{
	Datum		v[7];
	char		n[7];

	memset(n, ' ', sizeof(n));
	v[0] = BoolGetDatum(livemode);
	v[1] = CStringGetTextDatum(key);
	v[2] = CStringGetTextDatum(endpoint);
	v[3] = pr_spi_bytea_arg(hash, PG_SHA256_DIGEST_LENGTH);
	v[4] = pr_spi_jsonb_arg(response, n, 4);
	v[5] = pr_spi_jsonb_arg(error, n, 5);
	v[6] = TimestampTzGetDatum(GetCurrentTransactionStartTimestamp());
	if (pr_spi_run(&idem_put_sql, v, n, false, SPI_OK_INSERT) != 1)
		elog(ERROR, "idempotency key was not stored");
}

/* forget a key of a mode */
static PrStatement idem_delete_sql = {
	"idem_delete",
	"DELETE FROM payment_records.idempotency_key"
	" WHERE livemode OPERATOR(pg_catalog.=) $1 AND key OPERATOR(pg_catalog.=) $2",
	2, {BOOLOID, TEXTOID},
	PR_TABLE_BIT(PR_T_IDEMPOTENCY_KEY)
};

/* Forget an idempotency key (an expired one, before it is used anew). */
void
pr_store_idem_delete(bool livemode, const char *key)
{
	Datum		v[2];

	v[0] = BoolGetDatum(livemode);
	v[1] = CStringGetTextDatum(key);
	(void) pr_spi_run(&idem_delete_sql, v, NULL, false, SPI_OK_DELETE);
}

/* a batch of expired keys, skipping those a concurrent call holds */
static PrStatement purge_keys_sql = {
	"purge_keys",
	"DELETE FROM payment_records.idempotency_key k"
	" WHERE k.ctid OPERATOR(pg_catalog.=) ANY (ARRAY("
	"       SELECT i.ctid FROM payment_records.idempotency_key i"
	"        WHERE i.created OPERATOR(pg_catalog.<) $1"
	"        ORDER BY i.created LIMIT $2 FOR UPDATE SKIP LOCKED))",
	2, {TIMESTAMPTZOID, INT4OID},
	PR_TABLE_BIT(PR_T_IDEMPOTENCY_KEY)
};

/* Delete up to batch keys created before cutoff; returns how many. */
int64
pr_store_purge_keys(TimestampTz cutoff, int32 batch)
{
	Datum		v[2];

	v[0] = TimestampTzGetDatum(cutoff);
	v[1] = Int32GetDatum(batch);
	return (int64) pr_spi_run(&purge_keys_sql, v, NULL, false, SPI_OK_DELETE);
}
