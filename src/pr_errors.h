/*-------------------------------------------------------------------------
 * pr_errors.h
 *		The one error helper of payment_records.
 *
 * Every error the API raises carries three things besides the SQLSTATE:
 * a PostgreSQL-style primary message, the Stripe parameter path in the
 * column-name field (PG_DIAG_COLUMN_NAME) and the Stripe error code as the
 * whole of the detail.  request() reads those fields back to build Stripe's
 * {"error": {...}} body, so they must be set here and only here.
 *-------------------------------------------------------------------------
 */
#ifndef PR_ERRORS_H
#define PR_ERRORS_H

#include "utils/elog.h"

/* Stripe error codes (README, contract clause C7) */
#define PR_CODE_MISSING			"parameter_missing"
#define PR_CODE_UNKNOWN			"parameter_unknown"
#define PR_CODE_EMPTY			"parameter_invalid_empty"
#define PR_CODE_BLANK			"parameter_invalid_string_blank"
#define PR_CODE_INTEGER			"parameter_invalid_integer"
#define PR_CODE_EXCLUSIVE		"parameters_exclusive"
#define PR_CODE_EMAIL			"email_invalid"
#define PR_CODE_TOO_SMALL		"amount_too_small"
#define PR_CODE_TOO_LARGE		"amount_too_large"
#define PR_CODE_MISSING_RES		"resource_missing"
#define PR_CODE_EXISTS			"resource_already_exists"
#define PR_CODE_IDEM_IN_USE		"idempotency_key_in_use"
#define PR_CODE_TRANSITION		"status_transition_invalid"
#define PR_CODE_REFUNDED		"charge_already_refunded"
#define PR_CODE_CHARACTERS		"invalid_characters"

/* Stripe's convention: doc_url is this prefix and the code */
#define PR_DOC_URL_PREFIX		"https://stripe.com/docs/error-codes/"

/*
 * Marker put in the detail of an idempotency mismatch: Stripe reports it
 * with type "idempotency_error" and no code, so request() needs a way to
 * tell it from other 22023 errors.
 */
#define PR_TYPE_IDEMPOTENCY		"idempotency_error"

extern int	pr_errstripe(const char *code);
extern int	pr_errparam(const char *param);

/*
 * pr_error(sqlstate, stripe_code or NULL, param or NULL, format, args...)
 */
#define pr_error(sqlstate, code, param, ...) \
	ereport(ERROR, \
			(errcode(sqlstate), \
			 errmsg(__VA_ARGS__), \
			 pr_errstripe(code), \
			 pr_errparam(param)))

#endif							/* PR_ERRORS_H */
