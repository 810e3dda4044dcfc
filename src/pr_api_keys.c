/*-------------------------------------------------------------------------
 * pr_api_keys.c
 *		The HTTP gateway's keys (issue 14): whether a role may back a key
 *		of a given mode and kind, and the check of a secret that the
 *		gateway makes before every request.
 *
 * A key maps to a role, and the role decides the mode: live iff it is a
 * member of payment_records_live (through other roles too, superuser
 * status aside).  A key's role must not be a superuser, must be one that
 * payment_records_gateway may SET ROLE to, and, for a restricted key, may
 * not execute any write function.  create_api_key() (SQL) refuses a role
 * that breaks a rule; authenticate_api_key() checks them again at every
 * request, so that a key whose role changed since is refused.
 *
 * Secrets are compared by SHA-256 only: the table holds no secret, and an
 * error shows at most a secret's prefix and its last four characters.
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "pr_compat.h"

#include "access/htup_details.h"
#include "catalog/pg_proc.h"
#include "catalog/pg_type.h"
#include "common/cryptohash.h"
#include "common/sha2.h"
#include "fmgr.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "nodes/value.h"
#include "parser/parse_func.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"

#include "pr_catalog.h"
#include "pr_endpoints.h"
#include "pr_mode.h"
#include "pr_spi.h"
#include "pr_store.h"

PG_FUNCTION_INFO_V1(payment_records_api_key_role_problem);
PG_FUNCTION_INFO_V1(payment_records_authenticate_api_key);

#define PR_GATEWAY_ROLE	"payment_records_gateway"

/*
 * Why role_name cannot back a key of this mode and kind, or NULL when it
 * can.
 */
static char *
PrKeyRoleProblem(const char *role_name, bool livemode, bool restricted)
{
	Oid			role = get_role_oid(role_name, true);
	Oid			gateway = get_role_oid(PR_GATEWAY_ROLE, true);
	bool		is_live;
	int			i;

	if (!OidIsValid(role))
		return psprintf("role \"%s\" does not exist", role_name);
	if (superuser_arg(role))
		return psprintf("role \"%s\" is a superuser: a key must not bypass privileges",
						role_name);
	is_live = pr_role_livemode(role);
	if (is_live != livemode)
		return livemode
			? psprintf("role \"%s\" is not a member of " PR_LIVE_ROLE ": a live key needs a live-mode role",
					   role_name)
			: psprintf("role \"%s\" is a member of " PR_LIVE_ROLE ": a test key needs a test-mode role",
					   role_name);
	if (!OidIsValid(gateway) || !is_member_of_role_nosuper(gateway, role))
		return psprintf("role " PR_GATEWAY_ROLE " cannot act as role \"%s\": GRANT \"%s\" TO " PR_GATEWAY_ROLE,
						role_name, role_name);
	if (restricted)
	{
		for (i = 0; i < (int) PR_N_WRITE_ENDPOINTS; i++)
		{
			/* in the extension's own schema, found by OID (pr_catalog.c) */
			List	   *name = list_make2(makeString(get_namespace_name(pr_ext_namespace())),
										  makeString((char *) pr_write_endpoints[i]));
			Oid			func = LookupFuncName(name, -1, NULL, true);

			if (OidIsValid(func) &&
				PR_PROC_ACLCHECK(func, role, ACL_EXECUTE) == ACLCHECK_OK)
				return psprintf("role \"%s\" may call write functions: a restricted key needs a read-only role",
								role_name);
		}
	}
	return NULL;
}

/* api_key_role_problem(key_role name, livemode boolean, restricted boolean) */
Datum
payment_records_api_key_role_problem(PG_FUNCTION_ARGS)
{
	char	   *problem;

	if (PG_ARGISNULL(0) || PG_ARGISNULL(1) || PG_ARGISNULL(2))
		PG_RETURN_NULL();
	problem = PrKeyRoleProblem(NameStr(*PG_GETARG_NAME(0)), PG_GETARG_BOOL(1),
							   PG_GETARG_BOOL(2));
	if (problem == NULL)
		PG_RETURN_NULL();
	PG_RETURN_TEXT_P(cstring_to_text(problem));
}

/* "sk_test_****1234": a known prefix, and the last four of a long secret */
static char *
PrMaskSecret(const char *secret, int len)
{
	bool		known = len >= 8 &&
		(strncmp(secret, "sk_test_", 8) == 0 || strncmp(secret, "sk_live_", 8) == 0 ||
		 strncmp(secret, "rk_test_", 8) == 0 || strncmp(secret, "rk_live_", 8) == 0);

	return psprintf("%.*s****%s", known ? 8 : 0, secret,
					len >= 20 ? secret + len - 4 : "");
}

/*
 * SHA-256 of data into out; API keys are looked up by the hash of the
 * secret, never by the secret itself.
 */
static void
PrSha256(const char *data, int len, uint8 *out)
{
	pg_cryptohash_ctx *ctx = pg_cryptohash_create(PG_SHA256);

	if (ctx == NULL ||
		pg_cryptohash_init(ctx) < 0 ||
		pg_cryptohash_update(ctx, (const uint8 *) data, len) < 0 ||
		pg_cryptohash_final(ctx, out, PG_SHA256_DIGEST_LENGTH) < 0)
		elog(ERROR, "could not compute a SHA-256 hash: %s",
			 ctx ? pg_cryptohash_error(ctx) : "out of memory");
	pg_cryptohash_free(ctx);
}

/*
 * authenticate_api_key(secret text, OUT role_name name, OUT livemode
 * boolean, OUT restricted boolean, OUT key_id text): the role a secret
 * acts as.  An unknown or revoked secret, or one whose role no longer fits
 * its key, is SQLSTATE 28000 with Stripe's message (the last also a
 * warning with the key id and the reason, for the server log).  The key
 * is read by the data layer (pr_key_rows.c); its role is checked after
 * the SPI bracket is closed, against the catalogs.
 */
Datum
payment_records_authenticate_api_key(PG_FUNCTION_ARGS)
{
	text	   *secret_t = PG_ARGISNULL(0) ? NULL : PG_GETARG_TEXT_PP(0);
	const char *secret = secret_t ? VARDATA_ANY(secret_t) : "";
	int			len = secret_t ? VARSIZE_ANY_EXHDR(secret_t) : 0;
	char	   *secret_z = pnstrdup(secret, len);
	TupleDesc	tupdesc;
	Datum		values[4];
	bool		nulls[4] = {false, false, false, false};
	bool		found = false;

	if (get_call_result_type(fcinfo, NULL, &tupdesc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "return type must be a row type");

	if (len >= 1 && len <= 255)
	{
		uint8		hash[PG_SHA256_DIGEST_LENGTH];
		PrApiKey	key;
		bool		stored;

		PrSha256(secret, len, hash);
		pr_spi_connect();
		stored = pr_store_api_key(hash, &key);
		pr_spi_finish();

		if (stored && key.active)
		{
			char	   *problem = PrKeyRoleProblem(NameStr(key.role_name),
												   key.livemode, key.restricted);

			if (problem == NULL)
			{
				NameData   *name = (NameData *) palloc(NAMEDATALEN);

				namestrcpy(name, NameStr(key.role_name));
				values[0] = NameGetDatum(name);
				values[1] = BoolGetDatum(key.livemode);
				values[2] = BoolGetDatum(key.restricted);
				values[3] = CStringGetTextDatum(key.id);
				found = true;
			}
			else
				ereport(WARNING,
						(errmsg("API key %s refused: %s", key.id, problem)));
		}
	}
	if (!found)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_AUTHORIZATION_SPECIFICATION),
				 errmsg("Invalid API Key provided: %s",
						PrMaskSecret(secret_z, (int) strlen(secret_z)))));

	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(BlessTupleDesc(tupdesc),
													  values, nulls)));
}
