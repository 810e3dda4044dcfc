/*-------------------------------------------------------------------------
 * pr_spi.h
 *		The SPI bracket and the runner of the data layer's SQL statements.
 *
 * Every SQL statement of the extension's C is a PrStatement written out
 * in full beside the function that runs it; it is prepared on first use
 * in a backend and kept.  Results are read row by row through a PrRow,
 * which names its row: no state is carried between calls.
 *-------------------------------------------------------------------------
 */
#ifndef PR_SPI_H
#define PR_SPI_H

#include "executor/spi.h"
#include "utils/jsonb.h"

#include "pr_layout.h"

#define PR_SPI_MAXARGS 8

/*
 * One SQL statement, its parameter types, the laid-out tables it reads or
 * writes (their layouts are checked before it runs), and its kept plan.
 */
typedef struct PrStatement
{
	const char *name;			/* for error messages */
	const char *sql;
	int			nargs;
	Oid			argtypes[PR_SPI_MAXARGS];
	uint32		tables;			/* PR_TABLE_BIT(t) of each table it names */
	SPIPlanPtr	plan;			/* NULL until first run */
} PrStatement;

/* One row of the last statement's result. */
typedef struct PrRow
{
	HeapTuple	tuple;
	TupleDesc	desc;
} PrRow;

/* Connect to SPI; a failure is an internal error. */
extern void pr_spi_connect(void);

/* Disconnect from SPI; a failure is an internal error. */
extern void pr_spi_finish(void);

/* Copy a jsonb out of SPI's memory, then disconnect; returns the copy. */
extern Jsonb *pr_spi_finish_jsonb(Jsonb *result);

/*
 * Run a statement with $n parameters values (nulls: SPI's ' '/'n' flags,
 * or NULL for none); latest: with the latest snapshot instead of the
 * statement's.  The layouts of its tables are checked first (55000 if
 * one was altered).  An SPI result other than expect is an internal
 * error.  Returns the number of rows processed.
 */
extern uint64 pr_spi_run(PrStatement *st, Datum *values, const char *nulls,
						 bool latest, int expect);

/* Row i of the last statement's result. */
extern PrRow pr_spi_row(uint64 i);

/*
 * Column c (1-based) of a row, which must be of type type (else 55000);
 * its text as a palloc'd string; a jsonb copy.
 */
extern Datum pr_row_datum(PrRow row, int c, Oid type, bool *isnull);
extern char *pr_row_text(PrRow row, int c);
extern Jsonb *pr_row_jsonb(PrRow row, int c);

/* A text or jsonb parameter, setting its null flag nulls[i] when absent. */
extern Datum pr_spi_text_arg(const char *s, char *nulls, int i);
extern Datum pr_spi_jsonb_arg(Jsonb *j, char *nulls, int i);

/* A bytea parameter of len bytes of data. */
extern Datum pr_spi_bytea_arg(const uint8 *data, int len);

/* A copy of s in the memory of pr_spi_connect's caller (outlives SPI). */
extern char *pr_spi_strdup_out(const char *s);

#endif							/* PR_SPI_H */
