/*-------------------------------------------------------------------------
 * sanitizer_probe.c (test/fuzz)
 *		Deliberate undefined behaviour, compiled only into the sanitizer
 *		builds of test/sanitize.sh (copied into the staged tree's src/), so
 *		that each run proves the sanitizer is live in the server: calling
 *		a probe must kill the backend and leave a report in the log.
 *
 *	CREATE FUNCTION pr_probe_overflow(int) RETURNS int
 *		AS '$libdir/payment_records', 'pr_probe_overflow' LANGUAGE C STRICT;
 *	SELECT pr_probe_overflow(2147483647);	-- UBSan: signed integer overflow
 *	CREATE FUNCTION pr_probe_stack(int) RETURNS int
 *		AS '$libdir/payment_records', 'pr_probe_stack' LANGUAGE C STRICT;
 *	SELECT pr_probe_stack(8);				-- ASan: stack-buffer-overflow
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "fmgr.h"

PG_FUNCTION_INFO_V1(pr_probe_overflow);
PG_FUNCTION_INFO_V1(pr_probe_stack);

Datum
pr_probe_overflow(PG_FUNCTION_ARGS)
{
	int32		a = PG_GETARG_INT32(0);

	PG_RETURN_INT32(a + 1);
}

/* left to ASan: UBSan's bounds and object-size checks would see it first */
__attribute__((no_sanitize("undefined")))
Datum
pr_probe_stack(PG_FUNCTION_ARGS)
{
	char		buf[8] = {0};
	volatile char *p = buf;
	int32		i = PG_GETARG_INT32(0);

	PG_RETURN_INT32(p[i]);
}
