-- Refund 1 unit on a random pre-created guaranteed record (bench_targets
-- 1..:ntargets), with a refund_reference unique per run, client and
-- transaction (:k counts this client's transactions; -D k=0 starts it).
\set n random(1, :ntargets)
\set k :k + 1
SELECT payment_records.report_refund(t.id,
         jsonb_set(:refund::jsonb, '{processor_details,custom}',
                   jsonb_build_object('refund_reference',
                                      concat_ws('-', :run::text, :client_id::text, :k::text))))
  FROM bench_targets t
 WHERE t.n = :n;
