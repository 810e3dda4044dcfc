/*-------------------------------------------------------------------------
 * pr_shard.c
 *		A sharded node's shard number in its ids and its serial keys.
 *
 * In a sharded deployment (payment_records_router, README "Beyond one
 * machine") every node has a shard number, payment_records.shard, set by
 * a superuser (ALTER DATABASE ... SET or ALTER SYSTEM); -1, the default,
 * is an unsharded node, which behaves exactly as before.
 *
 * Ids: characters 10 and 11 of the 24 (right after the 9 of the clock,
 * so ids still grow and land on the last index page) are the shard in
 * base62, and the router reads them to send a call by id straight to its
 * shard.  13 random characters remain, about 77 bits.
 *
 * Serial keys (record seq, event id): a sequence value n becomes
 * n * 4096 + shard, so the rows of every shard can live in one reporting
 * database without a key colliding, and a node's keys still grow.  A node
 * that becomes sharded keeps its old keys: n * 4096 + shard is above
 * every n it handed out before.
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "common/int.h"

#include "pr_settings.h"
#include "pr_shard.h"

static const char shard_base62[] =
"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/*
 * Overwrite characters PR_SHARD_ID_POS and the next of a new id's 24
 * (body: the characters after the prefix) with the node's shard; an
 * unsharded node's ids stay as pr_new_id made them.
 */
void
pr_shard_stamp_id(char *body)
{
	int			shard = pr_shard;

	if (shard < 0)
		return;
	body[PR_SHARD_ID_POS] = shard_base62[shard / 62];
	body[PR_SHARD_ID_POS + 1] = shard_base62[shard % 62];
}

/*
 * n (a value of one of the extension's sequences) as this node's serial
 * key: n itself when unsharded, n * 4096 + shard when sharded.
 */
int64
pr_shard_serial(int64 n)
{
	int			shard = pr_shard;
	int64		r;

	if (shard < 0)
		return n;
	if (pg_mul_s64_overflow(n, PR_SHARD_SERIAL_MUL, &r) ||
		pg_add_s64_overflow(r, shard, &r))
		ereport(ERROR,
				(errcode(ERRCODE_SEQUENCE_GENERATOR_LIMIT_EXCEEDED),
				 errmsg("serial key out of range on shard %d", shard)));
	return r;
}
