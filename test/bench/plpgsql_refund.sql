-- The PL/pgSQL baseline's refund: 1 unit on a random guaranteed payment
-- (bench_plain_targets 1..:ntargets), with a reference unique per run,
-- client and transaction, as refund_distinct.sql does for the extension.
\set n random(1, :ntargets)
\set k :k + 1
SELECT bench_plain_report_refund(t.id,
         jsonb_set(:refund::jsonb, '{processor_details,custom}',
                   jsonb_build_object('refund_reference',
                                      concat_ws('-', :run::text, :client_id::text, :k::text))))
  FROM bench_plain_targets t
 WHERE t.n = :n;
