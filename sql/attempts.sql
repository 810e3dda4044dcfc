--
-- Payment attempts (README contract C4, C5, C7): report_payment_attempt and the
-- canceled / failed / guaranteed / informational calls in every state,
-- their validation, retrieve_payment_attempt_record, the guide flow
-- checked key by key, and the attempt state machine against direct DML.
--
\i test/regress/helpers.sql

-- ids are random: <pr> and <par> in messages
CREATE FUNCTION att_mask(t text) RETURNS text
LANGUAGE sql IMMUTABLE AS $$
    SELECT regexp_replace(regexp_replace(t, 'par_[0-9A-Za-z]{24}', '<par>', 'g'),
                          'pr_[0-9A-Za-z]{24}', '<pr>', 'g')
$$;

-- A returned record (or attempt) in one line: its latest attempt as stored
-- (number and status) and the buckets it shows.
CREATE FUNCTION att_summary(r jsonb) RETURNS text
LANGUAGE sql AS $$
    SELECT format('attempt %s %s | authorized %s canceled %s failed %s guaranteed %s refunded %s',
                  a.attempt, a.status,
                  r -> 'amount_authorized' ->> 'value', r -> 'amount_canceled' ->> 'value',
                  r -> 'amount_failed' ->> 'value', r -> 'amount_guaranteed' ->> 'value',
                  r -> 'amount_refunded' ->> 'value')
    FROM payment_records.payment_attempt_record a
    WHERE a.id = coalesce(r ->> 'latest_payment_attempt_record', r ->> 'id')
$$;

-- Call payment_records.<fn>(id, params), or <fn>(id) when params is left
-- out (JSON null): "ok: <summary>" or "SQLSTATE | param | code | message".
CREATE FUNCTION att_call(fn text, id text, params jsonb DEFAULT 'null') RETURNS text
LANGUAGE sql AS $$
    SELECT pg_temp.try_value(format(
        'SELECT ''ok: '' || coalesce(att_summary(payment_records.%I(%s)), ''(no stored attempt)'')', fn,
        CASE WHEN params IS NOT NULL AND params = 'null' THEN format('%L::text', id)
             ELSE format('%L::text, %L::jsonb', id, params) END))
$$;

-- A new record (usd 1000, pending) moved by the API into a state.
CREATE FUNCTION att_record(state text, extra jsonb DEFAULT '{}') RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
    id text;
BEGIN
    id := payment_records.report_payment('{
        "amount_requested": {"currency": "usd", "value": 1000},
        "initiated_at": 1730253453,
        "payment_method_details": {"payment_method": "pm_1"}}'::jsonb || extra) ->> 'id';
    CASE state
        WHEN 'pending' THEN NULL;
        WHEN 'guaranteed' THEN
            PERFORM payment_records.report_payment_attempt_guaranteed(id, '{"guaranteed_at": 1730253460}');
        WHEN 'failed' THEN
            PERFORM payment_records.report_payment_attempt_failed(id, '{"failed_at": 1730253460}');
        WHEN 'canceled' THEN
            PERFORM payment_records.report_payment_attempt_canceled(id, '{"canceled_at": 1730253460}');
    END CASE;
    RETURN id;
END $$;

-- attempts of a record as stored: "1 failed, 2 pending"
CREATE FUNCTION att_stored(id text) RETURNS text
LANGUAGE sql AS $$
    SELECT string_agg(a.attempt || ' ' || a.status, ', ' ORDER BY a.attempt)
    FROM payment_records.payment_attempt_record a
    JOIN payment_records.payment_record r ON r.seq = a.record_seq
    WHERE r.id = att_stored.id
$$;

--
-- report_payment_attempt: only after a failed or canceled attempt
--
SELECT att_record('pending') AS rpa \gset
-- while pending: refused, nothing written
SELECT att_call('report_payment_attempt', :'rpa', '{"initiated_at": 1730253470}');
SELECT att_stored(:'rpa');
-- after failed: a new pending attempt; the record shows it (failed bucket cleared)
SELECT att_call('report_payment_attempt_failed', :'rpa', '{"failed_at": 1730253460}');
SELECT att_call('report_payment_attempt', :'rpa', '{"initiated_at": 1730253470}');
-- after canceled: another one
SELECT att_call('report_payment_attempt_canceled', :'rpa', '{"canceled_at": 1730253480}');
SELECT att_call('report_payment_attempt', :'rpa', '{"initiated_at": 1730253490}');
-- after guaranteed: refused, nothing written
SELECT att_call('report_payment_attempt_guaranteed', :'rpa', '{"guaranteed_at": 1730253495}');
SELECT att_call('report_payment_attempt', :'rpa', '{"initiated_at": 1730253499}');
SELECT att_stored(:'rpa');
-- the timestamps are stored on their own attempts
SELECT a.attempt, a.status,
       extract(epoch FROM a.initiated_at) AS initiated_at, extract(epoch FROM a.guaranteed_at) AS guaranteed_at,
       extract(epoch FROM a.failed_at) AS failed_at, extract(epoch FROM a.canceled_at) AS canceled_at
FROM payment_records.payment_attempt_record a JOIN payment_records.payment_record r ON r.seq = a.record_seq
WHERE r.id = :'rpa' ORDER BY a.attempt;

-- a new attempt may carry its outcome (guaranteed or failed) at once
SELECT att_record('failed') AS rpa2 \gset
SELECT att_call('report_payment_attempt', :'rpa2',
    '{"initiated_at": 1730253470, "outcome": "failed", "failed": {"failed_at": 1730253471}}');
SELECT att_call('report_payment_attempt', :'rpa2',
    '{"initiated_at": 1730253480, "outcome": "guaranteed", "guaranteed": {"guaranteed_at": 1730253481}}');
SELECT att_stored(:'rpa2');
SELECT a.attempt, extract(epoch FROM a.failed_at) AS failed_at, extract(epoch FROM a.guaranteed_at) AS guaranteed_at
FROM payment_records.payment_attempt_record a JOIN payment_records.payment_record r ON r.seq = a.record_seq
WHERE r.id = :'rpa2' ORDER BY a.attempt;

-- what a new attempt inherits (customer, presence, processor, payment
-- method, description, shipping, metadata) and what it may override
SELECT att_record('failed', '{
    "customer_details": {"customer": "cus_1"}, "customer_presence": "off_session",
    "description": "first try", "metadata": {"keep": "k", "drop": "d", "change": "1"},
    "processor_details": {"type": "custom", "custom": {"payment_reference": "ref-1"}},
    "shipping_details": {"name": "First"}}') AS inh \gset
SELECT att_call('report_payment_attempt', :'inh', '{"initiated_at": 1730253470}');
SELECT att_call('report_payment_attempt_canceled', :'inh', '{"canceled_at": 1730253471}');
SELECT att_call('report_payment_attempt', :'inh', '{"initiated_at": 1730253480,
    "description": "third try", "shipping_details": {"name": "Third", "phone": "+1 555"},
    "payment_method_details": {"type": "custom", "custom": {"display_name": "cash"}},
    "metadata": {"drop": "", "change": "3", "new": "n"}}');
-- attempts newest first (3: overrides, 2 and 1: as first reported)
SELECT 4 - d.n AS attempt, x.key, x.value
FROM jsonb_array_elements(payment_records.list_payment_attempt_records(jsonb_build_object('payment_record', :'inh')) -> 'data')
     WITH ORDINALITY d(a, n)
CROSS JOIN LATERAL jsonb_each(d.a) x
WHERE x.key IN ('customer_details', 'customer_presence', 'processor_details', 'description',
                'shipping_details', 'payment_method_details', 'metadata')
ORDER BY d.n, x.key;

-- validation (on a failed record, where a valid call would succeed)
SELECT att_record('failed') AS rpa3 \gset
SELECT att_call('report_payment_attempt', :'rpa3', '{}');
SELECT att_call('report_payment_attempt', :'rpa3', NULL::jsonb);
SELECT att_call('report_payment_attempt', :'rpa3', '{"initiated_at": 1730253470, "amount_requested": {"currency": "usd", "value": 5}}');
SELECT att_call('report_payment_attempt', :'rpa3', '{"initiated_at": 1730253470, "customer_details": {"name": "x"}}');
SELECT att_call('report_payment_attempt', :'rpa3', '{"initiated_at": 1730253470, "processor_details": {"type": "custom"}}');
SELECT att_call('report_payment_attempt', :'rpa3', '{"initiated_at": "soon"}');
SELECT att_call('report_payment_attempt', :'rpa3', '{"initiated_at": 1730253470, "description": ""}');
SELECT att_call('report_payment_attempt', :'rpa3', '{"initiated_at": 1730253470, "outcome": "guaranteed"}');
SELECT att_call('report_payment_attempt', :'rpa3', '{"initiated_at": 1730253470, "guaranteed": {"guaranteed_at": 1730253471}}');
SELECT att_call('report_payment_attempt', :'rpa3', '{"initiated_at": 1730253470, "outcome": "failed", "guaranteed": {"guaranteed_at": 1730253471}}');
SELECT att_call('report_payment_attempt', :'rpa3', '{"initiated_at": 1730253470, "outcome": "canceled"}');
SELECT att_call('report_payment_attempt', :'rpa3', '{"initiated_at": 1730253470, "payment_method_details": {"billing_details": {"name": "x"}}}');
SELECT att_call('report_payment_attempt', 'pr_doesnotexist', '{"initiated_at": 1730253470}');
SELECT att_call('report_payment_attempt', NULL, '{"initiated_at": 1730253470}');
-- none of these wrote anything
SELECT att_stored(:'rpa3');
-- numbers may come as strings (form bodies)
SELECT att_call('report_payment_attempt', :'rpa3', '{"initiated_at": "1730253470"}');
SELECT extract(epoch FROM a.initiated_at) AS initiated_at
FROM payment_records.payment_attempt_record a JOIN payment_records.payment_record r ON r.seq = a.record_seq
WHERE r.id = :'rpa3' AND a.attempt = 2;

--
-- canceled / failed / guaranteed: from pending only
--
SELECT s.state AS latest, f.fn,
       att_call('report_payment_attempt_' || f.fn, att_record(s.state),
                jsonb_build_object(f.fn || '_at', 1730253500)) AS result
FROM (VALUES (1, 'pending'), (2, 'guaranteed'), (3, 'failed'), (4, 'canceled')) s(o, state)
CROSS JOIN (VALUES (1, 'canceled'), (2, 'failed'), (3, 'guaranteed')) f(o, fn)
ORDER BY s.o, f.o;
-- each stores its time in its own column, the others stay null
CREATE TEMP TABLE att_moves AS
SELECT f.o, f.fn, att_record('pending') AS id FROM (VALUES (1, 'canceled'), (2, 'failed'), (3, 'guaranteed')) f(o, fn);
SELECT m.fn, att_call('report_payment_attempt_' || m.fn, m.id, jsonb_build_object(m.fn || '_at', 1730253600 + m.o))
FROM att_moves m ORDER BY m.o;
SELECT m.fn, a.status,
       extract(epoch FROM a.canceled_at) AS canceled_at, extract(epoch FROM a.failed_at) AS failed_at,
       extract(epoch FROM a.guaranteed_at) AS guaranteed_at
FROM att_moves m JOIN payment_records.payment_record p ON p.id = m.id
JOIN payment_records.payment_attempt_record a ON a.record_seq = p.seq
ORDER BY m.o;

-- metadata of a state call merges into the record and its latest attempt
SELECT att_record('pending', '{"metadata": {"order": "42", "step": "1"}}') AS sm \gset
SELECT payment_records.report_payment_attempt_guaranteed(:'sm',
    '{"guaranteed_at": 1730253460, "metadata": {"step": "2", "order": "", "by": "state call"}}') -> 'metadata' AS record_metadata;
SELECT a.metadata AS stored_metadata
FROM payment_records.payment_attempt_record a JOIN payment_records.payment_record r ON r.seq = a.record_seq
WHERE r.id = :'sm';
-- a refused state call changes nothing, metadata included
SELECT att_call('report_payment_attempt_failed', :'sm', '{"failed_at": 1730253470, "metadata": {"x": "y"}}');
SELECT payment_records.retrieve_payment_record(:'sm') -> 'metadata' AS record_metadata;

-- validation of the state calls
SELECT att_record('pending') AS sv \gset
SELECT f.fn, att_call('report_payment_attempt_' || f.fn, :'sv', '{}') AS no_time,
       att_call('report_payment_attempt_' || f.fn, :'sv', NULL::jsonb) AS null_params
FROM (VALUES (1, 'canceled'), (2, 'failed'), (3, 'guaranteed')) f(o, fn) ORDER BY f.o;
SELECT att_call('report_payment_attempt_canceled', :'sv', '{"failed_at": 1730253470}');
SELECT att_call('report_payment_attempt_failed', :'sv', '{"failed_at": 1730253470, "failure_code": "x"}');
SELECT att_call('report_payment_attempt_guaranteed', :'sv', '{"guaranteed_at": 1730253470, "amount": {"currency": "usd", "value": 5}}');
SELECT att_call('report_payment_attempt_guaranteed', :'sv', '{"guaranteed_at": 1730253470.5}');
SELECT att_call('report_payment_attempt_guaranteed', :'sv', '{"guaranteed_at": -1}');
-- an empty string is parameter_invalid_empty, whatever the type (C4, C7)
SELECT att_call('report_payment_attempt_guaranteed', :'sv', '{"guaranteed_at": ""}');
SELECT att_call('report_payment_attempt_failed', :'sv', '{"failed_at": 1730253470, "metadata": {"a[b]": "1"}}');
SELECT att_call('report_payment_attempt_canceled', 'pr_doesnotexist', '{"canceled_at": 1730253470}');
SELECT att_call('report_payment_attempt_failed', 'pr_doesnotexist', '{"failed_at": 1730253470}');
SELECT att_call('report_payment_attempt_guaranteed', 'pr_doesnotexist', '{"guaranteed_at": 1730253470}');
-- still pending after all that
SELECT att_stored(:'sv');
-- the time may come as a string
SELECT att_call('report_payment_attempt_guaranteed', :'sv', '{"guaranteed_at": "1730253470", "expand": ["x"]}');
SELECT extract(epoch FROM a.guaranteed_at) AS guaranteed_at
FROM payment_records.payment_attempt_record a JOIN payment_records.payment_record r ON r.seq = a.record_seq
WHERE r.id = :'sv';

--
-- report_payment_attempt_informational: every state; unset; metadata
--
CREATE TEMP TABLE att_states AS
SELECT s.o, s.state, att_record(s.state) AS id
FROM (VALUES (1, 'pending'), (2, 'guaranteed'), (3, 'failed'), (4, 'canceled')) s(o, state);
SELECT s.state, att_call('report_payment_attempt_informational', s.id,
           '{"description": "updated", "metadata": {"note": "info"}}') AS result
FROM att_states s ORDER BY s.o;
SELECT s.state, r -> 'description' AS description, r -> 'metadata' AS metadata
FROM att_states s CROSS JOIN LATERAL payment_records.retrieve_payment_record(s.id) r
ORDER BY s.o;

SELECT att_record('pending', '{
    "description": "original",
    "customer_details": {"name": "Jenny", "email": "jenny@example.com"},
    "shipping_details": {"name": "Jenny", "address": {"city": "Paris"}},
    "metadata": {"a": "1", "b": "2", "c": "3"}}') AS inf \gset
-- default params: nothing changes, the same record comes back
SELECT payment_records.report_payment_attempt_informational(:'inf') = payment_records.retrieve_payment_record(:'inf') AS unchanged;
SELECT att_call('report_payment_attempt_informational', :'inf');
-- replace customer and shipping details, merge metadata (b removed, d added)
SELECT jsonb_build_object(
         'customer_details', r -> 'customer_details', 'description', r -> 'description',
         'metadata', r -> 'metadata', 'shipping_details', r -> 'shipping_details') AS record
FROM payment_records.report_payment_attempt_informational(:'inf', '{
    "customer_details": {"customer": "cus_9", "phone": "+33 1 23"},
    "shipping_details": {"phone": "+33 1 45", "address": {"country": "FR", "line1": "1 rue X"}},
    "metadata": {"b": "", "d": 4, "a": "one"}}') r;
-- "" unsets description and shipping_details; keys not sent are kept
SELECT jsonb_build_object(
         'customer_details', r -> 'customer_details', 'description', r -> 'description',
         'metadata', r -> 'metadata', 'shipping_details', r -> 'shipping_details') AS record
FROM payment_records.report_payment_attempt_informational(:'inf', '{"description": "", "shipping_details": ""}') r;
-- "metadata": "" removes every key; a new description can be set again
SELECT r -> 'metadata' AS metadata, r -> 'description' AS description
FROM payment_records.report_payment_attempt_informational(:'inf', '{"metadata": "", "description": "again"}') r;
-- the attempt itself holds the change, and the state did not move
SELECT a.attempt, a.status, a.description, a.metadata, a.shipping_details, a.customer_details
FROM payment_records.payment_attempt_record a JOIN payment_records.payment_record r ON r.seq = a.record_seq
WHERE r.id = :'inf';
-- only the latest attempt is updated
SELECT att_record('failed', '{"description": "first", "metadata": {"k": "v1"}}') AS inf2 \gset
SELECT att_call('report_payment_attempt', :'inf2', '{"initiated_at": 1730253470}');
SELECT att_call('report_payment_attempt_informational', :'inf2', '{"description": "second", "metadata": {"k": "v2"}}');
SELECT a.attempt, a.status, a.description, a.metadata
FROM payment_records.payment_attempt_record a JOIN payment_records.payment_record r ON r.seq = a.record_seq
WHERE r.id = :'inf2' ORDER BY a.attempt;
-- validation
SELECT att_call('report_payment_attempt_informational', :'inf', '{"customer_details": ""}');
SELECT att_call('report_payment_attempt_informational', :'inf', '{"customer_presence": "on_session"}');
SELECT att_call('report_payment_attempt_informational', :'inf', '{"shipping_details": {"address": {"zip": "1"}}}');
SELECT att_call('report_payment_attempt_informational', :'inf', '{"description": "   "}');
SELECT att_call('report_payment_attempt_informational', :'inf', '{"customer_details": {"email": "not-an-email"}}');
SELECT att_call('report_payment_attempt_informational', :'inf', '{"metadata": {"a": {"nested": 1}}}');
SELECT att_call('report_payment_attempt_informational', 'pr_doesnotexist');
SELECT att_call('report_payment_attempt_informational', 'pr_doesnotexist', '{"description": "x"}');
SELECT r -> 'description' AS description FROM payment_records.retrieve_payment_record(:'inf') r;

--
-- retrieve_payment_attempt_record
--
SELECT att_record('failed', '{"description": "retrieve me"}') AS rt \gset
SELECT payment_records.report_payment_attempt(:'rt', '{"initiated_at": 1730253470}') ->> 'latest_payment_attempt_record' AS rt_par2 \gset
SELECT a.id AS rt_par1 FROM payment_records.payment_attempt_record a
JOIN payment_records.payment_record r ON r.seq = a.record_seq WHERE r.id = :'rt' AND a.attempt = 1 \gset
SELECT x.n, x.a ->> 'object' AS object, x.a ->> 'id' = x.id AS id_ok,
       x.a ->> 'payment_record' = :'rt' AS record_ok, att_summary(x.a) AS summary,
       x.a ? 'latest_payment_attempt_record' AS has_latest
FROM (VALUES (1, :'rt_par1'), (2, :'rt_par2')) v(n, id)
CROSS JOIN LATERAL (SELECT v.n, v.id, payment_records.retrieve_payment_attempt_record(v.id) AS a) x
ORDER BY x.n;
-- the same objects as in the list
SELECT payment_records.list_payment_attempt_records(jsonb_build_object('payment_record', :'rt')) -> 'data'
     = jsonb_build_array(payment_records.retrieve_payment_attempt_record(:'rt_par2'),
                         payment_records.retrieve_payment_attempt_record(:'rt_par1')) AS same_as_list;
SELECT att_call('retrieve_payment_attempt_record', 'par_doesnotexist');
SELECT att_call('retrieve_payment_attempt_record', :'rt');
SELECT att_call('retrieve_payment_attempt_record', NULL);
-- the other mode: test-mode objects do not exist in live mode ...
SET ROLE regress_live;
SELECT att_call('retrieve_payment_attempt_record', :'rt_par1');
SELECT att_call('retrieve_payment_record', :'rt');
SELECT att_call('report_payment_attempt_informational', :'rt');
SELECT att_call('report_payment_attempt_canceled', :'rt', '{"canceled_at": 1730253480}');
RESET ROLE;
-- ... and live-mode ones not in test mode (rolled back: lists.sql counts
-- the live-mode records)
BEGIN;
SET LOCAL ROLE regress_live;
SELECT att_record('failed') AS live \gset
SELECT payment_records.report_payment_attempt(:'live', '{"initiated_at": 1730253470}') ->> 'latest_payment_attempt_record' AS live_par \gset
SELECT payment_records.retrieve_payment_attempt_record(:'live_par') ->> 'livemode' AS livemode;
SET LOCAL ROLE NONE;
SELECT att_call('retrieve_payment_attempt_record', :'live_par');
SELECT att_call('report_payment_attempt_failed', :'live', '{"failed_at": 1730253480}');
SELECT att_call('report_payment_attempt', :'live', '{"initiated_at": 1730253480}');
SELECT att_call('report_payment_attempt_informational', :'live', '{"description": "x"}');
ROLLBACK;

--
-- The guide flow: report a payment, its failure, a new attempt with
-- another payment method, its guarantee, two partial refunds; then every
-- key of both attempts (newest first) and of the record.
--
SELECT payment_records.report_payment('{
  "amount_requested": {"currency": "usd", "value": 1000},
  "customer_presence": "on_session",
  "customer_details": {"customer": "cus_guide", "email": "jenny@example.com", "name": "Jenny Rosen"},
  "description": "computer software",
  "initiated_at": 1730253453,
  "payment_method_details": {
    "custom": {"display_name": "newpay", "type": "cpmt_125kjj3hn3sdf"},
    "payment_method": "pm_5j23kjksibjlks",
    "type": "custom"
  },
  "processor_details": {"type": "custom", "custom": {"payment_reference": "npp2358872734k"}},
  "shipping_details": {"name": "Jenny Rosen", "address": {"city": "Berlin", "country": "DE"}},
  "metadata": {"order_id": "6735", "channel": "web"}
}') AS g0 \gset
SELECT (:'g0'::jsonb) ->> 'id' AS pr, (:'g0'::jsonb) ->> 'latest_payment_attempt_record' AS par1 \gset
SELECT att_summary(:'g0'::jsonb);
SELECT att_summary(payment_records.report_payment_attempt_failed(:'pr',
    '{"failed_at": 1730253460, "metadata": {"failure": "insufficient_funds"}}'));
SELECT payment_records.report_payment_attempt(:'pr', '{
  "initiated_at": 1730253500,
  "payment_method_details": {
    "payment_method": "pm_second",
    "billing_details": {"name": "Jenny Rosen", "email": "jenny@example.com", "address": {"postal_code": "10115"}}
  },
  "metadata": {"retry": "1", "failure": ""}
}') AS g1 \gset
SELECT (:'g1'::jsonb) ->> 'latest_payment_attempt_record' AS par2 \gset
SELECT att_summary(:'g1'::jsonb), :'par2' <> :'par1' AS new_attempt_id;
SELECT att_summary(payment_records.report_payment_attempt_guaranteed(:'pr', '{"guaranteed_at": 1730253510}'));
SELECT att_summary(payment_records.report_refund(:'pr', '{"outcome": "refunded",
    "processor_details": {"type": "custom", "custom": {"refund_reference": "guide-rf-1"}},
    "amount": {"currency": "usd", "value": 300}}'));
SELECT payment_records.report_refund(:'pr', '{"outcome": "refunded",
    "processor_details": {"type": "custom", "custom": {"refund_reference": "guide-rf-2"}},
    "amount": {"currency": "usd", "value": 250}}') AS g2 \gset
SELECT att_summary(:'g2'::jsonb);
SELECT payment_records.list_payment_attempt_records(jsonb_build_object('payment_record', :'pr')) AS gl \gset

-- ids as names; created checked separately
CREATE FUNCTION att_named(t text, names jsonb) RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
    k text; v text;
BEGIN
    FOR k, v IN SELECT * FROM jsonb_each_text(names) LOOP
        t := replace(t, v, k);
    END LOOP;
    RETURN att_mask(t);
END $$;
SELECT jsonb_build_object('<pr>', :'pr', '<par1>', :'par1', '<par2>', :'par2') AS names \gset

-- the list: object, url, has_more, and the two attempts, newest first
SELECT key, att_named(value::text, :'names') AS value
FROM jsonb_each(:'gl'::jsonb) WHERE key <> 'data' ORDER BY key;
SELECT att_named(string_agg(e ->> 'id', ', ' ORDER BY n), :'names') AS data_ids
FROM jsonb_array_elements(:'gl'::jsonb -> 'data') WITH ORDINALITY d(e, n);
-- each attempt, every key (newest first: <par2> guaranteed, <par1> failed)
SELECT d.n AS pos, x.key,
       CASE WHEN x.key = 'created' THEN '<created>' ELSE att_named(x.value::text, :'names') END AS value
FROM jsonb_array_elements(:'gl'::jsonb -> 'data') WITH ORDINALITY d(e, n)
CROSS JOIN LATERAL jsonb_each(d.e) x
ORDER BY d.n, x.key;
-- the record, every key
SELECT x.key, CASE WHEN x.key = 'created' THEN '<created>' ELSE att_named(x.value::text, :'names') END AS value
FROM jsonb_each(payment_records.retrieve_payment_record(:'pr')) x ORDER BY x.key;
-- the record mirrors its latest attempt; created: the record's and the first
-- attempt's are the same time, the second attempt's is not earlier
SELECT r ->> 'latest_payment_attempt_record' = :'gl'::jsonb -> 'data' -> 0 ->> 'id' AS latest_is_newest,
       r = :'g2'::jsonb AS last_response_is_record,
       r - '{id,object,latest_payment_attempt_record,created}'::text[]
         = (:'gl'::jsonb -> 'data' -> 0) - '{id,object,payment_record,created}'::text[] AS record_mirrors_latest,
       (r ->> 'created')::bigint = (:'gl'::jsonb -> 'data' -> 1 ->> 'created')::bigint AS first_attempt_created,
       (:'gl'::jsonb -> 'data' -> 0 ->> 'created')::bigint >= (r ->> 'created')::bigint AS second_attempt_created,
       abs((r ->> 'created')::bigint - extract(epoch FROM now())::bigint) <= 5 AS created_now,
       jsonb_typeof(r -> 'created') AS created_type
FROM payment_records.retrieve_payment_record(:'pr') r;
-- what was stored for each attempt
SELECT a.attempt, a.status, extract(epoch FROM a.initiated_at) AS initiated_at,
       extract(epoch FROM a.failed_at) AS failed_at, extract(epoch FROM a.guaranteed_at) AS guaranteed_at
FROM payment_records.payment_attempt_record a JOIN payment_records.payment_record r ON r.seq = a.record_seq
WHERE r.id = :'pr' ORDER BY a.attempt;

--
-- Direct DML (here as the owner, a superuser): the attempt trigger
-- refuses what breaks the state machine.
--
SELECT att_record('guaranteed') AS dg, att_record('pending') AS dp, att_record('failed') AS df \gset
SELECT seq AS g_seq FROM payment_records.payment_record WHERE id = :'dg' \gset
SELECT seq AS p_seq FROM payment_records.payment_record WHERE id = :'dp' \gset
SELECT seq AS f_seq FROM payment_records.payment_record WHERE id = :'df' \gset
\set VERBOSITY terse
-- a second guaranteed attempt
INSERT INTO payment_records.payment_attempt_record (id, record_seq, attempt, created, status, initiated_at, guaranteed_at)
VALUES ('par_dmlg20000000000000000000', :g_seq, 2, now(), 'guaranteed', now(), now());
-- a new attempt after a pending one
INSERT INTO payment_records.payment_attempt_record (id, record_seq, attempt, created, status, initiated_at)
VALUES ('par_dmlp20000000000000000000', :p_seq, 2, now(), 'pending', now());
-- a gap, and attempt numbers below 1
INSERT INTO payment_records.payment_attempt_record (id, record_seq, attempt, created, status, initiated_at)
VALUES ('par_dmlf30000000000000000000', :f_seq, 3, now(), 'pending', now());
INSERT INTO payment_records.payment_attempt_record (id, record_seq, attempt, created, status, initiated_at)
VALUES ('par_dmlf00000000000000000000', :f_seq, 0, now(), 'pending', now());
-- an unknown status, and a status without its time
INSERT INTO payment_records.payment_attempt_record (id, record_seq, attempt, created, status, initiated_at)
VALUES ('par_dmlf20000000000000000000', :f_seq, 2, now(), 'refunded', now());
INSERT INTO payment_records.payment_attempt_record (id, record_seq, attempt, created, status, initiated_at)
VALUES ('par_dmlf20000000000000000000', :f_seq, 2, now(), 'guaranteed', now());
-- failed back to pending (with and without clearing failed_at)
UPDATE payment_records.payment_attempt_record SET status = 'pending', failed_at = NULL WHERE record_seq = :f_seq;
UPDATE payment_records.payment_attempt_record SET status = 'pending' WHERE record_seq = :f_seq;
-- failed to guaranteed: a second way to a guarantee
UPDATE payment_records.payment_attempt_record SET status = 'guaranteed', failed_at = NULL, guaranteed_at = now()
WHERE record_seq = :f_seq;
-- guaranteed to failed
UPDATE payment_records.payment_attempt_record SET status = 'failed', guaranteed_at = NULL, failed_at = now()
WHERE record_seq = :g_seq;
UPDATE payment_records.payment_attempt_record SET status = 'failed', failed_at = now() WHERE record_seq = :g_seq;
-- the outcome time of a terminal attempt
UPDATE payment_records.payment_attempt_record SET guaranteed_at = guaranteed_at + interval '1 second' WHERE record_seq = :g_seq;
UPDATE payment_records.payment_attempt_record SET failed_at = NULL WHERE record_seq = :f_seq;
UPDATE payment_records.payment_attempt_record SET canceled_at = now() WHERE record_seq = :f_seq;
-- guaranteed with guaranteed_at NULL
UPDATE payment_records.payment_attempt_record SET guaranteed_at = NULL WHERE record_seq = :g_seq;
UPDATE payment_records.payment_attempt_record SET status = 'guaranteed' WHERE record_seq = :p_seq;
-- identity and timing columns
UPDATE payment_records.payment_attempt_record SET initiated_at = now() WHERE record_seq = :p_seq;
UPDATE payment_records.payment_attempt_record SET created = created - interval '1 day' WHERE record_seq = :p_seq;
UPDATE payment_records.payment_attempt_record SET attempt = 5 WHERE record_seq = :p_seq;
UPDATE payment_records.payment_attempt_record SET id = 'par_renamed00000000000000000' WHERE record_seq = :p_seq;
-- deleting and truncating
DELETE FROM payment_records.payment_attempt_record WHERE record_seq = :p_seq;
DELETE FROM payment_records.payment_attempt_record WHERE record_seq = :f_seq;
TRUNCATE payment_records.payment_attempt_record;
TRUNCATE payment_records.payment_attempt_record CASCADE;
\set VERBOSITY default
-- nothing of that changed anything
SELECT att_stored(:'dg') AS guaranteed_record, att_stored(:'dp') AS pending_record, att_stored(:'df') AS failed_record;
-- a correct direct change is accepted and shows in the API: pending ->
-- canceled with canceled_at; then, again directly, a new attempt after it
UPDATE payment_records.payment_attempt_record SET status = 'canceled', canceled_at = to_timestamp(1730253999)
WHERE record_seq = :p_seq;
SELECT att_summary(payment_records.retrieve_payment_record(:'dp'));
SELECT payment_records.retrieve_payment_record(:'dp') -> 'amount_canceled' AS amount_canceled;
INSERT INTO payment_records.payment_attempt_record (id, record_seq, attempt, created, status, initiated_at)
VALUES ('par_dmlp20000000000000000000', :p_seq, 2, now(), 'pending', now());
SELECT att_summary(payment_records.retrieve_payment_record(:'dp')),
       payment_records.retrieve_payment_record(:'dp') ->> 'latest_payment_attempt_record' AS latest;
-- and the API carries on from there
SELECT att_call('report_payment_attempt_guaranteed', :'dp', '{"guaranteed_at": 1730254000}');
-- informational-only direct updates of a terminal attempt are accepted
UPDATE payment_records.payment_attempt_record SET description = 'direct' WHERE record_seq = :g_seq;
SELECT payment_records.retrieve_payment_record(:'dg') ->> 'description' AS description;

-- the state machine holds over everything this suite wrote: at most one
-- guaranteed attempt per record, only the latest attempt may be pending
-- or guaranteed, and attempts are numbered without gaps
SELECT count(*) AS violations FROM (
    SELECT a.record_seq
    FROM payment_records.payment_attempt_record a
    JOIN (SELECT record_seq, max(attempt) AS latest FROM payment_records.payment_attempt_record GROUP BY 1) l
      USING (record_seq)
    GROUP BY a.record_seq, l.latest
    HAVING count(*) FILTER (WHERE a.status = 'guaranteed') > 1
        OR count(*) FILTER (WHERE a.status IN ('pending', 'guaranteed') AND a.attempt <> l.latest) > 0
        OR count(*) <> l.latest
) v;

DROP TABLE att_moves, att_states;
DROP FUNCTION att_mask(text), att_summary(jsonb), att_call(text, text, jsonb),
    att_record(text, jsonb), att_stored(text), att_named(text, jsonb);
