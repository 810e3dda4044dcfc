/*-------------------------------------------------------------------------
 * pr_time.h
 *		Unix seconds, as the API speaks them, to and from timestamptz.
 *-------------------------------------------------------------------------
 */
#ifndef PR_TIME_H
#define PR_TIME_H

#include "datatype/timestamp.h"

/* unix seconds <-> timestamptz */
#define PR_UNIX_EPOCH_OFFSET \
	((int64) (POSTGRES_EPOCH_JDATE - UNIX_EPOCH_JDATE) * SECS_PER_DAY)
#define PR_TS_FROM_UNIX(s)	((TimestampTz) (((s) - PR_UNIX_EPOCH_OFFSET) * USECS_PER_SEC))
/* floor division: C's "/" rounds toward zero, wrong before 2000-01-01 */
#define PR_UNIX_FROM_TS(t) \
	((int64) (((t) >= 0 ? (t) : (t) - (USECS_PER_SEC - 1)) / USECS_PER_SEC) + \
	 PR_UNIX_EPOCH_OFFSET)

#endif							/* PR_TIME_H */
