--
-- request(): Stripe's method and path in, (status, body) out.  Stripe's
-- curl examples are replayed through form_to_jsonb().
--
-- Everything runs on a fresh extension, in one transaction that is rolled
-- back at the end, so the suite leaves nothing behind; it works in live
-- mode (as regress_live, switching to the superuser only to create what it
-- needs), where the fresh extension has no record and no refund reference
-- (Stripe's example uses "refund_12345").
-- psql rolls back only a failing statement (ON_ERROR_ROLLBACK), so raised
-- errors can be shown inside the transaction.
--
\i test/regress/helpers.sql
CALL pg_temp.fresh_extension();

\set VERBOSITY terse
\set ON_ERROR_ROLLBACK on
BEGIN;
SET LOCAL ROLE regress_live;

-- VOLATILE PARALLEL UNSAFE, not SECURITY DEFINER; callable by the
-- extension's roles only
SELECT p.provolatile, p.proparallel, p.prosecdef, p.proconfig, p.proretset
FROM pg_proc p WHERE p.oid = 'payment_records.request(text, text, jsonb, text)'::regprocedure;
SELECT r.rolname, has_function_privilege(r.rolname, 'payment_records.request(text, text, jsonb, text)', 'EXECUTE') AS can_execute
FROM (VALUES ('public'), ('payment_records_reader'), ('payment_records_writer')) r(rolname) ORDER BY 1;

-- Stripe's curl bodies, the -d arguments joined with "&"
\set payment_body 'amount_requested[currency]=usd&amount_requested[value]=1000&customer_presence=on_session&description=computer software&initiated_at=1730253453&payment_method_details[custom][display_name]=newpay&payment_method_details[custom][type]=cpmt_125kjj3hn3sdf&payment_method_details[payment_method]=pm_5j23kjksibjlks&payment_method_details[type]=custom'
\set refund_body 'processor_details[type]=custom&processor_details[custom][refund_reference]=refund_12345&outcome=refunded&refunded[refunded_at]=1730253453&amount[currency]=usd&amount[value]=1000&initiated_at=1730253450'

SELECT count(*) AS records_before FROM payment_records.payment_record \gset

--
-- "Report a payment": 200 and the record, key by key (the generated id
-- and attempt id are checked by shape; created is the transaction's start)
--
SELECT status, body AS payment
FROM payment_records.request('POST', '/v1/payment_records/report_payment',
                             payment_records.form_to_jsonb(:'payment_body')) \gset
SELECT :status AS status;
SELECT key,
       CASE key
           WHEN 'id' THEN to_jsonb(value #>> '{}' ~ '^pr_[0-9A-Za-z]{24}$')
           WHEN 'latest_payment_attempt_record' THEN to_jsonb(value #>> '{}' ~ '^par_[0-9A-Za-z]{24}$')
           WHEN 'created' THEN to_jsonb(value::text::numeric = floor(extract(epoch FROM now())))
           ELSE value
       END AS value
FROM jsonb_each(:'payment'::jsonb) ORDER BY key;
SELECT :'payment'::jsonb ->> 'id' AS pid \gset
-- it was written, and it is what a GET returns
SELECT count(*) AS written FROM payment_records.payment_record WHERE id = :'pid';
SELECT status, body = :'payment'::jsonb AS same_as_reported
FROM payment_records.request('GET', '/v1/payment_records/' || :'pid');

--
-- A missing parameter: 400 and Stripe's error body, nothing written
--
SELECT count(*) AS records_before_error FROM payment_records.payment_record \gset
SELECT status, jsonb_pretty(body)
FROM payment_records.request('POST', '/v1/payment_records/report_payment',
                             payment_records.form_to_jsonb(replace(:'payment_body', '&initiated_at=1730253453', '')));
SELECT count(*) - :records_before_error AS records_added FROM payment_records.payment_record;
-- absent params are no params
SELECT status, body FROM payment_records.request('POST', '/v1/payment_records/report_payment', NULL);

--
-- "Report a refund" replayed against that record: Stripe's example refunds
-- a payment that was never guaranteed, which is refused (SQLSTATE 55000:
-- no code, no param)
--
SELECT status, replace(body::text, :'pid', '<pid>') AS body
FROM payment_records.request('POST', '/v1/payment_records/' || :'pid' || '/report_refund',
                             payment_records.form_to_jsonb(:'refund_body'));

--
-- The same payment reported as guaranteed (method in any case), then the
-- same refund: 200, the whole amount refunded
--
SELECT status, body ->> 'id' AS gid, body -> 'amount_guaranteed' AS amount_guaranteed
FROM payment_records.request('post', '/v1/payment_records/report_payment',
                             payment_records.form_to_jsonb(:'payment_body' || '&outcome=guaranteed&guaranteed[guaranteed_at]=1730253460')) \gset
SELECT :status AS status, :'amount_guaranteed' AS amount_guaranteed;
SELECT status, body ->> 'id' = :'gid' AS same_record, body -> 'amount_refunded' AS amount_refunded,
       body -> 'amount_guaranteed' AS amount_guaranteed
FROM payment_records.request('POST', '/v1/payment_records/' || :'gid' || '/report_refund',
                             payment_records.form_to_jsonb(:'refund_body'));
SELECT r.amount, r.refund_reference, r.initiated_at = to_timestamp(1730253450) AS initiated_ok,
       r.refunded_at = to_timestamp(1730253453) AS refunded_ok
FROM payment_records.refund r JOIN payment_records.payment_record p ON p.seq = r.record_seq
WHERE p.id = :'gid';
-- the same body again: nothing is left to refund (23514, param amount[value])
SELECT status, replace(body::text, :'gid', '<gid>') AS body
FROM payment_records.request('POST', '/v1/payment_records/' || :'gid' || '/report_refund',
                             payment_records.form_to_jsonb(:'refund_body'));
-- the same refund reference on another guaranteed record: 23505,
-- resource_already_exists, and that record stays unrefunded
SELECT body ->> 'id' AS bid
FROM payment_records.request('POST', '/v1/payment_records/report_payment',
                             payment_records.form_to_jsonb(:'payment_body' || '&outcome=guaranteed&guaranteed[guaranteed_at]=1730253460')) \gset
SELECT status, jsonb_pretty(body)
FROM payment_records.request('POST', '/v1/payment_records/' || :'bid' || '/report_refund',
                             payment_records.form_to_jsonb(:'refund_body'));
SELECT status, body -> 'amount_refunded' AS amount_refunded
FROM payment_records.request('GET', '/v1/payment_records/' || :'bid');
-- an unknown record: 404, resource_missing
SELECT status, jsonb_pretty(body)
FROM payment_records.request('POST', '/v1/payment_records/pr_doesnotexist/report_refund',
                             payment_records.form_to_jsonb(:'refund_body'));
SELECT status, body -> 'error' ->> 'code' AS code
FROM payment_records.request('GET', '/v1/payment_records/pr_doesnotexist');

--
-- Other endpoints are routed too
--
SELECT status, body ->> 'latest_payment_attempt_record' AS gpar
FROM payment_records.request('GET', '/v1/payment_records/' || :'gid') \gset
SELECT :status AS status;
SELECT status, body ->> 'payment_record' = :'gid' AS parent_ok, body ->> 'id' = :'gpar' AS id_ok
FROM payment_records.request('GET', '/v1/payment_attempt_records/' || :'gpar');
SELECT status, body ->> 'description' AS description
FROM payment_records.request('POST', '/v1/payment_records/' || :'pid' || '/report_payment_attempt_informational',
                             payment_records.form_to_jsonb('description=updated+through+request()'));

--
-- Query strings are decoded like form bodies and merged into params
--
-- a list, newest first: the two guaranteed records
SELECT status, body ->> 'object' AS object, body ->> 'url' AS url, body -> 'has_more' AS has_more,
       jsonb_path_query_array(body, '$.data[*].id') = jsonb_build_array(:'bid', :'gid') AS newest_two
FROM payment_records.request('GET', '/v1/payment_records?limit=2');
-- query string and params together
SELECT status, jsonb_array_length(body -> 'data') AS n, body #>> '{data,0,id}' = :'gpar' AS attempt_ok
FROM payment_records.request('GET', '/v1/payment_attempt_records?limit=5',
                             jsonb_build_object('payment_record', :'gid'));
-- expand is accepted on a retrieve, other parameters are not
SELECT status, body ->> 'id' = :'gid' AS same_record
FROM payment_records.request('GET', '/v1/payment_records/' || :'gid' || '?expand[]=payment_method_details');
SELECT status, body FROM payment_records.request('GET', '/v1/payment_records/' || :'gid' || '?foo=1');
-- the query string is validated like params
SELECT status, body FROM payment_records.request('GET', '/v1/payment_records?limit=abc');
SELECT status, body FROM payment_records.request('GET', '/v1/payment_records?limit=%zz');
-- a parameter given both in the query string and in params
SELECT status, body FROM payment_records.request('GET', '/v1/payment_records?limit=1', '{"limit": 2}');
SELECT status, body FROM payment_records.request('POST', '/v1/payment_records/report_payment?initiated_at=1',
                                                 payment_records.form_to_jsonb(:'payment_body'));
SELECT status, body FROM payment_records.request('GET', '/v1/payment_records?limit=1', '[]');

--
-- The idempotency key goes to the writes and is ignored on GET
--
SELECT status, body FROM payment_records.request('POST', '/v1/payment_records/' || :'gid' || '/report_refund',
                                                 payment_records.form_to_jsonb(:'refund_body'), '');
SELECT status, body ->> 'id' = :'gid' AS same_record
FROM payment_records.request('GET', '/v1/payment_records/' || :'gid', '{}', '');
-- a write under a key is replayed, and written once
SELECT count(*) AS records_before_idem FROM payment_records.payment_record \gset
SELECT status, body AS idem_first
FROM payment_records.request('POST', '/v1/payment_records/report_payment',
                             payment_records.form_to_jsonb(:'payment_body'), 'regress-form-idem-1') \gset
SELECT :status AS status;
SELECT status, body = :'idem_first'::jsonb AS replayed
FROM payment_records.request('POST', '/v1/payment_records/report_payment',
                             payment_records.form_to_jsonb(:'payment_body'), 'regress-form-idem-1');
SELECT count(*) - :records_before_idem AS records_added FROM payment_records.payment_record;
-- the same key with other parameters: type idempotency_error, no code
SELECT status, jsonb_pretty(body)
FROM payment_records.request('POST', '/v1/payment_records/report_payment',
                             payment_records.form_to_jsonb(:'payment_body' || '&metadata[retry]=1'), 'regress-form-idem-1');
-- request() goes on after a business error, so the error is stored under
-- the key and a retry gets the same answer, even once the call would
-- succeed: a refund of the pending record (55000) ...
\set small_refund 'outcome=refunded&processor_details[type]=custom&amount[currency]=usd&amount[value]=100'
SELECT status, replace(body::text, :'pid', '<pid>') AS body
FROM payment_records.request('POST', '/v1/payment_records/' || :'pid' || '/report_refund',
                             payment_records.form_to_jsonb(:'small_refund'), 'regress-form-idem-2');
SELECT endpoint, response IS NULL AS no_response, error ->> 'sqlstate' AS sqlstate
FROM payment_records.idempotency_key WHERE livemode AND key = 'regress-form-idem-2';
-- ... then the record guaranteed ...
SELECT status, body -> 'amount_guaranteed' AS amount_guaranteed
FROM payment_records.request('POST', '/v1/payment_records/' || :'pid' || '/report_payment_attempt_guaranteed',
                             payment_records.form_to_jsonb('guaranteed_at=1730253460'));
-- ... the retry under the key still answers 55000, a call without it refunds
SELECT status, replace(body::text, :'pid', '<pid>') AS body
FROM payment_records.request('POST', '/v1/payment_records/' || :'pid' || '/report_refund',
                             payment_records.form_to_jsonb(:'small_refund'), 'regress-form-idem-2');
SELECT status, body -> 'amount_refunded' AS amount_refunded
FROM payment_records.request('POST', '/v1/payment_records/' || :'pid' || '/report_refund',
                             payment_records.form_to_jsonb(:'small_refund'));
-- ... but a validation error is not stored
SELECT status, body -> 'error' ->> 'code' AS code
FROM payment_records.request('POST', '/v1/payment_records/' || :'gid' || '/report_refund',
                             '{"outcome": "refunded"}', 'regress-form-idem-3');
SELECT count(*) AS stored FROM payment_records.idempotency_key WHERE key = 'regress-form-idem-3';

--
-- Unrecognized method or path: 404 in Stripe's words
--
SELECT status, jsonb_pretty(body) FROM payment_records.request('POST', '/v1/foo');
SELECT t.method, t.path, r.status, r.body -> 'error' ->> 'message' AS message
FROM (VALUES (1, 'delete', '/v1/payment_records/pr_x'),
             (2, 'POST', '/v1/payment_records'),
             (3, 'PUT', '/v1/payment_records/report_payment'),
             (4, 'POST', '/v1/payment_records/pr_x'),
             (5, 'POST', '/v1/payment_records/pr_x/report_refund/again'),
             (6, 'POST', '/v1/payment_records/pr_x/report_payment'),
             (7, 'GET', '/v1/payment_records/pr_x/report_refund'),
             (8, 'GET', '/v1/payment_records/'),
             (9, 'GET', '/v1/payment_records//'),
             (10, 'GET', '/v1//payment_records'),
             (11, 'GET', '/payment_records'),
             (12, 'GET', 'v1/payment_records'),
             (13, 'GET', '/v2/payment_records?limit=1'),
             (14, 'GET', ''),
             (15, '', '/v1/payment_records')) t(n, method, path),
     LATERAL payment_records.request(t.method, t.path) r
ORDER BY t.n;
-- method and path are required
SELECT * FROM payment_records.request(NULL, '/v1/payment_records');
SELECT * FROM payment_records.request('GET', NULL);

--
-- Privileges: request() reaches only what the caller may call directly
-- (a reader in live mode, to see the live records)
--
RESET ROLE;
CALL pg_temp.create_role('regress_form_nobody', 'IN ROLE payment_records_reader, payment_records_live');
SET ROLE regress_form_nobody;
-- a reader reads through request()
SELECT status, body ->> 'id' = :'gid' AS same_record
FROM payment_records.request('GET', '/v1/payment_records/' || :'gid');
-- but cannot write: the same permission error as a direct call, raised
SELECT count(*) AS records_before_denied FROM payment_records.payment_record \gset
SELECT payment_records.report_payment(payment_records.form_to_jsonb(:'payment_body'));
\echo :LAST_ERROR_SQLSTATE
SELECT * FROM payment_records.request('POST', '/v1/payment_records/report_payment',
                                      payment_records.form_to_jsonb(:'payment_body'));
\echo :LAST_ERROR_SQLSTATE
SELECT * FROM payment_records.request('POST', '/v1/payment_records/' || :'gid' || '/report_refund',
                                      payment_records.form_to_jsonb(:'refund_body'));
\echo :LAST_ERROR_SQLSTATE
SELECT count(*) - :records_before_denied AS records_added FROM payment_records.payment_record;
RESET ROLE;

--
-- Which errors become bodies: a trigger makes report_payment fail after
-- its rows are written, with a chosen SQLSTATE and detail.  The rows never
-- survive: the call's subtransaction is rolled back.
--
CREATE FUNCTION public.regress_form_fail() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION USING ERRCODE = current_setting('regress_form.sqlstate'),
        MESSAGE = format('regress trigger failure, record written: %s',
                         EXISTS (SELECT FROM payment_records.payment_record WHERE seq = NEW.record_seq)),
        COLUMN = 'regress_param', DETAIL = current_setting('regress_form.detail');
END
$$;
CREATE TRIGGER regress_form_fail AFTER INSERT ON payment_records.payment_attempt_record
    FOR EACH ROW EXECUTE FUNCTION public.regress_form_fail();
CREATE FUNCTION pg_temp.failing_request(state text, detail text, params jsonb,
    OUT status int, OUT body jsonb)
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM set_config('regress_form.sqlstate', state, true);
    PERFORM set_config('regress_form.detail', detail, true);
    SELECT r.status, r.body INTO status, body
    FROM payment_records.request('POST', '/v1/payment_records/report_payment', params) r;
END
$$;
SET LOCAL ROLE regress_live;
SELECT count(*) AS records_before_fail FROM payment_records.payment_record \gset
SELECT count(*) AS attempts_before_fail FROM payment_records.payment_attempt_record \gset
SELECT t.state, t.detail, f.status, f.body
FROM (VALUES (1, '22023', 'regress_code'),
             (2, '22003', ''),
             (3, '55000', ''),
             (4, '23514', ''),
             (5, '23505', 'Key (refund_reference)=(x) already exists.'),
             (6, 'P0002', 'resource_missing'),
             (7, '55P03', 'idempotency_key_in_use'),
             (8, '22023', 'idempotency_error')) t(n, state, detail),
     LATERAL pg_temp.failing_request(t.state, t.detail, payment_records.form_to_jsonb(:'payment_body')) f
ORDER BY t.n;
SELECT count(*) - :records_before_fail AS records_added,
       (SELECT count(*) FROM payment_records.payment_attempt_record) - :attempts_before_fail AS attempts_added
FROM payment_records.payment_record;
-- any other error is raised as it is
SELECT * FROM pg_temp.failing_request('40001', '', payment_records.form_to_jsonb(:'payment_body'));
\echo :LAST_ERROR_SQLSTATE
SELECT * FROM pg_temp.failing_request('0A000', '', payment_records.form_to_jsonb(:'payment_body'));
\echo :LAST_ERROR_SQLSTATE
SELECT * FROM pg_temp.failing_request('XX000', '', payment_records.form_to_jsonb(:'payment_body'));
\echo :LAST_ERROR_SQLSTATE
SELECT count(*) - :records_before_fail AS records_added,
       (SELECT count(*) FROM payment_records.payment_attempt_record) - :attempts_before_fail AS attempts_added
FROM payment_records.payment_record;
RESET ROLE;
DROP TRIGGER regress_form_fail ON payment_records.payment_attempt_record;
SET LOCAL ROLE regress_live;
-- and the transaction goes on: a call after all these failures works
SELECT status FROM payment_records.request('GET', '/v1/payment_records/' || :'gid');

-- everything written here: the four records reported with status 200
SELECT count(*) - :records_before AS records_added FROM payment_records.payment_record;

ROLLBACK;
