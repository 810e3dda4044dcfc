--
-- Attacks (issue 11): what a caller with no role, a reader, a writer, a
-- writer with pg_write_all_data, or a superuser's mistakes can make the
-- extension do.  Each block tries to cross one boundary and shows it
-- holds; each was open in 1.0 unless it says otherwise.
--
\i test/regress/helpers.sql
-- from a fresh extension: the counts below are of every row
CALL pg_temp.fresh_extension();

\set pay '{"amount_requested": {"currency": "usd", "value": 100}, "initiated_at": 1730253453, "outcome": "guaranteed", "guaranteed": {"guaranteed_at": 1730253460}, "payment_method_details": {"payment_method": "pm_atk"}}'
\set refund1100 '{"outcome": "refunded", "amount": {"currency": "usd", "value": 1100}, "processor_details": {"type": "custom"}}'

-- the attacker: a writer who was also given pg_write_all_data
CALL pg_temp.create_role('regress_atk_writer', 'LOGIN PASSWORD ''regress_atk'' IN ROLE payment_records_writer, pg_write_all_data');
SELECT current_user AS regress_su, current_database() AS regress_db \gset
CALL pg_temp.create_role('regress_atk_live', 'IN ROLE payment_records_writer, payment_records_live');
GRANT SET ON PARAMETER session_replication_role TO regress_atk_writer;

SELECT payment_records.report_payment(:'pay') ->> 'id' AS id \gset
SELECT seq FROM payment_records.payment_record WHERE id = :'id' \gset
SELECT count(*) AS refunds_before FROM payment_records.refund \gset

--
-- 1. The running total cannot be wrapped.  In 1.0 this pair of rows was
-- accepted (9223372036854775807 + a negative total wrapped around), after
-- which the API let a 1,100 refund through on this 100 payment.
--
SET ROLE regress_atk_writer;
SELECT pg_temp.try(format($q$INSERT INTO payment_records.refund
    (record_seq, refund_no, amount, refunded_total, livemode, created)
    VALUES (%s, 1, 9223372036854775807, -9223372036854775708, false, now())$q$, :seq)) AS wrap;
SELECT pg_temp.try(format($q$INSERT INTO payment_records.refund
    (record_seq, refund_no, amount, refunded_total, livemode, created)
    VALUES (%s, 1, -100, -100, false, now())$q$, :seq)) AS negative;
SELECT pg_temp.try(format($q$INSERT INTO payment_records.refund
    (record_seq, refund_no, amount, refunded_total, livemode, created)
    VALUES (%s, 1, 100000000, 100000000, false, now())$q$, :seq)) AS above_currency_max;
-- the legitimate maximum still passes the trigger, by direct DML too
SELECT pg_temp.try(format($q$INSERT INTO payment_records.refund
    (record_seq, refund_no, amount, refunded_total, livemode, created)
    VALUES (%s, 1, 60, 60, false, now())$q$, :seq)) AS direct_ok;
SELECT pg_temp.try(format($q$INSERT INTO payment_records.refund
    (record_seq, refund_no, amount, refunded_total, livemode, created)
    VALUES (%s, 2, 9223372036854775807, -9223372036854775749, false, now())$q$, :seq)) AS wrap_second;
-- and through the API nothing more than the remaining 40 can be refunded
SELECT pg_temp.try(format('SELECT payment_records.report_refund(%L, %L)', :'id', :'refund1100')) AS api_1100;
RESET ROLE;
SELECT payment_records.retrieve_payment_record(:'id') -> 'amount_refunded' ->> 'value' AS refunded;
-- and every reader still reads
SELECT amount_remaining, amount_remaining_major FROM payment_records.refundable WHERE id = :'id';

-- to_major works for every bigint, at every exponent
SELECT payment_records.to_major(v, c) AS major, v, c
FROM (VALUES (-9223372036854775808, 'usd'), (9223372036854775807, 'usd'),
             (-9223372036854775808, 'jpy'), (-9223372036854775808, 'kwd'),
             (-1, 'kwd'), (0, 'usd'), (-5, 'usd')) x(v, c) ORDER BY c, v;

--
-- 2. The state and identity columns the API reads are checked on every
-- direct write.
--
SET ROLE regress_atk_writer;
-- a record without any attempt fails at commit (here: at the INSERT's end,
-- constraints immediate)
BEGIN;
SET CONSTRAINTS ALL IMMEDIATE;
SELECT pg_temp.try($q$INSERT INTO payment_records.payment_record (id, livemode, currency, created, amount)
    VALUES ('pr_000000000000000000000000', false, 'usd', now(), 100)$q$) AS no_attempt;
ROLLBACK;
SELECT pg_temp.try($q$INSERT INTO payment_records.payment_record (id, livemode, currency, created, amount)
    VALUES ('pr_0000000000000000000000000000000000000000', false, 'usd', now(), 100)$q$) AS long_id;
SELECT pg_temp.try($q$INSERT INTO payment_records.payment_record (id, livemode, currency, created, amount)
    VALUES ('pr_00000000000000000000000!', false, 'usd', now(), 100)$q$) AS bad_id;
SELECT pg_temp.try($q$INSERT INTO payment_records.payment_record (id, livemode, currency, created, amount)
    VALUES ('pr_000000000000000000000001', false, 'usd', 'infinity', 100)$q$) AS infinite_created;
SELECT pg_temp.try($q$INSERT INTO payment_records.payment_record (id, livemode, currency, created, amount)
    VALUES ('pr_000000000000000000000001', false, 'usd', now(), 0)$q$) AS zero_amount;
SELECT pg_temp.try(format($q$UPDATE payment_records.payment_attempt_record
    SET metadata = '[1]' WHERE record_seq = %s$q$, :seq)) AS metadata_array;
SELECT pg_temp.try(format($q$UPDATE payment_records.payment_attempt_record
    SET metadata = '{"k": 1}' WHERE record_seq = %s$q$, :seq)) AS metadata_number;
SELECT pg_temp.try(format($q$UPDATE payment_records.payment_attempt_record
    SET customer_presence = 'sometimes' WHERE record_seq = %s$q$, :seq)) AS presence;
SELECT pg_temp.try(format($q$UPDATE payment_records.payment_attempt_record
    SET description = repeat('x', 5001) WHERE record_seq = %s$q$, :seq)) AS long_description;
SELECT pg_temp.try(format($q$UPDATE payment_records.payment_attempt_record
    SET guaranteed_at = '-infinity' WHERE record_seq = %s$q$, :seq)) AS outcome_time;
-- what no API call changes after the report cannot be changed directly
SELECT pg_temp.try(format($q$UPDATE payment_records.payment_attempt_record
    SET payment_method_details = '{"payment_method": "pm_evil"}' WHERE record_seq = %s$q$, :seq)) AS payment_method;
SELECT pg_temp.try(format($q$UPDATE payment_records.payment_attempt_record
    SET customer_presence = 'off_session' WHERE record_seq = %s$q$, :seq)) AS presence_change;
-- a record from the future would lead every list forever
SELECT pg_temp.try($q$INSERT INTO payment_records.payment_record (id, livemode, currency, created, amount)
    VALUES ('pr_000000000000000000000001', false, 'usd', '294276-01-01', 100)$q$) AS future_created;
-- a test-mode writer cannot write live-mode rows
SELECT pg_temp.try($q$INSERT INTO payment_records.payment_record (id, livemode, currency, created, amount)
    VALUES ('pr_000000000000000000000001', true, 'usd', now(), 100)$q$) AS live_row;
SELECT pg_temp.try($q$SET payment_records.notify_events = on$q$) AS writer_notify;
RESET ROLE;

--
-- 3. Idempotency keys and events are the extension's alone.  In 1.0 a
-- stored response could be rewritten (a replay then answered
-- amount_refunded 0) and keys deleted (a retry then refunded twice).
--
SELECT payment_records.report_refund(:'id', '{"outcome": "refunded", "amount": {"currency": "usd", "value": 10}, "processor_details": {"type": "custom"}}', 'atk-key-1') -> 'amount_refunded' ->> 'value' AS refunded_with_key;
SET ROLE regress_atk_writer;
SELECT pg_temp.try($q$UPDATE payment_records.idempotency_key SET response = jsonb_set(response, '{amount_refunded,value}', '0') WHERE key = 'atk-key-1'$q$) AS forge_update;
SELECT pg_temp.try($q$DELETE FROM payment_records.idempotency_key WHERE key = 'atk-key-1'$q$) AS forge_delete;
SELECT pg_temp.try($q$INSERT INTO payment_records.idempotency_key (livemode, key, endpoint, request_hash, response, created)
    SELECT livemode, 'atk-key-2', endpoint, request_hash, response, created FROM payment_records.idempotency_key WHERE key = 'atk-key-1'$q$) AS forge_insert;
SELECT pg_temp.try($q$DELETE FROM payment_records.event$q$) AS event_delete;
SELECT pg_temp.try($q$UPDATE payment_records.event SET type = 'payment_record.refunded'$q$) AS event_update;
SELECT pg_temp.try($q$INSERT INTO payment_records.event (type, livemode, object, created) VALUES ('payment_record.created', false, '{}', now())$q$) AS event_insert;
SELECT pg_temp.try($q$TRUNCATE payment_records.idempotency_key$q$) AS key_truncate;
-- nor plant a gateway key of its own
SELECT pg_temp.try($q$INSERT INTO payment_records.api_key (id, secret_hash, role_name, livemode, restricted, last4, created)
    VALUES ('key_x', sha256('sk_test_mine'), 'regress_atk_live', false, false, 'mine', now())$q$) AS plant_api_key;
RESET ROLE;
-- even the owner cannot change a stored answer or delete a live key
SELECT pg_temp.try($q$UPDATE payment_records.idempotency_key SET created = now() WHERE key = 'atk-key-1'$q$) AS owner_update;
SELECT pg_temp.try($q$DELETE FROM payment_records.idempotency_key WHERE key = 'atk-key-1'$q$) AS owner_delete;
SELECT pg_temp.try($q$TRUNCATE payment_records.event$q$) AS event_truncate;
-- the retry replays: one refund of 10, not two
SELECT payment_records.report_refund(:'id', '{"outcome": "refunded", "amount": {"currency": "usd", "value": 10}, "processor_details": {"type": "custom"}}', 'atk-key-1') -> 'amount_refunded' ->> 'value' AS replayed;
SELECT payment_records.retrieve_payment_record(:'id') -> 'amount_refunded' ->> 'value' AS refunded;

--
-- 4. session_replication_role = replica silences no check (a writer can be
-- granted SET on it).
--
SET ROLE regress_atk_writer;
SET session_replication_role = replica;
SELECT pg_temp.try(format($q$INSERT INTO payment_records.refund
    (record_seq, refund_no, amount, refunded_total, livemode, created)
    SELECT %1$s, max(refund_no) + 1, 1000, max(refunded_total) + 1000, false, now()
    FROM payment_records.refund WHERE record_seq = %1$s$q$, :seq)) AS replica_over_refund;
SELECT pg_temp.try($q$INSERT INTO payment_records.refund
    (record_seq, refund_no, amount, refunded_total, livemode, created)
    VALUES (-1, 1, 1, 1, false, now())$q$) AS replica_orphan;
SELECT pg_temp.try($q$DELETE FROM payment_records.idempotency_key$q$) AS replica_key_delete;
RESET session_replication_role;
RESET ROLE;
SELECT count(*) FILTER (WHERE NOT t.tgisinternal) AS own_triggers,
       count(*) FILTER (WHERE t.tgisinternal) AS foreign_key_triggers,
       count(*) FILTER (WHERE t.tgenabled <> 'A') AS not_always
FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid
WHERE c.relnamespace = 'payment_records'::regnamespace;
SELECT evtname, evtenabled FROM pg_event_trigger WHERE evtname LIKE 'payment_records%';

--
-- 5. The mode is the caller's, decided by its administrator: a caller can
-- neither set it nor take a role that has it.
--
-- (a session of the attacker's own: SET ROLE is checked against the
-- session's user, and this file's is a superuser)
\getenv regress_su_password PGPASSWORD
\setenv PGPASSWORD regress_atk
\c - regress_atk_writer
SET payment_records.livemode = on;
SELECT payment_records.report_payment(:'pay') ->> 'livemode' AS writer_mode;
SET payment_records.livemode = on;
SET ROLE regress_atk_live;
SET ROLE payment_records_live;
SELECT current_user;
-- a keyed call through request() by a writer: its business error comes
-- back as a body, is stored under the key (as the extension's owner), and
-- replays
SELECT status, body -> 'error' ->> 'code' AS code FROM payment_records.request('POST',
    '/v1/payment_records/pr_AAAAAAAAAAAAAAAAAAAAAAAB/report_refund',
    '{"outcome": "refunded", "processor_details": {"type": "custom"}}', 'atk-writer-404');
SELECT status, body -> 'error' ->> 'code' AS code FROM payment_records.request('POST',
    '/v1/payment_records/pr_AAAAAAAAAAAAAAAAAAAAAAAB/report_refund',
    '{"outcome": "refunded", "processor_details": {"type": "custom"}}', 'atk-writer-404');
SELECT error ->> 'sqlstate' AS stored FROM payment_records.idempotency_key WHERE key = 'atk-writer-404';
\setenv PGPASSWORD :regress_su_password
\c - :regress_su
\i test/regress/helpers.sql
RESET ROLE;
SET ROLE regress_atk_live;
SELECT payment_records.report_payment(:'pay') ->> 'id' AS live_id \gset
SELECT payment_records.retrieve_payment_record(:'live_id') ->> 'livemode' AS live_mode;
SELECT pg_temp.try(format('SELECT payment_records.retrieve_payment_record(%L)', :'id')) AS test_object_from_live;
RESET ROLE;
-- a superuser is not live by being superuser
SELECT pg_temp.try(format('SELECT payment_records.retrieve_payment_record(%L)', :'live_id')) AS live_object_from_test;
SET ROLE regress_atk_writer;
SELECT pg_temp.try(format('SELECT payment_records.retrieve_payment_record(%L)', :'live_id')) AS live_object_from_writer;
SELECT count(*) AS live_listed FROM jsonb_array_elements(payment_records.list_payment_records('{"limit": 100}') -> 'data') d
WHERE (d ->> 'livemode')::boolean;
-- nor in the tables and views it may read: each role sees its own mode
SELECT (SELECT count(*) FROM payment_records.payment_record WHERE livemode) AS live_records,
       (SELECT count(*) FROM payment_records.payment_attempt_record a
        WHERE a.record_seq IN (SELECT seq FROM payment_records.payment_record WHERE livemode)) AS live_attempts,
       (SELECT count(*) FROM payment_records.event WHERE livemode) AS live_events,
       (SELECT count(*) FROM payment_records.payment_record_report WHERE livemode) AS live_in_report,
       (SELECT count(*) > 0 FROM payment_records.payment_record_report) AS sees_own;
RESET ROLE;
SET ROLE regress_atk_live;
SELECT (SELECT count(*) FROM payment_records.payment_record WHERE NOT livemode) AS test_records,
       (SELECT count(*) FROM payment_records.payment_attempt_record) AS attempts_seen,
       (SELECT count(*) FROM payment_records.idempotency_key WHERE NOT livemode) AS test_keys,
       (SELECT count(*) FROM payment_records.daily_summary WHERE NOT livemode) AS test_days;
RESET ROLE;

--
-- 6. Refund references up to the contract's 5,000 characters, unique
-- exactly (1.0 failed with 54000 above about 2.7 kB).
--
SELECT payment_records.report_payment(jsonb_set(:'pay'::jsonb, '{amount_requested,value}', '1000')) ->> 'id' AS big \gset
SELECT md5(g::text) AS seed FROM generate_series(1, 1) g \gset
SELECT string_agg(md5(:'seed' || g), '') AS ref FROM generate_series(1, 157) g \gset
SELECT length(left(:'ref', 5000)) AS ref_length;
SELECT payment_records.report_refund(:'big', jsonb_build_object('outcome', 'refunded',
    'amount', jsonb_build_object('currency', 'usd', 'value', 1),
    'processor_details', jsonb_build_object('type', 'custom', 'custom',
        jsonb_build_object('refund_reference', left(:'ref', 5000))))) -> 'amount_refunded' ->> 'value' AS long_ref;
-- a reference differing only in its last character is another reference
SELECT payment_records.report_refund(:'big', jsonb_build_object('outcome', 'refunded',
    'amount', jsonb_build_object('currency', 'usd', 'value', 1),
    'processor_details', jsonb_build_object('type', 'custom', 'custom',
        jsonb_build_object('refund_reference', left(:'ref', 4999) || 'z')))) -> 'amount_refunded' ->> 'value' AS other_long_ref;
-- the same one again is refused, through the function and through request()
SELECT left(pg_temp.try(format('SELECT payment_records.report_refund(%L, %L)', :'big', jsonb_build_object('outcome', 'refunded',
    'amount', jsonb_build_object('currency', 'usd', 'value', 1),
    'processor_details', jsonb_build_object('type', 'custom', 'custom',
        jsonb_build_object('refund_reference', left(:'ref', 5000)))))), 60) AS same_long_ref;
SELECT status, body -> 'error' ->> 'code' AS code
FROM payment_records.request('POST', '/v1/payment_records/' || :'big' || '/report_refund',
    jsonb_build_object('outcome', 'refunded', 'amount', jsonb_build_object('currency', 'usd', 'value', '1'),
        'processor_details', jsonb_build_object('type', 'custom', 'custom',
            jsonb_build_object('refund_reference', left(:'ref', 5000)))));
-- at the 64-byte boundary where the index key turns from the reference
-- itself into its digest: 64 and 65 bytes sharing 64 are two references
SELECT payment_records.report_refund(:'big', jsonb_build_object('outcome', 'refunded',
    'amount', jsonb_build_object('currency', 'usd', 'value', 1),
    'processor_details', jsonb_build_object('type', 'custom', 'custom',
        jsonb_build_object('refund_reference', left(:'ref', 64))))) -> 'amount_refunded' ->> 'value' AS ref_64;
SELECT payment_records.report_refund(:'big', jsonb_build_object('outcome', 'refunded',
    'amount', jsonb_build_object('currency', 'usd', 'value', 1),
    'processor_details', jsonb_build_object('type', 'custom', 'custom',
        jsonb_build_object('refund_reference', left(:'ref', 65))))) -> 'amount_refunded' ->> 'value' AS ref_65;
SELECT pg_temp.try(format('SELECT payment_records.report_refund(%L, %L)', :'big', jsonb_build_object('outcome', 'refunded',
    'amount', jsonb_build_object('currency', 'usd', 'value', 1),
    'processor_details', jsonb_build_object('type', 'custom', 'custom',
        jsonb_build_object('refund_reference', left(:'ref', 64)))))) AS ref_64_again;
-- and 5,001 is a validation error
SELECT status, body -> 'error' ->> 'param' AS param
FROM payment_records.request('POST', '/v1/payment_records/' || :'big' || '/report_refund',
    jsonb_build_object('outcome', 'refunded', 'processor_details', jsonb_build_object('type', 'custom', 'custom',
            jsonb_build_object('refund_reference', left(:'ref', 5000) || 'y'))));
-- directly too: the trigger bounds it
SET ROLE regress_atk_writer;
SELECT pg_temp.try(format($q$INSERT INTO payment_records.refund
    (record_seq, refund_no, amount, refunded_total, livemode, created, refund_reference)
    SELECT p.seq, max(f.refund_no) + 1, 1, max(f.refunded_total) + 1, false, now(), repeat('r', 5001)
    FROM payment_records.payment_record p JOIN payment_records.refund f ON f.record_seq = p.seq
    WHERE p.id = %L GROUP BY p.seq$q$, :'big')) AS direct_long_ref;
RESET ROLE;

--
-- 7. Statement triggers someone adds to a table fire for the API's writes
-- too, as for any INSERT.
--
CREATE TABLE regress_atk_log (what text);
CREATE FUNCTION regress_atk_log_insert() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO public.regress_atk_log VALUES (TG_WHEN || ' ' || TG_LEVEL || ' ' || TG_TABLE_NAME);
    RETURN NULL;
END $$;
CREATE TRIGGER regress_atk_bs BEFORE INSERT ON payment_records.refund
    FOR EACH STATEMENT EXECUTE FUNCTION regress_atk_log_insert();
CREATE TRIGGER regress_atk_as AFTER INSERT ON payment_records.refund
    FOR EACH STATEMENT EXECUTE FUNCTION regress_atk_log_insert();
SELECT payment_records.report_refund(:'big', '{"outcome": "refunded", "amount": {"currency": "usd", "value": 1}, "processor_details": {"type": "custom"}}') -> 'amount_refunded' ->> 'value' AS with_statement_triggers;
SELECT what FROM regress_atk_log ORDER BY what;
DROP TRIGGER regress_atk_bs ON payment_records.refund;
DROP TRIGGER regress_atk_as ON payment_records.refund;
DROP TABLE regress_atk_log;
DROP FUNCTION regress_atk_log_insert();

--
-- 8. Savepoints: a keyed write rolled back to a savepoint leaves no key,
-- and the retry executes once.
--
BEGIN;
SAVEPOINT s;
SELECT payment_records.report_refund(:'big', '{"outcome": "refunded", "amount": {"currency": "usd", "value": 5}, "processor_details": {"type": "custom"}}', 'atk-sp') -> 'amount_refunded' ->> 'value' AS in_savepoint;
ROLLBACK TO SAVEPOINT s;
SELECT payment_records.report_refund(:'big', '{"outcome": "refunded", "amount": {"currency": "usd", "value": 5}, "processor_details": {"type": "custom"}}', 'atk-sp') -> 'amount_refunded' ->> 'value' AS after_rollback;
SELECT payment_records.report_refund(:'big', '{"outcome": "refunded", "amount": {"currency": "usd", "value": 5}, "processor_details": {"type": "custom"}}', 'atk-sp') -> 'amount_refunded' ->> 'value' AS replay;
COMMIT;

--
-- 9. Integer boundaries through the API: clear errors, nothing written.
--
SELECT count(*) AS refunds_mid FROM payment_records.refund \gset
\set VERBOSITY sqlstate
SELECT payment_records.report_refund(:'big', '{"outcome": "refunded", "amount": {"currency": "usd", "value": 9223372036854775807}, "processor_details": {"type": "custom"}}');
SELECT payment_records.report_refund(:'big', '{"outcome": "refunded", "amount": {"currency": "usd", "value": "9223372036854775808"}, "processor_details": {"type": "custom"}}');
SELECT payment_records.report_refund(:'big', '{"outcome": "refunded", "amount": {"currency": "usd", "value": -9223372036854775808}, "processor_details": {"type": "custom"}}');
SELECT payment_records.report_payment(jsonb_set(:'pay'::jsonb, '{initiated_at}', '9223372036854775807'));
SELECT payment_records.report_payment(jsonb_set(:'pay'::jsonb, '{initiated_at}', '-9223372036854775808'));
\set VERBOSITY default
SELECT count(*) - :refunds_mid AS written FROM payment_records.refund;

--
-- 10. The extension's objects are found by OID, never by name: a renamed
-- schema with a look-alike planted under the old name is refused, not used.
--
-- the schema cannot be renamed, nor given to another owner
SELECT pg_temp.try('ALTER SCHEMA payment_records RENAME TO regress_atk_moved') AS rename_schema;
SELECT pg_temp.try('ALTER SCHEMA payment_records OWNER TO regress_atk_writer') AS give_schema;
-- and if a superuser forces it (the guard disabled), the functions refuse
-- to follow the name
BEGIN;
ALTER EVENT TRIGGER payment_records_guard_drop DISABLE;
ALTER SCHEMA payment_records RENAME TO regress_atk_moved;
CREATE SCHEMA payment_records;
CREATE TABLE payment_records.payment_record (LIKE regress_atk_moved.payment_record);
SELECT pg_temp.try(format('SELECT regress_atk_moved.retrieve_payment_record(%L)', :'id')) AS renamed;
SELECT pg_temp.try(format('SELECT * FROM regress_atk_moved.request(%L, %L)', 'GET', '/v1/payment_records/' || :'id')) AS renamed_request;
ROLLBACK;

--
-- 11. DROP EXTENSION, or DROP SCHEMA ... CASCADE, does not silently delete
-- every payment.
--
SELECT pg_temp.try('DROP EXTENSION payment_records') AS drop_extension;
SELECT pg_temp.try('DROP SCHEMA payment_records CASCADE') AS drop_schema;
SET ROLE regress_atk_writer;
SELECT pg_temp.try('SET payment_records.allow_drop = on') AS writer_allows;
RESET ROLE;
BEGIN;
SET LOCAL payment_records.allow_drop = on;
DROP EXTENSION payment_records;
SELECT count(*) AS extension_left FROM pg_extension WHERE extname = 'payment_records';
ROLLBACK;
SELECT count(*) AS extension_kept FROM pg_extension WHERE extname = 'payment_records';

--
-- 12. Installing into a schema that existed before is refused: its owner
-- could swap in objects of its own.
--
SELECT current_database() AS regress_db \gset
CALL pg_temp.create_role('regress_atk_squatter');
CREATE DATABASE regress_atk_squat;
\c regress_atk_squat
CREATE SCHEMA payment_records AUTHORIZATION regress_atk_squatter;
\set VERBOSITY default
-- (the context lines of an error in an extension script differ between
-- PostgreSQL versions)
\set SHOW_CONTEXT never
CREATE EXTENSION payment_records;
DROP SCHEMA payment_records;
-- the superuser's own schema, made beforehand, is refused too: only one
-- that CREATE EXTENSION itself makes is taken
CREATE SCHEMA payment_records;
CREATE EXTENSION payment_records;
DROP SCHEMA payment_records;
-- default privileges that would hand the new functions to another role
-- (create_api_key to a writer, say) are refused too
ALTER DEFAULT PRIVILEGES GRANT EXECUTE ON FUNCTIONS TO regress_atk_squatter;
CREATE EXTENSION payment_records;
ALTER DEFAULT PRIVILEGES REVOKE EXECUTE ON FUNCTIONS FROM regress_atk_squatter;
CREATE EXTENSION payment_records;
SELECT n.nspowner::regrole AS schema_owner FROM pg_namespace n WHERE n.nspname = 'payment_records';
\set VERBOSITY terse
\set SHOW_CONTEXT errors
\c :regress_db
\i test/regress/helpers.sql
DROP DATABASE regress_atk_squat;
DROP ROLE regress_atk_squatter;

--
-- 14. Retention, keys and commits.
--
-- a retention beyond 24.8 days must not wrap (it did: 30 days expired
-- every key at once, and the retry executed again)
SET payment_records.idempotency_retention = '30d';
SELECT payment_records.report_payment(:'pay', 'atk-30d') ->> 'id' = payment_records.report_payment(:'pay', 'atk-30d') ->> 'id' AS same_answer_30d;
SET payment_records.idempotency_retention = '24000d';
SELECT payment_records.report_payment(:'pay', 'atk-30d') ->> 'id' = payment_records.report_payment(:'pay', 'atk-30d') ->> 'id' AS same_answer_24000d;
RESET payment_records.idempotency_retention;
-- an error raised inside (a constraint's, not the API's own) is not
-- stored under the key: once the cause is gone, the retry executes
SELECT last_value AS seq_now FROM payment_records.payment_record_seq_seq \gset
SELECT setval('payment_records.payment_record_seq_seq', max(seq) - 1) > 0 AS rewound FROM payment_records.payment_record;
SELECT status, body -> 'error' ->> 'message' AS message
FROM payment_records.request('POST', '/v1/payment_records/report_payment', :'pay', 'atk-internal');
SELECT setval('payment_records.payment_record_seq_seq', :seq_now) > 0 AS restored;
SELECT status FROM payment_records.request('POST', '/v1/payment_records/report_payment', :'pay', 'atk-internal');
-- a keyed write through a SECURITY DEFINER function of a writer's, by a
-- role that cannot read the schema: the commit-time checks do not need
-- the committing role's privileges
CALL pg_temp.create_role('regress_atk_plain');
CREATE FUNCTION regress_atk_wrapped(k text) RETURNS text SECURITY DEFINER
    SET search_path = pg_catalog LANGUAGE sql
    AS $$ SELECT payment_records.report_payment('{"amount_requested": {"currency": "usd", "value": 79}, "initiated_at": 1, "payment_method_details": {"payment_method": "pm_k"}}', k) ->> 'object' $$;
ALTER FUNCTION regress_atk_wrapped(text) OWNER TO regress_atk_writer;
SET ROLE regress_atk_plain;
SELECT regress_atk_wrapped('atk-wrapped');
RESET ROLE;
DROP FUNCTION regress_atk_wrapped(text);
DROP ROLE regress_atk_plain;
-- dropping PL/pgSQL with CASCADE would take the extension with it (the
-- gateway's SQL functions are PL/pgSQL): refused like DROP EXTENSION
DROP EXTENSION plpgsql CASCADE;
DROP LANGUAGE plpgsql CASCADE;
SELECT count(*) AS extension_survives FROM pg_extension WHERE extname = 'payment_records';

--
-- 13. A placeholder set before the module is loaded cannot shorten the
-- retention: a new session, the module not loaded yet.
--
\getenv regress_su_password PGPASSWORD
\setenv PGPASSWORD regress_atk
\c - regress_atk_writer
SET payment_records.idempotency_retention = '-1000 years';
SELECT count(*) AS keys_before FROM payment_records.idempotency_key \gset
SELECT payment_records.purge_idempotency_keys() AS purged;
SELECT count(*) = :keys_before AS keys_kept FROM payment_records.idempotency_key;
SHOW payment_records.idempotency_retention;
\setenv PGPASSWORD :regress_su_password
\c - :regress_su
-- nothing in this file wrote a refund the API would not have written
SELECT count(*) AS violations FROM (
    SELECT p.id FROM payment_records.payment_record p JOIN payment_records.refund r ON r.record_seq = p.seq
    GROUP BY p.id, p.amount HAVING sum(r.amount) > p.amount OR max(r.refunded_total) <> sum(r.amount)
) v;

