#!/bin/bash
# test/crossdump.sh OUTDIR: a dump taken on PostgreSQL 15, for test/pgroot.sh
# to restore into 17 and 18 (PR_CROSS_DUMP=OUTDIR; test/all.sh does both).
# Run as root.
#
# On a throwaway cluster of a private copy of the host's 15 server, with
# this tree built into it (test/fuzz/lib.sh: nothing is installed into the
# system directories), CREATE EXTENSION payment_records and write, through
# the API and in both modes (live: a member of payment_records_live and
# payment_records_writer, by SET ROLE), a data set like a user's: payments
# guaranteed, pending, failed and canceled, records with several attempts,
# an informational update, partial and full refunds, refund references
# (the same ones in both modes, and one of 3,000 characters), metadata in
# several currencies, idempotency keys (answers, and errors stored through
# request()), events.  Every call made under a key is kept, with its
# answer, in a table of the user's own (public.xd_calls), dumped with the
# rest.  Then it writes into OUTDIR:
#
#   pr.dump            pg_dump -Fc of the database
#   snapshot.sql       prints every record (retrieve_payment_record) and
#                      its attempts (list_payment_attempt_records), and the
#                      list of records, per mode (creating the live role
#                      xd_live if missing), the row count and an md5 of the
#                      rows of every table, and the sequences; ordered
#   expected.txt       snapshot.sql's output on the dumped database
#   after.sql          checks on the restored database: the invariants,
#                      every key of xd_calls replayed (the stored answer,
#                      nothing written), an over-refund through request()
#                      (400), dumped references reused (23505, the
#                      3,000-character one too), a direct over-refund
#                      INSERT (23514), new payments and refunds in both
#                      modes, the invariants again; output independent of
#                      the ids, so that
#   after_expected.txt is written here by hand (reviewed line by line)
#
# Before it is handed over, the dump is restored the documented way
# (pg_restore --single-transaction) into a second database of the same
# 15 cluster and both scripts are checked there, so that a failure on 17
# or 18 is about the version, not about the scripts.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
src=$(cd "$here/.." && pwd)
[ $# -eq 1 ] || { echo "usage: $0 OUTDIR" >&2; exit 2; }
[ "$(id -u)" = 0 ] || { echo "crossdump: run as root" >&2; exit 2; }
out=$1
mkdir -p "$out" || exit 2
out=$(cd "$out" && pwd)
# postgres reads the scripts in it (mktemp -d makes it 0700)
chmod a+rx "$out" || exit 2
rm -f "$out"/pr.dump "$out"/snapshot.sql "$out"/expected.txt "$out"/after.sql "$out"/after_expected.txt
source "$here/fuzz/lib.sh"
trap pr_cleanup EXIT

bash "$here/deps.sh" || exit 2
echo "== crossdump: building into a private copy of the PostgreSQL $PR_PGVER server"
pr_tree_new
pr_stage "$src"
pr_build PG_CFLAGS=-Werror
pr_cluster_start

psql_db() {	# psql_db DB ARGS...: psql as postgres, stop at the first error
    local db=$1; shift
    pr_as_postgres psql -X -q -v ON_ERROR_STOP=1 -d "$db" "$@"
}

# ---------------------------------------------------------------------
# The data set
# ---------------------------------------------------------------------
pr_as_postgres createdb xd || exit 1
echo "== crossdump: writing the data set through the API, in both modes"
psql_db xd <<'EOF' || { echo "!! writing the data set failed"; exit 1; }
SET client_min_messages = warning;
CREATE EXTENSION payment_records;
DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'xd_live') THEN
        CREATE ROLE xd_live NOLOGIN IN ROLE payment_records_live, payment_records_writer;
    END IF;
END $$;

-- The user's own table: every call made under an idempotency key, with
-- its answer (dumped, and replayed after the restore)
CREATE TABLE public.xd_calls (
    n        serial PRIMARY KEY,
    livemode boolean NOT NULL,
    key      text NOT NULL,
    fn       text NOT NULL,
    id       text,
    method   text,
    path     text,
    params   jsonb NOT NULL,
    status   integer,
    result   jsonb NOT NULL
);
GRANT SELECT, INSERT ON public.xd_calls TO PUBLIC;
GRANT USAGE ON SEQUENCE public.xd_calls_n_seq TO PUBLIC;

-- helpers, dropped before the dump
CREATE SCHEMA xd;
GRANT USAGE ON SCHEMA xd TO PUBLIC;
CREATE FUNCTION xd.live() RETURNS boolean LANGUAGE sql AS
    $$ SELECT current_setting('xd.mode') = 'live' $$;
-- fn(id, params, key) or fn(params, key), logged
CREATE FUNCTION xd.call(fn text, id text, params jsonb, key text) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE r jsonb;
BEGIN
    IF id IS NULL THEN
        EXECUTE format('SELECT payment_records.%I($1, $2)', fn) INTO r USING params, key;
    ELSE
        EXECUTE format('SELECT payment_records.%I($1, $2, $3)', fn) INTO r USING id, params, key;
    END IF;
    INSERT INTO public.xd_calls (livemode, key, fn, id, params, result)
        VALUES (xd.live(), key, fn, id, params, r);
    RETURN r;
END $$;
-- request(), logged with its status
CREATE FUNCTION xd.req(method text, path text, params jsonb, key text) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE st int; b jsonb;
BEGIN
    SELECT status, body INTO st, b FROM payment_records.request(method, path, params, key);
    INSERT INTO public.xd_calls (livemode, key, fn, method, path, params, status, result)
        VALUES (xd.live(), key, 'request', method, path, params, st, b);
    RETURN jsonb_build_object('status', st, 'body', b);
END $$;
CREATE FUNCTION xd.pay(outcome text, n int) RETURNS jsonb LANGUAGE sql AS $$
    SELECT jsonb_build_object(
        'amount_requested', jsonb_build_object(
            'currency', (ARRAY['usd', 'jpy', 'eur', 'kwd'])[n % 4 + 1], 'value', 1000 * n),
        'initiated_at', 1730253453 + n,
        'description', 'crossdump ' || outcome || ' ' || n,
        'customer_presence', CASE WHEN n % 2 = 0 THEN 'on_session' ELSE 'off_session' END,
        'metadata', jsonb_build_object('n', n::text, 'kind', outcome, 'note', 'it''s "#' || n || '"'),
        'customer_details', jsonb_build_object('email', 'c' || n || '@example.com', 'name', 'Customer ' || n),
        'payment_method_details', jsonb_build_object('payment_method', 'pm_' || n,
            'billing_details', jsonb_build_object('name', 'N ' || n)),
        'processor_details', jsonb_build_object('type', 'custom',
            'custom', jsonb_build_object('payment_reference', 'pay-ref-' || n)))
        || CASE WHEN n % 5 = 0 THEN jsonb_build_object('shipping_details',
                jsonb_build_object('name', 'Ship ' || n, 'address', jsonb_build_object('city', 'Lyon', 'country', 'FR')))
           ELSE '{}'::jsonb END
        || CASE outcome WHEN 'pending' THEN '{}'::jsonb
           ELSE jsonb_build_object('outcome', outcome, outcome,
                jsonb_build_object(outcome || '_at', 1730253460 + n)) END
$$;
-- refund params; amount NULL: all that remains
CREATE FUNCTION xd.refund(id text, amount bigint, ref text) RETURNS jsonb LANGUAGE sql AS $$
    SELECT jsonb_build_object('outcome', 'refunded',
        'processor_details', jsonb_build_object('type', 'custom')
            || CASE WHEN ref IS NULL THEN '{}'::jsonb
               ELSE jsonb_build_object('custom', jsonb_build_object('refund_reference', ref)) END,
        'initiated_at', 1730254000, 'refunded', jsonb_build_object('refunded_at', 1730254010),
        'metadata', jsonb_build_object('refund', left(coalesce(ref, 'none'), 40)))
        || CASE WHEN amount IS NULL THEN '{}'::jsonb
           ELSE jsonb_build_object('amount', jsonb_build_object(
                'currency', (SELECT currency FROM payment_records.payment_record p WHERE p.id = refund.id),
                'value', amount)) END
$$;
CREATE FUNCTION xd.load() RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    m text := current_setting('xd.mode');
    i int;
    id text;
    full_id text;
    pending_id text;
BEGIN
    FOR i IN 1 .. 8 LOOP
        -- pending, under a key
        pending_id := xd.call('report_payment', NULL, xd.pay('pending', i), m || '-pay-pending-' || i) ->> 'id';
        -- guaranteed, under a key; partial refunds (one with a reference,
        -- the same in both modes; one under a key); even i: the rest too
        id := xd.call('report_payment', NULL, xd.pay('guaranteed', i), m || '-pay-guaranteed-' || i) ->> 'id';
        PERFORM payment_records.report_refund(id, xd.refund(id, 100 * i, 'ref-' || i));
        PERFORM xd.call('report_refund', id, xd.refund(id, 50, NULL), m || '-refund-' || i);
        IF i % 2 = 0 THEN
            PERFORM xd.call('report_refund', id, xd.refund(id, NULL, 'full-' || i), m || '-refund-full-' || i);
            full_id := id;
        END IF;
        -- failed, then a second attempt (under a key), guaranteed (under a
        -- key), refunded in part
        id := payment_records.report_payment(xd.pay('failed', 10 + i)) ->> 'id';
        PERFORM xd.call('report_payment_attempt', id, jsonb_build_object(
            'initiated_at', 1730253500 + i, 'description', 'second try',
            'payment_method_details', jsonb_build_object('payment_method', 'pm_retry_' || i),
            'metadata', jsonb_build_object('try', '2')), m || '-attempt-' || i);
        PERFORM xd.call('report_payment_attempt_guaranteed', id,
            jsonb_build_object('guaranteed_at', 1730253600 + i), m || '-guaranteed-' || i);
        PERFORM payment_records.report_refund(id, xd.refund(id, 10, NULL));
        -- pending, then canceled (under a key)
        id := payment_records.report_payment(xd.pay('pending', 20 + i)) ->> 'id';
        PERFORM xd.call('report_payment_attempt_canceled', id, jsonb_build_object(
            'canceled_at', 1730253700 + i, 'metadata', jsonb_build_object('why', 'gone')),
            m || '-canceled-' || i);
        -- every third: pending, failed, then a second attempt left pending
        IF i % 3 = 0 THEN
            id := payment_records.report_payment(xd.pay('pending', 30 + i)) ->> 'id';
            PERFORM payment_records.report_payment_attempt_failed(id,
                jsonb_build_object('failed_at', 1730253800 + i));
            PERFORM payment_records.report_payment_attempt(id,
                jsonb_build_object('initiated_at', 1730253900 + i));
        END IF;
        -- an informational update (under a key)
        id := payment_records.report_payment(xd.pay('pending', 40 + i)) ->> 'id';
        PERFORM xd.call('report_payment_attempt_informational', id, jsonb_build_object(
            'description', 'updated', 'metadata', jsonb_build_object('n', '', 'seen', 'yes'),
            'shipping_details', jsonb_build_object('name', 'Moved ' || i)), m || '-info-' || i);
    END LOOP;
    -- a 3,000-character reference (the same in both modes)
    id := payment_records.report_payment(xd.pay('guaranteed', 50)) ->> 'id';
    PERFORM payment_records.report_refund(id, xd.refund(id, 30, repeat('x', 2990) || 'crossdump!'));
    -- through request(), under keys: an answer, and two stored errors (an
    -- over-refund of a fully refunded record, a refund of a pending one)
    PERFORM xd.req('POST', '/v1/payment_records/report_payment', xd.pay('guaranteed', 60),
        m || '-request-pay');
    PERFORM xd.req('POST', '/v1/payment_records/' || full_id || '/report_refund',
        '{"outcome": "refunded", "processor_details": {"type": "custom"}, "amount": {"currency": "usd", "value": 10}}',
        m || '-request-over-refund');
    PERFORM xd.req('POST', '/v1/payment_records/' || pending_id || '/report_refund',
        '{"outcome": "refunded", "processor_details": {"type": "custom"}}',
        m || '-request-pending-refund');
END $$;

SET xd.mode = 'test';
DO $$ BEGIN PERFORM xd.load(); END $$;
SET ROLE xd_live;
SET xd.mode = 'live';
DO $$ BEGIN PERFORM xd.load(); END $$;
RESET ROLE;
DROP SCHEMA xd CASCADE;
-- the data set is what it was meant to be
DO $$
DECLARE bad text;
BEGIN
    SELECT string_agg(format('%s %s %s: %s', livemode, key, status, result->'error'->>'code'), '; ')
        INTO bad FROM public.xd_calls
        WHERE fn = 'request' AND status <> CASE WHEN key LIKE '%-request-pay' THEN 200 ELSE 400 END;
    IF bad IS NOT NULL THEN RAISE 'unexpected answers from request(): %', bad; END IF;
    IF (SELECT count(DISTINCT livemode) FROM payment_records.payment_record) <> 2 THEN
        RAISE 'the data set is not in both modes';
    END IF;
    IF (SELECT count(*) FROM payment_records.refund WHERE length(refund_reference) = 3000) <> 2 THEN
        RAISE 'no 3,000-character reference in each mode';
    END IF;
END $$;
EOF

# ---------------------------------------------------------------------
# snapshot.sql: what every object looks like; compared with the source
# ---------------------------------------------------------------------
cat >"$out/snapshot.sql" <<'EOF'
-- payment_records cross-version snapshot (test/crossdump.sh): every record
-- and its attempts, per mode, and every table's rows; ordered.
\set QUIET on
\set ON_ERROR_STOP on
\pset format unaligned
\pset tuples_only on
\pset pager off
SET client_min_messages = warning;
SET TimeZone = 'UTC';
SET DateStyle = 'ISO, YMD';
SET IntervalStyle = 'postgres';
SET extra_float_digits = 1;
SET bytea_output = 'hex';
DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'xd_live') THEN
        CREATE ROLE xd_live NOLOGIN IN ROLE payment_records_live, payment_records_writer;
    END IF;
END $$;

-- test mode (a superuser is not live), then live mode (xd_live)
SELECT 'mode ' || CASE WHEN payment_records.caller_livemode() THEN 'live' ELSE 'test' END;
SELECT 'record ' || id || ' ' || payment_records.retrieve_payment_record(id)::text
FROM payment_records.payment_record WHERE NOT livemode ORDER BY id;
SELECT 'attempts ' || id || ' ' || payment_records.list_payment_attempt_records(
           jsonb_build_object('payment_record', id, 'limit', 100))::text
FROM payment_records.payment_record WHERE NOT livemode ORDER BY id;
SELECT 'list ' || payment_records.list_payment_records('{"limit": 100}')::text;

SET ROLE xd_live;
SELECT 'mode ' || CASE WHEN payment_records.caller_livemode() THEN 'live' ELSE 'test' END;
SELECT 'record ' || id || ' ' || payment_records.retrieve_payment_record(id)::text
FROM payment_records.payment_record WHERE livemode ORDER BY id;
SELECT 'attempts ' || id || ' ' || payment_records.list_payment_attempt_records(
           jsonb_build_object('payment_record', id, 'limit', 100))::text
FROM payment_records.payment_record WHERE livemode ORDER BY id;
SELECT 'list ' || payment_records.list_payment_records('{"limit": 100}')::text;
RESET ROLE;

-- every table (a superuser sees both modes): rows, and an md5 of the rows
SELECT 'table payment_record ' || count(*) || ' ' || md5(coalesce(string_agg(t::text, E'\n' ORDER BY t::text), ''))
FROM payment_records.payment_record t;
SELECT 'table payment_attempt_record ' || count(*) || ' ' || md5(coalesce(string_agg(t::text, E'\n' ORDER BY t::text), ''))
FROM payment_records.payment_attempt_record t;
SELECT 'table refund ' || count(*) || ' ' || md5(coalesce(string_agg(t::text, E'\n' ORDER BY t::text), ''))
FROM payment_records.refund t;
SELECT 'table idempotency_key ' || count(*) || ' ' || md5(coalesce(string_agg(t::text, E'\n' ORDER BY t::text), ''))
FROM payment_records.idempotency_key t;
SELECT 'table event ' || count(*) || ' ' || md5(coalesce(string_agg(t::text, E'\n' ORDER BY t::text), ''))
FROM payment_records.event t;
SELECT 'table xd_calls ' || count(*) || ' ' || md5(coalesce(string_agg(t::text, E'\n' ORDER BY t::text), ''))
FROM public.xd_calls t;
SELECT 'sequence payment_record_seq_seq ' || last_value || ' ' || is_called FROM payment_records.payment_record_seq_seq;
SELECT 'sequence event_id_seq ' || last_value || ' ' || is_called FROM payment_records.event_id_seq;
SELECT 'refunds with a reference ' || count(*) || ', longest ' || max(length(refund_reference))
FROM payment_records.refund WHERE refund_reference IS NOT NULL;
EOF

# ---------------------------------------------------------------------
# after.sql: the restored database keeps every promise; output that does
# not depend on the ids
# ---------------------------------------------------------------------
cat >"$out/after.sql" <<'EOF'
-- payment_records cross-version checks after a restore (test/crossdump.sh).
-- Output does not depend on the ids: compared with after_expected.txt.
\set QUIET on
\set ON_ERROR_STOP on
\pset format unaligned
\pset tuples_only on
\pset pager off
SET client_min_messages = warning;
SET TimeZone = 'UTC';
DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'xd_live') THEN
        CREATE ROLE xd_live NOLOGIN IN ROLE payment_records_live, payment_records_writer;
    END IF;
END $$;

-- q's SQLSTATE, or 'ok'
CREATE FUNCTION pg_temp.sqlstate_of(q text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE q;
    RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
    RETURN SQLSTATE;
END $$;

-- rows of every table (a superuser sees both modes)
CREATE FUNCTION pg_temp.counts() RETURNS text LANGUAGE sql AS $$
    SELECT concat_ws(' ',
        (SELECT count(*) FROM payment_records.payment_record),
        (SELECT count(*) FROM payment_records.payment_attempt_record),
        (SELECT count(*) FROM payment_records.refund),
        (SELECT count(*) FROM payment_records.idempotency_key),
        (SELECT count(*) FROM payment_records.event))
$$;

-- the invariants over the tables (as test/perl's check_invariants): each
-- line must say 0
CREATE FUNCTION pg_temp.invariants(label text) RETURNS SETOF text LANGUAGE sql AS $$
    WITH agg AS (
        SELECT p.seq, p.amount,
               coalesce(sum(f.amount), 0) AS refunded,
               coalesce(max(f.refunded_total), 0) AS head_total,
               count(f.refund_no) AS n,
               coalesce(max(f.refund_no), 0) AS max_no,
               coalesce(min(f.refund_no), 1) AS min_no,
               count(*) FILTER (WHERE f.livemode <> p.livemode) AS wrong_mode,
               count(*) FILTER (WHERE f.amount <= 0) AS non_positive
        FROM payment_records.payment_record p
        LEFT JOIN payment_records.refund f ON f.record_seq = p.seq
        GROUP BY p.seq, p.amount)
    SELECT label || ': records refunded beyond their amount ' || count(*) FILTER (WHERE refunded > amount) FROM agg
    UNION ALL
    SELECT label || ': chain heads not the sum of their refunds ' || count(*) FILTER (WHERE head_total <> refunded) FROM agg
    UNION ALL
    SELECT label || ': refund chains with gaps ' || count(*) FILTER (WHERE n <> max_no OR min_no <> 1) FROM agg
    UNION ALL
    SELECT label || ': refunds in another mode than their record''s ' || sum(wrong_mode) FROM agg
    UNION ALL
    SELECT label || ': refunds not positive ' || sum(non_positive) FROM agg
    UNION ALL
    SELECT label || ': refunded_total not the running sum ' || count(*) FROM (
        SELECT refunded_total, sum(amount) OVER (PARTITION BY record_seq ORDER BY refund_no) AS running
        FROM payment_records.refund) x WHERE refunded_total <> running
    UNION ALL
    SELECT label || ': references used twice in a mode ' || count(*) FROM (
        SELECT 1 FROM payment_records.refund WHERE refund_reference IS NOT NULL
        GROUP BY livemode, refund_reference HAVING count(*) > 1) d
    UNION ALL
    SELECT label || ': refunded records whose latest attempt is not guaranteed ' || count(DISTINCT f.record_seq)
    FROM payment_records.refund f
    WHERE (SELECT a.status FROM payment_records.payment_attempt_record a
           WHERE a.record_seq = f.record_seq ORDER BY a.attempt DESC LIMIT 1) IS DISTINCT FROM 'guaranteed'
    UNION ALL
    SELECT label || ': records without an attempt ' || count(*) FROM payment_records.payment_record p
    WHERE NOT EXISTS (SELECT 1 FROM payment_records.payment_attempt_record a WHERE a.record_seq = p.seq)
    UNION ALL
    SELECT label || ': attempts numbered with gaps ' || count(*) FROM (
        SELECT record_seq FROM payment_records.payment_attempt_record
        GROUP BY record_seq HAVING max(attempt) <> count(*) OR min(attempt) <> 1) g
    UNION ALL
    SELECT label || ': stored answers naming no record of their mode ' || count(*)
    FROM payment_records.idempotency_key k
    WHERE k.response ? 'id' AND NOT EXISTS (SELECT 1 FROM payment_records.payment_record p
        WHERE p.id = k.response ->> 'id' AND p.livemode = k.livemode)
$$;

-- retrieve_payment_record's amounts against the tables, in the caller's
-- mode: how many records disagree
CREATE FUNCTION pg_temp.api_mismatches() RETURNS bigint LANGUAGE sql AS $$
    SELECT count(*) FROM (
        SELECT p.id, coalesce((SELECT max(refunded_total) FROM payment_records.refund f
                               WHERE f.record_seq = p.seq), 0) AS refunded,
               payment_records.retrieve_payment_record(p.id) AS obj
        FROM payment_records.payment_record p
        WHERE p.livemode = payment_records.caller_livemode()) x
    WHERE (obj->'amount_refunded'->>'value')::bigint IS DISTINCT FROM refunded
       OR (obj->'amount_refunded'->>'value')::bigint > (obj->'amount_guaranteed'->>'value')::bigint
       OR obj->'amount_refunded'->>'currency' IS DISTINCT FROM obj->'amount'->>'currency'
$$;

-- replay every call the dump's xd_calls made under a key, in the
-- caller's mode: each must answer what it answered then (and, for a
-- direct call, exactly the stored response)
CREATE FUNCTION pg_temp.replay() RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    live boolean := payment_records.caller_livemode();
    c record;
    r jsonb;
    st int;
    n int := 0;
    same int := 0;
    stored int := 0;
    errors int := 0;
    keys bigint;
BEGIN
    FOR c IN SELECT * FROM public.xd_calls WHERE livemode = live ORDER BY n LOOP
        n := n + 1;
        IF c.fn = 'request' THEN
            SELECT status, body INTO st, r FROM payment_records.request(c.method, c.path, c.params, c.key);
            IF st = c.status AND r::text = c.result::text THEN same := same + 1; END IF;
            IF st <> 200 THEN errors := errors + 1; END IF;
        ELSE
            IF c.id IS NULL THEN
                EXECUTE format('SELECT payment_records.%I($1, $2)', c.fn) INTO r USING c.params, c.key;
            ELSE
                EXECUTE format('SELECT payment_records.%I($1, $2, $3)', c.fn) INTO r USING c.id, c.params, c.key;
            END IF;
            IF r::text = c.result::text THEN same := same + 1; END IF;
            IF r::text = (SELECT k.response::text FROM payment_records.idempotency_key k
                          WHERE k.livemode = live AND k.key = c.key) THEN
                stored := stored + 1;
            END IF;
        END IF;
    END LOOP;
    SELECT count(*) INTO keys FROM payment_records.idempotency_key k WHERE k.livemode = live;
    RETURN format('%s: %s keys in the dump, %s replayed, %s answered as before (%s stored errors), %s direct calls answered the stored response',
                  CASE WHEN live THEN 'live' ELSE 'test' END, keys, n, same, errors, stored);
END $$;

SELECT 'extension ' || extversion FROM pg_extension WHERE extname = 'payment_records';
SELECT pg_temp.counts() AS counts_restored \gset
SELECT pg_temp.invariants('restored');
SELECT 'test: records disagreeing with retrieve_payment_record ' || pg_temp.api_mismatches();
SET ROLE xd_live;
SELECT 'live: records disagreeing with retrieve_payment_record ' || pg_temp.api_mismatches();
RESET ROLE;

-- every dumped idempotency key replays, and writes nothing
SELECT 'replay ' || pg_temp.replay();
SET ROLE xd_live;
SELECT 'replay ' || pg_temp.replay();
RESET ROLE;
SELECT 'replays wrote nothing: ' || (pg_temp.counts() = :'counts_restored');

-- an over-refund of a fully refunded record, through request(): 400
SELECT 'over-refund of a fully refunded record: ' || r.status || ' ' || (r.body->'error'->>'type')
       || ' ' || (r.body->'error'->>'param')
FROM (SELECT p.id, p.currency FROM payment_records.refundable p
      WHERE NOT p.livemode AND p.amount_remaining = 0 AND p.amount_refunded > 0
      ORDER BY p.id LIMIT 1) f,
     payment_records.request('POST', '/v1/payment_records/' || f.id || '/report_refund',
         jsonb_build_object('outcome', 'refunded', 'processor_details', '{"type": "custom"}'::jsonb,
             'amount', jsonb_build_object('currency', f.currency, 'value', 10))) r;
-- and by a direct INSERT (a superuser's, triggers and all): 23514
SELECT 'direct over-refund INSERT: ' || pg_temp.sqlstate_of(format(
    'INSERT INTO payment_records.refund (record_seq, refund_no, amount, refunded_total, livemode, created)
     VALUES (%s, %s, 10, %s, false, now())', f.record_seq, f.refund_no + 1, f.refunded_total + 10))
FROM (SELECT DISTINCT ON (r.record_seq) r.record_seq, r.refund_no, r.refunded_total
      FROM payment_records.refund r JOIN payment_records.refundable p
           ON p.id = (SELECT id FROM payment_records.payment_record WHERE seq = r.record_seq)
      WHERE NOT r.livemode AND p.amount_remaining = 0
      ORDER BY r.record_seq, r.refund_no DESC LIMIT 1) f;
SELECT 'nothing written: ' || (pg_temp.counts() = :'counts_restored');

-- new writes, in each mode: a payment, a refund; dumped references
-- (the 3,000-character one too) are refused
CREATE FUNCTION pg_temp.new_writes() RETURNS SETOF text LANGUAGE plpgsql AS $$
DECLARE
    m text := CASE WHEN payment_records.caller_livemode() THEN 'live' ELSE 'test' END;
    p jsonb;
    r jsonb;
    id text;
    long_ref text := repeat('x', 2990) || 'crossdump!';
    params jsonb := '{"amount_requested": {"currency": "usd", "value": 5000},
        "initiated_at": 1764547200, "description": "after the restore",
        "payment_method_details": {"payment_method": "pm_after"},
        "metadata": {"restored": "yes"},
        "outcome": "guaranteed", "guaranteed": {"guaranteed_at": 1764547260}}';
BEGIN
    p := payment_records.report_payment(params, 'after-restore-pay');
    id := p ->> 'id';
    RETURN NEXT format('%s: new payment: %s livemode=%s guaranteed %s %s, newest: %s, numbered after every restored record: %s',
        m, p ->> 'object', p ->> 'livemode', p -> 'amount_guaranteed' ->> 'value',
        p -> 'amount_guaranteed' ->> 'currency',
        payment_records.list_payment_records('{"limit": 1}') -> 'data' -> 0 ->> 'id' = id,
        (SELECT seq FROM payment_records.payment_record WHERE payment_record.id = p ->> 'id')
            = (SELECT max(seq) FROM payment_records.payment_record));
    RETURN NEXT format('%s: its key replays: %s', m,
        payment_records.report_payment(params, 'after-restore-pay')::text = p::text);
    r := payment_records.report_refund(id, jsonb_build_object('outcome', 'refunded',
        'processor_details', jsonb_build_object('type', 'custom',
            'custom', jsonb_build_object('refund_reference', 'after-restore-ref')),
        'amount', '{"currency": "usd", "value": 1200}'::jsonb));
    RETURN NEXT format('%s: new refund: amount_refunded %s', m, r -> 'amount_refunded' ->> 'value');
    RETURN NEXT format('%s: dumped reference ref-1 reused: %s', m, pg_temp.sqlstate_of(format(
        'SELECT payment_records.report_refund(%L, %L)', id,
        '{"outcome": "refunded", "processor_details": {"type": "custom", "custom": {"refund_reference": "ref-1"}}, "amount": {"currency": "usd", "value": 1}}')));
    RETURN NEXT format('%s: dumped reference full-4 reused: %s', m, pg_temp.sqlstate_of(format(
        'SELECT payment_records.report_refund(%L, %L)', id,
        '{"outcome": "refunded", "processor_details": {"type": "custom", "custom": {"refund_reference": "full-4"}}, "amount": {"currency": "usd", "value": 1}}')));
    RETURN NEXT format('%s: dumped 3000-character reference reused: %s', m, pg_temp.sqlstate_of(format(
        'SELECT payment_records.report_refund(%L, %L)', id, jsonb_build_object('outcome', 'refunded',
            'processor_details', jsonb_build_object('type', 'custom',
                'custom', jsonb_build_object('refund_reference', long_ref)),
            'amount', '{"currency": "usd", "value": 1}'::jsonb))));
    RETURN NEXT format('%s: a new 3000-character reference: %s', m,
        payment_records.report_refund(id, jsonb_build_object('outcome', 'refunded',
            'processor_details', jsonb_build_object('type', 'custom',
                'custom', jsonb_build_object('refund_reference', repeat('y', 2990) || 'after-rest')),
            'amount', '{"currency": "usd", "value": 300}'::jsonb)) -> 'amount_refunded' ->> 'value');
    RETURN NEXT format('%s: over-refund of the new payment: %s', m, pg_temp.sqlstate_of(format(
        'SELECT payment_records.report_refund(%L, %L)', id,
        '{"outcome": "refunded", "processor_details": {"type": "custom"}, "amount": {"currency": "usd", "value": 3501}}')));
    RETURN NEXT format('%s: the rest of it: amount_refunded %s', m,
        payment_records.report_refund(id, '{"outcome": "refunded", "processor_details": {"type": "custom"}}')
            -> 'amount_refunded' ->> 'value');
END $$;
SELECT pg_temp.counts() AS counts_before_writes \gset
SELECT (SELECT max(id) FROM payment_records.event) AS last_event \gset
SELECT pg_temp.new_writes();
SET ROLE xd_live;
SELECT pg_temp.new_writes();
RESET ROLE;
SELECT 'events of the new writes: ' || string_agg(type || ' ' || livemode, ', ' ORDER BY id)
FROM payment_records.event WHERE id > :last_event;
SELECT 'rows written (records attempts refunds keys events): '
       || concat_ws(' ', VARIADIC (SELECT array_agg(a::bigint - b::bigint ORDER BY i)
          FROM unnest(string_to_array(pg_temp.counts(), ' '), string_to_array(:'counts_before_writes', ' '))
               WITH ORDINALITY u(a, b, i)));
SELECT pg_temp.invariants('after new writes');
SELECT 'test: records disagreeing with retrieve_payment_record ' || pg_temp.api_mismatches();
SET ROLE xd_live;
SELECT 'live: records disagreeing with retrieve_payment_record ' || pg_temp.api_mismatches();
RESET ROLE;
EOF

echo "== crossdump: snapshot of the source, and pg_dump -Fc"
psql_db xd -f "$out/snapshot.sql" >"$out/expected.txt" || { echo "!! snapshot.sql failed on the source"; exit 1; }
pr_as_postgres pg_dump -Fc -d xd >"$out/pr.dump" || { echo "!! pg_dump failed"; exit 1; }
printf '   %s\n' "$(grep -c '^record ' "$out/expected.txt") records," \
    "$(grep '^table ' "$out/expected.txt" | awk '{ print $2 ": " $3 }' | paste -sd, -)" \
    "dump: $(stat -c %s "$out/pr.dump") bytes"

# What after.sql must print on any restore of this dump (reviewed by hand).
cat >"$out/after_expected.txt" <<'EOF'
extension 1.1
restored: records refunded beyond their amount 0
restored: chain heads not the sum of their refunds 0
restored: refund chains with gaps 0
restored: refunds in another mode than their record's 0
restored: refunds not positive 0
restored: refunded_total not the running sum 0
restored: references used twice in a mode 0
restored: refunded records whose latest attempt is not guaranteed 0
restored: records without an attempt 0
restored: attempts numbered with gaps 0
restored: stored answers naming no record of their mode 0
test: records disagreeing with retrieve_payment_record 0
live: records disagreeing with retrieve_payment_record 0
replay test: 63 keys in the dump, 63 replayed, 63 answered as before (2 stored errors), 60 direct calls answered the stored response
replay live: 63 keys in the dump, 63 replayed, 63 answered as before (2 stored errors), 60 direct calls answered the stored response
replays wrote nothing: true
over-refund of a fully refunded record: 400 invalid_request_error amount[value]
direct over-refund INSERT: 23514
nothing written: true
test: new payment: payment_record livemode=false guaranteed 5000 usd, newest: t, numbered after every restored record: t
test: its key replays: t
test: new refund: amount_refunded 1200
test: dumped reference ref-1 reused: 23505
test: dumped reference full-4 reused: 23505
test: dumped 3000-character reference reused: 23505
test: a new 3000-character reference: 1500
test: over-refund of the new payment: 23514
test: the rest of it: amount_refunded 5000
live: new payment: payment_record livemode=true guaranteed 5000 usd, newest: t, numbered after every restored record: t
live: its key replays: t
live: new refund: amount_refunded 1200
live: dumped reference ref-1 reused: 23505
live: dumped reference full-4 reused: 23505
live: dumped 3000-character reference reused: 23505
live: a new 3000-character reference: 1500
live: over-refund of the new payment: 23514
live: the rest of it: amount_refunded 5000
events of the new writes: payment_record.reported false, payment_record.refunded false, payment_record.refunded false, payment_record.refunded false, payment_record.reported true, payment_record.refunded true, payment_record.refunded true, payment_record.refunded true
rows written (records attempts refunds keys events): 2 2 6 2 8
after new writes: records refunded beyond their amount 0
after new writes: chain heads not the sum of their refunds 0
after new writes: refund chains with gaps 0
after new writes: refunds in another mode than their record's 0
after new writes: refunds not positive 0
after new writes: refunded_total not the running sum 0
after new writes: references used twice in a mode 0
after new writes: refunded records whose latest attempt is not guaranteed 0
after new writes: records without an attempt 0
after new writes: attempts numbered with gaps 0
after new writes: stored answers naming no record of their mode 0
test: records disagreeing with retrieve_payment_record 0
live: records disagreeing with retrieve_payment_record 0
EOF

# ---------------------------------------------------------------------
# Self-check on 15: the documented restore, both scripts
# ---------------------------------------------------------------------
echo "== crossdump: self-check, restored into another database of the 15 cluster"
fail=0
pr_as_postgres createdb xd_restored || exit 1
if ! pr_as_postgres pg_restore --single-transaction --exit-on-error -d xd_restored <"$out/pr.dump"; then
    echo "!! pg_restore into 15 failed"; exit 1
fi
psql_db xd_restored -f "$out/snapshot.sql" >"$PR_TREE/snapshot.out" 2>&1
if ! diff -u "$out/expected.txt" "$PR_TREE/snapshot.out" >"$PR_TREE/snapshot.diff"; then
    echo "!! snapshot.sql on the restored database differs:"; head -n 60 "$PR_TREE/snapshot.diff"; fail=1
fi
psql_db xd_restored -f "$out/after.sql" >"$PR_TREE/after.out" 2>&1
if ! diff -u "$out/after_expected.txt" "$PR_TREE/after.out" >"$PR_TREE/after.diff"; then
    echo "!! after.sql on the restored database differs:"; cat "$PR_TREE/after.diff"; fail=1
fi
[ $fail -eq 0 ] || exit 1
chmod -R a+rX "$out"
echo "== crossdump: passed; $out has pr.dump, snapshot.sql, expected.txt, after.sql, after_expected.txt"
