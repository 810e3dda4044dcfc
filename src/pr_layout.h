/*-------------------------------------------------------------------------
 * pr_layout.h
 *		The layout of the extension's tables, defined once.
 *
 * The install script creates the tables; this header is the C side of
 * that definition: each table's columns in their order (attribute number
 * = enum value + 1), the serial sequences and the indexes the data layer
 * probes.  The insert code (pr_insert.c), the store (pr_scan.c and the
 * SQL readers) and the constraint triggers (pr_triggers.c) all address
 * columns through these numbers.  pr_catalog.c checks each table (and
 * each index of PrIndex) against this layout once per session, and again
 * after any invalidation, on the table as it is under the caller's lock,
 * and refuses a table or index that differs with SQLSTATE 55000
 * (object_not_in_prerequisite_state).  A change to a table or one of
 * these indexes in an update script must change this header (and
 * pr_layout.c) too.
 *-------------------------------------------------------------------------
 */
#ifndef PR_LAYOUT_H
#define PR_LAYOUT_H

/* The extension's tables whose layout is known to C. */
typedef enum PrTable
{
	/* written directly, without SQL (pr_insert.c) */
	PR_T_RECORD,
	PR_T_ATTEMPT,
	PR_T_EVENT,
	PR_T_REFUND,
	PR_T_DIRECT_COUNT,
	/* written through SQL (pr_idem_rows.c) */
	PR_T_IDEMPOTENCY_KEY = PR_T_DIRECT_COUNT,
	PR_T_COUNT
} PrTable;

/* payment_record columns */
enum
{
	PR_REC_ID, PR_REC_LIVEMODE, PR_REC_CURRENCY, PR_REC_SEQ, PR_REC_CREATED,
	PR_REC_AMOUNT, PR_REC_NATTS
};

/* payment_attempt_record columns */
enum
{
	PR_ATT_RECORD_SEQ, PR_ATT_CREATED, PR_ATT_INITIATED_AT, PR_ATT_GUARANTEED_AT,
	PR_ATT_FAILED_AT, PR_ATT_CANCELED_AT, PR_ATT_ATTEMPT, PR_ATT_ID, PR_ATT_STATUS,
	PR_ATT_CUSTOMER_PRESENCE, PR_ATT_DESCRIPTION, PR_ATT_CUSTOMER_DETAILS,
	PR_ATT_METADATA, PR_ATT_PAYMENT_METHOD_DETAILS, PR_ATT_PROCESSOR_DETAILS,
	PR_ATT_SHIPPING_DETAILS, PR_ATT_NATTS
};

/* event columns */
enum
{
	PR_EV_ID, PR_EV_TYPE, PR_EV_LIVEMODE, PR_EV_OBJECT, PR_EV_CREATED, PR_EV_NATTS
};

/* refund columns */
enum
{
	PR_RF_RECORD_SEQ, PR_RF_AMOUNT, PR_RF_REFUNDED_TOTAL, PR_RF_INITIATED_AT,
	PR_RF_REFUNDED_AT, PR_RF_CREATED, PR_RF_REFUND_NO, PR_RF_LIVEMODE,
	PR_RF_REFUND_REFERENCE, PR_RF_METADATA, PR_RF_NATTS
};

/* idempotency_key columns */
enum
{
	PR_IK_LIVEMODE, PR_IK_KEY, PR_IK_ENDPOINT, PR_IK_REQUEST_HASH, PR_IK_RESPONSE,
	PR_IK_ERROR, PR_IK_CREATED, PR_IK_NATTS
};

/*
 * The indexes the C code names: those the data layer scans directly
 * (pr_scan.c), and the one whose unique violation report_refund() maps to
 * a Stripe error (pr_api_refund.c).
 */
typedef enum PrIndex
{
	PR_I_RECORD_ID,				/* payment_record (id) */
	PR_I_RECORD_SEQ,			/* payment_record (seq) */
	PR_I_ATTEMPT_CHAIN,			/* payment_attempt_record (record_seq, attempt) */
	PR_I_REFUND_CHAIN,			/* refund (record_seq, refund_no) */
	PR_I_REFUND_REFERENCE,		/* refund (livemode, reference_key(...)) */
	PR_I_COUNT
} PrIndex;

/* One column: its name and type. */
typedef struct PrColumn
{
	const char *name;
	Oid			type;
} PrColumn;

/* One table: its name, serial sequence (or NULL) and columns. */
typedef struct PrTableLayout
{
	const char *name;
	const char *serial;
	int			natts;
	const PrColumn *atts;
} PrTableLayout;

/* the layouts, by PrTable (pr_layout.c) */
extern const PrTableLayout pr_layout[PR_T_COUNT];

/*
 * One index the data layer scans with its own scan keys: a btree on the
 * key columns listed (pr_layout.h numbers of the table's columns), in
 * ascending order, each of its column's type with the type's default
 * operator class, text keys in collation "C", no included columns, no
 * expression, no predicate, unique.  pr_catalog.c checks the installed
 * index against this once per session, as it checks the tables.  An
 * index that is only named, never scanned, has nkeys 0 (not checked).
 */
#define PR_INDEX_MAXKEYS 2
typedef struct PrIndexLayout
{
	const char *name;
	PrTable		table;
	int			nkeys;
	int			keys[PR_INDEX_MAXKEYS];
} PrIndexLayout;

/* the indexes, by PrIndex (pr_layout.c) */
extern const PrIndexLayout pr_index_layout[PR_I_COUNT];

/* A set of laid-out tables: the bit of each (PrStatement.tables). */
#define PR_TABLE_BIT(t)	(1u << (t))

/* A column's attribute number (1-based) from its enum value. */
#define PR_ATTNO(col)	((col) + 1)

#endif							/* PR_LAYOUT_H */
