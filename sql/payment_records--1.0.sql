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
CREATE TABLE @extschema@.payment_record (
    id          text COLLATE "C" NOT NULL,
    seq         bigserial NOT NULL,
    livemode    boolean NOT NULL,
    created     timestamptz NOT NULL,
    currency    text COLLATE "C" NOT NULL,
    amount      bigint NOT NULL,
    CONSTRAINT payment_record_pkey PRIMARY KEY (id),
    CONSTRAINT payment_record_seq_key UNIQUE (seq),
    CONSTRAINT payment_record_amount_check CHECK (amount > 0),
    CONSTRAINT payment_record_currency_check CHECK (pg_catalog.octet_length(currency) = 3)
);
-- newest first, by mode, for list_payment_records and created filters
CREATE INDEX payment_record_list_idx
    ON @extschema@.payment_record (livemode, created, seq);

CREATE TABLE @extschema@.payment_attempt_record (
    id                      text COLLATE "C" NOT NULL,
    record_seq              bigint NOT NULL,
    attempt                 integer NOT NULL,
    created                 timestamptz NOT NULL,
    status                  text COLLATE "C" NOT NULL,
    initiated_at            timestamptz NOT NULL,
    guaranteed_at           timestamptz,
    failed_at               timestamptz,
    canceled_at             timestamptz,
    customer_details        jsonb,
    customer_presence       text,
    description             text,
    metadata                jsonb,
    payment_method_details  jsonb,
    processor_details       jsonb,
    shipping_details        jsonb,
    CONSTRAINT payment_attempt_record_pkey PRIMARY KEY (id),
    CONSTRAINT payment_attempt_record_attempt_key UNIQUE (record_seq, attempt),
    CONSTRAINT payment_attempt_record_record_fkey FOREIGN KEY (record_seq)
        REFERENCES @extschema@.payment_record (seq)
);

CREATE TABLE @extschema@.refund (
    record_seq          bigint NOT NULL,
    refund_no           integer NOT NULL,
    amount              bigint NOT NULL,
    refunded_total      bigint NOT NULL,
    livemode            boolean NOT NULL,
    refund_reference    text COLLATE "C",
    initiated_at        timestamptz,
    refunded_at         timestamptz,
    created             timestamptz NOT NULL,
    metadata            jsonb,
    CONSTRAINT refund_pkey PRIMARY KEY (record_seq, refund_no),
    CONSTRAINT refund_record_fkey FOREIGN KEY (record_seq)
        REFERENCES @extschema@.payment_record (seq),
    CONSTRAINT refund_amount_check CHECK (amount > 0)
);
-- a refund reference is used once per mode, whatever the record
CREATE UNIQUE INDEX refund_reference_key
    ON @extschema@.refund (livemode, refund_reference)
    WHERE refund_reference IS NOT NULL;

SELECT pg_catalog.pg_extension_config_dump('@extschema@.payment_record', '');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.payment_record_seq_seq', '');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.payment_attempt_record', '');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.refund', '');

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
    AFTER UPDATE OR DELETE ON @extschema@.payment_record
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

-- BEGIN form_to_jsonb and request() (src/pr_form.c, src/pr_request.c)
-- END form_to_jsonb and request()

--
-- Privileges.
--
REVOKE ALL ON ALL TABLES IN SCHEMA @extschema@ FROM PUBLIC;
REVOKE ALL ON ALL SEQUENCES IN SCHEMA @extschema@ FROM PUBLIC;
REVOKE ALL ON ALL FUNCTIONS IN SCHEMA @extschema@ FROM PUBLIC;

GRANT USAGE ON SCHEMA @extschema@ TO payment_records_reader, payment_records_writer;
GRANT SELECT ON ALL TABLES IN SCHEMA @extschema@ TO payment_records_reader, payment_records_writer;
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
-- END grants for form_to_jsonb and request()
