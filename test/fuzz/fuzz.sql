--
-- test/fuzz/fuzz.sql: a deterministic random driver for payment_records,
-- run inside the server (schema "fuzz", next to the extension).
--
-- CALL fuzz.run(seed, from_iter, to_iter) runs those iterations.  Every
-- iteration reseeds random() from (seed, iteration), builds one input and
-- makes one call inside its own subtransaction (BEGIN ... EXCEPTION), so an
-- ERROR is counted by function and SQLSTATE and the loop goes on.  What is
-- hunted:
--   * a backend crash (the connection dies: run.sh replays the batch),
--   * an SQLSTATE outside fuzz.allowed (recorded in fuzz.failure),
--   * a success that breaks an oracle (recorded as 'ORACLE'): the shape and
--     limits of every record returned (fuzz.check_object), report_payment
--     showing what it was given, a faithfully encoded form decoding back to
--     its strings, request() agreeing with the function it routes to
--     (called first in a rolled-back subtransaction), and an idempotent
--     replay answering as the first call did.
-- A batch (default 250 iterations) is one transaction, so a crash loses only
-- the batch in progress; fuzz.progress says which batches are committed.
-- Replaying iteration i needs only (seed, i) and the database state at the
-- start of its batch: CALL fuzz.run(seed, batch_start, i, loud => true)
-- prints every call as SQL (NOTICE) before making it.
--
-- Inputs:
--   * params for every endpoint: a random valid body, then mutated at a
--     random rate (keys dropped, renamed, duplicated, added; values swapped
--     for other types, exotic numbers and strings, deep nesting, long arrays,
--     null, ""), or a random tree, or a non-object;
--   * ids: recent record/attempt ids, the other kind, junk;
--   * form bodies for form_to_jsonb: a valid body encoded as a form and
--     mutated character by character, or random parts with brackets, '&',
--     '=' runs, %XX escapes (invalid UTF-8, NUL, surrogates, truncated), deep
--     a[b][c]...; a decoded body is often passed on to its endpoint;
--   * request(): random methods and (mutated) paths with the params above.
-- form_to_jsonb and request are used only when the extension has them.
--
CREATE SCHEMA IF NOT EXISTS fuzz;

-- the SQLSTATEs a call may raise: fn '*' is every function
CREATE TABLE IF NOT EXISTS fuzz.allowed (fn text, sqlstate text, PRIMARY KEY (fn, sqlstate));
INSERT INTO fuzz.allowed VALUES
    ('*', '22023'), ('*', '22003'), ('*', 'P0002'), ('*', '55000'), ('*', '23514'),
    ('*', '23505'), ('*', '55P03'), ('*', '54001'),
    -- request() with a NULL method or path raises null_value_not_allowed
    -- (pr_request.c: a caller's mistake, not a Stripe error body)
    ('request', '22004')
ON CONFLICT DO NOTHING;

CREATE TABLE IF NOT EXISTS fuzz.counts (
    fn text, sqlstate text, n bigint NOT NULL,
    PRIMARY KEY (fn, sqlstate));
CREATE TABLE IF NOT EXISTS fuzz.failure (
    seed bigint, iter bigint, fn text, sqlstate text, message text,
    detail text, call text);
-- errors of the generator itself (a harness bug, not a finding): the first ones
CREATE TABLE IF NOT EXISTS fuzz.gen_error (
    seed bigint, iter bigint, sqlstate text, message text, context text);
CREATE TABLE IF NOT EXISTS fuzz.progress (
    seed bigint PRIMARY KEY, done bigint NOT NULL);

-- Live mode is the caller's role (1.1): members of payment_records_live
-- act in live mode.  Some iterations run as fuzz_live, a writer that is
-- such a member (roles are cluster-wide: created once), which needs the
-- driver's schema and tables too; the others as the superuser, in test mode.
DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'fuzz_live') THEN
        CREATE ROLE fuzz_live NOLOGIN IN ROLE payment_records_live, payment_records_writer;
    END IF;
END $$;
GRANT USAGE ON SCHEMA fuzz TO fuzz_live;
GRANT ALL ON ALL TABLES IN SCHEMA fuzz TO fuzz_live;

-- the mode the extension gives the current role: a member of
-- payment_records_live (pg_has_role() is true for any superuser, who is
-- in test mode unless a member, so membership is read from the catalog)
CREATE OR REPLACE FUNCTION fuzz.livemode() RETURNS bool
LANGUAGE sql STABLE AS $$
    SELECT EXISTS (SELECT 1 FROM pg_auth_members m
                   JOIN pg_roles g ON g.oid = m.roleid
                   JOIN pg_roles u ON u.oid = m.member
                   WHERE g.rolname = 'payment_records_live' AND u.rolname = current_user)
$$;

-- ---------------------------------------------------------------- random
CREATE OR REPLACE FUNCTION fuzz.r(n int) RETURNS int
LANGUAGE sql VOLATILE AS $$ SELECT floor(random() * n)::int $$;

CREATE OR REPLACE FUNCTION fuzz.chance(p float8) RETURNS bool
LANGUAGE sql VOLATILE AS $$ SELECT random() < p $$;

CREATE OR REPLACE FUNCTION fuzz.pick(a text[]) RETURNS text
LANGUAGE sql VOLATILE AS $$ SELECT a[1 + floor(random() * cardinality(a))::int] $$;

-- setseed() wants a double in [-1, 1]
CREATE OR REPLACE FUNCTION fuzz.iter_seed(seed bigint, iter bigint) RETURNS float8
LANGUAGE sql IMMUTABLE AS $$
    SELECT hashtextextended(seed::text || ':' || iter::text, 0)::numeric
           / 9223372036854775808.0 $$;

-- is the database UTF8 (chr() above 127 then means a code point)?
CREATE OR REPLACE FUNCTION fuzz.utf8() RETURNS bool
LANGUAGE sql STABLE AS $$ SELECT pg_catalog.getdatabaseencoding() = 'UTF8' $$;

-- ---------------------------------------------------------------- strings
-- chr() of a code point, or of a byte above 127 outside UTF8 (plpgsql: not
-- inlined, so chr() of a constant is not folded where it would fail)
CREATE OR REPLACE FUNCTION fuzz.u(c int) RETURNS text
LANGUAGE plpgsql VOLATILE AS $$
BEGIN
    IF fuzz.utf8() THEN RETURN chr(c); END IF;
    RETURN chr(128 + c % 128);
END $$;

-- one random character: ASCII mostly, then controls, Latin-1, CJK, emoji,
-- combining, bidi, zero-width, non-characters, the last code point.  In a
-- SQL_ASCII database any byte 1..255 (so also invalid UTF-8).
CREATE OR REPLACE FUNCTION fuzz.rchar() RETURNS text
LANGUAGE plpgsql VOLATILE AS $$
DECLARE k int := fuzz.r(100);
BEGIN
    IF NOT fuzz.utf8() AND k >= 60 THEN
        RETURN chr(1 + fuzz.r(255));
    END IF;
    RETURN CASE
        WHEN k < 60 THEN chr(32 + fuzz.r(95))
        WHEN k < 64 THEN chr(1 + fuzz.r(31))
        WHEN k < 70 THEN chr(128 + fuzz.r(128))
        WHEN k < 76 THEN chr(256 + fuzz.r(1792))
        WHEN k < 82 THEN chr(19968 + fuzz.r(20000))
        WHEN k < 88 THEN chr(127744 + fuzz.r(1000))
        ELSE fuzz.pick(ARRAY[fuzz.u(769), fuzz.u(8238), fuzz.u(8203), fuzz.u(65279),
                             fuzz.u(65535), fuzz.u(65534), fuzz.u(1114111), fuzz.u(8232),
                             fuzz.u(173), fuzz.u(12288), fuzz.u(65296), fuzz.u(1635), ' ',
                             chr(9), chr(10), chr(13), chr(11), chr(12), '[', ']',
                             '%', '&', '=', '+', '"', '\', '''', '@'])
    END;
END $$;

CREATE OR REPLACE FUNCTION fuzz.rstr(maxlen int) RETURNS text
LANGUAGE plpgsql VOLATILE AS $$
DECLARE n int := fuzz.r(maxlen + 1); s text := '';
BEGIN
    FOR i IN 1..n LOOP s := s || fuzz.rchar(); END LOOP;
    RETURN s;
END $$;

-- strings that sit on an edge somewhere
CREATE OR REPLACE FUNCTION fuzz.exotic_str() RETURNS text
LANGUAGE plpgsql VOLATILE AS $$
DECLARE k int := fuzz.r(40);
BEGIN
    RETURN CASE k
        WHEN 0 THEN '' WHEN 1 THEN ' ' WHEN 2 THEN E'\t\n\r '
        WHEN 3 THEN repeat('x', 5000) WHEN 4 THEN repeat('x', 5001)
        WHEN 5 THEN repeat('é', 5000) WHEN 6 THEN repeat('é', 5001)
        WHEN 7 THEN repeat('😀', 5001) WHEN 8 THEN repeat('x', 100000)
        WHEN 9 THEN repeat(' ', 6000) WHEN 10 THEN repeat('a', 500)
        WHEN 11 THEN repeat('a', 501) WHEN 12 THEN repeat('é', 501)
        WHEN 13 THEN repeat('a', 790) || '@example.com' WHEN 14 THEN 'a@b'
        WHEN 15 THEN '@b' WHEN 16 THEN 'a@' WHEN 17 THEN 'a@@b'
        WHEN 18 THEN 'a b@c' WHEN 19 THEN 'usd' WHEN 20 THEN 'USD'
        WHEN 21 THEN 'üs' WHEN 22 THEN 'us' WHEN 23 THEN 'usdd'
        WHEN 24 THEN 'custom' WHEN 25 THEN 'guaranteed' WHEN 26 THEN 'failed'
        WHEN 27 THEN 'refunded' WHEN 28 THEN 'on_session' WHEN 29 THEN 'null'
        WHEN 30 THEN 'true' WHEN 31 THEN fuzz.num_text()
        WHEN 32 THEN fuzz.num_text() || fuzz.pick(ARRAY['abc', ' ', '.', 'e', '_0', chr(0 + 10)])
        WHEN 33 THEN fuzz.pick(ARRAY[' ', '+', '0', '00', '-', '--', '٣', '１']) || fuzz.num_text()
        WHEN 34 THEN 'pr_' || fuzz.rstr(30) WHEN 35 THEN 'par_' || fuzz.rstr(30)
        WHEN 36 THEN repeat('[', 50) || repeat(']', 50)
        WHEN 37 THEN 'a[b]' WHEN 38 THEN fuzz.u(160)
        ELSE fuzz.rstr(12)
    END;
END $$;

-- ---------------------------------------------------------------- numbers
CREATE OR REPLACE FUNCTION fuzz.num_text() RETURNS text
LANGUAGE plpgsql VOLATILE AS $$
DECLARE k int := fuzz.r(60);
BEGIN
    IF k < 12 THEN
        RETURN fuzz.pick(ARRAY['0', '-0', '0.0', '-0.0', '1', '-1', '1.5',
            '1e400', '-1e400', '1e-400', '1E3', '1e1', '1.0e1', '10.00', '0.1', '5']);
    ELSIF k < 24 THEN
        RETURN fuzz.pick(ARRAY['1000', '99999999', '100000000', '999999999999',
            '1000000000000', '9223372036854775807', '9223372036854775808',
            '-9223372036854775808', '-9223372036854775809', '18446744073709551615',
            '18446744073709551616', '99999999999999999999999999999999999999',
            '00000000000000000001', '0000000000000000001']);
    ELSIF k < 34 THEN
        RETURN fuzz.pick(ARRAY['1730253453', '253402300799', '253402300800',
            '2147483647', '2147483648', '-2147483648', '-2147483649', '4294967296',
            '1730253453.0', '1.730253453e9', '-62135596800', '-210866803200',
            '9223372036', '9223372037', '9223372036854', '9223372036855']);
    ELSIF k < 36 THEN
        RETURN '1e' || (1000 + fuzz.r(130000))::text;		-- huge, exact
    ELSIF k < 38 THEN
        RETURN '1e-' || (100 + fuzz.r(16000))::text;		-- tiny
    ELSIF k < 40 THEN
        RETURN fuzz.pick(ARRAY['-', '']) || repeat('9', 1 + fuzz.r(60));
    ELSIF k < 50 THEN
        RETURN (fuzz.r(2000001) - 1000000)::text;
    ELSE
        RETURN (floor((random() - 0.5) * 2 * 9.2e18))::numeric::text;
    END IF;
END $$;

-- a JSON number when the text is one, else the text as a JSON string
CREATE OR REPLACE FUNCTION fuzz.rnum() RETURNS jsonb
LANGUAGE sql VOLATILE AS $$
    SELECT CASE WHEN t ~ '^-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][-+]?[0-9]+)?$' THEN t::jsonb ELSE to_jsonb(t) END
    FROM fuzz.num_text() t $$;

CREATE OR REPLACE FUNCTION fuzz.rscalar() RETURNS jsonb
LANGUAGE plpgsql VOLATILE AS $$
DECLARE k int := fuzz.r(10);
BEGIN
    RETURN CASE
        WHEN k = 0 THEN 'null'::jsonb
        WHEN k = 1 THEN to_jsonb(fuzz.chance(0.5))
        WHEN k < 5 THEN fuzz.rnum()
        WHEN k < 8 THEN to_jsonb(fuzz.exotic_str())
        ELSE to_jsonb(fuzz.rstr(10))
    END;
END $$;

-- ---------------------------------------------------------------- keys
CREATE OR REPLACE FUNCTION fuzz.known_keys() RETURNS text[]
LANGUAGE sql IMMUTABLE AS $$ SELECT ARRAY[
    'amount_requested', 'currency', 'value', 'customer_details', 'customer',
    'email', 'name', 'phone', 'customer_presence', 'description', 'expand',
    'failed', 'failed_at', 'guaranteed', 'guaranteed_at', 'initiated_at',
    'metadata', 'outcome', 'payment_method_details', 'billing_details',
    'address', 'city', 'country', 'line1', 'line2', 'postal_code', 'state',
    'custom', 'display_name', 'type', 'payment_method', 'processor_details',
    'payment_reference', 'refund_reference', 'shipping_details', 'amount',
    'refunded', 'refunded_at', 'canceled_at', 'created_after',
    'created_before', 'ending_before', 'starting_after', 'limit',
    'payment_record', 'id', 'object', 'livemode'] $$;

CREATE OR REPLACE FUNCTION fuzz.key() RETURNS text
LANGUAGE plpgsql VOLATILE AS $$
DECLARE k int := fuzz.r(10);
BEGIN
    IF k < 6 THEN RETURN fuzz.pick(fuzz.known_keys()); END IF;
    IF k < 8 THEN
        RETURN fuzz.pick(ARRAY['', ' ', 'Amount_requested', 'amount_requested ',
            'x', 'a[b]', '[', ']', '[]', 'é', '__proto__', repeat('k', 40),
            repeat('k', 41), repeat('é', 40), repeat('é', 41), repeat('k', 6000),
            'metadata[foo]', '0', 'null', '%41', 'a=b', 'a&b']);
    END IF;
    RETURN fuzz.rstr(8);
END $$;

-- ---------------------------------------------------------------- trees
CREATE OR REPLACE FUNCTION fuzz.rtree(depth int) RETURNS jsonb
LANGUAGE plpgsql VOLATILE AS $$
DECLARE k int := fuzz.r(10); j jsonb; n int;
BEGIN
    IF depth <= 0 OR k < 4 THEN RETURN fuzz.rscalar(); END IF;
    n := fuzz.r(5);
    IF k < 7 THEN
        j := '{}';
        FOR i IN 1..n LOOP j := j || jsonb_build_object(fuzz.key(), fuzz.rtree(depth - 1)); END LOOP;
    ELSE
        j := '[]';
        FOR i IN 1..n LOOP j := j || jsonb_build_array(fuzz.rtree(depth - 1)); END LOOP;
    END IF;
    RETURN j;
END $$;

-- nesting n deep around leaf, objects under key or arrays
CREATE OR REPLACE FUNCTION fuzz.deep(n int, leaf jsonb) RETURNS jsonb
LANGUAGE plpgsql VOLATILE AS $$
DECLARE key text := fuzz.pick(ARRAY['a', 'custom', 'address', 'metadata', '']);
BEGIN
    IF fuzz.chance(0.5) THEN
        RETURN (repeat('{' || to_jsonb(key)::text || ':', n) || leaf::text || repeat('}', n))::jsonb;
    END IF;
    RETURN (repeat('[', n) || leaf::text || repeat(']', n))::jsonb;
END $$;

CREATE OR REPLACE FUNCTION fuzz.long_array(n int) RETURNS jsonb
LANGUAGE sql VOLATILE AS $$
    SELECT coalesce(jsonb_agg(CASE WHEN random() < 0.9 THEN to_jsonb('x' || g) ELSE fuzz.rscalar() END), '[]')
    FROM generate_series(1, n) g $$;

-- a value that replaces another one
CREATE OR REPLACE FUNCTION fuzz.replacement(old jsonb) RETURNS jsonb
LANGUAGE plpgsql VOLATILE AS $$
DECLARE k int := fuzz.r(20);
BEGIN
    RETURN CASE
        WHEN k < 6 THEN fuzz.rscalar()
        WHEN k = 6 THEN 'null'::jsonb
        WHEN k = 7 THEN '""'::jsonb
        WHEN k = 8 THEN '{}'::jsonb
        WHEN k = 9 THEN '[]'::jsonb
        WHEN k = 10 THEN fuzz.rtree(3)
        WHEN k = 11 THEN fuzz.deep(1 + fuzz.r(CASE WHEN fuzz.chance(0.1) THEN 2000 ELSE 40 END), fuzz.rscalar())
        WHEN k = 12 THEN fuzz.long_array(CASE WHEN fuzz.chance(0.2) THEN 20000 ELSE 1 + fuzz.r(200) END)
        WHEN k = 13 THEN jsonb_build_array(old)
        WHEN k = 14 THEN jsonb_build_object(fuzz.key(), old)
        -- the same value in the other type: numbers as strings and back
        WHEN k < 18 AND jsonb_typeof(old) = 'number' THEN
            to_jsonb(old::text || CASE WHEN fuzz.chance(0.5) THEN '' ELSE fuzz.pick(ARRAY[' ', 'x', '.0', 'e0', '0']) END)
        WHEN k < 18 AND jsonb_typeof(old) = 'string' AND (old #>> '{}') ~ '^-?(0|[1-9][0-9]{0,29})$' THEN
            (old #>> '{}')::jsonb
        WHEN k < 18 AND jsonb_typeof(old) = 'string' THEN
            to_jsonb(upper(old #>> '{}') || fuzz.pick(ARRAY['', ' ', fuzz.u(769)]))
        ELSE to_jsonb(fuzz.exotic_str())
    END;
END $$;

-- mutate a tree: every key and element is touched with probability rate
CREATE OR REPLACE FUNCTION fuzz.mutate(j jsonb, rate float8) RETURNS jsonb
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    out jsonb; kv record; e jsonb; x float8; k text;
BEGIN
    IF rate <= 0 OR j IS NULL THEN RETURN j; END IF;
    IF jsonb_typeof(j) = 'object' THEN
        out := '{}';
        FOR kv IN SELECT * FROM jsonb_each(j) LOOP
            x := random();
            IF x < rate * 0.15 THEN
                CONTINUE;								-- drop
            ELSIF x < rate * 0.30 THEN
                k := CASE WHEN fuzz.chance(0.5) THEN fuzz.key()
                          ELSE fuzz.pick(ARRAY[upper(kv.key), kv.key || ' ', ' ' || kv.key,
                                               kv.key || 's', left(kv.key, -1), kv.key || '[]'])
                     END;
                out := out || jsonb_build_object(k, kv.value);	-- rename
            ELSIF x < rate * 0.60 THEN
                out := out || jsonb_build_object(kv.key, fuzz.replacement(kv.value));
            ELSIF x < rate * 0.70 THEN				-- duplicate under another key
                out := out || jsonb_build_object(kv.key, kv.value, fuzz.key(), kv.value);
            ELSE
                out := out || jsonb_build_object(kv.key, fuzz.mutate(kv.value, rate));
            END IF;
        END LOOP;
        IF random() < rate * 0.3 THEN
            out := out || jsonb_build_object(fuzz.key(),
                CASE WHEN fuzz.chance(0.5) THEN fuzz.rscalar() ELSE fuzz.rtree(2) END);
        END IF;
        RETURN out;
    ELSIF jsonb_typeof(j) = 'array' THEN
        out := '[]';
        FOR e IN SELECT value FROM jsonb_array_elements(j) LOOP
            x := random();
            IF x < rate * 0.2 THEN CONTINUE;
            ELSIF x < rate * 0.5 THEN out := out || jsonb_build_array(fuzz.replacement(e));
            ELSIF x < rate * 0.6 THEN out := out || jsonb_build_array(e, e);
            ELSE out := out || jsonb_build_array(fuzz.mutate(e, rate));
            END IF;
        END LOOP;
        IF random() < rate * 0.3 THEN out := out || jsonb_build_array(fuzz.rscalar()); END IF;
        RETURN out;
    ELSIF random() < rate THEN
        RETURN fuzz.replacement(j);
    END IF;
    RETURN j;
END $$;

-- ---------------------------------------------------------------- valid bodies
-- integers come as JSON numbers mostly, as decimal strings sometimes
CREATE OR REPLACE FUNCTION fuzz.int(v bigint) RETURNS jsonb
LANGUAGE sql VOLATILE AS $$
    SELECT CASE WHEN random() < 0.8 THEN to_jsonb(v) ELSE to_jsonb(v::text) END $$;

CREATE OR REPLACE FUNCTION fuzz.ts() RETURNS jsonb
LANGUAGE sql VOLATILE AS $$
    SELECT fuzz.int(CASE WHEN random() < 0.9 THEN 1600000000 + fuzz.r(200000000)
                         ELSE fuzz.pick(ARRAY['0', '1', '253402300799', '2147483648'])::bigint END) $$;

CREATE OR REPLACE FUNCTION fuzz.text_value() RETURNS jsonb
LANGUAGE sql VOLATILE AS $$
    SELECT to_jsonb(CASE WHEN random() < 0.8 THEN 'v' || fuzz.r(1000000)::text
                         ELSE 'v' || fuzz.rstr(20) END) $$;

CREATE OR REPLACE FUNCTION fuzz.amount() RETURNS jsonb
LANGUAGE plpgsql VOLATILE AS $$
DECLARE cur text := fuzz.pick(ARRAY['usd', 'usd', 'usd', 'eur', 'jpy', 'bhd', 'kwd', 'idr', 'USD', 'Eur']);
        v bigint := 1 + fuzz.r(CASE WHEN fuzz.chance(0.8) THEN 100000 ELSE 99999999 END);
BEGIN
    IF lower(cur) IN ('bhd', 'kwd') THEN v := (v / 10 + 1) * 10; END IF;
    IF lower(cur) = 'idr' AND fuzz.chance(0.3) THEN v := 999999999999; END IF;
    IF v > 99999999 AND lower(cur) <> 'idr' THEN v := 99999990; END IF;
    RETURN jsonb_build_object('currency', cur, 'value', fuzz.int(v));
END $$;

CREATE OR REPLACE FUNCTION fuzz.address() RETURNS jsonb
LANGUAGE plpgsql VOLATILE AS $$
DECLARE j jsonb := '{}'; k text;
BEGIN
    FOREACH k IN ARRAY ARRAY['city', 'country', 'line1', 'line2', 'postal_code', 'state'] LOOP
        IF fuzz.chance(0.5) THEN j := j || jsonb_build_object(k, fuzz.text_value()); END IF;
    END LOOP;
    RETURN j;
END $$;

-- an object with some of the given string keys (email gets an address)
CREATE OR REPLACE FUNCTION fuzz.some(keys text[]) RETURNS jsonb
LANGUAGE plpgsql VOLATILE AS $$
DECLARE j jsonb := '{}'; k text;
BEGIN
    FOREACH k IN ARRAY keys LOOP
        IF fuzz.chance(0.5) THEN
            j := j || jsonb_build_object(k, CASE
                WHEN k = 'email' THEN to_jsonb('u' || fuzz.r(1000) || '@example.com')
                WHEN k = 'address' THEN fuzz.address()
                ELSE fuzz.text_value() END);
        END IF;
    END LOOP;
    RETURN j;
END $$;

CREATE OR REPLACE FUNCTION fuzz.pmd() RETURNS jsonb
LANGUAGE plpgsql VOLATILE AS $$
DECLARE j jsonb;
BEGIN
    IF fuzz.chance(0.5) THEN
        j := jsonb_build_object('payment_method', 'pm_' || fuzz.r(1000));
    ELSE
        j := jsonb_build_object('type', 'custom');
    END IF;
    IF fuzz.chance(0.4) THEN
        j := j || jsonb_build_object('custom', fuzz.some(ARRAY['display_name', 'type']));
    END IF;
    IF fuzz.chance(0.4) THEN
        j := j || jsonb_build_object('billing_details', fuzz.some(ARRAY['address', 'email', 'name', 'phone']));
    END IF;
    RETURN j;
END $$;

CREATE OR REPLACE FUNCTION fuzz.meta() RETURNS jsonb
LANGUAGE plpgsql VOLATILE AS $$
DECLARE j jsonb := '{}'; n int := fuzz.r(CASE WHEN fuzz.chance(0.1) THEN 60 ELSE 4 END);
BEGIN
    IF fuzz.chance(0.05) THEN RETURN '""'; END IF;
    FOR i IN 1..n LOOP
        j := j || jsonb_build_object('k' || fuzz.r(60),
            CASE fuzz.r(8) WHEN 0 THEN '""'::jsonb WHEN 1 THEN 'null'::jsonb
                           WHEN 2 THEN fuzz.rnum() WHEN 3 THEN 'true'::jsonb
                           ELSE fuzz.text_value() END);
    END LOOP;
    RETURN j;
END $$;

-- outcome with its hash (or, rarely, a disagreeing one)
CREATE OR REPLACE FUNCTION fuzz.outcome() RETURNS jsonb
LANGUAGE plpgsql VOLATILE AS $$
DECLARE k int := fuzz.r(10);
BEGIN
    RETURN CASE
        WHEN k < 4 THEN '{}'::jsonb
        WHEN k < 7 THEN jsonb_build_object('outcome', 'guaranteed', 'guaranteed', jsonb_build_object('guaranteed_at', fuzz.ts()))
        WHEN k < 9 THEN jsonb_build_object('outcome', 'failed', 'failed', jsonb_build_object('failed_at', fuzz.ts()))
        ELSE jsonb_build_object('outcome', fuzz.pick(ARRAY['guaranteed', 'failed']),
                                fuzz.pick(ARRAY['guaranteed', 'failed']),
                                jsonb_build_object(fuzz.pick(ARRAY['guaranteed_at', 'failed_at']), fuzz.ts()))
    END;
END $$;

CREATE OR REPLACE FUNCTION fuzz.p_payment() RETURNS jsonb
LANGUAGE plpgsql VOLATILE AS $$
DECLARE j jsonb;
BEGIN
    j := jsonb_build_object('amount_requested', fuzz.amount(), 'initiated_at', fuzz.ts(),
                            'payment_method_details', fuzz.pmd());
    j := j || fuzz.outcome();
    IF fuzz.chance(0.3) THEN j := j || jsonb_build_object('customer_details', fuzz.some(ARRAY['customer', 'email', 'name', 'phone'])); END IF;
    IF fuzz.chance(0.3) THEN j := j || jsonb_build_object('customer_presence', fuzz.pick(ARRAY['on_session', 'off_session'])); END IF;
    IF fuzz.chance(0.3) THEN j := j || jsonb_build_object('description', fuzz.text_value()); END IF;
    IF fuzz.chance(0.3) THEN j := j || jsonb_build_object('metadata', fuzz.meta()); END IF;
    IF fuzz.chance(0.3) THEN
        j := j || jsonb_build_object('processor_details', jsonb_build_object('type', 'custom')
            || CASE WHEN fuzz.chance(0.7) THEN jsonb_build_object('custom', jsonb_build_object('payment_reference', fuzz.text_value())) ELSE '{}' END);
    END IF;
    IF fuzz.chance(0.3) THEN j := j || jsonb_build_object('shipping_details', fuzz.some(ARRAY['address', 'name', 'phone'])); END IF;
    IF fuzz.chance(0.1) THEN j := j || jsonb_build_object('expand', jsonb_build_array('x')); END IF;
    RETURN j;
END $$;

CREATE OR REPLACE FUNCTION fuzz.p_refund() RETURNS jsonb
LANGUAGE plpgsql VOLATILE AS $$
DECLARE j jsonb;
BEGIN
    j := jsonb_build_object('outcome', 'refunded', 'processor_details',
        jsonb_build_object('type', 'custom') || CASE WHEN fuzz.chance(0.8) THEN jsonb_build_object('custom',
            jsonb_build_object('refund_reference', CASE WHEN fuzz.chance(0.2) THEN 'ref_' || fuzz.r(20)
                                                        ELSE 'ref_' || md5(random()::text) END)) ELSE '{}' END);
    IF fuzz.chance(0.6) THEN
        j := j || jsonb_build_object('amount', jsonb_build_object('currency',
            fuzz.pick(ARRAY['usd', 'usd', 'usd', 'eur', 'jpy', 'bhd']), 'value', fuzz.int(1 + fuzz.r(CASE WHEN fuzz.chance(0.5) THEN 100 ELSE 200000 END))));
    END IF;
    IF fuzz.chance(0.3) THEN j := j || jsonb_build_object('initiated_at', fuzz.ts()); END IF;
    IF fuzz.chance(0.3) THEN j := j || jsonb_build_object('refunded', jsonb_build_object('refunded_at', fuzz.ts())); END IF;
    IF fuzz.chance(0.3) THEN j := j || jsonb_build_object('metadata', fuzz.meta()); END IF;
    RETURN j;
END $$;

CREATE OR REPLACE FUNCTION fuzz.p_attempt() RETURNS jsonb
LANGUAGE plpgsql VOLATILE AS $$
DECLARE j jsonb := jsonb_build_object('initiated_at', fuzz.ts()) || fuzz.outcome();
BEGIN
    IF fuzz.chance(0.3) THEN j := j || jsonb_build_object('description', fuzz.text_value()); END IF;
    IF fuzz.chance(0.3) THEN j := j || jsonb_build_object('metadata', fuzz.meta()); END IF;
    IF fuzz.chance(0.3) THEN j := j || jsonb_build_object('payment_method_details', fuzz.pmd()); END IF;
    IF fuzz.chance(0.3) THEN j := j || jsonb_build_object('shipping_details', fuzz.some(ARRAY['address', 'name', 'phone'])); END IF;
    RETURN j;
END $$;

-- canceled_at / failed_at / guaranteed_at, or the informational body
CREATE OR REPLACE FUNCTION fuzz.p_state(fn text) RETURNS jsonb
LANGUAGE plpgsql VOLATILE AS $$
DECLARE j jsonb := '{}';
BEGIN
    IF fn = 'report_payment_attempt_informational' THEN
        IF fuzz.chance(0.4) THEN j := j || jsonb_build_object('customer_details', fuzz.some(ARRAY['customer', 'email', 'name', 'phone'])); END IF;
        IF fuzz.chance(0.4) THEN j := j || jsonb_build_object('description', CASE WHEN fuzz.chance(0.3) THEN '""'::jsonb ELSE fuzz.text_value() END); END IF;
        IF fuzz.chance(0.4) THEN j := j || jsonb_build_object('shipping_details', CASE WHEN fuzz.chance(0.3) THEN '""'::jsonb ELSE fuzz.some(ARRAY['address', 'name', 'phone']) END); END IF;
    ELSE
        j := jsonb_build_object(replace(replace(fn, 'report_payment_attempt_', ''), 'informational', '') || '_at', fuzz.ts());
    END IF;
    IF fuzz.chance(0.3) THEN j := j || jsonb_build_object('metadata', fuzz.meta()); END IF;
    RETURN j;
END $$;

CREATE OR REPLACE FUNCTION fuzz.p_list(fn text, rec text) RETURNS jsonb
LANGUAGE plpgsql VOLATILE AS $$
DECLARE j jsonb := '{}';
BEGIN
    IF fn = 'list_payment_attempt_records' THEN j := jsonb_build_object('payment_record', coalesce(rec, 'pr_x')); END IF;
    IF fuzz.chance(0.5) THEN j := j || jsonb_build_object('limit', fuzz.int(1 + fuzz.r(100))); END IF;
    IF fn = 'list_payment_records' THEN
        IF fuzz.chance(0.3) THEN j := j || jsonb_build_object('created_after', fuzz.ts()); END IF;
        IF fuzz.chance(0.3) THEN j := j || jsonb_build_object('created_before', fuzz.ts()); END IF;
    END IF;
    RETURN j;
END $$;

CREATE OR REPLACE FUNCTION fuzz.params_for(fn text, rec text) RETURNS jsonb
LANGUAGE sql VOLATILE AS $$
    SELECT CASE
        WHEN fn = 'report_payment' THEN fuzz.p_payment()
        WHEN fn = 'report_refund' THEN fuzz.p_refund()
        WHEN fn = 'report_payment_attempt' THEN fuzz.p_attempt()
        WHEN fn LIKE 'report_payment_attempt_%' THEN fuzz.p_state(fn)
        WHEN fn LIKE 'list_%' THEN fuzz.p_list(fn, rec)
        ELSE '{}'::jsonb
    END $$;

-- params as the function will see them: mostly a mutated valid body
CREATE OR REPLACE FUNCTION fuzz.params(fn text, rec text, OUT p jsonb, OUT is_null bool)
LANGUAGE plpgsql VOLATILE AS $$
DECLARE k int := fuzz.r(100);
BEGIN
    is_null := false;
    IF k < 15 THEN
        p := fuzz.params_for(fn, rec);						-- valid (mostly)
    ELSIF k < 85 THEN
        p := fuzz.mutate(fuzz.params_for(fn, rec), 0.01 + 0.3 * power(random(), 3));
    ELSIF k < 92 THEN
        p := fuzz.rtree(4);
        IF jsonb_typeof(p) <> 'object' THEN p := jsonb_build_object(fuzz.key(), p); END IF;
    ELSIF k < 97 THEN
        p := fuzz.pick(ARRAY['[]', '"x"', 'null', '1', '""', 'true', '[{}]', '{}'])::jsonb;
    ELSIF k < 99 THEN
        p := fuzz.params_for(fn, rec) || jsonb_build_object(fuzz.key(), fuzz.deep(1 + fuzz.r(2000), fuzz.rscalar()));
    ELSE
        is_null := true;
    END IF;
END $$;

-- ---------------------------------------------------------------- ids
CREATE OR REPLACE FUNCTION fuzz.rid(recs text[], pars text[]) RETURNS text
LANGUAGE plpgsql VOLATILE AS $$
DECLARE k int := fuzz.r(100); base text;
BEGIN
    IF k < 72 AND cardinality(recs) > 0 THEN
        RETURN recs[1 + fuzz.r(least(cardinality(recs), CASE WHEN fuzz.chance(0.5) THEN 5 ELSE 100 END))];
    ELSIF k < 80 AND cardinality(pars) > 0 THEN
        RETURN pars[1 + fuzz.r(cardinality(pars))];
    END IF;
    base := coalesce(recs[1], 'pr_000000000000000000000000');
    RETURN CASE fuzz.r(12)
        WHEN 0 THEN '' WHEN 1 THEN NULL WHEN 2 THEN 'pr_'
        WHEN 3 THEN upper(base) WHEN 4 THEN base || ' ' WHEN 5 THEN base || fuzz.u(769)
        WHEN 6 THEN left(base, -1) WHEN 7 THEN repeat('pr_', 3000)
        WHEN 8 THEN 'pr_' || fuzz.rstr(24) WHEN 9 THEN replace(base, 'pr_', 'par_')
        WHEN 10 THEN base || '/report_refund'
        ELSE fuzz.exotic_str()
    END;
END $$;

CREATE OR REPLACE FUNCTION fuzz.idem_key() RETURNS text
LANGUAGE sql VOLATILE AS $$
    SELECT CASE WHEN random() < 0.88 THEN NULL
                ELSE fuzz.pick(ARRAY['k1', 'k2', 'k3', 'k4', 'k5', 'k6', 'k7', 'k8',
                                     '', repeat('k', 255), repeat('k', 256), repeat('é', 255),
                                     repeat('é', 256), 'ké😀', ' '])
           END $$;

-- ---------------------------------------------------------------- forms
CREATE OR REPLACE FUNCTION fuzz.pct(s text, faithful bool DEFAULT false) RETURNS text
LANGUAGE plpgsql VOLATILE AS $$
DECLARE out text[] := '{}'; c text; b bytea; mode int := CASE WHEN faithful THEN 1 + fuzz.r(3) ELSE fuzz.r(4) END;
BEGIN
    -- 0: raw, 1: reserved characters escaped, 2: everything escaped, 3: mixed
    IF mode = 0 THEN RETURN s; END IF;
    IF mode = 1 OR length(s) > 300 THEN
        RETURN replace(replace(replace(replace(replace(replace(replace(s,
            '%', '%25'), '&', '%26'), '=', '%3D'), '+', '%2B'), '[', '%5B'), ']', '%5D'), ' ',
            CASE WHEN fuzz.chance(0.5) THEN '+' ELSE '%20' END);
    END IF;
    FOREACH c IN ARRAY regexp_split_to_array(s, '') LOOP
        IF mode = 2 OR c IN ('%', '&', '=', '+', '[', ']', ' ') OR fuzz.chance(0.3) THEN
            IF c = ' ' AND fuzz.chance(0.5) THEN out := out || '+'::text; CONTINUE; END IF;
            b := convert_to(c, pg_catalog.getdatabaseencoding());
            FOR j IN 0..length(b) - 1 LOOP
                out := out || ('%' || CASE WHEN fuzz.chance(0.5) THEN upper(lpad(to_hex(get_byte(b, j)), 2, '0'))
                                           ELSE lpad(to_hex(get_byte(b, j)), 2, '0') END);
            END LOOP;
        ELSE
            out := out || c;
        END IF;
    END LOOP;
    RETURN array_to_string(out, '');
END $$;

-- a jsonb body as Stripe's form encoding: a[b][c]=v, expand[]=x or
-- expand[0]=x.  faithful: always escape what must be (never raw), one index
-- style per array, so that form_to_jsonb must give back fuzz.stringify(j).
CREATE OR REPLACE FUNCTION fuzz.to_form(j jsonb, prefix text DEFAULT NULL, faithful bool DEFAULT false)
RETURNS text
LANGUAGE plpgsql VOLATILE AS $$
DECLARE parts text[] := '{}'; kv record; idx int := 0; name text; brackets bool := fuzz.chance(0.6);
BEGIN
    IF jsonb_typeof(j) = 'object' THEN
        FOR kv IN SELECT * FROM jsonb_each(j) LOOP
            name := CASE WHEN prefix IS NULL THEN fuzz.pct(kv.key, faithful)
                         ELSE prefix || '[' || fuzz.pct(kv.key, faithful) || ']' END;
            parts := parts || fuzz.to_form(kv.value, name, faithful);
        END LOOP;
        IF prefix IS NOT NULL AND cardinality(parts) = 0 THEN RETURN prefix || '='; END IF;
        RETURN array_to_string(parts, '&');
    ELSIF jsonb_typeof(j) = 'array' THEN
        FOR kv IN SELECT value FROM jsonb_array_elements(j) LOOP
            IF NOT faithful THEN brackets := fuzz.chance(0.6); END IF;
            parts := parts || fuzz.to_form(kv.value, coalesce(prefix, '') || CASE WHEN brackets THEN '[]' ELSE '[' || idx || ']' END, faithful);
            idx := idx + 1;
        END LOOP;
        IF prefix IS NOT NULL AND cardinality(parts) = 0 THEN RETURN prefix || '='; END IF;
        RETURN array_to_string(parts, '&');
    END IF;
    RETURN coalesce(prefix, '') || '=' || CASE WHEN jsonb_typeof(j) = 'null' THEN '' ELSE fuzz.pct(j #>> '{}', faithful) END;
END $$;

-- what a faithful form of j decodes to: every leaf a string, null and an
-- empty hash or array "" (they are sent as "name=")
CREATE OR REPLACE FUNCTION fuzz.stringify(j jsonb, top bool DEFAULT true) RETURNS jsonb
LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE
        WHEN jsonb_typeof(j) = 'object' AND (top OR j <> '{}') THEN
            coalesce((SELECT jsonb_object_agg(key, fuzz.stringify(value, false)) FROM jsonb_each(j)), '{}')
        WHEN jsonb_typeof(j) = 'array' AND j <> '[]' THEN
            (SELECT jsonb_agg(fuzz.stringify(value, false) ORDER BY n) FROM jsonb_array_elements(j) WITH ORDINALITY e(value, n))
        WHEN jsonb_typeof(j) IN ('object', 'array', 'null') THEN '""'::jsonb
        ELSE to_jsonb(j #>> '{}')
    END $$;

-- percent escapes, many of them not valid UTF-8 once decoded
CREATE OR REPLACE FUNCTION fuzz.escape() RETURNS text
LANGUAGE sql VOLATILE AS $$
    SELECT fuzz.pick(ARRAY['%00', '%FF', '%C3', '%C3%A9', '%c3%a9', '%C0%80', '%ED%A0%80',
        '%F4%90%80%80', '%F0%9F%98%80', '%E2%82', '%80', '%BF', '%FE%FF', '%EF%BB%BF',
        '%', '%%', '%4', '%G0', '%0g', '%-1', '%+1', '%2', '%25', '%26', '%3D', '%5B', '%5D',
        '%5b%5d', '%2B', '+', '%20', '%0A', '%0D', '%09', '%7F', '%1F', '%E0%80%80',
        '%F8%88%80%80%80', '%C2%A0', '%E2%80%AE',
        '%' || upper(lpad(to_hex(fuzz.r(256)), 2, '0'))]) $$;

CREATE OR REPLACE FUNCTION fuzz.form_token() RETURNS text
LANGUAGE plpgsql VOLATILE AS $$
DECLARE k int := fuzz.r(100);
BEGIN
    RETURN CASE
        WHEN k < 25 THEN fuzz.escape()
        WHEN k < 40 THEN fuzz.pick(ARRAY['[', ']', '[]', '][', '[[', ']]', '&', '&&', '=', '==', '===', '&=', '=&', '[0]', '[-1]', '[999999999999]', '[=]', '[&]'])
        WHEN k < 65 THEN fuzz.pick(fuzz.known_keys())
        WHEN k < 80 THEN fuzz.rchar()
        WHEN k < 85 THEN repeat('[a]', 1 + fuzz.r(CASE WHEN fuzz.chance(0.2) THEN 20000 ELSE 100 END))
        WHEN k < 88 THEN repeat('[]', 1 + fuzz.r(CASE WHEN fuzz.chance(0.2) THEN 20000 ELSE 100 END))
        WHEN k < 91 THEN repeat('&', 1 + fuzz.r(1000))
        WHEN k < 94 THEN repeat('=', 1 + fuzz.r(1000))
        WHEN k < 96 THEN repeat('[', 1 + fuzz.r(1000))
        WHEN k < 98 THEN fuzz.num_text()
        ELSE repeat('x', fuzz.r(CASE WHEN fuzz.chance(0.2) THEN 100000 ELSE 1000 END))
    END;
END $$;

-- a random form: name[...]=value pairs built from tokens
CREATE OR REPLACE FUNCTION fuzz.rform() RETURNS text
LANGUAGE plpgsql VOLATILE AS $$
DECLARE n int := fuzz.r(CASE WHEN fuzz.chance(0.02) THEN 1000 ELSE 8 END); parts text[] := '{}'; s text[];
BEGIN
    FOR i IN 1..n LOOP
        s := ARRAY[fuzz.pick(fuzz.known_keys())];
        FOR t IN 1..fuzz.r(4) LOOP
            s := s || fuzz.pick(ARRAY['[' || fuzz.pick(fuzz.known_keys()) || ']', '[]', '[0]', fuzz.form_token()]);
        END LOOP;
        IF fuzz.chance(0.9) THEN s := s || '='::text; END IF;
        FOR t IN 1..fuzz.r(4) LOOP s := s || fuzz.form_token(); END LOOP;
        parts := parts || array_to_string(s, '');
    END LOOP;
    RETURN array_to_string(parts, CASE WHEN fuzz.chance(0.9) THEN '&' ELSE fuzz.pick(ARRAY['&&', ';', '&amp;', '']) END);
END $$;

-- character-level mutations: insert, delete, replace, duplicate a chunk
CREATE OR REPLACE FUNCTION fuzz.mutate_text(s text, n int) RETURNS text
LANGUAGE plpgsql VOLATILE AS $$
DECLARE pos int; len int;
BEGIN
    FOR i IN 1..n LOOP
        len := length(s);
        pos := 1 + fuzz.r(len + 1);
        CASE fuzz.r(5)
            WHEN 0 THEN s := overlay(s PLACING fuzz.form_token() FROM pos FOR 0);
            WHEN 1 THEN s := overlay(s PLACING '' FROM pos FOR 1 + fuzz.r(5));
            WHEN 2 THEN s := overlay(s PLACING fuzz.form_token() FROM pos FOR 1);
            WHEN 3 THEN s := overlay(s PLACING substr(s, 1 + fuzz.r(len + 1), 1 + fuzz.r(30)) FROM pos FOR 0);
            ELSE s := overlay(s PLACING fuzz.escape() FROM pos FOR 0);
        END CASE;
    END LOOP;
    RETURN s;
END $$;

-- ---------------------------------------------------------------- request()
CREATE OR REPLACE FUNCTION fuzz.rmethod() RETURNS text
LANGUAGE sql VOLATILE AS $$
    SELECT CASE WHEN random() < 0.85 THEN fuzz.pick(ARRAY['GET', 'POST'])
                ELSE fuzz.pick(ARRAY['get', 'post', 'Post', 'PUT', 'DELETE', 'PATCH', 'HEAD',
                    'OPTIONS', '', ' POST', 'POST ', 'GETX', 'POS', repeat('P', 10000), NULL, 'G' || chr(0 + 1) || 'T'])
           END $$;

CREATE OR REPLACE FUNCTION fuzz.endpoint_path(fn text, id text) RETURNS text
LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE
        WHEN fn = 'report_payment' THEN '/v1/payment_records/report_payment'
        WHEN fn LIKE 'report_%' THEN '/v1/payment_records/' || coalesce(id, '') || '/' || fn
        WHEN fn = 'retrieve_payment_record' THEN '/v1/payment_records/' || coalesce(id, '')
        WHEN fn = 'retrieve_payment_attempt_record' THEN '/v1/payment_attempt_records/' || coalesce(id, '')
        WHEN fn = 'list_payment_records' THEN '/v1/payment_records'
        ELSE '/v1/payment_attempt_records'
    END $$;

CREATE OR REPLACE FUNCTION fuzz.mutate_path(p text) RETURNS text
LANGUAGE plpgsql VOLATILE AS $$
BEGIN
    RETURN CASE fuzz.r(22)
        WHEN 0 THEN p || '/' WHEN 1 THEN '/' || p WHEN 2 THEN replace(p, '/', '//')
        WHEN 3 THEN upper(p) WHEN 4 THEN ltrim(p, '/') WHEN 5 THEN p || '?limit=1'
        WHEN 6 THEN p || '/..' WHEN 7 THEN replace(p, '/', '%2F') WHEN 8 THEN ''
        WHEN 9 THEN '/' WHEN 10 THEN '/v1' WHEN 11 THEN '/v1/' WHEN 12 THEN p || '#x'
        WHEN 13 THEN replace(p, 'v1', 'v2') WHEN 14 THEN p || '/' || fuzz.rstr(5)
        WHEN 15 THEN repeat('/x', 5000) WHEN 16 THEN NULL
        WHEN 17 THEN replace(p, '/v1/payment_records/', '/v1/payment_records/' || fuzz.exotic_str() || '/')
        WHEN 18 THEN 'https://api.stripe.com' || p WHEN 19 THEN p || '?' || fuzz.rform()
        WHEN 20 THEN '/v1/payment_records//report_refund'
        ELSE fuzz.mutate_text(p, 1 + fuzz.r(3))
    END;
END $$;

-- ---------------------------------------------------------------- oracle
-- what any payment_record or payment_attempt_record must look like (the
-- README's contract, C3 and C4): NULL when it does
CREATE OR REPLACE FUNCTION fuzz.check_object(o jsonb) RETURNS text
LANGUAGE sql STABLE AS $$
    SELECT CASE
        WHEN jsonb_typeof(o) IS DISTINCT FROM 'object' THEN 'not an object'
        WHEN (o->>'livemode')::bool IS DISTINCT FROM fuzz.livemode()
            THEN 'object of the other livemode'
        WHEN EXISTS (SELECT 1 FROM jsonb_each(o) e
                     WHERE e.key LIKE 'amount%' AND NOT (
                         jsonb_typeof(e.value) = 'object'
                         AND (e.value->>'currency') ~ '^[a-z]{3}$'
                         AND jsonb_typeof(e.value->'value') = 'number'
                         AND (e.value->>'value') ~ '^[0-9]+$'))
            THEN 'an amount that is not {currency, value >= 0}'
        WHEN (o #>> '{amount,value}')::numeric <= 0 THEN 'amount not positive'
        WHEN (o #>> '{amount_refunded,value}')::numeric > (o #>> '{amount_guaranteed,value}')::numeric
            THEN 'refunded more than guaranteed'
        WHEN jsonb_typeof(o->'metadata') IS DISTINCT FROM 'object' THEN 'metadata is not an object'
        WHEN (SELECT count(*) FROM jsonb_object_keys(o->'metadata')) > 50 THEN 'metadata has more than 50 keys'
        WHEN EXISTS (SELECT 1 FROM jsonb_each(o->'metadata') m
                     WHERE length(m.key) NOT BETWEEN 1 AND 40 OR m.key ~ '[][]'
                        OR jsonb_typeof(m.value) <> 'string' OR length(m.value #>> '{}') NOT BETWEEN 1 AND 500)
            THEN 'metadata key or value breaks the limits (key 1..40 without brackets, value a string of 1..500)'
        WHEN length(o->>'description') > 5000 THEN 'description longer than 5000'
        WHEN length(o #>> '{customer_details,email}') > 800 THEN 'email longer than 800'
    END $$;

-- what a successful call must return; NULL when it is fine
CREATE OR REPLACE FUNCTION fuzz.check_result(fn text, res jsonb) RETURNS text
LANGUAGE sql STABLE AS $$
    SELECT CASE
        WHEN res IS NULL THEN 'returned NULL'
        WHEN fn = 'form_to_jsonb' THEN
            CASE WHEN jsonb_typeof(res) <> 'object' THEN 'form_to_jsonb returned a ' || jsonb_typeof(res) END
        WHEN jsonb_typeof(res) <> 'object' THEN 'returned a ' || jsonb_typeof(res)
        WHEN fn LIKE 'list_%' THEN
            CASE WHEN res->>'object' IS DISTINCT FROM 'list' OR jsonb_typeof(res->'data') IS DISTINCT FROM 'array'
                 THEN 'not a list'
                 ELSE (SELECT min(fuzz.check_object(d)) FROM jsonb_array_elements(res->'data') d) END
        WHEN fn = 'retrieve_payment_attempt_record' THEN
            CASE WHEN res->>'object' IS DISTINCT FROM 'payment_attempt_record' OR (res->>'id') NOT LIKE 'par\_%'
                 THEN 'not a payment_attempt_record' ELSE fuzz.check_object(res) END
        WHEN res->>'object' IS DISTINCT FROM 'payment_record' OR (res->>'id') NOT LIKE 'pr\_%' THEN 'not a payment_record'
        ELSE fuzz.check_object(res)
    END $$;

-- a created record shows what report_payment was given
CREATE OR REPLACE FUNCTION fuzz.check_payment(p jsonb, res jsonb) RETURNS text
LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE
        WHEN jsonb_typeof(p) <> 'object' THEN NULL
        WHEN res #>> '{amount_requested,currency}' IS DISTINCT FROM lower(p #>> '{amount_requested,currency}')
            THEN 'amount_requested.currency is not the one given, lower-cased'
        WHEN (res #>> '{amount_requested,value}')::numeric IS DISTINCT FROM (p #>> '{amount_requested,value}')::numeric
            THEN 'amount_requested.value is not the one given'
        WHEN res->'amount' IS DISTINCT FROM res->'amount_requested' THEN 'amount differs from amount_requested'
        WHEN p ? 'description' AND res->>'description' IS DISTINCT FROM p->>'description'
            THEN 'description is not the one given'
        WHEN p ? 'customer_presence' AND res->>'customer_presence' IS DISTINCT FROM p->>'customer_presence'
            THEN 'customer_presence is not the one given'
        WHEN p->>'outcome' = 'guaranteed' AND res->'amount_guaranteed' IS DISTINCT FROM res->'amount_requested'
            THEN 'a guaranteed payment without amount_guaranteed = amount_requested'
    END $$;

-- status and body of request(); NULL when they are consistent
CREATE OR REPLACE FUNCTION fuzz.check_response(status int, body jsonb) RETURNS text
LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE
        WHEN status IS NULL OR body IS NULL THEN 'NULL status or body'
        WHEN status NOT IN (200, 400, 404, 405, 409) THEN 'status ' || status
        WHEN jsonb_typeof(body) <> 'object' THEN 'body is a ' || jsonb_typeof(body)
        WHEN status = 200 AND body ? 'error' THEN '200 with an error body'
        WHEN status = 200 AND NOT (body->>'object' IN ('payment_record', 'payment_attempt_record', 'list')) THEN '200 without an object'
        WHEN status <> 200 AND (jsonb_typeof(body->'error') IS DISTINCT FROM 'object'
                                OR jsonb_typeof(body #> '{error,message}') IS DISTINCT FROM 'string'
                                OR jsonb_typeof(body #> '{error,type}') IS DISTINCT FROM 'string')
            THEN 'error body without error.message/type'
    END $$;

-- ---------------------------------------------------------------- the driver
-- one API call by name (params NULL: SQL NULL)
CREATE OR REPLACE FUNCTION fuzz.call(fn text, id text, p jsonb, key text) RETURNS jsonb
LANGUAGE plpgsql VOLATILE AS $$
BEGIN
    CASE fn
        WHEN 'report_payment' THEN RETURN payment_records.report_payment(p, key);
        WHEN 'report_refund' THEN RETURN payment_records.report_refund(id, p, key);
        WHEN 'report_payment_attempt' THEN RETURN payment_records.report_payment_attempt(id, p, key);
        WHEN 'report_payment_attempt_canceled' THEN RETURN payment_records.report_payment_attempt_canceled(id, p, key);
        WHEN 'report_payment_attempt_failed' THEN RETURN payment_records.report_payment_attempt_failed(id, p, key);
        WHEN 'report_payment_attempt_guaranteed' THEN RETURN payment_records.report_payment_attempt_guaranteed(id, p, key);
        WHEN 'report_payment_attempt_informational' THEN RETURN payment_records.report_payment_attempt_informational(id, p, key);
        WHEN 'retrieve_payment_record' THEN RETURN payment_records.retrieve_payment_record(id);
        WHEN 'retrieve_payment_attempt_record' THEN RETURN payment_records.retrieve_payment_attempt_record(id);
        WHEN 'list_payment_records' THEN RETURN payment_records.list_payment_records(p);
        WHEN 'list_payment_attempt_records' THEN RETURN payment_records.list_payment_attempt_records(p);
    END CASE;
END $$;

CREATE OR REPLACE FUNCTION fuzz.call_sql(fn text, id text, p jsonb, key text,
                                         body text, method text, path text) RETURNS text
LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE
        WHEN fn = 'form_to_jsonb' THEN format('SELECT payment_records.form_to_jsonb(%L);', body)
        WHEN fn = 'request' THEN format('SELECT * FROM payment_records.request(%L, %L, %L::jsonb, %L);',
                                        method, path, p, key)
        WHEN fn = 'report_payment' THEN format('SELECT payment_records.report_payment(%L::jsonb, %L);', p, key)
        WHEN fn LIKE 'report_%' THEN format('SELECT payment_records.%s(%L, %L::jsonb, %L);', fn, id, p, key)
        WHEN fn LIKE 'retrieve_%' THEN format('SELECT payment_records.%s(%L);', fn, id)
        ELSE format('SELECT payment_records.%s(%L::jsonb);', fn, p)
    END $$;

-- request() against the function it routes to, called directly with the
-- same arguments just before (in a subtransaction rolled back): the same
-- status (contract C7), error message, param and code, and for reads the same
-- body; for writes the same body but for the new ids.  NULL when they agree.
CREATE OR REPLACE FUNCTION fuzz.compare_request(fn text, d_state text, d_res jsonb, d_msg text,
                                                d_col text, d_det text, status int, body jsonb)
RETURNS text
LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE
        WHEN d_state <> 'ok' AND d_state NOT IN ('22023', '22003', '55000', '23514', '23505', 'P0002', '55P03') THEN NULL
        WHEN status IS DISTINCT FROM CASE WHEN d_state = 'ok' THEN 200 WHEN d_state = 'P0002' THEN 404
                                          WHEN d_state = '55P03' THEN 409 ELSE 400 END
            THEN format('request() status %s, the function: %s %s', status, d_state, d_msg)
        WHEN status = 200 AND fn NOT LIKE 'report_%' AND body IS DISTINCT FROM d_res
            THEN 'request() body differs from the function''s'
        WHEN status = 200 AND fn LIKE 'report_%'
             AND body - 'id' - 'latest_payment_attempt_record' IS DISTINCT FROM d_res - 'id' - 'latest_payment_attempt_record'
            THEN 'request() body differs from the function''s (ids aside)'
        WHEN status <> 200 AND body #>> '{error,message}' IS DISTINCT FROM d_msg
            THEN 'request() error.message differs from the function''s'
        -- (GET DIAGNOSTICS gives '' for no column name and for an empty one)
        WHEN status <> 200 AND coalesce(body #>> '{error,param}', '') IS DISTINCT FROM d_col
            THEN 'request() error.param differs from the function''s'
        WHEN status <> 200 AND d_det ~ '^[a-z0-9_]{1,64}$' AND d_det <> 'idempotency_error'
             AND body #>> '{error,code}' IS DISTINCT FROM d_det
            THEN 'request() error.code differs from the function''s'
    END $$;

CREATE OR REPLACE PROCEDURE fuzz.run(seed bigint, from_iter bigint, to_iter bigint,
                                     batch int DEFAULT 250, loud bool DEFAULT false)
LANGUAGE plpgsql AS $$
DECLARE
    have_form bool := to_regproc('payment_records.form_to_jsonb') IS NOT NULL;
    have_request bool := to_regproc('payment_records.request') IS NOT NULL;
    fns text[] := ARRAY['report_payment', 'report_refund', 'report_payment_attempt',
        'report_payment_attempt_canceled', 'report_payment_attempt_failed',
        'report_payment_attempt_guaranteed', 'report_payment_attempt_informational',
        'retrieve_payment_record', 'retrieve_payment_attempt_record',
        'list_payment_records', 'list_payment_attempt_records'];
    no_id text[] := ARRAY['report_payment', 'list_payment_records', 'list_payment_attempt_records'];
    allowed text[];
    recs text[]; pars text[];
    counts jsonb := '{}';
    i bigint; k int;
    fn text; label text; target text; id text; p jsonb; key text;
    body text; method text; path text; chain text; expect jsonb; compare bool;
    res jsonb; status int; bad text; gen_ok bool;
    st text; msg text; det text; col text;
    d_state text; d_res jsonb; d_msg text; d_col text; d_det text;
    idem jsonb := '{}'; sig text;
    t0 timestamptz := clock_timestamp();
BEGIN
    SELECT array_agg(a.fn || ':' || a.sqlstate) INTO allowed FROM fuzz.allowed a;
    i := from_iter;
    WHILE i <= to_iter LOOP
        -- batch start: the ids come from what is committed, so a replay of
        -- the batch sees the same ones
        IF (i - from_iter) % batch = 0 THEN
            SELECT coalesce(array_agg(r.id ORDER BY r.seq DESC), '{}') INTO recs
              FROM (SELECT x.id, x.seq FROM payment_records.payment_record x ORDER BY x.seq DESC LIMIT 100) r;
            SELECT coalesce(array_agg(a.id ORDER BY a.record_seq DESC, a.attempt DESC), '{}') INTO pars
              FROM (SELECT x.id, x.record_seq, x.attempt FROM payment_records.payment_attempt_record x
                    ORDER BY x.record_seq DESC, x.attempt DESC LIMIT 30) a;
        END IF;

        PERFORM setseed(fuzz.iter_seed(seed, i));
        PERFORM set_config('role', CASE WHEN random() < 0.07 THEN 'fuzz_live' ELSE 'none' END, true);
        key := fuzz.idem_key();
        id := NULL; p := NULL; body := NULL; method := NULL; path := NULL;
        chain := NULL; expect := NULL; compare := false; target := NULL;
        d_state := NULL; d_res := NULL; d_msg := NULL; d_col := NULL; d_det := NULL;

        gen_ok := true;
        BEGIN		-- generation: an error here is the harness's, counted apart
            k := fuzz.r(100);
            IF k >= 70 AND k < 86 AND NOT have_form THEN k := fuzz.r(70); END IF;
            IF k >= 86 AND NOT have_request THEN k := fuzz.r(70); END IF;
            fn := CASE
                WHEN k < 26 THEN 'report_payment'
                WHEN k < 40 THEN 'report_refund'
                WHEN k < 56 THEN fns[3 + fuzz.r(5)]
                WHEN k < 70 THEN fns[1 + fuzz.r(11)]
                WHEN k < 86 THEN 'form_to_jsonb'
                ELSE 'request' END;

            IF fn = 'form_to_jsonb' THEN
                target := fns[CASE WHEN fuzz.chance(0.5) THEN 1 ELSE 1 + fuzz.r(11) END];
                k := fuzz.r(100);
                IF k < 25 THEN
                    body := fuzz.rform();
                ELSIF k < 45 THEN
                    -- a valid body, faithfully encoded: must decode to its strings
                    p := fuzz.params_for(target, recs[1]);
                    body := fuzz.to_form(p, NULL, true);
                    expect := fuzz.stringify(p);
                ELSE
                    body := fuzz.to_form(fuzz.params_for(target, recs[1]));
                    IF fuzz.chance(0.8) THEN body := fuzz.mutate_text(body, 1 + fuzz.r(4)); END IF;
                END IF;
                IF fuzz.chance(0.6) THEN chain := target; END IF;
                IF NOT target = ANY (no_id) THEN id := fuzz.rid(recs, pars); END IF;
            ELSIF fn = 'request' THEN
                target := fns[1 + fuzz.r(11)];
                id := fuzz.rid(recs, pars);
                p := (fuzz.params(target, recs[1])).p;
                method := CASE WHEN target LIKE 'report_%' THEN 'POST' ELSE 'GET' END;
                path := fuzz.endpoint_path(target, id);
                compare := key IS NULL AND (target = ANY (no_id) OR id ~ '^[A-Za-z0-9_]+$')
                           -- a retrieve takes no params; request() validates them (expand only)
                           AND (target NOT LIKE 'retrieve_%' OR p IS NULL OR p = '{}');
                IF fuzz.chance(0.15) THEN method := fuzz.rmethod(); compare := false; END IF;
                IF fuzz.chance(0.2) THEN path := fuzz.mutate_path(path); compare := false; END IF;
            ELSE
                IF NOT fn = ANY (no_id) THEN id := fuzz.rid(recs, pars); END IF;
                IF fn NOT LIKE 'retrieve_%' THEN
                    p := (fuzz.params(fn, recs[1 + fuzz.r(greatest(cardinality(recs), 1))])).p;
                END IF;
            END IF;
        EXCEPTION WHEN OTHERS THEN
            GET STACKED DIAGNOSTICS st = RETURNED_SQLSTATE, msg = MESSAGE_TEXT, det = PG_EXCEPTION_CONTEXT;
            gen_ok := false;
            label := 'generator ' || st;
            INSERT INTO fuzz.gen_error SELECT seed, i, st, msg, det
             WHERE (SELECT count(*) FROM fuzz.gen_error) < 20;
        END;

        IF gen_ok THEN
            label := fn;
            IF loud THEN
                RAISE NOTICE 'fuzz-call % %', i, fuzz.call_sql(fn, id, p, key, body, method, path);
            ELSE
                RAISE NOTICE 'fuzz-iter %', i;		-- names the call of a crash that a replay may not repeat
            END IF;
            BEGIN
                bad := NULL;
                IF fn = 'form_to_jsonb' THEN
                    res := payment_records.form_to_jsonb(body);
                    bad := fuzz.check_result(fn, res);
                    IF bad IS NULL AND expect IS NOT NULL AND res IS DISTINCT FROM expect THEN
                        bad := 'form round trip: expected ' || left(expect::text, 1000);
                    END IF;
                ELSIF fn = 'request' THEN
                    IF compare THEN
                        BEGIN
                            BEGIN
                                d_res := fuzz.call(target, id, p, key);
                                d_state := 'ok';
                            EXCEPTION WHEN OTHERS THEN
                                GET STACKED DIAGNOSTICS d_state = RETURNED_SQLSTATE, d_msg = MESSAGE_TEXT,
                                    d_col = COLUMN_NAME, d_det = PG_EXCEPTION_DETAIL;
                            END;
                            RAISE SQLSTATE 'ZZ999';		-- roll the direct call back
                        EXCEPTION WHEN SQLSTATE 'ZZ999' THEN NULL;
                        END;
                    END IF;
                    SELECT r.status, r.body INTO status, res
                      FROM payment_records.request(method, path, p, key) r;
                    label := 'request:' || coalesce(status::text, 'null');
                    bad := fuzz.check_response(status, res);
                    IF bad IS NULL AND compare THEN
                        bad := fuzz.compare_request(target, d_state, d_res, d_msg, d_col, d_det, status, res);
                    END IF;
                ELSE
                    res := fuzz.call(fn, id, p, key);
                    bad := fuzz.check_result(fn, res);
                    IF bad IS NULL AND fn = 'report_payment' THEN
                        bad := fuzz.check_payment(p, res);
                        IF cardinality(recs) < 200 THEN recs := (res->>'id') || recs; END IF;
                    END IF;
                    -- the same key, endpoint and params again: the same answer
                    -- (writes only: reads take no key)
                    IF bad IS NULL AND key IS NOT NULL AND fn LIKE 'report_%' THEN
                        sig := concat_ws('|', fn, id, p::text, fuzz.livemode()::text);
                        IF idem ? key AND idem #>> ARRAY[key, 'sig'] = sig AND idem->key->'res' IS DISTINCT FROM res THEN
                            bad := 'idempotent replay answered differently: first ' || left((idem->key->'res')::text, 1000);
                        ELSIF NOT idem ? key THEN
                            idem := idem || jsonb_build_object(key, jsonb_build_object('sig', sig, 'res', res));
                        END IF;
                    END IF;
                END IF;
                -- a decoded form goes on to its endpoint
                IF bad IS NULL AND chain IS NOT NULL THEN
                    fn := chain; label := 'form->' || chain; p := res;
                    IF loud THEN
                        RAISE NOTICE 'fuzz-call % %', i, fuzz.call_sql(fn, id, p, key, NULL, NULL, NULL);
                    END IF;
                    res := fuzz.call(fn, id, p, key);
                    bad := fuzz.check_result(fn, res);
                END IF;
                IF bad IS NOT NULL THEN
                    INSERT INTO fuzz.failure VALUES (seed, i, label, 'ORACLE', bad, left(res::text, 2000),
                        fuzz.call_sql(fn, id, p, key, body, method, path));
                    label := label || ' ORACLE';
                ELSE
                    label := label || ' ok';
                END IF;
            EXCEPTION WHEN OTHERS THEN
                GET STACKED DIAGNOSTICS st = RETURNED_SQLSTATE, msg = MESSAGE_TEXT,
                    det = PG_EXCEPTION_DETAIL, col = COLUMN_NAME;
                label := label || ' ' || st;
                IF NOT ('*:' || st = ANY (allowed) OR fn || ':' || st = ANY (allowed)) THEN
                    INSERT INTO fuzz.failure VALUES (seed, i, fn, st, msg, det,
                        fuzz.call_sql(fn, id, p, key, body, method, path));
                END IF;
            END;
        END IF;
        counts := jsonb_set(counts, ARRAY[label], to_jsonb(coalesce((counts->>label)::bigint, 0) + 1));

        IF (i - from_iter) % batch = batch - 1 OR i = to_iter THEN
            INSERT INTO fuzz.counts
                SELECT split_part(c.key, ' ', 1), split_part(c.key, ' ', 2), c.value::bigint
                FROM jsonb_each_text(counts) c
            ON CONFLICT ON CONSTRAINT counts_pkey DO UPDATE SET n = fuzz.counts.n + excluded.n;
            counts := '{}';
            INSERT INTO fuzz.progress VALUES (seed, i)
                ON CONFLICT ON CONSTRAINT progress_pkey DO UPDATE SET done = excluded.done;
            COMMIT;
            IF NOT loud AND (i - from_iter + 1) % 5000 < batch THEN
                RAISE NOTICE 'fuzz-progress seed=% done=% (%/s)', seed, i,
                    round((i - from_iter + 1) / greatest(extract(epoch FROM clock_timestamp() - t0), 0.001));
            END IF;
        END IF;
        i := i + 1;
    END LOOP;
END $$;
