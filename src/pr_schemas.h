/*-------------------------------------------------------------------------
 * pr_schemas.h
 *		The parameter schema of every endpoint (README, contract clause C4).
 *-------------------------------------------------------------------------
 */
#ifndef PR_SCHEMAS_H
#define PR_SCHEMAS_H

#include "pr_params.h"

extern const PrField pr_schema_report_payment[];
extern const PrField pr_schema_report_refund[];
extern const PrField pr_schema_report_attempt[];
extern const PrField pr_schema_attempt_canceled[];
extern const PrField pr_schema_attempt_failed[];
extern const PrField pr_schema_attempt_guaranteed[];
extern const PrField pr_schema_attempt_informational[];
extern const PrField pr_schema_list_records[];
extern const PrField pr_schema_list_attempts[];
extern const PrField pr_schema_retrieve[];

#endif							/* PR_SCHEMAS_H */
