\set ECHO none
--
-- test/regress/helpers.sql: what the pg_regress files (sql/*.sql) share.
-- Not a test itself (pg_regress runs only sql/*.sql).  A file includes it
-- as its first command:
--
--     \i test/regress/helpers.sql
--
-- pg_regress feeds each file to psql on standard input, from the directory
-- make runs in (the top of the tree: make installcheck, test/deb.sh's and
-- test/pgroot.sh's copies, test/sanitize.sh's stage), so the path is
-- relative to the top of the tree (\ir would resolve it the same way: a
-- file read from standard input has no directory of its own).  Include it
-- again after \c: pg_temp functions live as long as the session.  Its
-- lines are not echoed into the expected output (only the \i and its first
-- line, \set ECHO none, are).
--
-- It makes what every file may rely on, idempotently (roles are
-- cluster-wide, and the suite may run on a cluster that ran it before):
-- the extension, the role regress_live, and the functions below.
--
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS payment_records;
RESET client_min_messages;

-- CALL pg_temp.create_role(name, options): CREATE ROLE name options,
-- unless a role of that name exists already (it is then left as it is)
CREATE PROCEDURE pg_temp.create_role(name text, options text DEFAULT '')
LANGUAGE plpgsql AS $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = name) THEN
        EXECUTE format('CREATE ROLE %I %s', name, options);
    END IF;
END $$;

-- regress_live: a writer that is a member of payment_records_live, so it
-- acts in live mode (the mode is the caller's role)
CALL pg_temp.create_role('regress_live', 'NOLOGIN IN ROLE payment_records_live, payment_records_writer');

-- CALL pg_temp.fresh_extension(): drop the extension, with every row that
-- files run before this one wrote, and create it again: for a file whose
-- results depend on every row of a table or a list, so that they do not
-- depend on what ran before it.  CASCADE: an object a failed earlier file
-- left on the extension's tables goes with it.
CREATE PROCEDURE pg_temp.fresh_extension()
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM set_config('client_min_messages', 'warning', true);
    PERFORM set_config('payment_records.allow_drop', 'on', true);
    DROP EXTENSION IF EXISTS payment_records CASCADE;
    DROP SCHEMA IF EXISTS payment_records;
    CREATE EXTENSION payment_records;
END $$;

-- pg_temp.outcome(statement [, want_value]): run one SQL statement and
-- catch its error.  On success state is NULL, and value is the first
-- column of the first row when want_value (the statement must then return
-- rows).  On an error: the SQLSTATE, the column-name field (where the
-- extension puts Stripe's param), the detail (where it puts Stripe's code)
-- and the message, empty fields as NULL.  Generated ids vary from run to
-- run: pr_ and par_ ids, API key ids and a secret's last four characters
-- are shown as <pr>, <par>, key_<id> and ****<last4>.
CREATE FUNCTION pg_temp.outcome(statement text, want_value boolean DEFAULT false,
    OUT state text, OUT param text, OUT code text, OUT message text, OUT value text)
LANGUAGE plpgsql AS $$
BEGIN
    IF want_value THEN
        EXECUTE statement INTO value;
    ELSE
        EXECUTE statement;
    END IF;
EXCEPTION WHEN OTHERS THEN
    GET STACKED DIAGNOSTICS state = RETURNED_SQLSTATE, param = COLUMN_NAME,
        code = PG_EXCEPTION_DETAIL, message = MESSAGE_TEXT;
    param := nullif(param, '');
    code := nullif(code, '');
    message := regexp_replace(message, 'par_[0-9A-Za-z]{24}', '<par>', 'g');
    message := regexp_replace(message, 'pr_[0-9A-Za-z]{24}', '<pr>', 'g');
    message := regexp_replace(message, 'key_[0-9a-f]{24}', 'key_<id>', 'g');
    message := regexp_replace(message, '\*\*\*\*[0-9A-Za-z]{4}$', '****<last4>');
END $$;

-- pg_temp.try(statement): 'ok', or the error as "SQLSTATE: message"
CREATE FUNCTION pg_temp.try(statement text) RETURNS text
LANGUAGE sql AS $$
    SELECT CASE WHEN o.state IS NULL THEN 'ok' ELSE o.state || ': ' || o.message END
    FROM pg_temp.outcome(statement) o
$$;

-- pg_temp.try_fields(statement): 'ok', or the error with the fields a
-- client reads: "SQLSTATE | param | code | message" (empty fields left out)
CREATE FUNCTION pg_temp.try_fields(statement text) RETURNS text
LANGUAGE sql AS $$
    SELECT CASE WHEN o.state IS NULL THEN 'ok'
                ELSE concat_ws(' | ', o.state, o.param, o.code, o.message) END
    FROM pg_temp.outcome(statement) o
$$;

-- pg_temp.try_value(query): the query's value as text (first column of the
-- first row), or its error as pg_temp.try_fields shows it
CREATE FUNCTION pg_temp.try_value(query text) RETURNS text
LANGUAGE sql AS $$
    SELECT CASE WHEN o.state IS NULL THEN o.value
                ELSE concat_ws(' | ', o.state, o.param, o.code, o.message) END
    FROM pg_temp.outcome(query, true) o
$$;
\set ECHO all
