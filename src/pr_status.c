/*-------------------------------------------------------------------------
 * pr_status.c
 *		The one conversion between an attempt's status and its text.
 *
 * The status column, the API's "status" fields, the "outcome" parameter
 * and the error messages all spell a status the same way; everything
 * else in C handles it as a PrStatus.
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "pr_status.h"

/* the text of each status, by PrStatus */
static const char *const status_names[] = {
	[PR_STATUS_PENDING] = "pending",
	[PR_STATUS_GUARANTEED] = "guaranteed",
	[PR_STATUS_FAILED] = "failed",
	[PR_STATUS_CANCELED] = "canceled",
};

/* The status named by s (PR_STATUS_INVALID if none). */
PrStatus
pr_status_from_text(const char *s)
{
	int			i;

	for (i = 0; i < (int) lengthof(status_names); i++)
		if (strcmp(s, status_names[i]) == 0)
			return (PrStatus) i;
	return PR_STATUS_INVALID;
}

/* The text of status s ("invalid" for PR_STATUS_INVALID). */
const char *
pr_status_text(PrStatus s)
{
	if (s < 0 || s >= (int) lengthof(status_names))
		return "invalid";
	return status_names[s];
}
