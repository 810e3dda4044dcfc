/*-------------------------------------------------------------------------
 * pr_triggers.h
 *		What the API tells the refund trigger about the row it inserts.
 *-------------------------------------------------------------------------
 */
#ifndef PR_TRIGGERS_H
#define PR_TRIGGERS_H

/*
 * report_refund has, under the record's lock and with the latest
 * snapshot, checked exactly what refund_check would check for the row it
 * is about to insert.  It says so here just before its INSERT and clears
 * it right after; refund_check then skips its own reads for that one row
 * (same backend, same transaction, same values) and checks every other
 * row in full.  Nothing in SQL can set this.
 */
extern void pr_refund_verified(int64 record_seq, int32 refund_no, int64 amount,
							   int64 refunded_total, bool livemode);
extern void pr_refund_verified_clear(void);

#endif							/* PR_TRIGGERS_H */
