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
-- 1.1's triggers check every new row; rows written under 1.0 are checked
-- here, once: a table written directly under 1.0 (by a role with
-- pg_write_all_data, say) may hold what 1.1 would refuse, and the update
-- must not carry it into a version that promises it cannot exist.
--
DO $verify$
DECLARE
    bad text := '';
    n bigint;
BEGIN
    SELECT count(*) INTO n FROM @extschema@.payment_record r
    WHERE r.id !~ '^pr_[0-9A-Za-z]{24}$' OR NOT pg_catalog.isfinite(r.created)
       OR r.amount OPERATOR(pg_catalog.<=) 0 OR r.amount OPERATOR(pg_catalog.>) 999999999999
       OR NOT EXISTS (SELECT 1 FROM @extschema@.payment_attempt_record a
                      WHERE a.record_seq OPERATOR(pg_catalog.=) r.seq
                        AND a.attempt OPERATOR(pg_catalog.=) 1);
    IF n OPERATOR(pg_catalog.>) 0 THEN bad := bad || pg_catalog.format(' %s payment records;', n); END IF;

    SELECT count(*) INTO n FROM @extschema@.payment_attempt_record a
    WHERE a.id !~ '^par_[0-9A-Za-z]{24}$' OR NOT pg_catalog.isfinite(a.created)
       OR a.status <> ALL (ARRAY['pending', 'guaranteed', 'failed', 'canceled']);
    IF n OPERATOR(pg_catalog.>) 0 THEN bad := bad || pg_catalog.format(' %s payment attempts;', n); END IF;

    -- running totals in numeric: no wrapping here
    SELECT count(*) INTO n FROM (
        SELECT f.amount, f.refunded_total, p.amount AS record_amount,
               sum(f.amount::numeric) OVER (PARTITION BY f.record_seq ORDER BY f.refund_no) AS running,
               f.refund_no, pg_catalog.row_number() OVER (PARTITION BY f.record_seq ORDER BY f.refund_no) AS k,
               f.livemode, p.livemode AS record_livemode
        FROM @extschema@.refund f JOIN @extschema@.payment_record p ON p.seq OPERATOR(pg_catalog.=) f.record_seq) x
    WHERE x.amount OPERATOR(pg_catalog.<=) 0 OR x.refunded_total::numeric <> x.running
       OR x.running OPERATOR(pg_catalog.>) x.record_amount OR x.refund_no <> x.k
       OR x.livemode <> x.record_livemode;
    IF n OPERATOR(pg_catalog.>) 0 THEN bad := bad || pg_catalog.format(' %s refunds;', n); END IF;

    SELECT count(*) INTO n FROM @extschema@.idempotency_key k
    WHERE NOT pg_catalog.isfinite(k.created) OR pg_catalog.length(k.request_hash) <> 32
       OR (k.response IS NOT NULL AND NOT EXISTS (
              SELECT 1 FROM @extschema@.payment_record r
              WHERE r.id OPERATOR(pg_catalog.=) (k.response OPERATOR(pg_catalog.->>) 'id')
                AND r.livemode OPERATOR(pg_catalog.=) k.livemode));
    IF n OPERATOR(pg_catalog.>) 0 THEN bad := bad || pg_catalog.format(' %s idempotency keys;', n); END IF;

    SELECT count(*) INTO n FROM @extschema@.event e
    WHERE NOT pg_catalog.isfinite(e.created) OR pg_catalog.jsonb_typeof(e.object) <> 'object'
       OR e.type <> ALL (ARRAY['payment_record.reported', 'payment_record.updated',
                               'payment_record.refunded', 'payment_attempt_record.reported',
                               'payment_attempt_record.guaranteed', 'payment_attempt_record.failed',
                               'payment_attempt_record.canceled']);
    IF n OPERATOR(pg_catalog.>) 0 THEN bad := bad || pg_catalog.format(' %s events;', n); END IF;

    IF bad <> '' THEN
        RAISE EXCEPTION 'payment_records holds rows that version 1.1 refuses:%', bad
            USING ERRCODE = 'check_violation',
                  DETAIL = 'They were written directly into the tables under 1.0 and break its invariants or the form of what the API returns.',
                  HINT = 'Inspect them (each query of this check is in payment_records--1.0--1.1.sql), repair or remove them as a superuser, then update again.';
    END IF;
END
$verify$;

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
