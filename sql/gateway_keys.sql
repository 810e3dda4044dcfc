--
-- Gateway keys (issue 14): create_api_key, revoke_api_key,
-- authenticate_api_key and http_request, the rules on key roles, and the
-- guard on the key table.  Secrets are random: only their shape is shown.
--
\i test/regress/helpers.sql
\set VERBOSITY terse

-- (roles are cluster-wide: made unless there, granted quietly)
CALL pg_temp.create_role('regress_gw_test', 'IN ROLE payment_records_writer');
CALL pg_temp.create_role('regress_gw_live', 'IN ROLE payment_records_writer, payment_records_live');
CALL pg_temp.create_role('regress_gw_read', 'IN ROLE payment_records_reader');
CALL pg_temp.create_role('regress_gw_lonely', 'IN ROLE payment_records_writer');
CALL pg_temp.create_role('regress_gw_super', 'SUPERUSER');
CALL pg_temp.create_role('regress_gw_via');		-- live through another role
SET client_min_messages = warning;
GRANT regress_gw_live TO regress_gw_via;
GRANT regress_gw_test, regress_gw_live, regress_gw_read, regress_gw_super, regress_gw_via
    TO payment_records_gateway;
RESET client_min_messages;
CALL pg_temp.create_role('regress_gw_login', 'IN ROLE payment_records_gateway');

-- refused: unknown role, superuser, wrong mode either way, a role the
-- gateway cannot act as, a restricted key on a role that can write
SELECT payment_records.create_api_key('regress_gw_nobody', false);
SELECT payment_records.create_api_key('regress_gw_super', false);
SELECT payment_records.create_api_key('regress_gw_test', true);
SELECT payment_records.create_api_key('regress_gw_live', false);
SELECT payment_records.create_api_key('regress_gw_lonely', false);
SELECT payment_records.create_api_key('regress_gw_test', false, true);
SELECT payment_records.create_api_key('regress_gw_test', NULL);

-- created: the secret is shown once, stored as its SHA-256 only
SELECT id AS test_id, secret AS test_secret FROM payment_records.create_api_key('regress_gw_test', false, description => 'shop') \gset
SELECT secret AS live_secret FROM payment_records.create_api_key('regress_gw_live', true) \gset
SELECT secret AS via_secret FROM payment_records.create_api_key('regress_gw_via', true) \gset
SELECT secret AS read_secret FROM payment_records.create_api_key('regress_gw_read', false, true) \gset
SELECT :'test_id' ~ '^key_[0-9a-f]{24}$' AS id_ok,
       :'test_secret' ~ '^sk_test_[0-9A-Za-z]{30,}$' AS test_ok,
       :'live_secret' ~ '^sk_live_[0-9A-Za-z]{30,}$' AS live_ok,
       :'read_secret' ~ '^rk_test_[0-9A-Za-z]{30,}$' AS read_ok;
SELECT role_name, livemode, restricted, description, last4 = right(:'test_secret', 4) AS last4_ok,
       secret_hash = sha256(convert_to(:'test_secret', 'UTF8')) AS hash_ok, revoked IS NULL AS active
FROM payment_records.api_key WHERE id = :'test_id';
SELECT count(*) AS rows_holding_a_secret FROM payment_records.api_key k
WHERE position(convert_to(:'test_secret', 'UTF8') IN k.secret_hash) > 0 OR k.last4 = :'test_secret';

-- authenticate: only for payment_records_gateway's members
SET ROLE regress_gw_login;
SELECT role_name, livemode, restricted FROM payment_records.authenticate_api_key(:'test_secret');
SELECT role_name, livemode, restricted FROM payment_records.authenticate_api_key(:'live_secret');
SELECT role_name, livemode, restricted FROM payment_records.authenticate_api_key(:'via_secret');
SELECT role_name, livemode, restricted FROM payment_records.authenticate_api_key(:'read_secret');
SELECT * FROM payment_records.authenticate_api_key('sk_test_0123456789abcdefghijWXYZ');
SELECT * FROM payment_records.authenticate_api_key('sk_live_short');
SELECT * FROM payment_records.authenticate_api_key('nonsense-with-a-long-tail-1234');
SELECT * FROM payment_records.authenticate_api_key('');
SELECT * FROM payment_records.authenticate_api_key(NULL);
SELECT * FROM payment_records.create_api_key('regress_gw_test', false);
SELECT count(*) FROM payment_records.api_key;
RESET ROLE;
SET ROLE regress_gw_test;
SELECT * FROM payment_records.authenticate_api_key(:'test_secret');
SELECT payment_records.revoke_api_key(:'test_id');
SELECT count(*) FROM payment_records.api_key;
RESET ROLE;

-- a key whose role no longer fits is refused (the server log says why, in
-- a warning naming the key id)
SET client_min_messages = error;
GRANT payment_records_live TO regress_gw_test;
SET ROLE regress_gw_login;
SELECT pg_temp.try(format('SELECT payment_records.authenticate_api_key(%L)', :'test_secret'));
RESET ROLE;
REVOKE payment_records_live FROM regress_gw_test;
GRANT payment_records_writer TO regress_gw_read;
SET ROLE regress_gw_login;
SELECT pg_temp.try(format('SELECT payment_records.authenticate_api_key(%L)', :'read_secret'));
RESET ROLE;
REVOKE payment_records_writer FROM regress_gw_read;
RESET client_min_messages;

-- revoked: once
SELECT payment_records.revoke_api_key(:'test_id') AS revoked,
       payment_records.revoke_api_key(:'test_id') AS again,
       payment_records.revoke_api_key('key_nope') AS unknown;
SET ROLE regress_gw_login;
SELECT pg_temp.try(format('SELECT payment_records.authenticate_api_key(%L)', :'test_secret'));
RESET ROLE;

-- the table: a key changes only by being revoked; only revoked keys go
SELECT pg_temp.try(format('UPDATE payment_records.api_key SET role_name = %L WHERE id = %L', 'regress_gw_live', :'test_id'));
SELECT pg_temp.try(format('UPDATE payment_records.api_key SET revoked = NULL WHERE id = %L', :'test_id'));
SELECT pg_temp.try('DELETE FROM payment_records.api_key WHERE role_name = ''regress_gw_live''');
DELETE FROM payment_records.api_key WHERE id = :'test_id';
SELECT count(*) AS keys_left FROM payment_records.api_key;
SELECT extcondition[i] AS dump_condition
FROM pg_extension, generate_subscripts(extconfig, 1) i
WHERE extname = 'payment_records' AND extconfig[i] = 'payment_records.api_key'::regclass;

-- http_request: the form body decoded by the database, as the caller
SET ROLE regress_gw_read;
SELECT status, body FROM payment_records.http_request('POST', '/v1/payment_records/report_payment', 'a[=1');
SELECT status, body -> 'error' ->> 'param' AS param
FROM payment_records.http_request('POST', '/v1/payment_records/report_payment', 'amount_requested[currency]=usd');
SELECT status, body ->> 'object' AS object FROM payment_records.http_request('GET', '/v1/payment_records?limit=1', '');
RESET ROLE;
SET ROLE regress_gw_test;
SELECT status, body -> 'error' ->> 'param' AS param
FROM payment_records.http_request('POST', '/v1/payment_records/report_payment', 'amount_requested[currency]=usd');
SELECT status, body ->> 'object' AS object, body -> 'amount_requested' AS amount
FROM payment_records.http_request('POST', '/v1/payment_records/report_payment',
    'amount_requested%5Bcurrency%5D=usd&amount_requested%5Bvalue%5D=1000&initiated_at=1730253453&payment_method_details%5Bpayment_method%5D=pm_1',
    'regress-gw-1');
SELECT status, body ->> 'object' AS object FROM payment_records.http_request('GET', '/v1/charges', NULL);
RESET ROLE;
