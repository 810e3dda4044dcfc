/*-------------------------------------------------------------------------
 * pr_key_rows.c
 *		The rows of payment_records.api_key that the C code reads: a key
 *		looked up by the hash of its secret.
 *
 * The statement is written out in full beside the function that runs it
 * (pr_spi.c prepares and keeps it).  The table is written only by the
 * install script's SQL functions (create_api_key, revoke_api_key); the
 * rules a key's role must follow are pr_api_keys.c's.
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "common/sha2.h"
#include "utils/builtins.h"

#include "pr_spi.h"
#include "pr_store.h"

/* a key by the SHA-256 of its secret (unique: api_key_secret_hash_key) */
static PrStatement api_key_sql = {
	"api_key",
	"SELECT k.id, k.role_name, k.livemode, k.restricted, k.revoked IS NULL"
	"  FROM payment_records.api_key k"
	" WHERE k.secret_hash OPERATOR(pg_catalog.=) $1",
	1, {BYTEAOID},
	0							/* api_key: no layout of pr_layout.h */
};

/*
 * The API key whose secret has the SHA-256 secret_hash, revoked or not;
 * false when there is none.  The key's id is copied out of SPI's memory,
 * so *out outlives pr_spi_finish(): the caller checks the key's role
 * after the bracket is closed.
 */
bool
pr_store_api_key(const uint8 *secret_hash, PrApiKey *out)
{
	Datum		v[1];
	bool		isnull;
	PrRow		row;

	v[0] = pr_spi_bytea_arg(secret_hash, PG_SHA256_DIGEST_LENGTH);
	if (pr_spi_run(&api_key_sql, v, NULL, false, SPI_OK_SELECT) == 0)
		return false;
	row = pr_spi_row(0);
	out->id = pr_spi_strdup_out(pr_row_text(row, 1));
	namestrcpy(&out->role_name, NameStr(*DatumGetName(pr_row_datum(row, 2, NAMEOID, &isnull))));
	out->livemode = DatumGetBool(pr_row_datum(row, 3, BOOLOID, &isnull));
	out->restricted = DatumGetBool(pr_row_datum(row, 4, BOOLOID, &isnull));
	out->active = DatumGetBool(pr_row_datum(row, 5, BOOLOID, &isnull));
	return true;
}
