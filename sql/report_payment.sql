--
-- report_payment and retrieve_payment_record: the full object of contract C3 (README),
-- checked key by key against Stripe's "Report a payment" example (ids and
-- created masked), and every details hash rendered in its full shape.
--
\i test/regress/helpers.sql

-- Stripe's example request (its curl body as params)
SELECT payment_records.report_payment('{
  "amount_requested": {"currency": "usd", "value": 1000},
  "customer_presence": "on_session",
  "description": "computer software",
  "initiated_at": 1730253453,
  "payment_method_details": {
    "custom": {"display_name": "newpay", "type": "cpmt_125kjj3hn3sdf"},
    "payment_method": "pm_5j23kjksibjlks",
    "type": "custom"
  }
}') AS r \gset

-- every key, one per line (Stripe's response minus what C3 corrects:
-- amount, amount_authorized, application, reported_by are always present;
-- processor_details only says custom because no reference was sent;
-- livemode is the caller's membership of payment_records_live: false for
-- this superuser, who is no member)
SELECT key, CASE WHEN key IN ('id', 'created', 'latest_payment_attempt_record')
                 THEN '<masked>' ELSE value::text END AS value
FROM jsonb_each(:'r'::jsonb) ORDER BY key;

-- the masked values have the documented form
SELECT (:'r'::jsonb ->> 'id') ~ '^pr_[0-9A-Za-z]{24}$' AS id_ok,
       (:'r'::jsonb ->> 'latest_payment_attempt_record') ~ '^par_[0-9A-Za-z]{24}$' AS attempt_id_ok,
       abs((:'r'::jsonb ->> 'created')::bigint - extract(epoch FROM now())::bigint) <= 1 AS created_ok,
       jsonb_typeof(:'r'::jsonb -> 'created') AS created_type;

-- retrieve returns the same object
SELECT payment_records.retrieve_payment_record(:'r'::jsonb ->> 'id') = :'r'::jsonb AS same;

-- what was stored: typed columns, details as sent
SELECT r.currency, r.amount, r.livemode, a.attempt, a.status,
       a.initiated_at = to_timestamp(1730253453) AS initiated_ok,
       a.payment_method_details
FROM payment_records.payment_record r
JOIN payment_records.payment_attempt_record a ON a.record_seq = r.seq
WHERE r.id = :'r'::jsonb ->> 'id';

-- all details sent: customer, billing with a partial address, shipping,
-- processor reference; guaranteed outcome fills the guaranteed buckets
SELECT payment_records.report_payment('{
  "amount_requested": {"currency": "eur", "value": 2500},
  "initiated_at": 1730253453,
  "outcome": "guaranteed",
  "guaranteed": {"guaranteed_at": 1730253999},
  "customer_details": {"customer": "cus_123", "email": "jenny@example.com"},
  "customer_presence": "off_session",
  "payment_method_details": {
    "type": "custom",
    "custom": {"type": "cpmt_1"},
    "billing_details": {"name": "Jenny", "address": {"country": "FR", "city": "Paris"}}
  },
  "processor_details": {"type": "custom", "custom": {"payment_reference": "npp2358872734k"}},
  "shipping_details": {"name": "Jenny"},
  "metadata": {"order_id": "6735"}
}') AS g \gset
SELECT key, value FROM jsonb_each(:'g'::jsonb)
WHERE key NOT IN ('id', 'created', 'latest_payment_attempt_record') ORDER BY key;

-- failed outcome
SELECT jsonb_build_object(
         'failed', p -> 'amount_failed', 'guaranteed', p -> 'amount_guaranteed',
         'authorized', p -> 'amount_authorized', 'refunded', p -> 'amount_refunded')
FROM payment_records.report_payment('{
  "amount_requested": {"currency": "jpy", "value": 500},
  "initiated_at": 1730253453,
  "outcome": "failed", "failed": {"failed_at": 1730253460},
  "payment_method_details": {"payment_method": "pm_1"}
}') p;

-- ids are unique across many calls
SELECT count(DISTINCT p ->> 'id') AS distinct_ids, count(DISTINCT p ->> 'latest_payment_attempt_record') AS distinct_attempt_ids
FROM (SELECT payment_records.report_payment('{"amount_requested": {"currency": "usd", "value": 1},
      "initiated_at": 1, "payment_method_details": {"payment_method": "pm_1"}}') p
      FROM generate_series(1, 500)) s;

-- livemode: objects of the other mode do not exist for the caller
SET ROLE regress_live;
SELECT payment_records.report_payment('{"amount_requested": {"currency": "usd", "value": 1},
      "initiated_at": 1, "payment_method_details": {"payment_method": "pm_1"}}') ->> 'livemode' AS live;
\set VERBOSITY sqlstate
SELECT payment_records.retrieve_payment_record(:'r'::jsonb ->> 'id');
\set VERBOSITY terse
RESET ROLE;
SELECT payment_records.retrieve_payment_record('pr_doesnotexist');
SELECT payment_records.retrieve_payment_record(NULL);
-- settings of the extension's prefix are reserved
SET payment_records.no_such_setting = 1;
