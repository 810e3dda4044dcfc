/*-------------------------------------------------------------------------
 * pr_currency.c
 *		Stripe's presentment currencies and their decimal exponents.
 *
 * Zero-decimal currencies (JPY, KRW, ...) have no minor unit; the five
 * three-decimal ones (BHD, JOD, KWD, OMR, TND) have 1000 minor units per
 * major unit and, as Stripe requires, their amounts must be multiples of 10
 * (checked by the validator).  The list is sorted so lookup is a bsearch.
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <stdlib.h>

#include "fmgr.h"
#include "utils/builtins.h"
#include "utils/numeric.h"

#include "pr_currency.h"

typedef struct PrCurrency
{
	char		code[4];
	int			exponent;
} PrCurrency;

static const PrCurrency currencies[] = {
	{"aed", 2}, {"afn", 2}, {"all", 2}, {"amd", 2}, {"ang", 2}, {"aoa", 2},
	{"ars", 2}, {"aud", 2}, {"awg", 2}, {"azn", 2}, {"bam", 2}, {"bbd", 2},
	{"bdt", 2}, {"bgn", 2}, {"bhd", 3}, {"bif", 0}, {"bmd", 2}, {"bnd", 2},
	{"bob", 2}, {"brl", 2}, {"bsd", 2}, {"bwp", 2}, {"byn", 2}, {"bzd", 2},
	{"cad", 2}, {"cdf", 2}, {"chf", 2}, {"clp", 0}, {"cny", 2}, {"cop", 2},
	{"crc", 2}, {"cve", 2}, {"czk", 2}, {"djf", 0}, {"dkk", 2}, {"dop", 2},
	{"dzd", 2}, {"egp", 2}, {"etb", 2}, {"eur", 2}, {"fjd", 2}, {"fkp", 2},
	{"gbp", 2}, {"gel", 2}, {"gip", 2}, {"gmd", 2}, {"gnf", 0}, {"gtq", 2},
	{"gyd", 2}, {"hkd", 2}, {"hnl", 2}, {"htg", 2}, {"huf", 2}, {"idr", 2},
	{"ils", 2}, {"inr", 2}, {"isk", 2}, {"jmd", 2}, {"jod", 3}, {"jpy", 0},
	{"kes", 2}, {"kgs", 2}, {"khr", 2}, {"kmf", 0}, {"krw", 0}, {"kwd", 3},
	{"kyd", 2}, {"kzt", 2}, {"lak", 2}, {"lbp", 2}, {"lkr", 2}, {"lrd", 2},
	{"lsl", 2}, {"mad", 2}, {"mdl", 2}, {"mga", 0}, {"mkd", 2}, {"mmk", 2},
	{"mnt", 2}, {"mop", 2}, {"mur", 2}, {"mvr", 2}, {"mwk", 2}, {"mxn", 2},
	{"myr", 2}, {"mzn", 2}, {"nad", 2}, {"ngn", 2}, {"nio", 2}, {"nok", 2},
	{"npr", 2}, {"nzd", 2}, {"omr", 3}, {"pab", 2}, {"pen", 2}, {"pgk", 2},
	{"php", 2}, {"pkr", 2}, {"pln", 2}, {"pyg", 0}, {"qar", 2}, {"ron", 2},
	{"rsd", 2}, {"rub", 2}, {"rwf", 0}, {"sar", 2}, {"sbd", 2}, {"scr", 2},
	{"sek", 2}, {"sgd", 2}, {"shp", 2}, {"sle", 2}, {"sos", 2}, {"srd", 2},
	{"std", 2}, {"szl", 2}, {"thb", 2}, {"tjs", 2}, {"tnd", 3}, {"top", 2},
	{"try", 2}, {"ttd", 2}, {"twd", 2}, {"tzs", 2}, {"uah", 2}, {"ugx", 0},
	{"usd", 2}, {"uyu", 2}, {"uzs", 2}, {"vnd", 0}, {"vuv", 0}, {"wst", 2},
	{"xaf", 0}, {"xcd", 2}, {"xof", 0}, {"xpf", 0}, {"yer", 2}, {"zar", 2},
	{"zmw", 2},
};

/* bsearch comparator: PrCurrency entries by code. */
static int
currency_cmp(const void *a, const void *b)
{
	return strcmp(((const PrCurrency *) a)->code, ((const PrCurrency *) b)->code);
}

/*
 * Number of minor-unit digits of a lowercase ISO 4217 code, or -1 for a
 * code not in the table.
 */
int
pr_currency_exponent(const char *code)
{
	PrCurrency	key;
	const PrCurrency *c;

	if (strlen(code) != 3)
		return -1;
	memcpy(key.code, code, 4);
	key.exponent = 0;			/* not compared; set so the key is fully defined */
	c = bsearch(&key, currencies, lengthof(currencies), sizeof(PrCurrency),
				currency_cmp);
	return c ? c->exponent : -1;
}

/* README, contract clause C4: 99999999 minor units, except IDR (999999999999). */
int64
pr_currency_max_value(const char *code)
{
	if (strcmp(code, "idr") == 0)
		return INT64CONST(999999999999);
	return INT64CONST(99999999);
}

PG_FUNCTION_INFO_V1(payment_records_to_major);

/*
 * to_major(amount bigint, currency text) -> numeric: an amount in minor
 * units as major units with the currency's exponent as scale (1050 usd ->
 * 10.50, 1050 jpy -> 1050, 1050 kwd -> 1.050), exact, for reports, for
 * every bigint (negative ones too: reports subtract).
 */
Datum
payment_records_to_major(PG_FUNCTION_ARGS)
{
	int64		amount = PG_GETARG_INT64(0);
	char	   *code = text_to_cstring(PG_GETARG_TEXT_PP(1));
	int			exponent = pr_currency_exponent(code);
	char		buf[48];
	char		digits[32];
	int			len;

	if (exponent < 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("unsupported currency \"%s\"", code)));
	/* the magnitude as unsigned: -amount would overflow for INT64_MIN */
	snprintf(digits, sizeof(digits), UINT64_FORMAT,
			 amount < 0 ? (uint64) 0 - (uint64) amount : (uint64) amount);
	len = strlen(digits);
	if (exponent == 0)
		snprintf(buf, sizeof(buf), "%s%s", amount < 0 ? "-" : "", digits);
	else if (len > exponent)
		snprintf(buf, sizeof(buf), "%s%.*s.%s", amount < 0 ? "-" : "",
				 len - exponent, digits, digits + len - exponent);
	else
		snprintf(buf, sizeof(buf), "%s0.%.*s%s", amount < 0 ? "-" : "",
				 exponent - len, "000", digits);	/* exponent <= 3 */
	PG_RETURN_DATUM(DirectFunctionCall3(numeric_in, CStringGetDatum(buf),
										ObjectIdGetDatum(InvalidOid), Int32GetDatum(-1)));
}
