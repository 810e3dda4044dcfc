/*-------------------------------------------------------------------------
 * pr_insert.h
 *		Row inserts without an SQL statement, for the hot write paths.
 *
 * An INSERT through SPI pays for a whole executor start and end per call.
 * These write the row the way the executor's own ModifyTable does (and as
 * logical replication's apply does, through ExecSimpleRelationInsert): the
 * heap tuple, every index entry with its unique check, the BEFORE and
 * AFTER ROW triggers and the statement triggers, so the constraint
 * triggers and foreign keys check these rows exactly as they check any
 * INSERT.  Like the apply worker, it works on a real range table, checks
 * the INSERT privilege, and refuses tables with row-level security.
 *
 * Values are in the table's column order (the PR_*_ATT numbers below),
 * which the install script defines; the first open in each backend checks
 * the table still has those columns.
 *-------------------------------------------------------------------------
 */
#ifndef PR_INSERT_H
#define PR_INSERT_H

#include "storage/lockdefs.h"
#include "utils/relcache.h"

/* the tables written directly */
typedef enum PrTable
{
	PR_T_RECORD,
	PR_T_ATTEMPT,
	PR_T_EVENT,
	PR_T_REFUND,
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

typedef struct PrInsertBatch PrInsertBatch;

extern int64 pr_next_serial(PrTable t);
extern Relation pr_table_open(PrTable t, LOCKMODE mode);
extern PrInsertBatch *pr_insert_begin(void);
extern void pr_insert_row(PrInsertBatch *b, PrTable t, Datum *values, bool *isnull);
extern void pr_insert_end(PrInsertBatch *b);

#endif							/* PR_INSERT_H */
