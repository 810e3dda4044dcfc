/*-------------------------------------------------------------------------
 * pr_currency.h
 *		The currencies payment_records accepts, with their minor-unit exponent.
 *-------------------------------------------------------------------------
 */
#ifndef PR_CURRENCY_H
#define PR_CURRENCY_H

/* Exponent (0, 2 or 3) of a lower-case code, or -1 if unsupported. */
extern int	pr_currency_exponent(const char *code);

/* Largest accepted value in minor units for a currency. */
extern int64 pr_currency_max_value(const char *code);

#endif							/* PR_CURRENCY_H */
