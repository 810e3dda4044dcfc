/*-------------------------------------------------------------------------
 * pr_locks.c
 *		Transaction locks on hashed values.
 *
 * Advisory locks with a lock class of our own in the fourth tag field, so
 * they never collide with the application's pg_advisory_lock() numbers,
 * held until the transaction ends.
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "common/cryptohash.h"
#include "common/sha2.h"
#include "miscadmin.h"
#include "storage/lock.h"

#include "pr_locks.h"

/*
 * Take an exclusive transaction-level advisory lock on the SHA-256 of
 * value in lock_class and mode.  Without wait, returns false at once when
 * another transaction holds it; otherwise waits, and returns true.
 */
bool
pr_lock_value(int lock_class, bool livemode, const char *value, bool wait)
{
	pg_cryptohash_ctx *ctx = pg_cryptohash_create(PG_SHA256);
	uint8		digest[PG_SHA256_DIGEST_LENGTH];
	char		mode = livemode ? 'l' : 't';
	uint32		h1,
				h2;
	LOCKTAG		tag;

	if (pg_cryptohash_init(ctx) < 0 ||
		pg_cryptohash_update(ctx, (const uint8 *) &mode, 1) < 0 ||
		pg_cryptohash_update(ctx, (const uint8 *) value, strlen(value)) < 0 ||
		pg_cryptohash_final(ctx, digest, sizeof(digest)) < 0)
		elog(ERROR, "could not hash a lock value");
	pg_cryptohash_free(ctx);
	memcpy(&h1, digest, 4);
	memcpy(&h2, digest + 4, 4);

	SET_LOCKTAG_ADVISORY(tag, MyDatabaseId, h1, h2, lock_class);
	return LockAcquire(&tag, ExclusiveLock, false, !wait) != LOCKACQUIRE_NOT_AVAIL;
}
