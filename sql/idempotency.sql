--
-- Idempotency keys (README contract C6): replay, mismatch, validation failures,
-- retention and purge.
--
\i test/regress/helpers.sql

-- one call, keyed: 'ok' or "SQLSTATE | param | code | message"
CREATE FUNCTION regress_try(f text, id text, p jsonb, k text) RETURNS text
LANGUAGE sql AS $$
    SELECT pg_temp.try_fields(CASE f
        WHEN 'payment' THEN format('SELECT payment_records.report_payment(%L::jsonb, %L::text)', p, k)
        ELSE format('SELECT payment_records.report_refund(%L::text, %L::jsonb, %L::text)', id, p, k) END)
$$;

CREATE TABLE regress_p AS SELECT '{"amount_requested": {"currency": "usd", "value": 4200},
  "initiated_at": 1730253453, "outcome": "guaranteed", "guaranteed": {"guaranteed_at": 1730253460},
  "payment_method_details": {"payment_method": "pm_idem"}}'::jsonb AS p;
GRANT SELECT ON regress_p TO regress_live;

CREATE VIEW regress_counts AS
SELECT (SELECT count(*) FROM payment_records.payment_record) AS records,
       (SELECT count(*) FROM payment_records.refund) AS refunds,
       (SELECT count(*) FROM payment_records.event) AS events,
       (SELECT count(*) FROM payment_records.idempotency_key) AS keys;
CREATE TABLE regress_before AS SELECT * FROM regress_counts;

-- first call executes and stores its response
SELECT payment_records.report_payment(p, 'idem-pay-1') AS first FROM regress_p \gset
SELECT c.records - b.records AS new_records, c.events - b.events AS new_events,
       c.keys - b.keys AS new_keys
FROM regress_counts c, regress_before b;
-- the replay returns the stored jsonb, byte for byte, and writes nothing
SELECT jsonb_send(payment_records.report_payment(p, 'idem-pay-1')) = jsonb_send(:'first'::jsonb) AS byte_identical
FROM regress_p;
SELECT c.records - b.records AS new_records, c.events - b.events AS new_events,
       c.keys - b.keys AS new_keys
FROM regress_counts c, regress_before b;
-- the key row: endpoint, a 32-byte request hash, the response
SELECT endpoint, octet_length(request_hash) AS hash_bytes, response = :'first'::jsonb AS response_stored,
       error IS NULL AS no_error
FROM payment_records.idempotency_key WHERE key = 'idem-pay-1';

-- other parameters or another endpoint under the same key
SELECT regress_try('payment', NULL, jsonb_set(p, '{amount_requested,value}', '4201'), 'idem-pay-1') FROM regress_p;
SELECT regress_try('payment', NULL, p || '{"description": "x"}', 'idem-pay-1') FROM regress_p;
SELECT regress_try('refund', :'first'::jsonb ->> 'id', '{"outcome": "refunded", "processor_details": {"type": "custom"}}', 'idem-pay-1');
-- (integers as strings are other parameters too: Stripe compares what was sent)
SELECT regress_try('payment', NULL, jsonb_set(p, '{amount_requested,value}', '"4200"'), 'idem-pay-1') FROM regress_p;

-- a validation failure stores nothing: the corrected retry executes
SELECT regress_try('payment', NULL, p - 'initiated_at', 'idem-pay-2') FROM regress_p;
SELECT count(*) AS stored FROM payment_records.idempotency_key WHERE key = 'idem-pay-2';
SELECT regress_try('payment', NULL, p, 'idem-pay-2') FROM regress_p;
SELECT count(*) AS stored FROM payment_records.idempotency_key WHERE key = 'idem-pay-2';

-- refunds: a replayed refund is not a second refund
SELECT :'first'::jsonb ->> 'id' AS rid \gset
SELECT payment_records.report_refund(:'rid', '{"outcome": "refunded", "processor_details": {"type": "custom"},
  "amount": {"currency": "usd", "value": 1000}}', 'idem-refund-1') -> 'amount_refunded' ->> 'value' AS refunded;
SELECT payment_records.report_refund(:'rid', '{"outcome": "refunded", "processor_details": {"type": "custom"},
  "amount": {"currency": "usd", "value": 1000}}', 'idem-refund-1') -> 'amount_refunded' ->> 'value' AS replayed;
SELECT payment_records.report_refund(:'rid', '{"outcome": "refunded", "processor_details": {"type": "custom"},
  "amount": {"currency": "usd", "value": 1000}}', 'idem-refund-2') -> 'amount_refunded' ->> 'value' AS second_key;
-- the replay still answers what the first call answered, after later writes
SELECT payment_records.report_refund(:'rid', '{"outcome": "refunded", "processor_details": {"type": "custom"},
  "amount": {"currency": "usd", "value": 1000}}', 'idem-refund-1') -> 'amount_refunded' ->> 'value' AS replayed_later;
SELECT count(*) AS refunds FROM payment_records.refund f JOIN payment_records.payment_record r ON r.seq = f.record_seq
WHERE r.id = :'rid';

-- a raised business error rolls back the caller's transaction, key included,
-- so the retry executes again (request() stores such errors: see request.sql)
SELECT regress_try('refund', :'rid', '{"outcome": "refunded", "processor_details": {"type": "custom"},
  "amount": {"currency": "usd", "value": 9999}}', 'idem-refund-3');
SELECT count(*) AS stored FROM payment_records.idempotency_key WHERE key = 'idem-refund-3';
SELECT regress_try('refund', :'rid', '{"outcome": "refunded", "processor_details": {"type": "custom"},
  "amount": {"currency": "usd", "value": 100}}', 'idem-refund-3');

-- keys: at most 255 characters, not empty
SELECT regress_try('payment', NULL, p, repeat('k', 255)) FROM regress_p;
SELECT regress_try('payment', NULL, p, repeat('k', 256)) FROM regress_p;
SELECT regress_try('payment', NULL, p, '') FROM regress_p;

-- keys belong to a mode: the same key in live mode is another key
SET ROLE regress_live;
SELECT (payment_records.report_payment(p, 'idem-pay-1') ->> 'id') <> (:'first'::jsonb ->> 'id') AS new_record,
       payment_records.report_payment(p, 'idem-pay-1') ->> 'livemode' AS live
FROM regress_p;
RESET ROLE;

-- retention: at least 24 hours
SHOW payment_records.idempotency_retention;
SET payment_records.idempotency_retention = '23h';
SET payment_records.idempotency_retention = '48h';
SHOW payment_records.idempotency_retention;
RESET payment_records.idempotency_retention;

-- an expired key is forgotten: the call executes again, and purge removes
-- expired keys (age them by hand: a stored key cannot be changed, not
-- even by a superuser, so the superuser disables the key table's guard
-- for the moment)
UPDATE payment_records.idempotency_key SET created = created - interval '25 hours'
WHERE key IN ('idem-pay-2', 'idem-refund-2');
BEGIN;
ALTER TABLE payment_records.idempotency_key DISABLE TRIGGER idempotency_key_check;
UPDATE payment_records.idempotency_key SET created = created - interval '25 hours'
WHERE key IN ('idem-pay-2', 'idem-refund-2');
ALTER TABLE payment_records.idempotency_key ENABLE ALWAYS TRIGGER idempotency_key_check;
COMMIT;
SELECT tgenabled FROM pg_trigger
WHERE tgrelid = 'payment_records.idempotency_key'::regclass AND tgname = 'idempotency_key_check';
SELECT count(*) AS expired FROM payment_records.idempotency_key WHERE created < now() - interval '24 hours';
SELECT (payment_records.report_payment(p, 'idem-pay-2') ->> 'id') IS NOT NULL AS executed_again FROM regress_p;
SELECT payment_records.purge_idempotency_keys(1) AS purged;
SELECT count(*) AS expired_left FROM payment_records.idempotency_key WHERE created < now() - interval '24 hours';
SELECT key FROM payment_records.idempotency_key WHERE key IN ('idem-pay-2', 'idem-refund-2') ORDER BY key;
SELECT payment_records.purge_idempotency_keys(0);

DROP VIEW regress_counts;
DROP TABLE regress_p, regress_before;
DROP FUNCTION regress_try(text, text, jsonb, text);
