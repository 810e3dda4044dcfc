/*-------------------------------------------------------------------------
 * pr_triggers.c
 *		Constraint triggers: the invariants, for every write to the tables.
 *
 * These fire for the API's own writes and for direct DML by anyone who
 * can write the tables (the owner, pg_write_all_data, a superuser) alike,
 * and check every row in full: nothing tells them what they may skip.
 * They are created ENABLE ALWAYS, so session_replication_role = replica
 * does not silence them.  The API functions check the same rules first
 * only to give callers Stripe-shaped errors; these are the guarantee.
 * They share no state with the API and reach the tables only through the
 * data layer (pr_store.h: pr_scan.c's index probes, pr_read.c).
 *
 * Refunds form a chain per record: refund_no 1, 2, 3 ... (unique with the
 * record) and refunded_total = previous total + amount, computed with
 * overflow checks.  So the latest refund's total is the sum of all of
 * them, found in O(log n) and checked in O(1) per insert, and the chain
 * cannot fork even under snapshots that miss a concurrent refund, because
 * a fork would repeat a refund_no.
 *
 * Every column the API's answers are built from is checked too (ids,
 * times, amounts, enumerations, lengths, jsonb shapes), so a row written
 * by hand can never make a read fail or answer wrongly.
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "pr_compat.h"

#include "access/htup_details.h"
#include "commands/event_trigger.h"
#include "commands/trigger.h"
#include "common/cryptohash.h"
#include "common/int.h"
#include "common/sha2.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "nodes/parsenodes.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/datum.h"
#include "utils/jsonb.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"
#include "utils/timestamp.h"

#include "pr_catalog.h"
#include "pr_currency.h"
#include "pr_endpoints.h"
#include "pr_ids.h"
#include "pr_mode.h"
#include "pr_params.h"
#include "pr_settings.h"
#include "pr_spi.h"
#include "pr_store.h"

PG_FUNCTION_INFO_V1(payment_records_refund_check);
PG_FUNCTION_INFO_V1(payment_records_attempt_check);
PG_FUNCTION_INFO_V1(payment_records_record_check);
PG_FUNCTION_INFO_V1(payment_records_record_attempt_check);
PG_FUNCTION_INFO_V1(payment_records_idempotency_key_check);
PG_FUNCTION_INFO_V1(payment_records_idempotency_key_record_check);
PG_FUNCTION_INFO_V1(payment_records_event_check);
PG_FUNCTION_INFO_V1(payment_records_forbid_truncate);
PG_FUNCTION_INFO_V1(payment_records_owner_only);
PG_FUNCTION_INFO_V1(payment_records_guard_drop);
PG_FUNCTION_INFO_V1(payment_records_reference_key);


/* An error about a row of the trigger's table: CHECK violation class. */
#define row_error(td, code, ...) \
	ereport(ERROR, (errcode(code), errmsg(__VA_ARGS__), \
					errtable((td)->tg_relation)))

/*
 * The name of column col (a pr_layout.h number) of the trigger's table,
 * for messages.  The layout was checked when the trigger started (see
 * row_trigger), so it is the name pr_layout.h gives.
 */
static const char *
colname(TriggerData *td, int col)
{
	return NameStr(TupleDescAttr(RelationGetDescr(td->tg_relation), col)->attname);
}

/* Column col (a pr_layout.h number) of a row of the trigger's table. */
static Datum
getcol(TriggerData *td, HeapTuple tup, int col, bool *isnull)
{
	return heap_getattr(tup, PR_ATTNO(col), RelationGetDescr(td->tg_relation), isnull);
}

/* A NOT NULL column's value (the table's NOT NULL constraint holds). */
static Datum
getcol_nn(TriggerData *td, HeapTuple tup, int col)
{
	bool		isnull;
	Datum		d = getcol(td, tup, col, &isnull);

	if (isnull)
		row_error(td, ERRCODE_NOT_NULL_VIOLATION, "column \"%s\" must not be null",
				  colname(td, col));
	return d;
}

/* A text column as a C string, or NULL. */
static char *
getcol_text(TriggerData *td, HeapTuple tup, int col)
{
	bool		isnull;
	Datum		d = getcol(td, tup, col, &isnull);

	return isnull ? NULL : TextDatumGetCString(d);
}

/* Did a column change between the old and the new row of an UPDATE? */
static bool
col_changed(TriggerData *td, int col)
{
	bool		n1,
				n2;
	Datum		d1 = getcol(td, td->tg_trigtuple, col, &n1);
	Datum		d2 = getcol(td, td->tg_newtuple, col, &n2);
	Form_pg_attribute att = TupleDescAttr(RelationGetDescr(td->tg_relation), col);

	if (n1 || n2)
		return n1 != n2;
	return !datumIsEqual(d1, d2, att->attbyval, att->attlen);
}

/* Refuse a change to any of the listed columns. */
static void
check_fixed(TriggerData *td, const int *cols, int ncols, const char *what)
{
	int			i;

	for (i = 0; i < ncols; i++)
		if (col_changed(td, cols[i]))
			ereport(ERROR,
					(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
					 errmsg("column \"%s\" of a %s cannot be changed", colname(td, cols[i]), what),
					 errtable(td->tg_relation)));
}

/*
 * Must be fired as a row trigger by the trigger manager, on table t of
 * pr_layout.h (or on any table when t is PR_T_COUNT).  Resolving t checks
 * its layout once per session (pr_catalog.c), so the trigger may read
 * columns by their pr_layout.h numbers.
 */
static TriggerData *
row_trigger(FunctionCallInfo fcinfo, const char *fname, PrTable t)
{
	TriggerData *td = (TriggerData *) fcinfo->context;

	if (!CALLED_AS_TRIGGER(fcinfo) || !TRIGGER_FIRED_FOR_ROW(td->tg_event))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("function \"%s\" must be fired as a row trigger", fname)));
	if (t != PR_T_COUNT && RelationGetRelid(td->tg_relation) != pr_table_relid(t))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("function \"%s\" must be fired on table \"%s.%s\"",
						fname, PR_SCHEMA_NAME, pr_layout[t].name)));
	return td;
}

/* The row the trigger checks: the new one of an INSERT or UPDATE. */
static HeapTuple
new_row(TriggerData *td)
{
	return TRIGGER_FIRED_BY_UPDATE(td->tg_event) ? td->tg_newtuple : td->tg_trigtuple;
}

/* An id: the prefix and PR_ID_CHARS base62 characters. */
static void
check_id(TriggerData *td, HeapTuple tup, int col, const char *prefix)
{
	char	   *id = TextDatumGetCString(getcol_nn(td, tup, col));
	size_t		plen = strlen(prefix);
	size_t		i;

	if (strncmp(id, prefix, plen) != 0 || strlen(id) != plen + PR_ID_CHARS)
		row_error(td, ERRCODE_CHECK_VIOLATION,
				  "column \"%s\" must be \"%s\" followed by %d base62 characters",
				  colname(td, col), prefix, PR_ID_CHARS);
	for (i = plen; id[i] != '\0'; i++)
		if (!((id[i] >= '0' && id[i] <= '9') || (id[i] >= 'a' && id[i] <= 'z') ||
			  (id[i] >= 'A' && id[i] <= 'Z')))
			row_error(td, ERRCODE_CHECK_VIOLATION,
					  "column \"%s\" must be \"%s\" followed by %d base62 characters",
					  colname(td, col), prefix, PR_ID_CHARS);
}

/* A timestamp column: finite when set (NOT NULL ones must be set). */
static void
check_time(TriggerData *td, HeapTuple tup, int col, bool required)
{
	bool		isnull;
	Datum		d = getcol(td, tup, col, &isnull);

	if (isnull)
	{
		if (required)
			row_error(td, ERRCODE_NOT_NULL_VIOLATION, "column \"%s\" must not be null",
					  colname(td, col));
		return;
	}
	if (TIMESTAMP_NOT_FINITE(DatumGetTimestampTz(d)))
		row_error(td, ERRCODE_CHECK_VIOLATION, "column \"%s\" must be a finite time",
				  colname(td, col));
}

/* A text column of at most max characters, not empty when set. */
static void
check_text(TriggerData *td, HeapTuple tup, int col, int max)
{
	char	   *s = getcol_text(td, tup, col);

	if (s != NULL && (s[0] == '\0' || pg_mbstrlen(s) > max))
		row_error(td, ERRCODE_CHECK_VIOLATION,
				  "column \"%s\" must be 1 to %d characters long", colname(td, col), max);
}

/*
 * A jsonb column: null or an object.  Metadata also: at most 50 keys of
 * at most 40 characters, each value a string of at most 500.
 */
static void
check_object(TriggerData *td, HeapTuple tup, int col, bool metadata)
{
	bool		isnull;
	Datum		d = getcol(td, tup, col, &isnull);
	Jsonb	   *j;
	JsonbIterator *it;
	JsonbValue	v;
	JsonbIteratorToken tok;
	int			nkeys = 0;

	if (isnull)
		return;
	j = DatumGetJsonbP(d);
	if (!JB_ROOT_IS_OBJECT(j))
		row_error(td, ERRCODE_CHECK_VIOLATION, "column \"%s\" must hold a JSON object",
				  colname(td, col));
	if (!metadata)
		return;
	it = JsonbIteratorInit(&j->root);
	while ((tok = JsonbIteratorNext(&it, &v, true)) != WJB_DONE)
	{
		if (tok == WJB_KEY)
		{
			if (++nkeys > PR_MAX_META_KEYS || v.val.string.len == 0 ||
				pg_mbstrlen_with_len(v.val.string.val, v.val.string.len) > PR_MAX_META_KEY)
				row_error(td, ERRCODE_CHECK_VIOLATION,
						  "column \"%s\" must have at most %d keys of 1 to %d characters",
						  colname(td, col), PR_MAX_META_KEYS, PR_MAX_META_KEY);
		}
		else if (tok == WJB_VALUE &&
				 (v.type != jbvString ||
				  pg_mbstrlen_with_len(v.val.string.val, v.val.string.len) > PR_MAX_META_VALUE))
			row_error(td, ERRCODE_CHECK_VIOLATION,
					  "column \"%s\" must have string values of at most %d characters",
					  colname(td, col), PR_MAX_META_VALUE);
	}
}

/*
 * An amount the API accepts in this currency: positive, at most the
 * currency's maximum, and for three-decimal currencies a multiple of 10.
 */
static bool
amount_in_range(int64 amount, const char *currency)
{
	return amount > 0 && amount <= pr_currency_max_value(currency) &&
		(pr_currency_exponent(currency) != 3 || amount % 10 == 0);
}

/*
 * Only the extension's owner -- the role its SECURITY DEFINER functions
 * run as -- may write this table (a superuser has that role's rights).
 * For the tables a writer must never touch directly: the stored answers
 * of idempotency keys and the change events.
 */
static void
require_owner(TriggerData *td)
{
	if (!has_privs_of_role(GetUserId(), pr_ext_owner()))
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("table \"%s\" can only be written by the payment_records functions",
						RelationGetRelationName(td->tg_relation)),
				 errtable(td->tg_relation)));
}

/*
 * A row written directly, not by the extension's own functions (which run
 * as its owner and take the mode from their caller), must be in the
 * writer's own mode: a test-mode role cannot create or change live-mode
 * objects, nor the reverse.
 */
static void
check_mode(TriggerData *td, bool livemode)
{
	if (has_privs_of_role(GetUserId(), pr_ext_owner()) || livemode == pr_caller_livemode())
		return;
	if (livemode)
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("a test-mode role cannot write live-mode rows"),
				 errtable(td->tg_relation)));
	ereport(ERROR,
			(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
			 errmsg("a live-mode role cannot write test-mode rows"),
			 errtable(td->tg_relation)));
}

/*
 * A creation time: finite, and not in the future (a day of clock skew
 * allowed), where lists would keep it first forever.
 */
static void
check_created(TriggerData *td, HeapTuple tup, int col)
{
	check_time(td, tup, col, true);
	if (DatumGetTimestampTz(getcol_nn(td, tup, col)) >
		GetCurrentTransactionStartTimestamp() + USECS_PER_DAY)
		row_error(td, ERRCODE_CHECK_VIOLATION, "column \"created\" must not be in the future");
}

/*
 * refund: append-only; each new row extends its record's chain and keeps
 * the running total within the guaranteed amount of a guaranteed record.
 */
Datum
payment_records_refund_check(PG_FUNCTION_ARGS)
{
	TriggerData *td = row_trigger(fcinfo, "refund_check", PR_T_REFUND);
	HeapTuple	tup;
	int64		record_seq;
	int32		refund_no;
	int64		amount;
	int64		total;
	int64		prev_total = 0;
	int64		expected;
	PrRecordKey rk;
	PrAttemptState latest;

	if (!TRIGGER_FIRED_BY_INSERT(td->tg_event))
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("refunds cannot be updated or deleted"),
				 errdetail("Refunds are append-only; report a new refund instead."),
				 errtable(td->tg_relation)));

	tup = td->tg_trigtuple;
	record_seq = DatumGetInt64(getcol_nn(td, tup, PR_RF_RECORD_SEQ));
	refund_no = DatumGetInt32(getcol_nn(td, tup, PR_RF_REFUND_NO));
	amount = DatumGetInt64(getcol_nn(td, tup, PR_RF_AMOUNT));
	total = DatumGetInt64(getcol_nn(td, tup, PR_RF_REFUNDED_TOTAL));
	check_created(td, tup, PR_RF_CREATED);
	check_time(td, tup, PR_RF_INITIATED_AT, false);
	check_time(td, tup, PR_RF_REFUNDED_AT, false);
	check_text(td, tup, PR_RF_REFUND_REFERENCE, PR_MAX_STRING);
	check_object(td, tup, PR_RF_METADATA, true);

	/* serialize with every other writer of this record */
	if (!pr_store_record_key(record_seq, true, &rk))
		ereport(ERROR,
				(errcode(ERRCODE_FOREIGN_KEY_VIOLATION),
				 errmsg("refund refers to a payment record that does not exist"),
				 errtable(td->tg_relation)));
	if (DatumGetBool(getcol_nn(td, tup, PR_RF_LIVEMODE)) != rk.livemode)
		row_error(td, ERRCODE_CHECK_VIOLATION,
				  "refund livemode does not match its payment record");
	check_mode(td, rk.livemode);
	if (!amount_in_range(amount, rk.currency))
		row_error(td, ERRCODE_CHECK_VIOLATION,
				  "refund amount " INT64_FORMAT " is out of range for currency \"%s\"",
				  amount, rk.currency);

	if (!pr_store_attempt_state(record_seq, 0, &latest) ||
		latest.status != PR_STATUS_GUARANTEED)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("cannot refund a payment record whose latest payment attempt is not guaranteed"),
				 errtable(td->tg_relation)));

	if (refund_no < 1)
		row_error(td, ERRCODE_CHECK_VIOLATION, "refund numbers start at 1");
	if (refund_no > 1 && !pr_store_refund_total(record_seq, refund_no - 1, &prev_total))
		row_error(td, ERRCODE_CHECK_VIOLATION,
				  "refund %d of a payment record needs refund %d before it",
				  refund_no, refund_no - 1);
	if (pg_add_s64_overflow(prev_total, amount, &expected) || total != expected)
		row_error(td, ERRCODE_CHECK_VIOLATION,
				  "refunded_total " INT64_FORMAT " must be the previous total " INT64_FORMAT " plus the amount " INT64_FORMAT,
				  total, prev_total, amount);
	if (total > rk.amount)
		row_error(td, ERRCODE_CHECK_VIOLATION,
				  "refunds of a payment record would total " INT64_FORMAT ", more than its guaranteed amount " INT64_FORMAT,
				  total, rk.amount);
	return PointerGetDatum(NULL);
}

/*
 * The columns of an attempt row that the API reads, checked on every
 * insert and update: the status with exactly its outcome time set, the
 * id, the times, the enumerations, the lengths and the jsonb shapes.
 */
static PrStatus
check_attempt_row(TriggerData *td, HeapTuple tup)
{
	static const int outcome_col[] = {
		[PR_STATUS_GUARANTEED] = PR_ATT_GUARANTEED_AT,
		[PR_STATUS_FAILED] = PR_ATT_FAILED_AT,
		[PR_STATUS_CANCELED] = PR_ATT_CANCELED_AT,
	};
	char	   *status_text = TextDatumGetCString(getcol_nn(td, tup, PR_ATT_STATUS));
	PrStatus	status = pr_status_from_text(status_text);
	char	   *presence;
	int			s;

	if (status == PR_STATUS_INVALID)
		row_error(td, ERRCODE_CHECK_VIOLATION, "invalid payment attempt status \"%s\"",
				  status_text);
	for (s = PR_STATUS_GUARANTEED; s <= PR_STATUS_CANCELED; s++)
	{
		bool		isnull;

		(void) getcol(td, tup, outcome_col[s], &isnull);
		if (isnull && s == (int) status)
			row_error(td, ERRCODE_CHECK_VIOLATION,
					  "a payment attempt with status \"%s\" must have column \"%s\" set",
					  status_text, colname(td, outcome_col[s]));
		if (!isnull && s != (int) status)
			row_error(td, ERRCODE_CHECK_VIOLATION,
					  "a payment attempt with status \"%s\" must not have column \"%s\" set",
					  status_text, colname(td, outcome_col[s]));
		check_time(td, tup, outcome_col[s], false);
	}
	check_id(td, tup, PR_ATT_ID, "par_");
	check_created(td, tup, PR_ATT_CREATED);
	check_time(td, tup, PR_ATT_INITIATED_AT, true);
	presence = getcol_text(td, tup, PR_ATT_CUSTOMER_PRESENCE);
	if (presence != NULL && strcmp(presence, "on_session") != 0 &&
		strcmp(presence, "off_session") != 0)
		row_error(td, ERRCODE_CHECK_VIOLATION,
				  "column \"customer_presence\" must be \"on_session\" or \"off_session\"");
	check_text(td, tup, PR_ATT_DESCRIPTION, PR_MAX_STRING);
	check_object(td, tup, PR_ATT_CUSTOMER_DETAILS, false);
	check_object(td, tup, PR_ATT_METADATA, true);
	check_object(td, tup, PR_ATT_PAYMENT_METHOD_DETAILS, false);
	check_object(td, tup, PR_ATT_PROCESSOR_DETAILS, false);
	check_object(td, tup, PR_ATT_SHIPPING_DETAILS, false);
	return status;
}

/*
 * payment_attempt_record: the state machine.
 *  - a new attempt n > 1 only when attempt n-1 is failed or canceled (so,
 *    by induction, when all earlier ones are);
 *  - status changes only from pending, which is always the latest
 *    attempt, and never back;
 *  - identity and timing columns never change; attempts are never deleted.
 */
Datum
payment_records_attempt_check(PG_FUNCTION_ARGS)
{
	TriggerData *td = row_trigger(fcinfo, "attempt_check", PR_T_ATTEMPT);
	HeapTuple	tup;
	PrStatus	status;

	if (TRIGGER_FIRED_BY_DELETE(td->tg_event))
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("payment attempt records cannot be deleted"),
				 errtable(td->tg_relation)));

	tup = new_row(td);
	status = check_attempt_row(td, tup);

	if (TRIGGER_FIRED_BY_INSERT(td->tg_event))
	{
		int32		attempt = DatumGetInt32(getcol_nn(td, tup, PR_ATT_ATTEMPT));
		int64		record_seq = DatumGetInt64(getcol_nn(td, tup, PR_ATT_RECORD_SEQ));
		PrRecordKey rk;
		PrAttemptState prev;

		if (attempt < 1)
			row_error(td, ERRCODE_CHECK_VIOLATION, "payment attempt numbers start at 1");
		if (!pr_store_record_key(record_seq, true, &rk))
			ereport(ERROR,
					(errcode(ERRCODE_FOREIGN_KEY_VIOLATION),
					 errmsg("payment attempt refers to a payment record that does not exist"),
					 errtable(td->tg_relation)));
		check_mode(td, rk.livemode);
		if (attempt > 1)
		{
			if (!pr_store_attempt_state(record_seq, attempt - 1, &prev))
				ereport(ERROR,
						(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
						 errmsg("payment attempt %d needs attempt %d before it",
								attempt, attempt - 1),
						 errtable(td->tg_relation)));
			if (prev.status != PR_STATUS_FAILED && prev.status != PR_STATUS_CANCELED)
				ereport(ERROR,
						(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
						 errmsg("cannot add a payment attempt: the latest payment attempt is %s",
								pr_status_text(prev.status)),
						 errhint("A new attempt can only follow a failed or canceled one."),
						 errtable(td->tg_relation)));
		}
	}
	else
	{
		/* what no API call ever changes once an attempt is reported */
		static const int fixed[] = {
			PR_ATT_ID, PR_ATT_RECORD_SEQ, PR_ATT_ATTEMPT, PR_ATT_CREATED, PR_ATT_INITIATED_AT,
			PR_ATT_CUSTOMER_PRESENCE, PR_ATT_PAYMENT_METHOD_DETAILS, PR_ATT_PROCESSOR_DETAILS,
		};
		PrStatus	old_status =
			pr_status_from_text(TextDatumGetCString(getcol_nn(td, td->tg_trigtuple, PR_ATT_STATUS)));
		PrRecordKey rk;

		check_fixed(td, fixed, lengthof(fixed), "payment attempt record");
		if (!has_privs_of_role(GetUserId(), pr_ext_owner()) &&
			pr_store_record_key(DatumGetInt64(getcol_nn(td, tup, PR_ATT_RECORD_SEQ)), false, &rk))
			check_mode(td, rk.livemode);
		if (old_status != status)
		{
			if (old_status != PR_STATUS_PENDING)
				ereport(ERROR,
						(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
						 errmsg("a %s payment attempt cannot become %s",
								pr_status_text(old_status), pr_status_text(status)),
						 errhint("Only a pending attempt can change state."),
						 errtable(td->tg_relation)));
			if (status == PR_STATUS_PENDING)
				ereport(ERROR,
						(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
						 errmsg("a payment attempt cannot return to pending"),
						 errtable(td->tg_relation)));
		}
		else if (col_changed(td, PR_ATT_GUARANTEED_AT) || col_changed(td, PR_ATT_FAILED_AT) ||
				 col_changed(td, PR_ATT_CANCELED_AT))
			ereport(ERROR,
					(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
					 errmsg("the outcome time of a %s payment attempt cannot be changed",
							pr_status_text(status)),
					 errtable(td->tg_relation)));
	}
	return PointerGetDatum(NULL);
}

/*
 * payment_record: an id of the right form, a finite creation time, a
 * positive amount within the currency's maximum in a supported currency;
 * never deleted; its identity, mode, currency and amount never change
 * (refund limits and buckets are computed from them).
 */
Datum
payment_records_record_check(PG_FUNCTION_ARGS)
{
	TriggerData *td = row_trigger(fcinfo, "record_check", PR_T_RECORD);
	static const int fixed[] = {
		PR_REC_ID, PR_REC_SEQ, PR_REC_LIVEMODE, PR_REC_CREATED, PR_REC_CURRENCY, PR_REC_AMOUNT,
	};

	if (TRIGGER_FIRED_BY_DELETE(td->tg_event))
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("payment records cannot be deleted"),
				 errtable(td->tg_relation)));
	if (TRIGGER_FIRED_BY_UPDATE(td->tg_event))
	{
		check_fixed(td, fixed, lengthof(fixed), "payment record");
		check_mode(td, DatumGetBool(getcol_nn(td, td->tg_newtuple, PR_REC_LIVEMODE)));
	}
	else
	{
		HeapTuple	tup = td->tg_trigtuple;
		int64		amount = DatumGetInt64(getcol_nn(td, tup, PR_REC_AMOUNT));
		char	   *currency = TextDatumGetCString(getcol_nn(td, tup, PR_REC_CURRENCY));

		check_id(td, tup, PR_REC_ID, "pr_");
		check_created(td, tup, PR_REC_CREATED);
		check_mode(td, DatumGetBool(getcol_nn(td, tup, PR_REC_LIVEMODE)));
		if (pr_currency_exponent(currency) < 0)
			row_error(td, ERRCODE_CHECK_VIOLATION,
					  "payment record currency \"%s\" is not supported", currency);
		if (!amount_in_range(amount, currency))
			row_error(td, ERRCODE_CHECK_VIOLATION,
					  "payment record amount " INT64_FORMAT " is out of range for currency \"%s\"",
					  amount, currency);
	}
	return PointerGetDatum(NULL);
}

/*
 * payment_record, deferred to commit: a record has its first attempt.
 * Without one the API could neither show nor list it.
 */
Datum
payment_records_record_attempt_check(PG_FUNCTION_ARGS)
{
	TriggerData *td = row_trigger(fcinfo, "record_attempt_check", PR_T_RECORD);
	int64		seq = DatumGetInt64(getcol_nn(td, td->tg_trigtuple, PR_REC_SEQ));
	PrAttemptState first;

	if (!pr_store_attempt_state(seq, 1, &first))
		ereport(ERROR,
				(errcode(ERRCODE_FOREIGN_KEY_VIOLATION),
				 errmsg("payment record \"%s\" has no payment attempt",
						TextDatumGetCString(getcol_nn(td, td->tg_trigtuple, PR_REC_ID))),
				 errdetail("A payment record must have its first attempt by the end of the transaction that creates it."),
				 errtable(td->tg_relation)));
	return PointerGetDatum(NULL);
}

/*
 * idempotency_key: written only by the extension's functions; a stored
 * answer never changes; a key is deleted only once it has expired
 * (payment_records.idempotency_retention, validated by this module), so
 * no retry within the retention can execute twice.
 */
Datum
payment_records_idempotency_key_check(PG_FUNCTION_ARGS)
{
	TriggerData *td = row_trigger(fcinfo, "idempotency_key_check", PR_T_IDEMPOTENCY_KEY);
	HeapTuple	tup;
	bytea	   *hash;
	char	   *key;

	require_owner(td);
	if (TRIGGER_FIRED_BY_UPDATE(td->tg_event))
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("stored idempotency keys cannot be changed"),
				 errtable(td->tg_relation)));
	if (TRIGGER_FIRED_BY_DELETE(td->tg_event))
	{
		TimestampTz created = DatumGetTimestampTz(getcol_nn(td, td->tg_trigtuple, PR_IK_CREATED));

		if (created >= pr_idempotency_expiry())
			ereport(ERROR,
					(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
					 errmsg("an idempotency key cannot be deleted before it expires"),
					 errdetail("Keys are kept for payment_records.idempotency_retention (%d s).",
							   pr_idempotency_retention),
					 errtable(td->tg_relation)));
		return PointerGetDatum(NULL);
	}
	tup = td->tg_trigtuple;
	key = TextDatumGetCString(getcol_nn(td, tup, PR_IK_KEY));
	if (key[0] == '\0' || pg_mbstrlen(key) > PR_MAX_IDEMPOTENCY_KEY)
		row_error(td, ERRCODE_CHECK_VIOLATION,
				  "column \"key\" must be 1 to %d characters long", PR_MAX_IDEMPOTENCY_KEY);
	if (!pr_is_write_endpoint(TextDatumGetCString(getcol_nn(td, tup, PR_IK_ENDPOINT))))
		row_error(td, ERRCODE_CHECK_VIOLATION, "column \"endpoint\" must name a write function");
	hash = DatumGetByteaPP(getcol_nn(td, tup, PR_IK_REQUEST_HASH));
	if (VARSIZE_ANY_EXHDR(hash) != 32)
		row_error(td, ERRCODE_CHECK_VIOLATION, "column \"request_hash\" must be 32 bytes");
	check_created(td, tup, PR_IK_CREATED);
	check_object(td, tup, PR_IK_RESPONSE, false);
	check_object(td, tup, PR_IK_ERROR, false);
	return PointerGetDatum(NULL);
}

/*
 * idempotency_key, deferred to commit: a stored answer names a payment
 * record that exists in the key's mode.  A key cannot outlive or precede
 * the record it would replay (a restore that lost the record loses the
 * key too).
 */
Datum
payment_records_idempotency_key_record_check(PG_FUNCTION_ARGS)
{
	TriggerData *td = row_trigger(fcinfo, "idempotency_key_record_check", PR_T_IDEMPOTENCY_KEY);
	HeapTuple	tup = td->tg_trigtuple;
	bool		isnull;
	Datum		d = getcol(td, tup, PR_IK_RESPONSE, &isnull);
	bool		livemode = DatumGetBool(getcol_nn(td, tup, PR_IK_LIVEMODE));
	Jsonb	   *response;
	JsonbValue	k;
	JsonbValue *id;

	if (isnull)
		return PointerGetDatum(NULL);
	response = DatumGetJsonbP(d);
	k.type = jbvString;
	k.val.string.val = "id";
	k.val.string.len = 2;
	id = JB_ROOT_IS_OBJECT(response) ?
		findJsonbValueFromContainer(&response->root, JB_FOBJECT, &k) : NULL;
	if (id == NULL || id->type != jbvString ||
		!pr_store_record_exists(pnstrdup(id->val.string.val, id->val.string.len), livemode))
		ereport(ERROR,
				(errcode(ERRCODE_FOREIGN_KEY_VIOLATION),
				 errmsg("a stored idempotency key response must name an existing payment record of its mode"),
				 errtable(td->tg_relation)));
	return PointerGetDatum(NULL);
}

/*
 * event: written only by the extension's functions, append-only; the
 * type is one the API emits and the object is an object.
 */
Datum
payment_records_event_check(PG_FUNCTION_ARGS)
{
	TriggerData *td = row_trigger(fcinfo, "event_check", PR_T_EVENT);
	HeapTuple	tup;
	char	   *type;

	require_owner(td);
	if (!TRIGGER_FIRED_BY_INSERT(td->tg_event))
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("events cannot be updated or deleted"),
				 errtable(td->tg_relation)));
	tup = td->tg_trigtuple;
	type = TextDatumGetCString(getcol_nn(td, tup, PR_EV_TYPE));
	if (!pr_is_event_type(type))
		row_error(td, ERRCODE_CHECK_VIOLATION, "invalid event type \"%s\"", type);
	check_created(td, tup, PR_EV_CREATED);
	check_object(td, tup, PR_EV_OBJECT, false);
	return PointerGetDatum(NULL);
}

/*
 * A table that only the extension's own functions write (the gateway's
 * API keys): any other writer is refused, pg_write_all_data included.
 */
Datum
payment_records_owner_only(PG_FUNCTION_ARGS)
{
	TriggerData *td = row_trigger(fcinfo, "owner_only", PR_T_COUNT);

	require_owner(td);
	return PointerGetDatum(NULL);
}

/* TRUNCATE would bypass the row triggers above. */
Datum
payment_records_forbid_truncate(PG_FUNCTION_ARGS)
{
	TriggerData *td = (TriggerData *) fcinfo->context;

	if (!CALLED_AS_TRIGGER(fcinfo))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("function \"forbid_truncate\" must be fired as a trigger")));
	ereport(ERROR,
			(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
			 errmsg("table \"%s\" of payment_records cannot be truncated",
					RelationGetRelationName(td->tg_relation)),
			 errtable(td->tg_relation)));
	return PointerGetDatum(NULL);
}

/*
 * Does a DROP statement take the extension with it: name it or its
 * schema, drop its owner's objects, or drop PL/pgSQL (which some of its
 * functions are written in) with CASCADE?
 */
static bool
drops_extension(Node *stmt)
{
	DropStmt   *drop;
	ListCell   *lc;

	if (stmt == NULL)
		return false;
	if (IsA(stmt, DropOwnedStmt))
	{
		foreach(lc, ((DropOwnedStmt *) stmt)->roles)
		{
			Oid			role = get_rolespec_oid(lfirst(lc), true);

			if (role == pr_ext_owner())
				return true;
		}
		return false;
	}
	if (!IsA(stmt, DropStmt))
		return false;
	drop = (DropStmt *) stmt;
	foreach(lc, drop->objects)
	{
		Node	   *name = lfirst(lc);
		const char *n = IsA(name, String) ? strVal(name) : NULL;

		if (n == NULL)
			continue;
		if ((drop->removeType == OBJECT_EXTENSION && strcmp(n, PR_EXTENSION_NAME) == 0) ||
			(drop->removeType == OBJECT_SCHEMA && strcmp(n, PR_SCHEMA_NAME) == 0))
			return true;
		/* the gateway's SQL functions are PL/pgSQL: a cascade takes us too */
		if ((drop->removeType == OBJECT_EXTENSION || drop->removeType == OBJECT_LANGUAGE) &&
			strcmp(n, "plpgsql") == 0 && drop->behavior == DROP_CASCADE)
			return true;
	}
	return false;
}

/* Does an ALTER SCHEMA rename the extension's schema or change its owner? */
static bool
changes_schema(Node *stmt)
{
	if (stmt == NULL)
		return false;
	if (IsA(stmt, RenameStmt))
	{
		RenameStmt *r = (RenameStmt *) stmt;

		return r->renameType == OBJECT_SCHEMA && r->subname != NULL &&
			strcmp(r->subname, PR_SCHEMA_NAME) == 0;
	}
	if (IsA(stmt, AlterOwnerStmt))
	{
		AlterOwnerStmt *o = (AlterOwnerStmt *) stmt;

		return o->objectType == OBJECT_SCHEMA && o->object != NULL &&
			IsA(o->object, String) && strcmp(strVal(o->object), PR_SCHEMA_NAME) == 0;
	}
	return false;
}

/*
 * Event trigger on ddl_command_start for DROP EXTENSION, DROP SCHEMA,
 * DROP OWNED, DROP LANGUAGE and ALTER SCHEMA: refuse to drop the
 * extension (which drops every payment) while it holds any payment
 * record, unless an administrator has set payment_records.allow_drop for
 * the transaction; refuse to rename its schema or give it away, always
 * (a renamed schema frees the name for a look-alike).
 */
Datum
payment_records_guard_drop(PG_FUNCTION_ARGS)
{
	EventTriggerData *ed;

	if (!CALLED_AS_EVENT_TRIGGER(fcinfo))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("function \"guard_drop\" must be fired as an event trigger")));
	ed = (EventTriggerData *) fcinfo->context;
	if (changes_schema(ed->parsetree))
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("schema \"%s\" of extension \"%s\" cannot be renamed or given to another owner",
						PR_SCHEMA_NAME, PR_EXTENSION_NAME),
				 errdetail("Its functions refuse to run in a renamed schema, and another owner could plant objects in it.")));
	if (pr_allow_drop || !drops_extension(ed->parsetree))
		PG_RETURN_VOID();
	pr_spi_connect();
	if (pr_store_has_records())
		ereport(ERROR,
				(errcode(ERRCODE_DEPENDENT_OBJECTS_STILL_EXIST),
				 errmsg("cannot drop extension \"%s\": it holds payment records",
						PR_EXTENSION_NAME),
				 errdetail("Dropping the extension would delete every payment record, attempt and refund."),
				 errhint("A superuser who means it can SET LOCAL payment_records.allow_drop = on first, in the same transaction.")));
	pr_spi_finish();
	PG_RETURN_VOID();
}

/*
 * reference_key(text) -> bytea: the key of the unique index
 * refund_reference_key.  A B-tree entry must fit in a third of a page,
 * and references may be 5,000 characters: a reference of up to
 * PR_REFERENCE_INLINE bytes is its own key (a 0 byte, then the bytes: as
 * exact, and as small, as the text itself), a longer one is a 1 byte and
 * its SHA-256 digest (two such references collide only if SHA-256 does).
 */
#define PR_REFERENCE_INLINE 64

/* reference_key(reference text) -> bytea: the key described above. */
Datum
payment_records_reference_key(PG_FUNCTION_ARGS)
{
	text	   *t = PG_GETARG_TEXT_PP(0);
	size_t		len = VARSIZE_ANY_EXHDR(t);
	bytea	   *out;

	if (len <= PR_REFERENCE_INLINE)
	{
		out = palloc(VARHDRSZ + 1 + len);
		SET_VARSIZE(out, VARHDRSZ + 1 + len);
		VARDATA(out)[0] = 0;
		memcpy(VARDATA(out) + 1, VARDATA_ANY(t), len);
	}
	else
	{
		pg_cryptohash_ctx *ctx = pg_cryptohash_create(PG_SHA256);

		out = palloc(VARHDRSZ + 1 + PG_SHA256_DIGEST_LENGTH);
		SET_VARSIZE(out, VARHDRSZ + 1 + PG_SHA256_DIGEST_LENGTH);
		VARDATA(out)[0] = 1;
		if (pg_cryptohash_init(ctx) < 0 ||
			pg_cryptohash_update(ctx, (const uint8 *) VARDATA_ANY(t), len) < 0 ||
			pg_cryptohash_final(ctx, (uint8 *) VARDATA(out) + 1, PG_SHA256_DIGEST_LENGTH) < 0)
			elog(ERROR, "could not compute a SHA-256 digest");
		pg_cryptohash_free(ctx);
	}
	PG_RETURN_BYTEA_P(out);
}
