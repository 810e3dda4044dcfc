/* payment_records--1.0.sql */

-- complain if script is sourced in psql, rather than via CREATE EXTENSION
\echo Use "CREATE EXTENSION payment_records" to load this file. \quit

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

-- Idempotency keys (SPEC 6): the stored response (or business error) of
-- the first call under a key, with a hash of the request it answered.
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
