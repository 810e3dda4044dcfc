/* payment_records_router 1.1: the payment_records API on a router */

-- complain if script is sourced in psql, rather than via CREATE EXTENSION
\echo Use "CREATE EXTENSION payment_records_router CASCADE" to load this file. \quit

--
-- A router database offers the SQL API of a payment_records node: the same
-- functions, names and signatures in schema payment_records.  Each call
-- goes, through PL/Proxy, to the shard that holds its object:
--
--   * by id: the shard is in the id (characters 10 and 11 after the
--     prefix, base62, stamped by the node's payment_records.shard);
--   * report_payment with an idempotency key: the shard the key hashes
--     to among the first key_shards shards (payment_records_router.settings,
--     fixed for good: adding a shard moves no key), so that a retry lands
--     where the first try did and replays; without a key: any shard;
--   * list_payment_records: every shard, merged in the node's order
--     (created, seq), newest first, with exact keyset pagination;
--   * report_refund with a refund reference: the reference is claimed on
--     the shard it hashes to before the refund is written (see
--     payment_records.report_refund below and README "Beyond one machine").
--
-- The shards are the partitions of the SQL/MED server
-- payment_records_shards, shard k being partition pk, with
-- modular_mapping (any number of shards):
--
--   CREATE SERVER payment_records_shards FOREIGN DATA WRAPPER plproxy
--       OPTIONS (modular_mapping '1', p0 'dbname=... host=...', p1 '...', p2 '...');
--   CREATE USER MAPPING FOR PUBLIC SERVER payment_records_shards;
--   GRANT USAGE ON FOREIGN SERVER payment_records_shards TO payment_records_reader,
--       payment_records_writer;
--
-- PL/Proxy connects to a shard as the calling role (current_user), so the
-- shards see, check and decide the mode of the caller itself: the same
-- roles exist on every shard.  Nothing here is SECURITY DEFINER: the
-- router holds no data and the shards enforce every right.
--
-- Errors: an API call reaches the shard through its router_call(), which
-- returns the node's error as data (SQLSTATE, message, detail, hint,
-- column), and the router raises it again as it is (reraise below), so an
-- application sees the node's error, not PL/Proxy's "REMOTE ERROR".
--
-- The HTTP gateway points at the router as at a node: authenticate_api_key
-- and http_request are here, the API keys live on shard 0 (the key shard),
-- and create_api_key / revoke_api_key go there.
--
DO $roles$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = 'payment_records_reader') THEN
        CREATE ROLE payment_records_reader NOLOGIN;
    END IF;
    IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = 'payment_records_writer') THEN
        CREATE ROLE payment_records_writer NOLOGIN;
    END IF;
    IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = 'payment_records_router') THEN
        CREATE ROLE payment_records_router NOLOGIN;
    END IF;
    IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = 'payment_records_gateway') THEN
        CREATE ROLE payment_records_gateway NOLOGIN;
    END IF;
END
$roles$;

-- the router's own helpers, not part of the API
CREATE SCHEMA payment_records_router;

-- shard_count(): the number of shards (partitions p0, p1, ... of the server);
-- read from the catalog, so used only where the count itself is needed
-- (reconciliation, and routing when settings leave a count unset).  The
-- routing of a call otherwise needs no count: PL/Proxy maps the shard
-- number k a function gives to partition abs(k % N) with modular_mapping,
-- from its own cache of the server, which ALTER SERVER invalidates.
CREATE FUNCTION payment_records_router.shard_count() RETURNS integer
    LANGUAGE sql STABLE PARALLEL SAFE
    SET search_path = pg_catalog, pg_temp
    AS $$
    SELECT count(*)::integer
    FROM pg_catalog.pg_foreign_server s,
         LATERAL pg_catalog.unnest(s.srvoptions) o
    WHERE s.srvname = 'payment_records_shards' AND o ~ '^p[0-9]+='
$$;

-- shard_of_id(id): the shard stamped in a pr_ or par_ id; shard 0 for
-- anything else (which then answers resource_missing as a node would).  A
-- number past the last shard (an id no shard made) goes to some shard,
-- which answers resource_missing as well.
CREATE FUNCTION payment_records_router.shard_of_id(id text) RETURNS integer
    LANGUAGE plpgsql STABLE PARALLEL SAFE
    SET search_path = pg_catalog, pg_temp
    AS $$
DECLARE
    digits constant text := '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';
    body text;
    hi integer;
    lo integer;
BEGIN
    id := replace(replace(id, '%5F', '_'), '%5f', '_');
    body := substring(id FROM '^(?:pr|par)_([0-9A-Za-z]{24})$');
    IF body IS NULL THEN
        RETURN 0;
    END IF;
    hi := strpos(digits, substr(body, 10, 1) COLLATE "C") - 1;
    lo := strpos(digits, substr(body, 11, 1) COLLATE "C") - 1;
    RETURN hi * 62 + lo;
END
$$;

-- settings of the router, set by its owner when the deployment is made
-- (test/sharded/router.sql) and never changed after:
--   key_shards: the number of shards (0 .. key_shards - 1) that take
--     report_payment calls with an idempotency key, by the key's hash;
--   claim_shards: the number of shards that hold reference claims, by the
--     reference's hash.
-- Adding a shard changes neither, so a retry of a call made before still
-- lands where the first try did (README "Adding a shard").  No row (or
-- NULL) means every shard, which is only right while no shard is added.
CREATE TABLE payment_records_router.settings (
    only_row        boolean NOT NULL DEFAULT true,
    claim_shards    integer,
    key_shards      integer,
    CONSTRAINT settings_pkey PRIMARY KEY (only_row),
    CONSTRAINT settings_only_row_check CHECK (only_row),
    CONSTRAINT settings_claim_shards_check CHECK (claim_shards > 0),
    CONSTRAINT settings_key_shards_check CHECK (key_shards > 0)
);
SELECT pg_catalog.pg_extension_config_dump('payment_records_router.settings', '');

-- key_shard_of(key): the shard of report_payment with an idempotency key
CREATE FUNCTION payment_records_router.key_shard_of(key text) RETURNS integer
    LANGUAGE sql STABLE STRICT PARALLEL SAFE
    SET search_path = pg_catalog, pg_temp
    AS $$
    SELECT abs(hashtextextended($1, 0)
               % coalesce((SELECT s.key_shards FROM payment_records_router.settings s),
                          payment_records_router.shard_count()))::integer
$$;

-- claim_shard_of(reference): the shard that holds a reference's claim
CREATE FUNCTION payment_records_router.claim_shard_of(reference text) RETURNS integer
    LANGUAGE sql STABLE STRICT PARALLEL SAFE
    SET search_path = pg_catalog, pg_temp
    AS $$
    SELECT abs(hashtextextended($1, 0)
               % least(coalesce((SELECT s.claim_shards FROM payment_records_router.settings s),
                                payment_records_router.shard_count()),
                       payment_records_router.shard_count()))::integer
$$;

-- debug_step(k): a test-only hook between the steps of the reference
-- protocol: payment_records_router.debug_fail_after_step = k makes the
-- call fail there (as if the router died), debug_pause_after_step = k
-- sleeps debug_pause_seconds there (for a test to kill something).
-- Either only ever stops the caller's own call.
CREATE FUNCTION payment_records_router.debug_step(k integer) RETURNS void
    LANGUAGE plpgsql VOLATILE
    SET search_path = pg_catalog, pg_temp
    AS $$
BEGIN
    IF current_setting('payment_records_router.debug_pause_after_step', true) = k::text THEN
        PERFORM pg_sleep(coalesce(nullif(current_setting('payment_records_router.debug_pause_seconds', true), ''), '5')::float8);
    END IF;
    IF current_setting('payment_records_router.debug_fail_after_step', true) = k::text THEN
        RAISE EXCEPTION 'payment_records_router: stopped after step % (debug_fail_after_step)', k
            USING ERRCODE = 'PRR02';
    END IF;
END
$$;

-- reraise(sqlstate, message, detail, hint, column): raise a node's error
-- as the node raised it (a field the node did not set stays unset)
CREATE FUNCTION payment_records_router.reraise(st text, msg text, det text, hnt text, col text)
    RETURNS void LANGUAGE plpgsql VOLATILE
    SET search_path = pg_catalog, pg_temp
    AS $$
BEGIN
    IF det IS NOT NULL AND hnt IS NOT NULL AND col IS NOT NULL THEN
        RAISE EXCEPTION USING ERRCODE = st, MESSAGE = msg, DETAIL = det, HINT = hnt, COLUMN = col;
    ELSIF det IS NOT NULL AND hnt IS NOT NULL THEN
        RAISE EXCEPTION USING ERRCODE = st, MESSAGE = msg, DETAIL = det, HINT = hnt;
    ELSIF det IS NOT NULL AND col IS NOT NULL THEN
        RAISE EXCEPTION USING ERRCODE = st, MESSAGE = msg, DETAIL = det, COLUMN = col;
    ELSIF hnt IS NOT NULL AND col IS NOT NULL THEN
        RAISE EXCEPTION USING ERRCODE = st, MESSAGE = msg, HINT = hnt, COLUMN = col;
    ELSIF det IS NOT NULL THEN
        RAISE EXCEPTION USING ERRCODE = st, MESSAGE = msg, DETAIL = det;
    ELSIF hnt IS NOT NULL THEN
        RAISE EXCEPTION USING ERRCODE = st, MESSAGE = msg, HINT = hnt;
    ELSIF col IS NOT NULL THEN
        RAISE EXCEPTION USING ERRCODE = st, MESSAGE = msg, COLUMN = col;
    ELSE
        RAISE EXCEPTION USING ERRCODE = st, MESSAGE = msg;
    END IF;
END
$$;

-- p_call(shard, fn, ...): a shard's router_call (p_call_any: any shard)
-- ([answer], or [null, sqlstate, message, detail, hint, column])
CREATE FUNCTION payment_records_router.p_call(shard integer, fn text, id text, params jsonb,
    idempotency_key text, token uuid) RETURNS jsonb
    LANGUAGE plproxy AS $$
    CLUSTER 'payment_records_shards'; RUN ON shard;
    SELECT payment_records.router_call(fn, id, params, idempotency_key, token) AS p_call;
$$;
CREATE FUNCTION payment_records_router.p_call_any(fn text, id text, params jsonb,
    idempotency_key text, token uuid) RETURNS jsonb
    LANGUAGE plproxy AS $$
    CLUSTER 'payment_records_shards'; RUN ON ANY;
    SELECT payment_records.router_call(fn, id, params, idempotency_key, token) AS p_call_any;
$$;

-- call(shard, fn, id, params, idempotency_key, token): fn's answer on the
-- shard (NULL: any shard), or its error raised here as the node raised it
CREATE FUNCTION payment_records_router.call(shard integer, fn text, id text, params jsonb,
    idempotency_key text DEFAULT NULL, token uuid DEFAULT NULL)
    RETURNS jsonb LANGUAGE plpgsql VOLATILE
    SET search_path = pg_catalog, pg_temp
    AS $$
DECLARE
    r jsonb;
BEGIN
    IF shard IS NULL THEN
        r := payment_records_router.p_call_any(fn, id, params, idempotency_key, token);
    ELSE
        r := payment_records_router.p_call(shard, fn, id, params, idempotency_key, token);
    END IF;
    IF jsonb_array_length(r) > 1 THEN
        PERFORM payment_records_router.reraise(r ->> 1, r ->> 2, r ->> 3, r ->> 4, r ->> 5);
    END IF;
    RETURN nullif(r -> 0, 'null');
END
$$;

--
-- Proxy functions to one shard (first argument), for the router's own use
--
CREATE FUNCTION payment_records_router.p_claim_reference(shard integer, reference text,
    record_id text, OUT token uuid, OUT state text, OUT holder text, OUT claimed_at timestamptz)
    LANGUAGE plproxy AS $$
    CLUSTER 'payment_records_shards'; RUN ON shard;
    SELECT * FROM payment_records.claim_reference(reference, record_id);
$$;
CREATE FUNCTION payment_records_router.p_confirm_reference(shard integer, reference text,
    record_id text, token uuid) RETURNS boolean
    LANGUAGE plproxy AS $$
    CLUSTER 'payment_records_shards'; RUN ON shard;
    SELECT payment_records.confirm_reference(reference, record_id, token) AS p_confirm_reference;
$$;
CREATE FUNCTION payment_records_router.p_drop_reference_claim(shard integer, reference text,
    record_id text, token uuid) RETURNS boolean
    LANGUAGE plproxy AS $$
    CLUSTER 'payment_records_shards'; RUN ON shard;
    SELECT payment_records.drop_reference_claim(reference, record_id, token) AS p_drop_reference_claim;
$$;
CREATE FUNCTION payment_records_router.p_pending_reference_claims(shard integer, older_than interval)
    RETURNS TABLE (reference text, record_id text, token uuid, claimed_at timestamptz)
    LANGUAGE plproxy AS $$
    CLUSTER 'payment_records_shards'; RUN ON shard;
    SELECT * FROM payment_records.pending_reference_claims(older_than);
$$;
CREATE FUNCTION payment_records_router.p_settle_reference_use(shard integer, reference text,
    record_id text, token uuid) RETURNS boolean
    LANGUAGE plproxy AS $$
    CLUSTER 'payment_records_shards'; RUN ON shard;
    SELECT payment_records.settle_reference_use(reference, record_id, token) AS p_settle_reference_use;
$$;
CREATE FUNCTION payment_records_router.p_request_claimed(shard integer, method text, path text,
    params jsonb, idempotency_key text, token uuid, OUT status integer, OUT body jsonb)
    LANGUAGE plproxy AS $$
    CLUSTER 'payment_records_shards'; RUN ON shard;
    SELECT * FROM payment_records.request_claimed(method, path, params, idempotency_key, token);
$$;
CREATE FUNCTION payment_records_router.p_request(shard integer, method text, path text,
    params jsonb, idempotency_key text, OUT status integer, OUT body jsonb)
    LANGUAGE plproxy AS $$
    CLUSTER 'payment_records_shards'; RUN ON shard;
    SELECT * FROM payment_records.request(method, path, params, idempotency_key);
$$;
CREATE FUNCTION payment_records_router.p_request_any(method text, path text,
    params jsonb, idempotency_key text, OUT status integer, OUT body jsonb)
    LANGUAGE plproxy AS $$
    CLUSTER 'payment_records_shards'; RUN ON ANY;
    SELECT * FROM payment_records.request(method, path, params, idempotency_key);
$$;
CREATE FUNCTION payment_records_router.p_router_record_cursor(shard integer, id text,
    OUT created timestamptz, OUT seq bigint)
    LANGUAGE plproxy AS $$
    CLUSTER 'payment_records_shards'; RUN ON shard;
    SELECT * FROM payment_records.router_record_cursor(id);
$$;
-- every shard at once (PL/Proxy runs RUN ON ALL in parallel)
CREATE FUNCTION payment_records_router.p_router_list_records(params jsonb,
    cur_created timestamptz, cur_seq bigint, ascending boolean, lim integer)
    RETURNS TABLE (created timestamptz, seq bigint, object jsonb)
    LANGUAGE plproxy AS $$
    CLUSTER 'payment_records_shards'; RUN ON ALL;
    SELECT * FROM payment_records.router_list_records(params, cur_created, cur_seq, ascending, lim);
$$;
CREATE FUNCTION payment_records_router.p_purge_idempotency_keys(batch_size integer)
    RETURNS SETOF bigint
    LANGUAGE plproxy AS $$
    CLUSTER 'payment_records_shards'; RUN ON ALL;
    SELECT payment_records.purge_idempotency_keys(batch_size) AS p_purge_idempotency_keys;
$$;

--
-- The API: the node's functions, names and signatures
--
CREATE FUNCTION @extschema@.report_payment(params jsonb, idempotency_key text DEFAULT NULL)
    RETURNS jsonb LANGUAGE sql VOLATILE SET search_path = pg_catalog, pg_temp AS $$
    SELECT payment_records_router.call(payment_records_router.key_shard_of(idempotency_key),
                                       'report_payment', NULL, params, idempotency_key)
$$;
CREATE FUNCTION @extschema@.retrieve_payment_record(id text)
    RETURNS jsonb LANGUAGE sql VOLATILE SET search_path = pg_catalog, pg_temp AS $$
    SELECT payment_records_router.call(payment_records_router.shard_of_id(id),
                                       'retrieve_payment_record', id, NULL)
$$;
CREATE FUNCTION @extschema@.report_payment_attempt(id text, params jsonb, idempotency_key text DEFAULT NULL)
    RETURNS jsonb LANGUAGE sql VOLATILE SET search_path = pg_catalog, pg_temp AS $$
    SELECT payment_records_router.call(payment_records_router.shard_of_id(id),
                                       'report_payment_attempt', id, params, idempotency_key)
$$;
CREATE FUNCTION @extschema@.report_payment_attempt_canceled(id text, params jsonb, idempotency_key text DEFAULT NULL)
    RETURNS jsonb LANGUAGE sql VOLATILE SET search_path = pg_catalog, pg_temp AS $$
    SELECT payment_records_router.call(payment_records_router.shard_of_id(id),
                                       'report_payment_attempt_canceled', id, params, idempotency_key)
$$;
CREATE FUNCTION @extschema@.report_payment_attempt_failed(id text, params jsonb, idempotency_key text DEFAULT NULL)
    RETURNS jsonb LANGUAGE sql VOLATILE SET search_path = pg_catalog, pg_temp AS $$
    SELECT payment_records_router.call(payment_records_router.shard_of_id(id),
                                       'report_payment_attempt_failed', id, params, idempotency_key)
$$;
CREATE FUNCTION @extschema@.report_payment_attempt_guaranteed(id text, params jsonb, idempotency_key text DEFAULT NULL)
    RETURNS jsonb LANGUAGE sql VOLATILE SET search_path = pg_catalog, pg_temp AS $$
    SELECT payment_records_router.call(payment_records_router.shard_of_id(id),
                                       'report_payment_attempt_guaranteed', id, params, idempotency_key)
$$;
CREATE FUNCTION @extschema@.report_payment_attempt_informational(id text, params jsonb DEFAULT '{}', idempotency_key text DEFAULT NULL)
    RETURNS jsonb LANGUAGE sql VOLATILE SET search_path = pg_catalog, pg_temp AS $$
    SELECT payment_records_router.call(payment_records_router.shard_of_id(id),
                                       'report_payment_attempt_informational', id, params, idempotency_key)
$$;
CREATE FUNCTION @extschema@.retrieve_payment_attempt_record(id text)
    RETURNS jsonb LANGUAGE sql VOLATILE SET search_path = pg_catalog, pg_temp AS $$
    SELECT payment_records_router.call(payment_records_router.shard_of_id(id),
                                       'retrieve_payment_attempt_record', id, NULL)
$$;
CREATE FUNCTION @extschema@.list_payment_attempt_records(params jsonb)
    RETURNS jsonb LANGUAGE sql VOLATILE SET search_path = pg_catalog, pg_temp AS $$
    SELECT payment_records_router.call(payment_records_router.shard_of_id(params ->> 'payment_record'),
                                       'list_payment_attempt_records', NULL, params)
$$;
CREATE FUNCTION @extschema@.form_to_jsonb(body text)
    RETURNS jsonb LANGUAGE sql VOLATILE SET search_path = pg_catalog, pg_temp AS $$
    SELECT payment_records_router.call(0, 'form_to_jsonb', body, NULL)
$$;
CREATE FUNCTION @extschema@.to_major(amount bigint, currency text)
    RETURNS numeric LANGUAGE sql VOLATILE SET search_path = pg_catalog, pg_temp AS $$
    SELECT (payment_records_router.call(0, 'to_major', currency, to_jsonb(amount)) #>> '{}')::numeric
$$;
CREATE FUNCTION @extschema@.caller_livemode()
    RETURNS boolean LANGUAGE plproxy SET search_path = pg_catalog, pg_temp AS $$
    CLUSTER 'payment_records_shards'; RUN ON 0;
$$;
CREATE FUNCTION @extschema@.reference_key(reference text)
    RETURNS bytea LANGUAGE sql VOLATILE SET search_path = pg_catalog, pg_temp AS $$
    SELECT decode(payment_records_router.call(0, 'reference_key', reference, NULL) #>> '{}', 'hex')
$$;

-- purge_idempotency_keys(batch_size): every shard's purge, summed
CREATE FUNCTION @extschema@.purge_idempotency_keys(batch_size integer DEFAULT 1000)
    RETURNS bigint LANGUAGE sql VOLATILE
    SET search_path = pg_catalog, pg_temp
    AS $$
    SELECT coalesce(sum(n), 0)::bigint
    FROM payment_records_router.p_purge_idempotency_keys($1) n
$$;

-- list_payment_records(params): every shard's part of the page, merged
-- in the node's order (created, seq), newest first.  The params are
-- checked by one node's own list_payment_records (the same errors); an
-- unknown cursor gets the error of the shard its id names.
CREATE FUNCTION @extschema@.list_payment_records(params jsonb DEFAULT '{}')
    RETURNS jsonb LANGUAGE plpgsql VOLATILE
    SET search_path = pg_catalog, pg_temp
    AS $$
DECLARE
    after_id text;
    before_id text;
    cur text;
    cur_created timestamptz;
    cur_seq bigint;
    ascending boolean;
    lim integer;
    data jsonb;
    n integer;
BEGIN
    IF jsonb_typeof(params) IS DISTINCT FROM 'object'
       OR (params ? 'starting_after' AND params ? 'ending_before')
       OR (params ? 'starting_after' AND jsonb_typeof(params -> 'starting_after') <> 'string')
       OR (params ? 'ending_before' AND jsonb_typeof(params -> 'ending_before') <> 'string')
    THEN
        RETURN payment_records_router.call(0, 'list_payment_records', NULL, params);
    END IF;
    PERFORM payment_records_router.call(0, 'list_payment_records', NULL,
                                        params - 'starting_after' - 'ending_before');
    after_id := params ->> 'starting_after';
    before_id := params ->> 'ending_before';
    cur := coalesce(after_id, before_id);
    ascending := before_id IS NOT NULL;
    lim := coalesce((params ->> 'limit')::integer, 10);
    IF cur IS NOT NULL THEN
        SELECT c.created, c.seq INTO cur_created, cur_seq
        FROM payment_records_router.p_router_record_cursor(payment_records_router.shard_of_id(cur), cur) c;
        IF cur_seq IS NULL THEN
            -- the node's own resource_missing for the cursor
            RETURN payment_records_router.call(payment_records_router.shard_of_id(cur),
                                               'list_payment_records', NULL, params);
        END IF;
    END IF;
    WITH candidates AS (
        SELECT r.created, r.seq, r.object
        FROM payment_records_router.p_router_list_records(params, cur_created, cur_seq,
                                                         ascending, lim + 1) r),
    page AS (
        SELECT c.created, c.seq, c.object FROM candidates c
        ORDER BY CASE WHEN ascending THEN c.created END ASC,
                 CASE WHEN ascending THEN c.seq END ASC,
                 c.created DESC, c.seq DESC
        LIMIT lim)
    SELECT (SELECT count(*) FROM candidates),
           (SELECT coalesce(jsonb_agg(p.object ORDER BY p.created DESC, p.seq DESC), '[]') FROM page p)
    INTO n, data;
    RETURN jsonb_build_object('object', 'list', 'data', data, 'has_more', n > lim,
                              'url', '/v1/payment_records');
END
$$;

-- settle_claim(claim_shard, reference, record_id, token): ask the record's
-- shard whether a refund was written under the claim (else it fences the
-- token there, so none can be); confirm the claim, or drop it
CREATE FUNCTION payment_records_router.settle_claim(claim_shard integer, reference text,
    record_id text, token uuid) RETURNS text
    LANGUAGE plpgsql VOLATILE
    SET search_path = pg_catalog, pg_temp
    AS $$
BEGIN
    IF payment_records_router.p_settle_reference_use(
           payment_records_router.shard_of_id(record_id), reference, record_id, token) THEN
        PERFORM payment_records_router.p_confirm_reference(claim_shard, reference, record_id, token);
        RETURN 'confirmed';
    END IF;
    PERFORM payment_records_router.p_drop_reference_claim(claim_shard, reference, record_id, token);
    RETURN 'released';
END
$$;

-- claim(reference, record_id) -> the claim's shard and token, or the
-- node's "already used" error when another record holds the reference
CREATE FUNCTION payment_records_router.claim(reference text, record_id text,
    OUT claim_shard integer, OUT token uuid)
    LANGUAGE plpgsql VOLATILE
    SET search_path = pg_catalog, pg_temp
    AS $$
DECLARE
    c record;
BEGIN
    claim_shard := payment_records_router.claim_shard_of(reference);
    SELECT * INTO c FROM payment_records_router.p_claim_reference(claim_shard, reference, record_id);
    IF c.holder IS DISTINCT FROM record_id THEN
        RAISE EXCEPTION 'refund reference "%" has already been used', reference
            USING ERRCODE = 'unique_violation', DETAIL = 'resource_already_exists',
                  COLUMN = 'processor_details[custom][refund_reference]';
    END IF;
    token := c.token;
END
$$;

-- report_refund(id, params, idempotency_key): without a reference, the
-- record's shard's report_refund.  With one, the reference protocol:
--   1. claim the reference on the shard it hashes to (a claim already
--      held for this record is reused: a retry completes it; one held
--      for another record refuses the refund as "already used");
--   2. write the refund on the record's shard together with the claim's
--      use (report_refund_claimed); refused there (or unreachable):
--      settle the claim (confirm it if the refund exists after all,
--      else fence and drop it) and raise the shard's error;
--   3. confirm the claim (if that fails, the refund stands and is
--      answered; reconcile_reference_claims confirms it later).
CREATE FUNCTION @extschema@.report_refund(id text, params jsonb, idempotency_key text DEFAULT NULL)
    RETURNS jsonb LANGUAGE plpgsql VOLATILE
    SET search_path = pg_catalog, pg_temp
    AS $$
DECLARE
    ref text := params #>> '{processor_details,custom,refund_reference}';
    record_shard integer := payment_records_router.shard_of_id(id);
    cl record;
    r jsonb;
BEGIN
    IF ref IS NULL OR jsonb_typeof(params #> '{processor_details,custom,refund_reference}') <> 'string' THEN
        RETURN payment_records_router.call(record_shard, 'report_refund', id, params, idempotency_key);
    END IF;
    SELECT * INTO cl FROM payment_records_router.claim(ref, id);
    PERFORM payment_records_router.debug_step(1);
    BEGIN
        r := payment_records_router.p_call(record_shard, 'report_refund_claimed',
                                           id, params, idempotency_key, cl.token);
    EXCEPTION WHEN OTHERS THEN
        -- the shard unreachable, or lost during the call
        BEGIN
            PERFORM payment_records_router.settle_claim(cl.claim_shard, ref, id, cl.token);
        EXCEPTION WHEN OTHERS THEN
            NULL;   -- left claimed: a retry or the reconciliation settles it
        END;
        RAISE;
    END;
    IF jsonb_array_length(r) > 1 THEN
        -- refused by the shard (nothing written): settle, raise its error
        BEGIN
            PERFORM payment_records_router.settle_claim(cl.claim_shard, ref, id, cl.token);
        EXCEPTION WHEN OTHERS THEN
            NULL;
        END;
        PERFORM payment_records_router.reraise(r ->> 1, r ->> 2, r ->> 3, r ->> 4, r ->> 5);
    END IF;
    PERFORM payment_records_router.debug_step(2);
    BEGIN
        PERFORM payment_records_router.p_confirm_reference(cl.claim_shard, ref, id, cl.token);
    EXCEPTION WHEN OTHERS THEN
        RAISE WARNING 'refund reference "%" stays claimed until reconciled: %', ref, SQLERRM;
    END;
    RETURN r -> 0;
END
$$;

-- request(method, path, params, idempotency_key): a node's request(),
-- routed as the functions above are; a list of payment records is
-- merged by list_payment_records, whose errors come back as the body
-- a node gives for the same request
CREATE FUNCTION @extschema@.request(method text, path text, params jsonb DEFAULT '{}',
    idempotency_key text DEFAULT NULL, OUT status integer, OUT body jsonb)
    LANGUAGE plpgsql VOLATILE
    SET search_path = pg_catalog, pg_temp
    AS $$
DECLARE
    p text := split_part(path, '?', 1);
    q text := substr(path, length(p) + 2);
    seg text[] := string_to_array(trim(BOTH '/' FROM p), '/');
    m text := upper(method);
    all_params jsonb;
    target integer := 0;
    ref text;
    cl record;
BEGIN
    IF seg[1] = 'v1' AND seg[2] IN ('payment_records', 'payment_attempt_records') THEN
        IF m = 'POST' AND seg[2] = 'payment_records' AND seg[3] = 'report_payment'
           AND cardinality(seg) = 3 THEN
            target := CASE WHEN idempotency_key IS NOT NULL
                           THEN payment_records_router.key_shard_of(idempotency_key) END;
        ELSIF cardinality(seg) >= 3 THEN
            target := payment_records_router.shard_of_id(seg[3]);
        ELSE
            all_params := coalesce(params, '{}');
            IF q <> '' THEN
                all_params := all_params || @extschema@.form_to_jsonb(q);
            END IF;
            IF seg[2] = 'payment_attempt_records' THEN
                target := payment_records_router.shard_of_id(all_params ->> 'payment_record');
            ELSIF m = 'GET' THEN
                BEGIN
                    body := @extschema@.list_payment_records(all_params);
                    status := 200;
                    RETURN;
                EXCEPTION WHEN OTHERS THEN
                    target := payment_records_router.shard_of_id(
                        coalesce(all_params ->> 'starting_after', all_params ->> 'ending_before'));
                END;
            END IF;
        END IF;
    END IF;
    ref := params #>> '{processor_details,custom,refund_reference}';
    IF m = 'POST' AND seg[2] = 'payment_records' AND seg[4] = 'report_refund'
       AND cardinality(seg) = 4 AND jsonb_typeof(params #> '{processor_details,custom,refund_reference}') = 'string' THEN
        BEGIN
            SELECT * INTO cl FROM payment_records_router.claim(ref, seg[3]);
        EXCEPTION WHEN unique_violation THEN
            -- the body a node gives for a reference already used
            status := 400;
            body := jsonb_build_object('error', jsonb_build_object(
                'code', 'resource_already_exists',
                'doc_url', 'https://stripe.com/docs/error-codes/resource_already_exists',
                'message', format('refund reference "%s" has already been used', ref),
                'param', 'processor_details[custom][refund_reference]',
                'type', 'invalid_request_error'));
            RETURN;
        END;
        PERFORM payment_records_router.debug_step(1);
        BEGIN
            SELECT r.status, r.body INTO status, body
            FROM payment_records_router.p_request_claimed(target, method, path, params,
                                                          idempotency_key, cl.token) r;
        EXCEPTION WHEN OTHERS THEN
            BEGIN
                PERFORM payment_records_router.settle_claim(cl.claim_shard, ref, seg[3], cl.token);
            EXCEPTION WHEN OTHERS THEN
                NULL;
            END;
            RAISE;
        END;
        PERFORM payment_records_router.debug_step(2);
        BEGIN
            IF status = 200 THEN
                PERFORM payment_records_router.p_confirm_reference(cl.claim_shard, ref, seg[3], cl.token);
            ELSE
                PERFORM payment_records_router.settle_claim(cl.claim_shard, ref, seg[3], cl.token);
            END IF;
        EXCEPTION WHEN OTHERS THEN
            RAISE WARNING 'refund reference "%" stays claimed until reconciled: %', ref, SQLERRM;
        END;
        RETURN;
    END IF;
    IF target IS NULL THEN
        SELECT r.status, r.body INTO status, body
        FROM payment_records_router.p_request_any(method, path, params, idempotency_key) r;
    ELSE
        SELECT r.status, r.body INTO status, body
        FROM payment_records_router.p_request(target, method, path, params, idempotency_key) r;
    END IF;
END
$$;

-- reconcile_reference_claims(older_than): settle every claim of the
-- caller's mode still only claimed after older_than, on every shard:
-- confirmed if its refund exists on the record's shard, else fenced
-- there and dropped.  Safe at any time (a refund still in flight under a
-- fenced claim is refused, and its retry claims again).
CREATE FUNCTION @extschema@.reconcile_reference_claims(older_than interval DEFAULT '1 minute')
    RETURNS TABLE (reference text, record_id text, outcome text)
    LANGUAGE plpgsql VOLATILE
    SET search_path = pg_catalog, pg_temp
    AS $$
DECLARE
    s integer;
    c record;
BEGIN
    FOR s IN 0 .. payment_records_router.shard_count() - 1 LOOP
        FOR c IN SELECT * FROM payment_records_router.p_pending_reference_claims(s, older_than) LOOP
            reference := c.reference;
            record_id := c.record_id;
            BEGIN
                outcome := payment_records_router.settle_claim(s, c.reference, c.record_id, c.token);
            EXCEPTION WHEN OTHERS THEN
                outcome := 'unreachable: ' || SQLERRM;
            END;
            RETURN NEXT;
        END LOOP;
    END LOOP;
END
$$;

--
-- The HTTP gateway (src/gateway/) against the router: the same two
-- statements as against a node.  The API keys live on shard 0, the key
-- shard: authenticate_api_key asks it (as the gateway's login role), and
-- the key-management functions (the router's owner only, as on a node)
-- create and revoke keys there.  The gateway then sets the key's role on
-- the router, and http_request() runs as that role here and, through
-- PL/Proxy, on the shards: in a sharded deployment a key's role must be
-- able to log in to the shards (LOGIN, and the shards' pg_hba.conf or the
-- user mapping letting the router in).
--
CREATE FUNCTION @extschema@.authenticate_api_key(secret text,
    OUT role_name name, OUT livemode boolean, OUT restricted boolean, OUT key_id text)
    RETURNS record LANGUAGE plpgsql VOLATILE
    SET search_path = pg_catalog, pg_temp
    AS $$
DECLARE
    a jsonb := payment_records_router.call(0, 'authenticate_api_key', secret, NULL);
BEGIN
    role_name := a ->> 'role_name';
    livemode := (a ->> 'livemode')::boolean;
    restricted := (a ->> 'restricted')::boolean;
    key_id := a ->> 'key_id';
END
$$;

CREATE FUNCTION @extschema@.create_api_key(key_role name, livemode boolean,
    restricted boolean DEFAULT false, description text DEFAULT NULL,
    OUT id text, OUT secret text)
    LANGUAGE plpgsql VOLATILE
    SET search_path = pg_catalog, pg_temp
    AS $$
DECLARE
    k jsonb := payment_records_router.call(0, 'create_api_key', NULL,
        jsonb_build_object('key_role', key_role, 'livemode', livemode,
                           'restricted', restricted, 'description', description));
BEGIN
    id := k ->> 'id';
    secret := k ->> 'secret';
END
$$;

CREATE FUNCTION @extschema@.revoke_api_key(key_id text) RETURNS boolean
    LANGUAGE sql VOLATILE
    SET search_path = pg_catalog, pg_temp
    AS $$
    SELECT (payment_records_router.call(0, 'revoke_api_key', key_id, NULL) #>> '{}')::boolean
$$;

-- http_request(method, path, form_body, idempotency_key): a node's
-- http_request(), its body decoded by a shard's form_to_jsonb, the
-- request routed by request() above
CREATE FUNCTION @extschema@.http_request(method text, path text, form_body text,
                                         idempotency_key text DEFAULT NULL,
                                         OUT status integer, OUT body jsonb)
    LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp
AS $http$
DECLARE
    params jsonb := '{}';
    msg text;
    code text;
    param text;
BEGIN
    IF form_body IS NOT NULL AND form_body <> '' THEN
        BEGIN
            params := @extschema@.form_to_jsonb(form_body);
        EXCEPTION WHEN invalid_parameter_value OR program_limit_exceeded THEN
            GET STACKED DIAGNOSTICS msg = MESSAGE_TEXT, code = PG_EXCEPTION_DETAIL,
                                    param = COLUMN_NAME;
            status := 400;
            body := jsonb_build_object('error', jsonb_strip_nulls(jsonb_build_object(
                'code', CASE WHEN code ~ '^[a-z0-9_]{1,64}$' THEN code END,
                'doc_url', CASE WHEN code ~ '^[a-z0-9_]{1,64}$'
                                THEN 'https://stripe.com/docs/error-codes/' || code END,
                'message', msg,
                'param', nullif(param, ''),
                'type', 'invalid_request_error')));
            RETURN;
        END;
    END IF;
    SELECT r.status, r.body INTO status, body
    FROM @extschema@.request(method, path, params, idempotency_key) r;
END
$http$;

REVOKE ALL ON ALL FUNCTIONS IN SCHEMA @extschema@ FROM PUBLIC;
REVOKE ALL ON ALL FUNCTIONS IN SCHEMA payment_records_router FROM PUBLIC;
REVOKE ALL ON TABLE payment_records_router.settings FROM PUBLIC;
GRANT SELECT ON TABLE payment_records_router.settings
    TO payment_records_reader, payment_records_writer, payment_records_router;
GRANT USAGE ON SCHEMA @extschema@, payment_records_router
    TO payment_records_reader, payment_records_writer, payment_records_router;
GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA payment_records_router
    TO payment_records_reader, payment_records_writer, payment_records_router;
GRANT EXECUTE ON FUNCTION
    @extschema@.retrieve_payment_record(text),
    @extschema@.retrieve_payment_attempt_record(text),
    @extschema@.list_payment_records(jsonb),
    @extschema@.list_payment_attempt_records(jsonb),
    @extschema@.form_to_jsonb(text),
    @extschema@.to_major(bigint, text),
    @extschema@.caller_livemode(),
    @extschema@.reference_key(text),
    @extschema@.request(text, text, jsonb, text)
    TO payment_records_reader, payment_records_writer;
GRANT EXECUTE ON FUNCTION
    @extschema@.report_payment(jsonb, text),
    @extschema@.report_refund(text, jsonb, text),
    @extschema@.report_payment_attempt(text, jsonb, text),
    @extschema@.report_payment_attempt_canceled(text, jsonb, text),
    @extschema@.report_payment_attempt_failed(text, jsonb, text),
    @extschema@.report_payment_attempt_guaranteed(text, jsonb, text),
    @extschema@.report_payment_attempt_informational(text, jsonb, text),
    @extschema@.purge_idempotency_keys(integer)
    TO payment_records_writer;
GRANT EXECUTE ON FUNCTION @extschema@.reconcile_reference_claims(interval)
    TO payment_records_router;
GRANT USAGE ON SCHEMA @extschema@, payment_records_router TO payment_records_gateway;
GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA payment_records_router TO payment_records_gateway;
GRANT SELECT ON TABLE payment_records_router.settings TO payment_records_gateway;
GRANT EXECUTE ON FUNCTION @extschema@.authenticate_api_key(text) TO payment_records_gateway;
GRANT EXECUTE ON FUNCTION @extschema@.http_request(text, text, text, text)
    TO payment_records_reader, payment_records_writer;
