// SPDX-License-Identifier: Apache-2.0
//
// Headless Chromium's own EventSource against the real hub, driven by playwright-core with
// Debian's /usr/bin/chromium. The page comes from a small server on 127.0.0.1 (a real
// cross-origin EventSource, allowed by cors.allow_origins); the stream goes through a relay
// that can cut it. Checked: events arrive, the browser follows the hub's `retry:`, and after
// a kick or a cut it resumes with Last-Event-ID, losing and repeating nothing.

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { call, launchChromium, startHub, startRelay, until } from './hub.mjs';

// The hub's retry hint; Chromium's own default is 3 s.
const retryMs = 300;

let pageServer;
let pageOrigin;
let hub;
let relay;
let chromiumSession;
let browser;

before(async () => {
    pageServer = http.createServer((req, res) => {
        res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
        res.end('<!doctype html><title>ssehub browser test</title><p>ready</p>');
    });
    await new Promise((resolve) => pageServer.listen(0, '127.0.0.1', resolve));
    pageOrigin = `http://127.0.0.1:${pageServer.address().port}`;

    hub = await startHub([
        '--stream-retry', `${retryMs}ms`,
        '--session-grace', '10s',
        '--cors-allow-origins', pageOrigin,
    ]);
    relay = await startRelay(hub);

    chromiumSession = await launchChromium();
    browser = chromiumSession.browser;
});

after(async () => {
    await chromiumSession?.close();
    await relay?.close();
    await new Promise((resolve) => pageServer?.close(resolve));
    const status = await hub?.stop();
    assert.deepEqual(status, { code: 0, signal: null }, `ssehub did not exit cleanly:\n${hub?.output()}`);
});

/** Opens the page and an EventSource on `streamUrl`; events are collected in the page. */
async function openStream(streamUrl) {
    const page = await browser.newPage();
    await page.goto(pageOrigin + '/');
    await page.evaluate((url) => {
        window.got = [];
        window.gaps = [];
        window.opens = [];
        window.errors = 0;
        const es = new EventSource(url);
        window.es = es;
        es.onopen = () => window.opens.push(Date.now());
        es.onerror = () => { window.errors += 1; };
        es.onmessage = (e) => window.got.push({ data: e.data, id: e.lastEventId });
        es.addEventListener('update', (e) => window.got.push({ data: e.data, id: e.lastEventId }));
        es.addEventListener('gap', (e) => window.gaps.push(e.data));
    }, streamUrl);
    await until(() => page.evaluate(() => window.opens.length === 1), 10_000, 'EventSource open');
    return page;
}

const received = (page) => page.evaluate(() => window.got);

/** Publishes {"n": from..to}: pushes to `session` on odd n, broadcasts to `channel` on even. */
async function publish(session, channel, from, to) {
    for (let n = from; n <= to; ++n) {
        const r = n % 2 === 1
            ? await call(hub, `/api/v1/sessions/${session}/messages`, { message: { n } })
            : await call(hub, `/api/v1/channels/${channel}/messages`, { message: { n }, event: 'update' });
        assert.equal(r.status, 200, r.body);
    }
}

function assertExactly(got, last) {
    const ns = got.map((e) => JSON.parse(e.data).n);
    assert.deepEqual(ns, Array.from({ length: last }, (_, i) => i + 1),
        `events lost, repeated or out of order: ${JSON.stringify(ns)}`);
    for (const e of got) {
        assert.ok(e.id && /^[\x21-\x7e]+$/.test(e.id), `bad id ${JSON.stringify(e.id)}`);
    }
}

test('Chromium EventSource receives pushes and broadcasts, and resumes after a kick', { timeout: 60_000 }, async () => {
    const page = await openStream(`${relay.url}/events?session=br1&channel=room1`);
    try {
        await publish('br1', 'room1', 1, 6);
        await until(async () => (await received(page)).length >= 6, 10_000, 'the first 6 events');
        const before = await received(page);
        assertExactly(before, 6);

        // The hub ends the stream; the session keeps its grace, so what is published before
        // the browser comes back waits for it.
        const kicked = await call(hub, '/api/v1/sessions/br1', undefined, 'DELETE');
        assert.ok(kicked.status >= 200 && kicked.status < 300, kicked.body);
        await publish('br1', 'room1', 7, 10);

        await until(async () => (await received(page)).length >= 10, 15_000, 'events after the kick');
        await new Promise((r) => setTimeout(r, 300));
        assertExactly(await received(page), 10);
        assert.deepEqual(await page.evaluate(() => window.gaps), []);

        // The second request carried the id of the last event seen, and the browser came
        // back after the hub's retry hint.
        const heads = relay.requests.filter((h) => h.includes('session=br1'));
        assert.equal(heads.length, 2, heads.join('\n---\n'));
        const sent = /\r\nlast-event-id: *([^\r\n]*)/i.exec(heads[1]);
        assert.ok(sent, `no Last-Event-ID in\n${heads[1]}`);
        assert.equal(sent[1], before[5].id);
        const opens = await page.evaluate(() => window.opens);
        assert.equal(opens.length, 2);
    } finally {
        await page.close();
    }
});

test('Chromium EventSource resumes without loss or duplicates after the connection is cut', { timeout: 60_000 }, async () => {
    const page = await openStream(`${relay.url}/events?session=br2&channel=room2`);
    try {
        let last = 0;
        for (let round = 0; round < 3; ++round) {
            await publish('br2', 'room2', last + 1, last + 4);
            last += 4;
            await until(async () => (await received(page)).length >= last, 10_000, `round ${round}`);

            // A network failure, not a clean end: the browser sees an error and retries.
            assert.ok(relay.cut((p) => p.head.includes('session=br2')) >= 1);
            await publish('br2', 'room2', last + 1, last + 3);
            last += 3;
            await until(async () => (await received(page)).length >= last, 15_000, `resume ${round}`);
        }
        await new Promise((r) => setTimeout(r, 300));
        assertExactly(await received(page), last);
        assert.deepEqual(await page.evaluate(() => window.gaps), []);
        assert.ok(await page.evaluate(() => window.errors) >= 3);
        assert.equal(await page.evaluate(() => window.opens.length), 4);
    } finally {
        await page.close();
    }
});

test('Chromium EventSource is told with a gap event when history no longer covers it', { timeout: 60_000 }, async () => {
    const page = await openStream(`${relay.url}/events?session=br3&channel=room3`);
    try {
        await publish('br3', 'room3', 1, 2);
        await until(async () => (await received(page)).length >= 2, 10_000, 'the first events');

        // Another browser on a hub restart would hold an id of an earlier epoch; here the
        // page asks for a resume point the hub cannot place.
        await page.evaluate((url) => {
            window.es.close();
            window.got = [];
            const es = new EventSource(url);
            window.es = es;
            es.addEventListener('gap', (e) => window.gaps.push(e.data));
            es.onmessage = (e) => window.got.push({ data: e.data, id: e.lastEventId });
        }, `${relay.url}/events?session=br3&channel=room3&lastEventId=no-such-id`);
        await until(async () => (await page.evaluate(() => window.gaps.length)) >= 1, 10_000, 'gap');
        const gap = JSON.parse((await page.evaluate(() => window.gaps))[0]);
        assert.equal(gap.reason, 'unreadable');
        assert.ok(gap.streams.some((s) => s.id === 'room3'), JSON.stringify(gap));
    } finally {
        await page.close();
    }
});
