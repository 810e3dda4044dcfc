/*-------------------------------------------------------------------------
 * pr_spi.c
 *		The SPI bracket and the runner of the data layer's statements.
 *
 * Statements are prepared once per backend and kept (SPI_keepplan);
 * values are always $n parameters, never text pasted into SQL.
 *
 * The statements name the schema as text (payment_records.x) and write
 * operators as OPERATOR(pg_catalog.=): a kept plan is re-analyzed under
 * the search_path of whoever runs it next (a trigger fired by the owner's
 * own DML, say), so nothing may depend on that path; and before each one
 * runs, pr_ext_namespace() has checked that the schema of that name is
 * the extension's own (pr_catalog.c), and the tables it declares have
 * been locked and their layouts checked (pr_tables_lock), as the direct
 * reads and writes check theirs: a table altered by its owner fails the
 * call with 55000 before any SQL runs.  The row readers check each
 * column's type too, a backstop that costs a comparison.
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "utils/builtins.h"
#include "utils/snapmgr.h"

#include "pr_catalog.h"
#include "pr_spi.h"

/* Connect to SPI; a failure is an internal error. */
void
pr_spi_connect(void)
{
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
}

/* Disconnect from SPI; a failure is an internal error. */
void
pr_spi_finish(void)
{
	if (SPI_finish() != SPI_OK_FINISH)
		elog(ERROR, "SPI_finish failed");
}

/*
 * Copy result into the caller's memory context and disconnect from SPI:
 * SPI_finish frees everything allocated while connected, result included.
 */
Jsonb *
pr_spi_finish_jsonb(Jsonb *result)
{
	Jsonb	   *copy = (Jsonb *) SPI_palloc(VARSIZE(result));

	memcpy(copy, result, VARSIZE(result));
	pr_spi_finish();
	return copy;
}

/* The kept plan of a statement, prepared on first use in this backend. */
static SPIPlanPtr
statement_plan(PrStatement *st)
{
	if (st->plan == NULL)
	{
		SPIPlanPtr	p = SPI_prepare(st->sql, st->nargs, st->argtypes);

		if (p == NULL)
			elog(ERROR, "SPI_prepare failed for payment_records statement \"%s\": %s",
				 st->name, SPI_result_code_string(SPI_result));
		if (SPI_keepplan(p) != 0)
			elog(ERROR, "SPI_keepplan failed");
		st->plan = p;
	}
	return st->plan;
}

/*
 * Run a statement (see pr_spi.h).  The latest snapshot is for reads that
 * decide a write after a lock was taken: the transaction snapshot of
 * REPEATABLE READ may predate what the lock waited for.
 */
uint64
pr_spi_run(PrStatement *st, Datum *values, const char *nulls, bool latest, int expect)
{
	int			rc;

	/* the schema named in the SQL text is the extension's own */
	(void) pr_ext_namespace();
	/* its tables, locked as the statement will lock them, have their layout */
	pr_tables_lock(st->tables, expect == SPI_OK_SELECT ? AccessShareLock : RowExclusiveLock);
	if (latest)
		rc = SPI_execute_snapshot(statement_plan(st), values, nulls,
								  GetLatestSnapshot(), InvalidSnapshot,
								  false, true, 0);
	else
		rc = SPI_execute_plan(statement_plan(st), values, nulls, false, 0);
	if (rc != expect)
		elog(ERROR, "payment_records statement \"%s\" failed: %s",
			 st->name, SPI_result_code_string(rc));
	return SPI_processed;
}

/* Row i of the last statement's result. */
PrRow
pr_spi_row(uint64 i)
{
	PrRow		row;

	Assert(SPI_tuptable != NULL && i < SPI_processed);
	row.tuple = SPI_tuptable->vals[i];
	row.desc = SPI_tuptable->tupdesc;
	return row;
}

/*
 * Column c (1-based) of row, which must be of type type.  The layouts were
 * checked before the statement ran, but a table altered between that
 * check and the statement's own lock would change a column's type under
 * the reader: refused with 55000, never decoded as the wrong type.
 */
Datum
pr_row_datum(PrRow row, int c, Oid type, bool *isnull)
{
	if (c < 1 || c > row.desc->natts || TupleDescAttr(row.desc, c - 1)->atttypid != type)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("column %d of a payment_records query result is not of type %s",
						c, format_type_be(type)),
				 errhint("One of the extension's tables was altered outside its install and update scripts; undo the change.")));
	return SPI_getbinval(row.tuple, row.desc, c, isnull);
}

/* A text column of row, as a palloc'd C string, or NULL. */
char *
pr_row_text(PrRow row, int c)
{
	bool		isnull;
	Datum		d = pr_row_datum(row, c, TEXTOID, &isnull);

	return isnull ? NULL : TextDatumGetCString(d);
}

/* A jsonb column of row, copied out of the tuple, or NULL. */
Jsonb *
pr_row_jsonb(PrRow row, int c)
{
	bool		isnull;
	Datum		d = pr_row_datum(row, c, JSONBOID, &isnull);

	return isnull ? NULL : DatumGetJsonbPCopy(d);
}

/* A text parameter, or SQL NULL (flag 'n' in nulls[i]) when s is NULL. */
Datum
pr_spi_text_arg(const char *s, char *nulls, int i)
{
	nulls[i] = (s == NULL) ? 'n' : ' ';
	return s == NULL ? (Datum) 0 : CStringGetTextDatum(s);
}

/* A jsonb parameter, or SQL NULL (flag 'n' in nulls[i]) when j is NULL. */
Datum
pr_spi_jsonb_arg(Jsonb *j, char *nulls, int i)
{
	nulls[i] = (j == NULL) ? 'n' : ' ';
	return j == NULL ? (Datum) 0 : JsonbPGetDatum(j);
}

/* A bytea parameter holding the len bytes of data (a hash, say). */
Datum
pr_spi_bytea_arg(const uint8 *data, int len)
{
	bytea	   *b = palloc(VARHDRSZ + len);

	SET_VARSIZE(b, VARHDRSZ + len);
	memcpy(VARDATA(b), data, len);
	return PointerGetDatum(b);
}

/*
 * Copy s into the memory context that was current at pr_spi_connect, for
 * a result that must outlive pr_spi_finish (which frees everything
 * allocated while connected).
 */
char *
pr_spi_strdup_out(const char *s)
{
	size_t		len = strlen(s) + 1;
	char	   *copy = SPI_palloc(len);

	memcpy(copy, s, len);
	return copy;
}
