/*-------------------------------------------------------------------------
 * pr_request.c
 *		request(method, path, params, idempotency_key): one Stripe API
 *		request in, (status, body) out, as Stripe's HTTP API would answer.
 *
 * The method and path pick one of the SQL API functions; a query string
 * on the path is decoded like a form body and merged into params.  The
 * function is then called through fmgr by its OID, so its own SECURITY
 * DEFINER and pinned search_path apply, but only after checking that the
 * caller could call it directly: request() is not SECURITY DEFINER and is
 * no way around the EXECUTE privileges of the functions it routes to.
 *
 * The call runs in an internal subtransaction, as a PL/pgSQL exception
 * block does.  An error listed in the README's contract clause C7 rolls
 * the subtransaction back, so a failed call leaves nothing behind, and
 * comes back as Stripe's status and {"error": {...}} body; any other
 * error (permission denied, serialization failure, internal errors, ...)
 * is raised unchanged.  Since the caller's transaction goes on, a business
 * error of a write made with an idempotency key is then stored under the
 * key, so that a retry gets the same answer.
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <ctype.h>

#include "pr_compat.h"

#include "access/htup_details.h"
#include "access/xact.h"
#include "catalog/objectaccess.h"
#include "catalog/pg_proc.h"
#include "catalog/pg_type.h"
#include "fmgr.h"
#include "funcapi.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "nodes/value.h"
#include "parser/parse_func.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/inval.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/resowner.h"
#include "utils/syscache.h"

#include "pr_catalog.h"
#include "pr_endpoints.h"
#include "pr_errors.h"
#include "pr_form.h"
#include "pr_idempotency.h"
#include "pr_json.h"
#include "pr_params.h"
#include "pr_request.h"
#include "pr_schemas.h"

PG_FUNCTION_INFO_V1(payment_records_request);

/* the schema of the API functions (the control file pins it) */

/* longest Stripe error code taken from an error's detail */
#define PR_MAX_CODE_LEN		64

/* longest part of an unrecognized path quoted back in its 404 */
#define PR_MAX_ECHOED_PATH	200

/* the arguments an API function takes, in order */
typedef enum PrRouteArgs
{
	RA_PARAMS_KEY,				/* (params jsonb, idempotency_key text) */
	RA_ID_PARAMS_KEY,			/* (id text, params jsonb, idempotency_key
								 * text) */
	RA_ID,						/* (id text); params may hold only expand */
	RA_PARAMS					/* (params jsonb) */
} PrRouteArgs;

/*
 * One endpoint: "POST /v1/<collection>[/<id>][/<action>]" and the SQL
 * function (in PR_SCHEMA_NAME) that serves it.
 */
typedef struct PrRoute
{
	const char *method;
	const char *collection;
	bool		has_id;
	const char *action;			/* last part of the path, or NULL */
	const char *function;
	PrRouteArgs args;
} PrRoute;

static const PrRoute pr_routes[] = {
	{"POST", "payment_records", false, PR_ENDPOINT_REPORT_PAYMENT,
	PR_ENDPOINT_REPORT_PAYMENT, RA_PARAMS_KEY},
	{"POST", "payment_records", true, PR_ENDPOINT_REPORT_REFUND,
	PR_ENDPOINT_REPORT_REFUND, RA_ID_PARAMS_KEY},
	{"POST", "payment_records", true, PR_ENDPOINT_REPORT_ATTEMPT,
	PR_ENDPOINT_REPORT_ATTEMPT, RA_ID_PARAMS_KEY},
	{"POST", "payment_records", true, PR_ENDPOINT_REPORT_ATTEMPT_CANCELED,
	PR_ENDPOINT_REPORT_ATTEMPT_CANCELED, RA_ID_PARAMS_KEY},
	{"POST", "payment_records", true, PR_ENDPOINT_REPORT_ATTEMPT_FAILED,
	PR_ENDPOINT_REPORT_ATTEMPT_FAILED, RA_ID_PARAMS_KEY},
	{"POST", "payment_records", true, PR_ENDPOINT_REPORT_ATTEMPT_GUARANTEED,
	PR_ENDPOINT_REPORT_ATTEMPT_GUARANTEED, RA_ID_PARAMS_KEY},
	{"POST", "payment_records", true, PR_ENDPOINT_REPORT_ATTEMPT_INFORMATIONAL,
	PR_ENDPOINT_REPORT_ATTEMPT_INFORMATIONAL, RA_ID_PARAMS_KEY},
	{"GET", "payment_records", true, NULL,
	"retrieve_payment_record", RA_ID},
	{"GET", "payment_records", false, NULL,
	"list_payment_records", RA_PARAMS},
	{"GET", "payment_attempt_records", true, NULL,
	"retrieve_payment_attempt_record", RA_ID},
	{"GET", "payment_attempt_records", false, NULL,
	"list_payment_attempt_records", RA_PARAMS},
};

#define PR_NROUTES	lengthof(pr_routes)

/*
 * OIDs of the routes' functions, looked up on first use in a backend and
 * forgotten whenever pg_proc changes (DROP / CREATE EXTENSION, ...).
 */
static Oid	pr_route_oids[PR_NROUTES];
static bool pr_route_oids_valid = false;
static bool pr_route_callback_registered = false;

/* syscache callback: any change to pg_proc forgets every cached OID */
static void
PrInvalidateRoutes(Datum arg, int cacheid, uint32 hashvalue)
{
	pr_route_oids_valid = false;
}

/* Whether part[0..len) is the string s. */
static bool
PrPartIs(const char *part, int len, const char *s)
{
	return len == (int) strlen(s) && memcmp(part, s, len) == 0;
}

/*
 * The id part of a path, percent-decoded as HTTP clients encode it
 * ("pr%5F..." is "pr_...").  A part that does not decode to a valid
 * string of the server encoding without NUL bytes is kept as it was sent:
 * no id looks like that, so it is simply not found.
 */
static char *
PrDecodeId(const char *part, int len)
{
	char	   *out = palloc(len + 1);
	int			n = 0;
	int			i;

	for (i = 0; i < len; i++)
	{
		if (part[i] == '%' && i + 2 < len &&
			isxdigit((unsigned char) part[i + 1]) &&
			isxdigit((unsigned char) part[i + 2]))
		{
			char		hex[3] = {part[i + 1], part[i + 2], '\0'};

			out[n++] = (char) strtol(hex, NULL, 16);
			i += 2;
		}
		else if (part[i] == '%')
			return pnstrdup(part, len);
		else
			out[n++] = part[i];
	}
	out[n] = '\0';
	if (memchr(out, '\0', n) != NULL ||
		!pg_verify_mbstr(GetDatabaseEncoding(), out, n, true))
		return pnstrdup(part, len);
	return out;
}

/*
 * The route for a method (any case) and a path without query string, or
 * -1.  The path is "/v1/" and one to three non-empty parts; *id is set to
 * the id part of routes that have one.
 */
static int
PrMatchRoute(const char *method, const char *path, char **id)
{
	const char *parts[3];
	int			lens[3];
	int			nparts = 0;
	const char *p;
	int			i;

	if (strncmp(path, "/v1/", 4) != 0)
		return -1;
	for (p = path + 4;;)
	{
		const char *slash = strchr(p, '/');
		int			len = (slash != NULL) ? slash - p : (int) strlen(p);

		if (len == 0 || nparts == lengthof(parts))
			return -1;
		parts[nparts] = p;
		lens[nparts] = len;
		nparts++;
		if (slash == NULL)
			break;
		p = slash + 1;
	}

	for (i = 0; i < (int) PR_NROUTES; i++)
	{
		const PrRoute *r = &pr_routes[i];

		if (pg_strcasecmp(method, r->method) != 0 ||
			!PrPartIs(parts[0], lens[0], r->collection) ||
			nparts != 1 + (r->has_id ? 1 : 0) + (r->action != NULL ? 1 : 0))
			continue;
		if (r->action != NULL &&
			!PrPartIs(parts[nparts - 1], lens[nparts - 1], r->action))
			continue;
		if (r->has_id)
			*id = PrDecodeId(parts[1], lens[1]);
		return i;
	}
	return -1;
}

/* Number of arguments of a route's function, and their types. */
static int
PrRouteArgTypes(const PrRoute *r, Oid *argtypes)
{
	switch (r->args)
	{
		case RA_PARAMS_KEY:
			argtypes[0] = JSONBOID;
			argtypes[1] = TEXTOID;
			return 2;
		case RA_ID_PARAMS_KEY:
			argtypes[0] = TEXTOID;
			argtypes[1] = JSONBOID;
			argtypes[2] = TEXTOID;
			return 3;
		case RA_ID:
			argtypes[0] = TEXTOID;
			return 1;
		case RA_PARAMS:
			argtypes[0] = JSONBOID;
			return 1;
	}
	elog(ERROR, "unexpected route arguments %d", (int) r->args);
	return 0;					/* keep the compiler quiet */
}

/*
 * The OID of route i's function, by name and argument types in the
 * extension's own schema, checked to be a member of the extension
 * (pr_catalog.c), from the per-backend cache.  A missing function (a broken installation) is
 * the usual "function does not exist" error.
 */
static Oid
PrRouteFunction(int i)
{
	if (!pr_route_callback_registered)
	{
		CacheRegisterSyscacheCallback(PROCOID, PrInvalidateRoutes, (Datum) 0);
		pr_route_callback_registered = true;
	}
	if (!pr_route_oids_valid)
	{
		memset(pr_route_oids, 0, sizeof(pr_route_oids));
		pr_route_oids_valid = true;
	}
	if (!OidIsValid(pr_route_oids[i]))
	{
		Oid			argtypes[3];
		int			nargs = PrRouteArgTypes(&pr_routes[i], argtypes);

		pr_route_oids[i] = pr_funcid(pr_routes[i].function, nargs, argtypes);
	}
	return pr_route_oids[i];
}

/*
 * Stripe's answer to a method and path it does not serve (status 404),
 * worded as Stripe words it.
 */
static Jsonb *
PrUnrecognizedBody(const char *method, const char *path)
{
	char	   *upper = pstrdup(method);
	char	   *c;
	PrJson		j;

	for (c = upper; *c != '\0'; c++)
		*c = pg_ascii_toupper((unsigned char) *c);

	pj_init(&j);
	pj_begin_object(&j);
	pj_key(&j, "error");
	pj_begin_object(&j);
	pj_key(&j, "message");
	/* a path far longer than any URL of the API is not echoed in full */
	if (strlen(path) > PR_MAX_ECHOED_PATH)
		path = psprintf("%.*s...", pg_mbcliplen(path, strlen(path), PR_MAX_ECHOED_PATH), path);
	pj_string(&j, psprintf("Unrecognized request URL (%s: %s). Please see https://stripe.com/docs or we can help at https://support.stripe.com/.",
						   upper, path));
	pj_key(&j, "type");
	pj_string(&j, "invalid_request_error");
	pj_end_object(&j);
	pj_end_object(&j);
	return pj_finish(&j);
}

/*
 * params with the decoded query string merged in.  A key may come from
 * only one of the two: Stripe would not say which one wins, so neither
 * does.
 */
static Jsonb *
PrMergeQuery(Jsonb *params, const char *query)
{
	Jsonb	   *q = pr_form_decode(query, strlen(query));
	JsonbIterator *it;
	JsonbIteratorToken tok;
	JsonbValue	k,
				v;
	PrJson		j;

	if (JB_ROOT_COUNT(q) == 0)
		return params;
	if (params == NULL)
		return q;
	if (!JB_ROOT_IS_OBJECT(params) || JB_ROOT_IS_SCALAR(params))
		pr_error(ERRCODE_INVALID_PARAMETER_VALUE, NULL, NULL,
				 "request parameters must be a JSON object");

	pj_init(&j);
	pj_begin_object(&j);
	it = JsonbIteratorInit(&q->root);
	while ((tok = JsonbIteratorNext(&it, &k, true)) != WJB_DONE)
	{
		if (tok != WJB_KEY)
			continue;
		if (findJsonbValueFromContainer(&params->root, JB_FOBJECT, &k) != NULL)
		{
			char	   *key = pnstrdup(k.val.string.val, k.val.string.len);

			pr_error(ERRCODE_INVALID_PARAMETER_VALUE, NULL, key,
					 "parameter \"%s\" is given both in the query string and in params",
					 key);
		}
		pj_key_len(&j, k.val.string.val, k.val.string.len);
		tok = JsonbIteratorNext(&it, &v, true);
		Assert(tok == WJB_VALUE);
		pj_value(&j, &v);
	}
	it = JsonbIteratorInit(&params->root);
	while ((tok = JsonbIteratorNext(&it, &k, true)) != WJB_DONE)
	{
		if (tok != WJB_KEY)
			continue;
		pj_key_len(&j, k.val.string.val, k.val.string.len);
		tok = JsonbIteratorNext(&it, &v, true);
		Assert(tok == WJB_VALUE);
		pj_value(&j, &v);
	}
	pj_end_object(&j);
	return pj_finish(&j);
}

/*
 * Call a route's function through fmgr by OID (so that its SECURITY
 * DEFINER and SET search_path take effect), with SQL NULL for an absent
 * params or idempotency key, and return its jsonb.
 */
static Jsonb *
PrCallRoute(const PrRoute *r, Oid funcoid, const char *id, Jsonb *params,
			text *key)
{
	FmgrInfo	flinfo;
	Oid			argtypes[3];
	int			nargs = PrRouteArgTypes(r, argtypes);
	int			n = 0;
	int			i;
	Datum		result;

	LOCAL_FCINFO(callinfo, 3);

	fmgr_info(funcoid, &flinfo);
	if (flinfo.fn_nargs != nargs)
		elog(ERROR, "function %u has %d arguments, expected %d",
			 funcoid, flinfo.fn_nargs, nargs);
	InitFunctionCallInfoData(*callinfo, &flinfo, nargs, InvalidOid, NULL, NULL);

	if (r->args == RA_ID || r->args == RA_ID_PARAMS_KEY)
	{
		callinfo->args[n].value = CStringGetTextDatum(id);
		callinfo->args[n].isnull = false;
		n++;
	}
	if (r->args != RA_ID)
	{
		callinfo->args[n].value = PointerGetDatum(params);
		callinfo->args[n].isnull = (params == NULL);
		n++;
	}
	if (r->args == RA_PARAMS_KEY || r->args == RA_ID_PARAMS_KEY)
	{
		callinfo->args[n].value = PointerGetDatum(key);
		callinfo->args[n].isnull = (key == NULL);
		n++;
	}
	Assert(n == nargs);

	/* a strict function is not called with a NULL: it would return NULL */
	for (i = 0; i < nargs; i++)
	{
		if (flinfo.fn_strict && callinfo->args[i].isnull)
			elog(ERROR, "function %u is strict and was given a NULL argument",
				 funcoid);
	}

	result = FunctionCallInvoke(callinfo);
	if (callinfo->isnull)
		elog(ERROR, "function %u returned NULL", funcoid);
	return DatumGetJsonbP(result);
}

/* one routed call, shared with the steps run in subtransactions */
typedef struct PrCall
{
	const PrRoute *route;
	Oid			funcoid;
	const char *id;				/* NULL for routes without one */
	Jsonb	   *params;			/* as given, then as passed to the function */
	const char *query;			/* query string, or NULL */
	text	   *key;			/* idempotency key, NULL for none or GET */
	Jsonb	   *result;			/* the function's answer */
	ErrorData  *error;			/* the error to store under the key */
} PrCall;

typedef void (*PrStep) (PrCall *call);

/*
 * Run step in an internal subtransaction, the way PL/pgSQL runs an
 * exception block: on an error the subtransaction is rolled back, which
 * undoes every write of the step, and the error is returned (copied into
 * the caller's memory context) instead of raised.  NULL means success.
 */
static ErrorData *
PrRunInSubTransaction(PrStep step, PrCall *call)
{
	MemoryContext oldcontext = CurrentMemoryContext;
	ResourceOwner oldowner = CurrentResourceOwner;
	ErrorData  *volatile edata = NULL;

	BeginInternalSubTransaction(NULL);
	/* run the step in our memory context, so that its results survive */
	MemoryContextSwitchTo(oldcontext);

	PG_TRY();
	{
		step(call);

		ReleaseCurrentSubTransaction();
		MemoryContextSwitchTo(oldcontext);
		CurrentResourceOwner = oldowner;
	}
	PG_CATCH();
	{
		/* save the error in our context, out of ErrorContext */
		MemoryContextSwitchTo(oldcontext);
		edata = CopyErrorData();
		FlushErrorState();

		RollbackAndReleaseCurrentSubTransaction();
		MemoryContextSwitchTo(oldcontext);
		CurrentResourceOwner = oldowner;
	}
	PG_END_TRY();

	return edata;
}

/*
 * The call itself.  Decoding the query string and checking a retrieve's
 * params run here too, so that their errors become Stripe bodies.
 */
static void
PrCallStep(PrCall *call)
{
	if (call->query != NULL)
		call->params = PrMergeQuery(call->params, call->query);
	if (call->route->args == RA_ID)
		(void) pr_validate(call->params, pr_schema_retrieve);
	call->result = PrCallRoute(call->route, call->funcoid, call->id,
							   call->params, call->key);
}

/*
 * After a failed write with an idempotency key: store its business error
 * under the key (pr_idempotency.c decides which errors are stored), so
 * that a retry answers the same, as Stripe does.  A call raising the error
 * rolled the caller's transaction back and has nothing to store; request()
 * goes on, so it must.
 */
static void
PrStoreErrorStep(PrCall *call)
{
	/* (stored as the extension's owner: see pr_idem_store_error) */
	pr_idem_store_error(call->route->function, call->id, call->params,
						text_to_cstring(call->key), call->error);
}

/*
 * Run a route and set *status and *body: 200 and the function's answer,
 * or Stripe's status and error body.  An error with no Stripe status is
 * raised again as it was, after its subtransaction was rolled back.
 */
static void
PrRunRoute(PrCall *call, int *status, Jsonb **body)
{
	ErrorData  *edata;

	edata = PrRunInSubTransaction(PrCallStep, call);
	if (edata == NULL)
	{
		*status = 200;
		*body = call->result;
		return;
	}
	*status = pr_error_http_status(edata->sqlerrcode);
	if (*status == 0)
		ReThrowError(edata);

	if (call->key != NULL)
	{
		ErrorData  *store_error;

		call->error = edata;
		store_error = PrRunInSubTransaction(PrStoreErrorStep, call);
		if (store_error != NULL)
		{
			/* e.g. the key taken meanwhile by a concurrent call: 409 */
			*status = pr_error_http_status(store_error->sqlerrcode);
			if (*status == 0)
				ReThrowError(store_error);
			edata = store_error;
		}
	}
	*body = pr_error_body(edata);
}

/*
 * The status of the README's contract clause C7 for each SQLSTATE the
 * API raises on purpose; 0 for everything else, which request() raises
 * again.
 */
int
pr_error_http_status(int sqlerrcode)
{
	switch (sqlerrcode)
	{
		case ERRCODE_INVALID_PARAMETER_VALUE:
		case ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE:
		case ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE:
		case ERRCODE_CHECK_VIOLATION:
		case ERRCODE_UNIQUE_VIOLATION:
			return 400;
		case ERRCODE_NO_DATA_FOUND:
			return 404;
		case ERRCODE_LOCK_NOT_AVAILABLE:
			return 409;
		default:
			return 0;
	}
}

/*
 * Whether a detail is a Stripe error code (as pr_error() puts it) rather
 * than a sentence from PostgreSQL, such as a unique index's "Key (...)
 * already exists.", which must not be passed off as a code.
 */
static bool
PrIsStripeCode(const char *detail)
{
	const char *c;

	if (detail == NULL || detail[0] == '\0' || strlen(detail) > PR_MAX_CODE_LEN)
		return false;
	for (c = detail; *c != '\0'; c++)
	{
		if (!((*c >= 'a' && *c <= 'z') || (*c >= '0' && *c <= '9') || *c == '_'))
			return false;
	}
	return true;
}

/*
 * Stripe's error body from the fields pr_error() sets: the code from the
 * detail (unless it is the idempotency marker, which becomes the type),
 * the message, and the param from the column-name field.
 */
Jsonb *
pr_error_body(ErrorData *edata)
{
	bool		idempotency = (edata->detail != NULL &&
							   strcmp(edata->detail, PR_TYPE_IDEMPOTENCY) == 0);
	PrJson		j;

	pj_init(&j);
	pj_begin_object(&j);
	pj_key(&j, "error");
	pj_begin_object(&j);
	if (!idempotency && PrIsStripeCode(edata->detail))
	{
		pj_key(&j, "code");
		pj_string(&j, edata->detail);
		pj_key(&j, "doc_url");
		pj_string(&j, psprintf(PR_DOC_URL_PREFIX "%s", edata->detail));
	}
	if (edata->message != NULL)
	{
		pj_key(&j, "message");
		pj_string(&j, edata->message);
	}
	if (edata->column_name != NULL)
	{
		pj_key(&j, "param");
		pj_string(&j, edata->column_name);
	}
	pj_key(&j, "type");
	pj_string(&j, idempotency ? PR_TYPE_IDEMPOTENCY : "invalid_request_error");
	pj_end_object(&j);
	pj_end_object(&j);
	return pj_finish(&j);
}

/*
 * request(method, path, params, idempotency_key, OUT status, OUT body).
 * An unknown method or path is Stripe's 404; a known one is checked for
 * the caller's EXECUTE privilege on its function (a denial is raised, not
 * answered) and run.  GET ignores the idempotency key, as Stripe does.
 */
Datum
payment_records_request(PG_FUNCTION_ARGS)
{
	char	   *method;
	char	   *path;
	char	   *query = NULL;
	char	   *mark;
	Jsonb	   *params = PG_ARGISNULL(2) ? NULL : PG_GETARG_JSONB_P(2);
	text	   *key = PG_ARGISNULL(3) ? NULL : PG_GETARG_TEXT_PP(3);
	char	   *id = NULL;
	int			route;
	int			status;
	Jsonb	   *body;
	TupleDesc	tupdesc;
	Datum		values[2];
	bool		nulls[2] = {false, false};

	if (PG_ARGISNULL(0) || PG_ARGISNULL(1))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("method and path of a request must not be null")));
	if (get_call_result_type(fcinfo, NULL, &tupdesc) != TYPEFUNC_COMPOSITE)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("function returning record called in context that cannot accept type record")));

	method = text_to_cstring(PG_GETARG_TEXT_PP(0));
	path = text_to_cstring(PG_GETARG_TEXT_PP(1));
	mark = strchr(path, '?');
	if (mark != NULL)
	{
		*mark = '\0';
		query = mark + 1;
	}

	route = PrMatchRoute(method, path, &id);
	if (route < 0)
	{
		status = 404;
		body = PrUnrecognizedBody(method, path);
	}
	else
	{
		const PrRoute *r = &pr_routes[route];
		Oid			funcoid = PrRouteFunction(route);
		AclResult	aclresult;
		PrCall		call;

		aclresult = PR_PROC_ACLCHECK(funcoid, GetUserId(), ACL_EXECUTE);
		if (aclresult != ACLCHECK_OK)
			aclcheck_error(aclresult, OBJECT_FUNCTION, get_func_name(funcoid));
		InvokeFunctionExecuteHook(funcoid);

		memset(&call, 0, sizeof(call));
		call.route = r;
		call.funcoid = funcoid;
		call.id = id;
		call.params = params;
		call.query = query;
		/* GET ignores the idempotency key, as Stripe does */
		if (r->args == RA_PARAMS_KEY || r->args == RA_ID_PARAMS_KEY)
			call.key = key;
		PrRunRoute(&call, &status, &body);
	}

	tupdesc = BlessTupleDesc(tupdesc);
	values[0] = Int32GetDatum(status);
	values[1] = JsonbPGetDatum(body);
	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(tupdesc, values, nulls)));
}
