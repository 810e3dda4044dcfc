/*-------------------------------------------------------------------------
 * pr_ids.c
 *		Unguessable object ids from a buffered strong random source.
 *
 * pg_strong_random() is a system call (or an OpenSSL call) per use; ids are
 * made on the hot path, so random bytes are drawn a page at a time into a
 * per-backend buffer.  The buffer remembers the pid that filled it: a
 * library preloaded into the postmaster must never hand the same bytes to
 * two forked backends.  Bytes are mapped to base62 by rejection (values
 * >= 248 are skipped) so every character is uniform.
 *
 * The first 9 of the 24 characters are the clock in microseconds, base62
 * (fixed width, so ids sort by creation under the C collation, until the
 * year 2398), kept strictly increasing within a backend; the other 15
 * are random, about 89 bits.  Why: the id is the primary key, and random
 * keys land on a random index page at every insert -- a page to read,
 * often one to split, and after each checkpoint a full page image in the
 * WAL.  Ids that grow land on the last page, like a serial's: inserts are
 * cheaper, the WAL several times smaller and index pages fuller.  The
 * time an id reveals is the object's own "created", already in every
 * response.
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "miscadmin.h"
#include "utils/timestamp.h"

#include "pr_ids.h"
#include "pr_shard.h"

#define PR_RANDOM_BUFSIZE 4096

static uint8 random_buf[PR_RANDOM_BUFSIZE];
static int	random_pos = PR_RANDOM_BUFSIZE;
static int	random_pid = 0;
static uint64 last_id_us = 0;

static const char base62[] =
"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/*
 * One strong random byte from the buffer, refilled when used up or when
 * filled by another process (see above).
 */
static uint8
next_random_byte(void)
{
	if (random_pos >= PR_RANDOM_BUFSIZE || random_pid != MyProcPid)
	{
		if (!pg_strong_random(random_buf, PR_RANDOM_BUFSIZE))
			ereport(ERROR,
					(errcode(ERRCODE_INTERNAL_ERROR),
					 errmsg("could not generate random bytes for an object id")));
		random_pos = 0;
		random_pid = MyProcPid;
	}
	return random_buf[random_pos++];
}

/*
 * Write prefix and a new id (clock, then random, see above) into out,
 * which must have room for the prefix, PR_ID_CHARS and a NUL.
 */
void
pr_new_id(char *out, const char *prefix)
{
	int			plen = strlen(prefix);
	int			i = 0;
	/* microseconds since 1970 (TimestampTz counts them from 2000) */
	uint64		us = (uint64) (GetCurrentTimestamp() +
							   (int64) (POSTGRES_EPOCH_JDATE - UNIX_EPOCH_JDATE) *
							   SECS_PER_DAY * USECS_PER_SEC);

	/* two ids of one backend never share a prefix, nor go backwards */
	if (us <= last_id_us)
		us = last_id_us + 1;
	last_id_us = us;

	Assert(plen <= 4);
	memcpy(out, prefix, plen);
	for (i = PR_ID_TIME_CHARS - 1; i >= 0; i--)
	{
		out[plen + i] = base62[us % 62];
		us /= 62;
	}
	i = PR_ID_TIME_CHARS;
	while (i < PR_ID_CHARS)
	{
		uint8		b = next_random_byte();

		/* consumed bytes are not left behind for a later reader */
		random_buf[random_pos - 1] = 0;
		if (b >= 248)
			continue;
		out[plen + i++] = base62[b % 62];
	}
	out[plen + i] = '\0';
	pr_shard_stamp_id(out + plen);
}
