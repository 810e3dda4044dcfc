/*-------------------------------------------------------------------------
 * pr_ids.h
 *		Object ids: a prefix and 24 base62 characters, time then random.
 *-------------------------------------------------------------------------
 */
#ifndef PR_IDS_H
#define PR_IDS_H

#define PR_ID_CHARS			24
#define PR_ID_TIME_CHARS	9	/* microseconds, base62 */
#define PR_ID_MAXLEN		(4 + PR_ID_CHARS + 1)

/* Write prefix + 24 base62 characters + NUL into out (PR_ID_MAXLEN). */
extern void pr_new_id(char *out, const char *prefix);

#endif							/* PR_IDS_H */
