/*-------------------------------------------------------------------------
 * pr_ids.h
 *		Object ids: a prefix and 24 random base62 characters.
 *-------------------------------------------------------------------------
 */
#ifndef PR_IDS_H
#define PR_IDS_H

#define PR_ID_RANDOM_CHARS	24
#define PR_ID_MAXLEN		(4 + PR_ID_RANDOM_CHARS + 1)

/* Write prefix + 24 base62 characters + NUL into out (PR_ID_MAXLEN). */
extern void pr_new_id(char *out, const char *prefix);

#endif							/* PR_IDS_H */
