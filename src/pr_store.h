/*-------------------------------------------------------------------------
 * pr_store.h
 *		The store: every read and write of the extension's tables.
 *
 * SQL statements are prepared once per backend and kept (SPI_keepplan);
 * values are always $n parameters, never text pasted into SQL.  Inserts
 * of new rows go through pr_insert (no SQL at all).  Callers must be
 * inside SPI_connect()/SPI_finish().
 *-------------------------------------------------------------------------
 */
#ifndef PR_STORE_H
#define PR_STORE_H

#include "datatype/timestamp.h"
#include "utils/jsonb.h"

#include "pr_ids.h"

/* One payment attempt, as stored. */
typedef struct PrAttempt
{
	char		id[PR_ID_MAXLEN];
	int32		attempt;		/* 1-based number within its record */
	char		status[12];		/* pending, guaranteed, failed, canceled */
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
extern void pr_store_set_attempt_state(PrAttempt *a, const char *status,
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

/* An attempt's status. */
typedef enum PrStatus
{
	PR_STATUS_INVALID = -1,
	PR_STATUS_PENDING,
	PR_STATUS_GUARANTEED,
	PR_STATUS_FAILED,
	PR_STATUS_CANCELED
} PrStatus;

extern PrStatus pr_status_from_text(const char *s);
extern const char *pr_status_text(PrStatus s);

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
