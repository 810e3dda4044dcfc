-- test/sharded/router.sql: make this database the router
-- (psql -v partitions="p0 '...', p1 '...', p2 '...'" -f router.sql):
-- shard k is partition pk of the server payment_records_shards.
CREATE EXTENSION IF NOT EXISTS payment_records_router CASCADE;
CREATE SERVER payment_records_shards FOREIGN DATA WRAPPER plproxy
    OPTIONS (modular_mapping '1', :partitions);
CREATE USER MAPPING FOR PUBLIC SERVER payment_records_shards;
GRANT USAGE ON FOREIGN SERVER payment_records_shards
    TO payment_records_reader, payment_records_writer, payment_records_router,
       payment_records_gateway;
-- fixed for good when the deployment is made: the shards that take keyed
-- payments and reference claims (adding a shard changes neither, so a retry
-- lands where its first try did and a reference is claimed where it was)
INSERT INTO payment_records_router.settings (claim_shards, key_shards)
SELECT n, n FROM payment_records_router.shard_count() n
ON CONFLICT (only_row) DO NOTHING;
DO $$ BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'payment_records_live') THEN
        CREATE ROLE payment_records_live NOLOGIN;
    END IF;
END $$;
\ir roles.sql
