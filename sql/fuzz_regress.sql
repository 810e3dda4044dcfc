--
-- Reproducers of what the fuzz driver (test/fuzz/run.sh) found, minimized.
-- Each input must end in success or in an error of the README's contract clause C7: never a
-- crash, another SQLSTATE, or a success that breaks the contract.
--
\i test/regress/helpers.sql

--
-- 1. A metadata value given as a JSON number is stored as its text without
--    the 500-character limit (C4): {"k": 1e600} was accepted and stored
--    a 601-character value.  The limit is the text's, as for a string.
--
CREATE TABLE fuzz_regress_base AS SELECT '{
  "amount_requested": {"currency": "usd", "value": 1000},
  "initiated_at": 1730253453,
  "payment_method_details": {"payment_method": "pm_1"}
}'::jsonb AS p;

-- 500 characters: accepted
SELECT length(payment_records.report_payment(p || '{"metadata": {"k": 1e499}}') #>> '{metadata,k}')
  FROM fuzz_regress_base;
-- 501 and more: the error a 501-character string gets
SELECT pg_temp.try_fields(format('SELECT payment_records.report_payment(%L)', p || '{"metadata": {"k": 1e500}}'))
  FROM fuzz_regress_base;
SELECT pg_temp.try_fields(format('SELECT payment_records.report_payment(%L)', p || '{"metadata": {"k": -1e600}}'))
  FROM fuzz_regress_base;
SELECT pg_temp.try_fields(format('SELECT payment_records.report_payment(%L)', p || '{"metadata": {"k": 1e-600}}'))
  FROM fuzz_regress_base;
SELECT pg_temp.try_fields(format('SELECT payment_records.report_payment(%L)', p || jsonb_build_object('metadata', jsonb_build_object('k', repeat('x', 501)))))
  FROM fuzz_regress_base;
-- the same on an update of a record's metadata
SELECT pg_temp.try_fields(format('SELECT payment_records.report_payment_attempt_informational(%L, %L)',
    payment_records.report_payment(p)->>'id', '{"metadata": {"k": 1e600}}'))
  FROM fuzz_regress_base;

DROP TABLE fuzz_regress_base;

--
-- 2. In a database whose encoding lacks a decoded character (LATIN1 has no
--    euro sign), form_to_jsonb() raised 22P05 (untranslatable_character)
--    and request() raised it too instead of answering 400: the character
--    is a bad parameter value like invalid UTF-8 is (22023, param = key).
--
SELECT current_database() AS fuzz_regress_db \gset
CREATE DATABASE fuzz_regress_latin1 TEMPLATE template0 ENCODING 'LATIN1'
    LC_COLLATE 'C' LC_CTYPE 'C';
\c fuzz_regress_latin1
\i test/regress/helpers.sql
-- a character LATIN1 has (e-acute) decodes
SELECT payment_records.form_to_jsonb('a=%C3%A9') = jsonb_build_object('a', convert_from('\xe9', 'LATIN1'));
SELECT state, param FROM pg_temp.outcome($q$SELECT payment_records.form_to_jsonb('a=%E2%82%AC')$q$);
-- (in a key: the SQLSTATE alone, the param being the key as it was sent)
SELECT state FROM pg_temp.outcome($q$SELECT payment_records.form_to_jsonb('a%E2%82%AC=1')$q$);
SELECT status, body #>> '{error,param}' AS param
  FROM payment_records.request('GET', '/v1/payment_records?limit=%E2%82%AC');
\c :fuzz_regress_db
DROP DATABASE fuzz_regress_latin1;

