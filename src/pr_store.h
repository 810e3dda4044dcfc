/*-------------------------------------------------------------------------
 * pr_store.h
 *		The data layer: every read and write of the extension's tables.
 *
 * The one interface of the code that touches the tables, implemented by
 *	pr_read.c		reads through SQL (a record, an attempt, list pages)
 *	pr_write.c		writes of records, attempts and refunds
 *	pr_scan.c		direct index probes: the record lock, chain reads
 *	pr_idem_rows.c	the rows of idempotency keys
 *	pr_event_row.c	the change events' rows
 *	pr_key_rows.c	the gateway's API keys, looked up by secret hash
 * on top of pr_spi.c (the SQL statements' runner), pr_insert.c (inserts
 * without SQL) and pr_catalog.c (the tables found by OID, their layout
 * checked).  Callers of the SQL-backed functions must be inside
 * pr_spi_connect()/pr_spi_finish().
 *-------------------------------------------------------------------------
 */
#ifndef PR_STORE_H
#define PR_STORE_H

#include "datatype/timestamp.h"
#include "utils/jsonb.h"

#include "pr_ids.h"
#include "pr_status.h"

/* One payment attempt, as stored. */
typedef struct PrAttempt
{
	char		id[PR_ID_MAXLEN];
	int32		attempt;		/* 1-based number within its record */
	PrStatus	status;
	TimestampTz created;
	Jsonb	   *customer_details;
	char	   *customer_presence;
	char	   *description;
	Jsonb	   *metadata;
	Jsonb	   *payment_method_details;
	Jsonb	   *processor_details;
	Jsonb	   *shipping_details;
} PrAttempt;

/* A payment record with its latest attempt and refund total. */
typedef struct PrRecord
{
	int64		seq;			/* internal key, children reference it */
	char		id[PR_ID_MAXLEN];
	bool		livemode;
	TimestampTz created;
	char		currency[4];
	int64		amount;
	int32		refund_count;
	int64		refunded;		/* running total of the latest refund */
	PrAttempt	latest;
} PrRecord;

/* A refund to insert. */
typedef struct PrRefund
{
	int64		amount;
	char	   *reference;		/* NULL when none */
	bool		has_initiated_at;
	TimestampTz initiated_at;
	bool		has_refunded_at;
	TimestampTz refunded_at;
	Jsonb	   *metadata;
} PrRefund;

/* A new attempt to insert (the first one is inserted with its record). */
typedef struct PrNewAttempt
{
	TimestampTz initiated_at;
	bool		has_guaranteed_at;
	TimestampTz guaranteed_at;
	bool		has_failed_at;
	TimestampTz failed_at;
	bool		has_canceled_at;
	TimestampTz canceled_at;
} PrNewAttempt;

extern void pr_store_insert_payment(PrRecord *rec, PrNewAttempt *na);
extern bool pr_store_lock_record(const char *id, bool livemode, PrRecord *rec);
extern void pr_store_read_state(PrRecord *rec);
extern bool pr_store_fetch_record(const char *id, bool livemode, PrRecord *rec);
extern void pr_store_insert_refund(PrRecord *rec, PrRefund *rf);
extern void pr_store_set_attempt_metadata(PrAttempt *a, Jsonb *metadata);

extern void pr_store_insert_attempt(PrRecord *rec, PrNewAttempt *na);
extern void pr_store_set_attempt_state(PrAttempt *a, PrStatus status,
									   TimestampTz status_at, Jsonb *metadata);
extern void pr_store_set_attempt_info(PrAttempt *a);
extern bool pr_store_fetch_attempt(const char *id, bool livemode, PrRecord *rec,
								   PrAttempt *a);
extern bool pr_store_attempt_cursor(int64 record_seq, const char *id, int32 *attempt);
extern int	pr_store_list_attempts(int64 record_seq, bool asc, int32 bound,
								   int64 limit, PrAttempt **out);
extern bool pr_store_record_cursor(const char *id, bool livemode,
								   TimestampTz *created, int64 *seq);
extern int	pr_store_list_records(bool livemode, bool asc, TimestampTz lo,
								  TimestampTz hi, TimestampTz cur_created,
								  int64 cur_seq, int64 limit, PrRecord **out);

/* A stored idempotency key. */
typedef struct PrStoredKey
{
	char	   *endpoint;
	uint8		hash[32];
	Jsonb	   *response;		/* NULL when an error was stored */
	Jsonb	   *error;
	TimestampTz created;
} PrStoredKey;

extern bool pr_store_idem_get(bool livemode, const char *key, PrStoredKey *out);
extern void pr_store_idem_put(bool livemode, const char *key, const char *endpoint,
							  const uint8 *hash, Jsonb *response, Jsonb *error);
extern void pr_store_idem_delete(bool livemode, const char *key);
extern int64 pr_store_purge_keys(TimestampTz cutoff, int32 batch);
extern int64 pr_store_event_insert(const char *type, bool livemode, Jsonb *object);

/* A gateway API key, as stored (pr_key_rows.c). */
typedef struct PrApiKey
{
	char	   *id;				/* in the caller's memory, not SPI's */
	NameData	role_name;
	bool		livemode;
	bool		restricted;
	bool		active;			/* not revoked */
} PrApiKey;

extern bool pr_store_api_key(const uint8 *secret_hash, PrApiKey *out);

/* What the triggers read of a record and of an attempt. */
typedef struct PrRecordKey
{
	int64		amount;
	bool		livemode;
	char		currency[4];
} PrRecordKey;

typedef struct PrAttemptState
{
	PrStatus	status;
	int32		attempt;
} PrAttemptState;

/* for the triggers (inside SPI) */
extern bool pr_store_record_key(int64 seq, bool lock, PrRecordKey *rk);
extern bool pr_store_attempt_state(int64 record_seq, int32 n, PrAttemptState *out);
extern bool pr_store_refund_total(int64 record_seq, int32 refund_no, int64 *total);
extern bool pr_store_record_exists(const char *id, bool livemode);
extern bool pr_store_has_records(void);

#endif							/* PR_STORE_H */
