/*-------------------------------------------------------------------------
 * pr_request.h
 *		request(): Stripe's HTTP surface (method, path) over the SQL API.
 *
 * The mapping of an error to Stripe's status and {"error": {...}} body
 * (README, contract clause C7) is exported so that any other front end answers
 * exactly as request() does.
 *-------------------------------------------------------------------------
 */
#ifndef PR_REQUEST_H
#define PR_REQUEST_H

#include "utils/elog.h"
#include "utils/jsonb.h"

/*
 * HTTP status for an error's SQLSTATE (400, 404 or 409), or 0 when the
 * error is not one the API reports as a Stripe error and must be raised.
 */
extern int	pr_error_http_status(int sqlerrcode);

/*
 * Stripe's body for such an error: {"error": {"code", "message", "param",
 * "type"}}, absent keys omitted; code comes from the detail, param from
 * the column-name field, as pr_error() puts them.
 */
extern Jsonb *pr_error_body(ErrorData *edata);

#endif							/* PR_REQUEST_H */
