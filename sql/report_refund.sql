--
-- report_refund: partial refunds up to exactly the guaranteed amount, the
-- remainder by default, and every refusal: over-refund, other currency,
-- unguaranteed record, reused reference.  Then the same invariants against
-- direct DML on the tables, enforced by the constraint triggers.
--
\i test/regress/helpers.sql

-- one refund: "refunded <total>" or "SQLSTATE | param | code | message"
CREATE FUNCTION regress_refund(id text, p jsonb) RETURNS text
LANGUAGE sql AS $$
    SELECT pg_temp.try_value(format(
        'SELECT ''refunded '' || (payment_records.report_refund(%L::text, %L::jsonb) -> ''amount_refunded'' ->> ''value'')',
        id, p))
$$;

-- refund(amount, reference) params
CREATE FUNCTION regress_rp(amount int, ref text DEFAULT NULL, currency text DEFAULT 'usd')
RETURNS jsonb LANGUAGE sql AS $$
    SELECT jsonb_build_object('outcome', 'refunded',
        'processor_details', CASE WHEN ref IS NULL THEN '{"type": "custom"}'::jsonb
            ELSE jsonb_build_object('type', 'custom', 'custom', jsonb_build_object('refund_reference', ref)) END)
        || CASE WHEN amount IS NULL THEN '{}'::jsonb
            ELSE jsonb_build_object('amount', jsonb_build_object('currency', currency, 'value', amount)) END
$$;

CREATE FUNCTION regress_guaranteed(amount int, currency text DEFAULT 'usd') RETURNS text
LANGUAGE sql AS $$
    SELECT payment_records.report_payment(jsonb_build_object(
        'amount_requested', jsonb_build_object('currency', currency, 'value', amount),
        'initiated_at', 1730253453, 'outcome', 'guaranteed',
        'guaranteed', jsonb_build_object('guaranteed_at', 1730253460),
        'payment_method_details', jsonb_build_object('payment_method', 'pm_1'))) ->> 'id'
$$;

-- partial refunds up to exactly the guaranteed amount, then one unit more
SELECT regress_guaranteed(1000) AS id \gset
SELECT regress_refund(:'id', regress_rp(300, 'rf-a-1'));
SELECT regress_refund(:'id', regress_rp(600, 'rf-a-2'));
SELECT regress_refund(:'id', regress_rp(101, 'rf-a-3'));
SELECT regress_refund(:'id', regress_rp(100, 'rf-a-3'));
SELECT regress_refund(:'id', regress_rp(1, 'rf-a-4'));
-- nothing left: a refund without amount is refused too
SELECT regress_refund(:'id', regress_rp(NULL));
-- the record shows the total; the guaranteed amount is unchanged
SELECT p -> 'amount_refunded' AS refunded, p -> 'amount_guaranteed' AS guaranteed
FROM payment_records.retrieve_payment_record(:'id') p;
-- the chain as stored: numbered, running total
SELECT r.refund_no, r.amount, r.refunded_total, r.refund_reference
FROM payment_records.refund r JOIN payment_records.payment_record p ON p.seq = r.record_seq
WHERE p.id = :'id' ORDER BY r.refund_no;

-- a refund without amount refunds the remainder
SELECT regress_guaranteed(5000) AS id2 \gset
SELECT regress_refund(:'id2', regress_rp(1234));
SELECT regress_refund(:'id2', regress_rp(NULL, 'rf-b-rest'));
SELECT r.amount FROM payment_records.refund r JOIN payment_records.payment_record p ON p.seq = r.record_seq
WHERE p.id = :'id2' AND r.refund_reference = 'rf-b-rest';

-- currency must be the record's
SELECT regress_guaranteed(1000, 'eur') AS id3 \gset
SELECT regress_refund(:'id3', regress_rp(100, NULL, 'usd'));
SELECT regress_refund(:'id3', regress_rp(100, NULL, 'EUR'));

-- three-decimal currencies refund in multiples of 10 too
SELECT regress_guaranteed(1000, 'bhd') AS id4 \gset
SELECT regress_refund(:'id4', regress_rp(15, NULL, 'bhd'));
SELECT regress_refund(:'id4', regress_rp(10, NULL, 'bhd'));

-- a reference is unique across records (of the same mode)
SELECT regress_refund(:'id3', regress_rp(1, 'rf-a-1', 'eur'));
-- and the failed call refunded nothing
SELECT payment_records.retrieve_payment_record(:'id3') -> 'amount_refunded';
SET ROLE regress_live;
SELECT regress_guaranteed(1000) AS live_id \gset
SELECT regress_refund(:'live_id', regress_rp(1, 'rf-a-1'));
-- and test-mode records do not exist in live mode
SELECT regress_refund(:'id3', regress_rp(1));
RESET ROLE;

-- a pending record cannot be refunded: Stripe's own "Report a refund"
-- example refunds the record of its "Report a payment" example, which
-- was never guaranteed
SELECT payment_records.report_payment('{
  "amount_requested": {"currency": "usd", "value": 1000},
  "customer_presence": "on_session",
  "description": "computer software",
  "initiated_at": 1730253453,
  "payment_method_details": {
    "custom": {"display_name": "newpay", "type": "cpmt_125kjj3hn3sdf"},
    "payment_method": "pm_5j23kjksibjlks",
    "type": "custom"
  }
}') ->> 'id' AS pending_id \gset
SELECT regress_refund(:'pending_id', '{
  "processor_details": {"type": "custom", "custom": {"refund_reference": "refund_12345"}},
  "outcome": "refunded",
  "refunded": {"refunded_at": 1730253453},
  "amount": {"currency": "usd", "value": 1000},
  "initiated_at": 1730253450
}');
-- nor a failed one
SELECT payment_records.report_payment('{"amount_requested": {"currency": "usd", "value": 1000},
  "initiated_at": 1730253453, "outcome": "failed", "failed": {"failed_at": 1730253460},
  "payment_method_details": {"payment_method": "pm_1"}}') ->> 'id' AS failed_id \gset
SELECT regress_refund(:'failed_id', regress_rp(100));

-- the refund's metadata merges into the record and is kept on the refund
SELECT regress_guaranteed(1000) AS id5 \gset
SELECT payment_records.report_refund(:'id5', regress_rp(100) || '{"metadata": {"reason": "damaged"}}') -> 'metadata';
SELECT payment_records.report_refund(:'id5', regress_rp(100) || '{"metadata": {"reason": "", "ticket": 42}}') -> 'metadata';
SELECT r.refund_no, r.metadata FROM payment_records.refund r
JOIN payment_records.payment_record p ON p.seq = r.record_seq WHERE p.id = :'id5' ORDER BY 1;
-- Stripe's refund example (initiated_at, refunded_at) stores its timestamps
SELECT regress_refund(:'id5', '{
  "processor_details": {"type": "custom", "custom": {"refund_reference": "refund_12345"}},
  "outcome": "refunded", "refunded": {"refunded_at": 1730253453},
  "amount": {"currency": "usd", "value": 100}, "initiated_at": 1730253450}');
SELECT initiated_at = to_timestamp(1730253450) AS initiated_ok, refunded_at = to_timestamp(1730253453) AS refunded_ok
FROM payment_records.refund WHERE refund_reference = 'refund_12345';

--
-- Direct DML (here as the owner, a superuser): the triggers refuse what
-- the API would refuse.
--
\set VERBOSITY terse
SELECT seq AS seq FROM payment_records.payment_record WHERE id = :'id2' \gset
-- id2 is fully refunded (5000): one more unit, correctly chained, is refused
INSERT INTO payment_records.refund (record_seq, refund_no, amount, refunded_total, livemode, created)
VALUES (:seq, 3, 1, 5001, false, now());
-- a chain that lies about the running total is refused
INSERT INTO payment_records.refund (record_seq, refund_no, amount, refunded_total, livemode, created)
VALUES (:seq, 3, 1, 10, false, now());
-- a gap in the chain is refused
INSERT INTO payment_records.refund (record_seq, refund_no, amount, refunded_total, livemode, created)
VALUES (:seq, 5, 1, 5001, false, now());
-- a fork of the chain is refused by the unique key
INSERT INTO payment_records.refund (record_seq, refund_no, amount, refunded_total, livemode, created)
VALUES (:seq, 2, 1, 1235, false, now());
-- refunds cannot be updated, deleted or truncated
UPDATE payment_records.refund SET amount = 1 WHERE record_seq = :seq;
UPDATE payment_records.refund SET refund_reference = 'x' WHERE record_seq = :seq AND refund_no = 1;
DELETE FROM payment_records.refund WHERE record_seq = :seq;
TRUNCATE payment_records.refund;
-- a refund of a pending record is refused
SELECT seq AS pseq FROM payment_records.payment_record WHERE id = :'pending_id' \gset
INSERT INTO payment_records.refund (record_seq, refund_no, amount, refunded_total, livemode, created)
VALUES (:pseq, 1, 1, 1, false, now());
-- a refund in the other mode than its record is refused
SELECT seq AS seq5 FROM payment_records.payment_record WHERE id = :'id5' \gset
INSERT INTO payment_records.refund (record_seq, refund_no, amount, refunded_total, livemode, created)
VALUES (:seq5, 4, 1, 301, true, now());
-- a duplicate reference is refused by the unique index
INSERT INTO payment_records.refund (record_seq, refund_no, amount, refunded_total, livemode, refund_reference, created)
VALUES (:seq5, 4, 1, 301, false, 'rf-a-1', now());
-- the record's amount and currency cannot be changed under its refunds
UPDATE payment_records.payment_record SET amount = 1 WHERE seq = :seq;
UPDATE payment_records.payment_record SET currency = 'eur' WHERE seq = :seq;
DELETE FROM payment_records.payment_record WHERE seq = :seq;
-- a correct direct insert is accepted and shows in the API
INSERT INTO payment_records.refund (record_seq, refund_no, amount, refunded_total, livemode, created)
VALUES (:seq5, 4, 1, 301, false, now());
SELECT payment_records.retrieve_payment_record(:'id5') -> 'amount_refunded';
\set VERBOSITY default

-- many refunds with references in one transaction (a backfill), more than
-- the default shared lock table could hold if each kept a lock
SELECT regress_guaranteed(99999999) AS bulk \gset
BEGIN ISOLATION LEVEL REPEATABLE READ;
SELECT count(payment_records.report_refund(:'bulk', regress_rp(1, 'bulk-' || g))) AS refunds
FROM generate_series(1, 10000) g;
SELECT regress_refund(:'bulk', regress_rp(1, 'bulk-77'));
COMMIT;
SELECT payment_records.retrieve_payment_record(:'bulk') -> 'amount_refunded' ->> 'value' AS refunded;

-- invariant over everything this suite wrote
SELECT count(*) AS violations FROM (
    SELECT p.id FROM payment_records.payment_record p JOIN payment_records.refund r ON r.record_seq = p.seq
    GROUP BY p.id, p.amount HAVING sum(r.amount) > p.amount OR max(r.refunded_total) <> sum(r.amount)
) v;

DROP FUNCTION regress_refund(text, jsonb), regress_rp(int, text, text), regress_guaranteed(int, text);
