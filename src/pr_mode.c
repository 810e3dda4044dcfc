/*-------------------------------------------------------------------------
 * pr_mode.c
 *		Live or test mode: the caller's, and a role's.
 *
 * The mode is never a parameter: it is the caller's membership of
 * payment_records_live, which only its administrators can grant.  The
 * API functions, the triggers and the gateway's keys all use these.
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "fmgr.h"
#include "miscadmin.h"
#include "utils/acl.h"

#include "pr_mode.h"

/*
 * The caller's mode: live if the role the session acts as (SET ROLE
 * included, SECURITY DEFINER switches excluded) is a member of
 * payment_records_live, which only its administrators can grant;
 * superusers are not members by virtue of being superusers.  Test mode
 * otherwise, and when the role does not exist.
 */
bool
pr_caller_livemode(void)
{
	return pr_role_livemode(GetOuterUserId());
}

/*
 * Whether a role acts in live mode: a member of payment_records_live (not
 * by being superuser).  The one rule for callers and for gateway keys.
 */
bool
pr_role_livemode(Oid role)
{
	Oid			live = get_role_oid(PR_LIVE_ROLE, true);

	return OidIsValid(live) && is_member_of_role_nosuper(role, live);
}

PG_FUNCTION_INFO_V1(payment_records_caller_livemode);

/*
 * caller_livemode() -> boolean: the caller's mode, as the API decides it;
 * the row-level security policies of the tables show each caller only
 * the rows of its own mode.
 */
Datum
payment_records_caller_livemode(PG_FUNCTION_ARGS)
{
	PG_RETURN_BOOL(pr_caller_livemode());
}
