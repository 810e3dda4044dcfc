/*-------------------------------------------------------------------------
 * pr_shard.h
 *		The node's shard number in its ids and serial keys (pr_shard.c).
 *-------------------------------------------------------------------------
 */
#ifndef PR_SHARD_H
#define PR_SHARD_H

/* shards are 0 .. PR_SHARD_MAX: two base62 characters of an id */
#define PR_SHARD_MAX		(62 * 62 - 1)
/* a sharded node's serials are n * PR_SHARD_SERIAL_MUL + shard */
#define PR_SHARD_SERIAL_MUL	4096
/* where the shard sits in an id's 24 characters: right after the clock */
#define PR_SHARD_ID_POS		9

/* Write the node's shard (if any) into the 24 characters of a new id. */
extern void pr_shard_stamp_id(char *body);

/* A sequence value made into this node's serial key (see pr_shard.c). */
extern int64 pr_shard_serial(int64 n);

#endif							/* PR_SHARD_H */
