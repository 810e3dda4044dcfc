/*-------------------------------------------------------------------------
 * pr_triggers.c
 *		Constraint triggers: the invariants, for every write to the tables.
 *
 * These fire for the API's own writes and for direct DML by the owner or
 * a superuser alike.  They are what makes the database the system of
 * record; the API functions check the same rules first only to give
 * callers Stripe-shaped errors.
 *
 * Refunds form a chain per record: refund_no 1, 2, 3 ... (unique with the
 * record) and refunded_total = previous total + amount.  So the latest
 * refund's total is the sum of all of them, found in O(log n) and checked
 * in O(1) per insert, and the chain cannot fork even under snapshots that
 * miss a concurrent refund, because a fork would repeat a refund_no.
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "pr_compat.h"

#include "access/htup_details.h"
#include "access/xact.h"
#include "miscadmin.h"
#include "storage/proc.h"
#include "commands/trigger.h"
#include "executor/spi.h"
#include "utils/builtins.h"
#include "utils/datum.h"
#include "utils/rel.h"
#include "utils/timestamp.h"

#include "pr_currency.h"
#include "pr_store.h"
#include "pr_triggers.h"

PG_FUNCTION_INFO_V1(payment_records_refund_check);
PG_FUNCTION_INFO_V1(payment_records_attempt_check);
PG_FUNCTION_INFO_V1(payment_records_record_check);
PG_FUNCTION_INFO_V1(payment_records_forbid_truncate);

/* Column access by name: the table layout is the install script's. */
static Datum
getcol(TriggerData *td, HeapTuple tup, const char *name, bool *isnull)
{
	TupleDesc	desc = RelationGetDescr(td->tg_relation);
	int			attno = SPI_fnumber(desc, name);

	if (attno <= 0)
		elog(ERROR, "column \"%s\" not found in \"%s\"", name,
			 RelationGetRelationName(td->tg_relation));
	return heap_getattr(tup, attno, desc, isnull);
}

static int64
getcol_int64(TriggerData *td, HeapTuple tup, const char *name)
{
	bool		isnull;
	Datum		d = getcol(td, tup, name, &isnull);

	return isnull ? 0 : DatumGetInt64(d);
}

static int32
getcol_int32(TriggerData *td, HeapTuple tup, const char *name)
{
	bool		isnull;
	Datum		d = getcol(td, tup, name, &isnull);

	return isnull ? 0 : DatumGetInt32(d);
}

static bool
col_changed(TriggerData *td, const char *name)
{
	bool		n1,
				n2;
	Datum		d1 = getcol(td, td->tg_trigtuple, name, &n1);
	Datum		d2 = getcol(td, td->tg_newtuple, name, &n2);
	TupleDesc	desc = RelationGetDescr(td->tg_relation);
	Form_pg_attribute att = TupleDescAttr(desc, SPI_fnumber(desc, name) - 1);

	if (n1 || n2)
		return n1 != n2;
	return !datumIsEqual(d1, d2, att->attbyval, att->attlen);
}

static void
check_trigger(FunctionCallInfo fcinfo, const char *fname)
{
	TriggerData *td = (TriggerData *) fcinfo->context;

	if (!CALLED_AS_TRIGGER(fcinfo) || !TRIGGER_FIRED_FOR_ROW(td->tg_event))
		elog(ERROR, "%s must be fired as a row trigger", fname);
}

static void
spi_begin(void)
{
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
}

static void
spi_end(void)
{
	if (SPI_finish() != SPI_OK_FINISH)
		elog(ERROR, "SPI_finish failed");
}

/* the row report_refund verified, see pr_triggers.h */
typedef struct PrVerifiedRefund
{
	bool		set;
	LocalTransactionId lxid;
	int64		record_seq;
	int32		refund_no;
	int64		amount;
	int64		refunded_total;
	bool		livemode;
} PrVerifiedRefund;

static PrVerifiedRefund verified_refund;

void
pr_refund_verified(int64 record_seq, int32 refund_no, int64 amount,
				   int64 refunded_total, bool livemode)
{
	verified_refund.set = true;
	verified_refund.lxid = PR_MYPROC_LXID;
	verified_refund.record_seq = record_seq;
	verified_refund.refund_no = refund_no;
	verified_refund.amount = amount;
	verified_refund.refunded_total = refunded_total;
	verified_refund.livemode = livemode;
}

void
pr_refund_verified_clear(void)
{
	verified_refund.set = false;
}

/* Is this the row report_refund verified?  Consumes the mark. */
static bool
refund_was_verified(int64 record_seq, int32 refund_no, int64 amount,
					int64 total, bool livemode)
{
	bool		match = verified_refund.set &&
		verified_refund.lxid == PR_MYPROC_LXID &&
		verified_refund.record_seq == record_seq &&
		verified_refund.refund_no == refund_no &&
		verified_refund.amount == amount &&
		verified_refund.refunded_total == total &&
		verified_refund.livemode == livemode;

	verified_refund.set = false;
	return match;
}

/*
 * refund: append-only; each new row extends its record's chain and keeps
 * the running total within the guaranteed amount of a guaranteed record.
 */
Datum
payment_records_refund_check(PG_FUNCTION_ARGS)
{
	TriggerData *td = (TriggerData *) fcinfo->context;
	HeapTuple	tup;
	int64		record_seq;
	int32		refund_no;
	int64		amount;
	int64		total;
	int64		prev_total = 0;
	int64		guaranteed;
	bool		livemode;
	bool		isnull;
	char		status[12];
	int32		latest;

	check_trigger(fcinfo, "refund_check");
	if (!TRIGGER_FIRED_BY_INSERT(td->tg_event))
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("refunds cannot be updated or deleted"),
				 errdetail("Refunds are append-only; report a new refund instead.")));

	tup = td->tg_trigtuple;
	record_seq = getcol_int64(td, tup, "record_seq");
	refund_no = getcol_int32(td, tup, "refund_no");
	amount = getcol_int64(td, tup, "amount");
	total = getcol_int64(td, tup, "refunded_total");

	if (refund_was_verified(record_seq, refund_no, amount, total,
							DatumGetBool(getcol(td, tup, "livemode", &isnull))))
		return PointerGetDatum(NULL);

	spi_begin();
	/* serialize with every other writer of this record */
	if (!pr_store_lock_record_seq(record_seq, &guaranteed, &livemode))
		ereport(ERROR,
				(errcode(ERRCODE_FOREIGN_KEY_VIOLATION),
				 errmsg("refund refers to a payment record that does not exist")));

	if (DatumGetBool(getcol(td, tup, "livemode", &isnull)) != livemode)
		ereport(ERROR,
				(errcode(ERRCODE_CHECK_VIOLATION),
				 errmsg("refund livemode does not match its payment record")));

	if (!pr_store_latest_status(record_seq, status, &latest) ||
		strcmp(status, "guaranteed") != 0)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("cannot refund a payment record whose latest payment attempt is not guaranteed")));

	if (refund_no < 1)
		ereport(ERROR,
				(errcode(ERRCODE_CHECK_VIOLATION),
				 errmsg("refund_no must be at least 1")));
	if (refund_no > 1 && !pr_store_refund_total(record_seq, refund_no - 1, &prev_total))
		ereport(ERROR,
				(errcode(ERRCODE_CHECK_VIOLATION),
				 errmsg("refund %d of a payment record needs refund %d before it",
						refund_no, refund_no - 1)));
	if (amount <= 0 || total != prev_total + amount)
		ereport(ERROR,
				(errcode(ERRCODE_CHECK_VIOLATION),
				 errmsg("refund running total " INT64_FORMAT " does not equal the previous total " INT64_FORMAT " plus the amount " INT64_FORMAT,
						total, prev_total, amount)));
	if (total > guaranteed)
		ereport(ERROR,
				(errcode(ERRCODE_CHECK_VIOLATION),
				 errmsg("refunds of a payment record would total " INT64_FORMAT ", more than its guaranteed amount " INT64_FORMAT,
						total, guaranteed)));
	spi_end();
	return PointerGetDatum(NULL);
}

static bool
is_status(const char *s, const char *want)
{
	return strcmp(s, want) == 0;
}

/* The timestamp that goes with a terminal status is set, the others not. */
static void
check_status_timestamps(TriggerData *td, HeapTuple tup, const char *status)
{
	static const char *const pairs[][2] = {
		{"guaranteed", "guaranteed_at"},
		{"failed", "failed_at"},
		{"canceled", "canceled_at"},
	};
	int			i;

	if (!is_status(status, "pending") && !is_status(status, "guaranteed") &&
		!is_status(status, "failed") && !is_status(status, "canceled"))
		ereport(ERROR,
				(errcode(ERRCODE_CHECK_VIOLATION),
				 errmsg("invalid payment attempt status \"%s\"", status)));
	for (i = 0; i < (int) lengthof(pairs); i++)
	{
		bool		isnull;

		(void) getcol(td, tup, pairs[i][1], &isnull);
		if (is_status(status, pairs[i][0]) == isnull)
			ereport(ERROR,
					(errcode(ERRCODE_CHECK_VIOLATION),
					 errmsg("a %s payment attempt must %shave %s",
							status, isnull ? "" : "not ", pairs[i][1])));
	}
}

/*
 * payment_attempt_record: the state machine of SPEC section 5.
 *  - a new attempt n > 1 only when attempt n-1 is failed or canceled (so,
 *    by induction, when all earlier ones are);
 *  - status changes only from pending, which is always the latest
 *    attempt, and never back;
 *  - identity and timing columns never change.
 */
Datum
payment_records_attempt_check(PG_FUNCTION_ARGS)
{
	TriggerData *td = (TriggerData *) fcinfo->context;
	HeapTuple	tup;
	char	   *status;
	int32		attempt;
	bool		isnull;

	check_trigger(fcinfo, "attempt_check");
	if (TRIGGER_FIRED_BY_DELETE(td->tg_event))
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("payment attempt records cannot be deleted")));

	tup = TRIGGER_FIRED_BY_UPDATE(td->tg_event) ? td->tg_newtuple : td->tg_trigtuple;
	status = TextDatumGetCString(getcol(td, tup, "status", &isnull));
	check_status_timestamps(td, tup, status);

	if (TRIGGER_FIRED_BY_INSERT(td->tg_event))
	{
		attempt = getcol_int32(td, tup, "attempt");
		if (attempt < 1)
			ereport(ERROR,
					(errcode(ERRCODE_CHECK_VIOLATION),
					 errmsg("payment attempt numbers start at 1")));
		if (attempt > 1)
		{
			int64		record_seq = getcol_int64(td, tup, "record_seq");
			int64		amount;
			bool		livemode;
			char		prev[12];

			spi_begin();
			if (!pr_store_lock_record_seq(record_seq, &amount, &livemode))
				ereport(ERROR,
						(errcode(ERRCODE_FOREIGN_KEY_VIOLATION),
						 errmsg("payment attempt refers to a payment record that does not exist")));
			if (!pr_store_attempt_status(record_seq, attempt - 1, prev))
				ereport(ERROR,
						(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
						 errmsg("payment attempt %d needs attempt %d before it",
								attempt, attempt - 1)));
			if (!is_status(prev, "failed") && !is_status(prev, "canceled"))
				ereport(ERROR,
						(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
						 errmsg("cannot add a payment attempt: the latest payment attempt is %s", prev),
						 errhint("A new attempt can only follow a failed or canceled one.")));
			spi_end();
		}
	}
	else
	{
		char	   *old_status = TextDatumGetCString(getcol(td, td->tg_trigtuple,
															"status", &isnull));
		static const char *const fixed[] = {
			"id", "record_seq", "attempt", "created", "initiated_at",
		};
		int			i;

		for (i = 0; i < (int) lengthof(fixed); i++)
			if (col_changed(td, fixed[i]))
				ereport(ERROR,
						(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
						 errmsg("column \"%s\" of a payment attempt record cannot be changed",
								fixed[i])));
		if (strcmp(old_status, status) != 0)
		{
			if (!is_status(old_status, "pending"))
				ereport(ERROR,
						(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
						 errmsg("a %s payment attempt cannot become %s", old_status, status),
						 errhint("Only a pending attempt can change state.")));
			if (is_status(status, "pending"))
				ereport(ERROR,
						(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
						 errmsg("a payment attempt cannot return to pending")));
		}
		else if (col_changed(td, "guaranteed_at") || col_changed(td, "failed_at") ||
				 col_changed(td, "canceled_at"))
			ereport(ERROR,
					(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
					 errmsg("the outcome time of a %s payment attempt cannot be changed",
							status)));
	}
	return PointerGetDatum(NULL);
}

/*
 * payment_record: a positive amount within the currency's maximum in a
 * supported currency; never deleted; its identity, mode, currency and
 * amount never change (refund limits and buckets are computed from them).
 */
Datum
payment_records_record_check(PG_FUNCTION_ARGS)
{
	TriggerData *td = (TriggerData *) fcinfo->context;
	static const char *const fixed[] = {
		"id", "seq", "livemode", "created", "currency", "amount",
	};
	int			i;

	check_trigger(fcinfo, "record_check");
	if (TRIGGER_FIRED_BY_DELETE(td->tg_event))
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("payment records cannot be deleted")));
	if (TRIGGER_FIRED_BY_UPDATE(td->tg_event))
	{
		for (i = 0; i < (int) lengthof(fixed); i++)
			if (col_changed(td, fixed[i]))
				ereport(ERROR,
						(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
						 errmsg("column \"%s\" of a payment record cannot be changed",
								fixed[i])));
	}
	else
	{
		bool		isnull;
		int64		amount = getcol_int64(td, td->tg_trigtuple, "amount");
		char	   *currency = TextDatumGetCString(getcol(td, td->tg_trigtuple,
														 "currency", &isnull));

		if (pr_currency_exponent(currency) < 0)
			ereport(ERROR,
					(errcode(ERRCODE_CHECK_VIOLATION),
					 errmsg("payment record currency \"%s\" is not supported", currency)));
		if (amount <= 0 || amount > pr_currency_max_value(currency))
			ereport(ERROR,
					(errcode(ERRCODE_CHECK_VIOLATION),
					 errmsg("payment record amount " INT64_FORMAT " is out of range", amount)));
	}
	return PointerGetDatum(NULL);
}

/* TRUNCATE would bypass the row triggers above. */
Datum
payment_records_forbid_truncate(PG_FUNCTION_ARGS)
{
	TriggerData *td = (TriggerData *) fcinfo->context;

	if (!CALLED_AS_TRIGGER(fcinfo))
		elog(ERROR, "forbid_truncate must be fired as a trigger");
	ereport(ERROR,
			(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
			 errmsg("table \"%s\" of payment_records cannot be truncated",
					RelationGetRelationName(td->tg_relation))));
	return PointerGetDatum(NULL);
}
