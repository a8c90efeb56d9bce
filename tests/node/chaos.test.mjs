// SPDX-License-Identifier: Apache-2.0
//
// Chaos: publishers push and broadcast while a relay cuts the clients' connections at
// random moments. Node's `eventsource` reconnects by itself with Last-Event-ID; each client
// must see every event meant for it exactly once, each publisher's events in the order it
// sent them, and the broadcasts in one order shared by every client. Bounded in count
// (publishers × operations) and in time.

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { EventSource } from 'eventsource';
import { call, startHub, startRelay, until } from './hub.mjs';

const clients = 6;
const publishers = 3;
const operations = 150; // per publisher

let hub;
let relay;

before(async () => {
    hub = await startHub([
        '--stream-retry', '50ms',
        '--session-grace', '10s',
        '--history-session-events', '5000',
        '--history-channel-events', '5000',
    ]);
    relay = await startRelay(hub);
});

after(async () => {
    await relay?.close();
    const status = await hub?.stop();
    assert.deepEqual(status, { code: 0, signal: null }, `ssehub did not exit cleanly:\n${hub?.output()}`);
});

// A small deterministic generator, so a failure can be replayed.
function random(seed) {
    let x = seed >>> 0;
    return () => {
        x = (x * 1664525 + 1013904223) >>> 0;
        return x / 2 ** 32;
    };
}

test('every client sees every event once and in order while connections are cut', { timeout: 90_000 }, async () => {
    const rand = random(20261204);

    // Clients c0..c5: all in `all`, and in `g0` or `g1` by parity.
    const seen = [];
    const sources = [];
    for (let i = 0; i < clients; ++i) {
        const got = [];
        seen.push(got);
        const es = new EventSource(`${relay.url}/events?session=c${i}&channel=all&channel=g${i % 2}`);
        const keep = (e) => got.push({ type: e.type, ...JSON.parse(e.data) });
        es.addEventListener('message', keep);
        es.addEventListener('update', keep);
        es.addEventListener('gap', (e) => got.push({ type: 'gap', data: e.data }));
        sources.push(es);
    }
    try {
        await until(() => sources.every((es) => es.readyState === EventSource.OPEN), 10_000, 'open');

        // What each client must receive, per publisher, in the order it was sent.
        const expected = Array.from({ length: clients }, () => []);
        const publisher = async (p) => {
            for (let k = 0; k < operations; ++k) {
                const pick = rand();
                const message = { p, k };
                let r;
                let targets;
                if (pick < 0.4) {
                    const s = Math.floor(rand() * clients);
                    r = await call(hub, `/api/v1/sessions/c${s}/messages`, { message });
                    targets = [s];
                } else if (pick < 0.7) {
                    r = await call(hub, '/api/v1/channels/all/messages', { message, event: 'update' });
                    targets = [...Array(clients).keys()];
                } else {
                    const g = Math.floor(rand() * 2);
                    r = await call(hub, `/api/v1/channels/g${g}/messages`, { message });
                    targets = [...Array(clients).keys()].filter((i) => i % 2 === g);
                }
                assert.equal(r.status, 200, r.body);
                assert.ok(r.json.eventId, r.body);
                for (const t of targets) {
                    expected[t].push(`${p}:${k}`);
                }
            }
        };

        // Cut one random stream every 20-80 ms while the publishers run.
        let publishing = true;
        let cuts = 0;
        const cutter = (async () => {
            while (publishing) {
                await new Promise((r) => setTimeout(r, 20 + rand() * 60));
                const victim = `session=c${Math.floor(rand() * clients)}&`;
                cuts += relay.cut((pair) => pair.head.includes(victim));
            }
        })();
        await Promise.all([...Array(publishers).keys()].map(publisher));
        publishing = false;
        await cutter;
        assert.ok(cuts >= 5, `only ${cuts} cuts`);

        const total = expected.reduce((n, e) => n + e.length, 0);
        await until(() => seen.reduce((n, g) => n + g.filter((e) => e.type !== 'gap').length, 0) >= total,
            30_000, () => `${total} deliveries: ${JSON.stringify({ cuts,
                expected: expected.map((e) => e.length), got: seen.map((g) => g.length) })}`);
        await new Promise((r) => setTimeout(r, 300)); // anything extra would show up now

        const broadcastOrders = [];
        for (let i = 0; i < clients; ++i) {
            const got = seen[i];
            assert.deepEqual(got.filter((e) => e.type === 'gap'), [], `client ${i} was told of a gap`);
            const keys = got.map((e) => `${e.p}:${e.k}`);
            assert.equal(new Set(keys).size, keys.length, `client ${i} got duplicates`);
            assert.deepEqual([...keys].sort(), [...expected[i]].sort(), `client ${i} lost events`);
            for (let p = 0; p < publishers; ++p) {
                const ks = got.filter((e) => e.p === p).map((e) => e.k);
                assert.deepEqual(ks, [...ks].sort((a, b) => a - b), `client ${i}, publisher ${p} out of order`);
            }
            broadcastOrders.push(got.filter((e) => e.type === 'update').map((e) => `${e.p}:${e.k}`));
        }
        for (let i = 1; i < clients; ++i) {
            assert.deepEqual(broadcastOrders[i], broadcastOrders[0], `client ${i} saw broadcasts in another order`);
        }
    } finally {
        for (const es of sources) {
            es.close();
        }
    }
});
