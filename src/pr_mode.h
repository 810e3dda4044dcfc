/*-------------------------------------------------------------------------
 * pr_mode.h
 *		Live or test mode: the caller's, and a role's (pr_mode.c).
 *-------------------------------------------------------------------------
 */
#ifndef PR_MODE_H
#define PR_MODE_H

/* the role whose members act in live mode */
#define PR_LIVE_ROLE "payment_records_live"

/* The caller's mode: true for live. */
extern bool pr_caller_livemode(void);

/* Whether a role acts in live mode. */
extern bool pr_role_livemode(Oid role);

#endif							/* PR_MODE_H */
