-- test/sharded/reporting.sql: make this database the reporting database:
-- payment_records with no shard number, its tables filled only by one
-- subscription per shard (subscribe.sql), its reporting views summing
-- every shard.  Nobody writes here: the roles may read only.
CREATE EXTENSION IF NOT EXISTS payment_records;
\ir roles.sql
REVOKE payment_records_writer, payment_records_router FROM app, app_live;
GRANT payment_records_reader TO app, app_live;
