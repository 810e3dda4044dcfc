// Malformed HTTP against payment_records_gateway: bad request lines, huge
// headers, truncated and oversized bodies, slow senders, thousands of
// connections.  After each test the gateway process must be alive, answer
// a good request, and its resident memory must stay bounded.  Run by
// inner.sh with GW_PORT, GW_PID, SK_TEST, and the gateway started with
// --timeout 2 --max-connections 500 --max-body 65536.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import fs from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';

const port = Number(process.env.GW_PORT);
const pid = Number(process.env.GW_PID);
const key = process.env.SK_TEST;
const auth = `Authorization: Bearer ${key}\r\n`;

function rssKiB() {
  const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  return Number(/VmRSS:\s+(\d+)/.exec(status)[1]);
}
const rssStart = rssKiB();
const rssLog = [];

// Send chunks (strings or Buffers) on a fresh connection, with an optional
// pause between them; resolve with what came back once the server closes
// the connection or `wait` ms pass after the last chunk.
function exchange(chunks, { pause = 0, wait = 1500, end = false } = {}) {
  return new Promise((resolve) => {
    const sock = net.connect(port, '127.0.0.1');
    const got = [];
    let closed = false;
    let timer;
    const finish = () => {
      clearTimeout(timer);
      sock.destroy();
      const text = Buffer.concat(got).toString('latin1');
      const m = /^HTTP\/1\.[01] (\d{3})/.exec(text);
      const split = text.indexOf('\r\n\r\n');
      resolve({ status: m ? Number(m[1]) : null, text, body: split >= 0 ? text.slice(split + 4) : '', closed });
    };
    sock.on('data', (d) => got.push(d));
    sock.on('error', () => {});
    sock.on('close', () => { closed = true; finish(); });
    sock.on('connect', async () => {
      for (const c of chunks) {
        if (sock.destroyed) break;
        sock.write(c);
        if (pause) await sleep(pause);
      }
      if (end) sock.end();
      timer = setTimeout(finish, wait);
    });
  });
}

// the gateway is alive, answers a good request, and its RSS is bounded
async function alive(label) {
  process.kill(pid, 0);
  const res = await fetch(`http://127.0.0.1:${port}/v1/payment_records?limit=1`, {
    headers: { Authorization: `Bearer ${key}` },
  });
  assert.equal(res.status, 200, `${label}: a good request still works`);
  assert.equal((await res.json()).object, 'list');
  const rss = rssKiB();
  rssLog.push(`${label}: ${rss} KiB`);
  assert.ok(rss < rssStart + 64 * 1024, `${label}: RSS ${rss} KiB, started at ${rssStart} KiB`);
}

const stripeShaped = (r, status) => {
  assert.equal(r.status, status, r.text.slice(0, 200));
  const body = JSON.parse(r.body);
  assert.equal(typeof body.error.message, 'string');
  assert.equal(body.error.type, 'invalid_request_error');
  assert.match(r.text, /\r\nRequest-Id: req_[0-9A-Za-z]{14}\r\n/i);
  return body;
};

after(() => console.log(`RSS of the gateway: ${rssLog.join('; ')}`));

test('bad request lines', async () => {
  const lines = [
    'GARBAGE\r\n\r\n',
    'GET\r\n\r\n',
    'GET /v1/payment_records\r\n\r\n',
    'GET /v1/payment_records HTTP/9.9\r\n\r\n',
    'GET /v1/payment_records HTTP/1.1 extra\r\n\r\n',
    ' GET / HTTP/1.1\r\n\r\n',
    'GET /v1/payment_records HTTP/1.1\r\nHost: x\r\nno colon here\r\n\r\n',
    'GET /%zz%00%ff HTTP/1.1\r\nHost: x\r\n\r\n',
    'GET /v1/payment_records HTTP/1.1\r\nHost: x\r\nContent-Length: -5\r\n\r\n',
    'POST /v1/payment_records/report_payment HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Length: 7\r\n\r\nabcde',
    'POST /v1/payment_records/report_payment HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nabc\r\n0\r\n\r\n',
    'BREW /coffee HTCPCP/1.0\r\n\r\n',
    '\r\n\r\n\r\n\r\n',
    Buffer.from([0, 1, 2, 3, 255, 254, 13, 10, 13, 10]),
    Buffer.alloc(5000, 0xff),
    'GET /' + 'a'.repeat(100000) + ' HTTP/1.1\r\n\r\n',
  ];
  for (const l of lines) {
    const r = await exchange([l], { wait: 800 });
    // an error status or a closed connection; never a crash, never 2xx
    assert.ok(r.status === null || r.status >= 400, `${JSON.stringify(String(l).slice(0, 60))} -> ${r.status}`);
  }
  await alive('bad request lines');
});

test('methods and paths the API does not serve: Stripe-shaped 404 from the database', async () => {
  for (const m of ['DELETE', 'PUT', 'PATCH', 'OPTIONS']) {
    const r = await exchange([`${m} /v1/payment_records/pr_1 HTTP/1.1\r\nHost: x\r\n${auth}Content-Length: 0\r\n\r\n`], { wait: 800 });
    const body = stripeShaped(r, 404);
    assert.match(body.error.message, /Unrecognized request URL/);
  }
  // a path that is not UTF-8 once percent-decoded: 400 from the gateway
  const r = await exchange([`GET /v1/payment_records/%ff%fe HTTP/1.1\r\nHost: x\r\n${auth}\r\n`], { wait: 800 });
  stripeShaped(r, 400);
  // a body that is not UTF-8
  const b = Buffer.concat([Buffer.from(`POST /v1/payment_records/report_payment HTTP/1.1\r\nHost: x\r\n${auth}Content-Length: 4\r\n\r\n`), Buffer.from([0x61, 0x3d, 0xff, 0xfe])]);
  stripeShaped(await exchange([b], { wait: 800 }), 400);
  await alive('methods and paths');
});

test('huge headers', async () => {
  const big = 'X-Big: ' + 'b'.repeat(64 * 1024) + '\r\n';
  let r = await exchange([`GET /v1/payment_records HTTP/1.1\r\nHost: x\r\n${big}\r\n`]);
  assert.ok(r.status === null || r.status >= 400, `one 64 KiB header -> ${r.status}`);
  const many = Array.from({ length: 5000 }, (_, i) => `X-H${i}: v\r\n`).join('');
  r = await exchange([`GET /v1/payment_records HTTP/1.1\r\nHost: x\r\n${many}\r\n`]);
  assert.ok(r.status === null || r.status >= 400, `5000 headers -> ${r.status}`);
  // an endless header section is cut off, not buffered
  const endless = [];
  for (let i = 0; i < 200; i++) endless.push(`X-More-${i}: ${'m'.repeat(1000)}\r\n`);
  r = await exchange([`GET / HTTP/1.1\r\nHost: x\r\n`, ...endless], { wait: 500 });
  assert.ok(r.status === null || r.status >= 400);
  // a huge Authorization header
  r = await exchange([`GET /v1/payment_records HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${'k'.repeat(10000)}\r\n\r\n`]);
  assert.ok(r.status === 401 || r.status >= 400 || r.status === null);
  await alive('huge headers');
});

test('bodies: truncated, oversized, chunked', async () => {
  const head = (len, extra = '') =>
    `POST /v1/payment_records/report_payment HTTP/1.1\r\nHost: x\r\n${auth}Content-Type: application/x-www-form-urlencoded\r\n${extra}` +
    (len === null ? '' : `Content-Length: ${len}\r\n`) + '\r\n';
  // truncated: the client promises 1000 bytes, sends 10 and closes
  for (let i = 0; i < 20; i++) {
    const r = await exchange([head(1000) + 'amount_req'], { end: true, wait: 500 });
    assert.equal(r.status, null, 'no answer to a truncated body');
  }
  // truncated and then silent: closed by the idle timeout
  let t0 = Date.now();
  let r = await exchange([head(1000) + 'amount_req'], { wait: 10000 });
  assert.equal(r.closed, true);
  assert.ok(Date.now() - t0 < 6000, `closed after ${Date.now() - t0} ms`);
  // announced too large: 413 without reading it
  r = await exchange([head(10 * 1024 * 1024)], { wait: 1500 });
  let body = stripeShaped(r, 413);
  assert.match(body.error.message, /too large/);
  // too large without announcing it (chunked)
  const chunk = 'a'.repeat(16 * 1024);
  const chunks = [head(null, 'Transfer-Encoding: chunked\r\n')];
  for (let i = 0; i < 8; i++) chunks.push(`${(chunk.length).toString(16)}\r\n${chunk}\r\n`);
  chunks.push('0\r\n\r\n');
  r = await exchange(chunks, { wait: 1500 });
  stripeShaped(r, 413);
  // a chunked body that fits is fine (and decoded by the database)
  const form = 'amount_requested[currency]=usd&amount_requested[value]=1&initiated_at=1&payment_method_details[payment_method]=pm_1';
  r = await exchange([head(null, 'Transfer-Encoding: chunked\r\n'), `${form.length.toString(16)}\r\n${form}\r\n0\r\n\r\n`], { wait: 1500 });
  assert.equal(r.status, 200, r.text.slice(0, 300));
  assert.equal(JSON.parse(r.body).object, 'payment_record');
  // a truncated chunked body
  r = await exchange([head(null, 'Transfer-Encoding: chunked\r\n'), '100\r\nabc'], { end: true, wait: 500 });
  assert.equal(r.status, null);
  // a NUL byte in a body
  r = await exchange([head(5) + 'a=\u0000bc'], { wait: 1000 });
  stripeShaped(r, 400);
  // two requests pipelined on one connection, both answered
  r = await exchange([`GET /v1/payment_records?limit=1 HTTP/1.1\r\nHost: x\r\n${auth}\r\nGET /v1/payment_records?limit=1 HTTP/1.1\r\nHost: x\r\n${auth}Connection: close\r\n\r\n`], { wait: 2000 });
  assert.equal((r.text.match(/HTTP\/1\.1 200/g) || []).length, 2);
  await alive('bodies');
});

test('slow senders', async () => {
  // 40 connections dribbling a request one byte every 100 ms: the gateway
  // keeps serving others meanwhile
  const req = `GET /v1/payment_records?limit=1 HTTP/1.1\r\nHost: x\r\n${auth}Connection: close\r\n\r\n`;
  const slow = Array.from({ length: 40 }, () => exchange(req.slice(0, 60).split(''), { pause: 100, wait: 4000 }));
  const t0 = Date.now();
  await alive('while slow senders are connected');
  assert.ok(Date.now() - t0 < 1000, 'a good request is not held up by slow senders');
  // senders that stop half-way are closed by the idle timeout (2 s)
  const results = await Promise.all(slow);
  for (const r of results) assert.equal(r.closed, true, 'a stalled sender is disconnected');
  // a slow but steady complete request is served
  const r = await exchange(req.match(/.{1,8}/gs), { pause: 50, wait: 3000 });
  assert.equal(r.status, 200);
  await alive('slow senders');
});

test('thousands of connections', async () => {
  const socks = [];
  let refused = 0;
  await Promise.all(Array.from({ length: 3000 }, () => new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1');
    s.on('error', () => { refused++; resolve(); });
    s.on('close', () => resolve());
    s.on('connect', () => { socks.push(s); setTimeout(resolve, 300); });
  })));
  await sleep(300);
  // the gateway holds at most --max-connections (500) of them (others wait
  // in the kernel's listen backlog or are closed at once)
  const fds = fs.readdirSync(`/proc/${pid}/fd`).length;
  assert.ok(fds <= 500 + 40, `the gateway has ${fds} open files`);
  const rss = rssKiB();
  rssLog.push(`with ${socks.length} client sockets, ${fds} gateway fds: ${rss} KiB`);
  for (const s of socks) s.destroy();
  await sleep(500);
  // 2000 short requests, keep-alive off, in waves of 200
  for (let wave = 0; wave < 10; wave++) {
    const rs = await Promise.all(Array.from({ length: 200 }, () =>
      exchange([`GET /v1/payment_records?limit=1 HTTP/1.1\r\nHost: x\r\n${auth}Connection: close\r\n\r\n`], { wait: 5000 })));
    for (const r of rs) assert.ok(r.status === 200 || r.status === null, `got ${r.status}`);
  }
  await alive('thousands of connections');
});

test('memory does not grow with repeated abuse', async () => {
  const round = async () => {
    for (let i = 0; i < 100; i++) {
      await Promise.all([
        exchange(['GARBAGE\r\n\r\n'], { wait: 300 }),
        exchange([`POST /v1/payment_records/report_payment HTTP/1.1\r\nHost: x\r\n${auth}Content-Length: 70000\r\n\r\n`], { wait: 300 }),
        exchange([`POST /v1/payment_records/report_payment HTTP/1.1\r\nHost: x\r\n${auth}Content-Length: 60000\r\n\r\n` + 'x'.repeat(30000)], { end: true, wait: 300 }),
        exchange([`GET /v1/payment_records?limit=1 HTTP/1.1\r\nHost: x\r\nX-Big: ${'b'.repeat(20000)}\r\n\r\n`], { wait: 300 }),
      ]);
    }
    return rssKiB();
  };
  const r1 = await round();
  const r2 = await round();
  const r3 = await round();
  rssLog.push(`abuse rounds: ${r1}, ${r2}, ${r3} KiB`);
  assert.ok(r3 - r1 < 4096, `RSS grew from ${r1} to ${r3} KiB over two more rounds`);
  await alive('repeated abuse');
});

// the HTTP responses in what came back on one connection
const responses = (r) => (r.text.match(/HTTP\/1\.[01] \d{3} /g) || []).length;
// a refusal of the whole connection: one Stripe-shaped 400, then closed
const refusedAndClosed = (r, label) => {
  const body = stripeShaped(r, 400);
  assert.equal(responses(r), 1, `${label}: one response only, got ${r.text.slice(0, 600)}`);
  assert.equal(r.closed, true, `${label}: the connection is closed`);
  assert.match(r.text, /\r\nConnection: close\r\n/i, label);
  return body;
};

// a full request carrying another key, hidden after the headers
const other = `Authorization: Bearer ${process.env.SK_LIVE}\r\n`;
const hidden = `GET /v1/payment_records?limit=1 HTTP/1.1\r\nHost: x\r\n${other}\r\n`;

test('request smuggling: two Content-Length headers are refused, the connection closed', async () => {
  // two different Content-Length: the first (0) would make `hidden` the next request
  let r = await exchange([`GET /v1/payment_records?limit=1 HTTP/1.1\r\nHost: x\r\n${auth}Content-Length: 0\r\nContent-Length: ${hidden.length}\r\n\r\n${hidden}`]);
  let body = refusedAndClosed(r, 'CL 0 then CL n');
  assert.match(body.error.message, /Content-Length/);
  r = await exchange([`GET /v1/payment_records?limit=1 HTTP/1.1\r\nHost: x\r\n${auth}Content-Length: ${hidden.length}\r\nContent-Length: 0\r\n\r\n${hidden}`]);
  refusedAndClosed(r, 'CL n then CL 0');
  // the same value twice is refused too
  r = await exchange([`GET /v1/payment_records?limit=1 HTTP/1.1\r\nHost: x\r\n${auth}Content-Length: 0\r\nContent-Length: 0\r\n\r\n${hidden}`]);
  refusedAndClosed(r, 'CL 0 twice');
  await alive('two Content-Length');
});

test('request smuggling: Content-Length with Transfer-Encoding, or another Transfer-Encoding than chunked, is refused', async () => {
  let r, body;
  // Content-Length with chunked, either order: chunked would end at 0\r\n\r\n
  for (const h of [`Content-Length: ${5 + hidden.length}\r\nTransfer-Encoding: chunked\r\n`,
    `Transfer-Encoding: chunked\r\nContent-Length: ${5 + hidden.length}\r\n`]) {
    r = await exchange([`POST /v1/payment_records/report_payment HTTP/1.1\r\nHost: x\r\n${auth}${h}\r\n0\r\n\r\n${hidden}`]);
    body = refusedAndClosed(r, h);
    assert.match(body.error.message, /Transfer-Encoding/);
  }
  // another Transfer-Encoding than one `chunked` (libmicrohttpd would read to the end of the connection)
  for (const h of ['Transfer-Encoding: identity\r\n', 'Transfer-Encoding: gzip, chunked\r\n',
    'Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n']) {
    r = await exchange([`POST /v1/payment_records/report_payment HTTP/1.1\r\nHost: x\r\n${auth}${h}\r\n0\r\n\r\n${hidden}`]);
    refusedAndClosed(r, h);
  }
  await alive('Transfer-Encoding');
});

test('two Authorization or Idempotency-Key headers are refused, not the first taken', async () => {
  let r, body;
  // two Authorization headers: neither is taken
  for (const a of [auth + other, other + auth, auth + auth]) {
    r = await exchange([`GET /v1/payment_records?limit=1 HTTP/1.1\r\nHost: x\r\n${a}\r\n`]);
    body = refusedAndClosed(r, 'two Authorization');
    assert.match(body.error.message, /Authorization/);
  }
  // two Idempotency-Key headers
  r = await exchange([`POST /v1/payment_records/report_payment HTTP/1.1\r\nHost: x\r\n${auth}Idempotency-Key: a\r\nIdempotency-Key: b\r\nContent-Length: 0\r\n\r\n`]);
  refusedAndClosed(r, 'two Idempotency-Key');
  // a single Content-Length still pipelines as before
  r = await exchange([`GET /v1/payment_records?limit=1 HTTP/1.1\r\nHost: x\r\n${auth}Content-Length: 0\r\n\r\nGET /v1/payment_records?limit=1 HTTP/1.1\r\nHost: x\r\n${auth}Connection: close\r\n\r\n`], { wait: 2000 });
  assert.equal((r.text.match(/HTTP\/1\.1 200/g) || []).length, 2);
  await alive('duplicate credentials');
});

// the gateway's log line of a request id (inner.sh passes GW_LOG)
async function logLine(id) {
  for (let i = 0; i < 20; i++) {
    const line = fs.readFileSync(process.env.GW_LOG, 'utf8').split('\n').find((l) => l.includes(` ${id} `));
    if (line) return line;
    await sleep(50);
  }
  assert.fail(`no log line for ${id}`);
}
const requestId = (r) => /\r\nRequest-Id: (req_[0-9A-Za-z]{14})\r\n/i.exec(r.text)[1];

const getTarget = (target) => exchange([`GET ${target} HTTP/1.1\r\nHost: x\r\n${auth}Connection: close\r\n\r\n`]);
let recordId;
async function aRecord() {
  if (recordId) return recordId;
  const form = 'amount_requested[currency]=usd&amount_requested[value]=1&initiated_at=1&payment_method_details[payment_method]=pm_1';
  let r = await exchange([`POST /v1/payment_records/report_payment HTTP/1.1\r\nHost: x\r\n${auth}Content-Length: ${form.length}\r\nConnection: close\r\n\r\n${form}`]);
  assert.equal(r.status, 200);
  recordId = JSON.parse(r.body).id;
  r = await getTarget(`/v1/payment_records/${recordId}`);
  assert.equal(r.status, 200, 'the record itself');
  return recordId;
}

test('paths: %00 in the path or query is refused, not cut short', async () => {
  const id = await aRecord();
  const get = getTarget;
  let r;
  // a NUL in the decoded path or query: 400, never the record cut short
  for (const t of [`/v1/payment_records/${id}%00junk`, `/v1/payment_records/${id}%00`, `/v1/payment_records/${id}%00?x=1`,
    `/v1%00/payment_records/${id}`]) {
    r = await get(t);
    const body = stripeShaped(r, 400);
    assert.match(body.error.message, /NUL/, t);
  }
  for (const t of ['/v1/payment_records?limit=1%00junk', '/v1/payment_records?limit%00=1', '/v1/payment_records?%00']) {
    r = await get(t);
    stripeShaped(r, 400);
  }
  await alive('%00');
});

test('paths: a NUL byte sent raw in the target is refused', async () => {
  const id = await aRecord();
  let r;
  // a NUL byte sent raw in the target: 400 too (libmicrohttpd would cut there)
  for (const [before, after] of [[`/v1/payment_records/${id}`, 'junk'], [`/v1/payment_records/${id}`, ''],
    [`/v1/payment_records/${id}`, '?limit=1'], ['/v1/payment_records', `/${id}`]]) {
    r = await exchange([Buffer.concat([Buffer.from(`GET ${before}`), Buffer.from([0]),
      Buffer.from(`${after} HTTP/1.1\r\nHost: x\r\n${auth}Connection: close\r\n\r\n`)])]);
    const body = stripeShaped(r, 400);
    assert.match(body.error.message, /NUL/, `raw NUL in ${before}|${after}`);
  }
  await alive('raw NUL');
});

test('paths: %3F stays in the path, and neither it nor a query string is logged', async () => {
  const id = await aRecord();
  const get = getTarget;
  let r;
  // %2500 is a literal "%00", no NUL
  r = await get(`/v1/payment_records/${id}%2500`);
  assert.equal(r.status, 404, r.text.slice(0, 300));
  // %3F (either case) is a path character: not a query string for the
  // database, nor in the log
  for (const t of ['/v1/payment_records%3Flimit=1', '/v1/payment_records%3flimit=1&starting_after=x',
    `/v1/payment_records/${id}%3Fexpand=1`, '/v1/payment_records%3Fa=b?limit=1']) {
    r = await get(t);
    assert.equal(r.status, 404, `${t} -> ${r.text.slice(0, 300)}`);
    const line = await logLine(requestId(r));
    assert.doesNotMatch(line, /limit|expand|starting|\?|%3F|a=b/i, line);
    assert.match(line, / GET \/v1\/payment_records[/ ]/, line);
  }
  // the raw query string is not logged either
  r = await get(`/v1/payment_records/${id}?expand=1`);
  assert.doesNotMatch(await logLine(requestId(r)), /expand|\?/);
  await alive('paths');
});

test('Idempotency-Key: printable ASCII only, never echoed raw', async () => {
  const form = 'amount_requested[currency]=usd&amount_requested[value]=1&initiated_at=1&payment_method_details[payment_method]=pm_1';
  const post = (k) => exchange([Buffer.concat([
    Buffer.from(`POST /v1/payment_records/report_payment HTTP/1.1\r\nHost: x\r\n${auth}Idempotency-Key: `),
    Buffer.isBuffer(k) ? k : Buffer.from(k, 'latin1'),
    Buffer.from(`\r\nContent-Length: ${form.length}\r\nConnection: close\r\n\r\n${form}`)])]);
  for (const c of [0x01, 0x0b, 0x7f, 0x1b, 0x09, 0x80, 0xff]) {
    const k = Buffer.from([0x61, c, 0x62]);
    const r = await post(k);
    const body = stripeShaped(r, 400);
    assert.match(body.error.message, /printable ASCII/, `0x${c.toString(16)}`);
    const head = r.text.slice(0, r.text.indexOf('\r\n\r\n'));
    assert.doesNotMatch(head, /Idempotency-Key/i, `0x${c.toString(16)} echoed: ${JSON.stringify(head)}`);
    assert.ok(!head.includes(String.fromCharCode(c)), `0x${c.toString(16)} in the response head`);
  }
  stripeShaped(await post('k'.repeat(256)), 400);
  // printable ASCII, up to 255 characters, is fine and echoed
  const ok = `key ~!"#$%&'()*+,-./:;<=>?@[\\]^_\`{|}${Date.now()}`.padEnd(255, 'k');
  const r = await post(ok);
  assert.equal(r.status, 200, r.text.slice(0, 300));
  assert.ok(r.text.includes(`\r\nIdempotency-Key: ${ok}\r\n`));
  await alive('Idempotency-Key');
});
