/*-------------------------------------------------------------------------
 * pr_schemas.c
 *		Parameter tables for each endpoint, read by pr_validate().
 *
 * A table lists every key an object may have; anything else is rejected
 * as parameter_unknown.  Nested hashes (addresses, details) are shared
 * between endpoints so a rule is written once.
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "pr_schemas.h"

#define END {NULL, PK_STRING, 0, NULL, NULL, 0, 0}
#define STR(n, fl) {n, PK_STRING, fl, NULL, NULL, 0, 0}
#define EMAIL(n) {n, PK_EMAIL, 0, NULL, NULL, 0, 0}
#define ENUM(n, fl, vals) {n, PK_ENUM, fl, NULL, vals, 0, 0}
#define TS(n, fl) {n, PK_TIMESTAMP, fl, NULL, NULL, 0, 0}
#define OBJ(n, fl, sub) {n, PK_OBJECT, fl, sub, NULL, 0, 0}
#define AMOUNT(n, fl) {n, PK_AMOUNT, fl, NULL, NULL, 0, 0}
#define META {"metadata", PK_METADATA, 0, NULL, NULL, 0, 0}
#define EXPAND {"expand", PK_EXPAND, 0, NULL, NULL, 0, 0}
#define INT(n, fl, lo, hi) {n, PK_INTEGER, fl, NULL, NULL, lo, hi}

static const char *const presence_values[] = {"on_session", "off_session", NULL};
static const char *const payment_outcomes[] = {"guaranteed", "failed", "canceled", NULL};
static const char *const refund_outcomes[] = {"refunded", NULL};
static const char *const custom_type[] = {"custom", NULL};

static const PrField address[] = {
	STR("city", 0), STR("country", 0), STR("line1", 0), STR("line2", 0),
	STR("postal_code", 0), STR("state", 0), END
};

static const PrField billing_details[] = {
	OBJ("address", 0, address), EMAIL("email"), STR("name", 0), STR("phone", 0), END
};

static const PrField customer_details[] = {
	STR("customer", 0), EMAIL("email"), STR("name", 0), STR("phone", 0), END
};

static const PrField shipping_details[] = {
	OBJ("address", 0, address), STR("name", 0), STR("phone", 0), END
};

static const PrField pm_custom[] = {
	STR("display_name", 0), STR("type", 0), END
};

/* payment_method or type=custom: the endpoint checks that one is given */
static const PrField payment_method_details[] = {
	OBJ("billing_details", 0, billing_details),
	OBJ("custom", 0, pm_custom),
	STR("payment_method", 0),
	ENUM("type", 0, custom_type),
	END
};

static const PrField payment_processor_custom[] = {
	STR("payment_reference", PF_REQUIRED), END
};

static const PrField payment_processor_details[] = {
	OBJ("custom", 0, payment_processor_custom),
	ENUM("type", PF_REQUIRED, custom_type),
	END
};

static const PrField refund_processor_custom[] = {
	STR("refund_reference", PF_REQUIRED), END
};

static const PrField refund_processor_details[] = {
	OBJ("custom", 0, refund_processor_custom),
	ENUM("type", PF_REQUIRED, custom_type),
	END
};

static const PrField guaranteed[] = {TS("guaranteed_at", PF_REQUIRED), END};
static const PrField failed[] = {TS("failed_at", PF_REQUIRED), END};
static const PrField canceled[] = {TS("canceled_at", PF_REQUIRED), END};
static const PrField refunded[] = {TS("refunded_at", PF_REQUIRED), END};

const PrField pr_schema_report_payment[] = {
	AMOUNT("amount_requested", PF_REQUIRED),
	OBJ("canceled", 0, canceled),
	OBJ("customer_details", 0, customer_details),
	ENUM("customer_presence", 0, presence_values),
	STR("description", 0),
	EXPAND,
	OBJ("failed", 0, failed),
	OBJ("guaranteed", 0, guaranteed),
	TS("initiated_at", PF_REQUIRED),
	META,
	ENUM("outcome", 0, payment_outcomes),
	OBJ("payment_method_details", PF_REQUIRED, payment_method_details),
	OBJ("processor_details", 0, payment_processor_details),
	OBJ("shipping_details", 0, shipping_details),
	END
};

const PrField pr_schema_report_refund[] = {
	AMOUNT("amount", 0),
	EXPAND,
	TS("initiated_at", 0),
	META,
	ENUM("outcome", PF_REQUIRED, refund_outcomes),
	OBJ("processor_details", PF_REQUIRED, refund_processor_details),
	OBJ("refunded", 0, refunded),
	END
};

const PrField pr_schema_report_attempt[] = {
	OBJ("canceled", 0, canceled),
	STR("description", 0),
	EXPAND,
	OBJ("failed", 0, failed),
	OBJ("guaranteed", 0, guaranteed),
	TS("initiated_at", PF_REQUIRED),
	META,
	ENUM("outcome", 0, payment_outcomes),
	OBJ("payment_method_details", 0, payment_method_details),
	OBJ("shipping_details", 0, shipping_details),
	END
};

const PrField pr_schema_attempt_canceled[] = {
	TS("canceled_at", PF_REQUIRED), EXPAND, META, END
};

const PrField pr_schema_attempt_failed[] = {
	EXPAND, TS("failed_at", PF_REQUIRED), META, END
};

const PrField pr_schema_attempt_guaranteed[] = {
	EXPAND, TS("guaranteed_at", PF_REQUIRED), META, END
};

const PrField pr_schema_attempt_informational[] = {
	OBJ("customer_details", 0, customer_details),
	STR("description", PF_UNSETTABLE),
	EXPAND,
	META,
	OBJ("shipping_details", PF_UNSETTABLE, shipping_details),
	END
};

const PrField pr_schema_list_records[] = {
	TS("created_after", 0),
	TS("created_before", 0),
	STR("ending_before", 0),
	EXPAND,
	INT("limit", 0, 1, 100),
	STR("starting_after", 0),
	END
};

const PrField pr_schema_list_attempts[] = {
	STR("ending_before", 0),
	EXPAND,
	INT("limit", 0, 1, 100),
	STR("payment_record", PF_REQUIRED),
	STR("starting_after", 0),
	END
};

const PrField pr_schema_retrieve[] = {EXPAND, END};
