--
-- Change events: every successful write appends one, in order, in its own
-- transaction; failed and replayed calls append none.
--
\i test/regress/helpers.sql
-- a fresh extension: event ids follow on from none that other files wrote
-- (or took and rolled back)
CALL pg_temp.fresh_extension();

SELECT coalesce(max(id), 0) AS before FROM payment_records.event \gset

-- the guide flow
SELECT payment_records.report_payment('{"amount_requested": {"currency": "usd", "value": 3000},
  "initiated_at": 1730253453, "description": "events flow",
  "payment_method_details": {"payment_method": "pm_ev1"}}') ->> 'id' AS id \gset
SELECT payment_records.report_payment_attempt_failed(:'id', '{"failed_at": 1730253460}') IS NOT NULL AS failed;
SELECT payment_records.report_payment_attempt(:'id', '{"initiated_at": 1730253470,
  "payment_method_details": {"payment_method": "pm_ev2"}}') IS NOT NULL AS new_attempt;
SELECT payment_records.report_payment_attempt_guaranteed(:'id', '{"guaranteed_at": 1730253480}') IS NOT NULL AS guaranteed;
SELECT payment_records.report_refund(:'id', '{"outcome": "refunded", "processor_details": {"type": "custom"},
  "amount": {"currency": "usd", "value": 1000}}', 'events-refund-1') IS NOT NULL AS refund1;
SELECT payment_records.report_refund(:'id', '{"outcome": "refunded", "processor_details": {"type": "custom"},
  "amount": {"currency": "usd", "value": 500}}') IS NOT NULL AS refund2;
SELECT payment_records.report_payment_attempt_informational(:'id', '{"description": "events flow, updated"}') IS NOT NULL AS info;
-- a replay and a failure add no event
SELECT payment_records.report_refund(:'id', '{"outcome": "refunded", "processor_details": {"type": "custom"},
  "amount": {"currency": "usd", "value": 1000}}', 'events-refund-1') IS NOT NULL AS replayed;
\set VERBOSITY sqlstate
SELECT payment_records.report_refund(:'id', '{"outcome": "refunded", "processor_details": {"type": "custom"},
  "amount": {"currency": "usd", "value": 99999}}');
\set VERBOSITY default

-- the events, in order: type, which object, and what it said
SELECT e.id - :before AS n, e.type, e.livemode,
       e.object ->> 'object' AS object,
       CASE WHEN e.object ->> 'id' = :'id' THEN '<pr>'
            WHEN e.object ->> 'payment_record' = :'id' THEN '<par of pr>' END AS object_id,
       e.object -> 'amount_refunded' ->> 'value' AS refunded,
       e.object -> 'payment_method_details' ->> 'payment_method' AS payment_method,
       e.object ->> 'description' AS description,
       e.created BETWEEN now() - interval '1 hour' AND now() AS created_recent
FROM payment_records.event e WHERE e.id > :before ORDER BY e.id;

-- the last event carries exactly the object the API returned
SELECT (SELECT object FROM payment_records.event ORDER BY id DESC LIMIT 1)
       = payment_records.retrieve_payment_record(:'id') AS same_object;

-- objects are stored lz4-compressed (pr_store.c), smaller than the jsonb
-- itself, and read back as the same document
SELECT pg_column_compression(e.object) AS compression,
       pg_column_size(e.object) < pg_column_size(e.object::text::jsonb) AS smaller,
       e.object::text = payment_records.retrieve_payment_record(:'id')::text AS same_text
FROM payment_records.event e ORDER BY e.id DESC LIMIT 1;

-- an event is written in the write's transaction: rolled back together
BEGIN;
SELECT payment_records.report_payment('{"amount_requested": {"currency": "usd", "value": 1},
  "initiated_at": 1, "payment_method_details": {"payment_method": "pm_ev3"}}') IS NOT NULL AS reported;
SELECT count(*) AS events_in_tx FROM payment_records.event WHERE id > :before;
ROLLBACK;
SELECT count(*) AS events_after_rollback FROM payment_records.event WHERE id > :before;
