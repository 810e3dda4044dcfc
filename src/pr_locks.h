/*-------------------------------------------------------------------------
 * pr_locks.h
 *		Transaction locks on (mode, text) values: idempotency keys.
 *-------------------------------------------------------------------------
 */
#ifndef PR_LOCKS_H
#define PR_LOCKS_H

/* lock classes: advisory locks of our own, apart from pg_advisory_lock()'s */
#define PR_LOCK_IDEMPOTENCY_KEY		0x7072	/* 'pr' */

/*
 * Take an exclusive transaction-level lock on (lock_class, livemode,
 * value).  With wait false, return false at once if another transaction
 * holds it; with wait true, wait for it (deadlocks are detected as for
 * any lock).  Different values may share a lock (a 64-bit hash): that
 * costs a needless wait or in-use error with odds of 1 in 2^64, never a
 * wrong answer.
 */
extern bool pr_lock_value(int lock_class, bool livemode, const char *value, bool wait);

#endif							/* PR_LOCKS_H */
