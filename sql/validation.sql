--
-- Parameter validation of report_payment and report_refund (README contract C4, C7):
-- every error has its SQLSTATE, Stripe param (column-name field) and Stripe
-- code (detail), and no bad input leaves a row behind.
--
\i test/regress/helpers.sql

-- try(): the outcome of one call as "SQLSTATE | param | code | message"
CREATE FUNCTION regress_try(fn text, id text, p jsonb) RETURNS text
LANGUAGE sql AS $$
    SELECT pg_temp.try_fields(CASE fn
        WHEN 'payment' THEN format('SELECT payment_records.report_payment(%L::jsonb)', p)
        ELSE format('SELECT payment_records.report_refund(%L::text, %L::jsonb)', id, p) END)
$$;

CREATE TABLE regress_base AS SELECT '{
  "amount_requested": {"currency": "usd", "value": 1000},
  "initiated_at": 1730253453,
  "payment_method_details": {"payment_method": "pm_1"}
}'::jsonb AS p;

CREATE TABLE regress_counts AS
SELECT (SELECT count(*) FROM payment_records.payment_record) AS records,
       (SELECT count(*) FROM payment_records.payment_attempt_record) AS attempts,
       (SELECT count(*) FROM payment_records.refund) AS refunds;

-- the base is valid (successful calls below are counted at the end)
SELECT regress_try('payment', NULL, p) FROM regress_base;

-- each required parameter missing
SELECT k, regress_try('payment', NULL, p - k) FROM regress_base,
    unnest(ARRAY['amount_requested', 'initiated_at', 'payment_method_details']) k ORDER BY k;
SELECT regress_try('payment', NULL, p #- '{amount_requested,currency}') FROM regress_base;
SELECT regress_try('payment', NULL, p #- '{amount_requested,value}') FROM regress_base;
SELECT regress_try('payment', NULL, NULL);
SELECT regress_try('payment', NULL, '{}');
SELECT regress_try('payment', NULL, '[]');
SELECT regress_try('payment', NULL, '"x"');
-- payment_method_details needs payment_method or type
SELECT regress_try('payment', NULL, p || '{"payment_method_details": {}}') FROM regress_base;
SELECT regress_try('payment', NULL, p || '{"payment_method_details": {"custom": {"display_name": "x"}}}') FROM regress_base;
SELECT regress_try('payment', NULL, p || '{"payment_method_details": {"type": "custom"}}') FROM regress_base;
SELECT regress_try('payment', NULL, p || '{"payment_method_details": {"type": "card"}}') FROM regress_base;

-- unknown keys at each nesting level
SELECT regress_try('payment', NULL, p || '{"amount": 5}') FROM regress_base;
SELECT regress_try('payment', NULL, jsonb_set(p, '{amount_requested,cents}', '1')) FROM regress_base;
SELECT regress_try('payment', NULL, p || '{"payment_method_details": {"payment_method": "pm_1", "card": {}}}') FROM regress_base;
SELECT regress_try('payment', NULL, p || '{"payment_method_details": {"payment_method": "pm_1", "billing_details": {"address": {"zip": "1"}}}}') FROM regress_base;
SELECT regress_try('payment', NULL, p || '{"customer_details": {"id": "cus_1"}}') FROM regress_base;
SELECT regress_try('payment', NULL, p || '{"processor_details": {"type": "custom", "custom": {"payment_reference": "a", "x": "b"}}}') FROM regress_base;
SELECT regress_try('payment', NULL, p || '{"outcome": "guaranteed", "guaranteed": {"guaranteed_at": 1, "by": "me"}}') FROM regress_base;

-- wrong types
SELECT regress_try('payment', NULL, p || '{"amount_requested": "1000"}') FROM regress_base;
SELECT regress_try('payment', NULL, p || '{"initiated_at": "yesterday"}') FROM regress_base;
SELECT regress_try('payment', NULL, p || '{"initiated_at": 1.5}') FROM regress_base;
SELECT regress_try('payment', NULL, p || '{"initiated_at": -1}') FROM regress_base;
SELECT regress_try('payment', NULL, p || '{"initiated_at": true}') FROM regress_base;
SELECT regress_try('payment', NULL, p || '{"description": 5}') FROM regress_base;
SELECT regress_try('payment', NULL, p || '{"description": null}') FROM regress_base;
SELECT regress_try('payment', NULL, p || '{"customer_details": []}') FROM regress_base;
SELECT regress_try('payment', NULL, p || '{"customer_presence": "sometimes"}') FROM regress_base;
SELECT regress_try('payment', NULL, p || '{"customer_details": {"email": "not-an-email"}}') FROM regress_base;
SELECT regress_try('payment', NULL, p || '{"expand": "x"}') FROM regress_base;
SELECT regress_try('payment', NULL, p || '{"expand": [1]}') FROM regress_base;
SELECT regress_try('payment', NULL, jsonb_set(p, '{amount_requested,value}', '"12abc"')) FROM regress_base;
SELECT regress_try('payment', NULL, jsonb_set(p, '{amount_requested,value}', '1000.0')) FROM regress_base;
SELECT regress_try('payment', NULL, jsonb_set(p, '{amount_requested,value}', '99999999999999999999999')) FROM regress_base;
-- integers as decimal strings are accepted (form bodies carry only strings)
SELECT regress_try('payment', NULL, p || '{"initiated_at": "1730253453", "amount_requested": {"currency": "usd", "value": "1000"}}') FROM regress_base;

-- empty and blank strings
SELECT regress_try('payment', NULL, p || '{"description": ""}') FROM regress_base;
SELECT regress_try('payment', NULL, p || '{"description": "   "}') FROM regress_base;
SELECT regress_try('payment', NULL, p || '{"payment_method_details": {"payment_method": ""}}') FROM regress_base;
SELECT regress_try('payment', NULL, p || '{"customer_details": {"name": " \t "}}') FROM regress_base;
SELECT regress_try('payment', NULL, p || '{"customer_details": ""}') FROM regress_base;
SELECT regress_try('payment', NULL, p || jsonb_build_object('description', repeat('x', 5001))) FROM regress_base;
SELECT regress_try('payment', NULL, p || jsonb_build_object('description', repeat('é', 5000))) FROM regress_base;
SELECT regress_try('payment', NULL, p || jsonb_build_object('customer_details', jsonb_build_object('email', repeat('a', 795) || '@b.co'))) FROM regress_base;

-- currencies
SELECT c, regress_try('payment', NULL, jsonb_set(p, '{amount_requested,currency}', to_jsonb(c))) FROM regress_base,
    unnest(ARRAY['xyz', 'us', 'usdd', '', 'USD', 'Jpy']) c ORDER BY c;
-- upper-case input is stored lower-case
SELECT payment_records.report_payment(jsonb_set(p, '{amount_requested,currency}', '"EUR"')) -> 'amount_requested' FROM regress_base;
-- zero-decimal: 1 yen is fine; three-decimal: multiples of 10 only
SELECT payment_records.report_payment(jsonb_set(p, '{amount_requested}', '{"currency": "jpy", "value": 1}')) -> 'amount_requested' FROM regress_base;
SELECT regress_try('payment', NULL, jsonb_set(p, '{amount_requested}', '{"currency": "kwd", "value": 1005}')) FROM regress_base;
SELECT payment_records.report_payment(jsonb_set(p, '{amount_requested}', '{"currency": "kwd", "value": 1010}')) -> 'amount_requested' FROM regress_base;

-- amount bounds
SELECT v, regress_try('payment', NULL, jsonb_set(p, '{amount_requested,value}', to_jsonb(v))) FROM regress_base,
    unnest(ARRAY[0, -1, 99999999, 100000000]) v ORDER BY v;
SELECT regress_try('payment', NULL, jsonb_set(p, '{amount_requested}', '{"currency": "idr", "value": 999999999999}')) FROM regress_base;
SELECT regress_try('payment', NULL, jsonb_set(p, '{amount_requested}', '{"currency": "idr", "value": 1000000000000}')) FROM regress_base;

-- metadata limits
SELECT regress_try('payment', NULL, p || jsonb_build_object('metadata',
    (SELECT jsonb_object_agg('k' || i, 'v') FROM generate_series(1, 50) i))) FROM regress_base;
SELECT regress_try('payment', NULL, p || jsonb_build_object('metadata',
    (SELECT jsonb_object_agg('k' || i, 'v') FROM generate_series(1, 51) i))) FROM regress_base;
SELECT regress_try('payment', NULL, p || jsonb_build_object('metadata', jsonb_build_object(repeat('k', 40), 'v'))) FROM regress_base;
SELECT regress_try('payment', NULL, p || jsonb_build_object('metadata', jsonb_build_object(repeat('k', 41), 'v'))) FROM regress_base;
SELECT regress_try('payment', NULL, p || jsonb_build_object('metadata', jsonb_build_object('k', repeat('v', 500)))) FROM regress_base;
SELECT regress_try('payment', NULL, p || jsonb_build_object('metadata', jsonb_build_object('k', repeat('v', 501)))) FROM regress_base;
SELECT regress_try('payment', NULL, p || '{"metadata": {"a[b]": "v"}}') FROM regress_base;
SELECT regress_try('payment', NULL, p || '{"metadata": {"": "v"}}') FROM regress_base;
SELECT regress_try('payment', NULL, p || '{"metadata": {"k": {"nested": 1}}}') FROM regress_base;
SELECT regress_try('payment', NULL, p || '{"metadata": []}') FROM regress_base;
-- numbers and booleans are kept as text; empty values are dropped
SELECT payment_records.report_payment(p || '{"metadata": {"n": 12.50, "b": true, "s": "x", "gone": ""}}') -> 'metadata' FROM regress_base;

-- outcome and its hashes
SELECT regress_try('payment', NULL, p || '{"outcome": "guaranteed"}') FROM regress_base;
SELECT regress_try('payment', NULL, p || '{"outcome": "failed"}') FROM regress_base;
SELECT regress_try('payment', NULL, p || '{"outcome": "guaranteed", "guaranteed": {"guaranteed_at": 1}, "failed": {"failed_at": 1}}') FROM regress_base;
SELECT regress_try('payment', NULL, p || '{"outcome": "failed", "guaranteed": {"guaranteed_at": 1}, "failed": {"failed_at": 1}}') FROM regress_base;
SELECT regress_try('payment', NULL, p || '{"guaranteed": {"guaranteed_at": 1}}') FROM regress_base;
SELECT regress_try('payment', NULL, p || '{"outcome": "guaranteed", "guaranteed": {}}') FROM regress_base;
SELECT regress_try('payment', NULL, p || '{"outcome": "refunded"}') FROM regress_base;

-- report_refund parameters (validated before the record is looked up)
SELECT regress_try('refund', 'pr_none', '{}');
SELECT regress_try('refund', 'pr_none', '{"outcome": "refunded"}');
SELECT regress_try('refund', 'pr_none', '{"processor_details": {"type": "custom"}}');
SELECT regress_try('refund', 'pr_none', '{"outcome": "refunded", "processor_details": {}}');
SELECT regress_try('refund', 'pr_none', '{"outcome": "refunded", "processor_details": {"type": "custom", "custom": {}}}');
SELECT regress_try('refund', 'pr_none', '{"outcome": "refunded", "processor_details": {"type": "custom", "custom": {"refund_reference": ""}}}');
SELECT regress_try('refund', 'pr_none', '{"outcome": "canceled", "processor_details": {"type": "custom"}}');
SELECT regress_try('refund', 'pr_none', '{"outcome": "refunded", "processor_details": {"type": "custom"}, "refunded": {}}');
SELECT regress_try('refund', 'pr_none', '{"outcome": "refunded", "processor_details": {"type": "custom"}, "amount": {"currency": "usd", "value": 0}}');
SELECT regress_try('refund', 'pr_none', '{"outcome": "refunded", "processor_details": {"type": "custom"}, "amount": {"value": 5}}');
SELECT regress_try('refund', 'pr_none', '{"outcome": "refunded", "processor_details": {"type": "custom"}, "reason": "x"}');
SELECT regress_try('refund', NULL, '{"outcome": "refunded", "processor_details": {"type": "custom"}}');
SELECT regress_try('refund', 'pr_none', '{"outcome": "refunded", "processor_details": {"type": "custom"}}');

-- none of the failed calls above left anything behind: the only new rows
-- are the 16 calls that answered ok or returned an object, one attempt each
SELECT (SELECT count(*) FROM payment_records.payment_record) - records AS new_records,
       (SELECT count(*) FROM payment_records.payment_attempt_record) - attempts AS new_attempts,
       (SELECT count(*) FROM payment_records.refund) - refunds AS new_refunds
FROM regress_counts;

DROP TABLE regress_base, regress_counts;
DROP FUNCTION regress_try(text, text, jsonb);
