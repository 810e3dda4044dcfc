-- test/sharded/shard.sql: make this database shard :shard of a sharded
-- deployment (psql -v shard=N -f shard.sql), as its owner (a superuser):
-- the extension, the shard number every new id and serial key carries,
-- the roles, and the publication the reporting database subscribes to.
CREATE EXTENSION IF NOT EXISTS payment_records;
DO $$ BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'payment_records_live') THEN
        CREATE ROLE payment_records_live NOLOGIN;
    END IF;
END $$;
ALTER DATABASE :"DBNAME" SET payment_records.shard = :shard;
\ir roles.sql
-- the tables the reporting database needs (not the idempotency keys, the
-- claims or the gateway's keys: those stay per shard)
CREATE PUBLICATION payment_records_report FOR TABLE
    payment_records.payment_record, payment_records.payment_attempt_record,
    payment_records.refund, payment_records.event;
