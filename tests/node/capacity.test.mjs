// SPDX-License-Identifier: Apache-2.0
//
// F22 with real EventSource clients: at the connection limit a newcomer gets 429 and, as the
// EventSource rules say, stops for good instead of reconnecting in a loop; nobody already
// connected is evicted. SSEHUB_BIN names the binary; ctest sets it.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import { EventSource } from 'eventsource';
import { startHub, until } from './hub.mjs';

/** A stream held by a plain HTTP client; `chunks` collects what it receives. */
function hold(hub, session) {
    return new Promise((resolve, reject) => {
        const req = http.get(`${hub.url}/events?session=${session}`, (res) => {
            const held = { res, req, chunks: [], ended: false };
            res.on('data', (d) => held.chunks.push(d.toString()));
            res.on('end', () => { held.ended = true; });
            res.on('close', () => { held.ended = true; });
            resolve(held);
        });
        req.on('error', reject);
    });
}

/** One request on a connection of its own, closed after the answer: at the limit, a
 *  pooled keep-alive connection would hold the one free slot. */
function once(hub, method, path, body) {
    return new Promise((resolve, reject) => {
        const req = http.request(`${hub.url}${path}`, {
            method, agent: false, headers: { 'content-type': 'application/json', connection: 'close' },
        }, (res) => {
            let text = '';
            res.on('data', (d) => { text += d; });
            res.on('end', () => resolve({ status: res.statusCode, body: text }));
        });
        req.on('error', reject);
        req.end(body === undefined ? undefined : JSON.stringify(body));
    });
}

async function metric(hub, sample) {
    const { body } = await once(hub, 'GET', '/metrics');
    const line = body.split('\n').find((l) => l.startsWith(sample + ' '));
    return line ? Number(line.slice(sample.length + 1)) : -1;
}

test('F22: at the connection limit EventSource newcomers get 429 once and nobody is evicted', { timeout: 60_000 }, async () => {
    const limit = 5;
    const hub = await startHub(['--limits-connections', String(limit), '--stream-retry', '300ms',
        '--session-grace', '0s']);
    const held = [];
    const newcomers = [];
    try {
        for (let i = 0; i < limit; ++i) {
            const h = await hold(hub, `h${i}`);
            assert.equal(h.res.statusCode, 200);
            held.push(h);
        }

        const refusals = [];
        for (let i = 0; i < 10; ++i) {
            const es = new EventSource(`${hub.url}/events?session=new${i}`, {
                fetch: async (url, init) => {
                    const res = await fetch(url, init);
                    refusals.push({ status: res.status, retryAfter: res.headers.get('retry-after') });
                    return res;
                },
            });
            newcomers.push(es);
        }
        await until(() => newcomers.every((es) => es.readyState === EventSource.CLOSED), 10_000,
            () => `every newcomer closed: ${newcomers.map((es) => es.readyState)}`);

        // Several retry periods later, still one request each: no reconnection loop.
        await sleep(1_500);
        assert.equal(refusals.length, 10, JSON.stringify(refusals));
        for (const r of refusals) {
            assert.equal(r.status, 429);
            assert.match(r.retryAfter ?? '', /^[0-9]+$/);
        }

        // Nobody was evicted: each held stream is open and still receives.
        assert.ok(held.every((h) => !h.ended));
        // Two free slots for the control calls below (one may still be closing).
        for (const h of held.splice(limit - 2)) {
            h.req.destroy();
        }
        // Refused connections are closed by the hub within a couple of seconds.
        await until(async () => {
            const open = await metric(hub, 'ssehub_connections');
            return open >= 0 && open <= limit - 1;
        }, 10_000, 'a free slot');
        assert.equal(await metric(hub, 'ssehub_request_refusals_total{status="429"}'), 10);
        for (let i = 0; i < held.length; ++i) {
            const r = await once(hub, 'POST', `/api/v1/sessions/h${i}/messages`, { message: { to: i } });
            assert.equal(r.status, 200, r.body);
        }
        for (let i = 0; i < held.length; ++i) {
            await until(() => held[i].chunks.join('').includes(`data:{"to":${i}}`), 5_000, `h${i}`);
        }
        const sessions = await once(hub, 'GET', '/api/v1/sessions');
        assert.ok(!sessions.body.includes('new'), sessions.body);
    } finally {
        for (const es of newcomers) {
            es.close();
        }
        for (const h of held) {
            h.req.destroy();
        }
        const status = await hub.stop();
        assert.deepEqual(status, { code: 0, signal: null }, hub.output());
    }
});
