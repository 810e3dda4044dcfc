/*-------------------------------------------------------------------------
 * pr_errors.c
 *		Auxiliary error fields for pr_error(): Stripe code and param.
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "pr_errors.h"

/*
 * Put the Stripe error code in the detail, alone, so that a client (and
 * request()) can read it back without parsing a sentence.
 */
int
pr_errstripe(const char *code)
{
	if (code != NULL)
		return errdetail_internal("%s", code);
	return 0;
}

/*
 * Put the Stripe parameter path (e.g. "amount_requested[currency]") in the
 * column-name field, where PostgreSQL drivers already expose it.
 */
int
pr_errparam(const char *param)
{
	if (param != NULL)
		return err_generic_string(PG_DIAG_COLUMN_NAME, param);
	return 0;
}
