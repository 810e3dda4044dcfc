\i test/regress/helpers.sql
--
-- form_to_jsonb(): a form-encoded body with Stripe's bracket nesting as the
-- params jsonb, so that the curl examples of Stripe's docs can be replayed.
--

-- IMMUTABLE STRICT PARALLEL SAFE, not SECURITY DEFINER; callable by the
-- extension's roles only
SELECT p.provolatile, p.proisstrict, p.proparallel, p.prosecdef, p.proconfig
FROM pg_proc p WHERE p.oid = 'payment_records.form_to_jsonb(text)'::regprocedure;
SELECT r.rolname, has_function_privilege(r.rolname, 'payment_records.form_to_jsonb(text)', 'EXECUTE') AS can_execute
FROM (VALUES ('public'), ('payment_records_reader'), ('payment_records_writer')) r(rolname) ORDER BY 1;

-- every error of the decoder: SQLSTATE, param (column-name field), detail
-- (there is never a Stripe code) and message
CREATE FUNCTION pg_temp.form_error(body text,
    OUT state text, OUT param text, OUT detail text, OUT message text)
LANGUAGE sql AS $$
    SELECT coalesce(o.state, 'no error'), o.param, o.code, o.message
    FROM pg_temp.outcome(format('SELECT payment_records.form_to_jsonb(%L)', body)) o
$$;

--
-- Decoding rules
--
-- nesting with brackets
SELECT payment_records.form_to_jsonb('a=1&b[c]=2&b[d][e]=3');
-- arrays: "[]" appends, indexes count up from 0; both forms mix
SELECT payment_records.form_to_jsonb('expand[]=x&expand[]=y');
SELECT payment_records.form_to_jsonb('expand[0]=x&expand[1]=y');
SELECT payment_records.form_to_jsonb('e[]=a&e[1]=b&e[]=c');
-- an index may repeat to add to the element it names, as Stripe's
-- libraries send arrays of hashes
SELECT payment_records.form_to_jsonb('items[0][a]=1&items[0][b]=2&items[1][a]=3');
SELECT payment_records.form_to_jsonb('m[0][0]=a&m[0][1]=b&m[1][0]=c');
-- percent-decoding (either case of hex digits), "+" is a space, an
-- encoded "&", "=", "+" or "%" is data
SELECT payment_records.form_to_jsonb('a=%41%62%2b%26%3D%25&b=x+y%20z');
SELECT payment_records.form_to_jsonb('c=caf%C3%A9&d=%e2%82%ac') = '{"c": "café", "d": "€"}' AS utf8_decoded;
-- only the first "=" splits a pair
SELECT payment_records.form_to_jsonb('a=b=c');
-- empty values are kept as ""
SELECT payment_records.form_to_jsonb('metadata=');
SELECT payment_records.form_to_jsonb('metadata[order]=&description=');
-- keys are percent-decoded before their brackets are read (curl
-- --data-urlencode), and "+" in a key is a space too
SELECT payment_records.form_to_jsonb('amount_requested%5Bcurrency%5D=usd&amount_requested%5Bvalue%5D=1000');
SELECT payment_records.form_to_jsonb('metadata[order+id]=6735');
-- every value stays a string, numbers too
SELECT jsonb_typeof(payment_records.form_to_jsonb('amount[value]=1000') #> '{amount,value}') AS value_type;
-- raw spaces and raw UTF-8 (curl -d sends them as they are)
SELECT payment_records.form_to_jsonb('description=computer software&name=Zoë')
       = '{"description": "computer software", "name": "Zoë"}' AS raw_kept;
-- a numeric name at the top is a plain key, and only digits make an
-- index; an encoded "=" in a key is part of the key
SELECT payment_records.form_to_jsonb('0=x&e[-1]=y&f[1a]=z&%3D=1');
-- empty body, empty pairs and a trailing "&"
SELECT payment_records.form_to_jsonb('');
SELECT payment_records.form_to_jsonb('&');
SELECT payment_records.form_to_jsonb('&&a=1&&&b=2&');
-- STRICT
SELECT payment_records.form_to_jsonb(NULL) IS NULL AS null_is_null;
-- 16 bracket parts are accepted
SELECT payment_records.form_to_jsonb('a' || repeat('[b]', 16) || '=x')
       #>> ('{a}'::text[] || array_fill('b'::text, ARRAY[16])) AS sixteen_deep;
-- many keys (linear time, every key kept)
SELECT count(*) AS keys FROM jsonb_object_keys(payment_records.form_to_jsonb(
    (SELECT string_agg('k' || i || '=' || i, '&') FROM generate_series(1, 20000) i)));
SELECT jsonb_array_length(payment_records.form_to_jsonb(
    (SELECT string_agg('e[]=' || i, '&') FROM generate_series(1, 20000) i)) -> 'e') AS elements;

--
-- Malformed input: always 22023 with the key as param (none for an empty
-- key), never a Stripe code in the detail
--
SELECT t.n, t.body, e.*
FROM (VALUES
    -- percent-encoding: "%" needs two hex digits, in values and keys
    (1, 'a=%'), (2, 'a=%4'), (3, 'a=%zz'), (4, 'a=1%G0'), (5, 'a%2=1'), (6, 'b[%5=1'),
    -- decoded bytes must be UTF-8 without NUL
    (7, 'a=%C3'), (8, 'a=%FF'), (9, 'a=%ED%A0%80'), (10, 'a=x%00y'), (11, 'a%00b=1'), (12, 'k%C3=1'),
    -- a scalar given twice, or as a scalar and a container
    (13, 'a=1&a=2'), (14, 'a=1&a=1'), (15, 'a=1&a[b]=2'), (16, 'a[b]=2&a=1'), (17, 'a[b][c]=1&a[b]=2'),
    (18, 'a[]=1&a=2'), (19, 'a[b]=1&a[]=2'), (20, 'a[]=1&a[b]=2'), (21, 'a[b]=1&a[0]=2'),
    -- indexes must be 0..n-1 in order
    (22, 'e[1]=x'), (23, 'e[1]=x&e[0]=y'), (24, 'e[0]=x&e[2]=y'), (25, 'e[00]=x'), (26, 'e[0]=x&e[0]=y'),
    (27, 'i[0][a]=1&i[1][a]=2&i[0][b]=3'), (28, 'e[99999999999999999999]=x'), (29, 'i[0][a]=1&i[2][a]=2'),
    -- "[]" only at the end of a key
    (30, 'a[][b]=1'),
    -- malformed brackets and names
    (31, '[a]=1'), (32, ']=1'), (33, 'a]=1'), (34, 'a[b=1'), (35, 'a[b]c=1'), (36, 'a[b[c]]=1'),
    (37, 'a[b]]=1'), (38, 'a[=1'),
    -- an empty key, a pair without "="
    (39, '=1'), (40, '=&a=1'), (41, 'a=1&flag'), (42, 'a&b=1')
) t(n, body), LATERAL pg_temp.form_error(t.body) e
ORDER BY t.n;
-- 17 bracket parts are too deep
SELECT * FROM pg_temp.form_error('a' || repeat('[b]', 17) || '=x');
-- a huge key is quoted cut to 200 bytes, on a character boundary
SELECT state, octet_length(param) AS param_bytes, param = repeat('é', 100) AS param_ok,
       message = 'form key "' || repeat('é', 100) || '" is given more than once' AS message_ok
FROM pg_temp.form_error(repeat('é', 300) || '=1&' || repeat('é', 300) || '=2');

--
-- Stripe's curl examples, the -d arguments joined with "&" as curl joins
-- them
--
-- "Report a payment"
SELECT jsonb_pretty(payment_records.form_to_jsonb(
    'amount_requested[currency]=usd&amount_requested[value]=1000&customer_presence=on_session&description=computer software&initiated_at=1730253453&payment_method_details[custom][display_name]=newpay&payment_method_details[custom][type]=cpmt_125kjj3hn3sdf&payment_method_details[payment_method]=pm_5j23kjksibjlks&payment_method_details[type]=custom'));
SELECT payment_records.form_to_jsonb(
    'amount_requested[currency]=usd&amount_requested[value]=1000&customer_presence=on_session&description=computer software&initiated_at=1730253453&payment_method_details[custom][display_name]=newpay&payment_method_details[custom][type]=cpmt_125kjj3hn3sdf&payment_method_details[payment_method]=pm_5j23kjksibjlks&payment_method_details[type]=custom')
  = '{"amount_requested": {"currency": "usd", "value": "1000"},
      "customer_presence": "on_session",
      "description": "computer software",
      "initiated_at": "1730253453",
      "payment_method_details": {"custom": {"display_name": "newpay", "type": "cpmt_125kjj3hn3sdf"},
                                 "payment_method": "pm_5j23kjksibjlks", "type": "custom"}}'::jsonb AS report_payment_ok;
-- the same body as curl --data-urlencode sends it
SELECT payment_records.form_to_jsonb(
    'amount_requested%5Bcurrency%5D=usd&amount_requested%5Bvalue%5D=1000&customer_presence=on_session&description=computer+software&initiated_at=1730253453&payment_method_details%5Bcustom%5D%5Bdisplay_name%5D=newpay&payment_method_details%5Bcustom%5D%5Btype%5D=cpmt_125kjj3hn3sdf&payment_method_details%5Bpayment_method%5D=pm_5j23kjksibjlks&payment_method_details%5Btype%5D=custom')
  = payment_records.form_to_jsonb(
    'amount_requested[currency]=usd&amount_requested[value]=1000&customer_presence=on_session&description=computer software&initiated_at=1730253453&payment_method_details[custom][display_name]=newpay&payment_method_details[custom][type]=cpmt_125kjj3hn3sdf&payment_method_details[payment_method]=pm_5j23kjksibjlks&payment_method_details[type]=custom')
  AS urlencoded_same;
-- "Report a refund"
SELECT jsonb_pretty(payment_records.form_to_jsonb(
    'processor_details[type]=custom&processor_details[custom][refund_reference]=refund_12345&outcome=refunded&refunded[refunded_at]=1730253453&amount[currency]=usd&amount[value]=1000&initiated_at=1730253450'));
SELECT payment_records.form_to_jsonb(
    'processor_details[type]=custom&processor_details[custom][refund_reference]=refund_12345&outcome=refunded&refunded[refunded_at]=1730253453&amount[currency]=usd&amount[value]=1000&initiated_at=1730253450')
  = '{"amount": {"currency": "usd", "value": "1000"},
      "initiated_at": "1730253450",
      "outcome": "refunded",
      "processor_details": {"custom": {"refund_reference": "refund_12345"}, "type": "custom"},
      "refunded": {"refunded_at": "1730253453"}}'::jsonb AS report_refund_ok;
