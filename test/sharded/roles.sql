-- test/sharded/roles.sql: the application's roles, the same on the router
-- and on every shard (PL/Proxy connects to a shard as the calling role).
-- app: test mode; app_live: live mode; app_reader: reads only; app_gateway:
-- the HTTP gateway's login.  Roles that
-- call through the router are members of payment_records_router on the
-- shards (they make the reference claims there).
SET client_min_messages = warning;
DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'app') THEN
        CREATE ROLE app LOGIN IN ROLE payment_records_writer, payment_records_router;
        CREATE ROLE app_live LOGIN IN ROLE payment_records_writer, payment_records_router, payment_records_live;
        CREATE ROLE app_reader LOGIN IN ROLE payment_records_reader;
    END IF;
    -- the HTTP gateway's login (src/gateway/), which acts as app for a key
    -- of app (the key roles log in to the shards: PL/Proxy connects as them)
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'app_gateway') THEN
        CREATE ROLE app_gateway LOGIN IN ROLE payment_records_gateway;
        GRANT app, app_live, app_reader TO payment_records_gateway;
    END IF;
END
$$;
