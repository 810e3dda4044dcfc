-- test/sharded/subscribe.sql: on the reporting database, subscribe to
-- shard :shard (psql -v shard=N -v conn='host=... dbname=...').  The keys
-- of the shards never collide (ids carry the shard; serial keys are
-- n * 4096 + shard), so every shard's rows live in the same tables.
--
-- copy_data = false: subscribe a shard before it holds data (as
-- start.sh and the TAP test do).  An initial copy would copy table by
-- table, one transaction each, and the reporting database's triggers
-- refuse a record without its first attempt, as they refuse a
-- table-by-table restore; a shard that already has data is copied in one
-- transaction first (README "Beyond one machine").  From then on each
-- shard transaction is applied as one transaction.
SELECT format('CREATE SUBSCRIPTION payment_records_shard%s CONNECTION %L PUBLICATION payment_records_report WITH (copy_data = false)',
              :shard, :'conn') \gexec
