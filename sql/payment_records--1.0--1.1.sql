/* payment_records--1.0--1.1.sql: update 1.0 to 1.1 (see CHANGELOG.md) */

-- complain if script is sourced in psql, rather than via ALTER EXTENSION
\echo Use "ALTER EXTENSION payment_records UPDATE TO '1.1'" to load this file. \quit

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
