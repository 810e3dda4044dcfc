--
-- The database owner alters the extension's tables or indexes.  Every call
-- that would read or write them must then fail with 55000
-- (object_not_in_prerequisite_state) and a hint, never crash the backend,
-- answer wrongly, or show the extension's internal SQL; and the tables are
-- left as they were.  The SQL reads (retrieve, list, idempotency keys) are
-- checked as the direct writes are, and the indexes the writes probe are
-- checked for their shape, not only found by name.
--
\i test/regress/helpers.sql
CALL pg_temp.fresh_extension();

\set pay '{"amount_requested": {"currency": "usd", "value": 700}, "initiated_at": 1730253453, "outcome": "guaranteed", "guaranteed": {"guaranteed_at": 1730253460}, "payment_method_details": {"payment_method": "pm_od"}}'
\set refund '{"outcome": "refunded", "amount": {"currency": "usd", "value": 100}, "processor_details": {"type": "custom"}}'
\set refund_ref '{"outcome": "refunded", "amount": {"currency": "usd", "value": 100}, "processor_details": {"type": "custom", "custom": {"refund_reference": "od-ref-1"}}}'

-- a record with a refund, stored under idempotency key od-k1; this session
-- has checked every table once
SELECT payment_records.report_payment(:'pay', 'od-k1') ->> 'id' AS rec \gset
SELECT payment_records.report_refund(:'rec', :'refund') -> 'amount_refunded' ->> 'value' AS refunded;
SELECT payment_records.retrieve_payment_record(:'rec') -> 'amount_refunded' ->> 'value' AS retrieved;

-- what the tables hold; compared at the end
CREATE TEMP VIEW counts AS
SELECT (SELECT count(*) FROM payment_records.payment_record) AS records,
       (SELECT count(*) FROM payment_records.payment_attempt_record) AS attempts,
       (SELECT count(*) FROM payment_records.refund) AS refunds,
       (SELECT count(*) FROM payment_records.idempotency_key) AS keys,
       (SELECT count(*) FROM payment_records.event) AS events;
SELECT * FROM counts;

-- idempotency_key.endpoint of another type: the retry under od-k1 reads
-- the stored key through SQL; refused before the read (it crashed the
-- backend, decoding an integer as text)
BEGIN;
ALTER TABLE payment_records.idempotency_key ALTER COLUMN endpoint TYPE integer USING 7;
SELECT pg_temp.try_fields(format('SELECT payment_records.report_payment(%L, %L)', :'pay', 'od-k1')) AS retyped_key_retry;
SELECT payment_records.report_payment(:'pay', 'od-k1');
ROLLBACK;

-- the rollback restored the column: the retry replays the stored answer
SELECT payment_records.report_payment(:'pay', 'od-k1') ->> 'id' = :'rec' AS replayed;

-- a column added to refund: the reads that join it are refused too (they
-- used to answer while the writes were refused)
BEGIN;
ALTER TABLE payment_records.refund ADD COLUMN x text;
SELECT pg_temp.try_fields(format('SELECT payment_records.retrieve_payment_record(%L)', :'rec')) AS added_column_retrieve;
SELECT pg_temp.try_fields(format('SELECT payment_records.report_refund(%L, %L)', :'rec', :'refund')) AS added_column_refund;
SELECT pg_temp.try_fields('SELECT payment_records.list_payment_records()') AS added_column_list;
ROLLBACK;

-- a column renamed: 55000 with a hint, not 42703 with the internal SQL
-- statement in the error's QUERY field
BEGIN;
ALTER TABLE payment_records.payment_attempt_record RENAME COLUMN description TO descr;
SELECT pg_temp.try_fields(format('SELECT payment_records.retrieve_payment_record(%L)', :'rec')) AS renamed_column_retrieve;
SELECT pg_temp.try_fields(format('SELECT payment_records.list_payment_attempt_records(%L)',
                                 jsonb_build_object('payment_record', :'rec'))) AS renamed_column_list;
SELECT payment_records.retrieve_payment_record(:'rec');
ROLLBACK;

-- the primary key of refund, which the refund writes probe for the chain
-- head, replaced by a unique index of that name on other columns: refused
-- (with a refund reference this crashed the backend, comparing a text key
-- as an integer; without one the refund was wrongly refused)
BEGIN;
ALTER TABLE payment_records.refund DROP CONSTRAINT refund_pkey;
CREATE UNIQUE INDEX refund_pkey ON payment_records.refund (record_seq, refund_reference);
SELECT pg_temp.try_fields(format('SELECT payment_records.report_refund(%L, %L)', :'rec', :'refund_ref')) AS swapped_index_reference;
SELECT pg_temp.try_fields(format('SELECT payment_records.report_refund(%L, %L)', :'rec', :'refund')) AS swapped_index;
SELECT payment_records.report_refund(:'rec', :'refund');
ROLLBACK;

-- the same columns in descending order: a backward scan would no longer
-- find the newest refund (a wrong running total)
BEGIN;
ALTER TABLE payment_records.refund DROP CONSTRAINT refund_pkey;
CREATE UNIQUE INDEX refund_pkey ON payment_records.refund (record_seq, refund_no DESC);
SELECT pg_temp.try_fields(format('SELECT payment_records.report_refund(%L, %L)', :'rec', :'refund')) AS descending_index;
ROLLBACK;

-- not unique, or partial: refused
BEGIN;
ALTER TABLE payment_records.payment_attempt_record DROP CONSTRAINT payment_attempt_record_attempt_key;
CREATE INDEX payment_attempt_record_attempt_key ON payment_records.payment_attempt_record (record_seq, attempt);
SELECT pg_temp.try_fields(format('SELECT payment_records.report_refund(%L, %L)', :'rec', :'refund')) AS non_unique_index;
ROLLBACK;
BEGIN;
ALTER TABLE payment_records.refund DROP CONSTRAINT refund_pkey;
CREATE UNIQUE INDEX refund_pkey ON payment_records.refund (record_seq, refund_no) WHERE refund_no > 1;
SELECT pg_temp.try_fields(format('SELECT payment_records.report_refund(%L, %L)', :'rec', :'refund')) AS partial_index;
ROLLBACK;

-- dropped and not re-created: refused with 55000 too
BEGIN;
ALTER TABLE payment_records.refund DROP CONSTRAINT refund_pkey;
SELECT pg_temp.try_fields(format('SELECT payment_records.report_refund(%L, %L)', :'rec', :'refund')) AS dropped_index;
ROLLBACK;

-- after the rollbacks everything works again
SELECT payment_records.report_refund(:'rec', :'refund') -> 'amount_refunded' ->> 'value' AS refunded_again;

-- a column added and dropped again stays in the table as a dropped
-- column, which the positional writes cannot skip: refused for good, and
-- the hint says how to recover (rename or retype back is not possible)
ALTER TABLE payment_records.refund ADD COLUMN x text;
ALTER TABLE payment_records.refund DROP COLUMN x;
SELECT pg_temp.try_fields(format('SELECT payment_records.report_refund(%L, %L)', :'rec', :'refund')) AS dropped_column_refund;
SELECT pg_temp.try_fields(format('SELECT payment_records.retrieve_payment_record(%L)', :'rec')) AS dropped_column_retrieve;
SELECT payment_records.report_refund(:'rec', :'refund');

-- nothing was written by the refused calls: one refund more, from
-- refunded_again (and its event)
SELECT * FROM counts;

DROP VIEW counts;
CALL pg_temp.fresh_extension();
