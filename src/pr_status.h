/*-------------------------------------------------------------------------
 * pr_status.h
 *		A payment attempt's status, as a C enum (pr_status.c).
 *-------------------------------------------------------------------------
 */
#ifndef PR_STATUS_H
#define PR_STATUS_H

/* An attempt's status. */
typedef enum PrStatus
{
	PR_STATUS_INVALID = -1,
	PR_STATUS_PENDING,
	PR_STATUS_GUARANTEED,
	PR_STATUS_FAILED,
	PR_STATUS_CANCELED
} PrStatus;

/* The status named by text (PR_STATUS_INVALID if none). */
extern PrStatus pr_status_from_text(const char *s);

/* The text of a status, as stored and as the API shows it. */
extern const char *pr_status_text(PrStatus s);

#endif							/* PR_STATUS_H */
