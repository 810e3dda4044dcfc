-- test/sharded/subscribe.sql: on the reporting database, subscribe to
-- shard :shard (psql -v shard=N -v conn='host=... dbname=...').  The keys
-- of the shards never collide (ids carry the shard; serial keys are
-- n * 4096 + shard), so every shard's rows live in the same tables.
SELECT format('CREATE SUBSCRIPTION payment_records_shard%s CONNECTION %L PUBLICATION payment_records_report',
              :shard, :'conn') \gexec
