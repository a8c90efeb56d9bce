// SPDX-License-Identifier: Apache-2.0
//
// CORS and browser capacity in headless Chromium (field cases F21 and F20 D). Pages come
// from small servers on other loopback origins than the hub's: http://127.0.0.2:PORT is on
// the allow-list (with credentials), http://127.0.0.3:PORT is not. Subscribers need an HS256
// token naming their session and channels. Checked: Chromium's own EventSource and fetch
// succeed only from the allowed origin, with and without credentials; a `*` allow-list
// serves anonymous streams and can never serve credentialed ones; a refused stream is not
// retried in a loop; eight dashboard tabs leave the browser free to make more requests.

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import http from 'node:http';
import { call, launchChromium, startHub, until } from './hub.mjs';

const secret = 'cors-test-subscriber-secret';
const retryMs = 300;

/** A compact HS256 JWS of `claims`, as an identity provider signs it. */
function sign(claims) {
    const part = (o) => Buffer.from(JSON.stringify(o)).toString('base64url');
    const body = `${part({ alg: 'HS256', typ: 'JWT' })}.${part(claims)}`;
    return `${body}.${createHmac('sha256', secret).update(body).digest('base64url')}`;
}

const token = (sessions, channels) =>
    sign({ sessions, channels, exp: Math.floor(Date.now() / 1000) + 600 });

/** A page server on `host`; resolves with its origin. */
async function pageServer(host) {
    const server = http.createServer((req, res) => {
        res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
        res.end('<!doctype html><title>ssehub cors test</title><p>page</p>');
    });
    await new Promise((resolve) => server.listen(0, host, resolve));
    return { server, origin: `http://${host}:${server.address().port}` };
}

let allowed;
let refused;
let hub;
let anyHub;
let chromiumSession;
let browser;

before(async () => {
    allowed = await pageServer('127.0.0.2');
    refused = await pageServer('127.0.0.3');
    hub = await startHub([
        '--stream-retry', `${retryMs}ms`,
        '--session-grace', '0s',
        '--cors-allow-origins', allowed.origin,
        '--cors-allow-credentials', 'true',
        '--auth-subscribers-mode', 'jwt',
        '--auth-subscribers-jwt-alg', 'HS256',
        '--auth-subscribers-jwt-secret', secret,
    ]);
    anyHub = await startHub(['--stream-retry', `${retryMs}ms`, '--session-grace', '0s',
        '--cors-allow-origins', '*']);

    chromiumSession = await launchChromium();
    browser = chromiumSession.browser;
});

after(async () => {
    await chromiumSession?.close();
    for (const p of [allowed, refused]) {
        await new Promise((resolve) => p?.server.close(resolve));
    }
    for (const h of [hub, anyHub]) {
        const status = await h?.stop();
        assert.deepEqual(status, { code: 0, signal: null }, `ssehub did not exit cleanly:\n${h?.output()}`);
    }
});

/** A page of `origin` holding `new EventSource(url, {withCredentials})`. */
async function openPage(origin, url, withCredentials) {
    const page = await browser.newPage();
    await page.goto(origin + '/');
    await page.evaluate(([u, creds]) => {
        window.got = [];
        window.opens = 0;
        window.errors = 0;
        const es = new EventSource(u, { withCredentials: creds });
        window.es = es;
        es.onopen = () => { window.opens += 1; };
        es.onerror = () => { window.errors += 1; };
        es.onmessage = (e) => window.got.push(e.data);
    }, [url, withCredentials]);
    return page;
}

const state = (page) => page.evaluate(() => ({
    opens: window.opens, errors: window.errors, got: window.got, readyState: window.es.readyState,
}));

async function sessions(h) {
    const r = await call(h, '/api/v1/sessions', undefined, 'GET');
    assert.equal(r.status, 200, r.body);
    return r.json.sessions.map((s) => s.id);
}

async function refusals(h, status) {
    const r = await fetch(h.url + '/metrics');
    const m = new RegExp(`^ssehub_request_refusals_total\\{status="${status}"\\} (\\d+)$`, 'm')
        .exec(await r.text());
    return m ? Number(m[1]) : -1;
}

for (const withCredentials of [true, false]) {
    test(`F21: the allowed origin opens a stream ${withCredentials ? 'with' : 'without'} credentials and receives a push`, { timeout: 60_000 }, async () => {
        const id = withCredentials ? 'cred1' : 'anon1';
        const page = await openPage(allowed.origin,
            `${hub.url}/events?session=${id}&channel=c&token=${token([id], ['c'])}`, withCredentials);
        try {
            await until(async () => (await state(page)).opens === 1, 10_000,
                async () => JSON.stringify(await state(page)));
            const r = await call(hub, `/api/v1/sessions/${id}/messages`, { message: { n: 1 } });
            assert.equal(r.status, 200, r.body);
            await until(async () => (await state(page)).got.length === 1, 10_000, 'the push');
            assert.deepEqual((await state(page)).got, ['{"n":1}']);
        } finally {
            await page.close();
        }
    });

    test(`F21: another origin gets an error and creates nothing ${withCredentials ? 'with' : 'without'} credentials`, { timeout: 60_000 }, async () => {
        const id = withCredentials ? 'cred2' : 'anon2';
        const before403 = await refusals(hub, 403);
        const page = await openPage(refused.origin,
            `${hub.url}/events?session=${id}&channel=c&token=${token([id], ['c'])}`, withCredentials);
        try {
            await until(async () => (await state(page)).errors >= 1, 10_000, 'the error event');
            // A refusal with a 4xx is final: the browser stops, it does not retry every 300 ms.
            await new Promise((r) => setTimeout(r, 4 * retryMs));
            const s = await state(page);
            assert.equal(s.opens, 0);
            assert.equal(s.readyState, 2, 'EventSource CLOSED');
            assert.equal(await refusals(hub, 403), before403 + 1, 'one request, no retry loop');
            assert.ok(!(await sessions(hub)).includes(id));
        } finally {
            await page.close();
        }
    });
}

test('F21: a stream whose token is missing is refused once, not retried in a loop', { timeout: 60_000 }, async () => {
    const before401 = await refusals(hub, 401);
    const page = await openPage(allowed.origin, `${hub.url}/events?session=nokey&channel=c`, true);
    try {
        await until(async () => (await state(page)).errors >= 1, 10_000, 'the error event');
        await new Promise((r) => setTimeout(r, 4 * retryMs));
        const s = await state(page);
        assert.equal(s.readyState, 2);
        assert.equal(await refusals(hub, 401), before401 + 1);
        assert.ok(!(await sessions(hub)).includes('nokey'));
    } finally {
        await page.close();
    }
});

test('F21: fetch with credentials reaches the control API from the allowed origin only', { timeout: 60_000 }, async () => {
    const listener = await openPage(allowed.origin,
        `${hub.url}/events?session=fetched&token=${token(['fetched'], [])}`, false);
    try {
        await until(async () => (await state(listener)).opens === 1, 10_000, 'the stream');
        const post = (page) => page.evaluate(async (url) => {
            try {
                const r = await fetch(url, {
                    method: 'POST',
                    credentials: 'include',
                    headers: { 'content-type': 'application/json', 'last-event-id': 'x' },
                    body: JSON.stringify({ message: { from: location.origin } }),
                });
                return { status: r.status };
            } catch (e) {
                return { failed: String(e) };
            }
        }, `${hub.url}/api/v1/sessions/fetched/messages`);

        // The preflight (content-type: application/json) and the POST both pass.
        assert.deepEqual(await post(listener), { status: 200 });

        const other = await browser.newPage();
        try {
            await other.goto(refused.origin + '/');
            const res = await post(other);
            assert.ok(res.failed, `fetch from another origin succeeded: ${JSON.stringify(res)}`);
        } finally {
            await other.close();
        }
        await until(async () => (await state(listener)).got.length >= 1, 10_000, 'the push');
        await new Promise((r) => setTimeout(r, 200));
        assert.deepEqual((await state(listener)).got, [JSON.stringify({ from: allowed.origin })]);
    } finally {
        await listener.close();
    }
});

test('F21: with `*` an anonymous stream opens from anywhere and a credentialed one never does', { timeout: 60_000 }, async () => {
    const anon = await openPage(refused.origin, `${anyHub.url}/events?session=any1`, false);
    const cred = await openPage(refused.origin, `${anyHub.url}/events?session=any2`, true);
    try {
        await until(async () => (await state(anon)).opens === 1, 10_000, 'the anonymous stream');
        await until(async () => (await state(cred)).errors >= 1, 10_000, 'the credentialed error');
        assert.equal((await state(cred)).opens, 0);
        const r = await call(anyHub, '/api/v1/sessions/any1/messages', { message: 1 });
        assert.equal(r.status, 200, r.body);
        await until(async () => (await state(anon)).got.length === 1, 10_000, 'the push');
    } finally {
        await anon.close();
        await cred.close();
    }
});

test('F20 D: eight dashboard tabs show live data and leave the browser free to fetch', { timeout: 90_000 }, async () => {
    // A stream held outside the browser, for the tabs to show.
    const held = await new Promise((resolve, reject) => {
        const req = http.get(`${anyHub.url}/events?session=tabbed`, resolve);
        req.on('error', reject);
    });
    assert.equal(held.statusCode, 200);
    const tabs = [];
    try {
        for (let i = 0; i < 8; ++i) {
            const tab = await browser.newPage();
            await tab.goto(anyHub.url + '/');
            tabs.push(tab);
        }
        for (const tab of tabs) {
            await until(() => tab.evaluate(() => document.getElementById('sessions').textContent.includes('tabbed')),
                10_000, 'the sessions table');
        }
        const res = await tabs[7].evaluate(async () => {
            const controller = new AbortController();
            const timer = setTimeout(() => controller.abort(), 5_000);
            try {
                const r = await fetch('/healthz', { signal: controller.signal });
                return r.status;
            } catch (e) {
                return String(e);
            } finally {
                clearTimeout(timer);
            }
        });
        assert.equal(res, 200);
    } finally {
        for (const tab of tabs) {
            await tab.close();
        }
        held.destroy();
    }
});
