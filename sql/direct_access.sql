--
-- Rows are written without an SQL statement (src/pr_insert.c), and the
-- chain heads a write decides on are read by index scans (pr_store.c), in
-- tables found by OID once per session.  The OIDs must be forgotten when
-- the tables change or are re-created, a table whose columns are not the
-- ones the C code writes must be refused, never written positionally, and
-- the reads must not depend on what the planner thinks of the tables.
--
\i test/regress/helpers.sql

\set refund '{"outcome": "refunded", "amount": {"currency": "usd", "value": 200}, "processor_details": {"type": "custom"}}'
\set pay '{"amount_requested": {"currency": "usd", "value": 700}, "initiated_at": 1730253453, "outcome": "guaranteed", "guaranteed": {"guaranteed_at": 1730253460}, "payment_method_details": {"payment_method": "pm_dw"}}'

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
-- (the mode's row-level security policy, which uses the column, goes too:
-- rolled back with the rest)
BEGIN;
DROP POLICY caller_mode ON payment_records.event;
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
    VALUES ('par_orphan000000000000000000', -1, 1, now(), 'pending', now())$$) AS orphan_attempt;
SELECT pg_temp.try($$INSERT INTO payment_records.refund
    (record_seq, refund_no, amount, refunded_total, livemode, created)
    VALUES (-1, 1, 1, 1, false, now())$$) AS orphan_refund;

-- Statistics from when the refunds table was nearly empty, then 300
-- refunds on one record in one statement: every refund reads the chain
-- head through the index, never by scanning the table (a kept SQL plan
-- made for a tiny table scanned it whole, for every refund: quadratic).
-- (ANALYZE updates the table sizes in place, so the rollback keeps them;
-- the extension is dropped and created again below.)
SELECT payment_records.report_payment(:'pay') ->> 'id' AS hot \gset
SELECT pg_stat_force_next_flush();
SELECT seq_scan AS refund_seq_before FROM pg_stat_user_tables
WHERE relid = 'payment_records.refund'::regclass \gset
SELECT seq_scan AS attempt_seq_before FROM pg_stat_user_tables
WHERE relid = 'payment_records.payment_attempt_record'::regclass \gset
BEGIN;
ANALYZE payment_records.refund, payment_records.payment_attempt_record;
-- (what ANALYZE says depends on what the tests before left in the table:
-- the sizes are set as a nearly empty table's, whatever they were)
UPDATE pg_class SET reltuples = 5, relpages = 1
WHERE oid IN ('payment_records.refund'::regclass, 'payment_records.payment_attempt_record'::regclass);
SELECT reltuples < 10 AS statistics_say_tiny FROM pg_class
WHERE oid = 'payment_records.refund'::regclass;
SELECT count(*) AS refunds,
       max((r -> 'amount_refunded' ->> 'value')::int) AS refunded
FROM (SELECT payment_records.report_refund(:'hot',
               '{"outcome": "refunded", "amount": {"currency": "usd", "value": 1},
                 "processor_details": {"type": "custom"}}') AS r
      FROM generate_series(1, 300)) AS calls;
ROLLBACK;
SELECT pg_stat_force_next_flush();
SELECT (SELECT seq_scan FROM pg_stat_user_tables
        WHERE relid = 'payment_records.refund'::regclass) - :refund_seq_before AS refund_seq_scans,
       (SELECT seq_scan FROM pg_stat_user_tables
        WHERE relid = 'payment_records.payment_attempt_record'::regclass) - :attempt_seq_before
         AS attempt_seq_scans;

-- the extension dropped and created again in the same session: new OIDs
-- (it holds payment records: refused unless allowed in the transaction;
-- the schema CREATE EXTENSION made outlives the extension, and the
-- extension installs only into a schema it creates itself: dropped too)
DROP EXTENSION payment_records;
BEGIN;
SET LOCAL payment_records.allow_drop = on;
DROP EXTENSION payment_records;
DROP SCHEMA payment_records;
COMMIT;
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
