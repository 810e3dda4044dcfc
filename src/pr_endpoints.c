/*-------------------------------------------------------------------------
 * pr_endpoints.c
 *		The lists of write endpoints and event types (pr_endpoints.h).
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "pr_endpoints.h"

/* every write endpoint */
const char *const pr_write_endpoints[PR_N_WRITE_ENDPOINTS] = {
	PR_ENDPOINT_REPORT_PAYMENT,
	PR_ENDPOINT_REPORT_REFUND,
	PR_ENDPOINT_REPORT_ATTEMPT,
	PR_ENDPOINT_REPORT_ATTEMPT_CANCELED,
	PR_ENDPOINT_REPORT_ATTEMPT_FAILED,
	PR_ENDPOINT_REPORT_ATTEMPT_GUARANTEED,
	PR_ENDPOINT_REPORT_ATTEMPT_INFORMATIONAL,
};

/* every event type */
static const char *const event_types[] = {
	PR_EVENT_RECORD_REPORTED,
	PR_EVENT_RECORD_UPDATED,
	PR_EVENT_RECORD_REFUNDED,
	PR_EVENT_ATTEMPT_REPORTED,
	PR_EVENT_ATTEMPT_GUARANTEED,
	PR_EVENT_ATTEMPT_FAILED,
	PR_EVENT_ATTEMPT_CANCELED,
};

/* Is s one of the n names of list? */
static bool
in_list(const char *s, const char *const *list, int n)
{
	int			i;

	for (i = 0; i < n; i++)
		if (strcmp(s, list[i]) == 0)
			return true;
	return false;
}

/* Is e the name of a write endpoint (one whose answers keys store)? */
bool
pr_is_write_endpoint(const char *e)
{
	return in_list(e, pr_write_endpoints, PR_N_WRITE_ENDPOINTS);
}

/* Is t an event type the API emits? */
bool
pr_is_event_type(const char *t)
{
	return in_list(t, event_types, lengthof(event_types));
}
