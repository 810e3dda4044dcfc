-- Refund 1 unit on the one hot record (bench_targets n = 0) from every
-- client, with a refund_reference unique per run, client and transaction.
\set k :k + 1
SELECT payment_records.report_refund(t.id,
         jsonb_set(:refund::jsonb, '{processor_details,custom}',
                   jsonb_build_object('refund_reference',
                                      concat_ws('-', :run::text, :client_id::text, :k::text))))
  FROM bench_targets t
 WHERE t.n = 0;
