--
-- Reporting views: typed columns, major units by currency exponent, the
-- daily summary, and the remaining refundable amount per record.  On a
-- fresh extension, so that the views show this file's rows only (and in
-- currencies of its own, chf, nok and omr, which the queries filter on).
--
\i test/regress/helpers.sql
CALL pg_temp.fresh_extension();

CREATE FUNCTION regress_pay(currency text, amount bigint, outcome text, description text) RETURNS text
LANGUAGE sql AS $$
    SELECT payment_records.report_payment(jsonb_build_object(
        'amount_requested', jsonb_build_object('currency', currency, 'value', amount),
        'initiated_at', 1730253453, 'description', description,
        'customer_details', jsonb_build_object('email', 'buyer@example.com', 'name', 'Buyer'),
        'payment_method_details', jsonb_build_object('payment_method', 'pm_rep'),
        'processor_details', jsonb_build_object('type', 'custom', 'custom', jsonb_build_object('payment_reference', 'ref-' || description)))
      || CASE outcome WHEN 'guaranteed' THEN jsonb_build_object('outcome', 'guaranteed', 'guaranteed', jsonb_build_object('guaranteed_at', 1730253460))
                      WHEN 'failed' THEN jsonb_build_object('outcome', 'failed', 'failed', jsonb_build_object('failed_at', 1730253461))
                      ELSE '{}'::jsonb END) ->> 'id'
$$;
CREATE FUNCTION regress_refund(id text, currency text, amount bigint, ref text) RETURNS void
LANGUAGE sql AS $$
    SELECT payment_records.report_refund(id, jsonb_build_object('outcome', 'refunded',
        'processor_details', jsonb_build_object('type', 'custom', 'custom', jsonb_build_object('refund_reference', ref)),
        'amount', jsonb_build_object('currency', currency, 'value', amount),
        'initiated_at', 1730253500, 'refunded', jsonb_build_object('refunded_at', 1730253600)));
$$;

SELECT regress_pay('chf', 12050, 'guaranteed', 'rep-a') AS a \gset
SELECT regress_pay('chf', 990, 'guaranteed', 'rep-b') AS b \gset
SELECT regress_pay('chf', 500, 'failed', 'rep-c') AS c \gset
SELECT regress_pay('nok', 100000, 'pending', 'rep-d') AS d \gset
SELECT regress_pay('omr', 1250, 'guaranteed', 'rep-e') AS e \gset
SELECT regress_refund(:'a', 'chf', 2050, 'rep-rf-1');
SELECT regress_refund(:'a', 'chf', 5000, 'rep-rf-2');
SELECT regress_refund(:'e', 'omr', 250, 'rep-rf-3');

-- the views' columns and types
SELECT c.relname, a.attnum, a.attname, format_type(a.atttypid, a.atttypmod) AS type
FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = 'payment_records' AND c.relkind = 'v' AND a.attnum > 0
ORDER BY c.relname, a.attnum;

-- one row per record
SELECT description, currency, status, amount_requested, amount_guaranteed, amount_refunded,
       amount_failed, amount_requested_major, amount_guaranteed_major, amount_refunded_major,
       customer_email, customer_name, attempts,
       initiated_at = to_timestamp(1730253453) AS initiated_ok,
       guaranteed_at = to_timestamp(1730253460) AS guaranteed_ok,
       failed_at = to_timestamp(1730253461) AS failed_ok
FROM payment_records.payment_record_report
WHERE currency IN ('chf', 'nok', 'omr') ORDER BY description;

-- one row per attempt
SELECT description, attempt, status, amount_guaranteed, amount_failed, payment_method, payment_reference
FROM payment_records.payment_attempt_report
WHERE currency IN ('chf', 'nok', 'omr') ORDER BY description, attempt;

-- one row per refund
SELECT refund_reference, refund_no, currency, amount, amount_major, refunded_total,
       initiated_at = to_timestamp(1730253500) AS initiated_ok, refunded_at = to_timestamp(1730253600) AS refunded_ok
FROM payment_records.refund_report
WHERE currency IN ('chf', 'nok', 'omr') ORDER BY refund_reference;

-- daily summary per currency: gross guaranteed, refunded, net
SELECT day = (now() AT TIME ZONE 'UTC')::date AS today, currency, payments, guaranteed_payments,
       gross_guaranteed, refunded, net, gross_guaranteed_major, refunded_major, net_major
FROM payment_records.daily_summary
WHERE currency IN ('chf', 'nok', 'omr') AND NOT livemode ORDER BY currency;

-- remaining refundable amount per record
SELECT r.id = :'a' AS is_a, r.currency, r.amount_guaranteed, r.amount_refunded, r.amount_remaining,
       r.amount_remaining_major
FROM payment_records.refundable r
WHERE r.currency IN ('chf', 'nok', 'omr') ORDER BY r.currency, r.amount_remaining;
-- it reads the refund chain's head, not every refund: one index probe per record
EXPLAIN (COSTS OFF) SELECT amount_remaining FROM payment_records.refundable WHERE id = 'pr_x';

-- to_major: exponents 0, 2, 3; negative; unknown currency
SELECT payment_records.to_major(1050, 'jpy') AS jpy, payment_records.to_major(1050, 'usd') AS usd,
       payment_records.to_major(1050, 'kwd') AS kwd, payment_records.to_major(5, 'usd') AS small,
       payment_records.to_major(-1234, 'eur') AS negative, payment_records.to_major(0, 'bhd') AS zero;
SELECT payment_records.to_major(1, 'xyz');

-- a reader can query every view
CALL pg_temp.create_role('regress_analyst', 'IN ROLE payment_records_reader');
SET ROLE regress_analyst;
SELECT count(*) > 0 AS records, (SELECT count(*) > 0 FROM payment_records.refund_report) AS refunds,
       (SELECT count(*) > 0 FROM payment_records.daily_summary) AS summary,
       (SELECT count(*) > 0 FROM payment_records.refundable) AS refundable,
       (SELECT count(*) > 0 FROM payment_records.payment_attempt_report) AS attempts,
       (SELECT count(*) > 0 FROM payment_records.event) AS events
FROM payment_records.payment_record_report;
RESET ROLE;
DROP ROLE regress_analyst;

DROP FUNCTION regress_pay(text, bigint, text, text), regress_refund(text, text, bigint, text);
