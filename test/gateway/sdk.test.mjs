// The official Stripe Node SDK (stripe@23.1.0, pinned in package-lock.json)
// against payment_records_gateway.  Run by inner.sh with GW_PORT, the keys
// (SK_TEST, SK_LIVE, RK_TEST, RK_LIVE, SK_REVOKED) and LIVEMODE_BY_ROLE in
// the environment.  The SDK's typed resources are used throughout
// (stripe.paymentRecords, stripe.paymentAttemptRecords), rawRequest once.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import Stripe from 'stripe';
import { appendFileSync } from 'node:fs';

// GW_RECORD: a file where every 2xx JSON body this suite receives is
// appended, one JSON line {via, method, path, status, body}, for
// schema.test.mjs to validate against Stripe's OpenAPI schema (issue 14).
// The SDK's own emitEventBodies option hands the parsed body to the
// 'response' event; the suite's few plain fetch() calls go through the
// wrapper below.
const recordFile = process.env.GW_RECORD;
function record(via, method, path, status, body) {
  if (!recordFile || status < 200 || status > 299 || body === undefined) return;
  appendFileSync(recordFile, JSON.stringify({ via, method, path, status, body }) + '\n');
}
const fetch = async (url, init = {}) => {
  const res = await globalThis.fetch(url, init);
  if (recordFile && res.ok && (res.headers.get('content-type') ?? '').startsWith('application/json')) {
    const text = await res.clone().text();
    record('fetch', init.method ?? 'GET', new URL(url).pathname, res.status, JSON.parse(text));
  }
  return res;
};

const port = Number(process.env.GW_PORT);
const base = `http://127.0.0.1:${port}`;
const liveByRole = process.env.LIVEMODE_BY_ROLE === 't';
const liveSkip = liveByRole ? false
  : 'the database takes the mode from payment_records.livemode on this branch, not yet from the role';

function client(key, extra = {}) {
  const c = new Stripe(key, {
    host: '127.0.0.1', port, protocol: 'http', apiVersion: '2026-10-28',
    maxNetworkRetries: 0, telemetry: false, emitEventBodies: !!recordFile, ...extra,
  });
  if (recordFile) c.on('response', (e) => record('sdk', e.method, e.path, e.status, e.body));
  return c;
}
const stripe = client(process.env.SK_TEST);
const live = client(process.env.SK_LIVE);
const readonly = client(process.env.RK_TEST);
const readonlyLive = client(process.env.RK_LIVE);

let now = 1730253453;
const ts = () => ++now;

// Stripe's "Report a payment" example
const docsPayment = () => ({
  amount_requested: { currency: 'usd', value: 1000 },
  customer_presence: 'on_session',
  description: 'computer software',
  initiated_at: 1730253453,
  payment_method_details: {
    custom: { display_name: 'newpay', type: 'cpmt_125kjj3hn3sdf' },
    payment_method: 'pm_5j23kjksibjlks',
    type: 'custom',
  },
});
const guaranteedPayment = (value = 5000, currency = 'usd') => ({
  amount_requested: { currency, value },
  initiated_at: ts(),
  payment_method_details: { payment_method: 'pm_card' },
  outcome: 'guaranteed',
  guaranteed: { guaranteed_at: ts() },
});
const refund = (value, reference) => ({
  outcome: 'refunded',
  processor_details: reference
    ? { type: 'custom', custom: { refund_reference: reference } }
    : { type: 'custom' },
  refunded: { refunded_at: ts() },
  ...(value !== undefined ? { amount: { currency: 'usd', value } } : {}),
});
const uniq = (p) => `${p}_${process.pid}_${Math.random().toString(36).slice(2, 10)}`;

// expect(promise) rejects with class cls and the given fields
async function rejects(promise, cls, fields = {}) {
  let err;
  try {
    await promise;
  } catch (e) {
    err = e;
  }
  assert.ok(err, 'the call should have failed');
  assert.ok(err instanceof cls, `expected ${cls.name}, got ${err?.constructor?.name}: ${err?.message}`);
  for (let [k, v] of Object.entries(fields)) {
    if (k === 'type') k = 'rawType'; // the SDK's type is the class name; Stripe's is rawType
    if (v instanceof RegExp) assert.match(String(err[k]), v, k);
    else assert.deepEqual(err[k], v, k);
  }
  assert.match(err.requestId ?? '', /^req_[0-9A-Za-z]{14}$/);
  return err;
}

test('the docs payment, response headers', async () => {
  const pr = await stripe.paymentRecords.reportPayment(docsPayment());
  assert.match(pr.id, /^pr_[0-9A-Za-z]{24}$/);
  assert.equal(pr.object, 'payment_record');
  assert.deepEqual(pr.amount_requested, { currency: 'usd', value: 1000 });
  assert.deepEqual(pr.amount_guaranteed, { currency: 'usd', value: 0 });
  assert.equal(pr.customer_presence, 'on_session');
  assert.equal(pr.description, 'computer software');
  assert.equal(pr.livemode, false);
  assert.equal(pr.reported_by, 'self');
  assert.deepEqual(pr.payment_method_details.custom, { display_name: 'newpay', type: 'cpmt_125kjj3hn3sdf' });
  assert.equal(pr.payment_method_details.payment_method, 'pm_5j23kjksibjlks');
  assert.match(pr.latest_payment_attempt_record, /^par_/);
  const r = pr.lastResponse;
  assert.equal(r.statusCode, 200);
  assert.match(r.requestId, /^req_[0-9A-Za-z]{14}$/);
  assert.equal(r.headers['stripe-version'], '2026-10-28');
  assert.equal(r.headers['content-type'], 'application/json');
  assert.ok(r.idempotencyKey, 'the SDK sends an Idempotency-Key on POST');
  assert.equal(r.headers['idempotency-key'], r.idempotencyKey);

  const again = await stripe.paymentRecords.retrieve(pr.id);
  assert.deepEqual({ ...again, lastResponse: undefined }, { ...pr, lastResponse: undefined });
  assert.notEqual(again.lastResponse.requestId, r.requestId);
});

test('guaranteed, failed and canceled payments', async () => {
  const g = await stripe.paymentRecords.reportPayment(guaranteedPayment(2500));
  assert.deepEqual(g.amount_guaranteed, { currency: 'usd', value: 2500 });
  const f = await stripe.paymentRecords.reportPayment({
    ...guaranteedPayment(700), outcome: 'failed', guaranteed: undefined, failed: { failed_at: ts() },
  });
  assert.deepEqual(f.amount_failed, { currency: 'usd', value: 700 });
  assert.deepEqual(f.amount_guaranteed, { currency: 'usd', value: 0 });
  const p = await stripe.paymentRecords.reportPayment(docsPayment());
  const c = await stripe.paymentRecords.reportPaymentAttemptCanceled(p.id, { canceled_at: ts() });
  assert.deepEqual(c.amount_canceled, { currency: 'usd', value: 1000 });
  const a = await stripe.paymentAttemptRecords.retrieve(c.latest_payment_attempt_record);
  assert.equal(a.object, 'payment_attempt_record');
  assert.equal(a.payment_record, p.id);
  assert.deepEqual(a.amount_canceled, { currency: 'usd', value: 1000 });
});

test('every attempt transition, and the refused ones', async () => {
  // pending -> guaranteed
  const p1 = await stripe.paymentRecords.reportPayment(docsPayment());
  const g1 = await stripe.paymentRecords.reportPaymentAttemptGuaranteed(p1.id, { guaranteed_at: ts() });
  assert.deepEqual(g1.amount_guaranteed.value, 1000);
  // guaranteed is final
  for (const call of ['reportPaymentAttemptFailed', 'reportPaymentAttemptCanceled', 'reportPaymentAttemptGuaranteed']) {
    const field = { reportPaymentAttemptFailed: 'failed_at', reportPaymentAttemptCanceled: 'canceled_at',
      reportPaymentAttemptGuaranteed: 'guaranteed_at' }[call];
    await rejects(stripe.paymentRecords[call](p1.id, { [field]: ts() }), Stripe.errors.StripeInvalidRequestError,
      { statusCode: 400, type: 'invalid_request_error' });
  }
  await rejects(stripe.paymentRecords.reportPaymentAttempt(p1.id, { initiated_at: ts() }),
    Stripe.errors.StripeInvalidRequestError, { statusCode: 400 });

  // pending -> failed -> new attempt -> canceled -> new attempt -> guaranteed
  const p2 = await stripe.paymentRecords.reportPayment(docsPayment());
  const f2 = await stripe.paymentRecords.reportPaymentAttemptFailed(p2.id, { failed_at: ts() });
  assert.equal(f2.amount_failed.value, 1000);
  const n2 = await stripe.paymentRecords.reportPaymentAttempt(p2.id, {
    initiated_at: ts(), payment_method_details: { payment_method: 'pm_second' },
  });
  assert.notEqual(n2.latest_payment_attempt_record, f2.latest_payment_attempt_record);
  assert.equal(n2.amount_failed.value, 0);
  assert.equal(n2.payment_method_details.payment_method, 'pm_second');
  const c2 = await stripe.paymentRecords.reportPaymentAttemptCanceled(n2.id, { canceled_at: ts() });
  assert.equal(c2.amount_canceled.value, 1000);
  const n3 = await stripe.paymentRecords.reportPaymentAttempt(p2.id, {
    initiated_at: ts(), outcome: 'guaranteed', guaranteed: { guaranteed_at: ts() },
  });
  assert.equal(n3.amount_guaranteed.value, 1000);
  // a new attempt that fails outright
  const p3 = await stripe.paymentRecords.reportPayment(docsPayment());
  await stripe.paymentRecords.reportPaymentAttemptCanceled(p3.id, { canceled_at: ts() });
  const n4 = await stripe.paymentRecords.reportPaymentAttempt(p3.id, {
    initiated_at: ts(), outcome: 'failed', failed: { failed_at: ts() },
  });
  assert.equal(n4.amount_failed.value, 1000);
  // a failed attempt cannot be guaranteed
  await rejects(stripe.paymentRecords.reportPaymentAttemptGuaranteed(p3.id, { guaranteed_at: ts() }),
    Stripe.errors.StripeInvalidRequestError, { statusCode: 400 });

  // the attempts of p2, both ways
  const attempts = [];
  for await (const a of stripe.paymentAttemptRecords.list({ payment_record: p2.id, limit: 1 })) attempts.push(a.id);
  assert.equal(attempts.length, 3);
  assert.equal(new Set(attempts).size, 3);
  assert.ok(attempts.includes(n3.latest_payment_attempt_record));
});

test('informational updates', async () => {
  const p = await stripe.paymentRecords.reportPayment({ ...docsPayment(), metadata: { order: '6735', keep: 'yes' } });
  const u = await stripe.paymentRecords.reportPaymentAttemptInformational(p.id, {
    description: 'called back',
    metadata: { order: '', note: 'a & b = c [x]' },
    customer_details: { email: 'jenny@example.com', name: 'Jenny Rosen' },
    shipping_details: { name: 'Jenny Rosen', address: { city: 'Paris', country: 'FR' } },
  });
  assert.equal(u.description, 'called back');
  assert.deepEqual(u.metadata, { keep: 'yes', note: 'a & b = c [x]' });
  assert.equal(u.customer_details.email, 'jenny@example.com');
  assert.equal(u.shipping_details.address.city, 'Paris');
  const cleared = await stripe.paymentRecords.reportPaymentAttemptInformational(p.id, { description: '' });
  assert.equal(cleared.description, null);
  const none = await stripe.paymentRecords.reportPaymentAttemptInformational(p.id);
  assert.equal(none.id, p.id);
});

test('partial, full and over refunds; duplicate references', async () => {
  const p = await stripe.paymentRecords.reportPayment(guaranteedPayment(10000));
  const ref1 = uniq('refund');
  const r1 = await stripe.paymentRecords.reportRefund(p.id, refund(2500, ref1));
  assert.deepEqual(r1.amount_refunded, { currency: 'usd', value: 2500 });
  const r2 = await stripe.paymentRecords.reportRefund(p.id, refund(2500, uniq('refund')));
  assert.equal(r2.amount_refunded.value, 5000);
  let err = await rejects(stripe.paymentRecords.reportRefund(p.id, refund(5001)),
    Stripe.errors.StripeInvalidRequestError, { statusCode: 400, param: 'amount[value]' });
  assert.match(err.message, /refund|remaining|exceed/i);
  err = await rejects(stripe.paymentRecords.reportRefund(p.id, refund(100, ref1)),
    Stripe.errors.StripeInvalidRequestError, { statusCode: 400, code: 'resource_already_exists' });
  // the same reference on another record is still a duplicate
  const q = await stripe.paymentRecords.reportPayment(guaranteedPayment(300));
  await rejects(stripe.paymentRecords.reportRefund(q.id, refund(100, ref1)),
    Stripe.errors.StripeInvalidRequestError, { code: 'resource_already_exists' });
  // the whole remainder, then nothing is left
  const full = await stripe.paymentRecords.reportRefund(p.id, refund(undefined));
  assert.equal(full.amount_refunded.value, 10000);
  await rejects(stripe.paymentRecords.reportRefund(p.id, refund(1)),
    Stripe.errors.StripeInvalidRequestError, { statusCode: 400, param: 'amount[value]' });
  // a refund needs a guaranteed payment
  const pending = await stripe.paymentRecords.reportPayment(docsPayment());
  await rejects(stripe.paymentRecords.reportRefund(pending.id, refund(100)),
    Stripe.errors.StripeInvalidRequestError, { statusCode: 400 });
  // another currency
  await rejects(stripe.paymentRecords.reportRefund(q.id, { ...refund(100), amount: { currency: 'eur', value: 100 } }),
    Stripe.errors.StripeInvalidRequestError, { statusCode: 400, param: 'amount[currency]' });
});

test('parameter errors: class, code and param', async () => {
  const cases = [
    [{ ...docsPayment(), amount_requested: { currency: 'usd' } }, 'parameter_missing', 'amount_requested[value]'],
    [{ ...docsPayment(), bogus: 'x' }, 'parameter_unknown', 'bogus'],
    [{ ...docsPayment(), amount_requested: { currency: 'usd', value: 0 } }, 'amount_too_small', 'amount_requested[value]'],
    [{ ...docsPayment(), amount_requested: { currency: 'usd', value: 100000000 } }, 'amount_too_large', 'amount_requested[value]'],
    [{ ...docsPayment(), amount_requested: { currency: 'usd', value: 'ten' } }, 'parameter_invalid_integer', 'amount_requested[value]'],
    [{ ...docsPayment(), customer_details: { email: 'not-an-email' } }, 'email_invalid', 'customer_details[email]'],
    [{ ...docsPayment(), description: '   ' }, 'parameter_invalid_string_blank', 'description'],
  ];
  for (const [params, code, param] of cases) {
    await rejects(stripe.paymentRecords.reportPayment(params), Stripe.errors.StripeInvalidRequestError,
      { statusCode: 400, type: 'invalid_request_error', code, param });
  }
  await rejects(stripe.paymentRecords.reportPayment({ ...docsPayment(), amount_requested: { currency: 'xyz', value: 1 } }),
    Stripe.errors.StripeInvalidRequestError, { statusCode: 400, param: 'amount_requested[currency]' });
  await rejects(stripe.paymentRecords.list({ limit: 101 }), Stripe.errors.StripeInvalidRequestError,
    { statusCode: 400, param: 'limit' });
  await rejects(stripe.paymentAttemptRecords.list({}), Stripe.errors.StripeInvalidRequestError,
    { statusCode: 400, code: 'parameter_missing', param: 'payment_record' });
});

test('unknown ids and paths', async () => {
  for (const call of [
    () => stripe.paymentRecords.retrieve('pr_000000000000000000000000'),
    () => stripe.paymentAttemptRecords.retrieve('par_000000000000000000000000'),
    () => stripe.paymentRecords.reportRefund('pr_nope', refund(100)),
    () => stripe.paymentRecords.reportPaymentAttemptGuaranteed('pr_nope', { guaranteed_at: ts() }),
    () => stripe.paymentRecords.list({ starting_after: 'pr_000000000000000000000000' }),
  ]) {
    await rejects(call(), Stripe.errors.StripeInvalidRequestError, { statusCode: 404, code: 'resource_missing' });
  }
  const err = await rejects(stripe.rawRequest('POST', '/v1/charges', { amount: 1 }),
    Stripe.errors.StripeInvalidRequestError, { statusCode: 404 });
  assert.match(err.message, /Unrecognized request URL \(POST: \/v1\/charges\)/);
});

test('list with auto-pagination, both ways', async () => {
  const made = [];
  for (let i = 0; i < 23; i++) made.push((await stripe.paymentRecords.reportPayment(guaranteedPayment(100 + i))).id);
  const forward = [];
  for await (const pr of stripe.paymentRecords.list({ limit: 7 })) forward.push(pr.id);
  assert.equal(new Set(forward).size, forward.length, 'no record twice');
  for (const id of made) assert.ok(forward.includes(id), 'every record listed');
  // newest first: the records just made come first, newest at the top
  assert.deepEqual(forward.slice(0, made.length), [...made].reverse());
  const all = await stripe.paymentRecords.list({ limit: 100 });
  assert.deepEqual(all.data.map((r) => r.id), forward.slice(0, all.data.length));
  // backwards from the oldest: every other record, none twice
  const oldest = forward[forward.length - 1];
  const backward = [];
  for await (const pr of stripe.paymentRecords.list({ limit: 5, ending_before: oldest })) backward.push(pr.id);
  assert.equal(new Set(backward).size, backward.length);
  assert.deepEqual([...backward].sort(), forward.slice(0, -1).sort());
  // one page, by hand, with has_more and url
  const page = await stripe.paymentRecords.list({ limit: 3, starting_after: made[made.length - 1] });
  assert.equal(page.object, 'list');
  assert.equal(page.url, '/v1/payment_records');
  assert.equal(page.has_more, true);
  assert.deepEqual(page.data.map((r) => r.id), [...made].reverse().slice(1, 4));
  // autoPagingToArray and a created filter, through rawRequest too
  const arr = await stripe.paymentRecords.list({ limit: 4 }).autoPagingToArray({ limit: 10 });
  assert.equal(arr.length, 10);
  const raw = await stripe.rawRequest('GET', '/v1/payment_records?limit=2&expand[]=data', null);
  assert.equal(raw.data.length, 2);
  const future = await stripe.paymentRecords.list({ created: undefined, created_after: 4102444800 });
  assert.deepEqual(future.data, []);
});

test('idempotent retries and key reuse', async () => {
  const key = uniq('idem');
  const params = guaranteedPayment(4200);
  const a = await stripe.paymentRecords.reportPayment(params, { idempotencyKey: key });
  const b = await stripe.paymentRecords.reportPayment(params, { idempotencyKey: key });
  assert.equal(b.id, a.id);
  assert.deepEqual({ ...b, lastResponse: undefined }, { ...a, lastResponse: undefined });
  assert.equal(b.lastResponse.headers['idempotency-key'], key);
  // other parameters, or another endpoint, under the same key
  await rejects(stripe.paymentRecords.reportPayment({ ...params, description: 'other' }, { idempotencyKey: key }),
    Stripe.errors.StripeIdempotencyError, { statusCode: 400, type: 'idempotency_error' });
  await rejects(stripe.paymentRecords.reportRefund(a.id, refund(100), { idempotencyKey: key }),
    Stripe.errors.StripeIdempotencyError, { type: 'idempotency_error' });
  // a refund retried: counted once
  const rkey = uniq('idem');
  const rparams = refund(1000);
  const r1 = await stripe.paymentRecords.reportRefund(a.id, rparams, { idempotencyKey: rkey });
  const r2 = await stripe.paymentRecords.reportRefund(a.id, rparams, { idempotencyKey: rkey });
  assert.equal(r1.amount_refunded.value, 1000);
  assert.equal(r2.amount_refunded.value, 1000);
  // a business error under a key is replayed, even once it would succeed
  const ekey = uniq('idem');
  const p = await stripe.paymentRecords.reportPayment(docsPayment());
  const eparams = refund(100);
  const e1 = await rejects(stripe.paymentRecords.reportRefund(p.id, eparams, { idempotencyKey: ekey }),
    Stripe.errors.StripeInvalidRequestError, { statusCode: 400 });
  await stripe.paymentRecords.reportPaymentAttemptGuaranteed(p.id, { guaranteed_at: ts() });
  const e2 = await rejects(stripe.paymentRecords.reportRefund(p.id, eparams, { idempotencyKey: ekey }),
    Stripe.errors.StripeInvalidRequestError, { statusCode: 400 });
  assert.equal(e2.message, e1.message);
  // a validation error stores nothing: the corrected retry works
  const vkey = uniq('idem');
  await rejects(stripe.paymentRecords.reportPayment({ ...params, bogus: 1 }, { idempotencyKey: vkey }),
    Stripe.errors.StripeInvalidRequestError, { code: 'parameter_unknown' });
  const ok = await stripe.paymentRecords.reportPayment(params, { idempotencyKey: vkey });
  assert.notEqual(ok.id, a.id);
  // the SDK's own retries carry its generated key: a retried POST is one write
  const retrying = client(process.env.SK_TEST, { maxNetworkRetries: 2 });
  const c = await retrying.paymentRecords.reportPayment(guaranteedPayment(77));
  assert.match(c.lastResponse.idempotencyKey, /^stripe-node-retry-/);
  // keys are per mode: the same key in live mode is another key
  if (liveByRole) {
    const l = await live.paymentRecords.reportPayment(params, { idempotencyKey: key });
    assert.notEqual(l.id, a.id);
    assert.equal(l.livemode, true);
  }
});

test('keys: missing, unknown, revoked, malformed, basic auth', async () => {
  let res = await fetch(`${base}/v1/payment_records`);
  assert.equal(res.status, 401);
  let body = await res.json();
  assert.equal(body.error.type, 'invalid_request_error');
  assert.match(body.error.message, /You did not provide an API key/);
  assert.match(res.headers.get('request-id'), /^req_[0-9A-Za-z]{14}$/);

  const unknown = 'sk_test_' + 'x'.repeat(40) + '1234';
  let err = await rejects(client(unknown).paymentRecords.list(), Stripe.errors.StripeAuthenticationError,
    { statusCode: 401, type: 'invalid_request_error' });
  assert.equal(err.message, 'Invalid API Key provided: sk_test_****1234');
  assert.ok(!err.message.includes('x'.repeat(10)), 'the key is not echoed');

  err = await rejects(client(process.env.SK_REVOKED).paymentRecords.list(), Stripe.errors.StripeAuthenticationError,
    { statusCode: 401 });
  assert.ok(!err.message.includes(process.env.SK_REVOKED));
  assert.ok(err.message.endsWith(process.env.SK_REVOKED.slice(-4)));

  for (const bad of ['sk_test_\u00e9t\u00e9', 'a b', 'x'.repeat(300), 'sk_test_1;DROP TABLE x']) {
    res = await fetch(`${base}/v1/payment_records`, { headers: { Authorization: `Bearer ${encodeURI(bad)}` } });
    assert.equal(res.status, 401);
    body = await res.json();
    assert.match(body.error.message, /^Invalid API Key provided: /);
  }
  // basic auth, the key as user name (curl -u sk_test_...:)
  res = await fetch(`${base}/v1/payment_records?limit=1`, {
    headers: { Authorization: 'Basic ' + Buffer.from(process.env.SK_TEST + ':').toString('base64') },
  });
  assert.equal(res.status, 200);
  assert.equal((await res.json()).object, 'list');
});

test('a restricted key reads but cannot write', async () => {
  const p = await stripe.paymentRecords.reportPayment(guaranteedPayment(900));
  const got = await readonly.paymentRecords.retrieve(p.id);
  assert.equal(got.id, p.id);
  const listed = await readonly.paymentRecords.list({ limit: 1 });
  assert.equal(listed.object, 'list');
  await readonly.paymentAttemptRecords.retrieve(p.latest_payment_attempt_record);
  for (const call of [
    () => readonly.paymentRecords.reportPayment(docsPayment()),
    () => readonly.paymentRecords.reportRefund(p.id, refund(100)),
    () => readonly.paymentRecords.reportPaymentAttemptInformational(p.id, { description: 'x' }),
    () => readonlyLive.paymentRecords.reportPayment(docsPayment()),
  ]) {
    const err = await rejects(call(), Stripe.errors.StripePermissionError,
      { statusCode: 403, type: 'invalid_request_error' });
    assert.match(err.message, /^The provided key 'rk_(test|live)_\*\*\*\*.{4}' does not have the required permissions/);
  }
  const after = await stripe.paymentRecords.retrieve(p.id);
  assert.equal(after.amount_refunded.value, 0);
});

test('test and live keys see only their own mode', { skip: liveSkip }, async () => {
  const t = await stripe.paymentRecords.reportPayment(guaranteedPayment(111));
  const l = await live.paymentRecords.reportPayment(guaranteedPayment(222));
  assert.equal(t.livemode, false);
  assert.equal(l.livemode, true);
  await rejects(live.paymentRecords.retrieve(t.id), Stripe.errors.StripeInvalidRequestError, { statusCode: 404, code: 'resource_missing' });
  await rejects(stripe.paymentRecords.retrieve(l.id), Stripe.errors.StripeInvalidRequestError, { statusCode: 404, code: 'resource_missing' });
  await rejects(stripe.paymentRecords.reportRefund(l.id, refund(1)), Stripe.errors.StripeInvalidRequestError, { statusCode: 404 });
  const liveIds = (await live.paymentRecords.list({ limit: 100 }).autoPagingToArray({ limit: 10000 })).map((r) => r.id);
  assert.ok(liveIds.includes(l.id));
  assert.ok(!liveIds.includes(t.id));
  const testIds = (await stripe.paymentRecords.list({ limit: 100 }).autoPagingToArray({ limit: 10000 })).map((r) => r.id);
  assert.ok(!testIds.includes(l.id));
  assert.equal((await readonlyLive.paymentRecords.retrieve(l.id)).livemode, true);
  await rejects(readonlyLive.paymentRecords.retrieve(t.id), Stripe.errors.StripeInvalidRequestError, { statusCode: 404 });
  // a refund reference is unique per mode
  const ref = uniq('ref');
  await stripe.paymentRecords.reportRefund(t.id, refund(1, ref));
  await live.paymentRecords.reportRefund(l.id, { ...refund(1, ref) });
});

test('Stripe-Version: any accepted, 2026-10-28 served', async () => {
  const other = client(process.env.SK_TEST, { apiVersion: '2020-08-27' });
  const res = await other.paymentRecords.list({ limit: 1 });
  assert.equal(res.lastResponse.headers['stripe-version'], '2026-10-28');
});

test('form bodies and query strings are decoded by the database', async () => {
  // a body the SDK would not send: form_to_jsonb's errors are Stripe's 400
  const auth = { Authorization: `Bearer ${process.env.SK_TEST}`, 'Content-Type': 'application/x-www-form-urlencoded' };
  let res = await fetch(`${base}/v1/payment_records/report_payment`, { method: 'POST', headers: auth, body: 'a[=1' });
  assert.equal(res.status, 400);
  let body = await res.json();
  assert.equal(body.error.type, 'invalid_request_error');
  // curl's body from Stripe's docs, percent-encoded brackets and all
  res = await fetch(`${base}/v1/payment_records/report_payment`, {
    method: 'POST', headers: auth,
    body: 'amount_requested%5Bcurrency%5D=usd&amount_requested%5Bvalue%5D=1000&initiated_at=1730253453'
      + '&payment_method_details%5Bpayment_method%5D=pm_1&description=a+b%26c&expand[]=x',
  });
  assert.equal(res.status, 200);
  body = await res.json();
  assert.equal(body.description, 'a b&c');
  // a query string on a GET
  res = await fetch(`${base}/v1/payment_records?limit=2&expand%5B%5D=data`, { headers: auth });
  assert.equal(res.status, 200);
  assert.equal((await res.json()).data.length, 2);
  res = await fetch(`${base}/v1/payment_records?limit=abc`, { headers: auth });
  assert.equal(res.status, 400);
  // an empty body on a write is the same as no parameters
  res = await fetch(`${base}/v1/payment_records/report_payment`, { method: 'POST', headers: auth, body: '' });
  assert.equal(res.status, 400);
  assert.equal((await res.json()).error.code, 'parameter_missing');
});

// Issue 14, fidelity: each test below failed before the fidelity branch.
test('outcome canceled on reportPayment and reportPaymentAttempt', async () => {
  const c = await stripe.paymentRecords.reportPayment({
    ...guaranteedPayment(1200), guaranteed: undefined, outcome: 'canceled', canceled: { canceled_at: ts() },
  });
  assert.deepEqual(c.amount_canceled, { currency: 'usd', value: 1200 });
  assert.deepEqual(c.amount_guaranteed, { currency: 'usd', value: 0 });
  assert.deepEqual(c.amount_failed, { currency: 'usd', value: 0 });
  // a canceled attempt allows a new one, which may be canceled too
  const n = await stripe.paymentRecords.reportPaymentAttempt(c.id, {
    initiated_at: ts(), outcome: 'canceled', canceled: { canceled_at: ts() },
  });
  assert.notEqual(n.latest_payment_attempt_record, c.latest_payment_attempt_record);
  assert.equal(n.amount_canceled.value, 1200);
  const g = await stripe.paymentRecords.reportPaymentAttempt(c.id, {
    initiated_at: ts(), outcome: 'guaranteed', guaranteed: { guaranteed_at: ts() },
  });
  assert.equal(g.amount_canceled.value, 0);
  assert.equal(g.amount_guaranteed.value, 1200);
  const first = await stripe.paymentAttemptRecords.retrieve(c.latest_payment_attempt_record);
  assert.equal(first.amount_canceled.value, 1200);
  await rejects(stripe.paymentRecords.reportPayment({ ...docsPayment(), outcome: 'canceled' }),
    Stripe.errors.StripeInvalidRequestError, { statusCode: 400, code: 'parameter_missing', param: 'canceled' });
  await rejects(stripe.paymentRecords.reportPayment({
    ...docsPayment(), outcome: 'failed', failed: { failed_at: ts() }, canceled: { canceled_at: ts() },
  }), Stripe.errors.StripeInvalidRequestError, { statusCode: 400, code: 'parameters_exclusive', param: 'canceled' });
});

test('payment_method_details.type and custom.display_name are never null', async () => {
  const shapes = [];
  const p = await stripe.paymentRecords.reportPayment({ ...docsPayment(), payment_method_details: { payment_method: 'pm_only' } });
  shapes.push(p, await stripe.paymentRecords.retrieve(p.id));
  shapes.push(await stripe.paymentRecords.reportPaymentAttemptInformational(p.id, { description: 'x' }));
  shapes.push(await stripe.paymentRecords.reportPaymentAttemptFailed(p.id, { failed_at: ts() }));
  const n = await stripe.paymentRecords.reportPaymentAttempt(p.id, { initiated_at: ts() });
  shapes.push(n, await stripe.paymentAttemptRecords.retrieve(n.latest_payment_attempt_record));
  const q = await stripe.paymentRecords.reportPayment({
    ...docsPayment(), payment_method_details: { type: 'custom', custom: { type: 'cpmt_1' } },
  });
  shapes.push(q);
  for await (const a of stripe.paymentAttemptRecords.list({ payment_record: p.id })) shapes.push(a);
  shapes.push(...(await stripe.paymentRecords.list({ limit: 20 })).data);
  for (const o of shapes) {
    assert.equal(typeof o.payment_method_details.type, 'string', `${o.id}: type`);
    if (o.payment_method_details.custom) {
      assert.equal(typeof o.payment_method_details.custom.display_name, 'string', `${o.id}: display_name`);
    }
  }
  assert.equal(p.payment_method_details.type, 'custom');
  assert.equal(q.payment_method_details.custom.display_name, 'Custom');
  assert.equal(q.payment_method_details.custom.type, 'cpmt_1');
});

test('error bodies carry the code of Stripe\'s list and its doc_url', async () => {
  const p = await stripe.paymentRecords.reportPayment(guaranteedPayment(500));
  const cases = [
    [() => stripe.paymentRecords.reportPaymentAttemptFailed(p.id, { failed_at: ts() }), 'status_transition_invalid', 400],
    [() => stripe.paymentRecords.reportPaymentAttempt(p.id, { initiated_at: ts() }), 'status_transition_invalid', 400],
    [() => stripe.paymentRecords.reportRefund(p.id, refund(501)), 'amount_too_large', 400],
    [() => stripe.paymentRecords.reportPayment({ ...docsPayment(), bogus: 1 }), 'parameter_unknown', 400],
    [() => stripe.paymentRecords.retrieve('pr_000000000000000000000000'), 'resource_missing', 404],
  ];
  for (const [call, code, statusCode] of cases) {
    const err = await rejects(call(), Stripe.errors.StripeInvalidRequestError, { statusCode, code });
    assert.equal(err.doc_url, `https://stripe.com/docs/error-codes/${code}`);
  }
  // a NUL byte in a form body: decoded by the database, a 400 with a code
  const res = await fetch(`${base}/v1/payment_records/report_payment`, {
    method: 'POST', body: 'description=a%00b',
    headers: { Authorization: `Bearer ${process.env.SK_TEST}`, 'Content-Type': 'application/x-www-form-urlencoded' },
  });
  assert.equal(res.status, 400);
  const body = await res.json();
  assert.equal(body.error.code, 'invalid_characters');
  assert.equal(body.error.doc_url, 'https://stripe.com/docs/error-codes/invalid_characters');
  await stripe.paymentRecords.reportRefund(p.id, refund(undefined));
  const err = await rejects(stripe.paymentRecords.reportRefund(p.id, refund(undefined)),
    Stripe.errors.StripeInvalidRequestError, { statusCode: 400, code: 'charge_already_refunded' });
  assert.equal(err.doc_url, 'https://stripe.com/docs/error-codes/charge_already_refunded');
});

test('metadata with integer-like keys is a hash, alone or mixed', async () => {
  const p = await stripe.paymentRecords.reportPayment({ ...docsPayment(), metadata: { 0: 'zero' } });
  assert.deepEqual(p.metadata, { 0: 'zero' });
  // JavaScript sends integer-like keys first: metadata[0], metadata[1], then the others
  const q = await stripe.paymentRecords.reportPayment({ ...docsPayment(), metadata: { order: '6735', 1: 'one', 0: 'zero' } });
  assert.deepEqual(q.metadata, { 0: 'zero', 1: 'one', order: '6735' });
  const u = await stripe.paymentRecords.reportPaymentAttemptInformational(q.id, { metadata: { 1: '', 7: 'seven' } });
  assert.deepEqual(u.metadata, { 0: 'zero', 7: 'seven', order: '6735' });
  // a body that cannot be decoded is a 400 body
  const auth = { Authorization: `Bearer ${process.env.SK_TEST}`, 'Content-Type': 'application/x-www-form-urlencoded' };
  const res = await fetch(`${base}/v1/payment_records/report_payment`, {
    method: 'POST', headers: auth, body: 'metadata[a]=1&metadata[a][b]=2',
  });
  assert.equal(res.status, 400);
  assert.equal((await res.json()).error.type, 'invalid_request_error');
});

test('path ids are percent-decoded; long ids are not echoed', async () => {
  const p = await stripe.paymentRecords.reportPayment(docsPayment());
  const auth = { Authorization: `Bearer ${process.env.SK_TEST}` };
  let res = await fetch(`${base}/v1/payment_records/${p.id.replace('_', '%5F')}`, { headers: auth });
  assert.equal(res.status, 200);
  assert.equal((await res.json()).id, p.id);
  const long = 'pr_' + 'x'.repeat(10000);
  const err = await rejects(stripe.paymentRecords.retrieve(long), Stripe.errors.StripeInvalidRequestError,
    { statusCode: 404, code: 'resource_missing' });
  assert.ok(!err.message.includes('x'.repeat(100)), 'the id is not echoed');
  assert.ok(err.message.length < 200);
  res = await fetch(`${base}/v1/nothing/${'y'.repeat(10000)}`, { headers: auth });
  assert.equal(res.status, 404);
  assert.ok((await res.text()).length < 1000);
});
