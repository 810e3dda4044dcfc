-- report_payment with the same request body the floor inserts.
SELECT payment_records.report_payment(:pay::jsonb);
