-- The PL/pgSQL baseline's report_payment, with the same request body.
SELECT bench_plain_report_payment(:pay::jsonb);
