-- The floor: a bare single-row INSERT of the report_payment request body
-- (sent as a parameter, parsed to jsonb by the server) into a plain table.
INSERT INTO bench_floor(body) VALUES (:pay::jsonb);
