-- payment_records demo: report a payment, refund it in parts, and watch the
-- database refuse an over-refund and a reused refund reference.
\pset pager off
CREATE EXTENSION payment_records;
\set VERBOSITY default

\echo
\echo '== 1. Report a guaranteed payment of 10.00 USD (Stripe''s "Report a payment" example, guaranteed)'
SELECT payment_records.report_payment('{
  "amount_requested": {"currency": "usd", "value": 1000},
  "customer_presence": "on_session",
  "description": "computer software",
  "initiated_at": 1730253453,
  "outcome": "guaranteed",
  "guaranteed": {"guaranteed_at": 1730253460},
  "payment_method_details": {
    "custom": {"display_name": "newpay", "type": "cpmt_125kjj3hn3sdf"},
    "payment_method": "pm_5j23kjksibjlks",
    "type": "custom"
  },
  "processor_details": {"type": "custom", "custom": {"payment_reference": "npp2358872734k"}}
}') AS payment \gset
SELECT jsonb_pretty(:'payment'::jsonb);
SELECT :'payment'::jsonb ->> 'id' AS id \gset

\echo
\echo '== 2. Refund 4.00 (reference refund_12345)'
SELECT jsonb_pretty(payment_records.report_refund(:'id', '{
  "outcome": "refunded",
  "amount": {"currency": "usd", "value": 400},
  "processor_details": {"type": "custom", "custom": {"refund_reference": "refund_12345"}},
  "refunded": {"refunded_at": 1730253500}
}') -> 'amount_refunded') AS amount_refunded;

\echo
\echo '== 3. Refund 5.00 more (reference refund_12346)'
SELECT jsonb_pretty(payment_records.report_refund(:'id', '{
  "outcome": "refunded",
  "amount": {"currency": "usd", "value": 500},
  "processor_details": {"type": "custom", "custom": {"refund_reference": "refund_12346"}}
}') -> 'amount_refunded') AS amount_refunded;

\set ON_ERROR_STOP 0
\echo
\echo '== 4. Try to refund 2.00: only 1.00 is left, so it is rejected (SQLSTATE 23514)'
SELECT payment_records.report_refund(:'id', '{
  "outcome": "refunded",
  "amount": {"currency": "usd", "value": 200},
  "processor_details": {"type": "custom", "custom": {"refund_reference": "refund_12347"}}
}');

\echo
\echo '== 5. Reuse reference refund_12345: rejected (SQLSTATE 23505, resource_already_exists)'
SELECT payment_records.report_refund(:'id', '{
  "outcome": "refunded",
  "amount": {"currency": "usd", "value": 100},
  "processor_details": {"type": "custom", "custom": {"refund_reference": "refund_12345"}}
}');

\echo
\echo '== 6. Even the table owner cannot insert a refund past the limit: the constraint trigger refuses'
INSERT INTO payment_records.refund (record_seq, refund_no, amount, refunded_total, livemode, created)
SELECT seq, 3, 200, 1100, false, now() FROM payment_records.payment_record WHERE id = :'id';
\set ON_ERROR_STOP 1

\echo
\echo '== 7. The record as stored: 9.00 of 10.00 refunded'
SELECT jsonb_pretty(payment_records.retrieve_payment_record(:'id'));
