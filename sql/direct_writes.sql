--
-- Rows are written without an SQL statement (src/pr_insert.c), to tables
-- found by OID once per session.  The OIDs must be forgotten when the
-- tables change or are re-created, and a table whose columns are not the
-- ones the C code writes must be refused, never written positionally.
--
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS payment_records;
RESET client_min_messages;

\set refund '{"outcome": "refunded", "amount": {"currency": "usd", "value": 200}, "processor_details": {"type": "custom"}}'
\set pay '{"amount_requested": {"currency": "usd", "value": 700}, "initiated_at": 1730253453, "outcome": "guaranteed", "guaranteed": {"guaranteed_at": 1730253460}, "payment_method_details": {"payment_method": "pm_dw"}}'

-- error text and SQLSTATE, nothing else (ids and OIDs vary)
CREATE FUNCTION pg_temp.try(call text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE call;
    RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
    RETURN SQLSTATE || ': ' || SQLERRM;
END $$;

SELECT (SELECT count(*) FROM payment_records.payment_record) AS records_before,
       (SELECT count(*) FROM payment_records.refund) AS refunds_before \gset

-- this session has now cached the OIDs and checked the layouts
SELECT payment_records.report_payment(:'pay') ->> 'object' AS object;

-- a column more: refused, and nothing written
BEGIN;
ALTER TABLE payment_records.event ADD COLUMN extra integer;
SELECT pg_temp.try(format('SELECT payment_records.report_payment(%L)', :'pay')) AS added_column;
ROLLBACK;

-- a column renamed: refused
BEGIN;
ALTER TABLE payment_records.payment_attempt_record RENAME COLUMN description TO descr;
SELECT pg_temp.try(format('SELECT payment_records.report_payment(%L)', :'pay')) AS renamed_column;
ROLLBACK;

-- a column of another type: refused (a bool written into an integer
-- column would be read back as garbage)
BEGIN;
ALTER TABLE payment_records.event ALTER COLUMN livemode TYPE integer USING livemode::integer;
SELECT pg_temp.try(format('SELECT payment_records.report_payment(%L)', :'pay')) AS retyped_column;
ROLLBACK;

-- a refund, with the cache checked again after the rollbacks
SELECT payment_records.report_refund(payment_records.report_payment(:'pay') ->> 'id', :'refund')
         -> 'amount_refunded' ->> 'value' AS refunded;

-- the rollbacks restored the tables, and the session sees that
SELECT payment_records.report_payment(:'pay') ->> 'object' AS after_rollback;
SELECT (SELECT count(*) FROM payment_records.payment_record) - :records_before AS records_written,
       (SELECT count(*) FROM payment_records.refund) - :refunds_before AS refunds_written;

-- the foreign keys, whose checks the extension's own inserts skip (they
-- write under the record's lock, see pr_insert.c), still hold for every
-- other writer
SELECT conrelid::regclass AS fk_table, conname
FROM pg_constraint WHERE contype = 'f' AND connamespace = 'payment_records'::regnamespace
ORDER BY 1;
SELECT pg_temp.try($$INSERT INTO payment_records.payment_attempt_record
    (id, record_seq, attempt, created, status, initiated_at)
    VALUES ('par_orphan', -1, 1, now(), 'pending', now())$$) AS orphan_attempt;
SELECT pg_temp.try($$INSERT INTO payment_records.refund
    (record_seq, refund_no, amount, refunded_total, livemode, created)
    VALUES (-1, 1, 1, 1, false, now())$$) AS orphan_refund;

-- the extension dropped and created again in the same session: new OIDs
DROP EXTENSION payment_records;
SET client_min_messages = warning;
CREATE EXTENSION payment_records;
RESET client_min_messages;
SELECT p ->> 'object' AS object,
       payment_records.report_refund(p ->> 'id', :'refund')
         -> 'amount_refunded' ->> 'value' AS refunded
FROM payment_records.report_payment(:'pay') AS p;
SELECT (SELECT count(*) FROM payment_records.payment_record) AS records,
       (SELECT count(*) FROM payment_records.payment_attempt_record) AS attempts,
       (SELECT count(*) FROM payment_records.refund) AS refunds,
       (SELECT count(*) FROM payment_records.event) AS events;
