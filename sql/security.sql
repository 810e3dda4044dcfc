--
-- Privileges: callers never write the tables; writers write through the
-- functions only; readers only read; others get nothing.
--
\i test/regress/helpers.sql
\set VERBOSITY terse

CALL pg_temp.create_role('regress_nobody');
CALL pg_temp.create_role('regress_writer', 'IN ROLE payment_records_writer');
CALL pg_temp.create_role('regress_reader', 'IN ROLE payment_records_reader');

-- functions are SECURITY DEFINER with a pinned search_path
SELECT p.proname, p.prosecdef, p.proconfig
FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
WHERE n.nspname = 'payment_records' AND p.prorettype <> 'trigger'::regtype
ORDER BY p.proname;

-- PUBLIC has no privilege on any table, sequence or function (but
-- reference_key(), the refund reference index's expression, which runs
-- as whoever inserts a refund and only hashes, and caller_livemode(), which
-- the tables' row-level security policies call as whoever reads them)
SELECT r.rolname, c.relname,
       string_agg(pr, ',' ORDER BY pr) FILTER (WHERE has_table_privilege(r.rolname, c.oid, pr)) AS privileges
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace,
     (VALUES ('regress_nobody'), ('regress_writer'), ('regress_reader')) r(rolname),
     unnest(ARRAY['SELECT', 'INSERT', 'UPDATE', 'DELETE', 'TRUNCATE']) pr
WHERE n.nspname = 'payment_records' AND c.relkind = 'r'
GROUP BY r.rolname, c.relname ORDER BY 1, 2;
SELECT p.oid::regprocedure AS public_executable FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
WHERE n.nspname = 'payment_records' AND has_function_privilege('regress_nobody', p.oid, 'EXECUTE')
ORDER BY p.proname;

-- a role without the extension's roles can neither call nor read nor write
SET ROLE regress_nobody;
SELECT payment_records.report_payment('{}');
SELECT payment_records.retrieve_payment_record('pr_x');
SELECT count(*) FROM payment_records.payment_record;
INSERT INTO payment_records.payment_record (id, livemode, created, currency, amount) VALUES ('pr_x', false, now(), 'usd', 1);
RESET ROLE;

-- a writer writes through the functions...
SET ROLE regress_writer;
SELECT payment_records.report_payment('{"amount_requested": {"currency": "usd", "value": 700},
  "initiated_at": 1, "outcome": "guaranteed", "guaranteed": {"guaranteed_at": 2},
  "payment_method_details": {"payment_method": "pm_1"}}') ->> 'id' AS wid \gset
SELECT payment_records.report_refund(:'wid', '{"outcome": "refunded", "processor_details": {"type": "custom"},
  "amount": {"currency": "usd", "value": 200}}') -> 'amount_refunded';
-- ... and can read ...
SELECT count(*) > 0 AS can_read FROM payment_records.refund;
-- ... but cannot write the tables directly, in any way
INSERT INTO payment_records.payment_record (id, livemode, created, currency, amount) VALUES ('pr_x', false, now(), 'usd', 1);
INSERT INTO payment_records.refund (record_seq, refund_no, amount, refunded_total, livemode, created)
SELECT seq, 2, 1, 201, false, now() FROM payment_records.payment_record WHERE id = :'wid';
UPDATE payment_records.payment_attempt_record SET status = 'failed';
DELETE FROM payment_records.refund;
TRUNCATE payment_records.refund;
SELECT nextval('payment_records.payment_record_seq_seq');
-- nor exceed a limit through the functions
\set VERBOSITY sqlstate
SELECT payment_records.report_refund(:'wid', '{"outcome": "refunded", "processor_details": {"type": "custom"},
  "amount": {"currency": "usd", "value": 501}}');
\set VERBOSITY terse
RESET ROLE;

-- a reader reads and cannot write, not even through the functions
SET ROLE regress_reader;
SELECT payment_records.retrieve_payment_record(:'wid') -> 'amount_refunded';
SELECT payment_records.report_refund(:'wid', '{"outcome": "refunded", "processor_details": {"type": "custom"}}');
SELECT payment_records.report_payment('{}');
INSERT INTO payment_records.refund (record_seq, refund_no, amount, refunded_total, livemode, created) VALUES (1, 1, 1, 1, false, now());
RESET ROLE;

-- a writer cannot hijack the functions through search_path: an operator
-- and a function of its own in a schema it puts first
CREATE SCHEMA regress_evil AUTHORIZATION regress_writer;
SET ROLE regress_writer;
CREATE FUNCTION regress_evil.texteq(text, text) RETURNS boolean LANGUAGE sql AS 'SELECT true';
CREATE OPERATOR regress_evil.= (LEFTARG = text, RIGHTARG = text, FUNCTION = regress_evil.texteq);
CREATE FUNCTION regress_evil.now() RETURNS timestamptz LANGUAGE sql AS $$SELECT '2000-01-01'::timestamptz$$;
SET search_path = regress_evil, pg_catalog, public;
-- still only the right record is found, and refunded
SELECT payment_records.report_refund(:'wid', '{"outcome": "refunded", "processor_details": {"type": "custom"},
  "amount": {"currency": "usd", "value": 100}}') -> 'amount_refunded';
SELECT payment_records.retrieve_payment_record('pr_doesnotexist');
RESET search_path;
RESET ROLE;
-- the same with the hostile operator in public, where an admin let it create
GRANT CREATE ON SCHEMA public TO regress_writer;
SET ROLE regress_writer;
CREATE FUNCTION public.regress_int8eq(bigint, bigint) RETURNS boolean LANGUAGE sql AS 'SELECT true';
CREATE OPERATOR public.= (LEFTARG = bigint, RIGHTARG = bigint, FUNCTION = public.regress_int8eq);
SET search_path = public, pg_catalog;
SELECT payment_records.report_refund(:'wid', '{"outcome": "refunded", "processor_details": {"type": "custom"},
  "amount": {"currency": "usd", "value": 100}}') -> 'amount_refunded';
SELECT payment_records.retrieve_payment_record(:'wid') -> 'amount_refunded';
RESET search_path;
DROP OPERATOR public.= (bigint, bigint);
DROP FUNCTION public.regress_int8eq(bigint, bigint);
RESET ROLE;
REVOKE CREATE ON SCHEMA public FROM regress_writer;

-- error messages never echo payment-method or customer data
SELECT payment_records.report_payment('{"amount_requested": {"currency": "usd", "value": 1}, "initiated_at": 1,
  "payment_method_details": {"payment_method": "pm_secret"},
  "customer_details": {"email": "not an email jenny.secret@example", "name": "Jenny Secret"}}');

DROP SCHEMA regress_evil CASCADE;
DROP ROLE regress_nobody, regress_writer, regress_reader;
