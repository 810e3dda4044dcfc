/*-------------------------------------------------------------------------
 * pr_api_list.c
 *		retrieve_payment_attempt_record() and the two list endpoints.
 *
 * Lists are newest first with Stripe's cursors.  Pages are keyset scans
 * (an index range from the cursor, limit + 1 rows to know has_more
 * exactly), never an offset or a full scan.  ending_before reads upwards
 * from the cursor and the page is then turned round.
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "executor/spi.h"
#include "utils/timestamp.h"

#include "pr_api.h"
#include "pr_build.h"
#include "pr_errors.h"
#include "pr_mode.h"
#include "pr_params.h"
#include "pr_schemas.h"
#include "pr_spi.h"
#include "pr_time.h"

PG_FUNCTION_INFO_V1(payment_records_retrieve_payment_attempt_record);
PG_FUNCTION_INFO_V1(payment_records_list_payment_attempt_records);
PG_FUNCTION_INFO_V1(payment_records_list_payment_records);

#define PR_DEFAULT_LIMIT 10

/* limit and the (exclusive) cursors shared by both lists */
typedef struct PrPage
{
	int64		limit;
	char	   *starting_after;
	char	   *ending_before;
} PrPage;

/*
 * Read limit (default PR_DEFAULT_LIMIT) and the cursors into *page;
 * starting_after and ending_before together are an error.
 */
static void
read_page_params(JsonbValue *tree, PrPage *page)
{
	if (!pr_field_int(tree, "limit", &page->limit))
		page->limit = PR_DEFAULT_LIMIT;
	page->starting_after = pr_field_string(tree, "starting_after");
	page->ending_before = pr_field_string(tree, "ending_before");
	if (page->starting_after && page->ending_before)
		pr_error(ERRCODE_INVALID_PARAMETER_VALUE, PR_CODE_EXCLUSIVE, "ending_before",
				 "parameters \"starting_after\" and \"ending_before\" cannot be used together");
}

/* {"object": "list", "data": [...], "has_more": ..., "url": ...} around data */
static void
begin_list(PrJson *j)
{
	pj_begin_object(j);
	pj_key(j, "object");
	pj_string(j, "list");
	pj_key(j, "data");
	pj_begin_array(j);
}

/* Close what begin_list opened, add has_more and url, build the jsonb. */
static Jsonb *
end_list(PrJson *j, bool has_more, const char *url)
{
	pj_end_array(j);
	pj_key(j, "has_more");
	pj_bool(j, has_more);
	pj_key(j, "url");
	pj_string(j, url);
	pj_end_object(j);
	return pj_finish(j);
}

/*
 * retrieve_payment_attempt_record(id text) -> jsonb: one attempt of the
 * caller's mode, or resource_missing.
 */
Datum
payment_records_retrieve_payment_attempt_record(PG_FUNCTION_ARGS)
{
	char	   *id = pr_arg_id(fcinfo, 0);
	PrRecord	rec;
	PrAttempt	a;

	pr_spi_connect();
	if (!pr_store_fetch_attempt(id, pr_caller_livemode(), &rec, &a))
		pr_raise_missing("payment_attempt_record", id, "id");
	PG_RETURN_JSONB_P(pr_spi_finish_jsonb(pr_build_attempt(&rec, &a)));
}

/*
 * list_payment_attempt_records(params jsonb) -> jsonb: a page of the
 * attempts of params' payment_record, newest first.  One row more than
 * the limit is fetched to tell has_more.
 */
Datum
payment_records_list_payment_attempt_records(PG_FUNCTION_ARGS)
{
	JsonbValue *tree = pr_validate(pr_arg_params(fcinfo, 0), pr_schema_list_attempts);
	char	   *record_id = pr_field_string(tree, "payment_record");
	PrPage		page;
	PrRecord	rec;
	PrAttempt  *rows;
	int32		bound = PG_INT32_MAX;
	bool		asc = false;
	int			n;
	int			i;
	PrJson		j;

	read_page_params(tree, &page);
	pr_spi_connect();
	if (!pr_store_fetch_record(record_id, pr_caller_livemode(), &rec))
		pr_raise_missing("payment_record", record_id, "payment_record");
	if (page.starting_after &&
		!pr_store_attempt_cursor(rec.seq, page.starting_after, &bound))
		pr_raise_missing("payment_attempt_record", page.starting_after, "starting_after");
	if (page.ending_before)
	{
		if (!pr_store_attempt_cursor(rec.seq, page.ending_before, &bound))
			pr_raise_missing("payment_attempt_record", page.ending_before, "ending_before");
		asc = true;
	}

	n = pr_store_list_attempts(rec.seq, asc, bound, page.limit + 1, &rows);
	pj_init(&j);
	begin_list(&j);
	for (i = 0; i < n && i < page.limit; i++)
	{
		/* ascending pages are emitted newest first too */
		int			k = asc ? Min(n, page.limit) - 1 - i : i;

		pr_push_attempt(&j, &rec, &rows[k]);
	}
	PG_RETURN_JSONB_P(pr_spi_finish_jsonb(end_list(&j, n > page.limit,
											  "/v1/payment_attempt_records")));
}

/*
 * created_after / created_before are whole unix seconds, as `created` is
 * shown: created_after=T keeps records whose created is T+1 or later,
 * created_before=T those whose created is T-1 or earlier.
 */
Datum
payment_records_list_payment_records(PG_FUNCTION_ARGS)
{
	JsonbValue *tree = pr_validate(pr_arg_params(fcinfo, 0), pr_schema_list_records);
	PrPage		page;
	TimestampTz lo = DT_NOBEGIN;
	TimestampTz hi = DT_NOEND;
	TimestampTz cur_created = DT_NOEND;
	int64		cur_seq = PG_INT64_MAX;
	int64		t;
	bool		asc = false;
	PrRecord   *rows;
	int			n;
	int			i;
	PrJson		j;

	read_page_params(tree, &page);
	if (pr_field_int(tree, "created_after", &t))
		lo = PR_TS_FROM_UNIX(t + 1);
	if (pr_field_int(tree, "created_before", &t))
		hi = PR_TS_FROM_UNIX(t);

	pr_spi_connect();
	if (page.starting_after &&
		!pr_store_record_cursor(page.starting_after, pr_caller_livemode(), &cur_created, &cur_seq))
		pr_raise_missing("payment_record", page.starting_after, "starting_after");
	if (page.ending_before)
	{
		if (!pr_store_record_cursor(page.ending_before, pr_caller_livemode(), &cur_created, &cur_seq))
			pr_raise_missing("payment_record", page.ending_before, "ending_before");
		asc = true;
	}

	n = pr_store_list_records(pr_caller_livemode(), asc, lo, hi, cur_created, cur_seq,
							  page.limit + 1, &rows);
	pj_init(&j);
	begin_list(&j);
	for (i = 0; i < n && i < page.limit; i++)
	{
		int			k = asc ? Min(n, page.limit) - 1 - i : i;

		pr_push_record(&j, &rows[k]);
	}
	PG_RETURN_JSONB_P(pr_spi_finish_jsonb(end_list(&j, n > page.limit, "/v1/payment_records")));
}
