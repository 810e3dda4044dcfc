/*-------------------------------------------------------------------------
 * pr_endpoints.h
 *		The names of the write endpoints and of the events they emit,
 *		defined once (pr_endpoints.c lists them).
 *
 * A write endpoint's name is its SQL function's, and is what an
 * idempotency key stores; the request() routes, the API functions and the
 * idempotency_key_check trigger all use these.  The event types are what
 * the API functions emit and what event_check accepts.
 *-------------------------------------------------------------------------
 */
#ifndef PR_ENDPOINTS_H
#define PR_ENDPOINTS_H

/* the write endpoints (idempotency keys name them) */
#define PR_ENDPOINT_REPORT_PAYMENT				"report_payment"
#define PR_ENDPOINT_REPORT_REFUND				"report_refund"
#define PR_ENDPOINT_REPORT_ATTEMPT				"report_payment_attempt"
#define PR_ENDPOINT_REPORT_ATTEMPT_CANCELED		"report_payment_attempt_canceled"
#define PR_ENDPOINT_REPORT_ATTEMPT_FAILED		"report_payment_attempt_failed"
#define PR_ENDPOINT_REPORT_ATTEMPT_GUARANTEED	"report_payment_attempt_guaranteed"
#define PR_ENDPOINT_REPORT_ATTEMPT_INFORMATIONAL "report_payment_attempt_informational"

/* the event types */
#define PR_EVENT_RECORD_REPORTED		"payment_record.reported"
#define PR_EVENT_RECORD_UPDATED			"payment_record.updated"
#define PR_EVENT_RECORD_REFUNDED		"payment_record.refunded"
#define PR_EVENT_ATTEMPT_REPORTED		"payment_attempt_record.reported"
#define PR_EVENT_ATTEMPT_GUARANTEED		"payment_attempt_record.guaranteed"
#define PR_EVENT_ATTEMPT_FAILED			"payment_attempt_record.failed"
#define PR_EVENT_ATTEMPT_CANCELED		"payment_attempt_record.canceled"

/* every write endpoint, in the order above */
#define PR_N_WRITE_ENDPOINTS 7
extern const char *const pr_write_endpoints[PR_N_WRITE_ENDPOINTS];

/* Is e the name of a write endpoint? */
extern bool pr_is_write_endpoint(const char *e);

/* Is t an event type the API emits? */
extern bool pr_is_event_type(const char *t);

#endif							/* PR_ENDPOINTS_H */
