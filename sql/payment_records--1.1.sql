/* payment_records--1.1.sql: the full install script of version 1.1 */

-- complain if script is sourced in psql, rather than via CREATE EXTENSION
\echo Use "CREATE EXTENSION payment_records" to load this file. \quit

--
-- Install only into a schema that this CREATE EXTENSION created: a schema
-- that existed before belongs to someone who could later rename it,
-- replace the extension's objects with look-alikes, and have its
-- SECURITY DEFINER functions run them.  (The catalog row of a schema
-- created in this transaction, or a subtransaction of it, has an xmin no
-- older than the transaction's own.)
--
DO $guard$
DECLARE
    nsp pg_catalog.pg_namespace;
BEGIN
    SELECT n.* INTO nsp FROM pg_catalog.pg_namespace n
        WHERE n.nspname OPERATOR(pg_catalog.=) 'payment_records';
    IF pg_catalog.age(nsp.xmin) OPERATOR(pg_catalog.>) 0
       OR nsp.nspowner OPERATOR(pg_catalog.<>) (SELECT r.oid FROM pg_catalog.pg_roles r WHERE r.rolname OPERATOR(pg_catalog.=) CURRENT_USER)
       OR nsp.nspacl IS NOT NULL THEN
        RAISE EXCEPTION 'schema "payment_records" already exists'
            USING ERRCODE = 'duplicate_schema',
                  DETAIL = 'payment_records installs only into a schema that CREATE EXTENSION creates itself: the owner of an existing schema could replace the extension''s objects with its own.',
                  HINT = 'Drop or rename the existing schema "payment_records", then run CREATE EXTENSION payment_records again.';
    END IF;
END
$guard$;

--
-- Default privileges of the installing role would grant other roles
-- access to the extension's new tables and functions (create_api_key, the
-- API keys, ...) behind the REVOKEs below: refuse rather than install so.
--
DO $defaults$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_catalog.pg_default_acl d, pg_catalog.aclexplode(d.defaclacl) a
               WHERE d.defaclrole OPERATOR(pg_catalog.=) (SELECT r.oid FROM pg_catalog.pg_roles r
                                                        WHERE r.rolname OPERATOR(pg_catalog.=) CURRENT_USER)
                 AND d.defaclnamespace OPERATOR(pg_catalog.=) ANY (ARRAY[0::oid,
                     (SELECT n.oid FROM pg_catalog.pg_namespace n
                      WHERE n.nspname OPERATOR(pg_catalog.=) 'payment_records')])
                 AND a.grantee OPERATOR(pg_catalog.<>) 0
                 AND a.grantee OPERATOR(pg_catalog.<>) d.defaclrole) THEN
        RAISE EXCEPTION 'default privileges of role "%" would grant other roles access to payment_records objects', CURRENT_USER
            USING ERRCODE = 'insufficient_privilege',
                  HINT = 'Run this as a superuser without ALTER DEFAULT PRIVILEGES grants to other roles, or remove them first (see \ddp in psql).';
    END IF;
END
$defaults$;

--
-- Roles.  Cluster-wide, so created only when missing (a second database
-- installing the extension reuses them).  Writers may call every function;
-- readers only the read functions and the tables' SELECT.
--
DO $roles$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = 'payment_records_reader') THEN
        CREATE ROLE payment_records_reader NOLOGIN;
    END IF;
    IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = 'payment_records_writer') THEN
        CREATE ROLE payment_records_writer NOLOGIN;
    END IF;
END
$roles$;

--
-- Tables.  A record row holds what never changes (id, mode, amount,
-- currency) and is the lock every writer of the record takes.  What a
-- record shows (state, details, description, metadata) is its latest
-- attempt's.  Refunds are an append-only chain per record carrying the
-- running total, so the refunded amount is one index probe away.
--
-- Indexes: keys only ever grow (seq, serial ids, ids that begin with the
-- clock, see pr_ids.c), so every insert lands on the last page and a full
-- last page can be split packed (fillfactor 100) instead of 90% full.
CREATE TABLE @extschema@.payment_record (
    -- columns ordered so that none needs alignment padding
    id          text COLLATE "C" NOT NULL,
    livemode    boolean NOT NULL,
    currency    text COLLATE "C" NOT NULL,
    seq         bigserial NOT NULL,
    created     timestamptz NOT NULL,
    amount      bigint NOT NULL,
    CONSTRAINT payment_record_pkey PRIMARY KEY (id) WITH (fillfactor = 100),
    CONSTRAINT payment_record_seq_key UNIQUE (seq) WITH (fillfactor = 100)
    -- amount > 0 and a supported currency are checked by record_check (C):
    -- a CHECK expression would be re-read from the catalog at every insert
);
-- newest first, by mode, for list_payment_records and its created filters
CREATE INDEX payment_record_list_idx
    ON @extschema@.payment_record (livemode, created, seq) WITH (fillfactor = 100);

CREATE TABLE @extschema@.payment_attempt_record (
    -- fixed-width columns first, widest first: no alignment padding
    record_seq              bigint NOT NULL,
    created                 timestamptz NOT NULL,
    initiated_at            timestamptz NOT NULL,
    guaranteed_at           timestamptz,
    failed_at               timestamptz,
    canceled_at             timestamptz,
    attempt                 integer NOT NULL,
    id                      text COLLATE "C" NOT NULL,
    status                  text COLLATE "C" NOT NULL,
    customer_presence       text,
    description             text,
    customer_details        jsonb,
    metadata                jsonb,
    payment_method_details  jsonb,
    processor_details       jsonb,
    shipping_details        jsonb,
    CONSTRAINT payment_attempt_record_pkey PRIMARY KEY (id) WITH (fillfactor = 100),
    CONSTRAINT payment_attempt_record_attempt_key UNIQUE (record_seq, attempt)
        WITH (fillfactor = 100),
    CONSTRAINT payment_attempt_record_record_fkey FOREIGN KEY (record_seq)
        REFERENCES @extschema@.payment_record (seq)
);

CREATE TABLE @extschema@.refund (
    -- fixed-width columns first, widest first: no alignment padding
    record_seq          bigint NOT NULL,
    amount              bigint NOT NULL,
    refunded_total      bigint NOT NULL,
    initiated_at        timestamptz,
    refunded_at         timestamptz,
    created             timestamptz NOT NULL,
    refund_no           integer NOT NULL,
    livemode            boolean NOT NULL,
    refund_reference    text COLLATE "C",
    metadata            jsonb,
    CONSTRAINT refund_pkey PRIMARY KEY (record_seq, refund_no) WITH (fillfactor = 100),
    CONSTRAINT refund_record_fkey FOREIGN KEY (record_seq)
        REFERENCES @extschema@.payment_record (seq)
    -- amount > 0 and the running total are checked by refund_check (C)
);
-- a refund reference is used once per mode, whatever the record
CREATE UNIQUE INDEX refund_reference_key
    ON @extschema@.refund (livemode, refund_reference)
    WHERE refund_reference IS NOT NULL;

-- Idempotency keys (README, contract clause C6): the stored response (or
-- business error) of the first call under a key, with a hash of the
-- request it answered.
CREATE TABLE @extschema@.idempotency_key (
    livemode        boolean NOT NULL,
    key             text COLLATE "C" NOT NULL,
    endpoint        text NOT NULL,
    request_hash    bytea NOT NULL,
    response        jsonb,
    error           jsonb,
    created         timestamptz NOT NULL,
    CONSTRAINT idempotency_key_pkey PRIMARY KEY (livemode, key),
    CONSTRAINT idempotency_key_outcome_check CHECK ((response IS NULL) <> (error IS NULL))
);
CREATE INDEX idempotency_key_created_idx ON @extschema@.idempotency_key (created);

-- Change events: one per successful write, in the write's transaction.
CREATE TABLE @extschema@.event (
    id          bigserial NOT NULL,
    type        text NOT NULL,
    livemode    boolean NOT NULL,
    object      jsonb NOT NULL,
    created     timestamptz NOT NULL,
    CONSTRAINT event_pkey PRIMARY KEY (id) WITH (fillfactor = 100)
);

SELECT pg_catalog.pg_extension_config_dump('@extschema@.payment_record', '');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.payment_record_seq_seq', '');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.payment_attempt_record', '');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.refund', '');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.idempotency_key', '');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.event', '');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.event_id_seq', '');

--
-- Constraint triggers (C): the invariants hold for every write.
--
CREATE FUNCTION @extschema@.refund_check() RETURNS trigger
    AS 'MODULE_PATHNAME', 'payment_records_refund_check' LANGUAGE C;
CREATE FUNCTION @extschema@.attempt_check() RETURNS trigger
    AS 'MODULE_PATHNAME', 'payment_records_attempt_check' LANGUAGE C;
CREATE FUNCTION @extschema@.record_check() RETURNS trigger
    AS 'MODULE_PATHNAME', 'payment_records_record_check' LANGUAGE C;
CREATE FUNCTION @extschema@.forbid_truncate() RETURNS trigger
    AS 'MODULE_PATHNAME', 'payment_records_forbid_truncate' LANGUAGE C;

CREATE CONSTRAINT TRIGGER refund_check
    AFTER INSERT OR UPDATE OR DELETE ON @extschema@.refund
    FOR EACH ROW EXECUTE FUNCTION @extschema@.refund_check();
CREATE CONSTRAINT TRIGGER attempt_check
    AFTER INSERT OR UPDATE OR DELETE ON @extschema@.payment_attempt_record
    FOR EACH ROW EXECUTE FUNCTION @extschema@.attempt_check();
CREATE CONSTRAINT TRIGGER record_check
    AFTER INSERT OR UPDATE OR DELETE ON @extschema@.payment_record
    FOR EACH ROW EXECUTE FUNCTION @extschema@.record_check();
CREATE TRIGGER refund_no_truncate BEFORE TRUNCATE ON @extschema@.refund
    FOR EACH STATEMENT EXECUTE FUNCTION @extschema@.forbid_truncate();
CREATE TRIGGER attempt_no_truncate BEFORE TRUNCATE ON @extschema@.payment_attempt_record
    FOR EACH STATEMENT EXECUTE FUNCTION @extschema@.forbid_truncate();
CREATE TRIGGER record_no_truncate BEFORE TRUNCATE ON @extschema@.payment_record
    FOR EACH STATEMENT EXECUTE FUNCTION @extschema@.forbid_truncate();

--
-- API.  SECURITY DEFINER with a pinned search_path: callers write only
-- through these, never to the tables.
--
CREATE FUNCTION @extschema@.report_payment(params jsonb, idempotency_key text DEFAULT NULL)
    RETURNS jsonb
    AS 'MODULE_PATHNAME', 'payment_records_report_payment'
    LANGUAGE C VOLATILE PARALLEL UNSAFE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp;

CREATE FUNCTION @extschema@.report_refund(id text, params jsonb, idempotency_key text DEFAULT NULL)
    RETURNS jsonb
    AS 'MODULE_PATHNAME', 'payment_records_report_refund'
    LANGUAGE C VOLATILE PARALLEL UNSAFE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp;

CREATE FUNCTION @extschema@.retrieve_payment_record(id text)
    RETURNS jsonb
    AS 'MODULE_PATHNAME', 'payment_records_retrieve_payment_record'
    LANGUAGE C STABLE PARALLEL SAFE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp;

CREATE FUNCTION @extschema@.report_payment_attempt(id text, params jsonb, idempotency_key text DEFAULT NULL)
    RETURNS jsonb
    AS 'MODULE_PATHNAME', 'payment_records_report_payment_attempt'
    LANGUAGE C VOLATILE PARALLEL UNSAFE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp;

CREATE FUNCTION @extschema@.report_payment_attempt_canceled(id text, params jsonb, idempotency_key text DEFAULT NULL)
    RETURNS jsonb
    AS 'MODULE_PATHNAME', 'payment_records_report_payment_attempt_canceled'
    LANGUAGE C VOLATILE PARALLEL UNSAFE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp;

CREATE FUNCTION @extschema@.report_payment_attempt_failed(id text, params jsonb, idempotency_key text DEFAULT NULL)
    RETURNS jsonb
    AS 'MODULE_PATHNAME', 'payment_records_report_payment_attempt_failed'
    LANGUAGE C VOLATILE PARALLEL UNSAFE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp;

CREATE FUNCTION @extschema@.report_payment_attempt_guaranteed(id text, params jsonb, idempotency_key text DEFAULT NULL)
    RETURNS jsonb
    AS 'MODULE_PATHNAME', 'payment_records_report_payment_attempt_guaranteed'
    LANGUAGE C VOLATILE PARALLEL UNSAFE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp;

CREATE FUNCTION @extschema@.report_payment_attempt_informational(id text, params jsonb DEFAULT '{}', idempotency_key text DEFAULT NULL)
    RETURNS jsonb
    AS 'MODULE_PATHNAME', 'payment_records_report_payment_attempt_informational'
    LANGUAGE C VOLATILE PARALLEL UNSAFE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp;

CREATE FUNCTION @extschema@.retrieve_payment_attempt_record(id text)
    RETURNS jsonb
    AS 'MODULE_PATHNAME', 'payment_records_retrieve_payment_attempt_record'
    LANGUAGE C STABLE PARALLEL SAFE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp;

CREATE FUNCTION @extschema@.list_payment_records(params jsonb DEFAULT '{}')
    RETURNS jsonb
    AS 'MODULE_PATHNAME', 'payment_records_list_payment_records'
    LANGUAGE C STABLE PARALLEL SAFE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp;

CREATE FUNCTION @extschema@.list_payment_attempt_records(params jsonb)
    RETURNS jsonb
    AS 'MODULE_PATHNAME', 'payment_records_list_payment_attempt_records'
    LANGUAGE C STABLE PARALLEL SAFE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp;

--
-- Idempotency key retention: delete keys older than
-- payment_records.idempotency_retention, batch_size rows per statement (so
-- no statement holds many row locks or runs long), and return the count.
-- Schedule it, e.g. with pg_cron: SELECT cron.schedule('0 * * * *',
-- 'SELECT payment_records.purge_idempotency_keys()');
--
CREATE FUNCTION @extschema@.purge_idempotency_keys(batch_size integer DEFAULT 1000)
    RETURNS bigint
    LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
AS $purge$
DECLARE
    cutoff timestamptz := pg_catalog.now()
        - pg_catalog.current_setting('payment_records.idempotency_retention')::interval;
    deleted bigint;
    total bigint := 0;
BEGIN
    IF batch_size IS NULL OR batch_size < 1 THEN
        RAISE EXCEPTION 'batch_size must be at least 1'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    LOOP
        DELETE FROM @extschema@.idempotency_key k
        WHERE k.ctid = ANY (ARRAY(
            SELECT i.ctid FROM @extschema@.idempotency_key i
            WHERE i.created < cutoff
            ORDER BY i.created LIMIT batch_size
            FOR UPDATE SKIP LOCKED));
        GET DIAGNOSTICS deleted = ROW_COUNT;
        total := total + deleted;
        EXIT WHEN deleted < batch_size;
    END LOOP;
    RETURN total;
END
$purge$;

--
-- Reporting (database-side): typed columns for analysts.  Amounts are
-- bigint minor units, with a numeric in major units beside each
-- (to_major: 1050 usd -> 10.50, 1050 jpy -> 1050, 1050 kwd -> 1.050).
--
CREATE FUNCTION @extschema@.to_major(amount bigint, currency text) RETURNS numeric
    AS 'MODULE_PATHNAME', 'payment_records_to_major'
    LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

-- one row per record, showing its latest attempt (as the API object does);
-- the refunded amount is the head of the refund chain: one index probe
CREATE VIEW @extschema@.payment_record_report AS
SELECT r.id,
       r.created,
       r.livemode,
       r.currency,
       r.amount AS amount_requested,
       g.amount_guaranteed,
       coalesce(h.refunded_total, 0) AS amount_refunded,
       CASE WHEN a.status = 'failed' THEN r.amount ELSE 0 END AS amount_failed,
       CASE WHEN a.status = 'canceled' THEN r.amount ELSE 0 END AS amount_canceled,
       @extschema@.to_major(r.amount, r.currency) AS amount_requested_major,
       @extschema@.to_major(g.amount_guaranteed, r.currency) AS amount_guaranteed_major,
       @extschema@.to_major(coalesce(h.refunded_total, 0), r.currency) AS amount_refunded_major,
       @extschema@.to_major(CASE WHEN a.status = 'failed' THEN r.amount ELSE 0 END, r.currency) AS amount_failed_major,
       @extschema@.to_major(CASE WHEN a.status = 'canceled' THEN r.amount ELSE 0 END, r.currency) AS amount_canceled_major,
       a.status,
       a.id AS latest_payment_attempt_record,
       a.attempt AS attempts,
       a.customer_details ->> 'customer' AS customer,
       a.customer_details ->> 'email' AS customer_email,
       a.customer_details ->> 'name' AS customer_name,
       a.customer_details ->> 'phone' AS customer_phone,
       a.customer_presence,
       a.description,
       a.initiated_at,
       a.guaranteed_at,
       a.failed_at,
       a.canceled_at,
       coalesce(a.metadata, '{}'::jsonb) AS metadata
FROM @extschema@.payment_record r
CROSS JOIN LATERAL (
    SELECT * FROM @extschema@.payment_attempt_record x
    WHERE x.record_seq = r.seq ORDER BY x.attempt DESC LIMIT 1) a
CROSS JOIN LATERAL (
    SELECT CASE WHEN a.status = 'guaranteed' THEN r.amount ELSE 0 END AS amount_guaranteed) g
LEFT JOIN LATERAL (
    SELECT f.refunded_total FROM @extschema@.refund f
    WHERE f.record_seq = r.seq ORDER BY f.refund_no DESC LIMIT 1) h ON true;

-- one row per attempt
CREATE VIEW @extschema@.payment_attempt_report AS
SELECT a.id,
       r.id AS payment_record,
       a.attempt,
       a.created,
       r.livemode,
       r.currency,
       a.status,
       r.amount AS amount_requested,
       CASE WHEN a.status = 'guaranteed' THEN r.amount ELSE 0 END AS amount_guaranteed,
       CASE WHEN a.status = 'failed' THEN r.amount ELSE 0 END AS amount_failed,
       CASE WHEN a.status = 'canceled' THEN r.amount ELSE 0 END AS amount_canceled,
       @extschema@.to_major(r.amount, r.currency) AS amount_requested_major,
       a.initiated_at,
       a.guaranteed_at,
       a.failed_at,
       a.canceled_at,
       a.customer_details ->> 'customer' AS customer,
       a.customer_details ->> 'email' AS customer_email,
       a.customer_presence,
       a.description,
       a.payment_method_details ->> 'payment_method' AS payment_method,
       a.payment_method_details ->> 'type' AS payment_method_type,
       a.processor_details -> 'custom' ->> 'payment_reference' AS payment_reference,
       coalesce(a.metadata, '{}'::jsonb) AS metadata
FROM @extschema@.payment_attempt_record a
JOIN @extschema@.payment_record r ON r.seq = a.record_seq;

-- one row per refund
CREATE VIEW @extschema@.refund_report AS
SELECT r.id AS payment_record,
       f.refund_no,
       f.refund_reference,
       f.livemode,
       r.currency,
       f.amount,
       @extschema@.to_major(f.amount, r.currency) AS amount_major,
       f.refunded_total,
       f.initiated_at,
       f.refunded_at,
       f.created,
       coalesce(f.metadata, '{}'::jsonb) AS metadata
FROM @extschema@.refund f
JOIN @extschema@.payment_record r ON r.seq = f.record_seq;

-- per UTC day of the record's creation, mode and currency
CREATE VIEW @extschema@.daily_summary AS
SELECT (p.created AT TIME ZONE 'UTC')::date AS day,
       p.livemode,
       p.currency,
       count(*) AS payments,
       count(*) FILTER (WHERE p.status = 'guaranteed') AS guaranteed_payments,
       sum(p.amount_guaranteed)::bigint AS gross_guaranteed,
       sum(p.amount_refunded)::bigint AS refunded,
       sum(p.amount_guaranteed - p.amount_refunded)::bigint AS net,
       @extschema@.to_major(sum(p.amount_guaranteed)::bigint, p.currency) AS gross_guaranteed_major,
       @extschema@.to_major(sum(p.amount_refunded)::bigint, p.currency) AS refunded_major,
       @extschema@.to_major(sum(p.amount_guaranteed - p.amount_refunded)::bigint, p.currency) AS net_major
FROM @extschema@.payment_record_report p
GROUP BY 1, 2, 3;

-- remaining refundable amount per guaranteed record, from the chain head
-- (never a sum over the refunds)
CREATE VIEW @extschema@.refundable AS
SELECT p.id, p.livemode, p.currency, p.amount_guaranteed, p.amount_refunded,
       p.amount_guaranteed - p.amount_refunded AS amount_remaining,
       @extschema@.to_major(p.amount_guaranteed - p.amount_refunded, p.currency) AS amount_remaining_major
FROM @extschema@.payment_record_report p
WHERE p.status = 'guaranteed';

-- BEGIN form_to_jsonb and request() (src/pr_form.c, src/pr_request.c)
--
-- form_to_jsonb() turns a form body (Stripe's curl examples) into params;
-- request() answers a Stripe method and path with (status, body).  Neither
-- is SECURITY DEFINER: request() checks the caller's EXECUTE privilege on
-- the function it routes to and calls it by OID, so that function's own
-- SECURITY DEFINER applies and nothing else becomes reachable.
--
CREATE FUNCTION @extschema@.form_to_jsonb(body text)
    RETURNS jsonb
    AS 'MODULE_PATHNAME', 'payment_records_form_to_jsonb'
    LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

CREATE FUNCTION @extschema@.request(method text, path text,
                                    params jsonb DEFAULT '{}',
                                    idempotency_key text DEFAULT NULL,
                                    OUT status integer, OUT body jsonb)
    RETURNS record
    AS 'MODULE_PATHNAME', 'payment_records_request'
    LANGUAGE C VOLATILE PARALLEL UNSAFE;
-- END form_to_jsonb and request()

--
-- Privileges.
--
REVOKE ALL ON ALL TABLES IN SCHEMA @extschema@ FROM PUBLIC;
REVOKE ALL ON ALL SEQUENCES IN SCHEMA @extschema@ FROM PUBLIC;
REVOKE ALL ON ALL FUNCTIONS IN SCHEMA @extschema@ FROM PUBLIC;

GRANT USAGE ON SCHEMA @extschema@ TO payment_records_reader, payment_records_writer;
-- (tables and views alike)
GRANT SELECT ON ALL TABLES IN SCHEMA @extschema@ TO payment_records_reader, payment_records_writer;
GRANT EXECUTE ON FUNCTION @extschema@.to_major(bigint, text)
    TO payment_records_reader, payment_records_writer;
GRANT EXECUTE ON FUNCTION @extschema@.purge_idempotency_keys(integer) TO payment_records_writer;
GRANT EXECUTE ON FUNCTION
    @extschema@.retrieve_payment_record(text),
    @extschema@.retrieve_payment_attempt_record(text),
    @extschema@.list_payment_records(jsonb),
    @extschema@.list_payment_attempt_records(jsonb)
    TO payment_records_reader, payment_records_writer;
GRANT EXECUTE ON FUNCTION
    @extschema@.report_payment(jsonb, text),
    @extschema@.report_refund(text, jsonb, text),
    @extschema@.report_payment_attempt(text, jsonb, text),
    @extschema@.report_payment_attempt_canceled(text, jsonb, text),
    @extschema@.report_payment_attempt_failed(text, jsonb, text),
    @extschema@.report_payment_attempt_guaranteed(text, jsonb, text),
    @extschema@.report_payment_attempt_informational(text, jsonb, text)
    TO payment_records_writer;
-- BEGIN grants for form_to_jsonb and request()
REVOKE ALL ON FUNCTION
    @extschema@.form_to_jsonb(text),
    @extschema@.request(text, text, jsonb, text)
    FROM PUBLIC;
GRANT EXECUTE ON FUNCTION
    @extschema@.form_to_jsonb(text),
    @extschema@.request(text, text, jsonb, text)
    TO payment_records_reader, payment_records_writer;
-- END grants for form_to_jsonb and request()

-- ====================================================================
-- Added in 1.1 (the same statements as payment_records--1.0--1.1.sql)
-- ====================================================================

--
-- Live mode is bound to the caller (README, contract clause C10): members
-- of this role act in live mode, everyone else in test mode.  Whoever
-- administers the role decides; a caller cannot change its own mode.
--
DO $roles$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = 'payment_records_live') THEN
        CREATE ROLE payment_records_live NOLOGIN;
    END IF;
END
$roles$;

--
-- Refund references of any length up to the contract's 5,000 characters:
-- the unique index holds the reference itself up to 64 bytes, its SHA-256
-- digest beyond (a B-tree entry must fit in a third of a page).
--
CREATE FUNCTION @extschema@.reference_key(reference text) RETURNS bytea
    AS 'MODULE_PATHNAME', 'payment_records_reference_key'
    LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
DROP INDEX @extschema@.refund_reference_key;
CREATE UNIQUE INDEX refund_reference_key
    ON @extschema@.refund (livemode, @extschema@.reference_key(refund_reference))
    WHERE refund_reference IS NOT NULL;

--
-- Every table the extension owns is guarded by triggers that check every
-- row in full.
--
CREATE FUNCTION @extschema@.record_attempt_check() RETURNS trigger
    AS 'MODULE_PATHNAME', 'payment_records_record_attempt_check' LANGUAGE C;
CREATE FUNCTION @extschema@.idempotency_key_check() RETURNS trigger
    AS 'MODULE_PATHNAME', 'payment_records_idempotency_key_check' LANGUAGE C;
CREATE FUNCTION @extschema@.idempotency_key_record_check() RETURNS trigger
    AS 'MODULE_PATHNAME', 'payment_records_idempotency_key_record_check' LANGUAGE C;
CREATE FUNCTION @extschema@.event_check() RETURNS trigger
    AS 'MODULE_PATHNAME', 'payment_records_event_check' LANGUAGE C;

-- a record has its first attempt by the end of the transaction creating it
CREATE CONSTRAINT TRIGGER record_attempt_check
    AFTER INSERT ON @extschema@.payment_record
    DEFERRABLE INITIALLY DEFERRED
    FOR EACH ROW EXECUTE FUNCTION @extschema@.record_attempt_check();
-- keys: written by the extension's functions only, immutable, deleted
-- only when expired; a stored answer names a record that exists
CREATE CONSTRAINT TRIGGER idempotency_key_check
    AFTER INSERT OR UPDATE OR DELETE ON @extschema@.idempotency_key
    FOR EACH ROW EXECUTE FUNCTION @extschema@.idempotency_key_check();
CREATE CONSTRAINT TRIGGER idempotency_key_record_check
    AFTER INSERT ON @extschema@.idempotency_key
    DEFERRABLE INITIALLY DEFERRED
    FOR EACH ROW EXECUTE FUNCTION @extschema@.idempotency_key_record_check();
-- events: written by the extension's functions only, append-only
CREATE CONSTRAINT TRIGGER event_check
    AFTER INSERT OR UPDATE OR DELETE ON @extschema@.event
    FOR EACH ROW EXECUTE FUNCTION @extschema@.event_check();
CREATE TRIGGER idempotency_key_no_truncate BEFORE TRUNCATE ON @extschema@.idempotency_key
    FOR EACH STATEMENT EXECUTE FUNCTION @extschema@.forbid_truncate();
CREATE TRIGGER event_no_truncate BEFORE TRUNCATE ON @extschema@.event
    FOR EACH STATEMENT EXECUTE FUNCTION @extschema@.forbid_truncate();

-- fire always: session_replication_role = replica silences no check, the
-- foreign keys' included
-- (by name: there is no ENABLE ALWAYS TRIGGER ALL; names are identifiers
-- quoted by format('%I'), never values)
DO $always$
DECLARE
    t record;
BEGIN
    FOR t IN SELECT c.oid::pg_catalog.regclass AS rel, g.tgname
             FROM pg_catalog.pg_trigger g
             JOIN pg_catalog.pg_class c ON c.oid OPERATOR(pg_catalog.=) g.tgrelid
             WHERE c.relnamespace OPERATOR(pg_catalog.=) '@extschema@'::pg_catalog.regnamespace
               AND c.relkind OPERATOR(pg_catalog.=) 'r'
             ORDER BY 1, 2
    LOOP
        EXECUTE pg_catalog.format('ALTER TABLE %s ENABLE ALWAYS TRIGGER %I', t.rel, t.tgname);
    END LOOP;
END
$always$;

--
-- DROP EXTENSION (or DROP SCHEMA ... CASCADE, DROP OWNED BY its owner,
-- DROP ... plpgsql CASCADE) is refused while payment records exist,
-- unless a superuser sets payment_records.allow_drop in the dropping
-- transaction; the schema cannot be renamed or given to another owner.
--
CREATE FUNCTION @extschema@.guard_drop() RETURNS event_trigger
    AS 'MODULE_PATHNAME', 'payment_records_guard_drop' LANGUAGE C;
CREATE EVENT TRIGGER payment_records_guard_drop ON ddl_command_start
    WHEN TAG IN ('DROP EXTENSION', 'DROP SCHEMA', 'DROP OWNED', 'DROP LANGUAGE', 'ALTER SCHEMA')
    EXECUTE FUNCTION @extschema@.guard_drop();
ALTER EVENT TRIGGER payment_records_guard_drop ENABLE ALWAYS;

--
-- Each caller sees the rows of its own mode only, in the tables and the
-- views alike: row-level security with the API's own rule.  The
-- extension's functions run as the tables' owner, which policies do not
-- restrict; the views run as their caller (security_invoker).
--
CREATE FUNCTION @extschema@.caller_livemode() RETURNS boolean
    AS 'MODULE_PATHNAME', 'payment_records_caller_livemode'
    LANGUAGE C STABLE PARALLEL SAFE;
GRANT EXECUTE ON FUNCTION @extschema@.caller_livemode() TO PUBLIC;

ALTER TABLE @extschema@.payment_record ENABLE ROW LEVEL SECURITY;
ALTER TABLE @extschema@.payment_attempt_record ENABLE ROW LEVEL SECURITY;
ALTER TABLE @extschema@.refund ENABLE ROW LEVEL SECURITY;
ALTER TABLE @extschema@.idempotency_key ENABLE ROW LEVEL SECURITY;
ALTER TABLE @extschema@.event ENABLE ROW LEVEL SECURITY;
CREATE POLICY caller_mode ON @extschema@.payment_record
    USING (livemode OPERATOR(pg_catalog.=) @extschema@.caller_livemode())
    WITH CHECK (livemode OPERATOR(pg_catalog.=) @extschema@.caller_livemode());
-- an attempt is seen with its record (whose own policy applies)
CREATE POLICY caller_mode ON @extschema@.payment_attempt_record
    USING (EXISTS (SELECT 1 FROM @extschema@.payment_record r
                   WHERE r.seq OPERATOR(pg_catalog.=) record_seq));
CREATE POLICY caller_mode ON @extschema@.refund
    USING (livemode OPERATOR(pg_catalog.=) @extschema@.caller_livemode())
    WITH CHECK (livemode OPERATOR(pg_catalog.=) @extschema@.caller_livemode());
CREATE POLICY caller_mode ON @extschema@.idempotency_key
    USING (livemode OPERATOR(pg_catalog.=) @extschema@.caller_livemode());
CREATE POLICY caller_mode ON @extschema@.event
    USING (livemode OPERATOR(pg_catalog.=) @extschema@.caller_livemode());
ALTER VIEW @extschema@.payment_record_report SET (security_invoker = true);
ALTER VIEW @extschema@.payment_attempt_report SET (security_invoker = true);
ALTER VIEW @extschema@.refund_report SET (security_invoker = true);
ALTER VIEW @extschema@.daily_summary SET (security_invoker = true);
ALTER VIEW @extschema@.refundable SET (security_invoker = true);

--
-- Retention: the purge reads the retention as the module validated it,
-- never as text from current_setting().
--
-- now in C: the extension then depends on no procedural language, which a
-- DROP EXTENSION plpgsql CASCADE would otherwise take it away with
CREATE OR REPLACE FUNCTION @extschema@.purge_idempotency_keys(batch_size integer DEFAULT 1000)
    RETURNS bigint
    AS 'MODULE_PATHNAME', 'payment_records_purge_idempotency_keys'
    LANGUAGE C VOLATILE CALLED ON NULL INPUT PARALLEL UNSAFE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp;

-- reference_key() stays executable by PUBLIC: the unique index's
-- expression runs as whoever inserts a refund, and it only hashes
REVOKE ALL ON FUNCTION
    @extschema@.record_attempt_check(),
    @extschema@.idempotency_key_check(),
    @extschema@.idempotency_key_record_check(),
    @extschema@.event_check(),
    @extschema@.guard_drop()
    FROM PUBLIC;

-- BEGIN gateway keys (src/gateway/, issue 14)
--
-- API keys of the HTTP gateway (payment_records_gateway).  A key is a
-- Stripe-style secret (sk_test_, sk_live_, or the read-only rk_test_ and
-- rk_live_), shown once by create_api_key() and stored only as its SHA-256.
-- Each key maps to a database role; the gateway runs each request as that
-- role (SET LOCAL ROLE), so the database's privileges decide what a key may
-- do and the role decides the mode: live iff the role is a member (not by
-- being superuser) of payment_records_live.  Set-up, as a superuser:
--
--   CREATE ROLE shop_test NOLOGIN IN ROLE payment_records_writer;
--   CREATE ROLE shop_live NOLOGIN IN ROLE payment_records_writer, payment_records_live;
--   CREATE ROLE shop_read NOLOGIN IN ROLE payment_records_reader;
--   GRANT shop_test, shop_live, shop_read TO payment_records_gateway;
--   CREATE ROLE gateway LOGIN PASSWORD '...' IN ROLE payment_records_gateway;
--   SELECT * FROM payment_records.create_api_key('shop_test', false);
--
DO $gateway_roles$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = 'payment_records_live') THEN
        CREATE ROLE payment_records_live NOLOGIN;
    END IF;
    IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = 'payment_records_gateway') THEN
        CREATE ROLE payment_records_gateway NOLOGIN;
    END IF;
END
$gateway_roles$;

CREATE TABLE @extschema@.api_key (
    id              text COLLATE "C" NOT NULL,
    secret_hash     bytea NOT NULL,
    role_name       name NOT NULL,
    livemode        boolean NOT NULL,
    restricted      boolean NOT NULL,
    last4           text COLLATE "C" NOT NULL,
    description     text,
    created         timestamptz NOT NULL,
    revoked         timestamptz,
    CONSTRAINT api_key_pkey PRIMARY KEY (id),
    CONSTRAINT api_key_secret_hash_key UNIQUE (secret_hash),
    CONSTRAINT api_key_secret_hash_check CHECK (pg_catalog.length(secret_hash) = 32)
);
SELECT pg_catalog.pg_extension_config_dump('@extschema@.api_key', '');

-- A key never changes but for its revocation (once); only revoked keys
-- may be deleted.  Holds for the owner and superusers too.
CREATE FUNCTION @extschema@.api_key_guard() RETURNS trigger
    LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp
AS $guard$
BEGIN
    IF TG_OP = 'DELETE' THEN
        IF OLD.revoked IS NULL THEN
            RAISE EXCEPTION 'API key % is not revoked: revoke it before deleting it', OLD.id
                USING ERRCODE = 'object_not_in_prerequisite_state';
        END IF;
        RETURN OLD;
    END IF;
    IF OLD.revoked IS NOT NULL OR NEW.revoked IS NULL
       OR (NEW.id, NEW.secret_hash, NEW.role_name, NEW.livemode, NEW.restricted,
           NEW.last4, NEW.description, NEW.created)
          IS DISTINCT FROM
          (OLD.id, OLD.secret_hash, OLD.role_name, OLD.livemode, OLD.restricted,
           OLD.last4, OLD.description, OLD.created) THEN
        RAISE EXCEPTION 'API key % cannot change: it can only be revoked, once', OLD.id
            USING ERRCODE = 'object_not_in_prerequisite_state';
    END IF;
    RETURN NEW;
END
$guard$;
CREATE TRIGGER api_key_guard BEFORE UPDATE OR DELETE ON @extschema@.api_key
    FOR EACH ROW EXECUTE FUNCTION @extschema@.api_key_guard();
-- only the extension's functions write keys (a pg_write_all_data role could
-- otherwise plant a key of its own for any role the gateway acts as); no
-- TRUNCATE; and no session_replication_role silences either
CREATE FUNCTION @extschema@.owner_only() RETURNS trigger
    AS 'MODULE_PATHNAME', 'payment_records_owner_only' LANGUAGE C;
CREATE CONSTRAINT TRIGGER api_key_owner_only
    AFTER INSERT OR UPDATE OR DELETE ON @extschema@.api_key
    FOR EACH ROW EXECUTE FUNCTION @extschema@.owner_only();
CREATE TRIGGER api_key_no_truncate BEFORE TRUNCATE ON @extschema@.api_key
    FOR EACH STATEMENT EXECUTE FUNCTION @extschema@.forbid_truncate();
ALTER TABLE @extschema@.api_key ENABLE ALWAYS TRIGGER api_key_guard;
ALTER TABLE @extschema@.api_key ENABLE ALWAYS TRIGGER api_key_owner_only;
ALTER TABLE @extschema@.api_key ENABLE ALWAYS TRIGGER api_key_no_truncate;

-- Why a role cannot back a key of this mode and kind, or NULL when it can
-- (src/pr_api_keys.c): it must exist, not be a superuser, be live iff the
-- key is (a member of payment_records_live, superuser status aside), be a
-- role payment_records_gateway may SET ROLE to, and for a restricted key
-- have no EXECUTE on a write function.
CREATE FUNCTION @extschema@.api_key_role_problem(key_role name, livemode boolean, restricted boolean)
    RETURNS text
    AS 'MODULE_PATHNAME', 'payment_records_api_key_role_problem'
    LANGUAGE C STABLE SET search_path = pg_catalog, pg_temp;

-- A new key for a role: its id and its secret, which is shown only here.
CREATE FUNCTION @extschema@.create_api_key(key_role name, livemode boolean,
                                           restricted boolean DEFAULT false,
                                           description text DEFAULT NULL,
                                           OUT id text, OUT secret text)
    LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $create$
DECLARE
    problem text := @extschema@.api_key_role_problem(key_role, livemode, restricted);
BEGIN
    IF key_role IS NULL OR livemode IS NULL OR restricted IS NULL THEN
        RAISE EXCEPTION 'key_role, livemode and restricted must not be null'
            USING ERRCODE = 'null_value_not_allowed';
    END IF;
    IF problem IS NOT NULL THEN
        RAISE EXCEPTION 'cannot create an API key: %', problem
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    -- 2 x 122 random bits (gen_random_uuid uses the strong random source)
    secret := CASE WHEN restricted THEN 'rk_' ELSE 'sk_' END
        || CASE WHEN livemode THEN 'live_' ELSE 'test_' END
        || translate(encode(decode(replace(gen_random_uuid()::text || gen_random_uuid()::text,
                                           '-', ''), 'hex'), 'base64'), '+/=', '');
    id := 'key_' || left(replace(gen_random_uuid()::text, '-', ''), 24);
    INSERT INTO @extschema@.api_key (id, secret_hash, role_name, livemode, restricted,
                                     last4, description, created)
    VALUES (id, sha256(convert_to(secret, 'UTF8')), key_role, livemode, restricted,
            right(secret, 4), description, now());
END
$create$;

-- Revoke a key: true if it was active.  Takes effect at the next request.
CREATE FUNCTION @extschema@.revoke_api_key(key_id text) RETURNS boolean
    LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $revoke$
BEGIN
    UPDATE @extschema@.api_key k SET revoked = now()
    WHERE k.id = key_id AND k.revoked IS NULL;
    RETURN FOUND;
END
$revoke$;

-- The gateway's first statement of every request: the role a secret acts
-- as, after checking again that the role still fits the key.  An unknown,
-- revoked or no longer fitting key is SQLSTATE 28000 with Stripe's message,
-- which shows the secret's prefix and last four characters at most.
CREATE FUNCTION @extschema@.authenticate_api_key(secret text,
                                                 OUT role_name name, OUT livemode boolean,
                                                 OUT restricted boolean, OUT key_id text)
    RETURNS record
    AS 'MODULE_PATHNAME', 'payment_records_authenticate_api_key'
    LANGUAGE C STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp;

-- The gateway's second statement, run as the key's role: a form body (or
-- none) decoded by form_to_jsonb and passed to request(), whose path keeps
-- its query string.  A malformed body is Stripe's 400, like any error of
-- request() itself.
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

REVOKE ALL ON TABLE @extschema@.api_key FROM PUBLIC;
REVOKE ALL ON FUNCTION
    @extschema@.api_key_guard(),
    @extschema@.owner_only(),
    @extschema@.api_key_role_problem(name, boolean, boolean),
    @extschema@.create_api_key(name, boolean, boolean, text),
    @extschema@.revoke_api_key(text),
    @extschema@.authenticate_api_key(text),
    @extschema@.http_request(text, text, text, text)
    FROM PUBLIC;
GRANT USAGE ON SCHEMA @extschema@ TO payment_records_gateway;
GRANT EXECUTE ON FUNCTION @extschema@.authenticate_api_key(text) TO payment_records_gateway;
GRANT EXECUTE ON FUNCTION @extschema@.http_request(text, text, text, text)
    TO payment_records_reader, payment_records_writer;
-- END gateway keys

--
-- Sharded deployments (payment_records_router, README "Beyond one
-- machine").  A refund reference must stay unique across every shard, so
-- the router claims it, before the refund is written, on the shard its
-- hash picks (reference_claim there), and the refund is written on the
-- record's shard together with a row of reference_use naming the claim's
-- token.  Releasing a claim first fences its token on the record's shard
-- (reference_use with used = false): a refund still in flight under that
-- token can then never commit, so a released reference is free for good.
-- Only members of payment_records_router (the roles the router connects
-- as) may call these functions; writers may not.
--
DO $router_role$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = 'payment_records_router') THEN
        CREATE ROLE payment_records_router NOLOGIN;
    END IF;
END
$router_role$;

-- on the claiming shard: which record a reference belongs to
CREATE TABLE @extschema@.reference_claim (
    livemode    boolean NOT NULL,
    ref_key     bytea NOT NULL,             -- reference_key(reference)
    reference   text COLLATE "C" NOT NULL,
    record_id   text COLLATE "C" NOT NULL,
    token       uuid NOT NULL,              -- this claim, for its uses and its fence
    state       text COLLATE "C" NOT NULL,  -- claimed | confirmed
    claimed_at  timestamptz NOT NULL,
    CONSTRAINT reference_claim_pkey PRIMARY KEY (livemode, ref_key),
    CONSTRAINT reference_claim_state_check CHECK (state IN ('claimed', 'confirmed'))
);
-- on the record's shard: a claim used by a refund (used) or fenced (not used)
CREATE TABLE @extschema@.reference_use (
    livemode    boolean NOT NULL,
    ref_key     bytea NOT NULL,
    token       uuid NOT NULL,
    used        boolean NOT NULL,
    record_id   text COLLATE "C" NOT NULL,
    created     timestamptz NOT NULL,
    CONSTRAINT reference_use_pkey PRIMARY KEY (livemode, ref_key, token)
);
SELECT pg_catalog.pg_extension_config_dump('@extschema@.reference_claim', '');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.reference_use', '');

-- claim_reference(reference, record_id) -> the claim that holds the
-- reference in the caller's mode: a new one, or the one already there
-- (for this record: its token, so a retry completes it; for another: the
-- router refuses the refund)
CREATE FUNCTION @extschema@.claim_reference(reference text, record_id text,
    OUT token uuid, OUT state text, OUT holder text, OUT claimed_at timestamptz)
    LANGUAGE plpgsql VOLATILE STRICT SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $claim$
DECLARE
    mode boolean := @extschema@.caller_livemode();
    k bytea := @extschema@.reference_key(reference);
BEGIN
    INSERT INTO @extschema@.reference_claim AS c
        (livemode, ref_key, reference, record_id, token, state, claimed_at)
    VALUES (mode, k, reference, record_id, pg_catalog.gen_random_uuid(), 'claimed',
            pg_catalog.clock_timestamp())
    ON CONFLICT ON CONSTRAINT reference_claim_pkey DO NOTHING;
    SELECT c.token, c.state, c.record_id, c.claimed_at INTO token, state, holder, claimed_at
    FROM @extschema@.reference_claim c
    WHERE c.livemode = mode AND c.ref_key = k;
END
$claim$;

-- confirm_reference(reference, record_id, token): the claim's refund
-- exists; the claim is kept for good
CREATE FUNCTION @extschema@.confirm_reference(reference text, record_id text, token uuid)
    RETURNS boolean LANGUAGE sql VOLATILE STRICT SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $confirm$
    WITH u AS (
        UPDATE @extschema@.reference_claim c SET state = 'confirmed'
        WHERE c.livemode = @extschema@.caller_livemode()
          AND c.ref_key = @extschema@.reference_key($1)
          AND c.record_id = $2 AND c.token = $3
        RETURNING 1)
    SELECT count(*) > 0 FROM u
$confirm$;

-- drop_reference_claim(reference, record_id, token): remove a claim that
-- is still only claimed; only after settle_reference_use fenced its token
CREATE FUNCTION @extschema@.drop_reference_claim(reference text, record_id text, token uuid)
    RETURNS boolean LANGUAGE sql VOLATILE STRICT SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $drop$
    WITH d AS (
        DELETE FROM @extschema@.reference_claim c
        WHERE c.livemode = @extschema@.caller_livemode()
          AND c.ref_key = @extschema@.reference_key($1)
          AND c.record_id = $2 AND c.token = $3 AND c.state = 'claimed'
        RETURNING 1)
    SELECT count(*) > 0 FROM d
$drop$;

-- pending_reference_claims(older_than): claims of the caller's mode still
-- only claimed after older_than (for reconciliation)
CREATE FUNCTION @extschema@.pending_reference_claims(older_than interval)
    RETURNS TABLE (reference text, record_id text, token uuid, claimed_at timestamptz)
    LANGUAGE sql STABLE STRICT SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $pending$
    SELECT c.reference, c.record_id, c.token, c.claimed_at
    FROM @extschema@.reference_claim c
    WHERE c.livemode = @extschema@.caller_livemode() AND c.state = 'claimed'
      AND c.claimed_at < pg_catalog.clock_timestamp() - $1
    ORDER BY c.claimed_at
$pending$;

-- settle_reference_use(reference, record_id, token) on the record's
-- shard: true if a refund was written under the token; otherwise fence
-- the token (no refund can be written under it any more) and say false
CREATE FUNCTION @extschema@.settle_reference_use(reference text, record_id text, token uuid)
    RETURNS boolean LANGUAGE plpgsql VOLATILE STRICT SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $settle$
DECLARE
    mode boolean := @extschema@.caller_livemode();
    k bytea := @extschema@.reference_key(reference);
    was_used boolean;
BEGIN
    INSERT INTO @extschema@.reference_use (livemode, ref_key, token, used, record_id, created)
    VALUES (mode, k, token, false, record_id, pg_catalog.clock_timestamp())
    ON CONFLICT ON CONSTRAINT reference_use_pkey DO NOTHING;
    SELECT u.used INTO was_used FROM @extschema@.reference_use u
    WHERE u.livemode = mode AND u.ref_key = k AND u.token = settle_reference_use.token;
    RETURN was_used;
END
$settle$;

-- use_reference_claim(reference, record_id, token) on the record's shard,
-- in the refund's transaction: record the use (true: recorded by this
-- call; false: recorded before, by an earlier refund under the claim), or
-- refuse if the token was fenced (the claim was released: a retry claims
-- again)
CREATE FUNCTION @extschema@.use_reference_claim(reference text, record_id text, token uuid)
    RETURNS boolean LANGUAGE plpgsql VOLATILE STRICT SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $use$
DECLARE
    mode boolean := @extschema@.caller_livemode();
    k bytea := @extschema@.reference_key(reference);
    was_used boolean;
    recorded boolean := false;
BEGIN
    INSERT INTO @extschema@.reference_use (livemode, ref_key, token, used, record_id, created)
    VALUES (mode, k, token, true, record_id, pg_catalog.clock_timestamp())
    ON CONFLICT ON CONSTRAINT reference_use_pkey DO NOTHING
    RETURNING true INTO recorded;
    SELECT u.used INTO was_used FROM @extschema@.reference_use u
    WHERE u.livemode = mode AND u.ref_key = k AND u.token = use_reference_claim.token
      AND u.record_id = use_reference_claim.record_id;
    IF was_used IS NOT TRUE THEN
        RAISE EXCEPTION 'the claim of refund reference "%" was released', reference
            USING ERRCODE = 'serialization_failure',
                  HINT = 'Retry the refund: it claims the reference again.';
    END IF;
    RETURN coalesce(recorded, false);
END
$use$;

-- report_refund_claimed(id, params, idempotency_key, token): report_refund
-- under a claim, the claim's use in the same transaction
CREATE FUNCTION @extschema@.report_refund_claimed(id text, params jsonb,
    idempotency_key text, token uuid)
    RETURNS jsonb LANGUAGE plpgsql VOLATILE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $refund$
BEGIN
    PERFORM @extschema@.use_reference_claim(
        params #>> '{processor_details,custom,refund_reference}', id, token);
    RETURN @extschema@.report_refund(id, params, idempotency_key);
END
$refund$;

-- request_claimed(method, path, params, idempotency_key, token): request()
-- of a refund under a claim.  An answer other than 200 wrote no refund
-- (request() rolled its write back) but may have stored the error under
-- the idempotency key, which must stay so that a retry replays it: so the
-- transaction commits, and a use recorded by this call becomes a fence of
-- the token (the router then drops the claim).  A use recorded before (an
-- earlier refund under the same claim) is left as it is.
CREATE FUNCTION @extschema@.request_claimed(method text, path text, params jsonb,
    idempotency_key text, token uuid, OUT status integer, OUT body jsonb)
    LANGUAGE plpgsql VOLATILE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $request$
DECLARE
    id text := pg_catalog.split_part(path, '/', 4);
    ref text := params #>> '{processor_details,custom,refund_reference}';
    recorded boolean;
BEGIN
    recorded := @extschema@.use_reference_claim(ref, id, token);
    SELECT r.status, r.body INTO status, body
    FROM @extschema@.request(method, path, params, idempotency_key) r;
    IF status <> 200 AND recorded THEN
        UPDATE @extschema@.reference_use u SET used = false
        WHERE u.livemode = @extschema@.caller_livemode()
          AND u.ref_key = @extschema@.reference_key(ref)
          AND u.token = request_claimed.token;
    END IF;
END
$request$;

-- router_call(fn, id, params, idempotency_key, token): the router's way to
-- call an API function fn of this node (a fixed list, below) as the
-- caller (SECURITY INVOKER: the node checks the caller's rights and mode
-- as for a direct call) and get its answer, [answer], or its error as
-- data, [null, SQLSTATE, message, detail (the Stripe code), hint, column
-- (the Stripe param)], which the router raises again as they are (one
-- jsonb: cheaper through PL/Proxy than a record).  The call runs in a
-- subtransaction: an error leaves nothing it wrote.  Arguments: id (the
-- record or attempt id; the body for form_to_jsonb; the currency for
-- to_major; the reference for reference_key; the secret for
-- authenticate_api_key; the key id for revoke_api_key), params (the
-- parameters; the amount for to_major; for create_api_key {key_role,
-- livemode, restricted, description}).
CREATE FUNCTION @extschema@.router_call(fn text, id text, params jsonb,
    idempotency_key text DEFAULT NULL, token uuid DEFAULT NULL)
    RETURNS jsonb LANGUAGE plpgsql VOLATILE
    SET search_path = pg_catalog, pg_temp
    AS $call$
DECLARE
    result jsonb;
    err_sqlstate text;
    err_message text;
    err_detail text;
    err_hint text;
    err_column text;
BEGIN
    CASE fn
    WHEN 'report_payment' THEN
        result := @extschema@.report_payment(params, idempotency_key);
    WHEN 'retrieve_payment_record' THEN
        result := @extschema@.retrieve_payment_record(id);
    WHEN 'report_payment_attempt' THEN
        result := @extschema@.report_payment_attempt(id, params, idempotency_key);
    WHEN 'report_payment_attempt_canceled' THEN
        result := @extschema@.report_payment_attempt_canceled(id, params, idempotency_key);
    WHEN 'report_payment_attempt_failed' THEN
        result := @extschema@.report_payment_attempt_failed(id, params, idempotency_key);
    WHEN 'report_payment_attempt_guaranteed' THEN
        result := @extschema@.report_payment_attempt_guaranteed(id, params, idempotency_key);
    WHEN 'report_payment_attempt_informational' THEN
        result := @extschema@.report_payment_attempt_informational(id, params, idempotency_key);
    WHEN 'retrieve_payment_attempt_record' THEN
        result := @extschema@.retrieve_payment_attempt_record(id);
    WHEN 'list_payment_attempt_records' THEN
        result := @extschema@.list_payment_attempt_records(params);
    WHEN 'list_payment_records' THEN
        result := @extschema@.list_payment_records(params);
    WHEN 'report_refund' THEN
        result := @extschema@.report_refund(id, params, idempotency_key);
    WHEN 'report_refund_claimed' THEN
        result := @extschema@.report_refund_claimed(id, params, idempotency_key, token);
    WHEN 'form_to_jsonb' THEN
        result := @extschema@.form_to_jsonb(id);
    WHEN 'to_major' THEN
        result := pg_catalog.to_jsonb(@extschema@.to_major((params #>> '{}')::bigint, id));
    WHEN 'reference_key' THEN
        result := pg_catalog.to_jsonb(pg_catalog.encode(@extschema@.reference_key(id), 'hex'));
    WHEN 'authenticate_api_key' THEN
        SELECT pg_catalog.to_jsonb(a) INTO result FROM @extschema@.authenticate_api_key(id) a;
    WHEN 'create_api_key' THEN
        SELECT pg_catalog.to_jsonb(c) INTO result
        FROM @extschema@.create_api_key((params ->> 'key_role')::name,
                                        (params ->> 'livemode')::boolean,
                                        (params ->> 'restricted')::boolean,
                                        params ->> 'description') c;
    WHEN 'revoke_api_key' THEN
        result := pg_catalog.to_jsonb(@extschema@.revoke_api_key(id));
    END CASE;
    RETURN pg_catalog.jsonb_build_array(result);
EXCEPTION WHEN OTHERS THEN
    GET STACKED DIAGNOSTICS err_sqlstate = RETURNED_SQLSTATE, err_message = MESSAGE_TEXT,
                            err_detail = PG_EXCEPTION_DETAIL, err_hint = PG_EXCEPTION_HINT,
                            err_column = COLUMN_NAME;
    RETURN pg_catalog.jsonb_build_array(NULL, err_sqlstate, err_message,
                                        NULLIF(err_detail, ''), NULLIF(err_hint, ''),
                                        NULLIF(err_column, ''));
END
$call$;

-- router_record_cursor(id) -> created and seq of a record of the caller's
-- mode (nothing if unknown), for the router's list merge
CREATE FUNCTION @extschema@.router_record_cursor(id text,
    OUT created timestamptz, OUT seq bigint)
    LANGUAGE sql STABLE STRICT SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $cursor$
    SELECT r.created, r.seq FROM @extschema@.payment_record r
    WHERE r.id = $1 AND r.livemode = @extschema@.caller_livemode()
$cursor$;

-- router_list_records(params, cur_created, cur_seq, ascending, lim): one
-- shard's part of a page of list_payment_records (params already checked
-- by a node's list_payment_records): up to lim records past the cursor,
-- with their sort key, newest first (or oldest first when ascending)
CREATE FUNCTION @extschema@.router_list_records(params jsonb, cur_created timestamptz,
    cur_seq bigint, ascending boolean, lim integer)
    RETURNS TABLE (created timestamptz, seq bigint, object jsonb)
    LANGUAGE plpgsql STABLE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $list$
DECLARE
    mode boolean := @extschema@.caller_livemode();
    lo timestamptz := '-infinity';
    hi timestamptz := 'infinity';
BEGIN
    IF params ? 'created_after' THEN
        lo := pg_catalog.to_timestamp((params ->> 'created_after')::bigint + 1);
    END IF;
    IF params ? 'created_before' THEN
        hi := pg_catalog.to_timestamp((params ->> 'created_before')::bigint);
    END IF;
    IF ascending THEN
        RETURN QUERY
        SELECT r.created, r.seq, @extschema@.retrieve_payment_record(r.id)
        FROM @extschema@.payment_record r
        WHERE r.livemode = mode AND r.created >= lo AND r.created < hi
          AND (r.created, r.seq) > (cur_created, cur_seq)
        ORDER BY r.livemode, r.created, r.seq LIMIT lim;
    ELSE
        RETURN QUERY
        SELECT r.created, r.seq, @extschema@.retrieve_payment_record(r.id)
        FROM @extschema@.payment_record r
        WHERE r.livemode = mode AND r.created >= lo AND r.created < hi
          AND (r.created, r.seq) < (coalesce(cur_created, 'infinity'),
                                    coalesce(cur_seq, 9223372036854775807))
        ORDER BY r.livemode DESC, r.created DESC, r.seq DESC LIMIT lim;
    END IF;
END
$list$;

REVOKE ALL ON TABLE @extschema@.reference_claim, @extschema@.reference_use FROM PUBLIC;
REVOKE ALL ON FUNCTION
    @extschema@.claim_reference(text, text),
    @extschema@.confirm_reference(text, text, uuid),
    @extschema@.drop_reference_claim(text, text, uuid),
    @extschema@.pending_reference_claims(interval),
    @extschema@.settle_reference_use(text, text, uuid),
    @extschema@.use_reference_claim(text, text, uuid),
    @extschema@.report_refund_claimed(text, jsonb, text, uuid),
    @extschema@.request_claimed(text, text, jsonb, text, uuid),
    @extschema@.router_record_cursor(text),
    @extschema@.router_list_records(jsonb, timestamptz, bigint, boolean, integer),
    @extschema@.router_call(text, text, jsonb, text, uuid)
    FROM PUBLIC;
GRANT USAGE ON SCHEMA @extschema@ TO payment_records_router;
GRANT EXECUTE ON FUNCTION
    @extschema@.claim_reference(text, text),
    @extschema@.confirm_reference(text, text, uuid),
    @extschema@.drop_reference_claim(text, text, uuid),
    @extschema@.pending_reference_claims(interval),
    @extschema@.settle_reference_use(text, text, uuid),
    @extschema@.report_refund_claimed(text, jsonb, text, uuid),
    @extschema@.request_claimed(text, text, jsonb, text, uuid),
    @extschema@.router_record_cursor(text),
    @extschema@.router_list_records(jsonb, timestamptz, bigint, boolean, integer)
    TO payment_records_router;
-- the list helpers read the caller's own mode, as list_payment_records does
GRANT EXECUTE ON FUNCTION
    @extschema@.router_record_cursor(text),
    @extschema@.router_list_records(jsonb, timestamptz, bigint, boolean, integer)
    TO payment_records_reader, payment_records_writer;
-- router_call checks nothing itself: it calls as the caller
GRANT EXECUTE ON FUNCTION @extschema@.router_call(text, text, jsonb, text, uuid)
    TO payment_records_reader, payment_records_writer, payment_records_router,
       payment_records_gateway;
-- END sharded deployments
