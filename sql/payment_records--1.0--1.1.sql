/* payment_records--1.0--1.1.sql: update 1.0 to 1.1 (see CHANGELOG.md) */

-- complain if script is sourced in psql, rather than via ALTER EXTENSION
\echo Use "ALTER EXTENSION payment_records UPDATE TO '1.1'" to load this file. \quit

--
-- The schema must be the extension owner's alone: 1.0 installed into a
-- schema that existed before, whose owner could replace the extension's
-- objects with its own.  Refuse to go on until that is mended.
--
DO $guard$
DECLARE
    nsp pg_catalog.pg_namespace;
    owner oid;
BEGIN
    SELECT n.* INTO nsp FROM pg_catalog.pg_namespace n
        JOIN pg_catalog.pg_extension e ON e.extnamespace OPERATOR(pg_catalog.=) n.oid
        WHERE e.extname OPERATOR(pg_catalog.=) 'payment_records';
    SELECT e.extowner INTO owner FROM pg_catalog.pg_extension e
        WHERE e.extname OPERATOR(pg_catalog.=) 'payment_records';
    IF nsp.nspowner OPERATOR(pg_catalog.<>) owner
       OR EXISTS (SELECT 1 FROM pg_catalog.aclexplode(nsp.nspacl) a
                  WHERE a.privilege_type OPERATOR(pg_catalog.=) 'CREATE'
                    AND a.grantee OPERATOR(pg_catalog.<>) owner) THEN
        RAISE EXCEPTION 'schema "%" is not the payment_records extension''s own', nsp.nspname
            USING ERRCODE = 'insufficient_privilege',
                  DETAIL = 'Another role owns it or may create objects in it, and could replace the extension''s objects with its own.',
                  HINT = 'Make the extension''s owner the schema''s owner and revoke CREATE on it from everyone else, then update again.';
    END IF;
END
$guard$;

--
-- Live mode is bound to the caller (SPEC 5, 1.1): members of this role act
-- in live mode, everyone else in test mode.  Whoever administers the role
-- decides; a caller cannot change its own mode.
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
-- the unique index holds a SHA-256 digest of the reference (a B-tree
-- entry must fit in a third of a page).
--
CREATE FUNCTION @extschema@.reference_digest(reference text) RETURNS bytea
    AS 'MODULE_PATHNAME', 'payment_records_reference_digest'
    LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
DROP INDEX @extschema@.refund_reference_key;
CREATE UNIQUE INDEX refund_reference_key
    ON @extschema@.refund (livemode, @extschema@.reference_digest(refund_reference))
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
-- DROP EXTENSION (or DROP SCHEMA ... CASCADE, DROP OWNED BY its owner)
-- is refused while payment records exist, unless a superuser sets
-- payment_records.allow_drop in the dropping transaction.
--
CREATE FUNCTION @extschema@.guard_drop() RETURNS event_trigger
    AS 'MODULE_PATHNAME', 'payment_records_guard_drop' LANGUAGE C;
CREATE EVENT TRIGGER payment_records_guard_drop ON ddl_command_start
    WHEN TAG IN ('DROP EXTENSION', 'DROP SCHEMA', 'DROP OWNED')
    EXECUTE FUNCTION @extschema@.guard_drop();
ALTER EVENT TRIGGER payment_records_guard_drop ENABLE ALWAYS;

--
-- Retention: the purge reads the retention as the module validated it.
--
CREATE FUNCTION @extschema@.idempotency_expiry() RETURNS timestamptz
    AS 'MODULE_PATHNAME', 'payment_records_idempotency_expiry'
    LANGUAGE C STABLE PARALLEL SAFE;

CREATE OR REPLACE FUNCTION @extschema@.purge_idempotency_keys(batch_size integer DEFAULT 1000)
    RETURNS bigint
    LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
AS $purge$
DECLARE
    cutoff timestamptz := @extschema@.idempotency_expiry();
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
            WHERE i.created OPERATOR(pg_catalog.<) cutoff
            ORDER BY i.created LIMIT batch_size
            FOR UPDATE SKIP LOCKED));
        GET DIAGNOSTICS deleted = ROW_COUNT;
        total := total + deleted;
        EXIT WHEN deleted < batch_size;
    END LOOP;
    RETURN total;
END
$purge$;

-- reference_digest() stays executable by PUBLIC: the unique index's
-- expression runs as whoever inserts a refund, and it only hashes
REVOKE ALL ON FUNCTION
    @extschema@.record_attempt_check(),
    @extschema@.idempotency_key_check(),
    @extschema@.idempotency_key_record_check(),
    @extschema@.event_check(),
    @extschema@.guard_drop(),
    @extschema@.idempotency_expiry()
    FROM PUBLIC;
