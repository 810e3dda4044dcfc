-- The rows report_payment writes -- the record, its first attempt and the
-- event -- inserted by plain SQL as the owner, so the indexes, the foreign
-- key and the constraint triggers all run, but no function does.  A
-- reference for what the data itself costs (compare report_payment_nonotify:
-- this sends no NOTIFY).  :resp is a report_payment response, the event's
-- object.  Ids ("pr_" and 24 base62 characters, as the triggers check)
-- grow with the clock, like the extension's: 16 digits of microseconds,
-- the client (2) and its transaction counter (6).
\set k :k + 1
WITH r AS (
  INSERT INTO payment_records.payment_record (id, livemode, created, currency, amount)
  VALUES ('pr_' || lpad(((extract(epoch FROM clock_timestamp()) * 1000000)::bigint)::text, 16, '0')
                || lpad(:client_id::text, 2, '0') || lpad((:k % 1000000)::text, 6, '0'),
          false, now(), 'usd', 99999999)
  RETURNING id, seq),
a AS (
  INSERT INTO payment_records.payment_attempt_record (id, record_seq, attempt, created,
      status, initiated_at, guaranteed_at, customer_presence, description,
      payment_method_details)
  SELECT 'par_' || substr(r.id, 4), r.seq, 1, now(), 'guaranteed',
         to_timestamp(1730253453), to_timestamp(1730253460),
         :pay::jsonb ->> 'customer_presence', :pay::jsonb ->> 'description',
         :pay::jsonb -> 'payment_method_details'
    FROM r)
INSERT INTO payment_records.event (type, livemode, object, created)
SELECT 'payment_record.reported', false, :resp::jsonb, now() FROM r;
