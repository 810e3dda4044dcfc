-- Refund 1 unit on the one hot record from every client, as a user of the
-- defaults would measure it: the record (a fresh guaranteed one for each
-- run, made by measure.sh) is a bound parameter, the refund has no
-- reference, and nothing else runs in the transaction.
SELECT payment_records.report_refund(:hot, :refund::jsonb);
