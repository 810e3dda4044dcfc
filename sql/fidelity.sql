--
-- Fidelity to Stripe (issue 14): outcome "canceled" on report_payment and
-- report_payment_attempt; no null where Stripe's API has a string; a code
-- and doc_url in error bodies; metadata decoded as a hash from form
-- bodies; percent-decoded path ids and long ids not echoed.
--
-- Everything runs in one transaction that is rolled back at the end, in
-- live mode (as regress_live), so the suite leaves nothing behind.
--
\i test/regress/helpers.sql
-- a fresh extension: the lists below show this file's records only
CALL pg_temp.fresh_extension();

-- the paths at which an object has a null payment_method_details.type or
-- custom.display_name (none is expected)
CREATE FUNCTION fid_nulls(o jsonb) RETURNS text
LANGUAGE sql AS $$
    SELECT coalesce(string_agg(p, ', '), 'none') FROM (
        SELECT 'type' AS p WHERE o -> 'payment_method_details' ? 'type'
                             AND jsonb_typeof(o -> 'payment_method_details' -> 'type') <> 'string'
        UNION ALL
        SELECT 'custom.display_name' WHERE o -> 'payment_method_details' ? 'custom'
                             AND jsonb_typeof(o #> '{payment_method_details,custom,display_name}') <> 'string'
    ) x
$$;

GRANT EXECUTE ON FUNCTION fid_nulls(jsonb) TO PUBLIC;

\set VERBOSITY terse
\set ON_ERROR_ROLLBACK on
BEGIN;
SET LOCAL ROLE regress_live;

--
-- 1. outcome "canceled" (Stripe's API since 2026-09-30)
--
SELECT payment_records.report_payment('{
    "amount_requested": {"currency": "usd", "value": 1500},
    "initiated_at": 1730253453,
    "payment_method_details": {"payment_method": "pm_1"},
    "outcome": "canceled", "canceled": {"canceled_at": 1730253460}}') AS r \gset
SELECT :'r'::jsonb -> 'amount_canceled' AS canceled, :'r'::jsonb -> 'amount_failed' AS failed,
       :'r'::jsonb -> 'amount_guaranteed' AS guaranteed, :'r'::jsonb -> 'amount_authorized' AS authorized;
SELECT (:'r'::jsonb ->> 'id') AS cid \gset
SELECT a.status, extract(epoch FROM a.canceled_at) AS canceled_at, a.failed_at, a.guaranteed_at
FROM payment_records.payment_attempt_record a WHERE a.id = :'r'::jsonb ->> 'latest_payment_attempt_record';
-- the reporting views show it
SELECT status, amount_canceled, amount_canceled_major, extract(epoch FROM canceled_at) AS canceled_at
FROM payment_records.payment_record_report WHERE id = :'cid';
-- a canceled attempt is final: no outcome call, no refund
SELECT pg_temp.try_fields(format('SELECT payment_records.report_payment_attempt_guaranteed(%L, %L)', :'cid', '{"guaranteed_at": 1730253470}'));
SELECT pg_temp.try_fields(format('SELECT payment_records.report_refund(%L, %L)', :'cid', '{"outcome": "refunded", "processor_details": {"type": "custom"}}'));
-- but allows a new attempt, like failed, which may itself be canceled
SELECT payment_records.report_payment_attempt(:'cid', '{"initiated_at": 1730253480,
    "outcome": "canceled", "canceled": {"canceled_at": 1730253481}}') AS r2 \gset
SELECT :'r2'::jsonb -> 'amount_canceled' AS canceled, :'r2'::jsonb -> 'amount_requested' AS requested;
SELECT a.attempt, a.status, extract(epoch FROM a.canceled_at) AS canceled_at
FROM payment_records.payment_attempt_record a
JOIN payment_records.payment_record p ON p.seq = a.record_seq
WHERE p.id = :'cid' ORDER BY a.attempt;
SELECT payment_records.report_payment_attempt(:'cid', '{"initiated_at": 1730253490,
    "outcome": "guaranteed", "guaranteed": {"guaranteed_at": 1730253491}}') -> 'amount_canceled' AS canceled_after_guaranteed;
-- the attempt objects keep their own buckets
SELECT d.n, a -> 'amount_canceled' ->> 'value' AS canceled, a -> 'amount_guaranteed' ->> 'value' AS guaranteed
FROM jsonb_array_elements(payment_records.list_payment_attempt_records(jsonb_build_object('payment_record', :'cid')) -> 'data')
     WITH ORDINALITY d(a, n) ORDER BY d.n;
-- through request(), as a form body
SELECT status, body -> 'amount_canceled' AS canceled
FROM payment_records.request('POST', '/v1/payment_records/report_payment', payment_records.form_to_jsonb(
    'amount_requested[currency]=eur&amount_requested[value]=700&initiated_at=1730253453'
    '&payment_method_details[payment_method]=pm_1&outcome=canceled&canceled[canceled_at]=1730253454'));
-- validation: the hash goes with its outcome, and only with it
SELECT pg_temp.try_fields($$SELECT payment_records.report_payment('{"amount_requested": {"currency": "usd", "value": 1}, "initiated_at": 1,
    "payment_method_details": {"payment_method": "pm_1"}, "outcome": "canceled"}')$$);
SELECT pg_temp.try_fields($$SELECT payment_records.report_payment('{"amount_requested": {"currency": "usd", "value": 1}, "initiated_at": 1,
    "payment_method_details": {"payment_method": "pm_1"}, "canceled": {"canceled_at": 2}}')$$);
SELECT pg_temp.try_fields($$SELECT payment_records.report_payment('{"amount_requested": {"currency": "usd", "value": 1}, "initiated_at": 1,
    "payment_method_details": {"payment_method": "pm_1"}, "outcome": "failed", "failed": {"failed_at": 2}, "canceled": {"canceled_at": 2}}')$$);
SELECT pg_temp.try_fields($$SELECT payment_records.report_payment('{"amount_requested": {"currency": "usd", "value": 1}, "initiated_at": 1,
    "payment_method_details": {"payment_method": "pm_1"}, "outcome": "canceled", "canceled": {"canceled_at": 2}, "guaranteed": {"guaranteed_at": 2}}')$$);
SELECT pg_temp.try_fields($$SELECT payment_records.report_payment('{"amount_requested": {"currency": "usd", "value": 1}, "initiated_at": 1,
    "payment_method_details": {"payment_method": "pm_1"}, "outcome": "canceled", "canceled": {}}')$$);
SELECT pg_temp.try_fields($$SELECT payment_records.report_payment('{"amount_requested": {"currency": "usd", "value": 1}, "initiated_at": 1,
    "payment_method_details": {"payment_method": "pm_1"}, "outcome": "canceled", "canceled": {"canceled_at": 2, "reason": "x"}}')$$);
SELECT pg_temp.try_fields($$SELECT payment_records.report_payment('{"amount_requested": {"currency": "usd", "value": 1}, "initiated_at": 1,
    "payment_method_details": {"payment_method": "pm_1"}, "outcome": "refunded"}')$$);

--
-- 2. payment_method_details.type and custom.display_name are strings
--
-- only a payment method: type "custom"
SELECT payment_records.report_payment('{"amount_requested": {"currency": "usd", "value": 1000},
    "initiated_at": 1730253453, "payment_method_details": {"payment_method": "pm_1"}}') AS p \gset
SELECT (:'p'::jsonb ->> 'id') AS pid \gset
SELECT :'p'::jsonb -> 'payment_method_details' AS reported;
-- a custom hash without display_name: "Custom"
SELECT payment_records.report_payment('{"amount_requested": {"currency": "usd", "value": 1000},
    "initiated_at": 1730253453, "payment_method_details": {"type": "custom", "custom": {"type": "cpmt_1"}}}') AS q \gset
SELECT (:'q'::jsonb ->> 'id') AS qid \gset
SELECT :'q'::jsonb -> 'payment_method_details' AS reported;
-- a sent display_name and type are kept
SELECT payment_records.report_payment('{"amount_requested": {"currency": "usd", "value": 1000},
    "initiated_at": 1730253453, "payment_method_details": {"type": "custom", "custom": {"display_name": "Cash", "type": "cpmt_2"}}}')
    -> 'payment_method_details' AS reported;
-- every object shape: retrieve, informational update, attempts (inherited
-- and overriding), the attempt list and the record list
SELECT fid_nulls(payment_records.retrieve_payment_record(:'pid')) AS retrieve,
       fid_nulls(payment_records.report_payment_attempt_informational(:'pid', '{"description": "x"}')) AS informational,
       fid_nulls(payment_records.report_payment_attempt_failed(:'pid', '{"failed_at": 1730253460}')) AS failed;
SELECT fid_nulls(payment_records.report_payment_attempt(:'pid', '{"initiated_at": 1730253470}')) AS inherited;
SELECT fid_nulls(payment_records.retrieve_payment_attempt_record(
           payment_records.retrieve_payment_record(:'pid') ->> 'latest_payment_attempt_record')) AS attempt;
SELECT fid_nulls(payment_records.report_payment_attempt_failed(:'qid', '{"failed_at": 1730253460}')) AS q_failed,
       fid_nulls(payment_records.report_payment_attempt(:'qid', '{"initiated_at": 1730253470,
           "payment_method_details": {"payment_method": "pm_9"}}')) AS q_override;
SELECT count(*) AS objects, count(*) FILTER (WHERE fid_nulls(a) <> 'none') AS with_null
FROM (SELECT jsonb_array_elements(payment_records.list_payment_attempt_records(jsonb_build_object('payment_record', :'pid')) -> 'data')
      UNION ALL
      SELECT jsonb_array_elements(payment_records.list_payment_attempt_records(jsonb_build_object('payment_record', :'qid')) -> 'data')
      UNION ALL
      SELECT jsonb_array_elements(payment_records.list_payment_records('{"limit": 100}') -> 'data')) x(a);

--
-- 3. error bodies: the code of Stripe's list, and its doc_url
--
SELECT status, regexp_replace(body::text, 'pr_[0-9A-Za-z]{24}', '<pr>', 'g') AS body
FROM payment_records.request('POST', '/v1/payment_records/' || :'cid' || '/report_payment_attempt_failed',
    '{"failed_at": 1730253480}');
SELECT status, regexp_replace(body::text, 'pr_[0-9A-Za-z]{24}', '<pr>', 'g') AS body
FROM payment_records.request('POST', '/v1/payment_records/' || :'cid' || '/report_refund',
    '{"outcome": "refunded", "processor_details": {"type": "custom"}, "amount": {"currency": "usd", "value": 1501}}');
SELECT status, body FROM payment_records.request('POST', '/v1/payment_records/report_payment',
    '{"amount_requested": {"currency": "usd", "value": 1}, "initiated_at": 1, "payment_method_details": {"payment_method": "pm_1"}, "metadata": {"a[b]": "c"}}');
-- a code always comes with its doc_url
SELECT b -> 'error' ->> 'code' AS code,
       (b -> 'error' ->> 'doc_url') = 'https://stripe.com/docs/error-codes/' || (b -> 'error' ->> 'code') AS doc_url_ok
FROM (SELECT body FROM payment_records.request('GET', '/v1/payment_records/pr_nope')
      UNION ALL SELECT body FROM payment_records.request('POST', '/v1/payment_records/report_payment', '{}')
      UNION ALL SELECT body FROM payment_records.request('POST', '/v1/payment_records/' || :'cid' || '/report_refund',
                                 '{"outcome": "refunded", "processor_details": {"type": "custom"}}')
      UNION ALL SELECT body FROM payment_records.request('POST', '/v1/payment_records/' || :'cid' || '/report_refund',
                                 '{"outcome": "refunded", "processor_details": {"type": "custom"}}')
      UNION ALL SELECT body FROM payment_records.request('POST', '/v1/payment_records/' || :'pid' || '/report_refund',
                                 '{"outcome": "refunded", "processor_details": {"type": "custom"}}')) x(b)
ORDER BY 1;

--
-- 4. metadata from a form body is always a hash
--
SELECT payment_records.form_to_jsonb('metadata[0]=zero');
SELECT payment_records.form_to_jsonb('metadata[0]=zero&metadata[1]=one&metadata[order]=6735');
SELECT payment_records.form_to_jsonb('metadata[1]=one&metadata[0]=zero');
SELECT payment_records.form_to_jsonb('metadata[007]=bond&metadata[a]=b');
-- other keys still make arrays
SELECT payment_records.form_to_jsonb('expand[0]=a&expand[1]=b');
SELECT status, body -> 'metadata' AS metadata
FROM payment_records.request('POST', '/v1/payment_records/report_payment', payment_records.form_to_jsonb(
    'amount_requested[currency]=usd&amount_requested[value]=1000&initiated_at=1730253453'
    '&payment_method_details[payment_method]=pm_1&metadata[0]=zero&metadata[1]=one&metadata[note]=n'));
-- a body that cannot be decoded is a 400 body from http_request, not an error
SELECT status, body FROM payment_records.http_request('POST', '/v1/payment_records/report_payment', 'metadata[a]=1&metadata[a][b]=2');
SELECT status, body FROM payment_records.http_request('POST', '/v1/payment_records/report_payment', 'amount_requested=%zz');
-- and so is a query string that cannot be decoded, from request()
SELECT status, body FROM payment_records.request('GET', '/v1/payment_records?limit=%zz');
SELECT status, body FROM payment_records.request('GET', '/v1/payment_records?expand[1]=x');

--
-- 5. path ids are percent-decoded; long ids are not echoed
--
SELECT status, body ->> 'id' = :'pid' AS same
FROM payment_records.request('GET', '/v1/payment_records/' || replace(:'pid', '_', '%5F'));
SELECT status, body ->> 'id' = :'pid' AS same
FROM payment_records.request('GET', '/v1/payment_records/' || replace(:'pid', 'pr_', '%70%72%5f'));
SELECT status, body -> 'error' ->> 'code' AS code
FROM payment_records.request('POST', '/v1/payment_records/' || replace(:'pid', '_', '%5F') || '/report_payment_attempt_informational',
    '{"description": "via an encoded id"}');
-- a malformed escape is kept as sent, and is not found
SELECT status, body -> 'error' ->> 'message' AS message FROM payment_records.request('GET', '/v1/payment_records/pr%zz');
SELECT status, body -> 'error' ->> 'message' AS message FROM payment_records.request('GET', '/v1/payment_records/pr%00x');
-- a 10 kB id: 404, and a message that does not quote it
SELECT status, body -> 'error' ->> 'code' AS code, body -> 'error' ->> 'message' AS message,
       length(body::text) < 500 AS short
FROM payment_records.request('GET', '/v1/payment_records/pr_' || repeat('x', 10000));
SELECT status, body -> 'error' ->> 'message' AS message, length(body::text) < 500 AS short
FROM payment_records.request('POST', '/v1/payment_records/pr_' || repeat('x', 10000) || '/report_refund',
    '{"outcome": "refunded", "processor_details": {"type": "custom"}}');
SELECT status, length(body::text) < 600 AS short
FROM payment_records.request('GET', '/v1/nothing/' || repeat('x', 10000));
SELECT pg_temp.try_fields(format('SELECT payment_records.retrieve_payment_record(%L)', 'pr_' || repeat('y', 10000)));

ROLLBACK;
DROP FUNCTION fid_nulls(jsonb);
