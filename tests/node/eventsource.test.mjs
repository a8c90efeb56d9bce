// SPDX-License-Identifier: Apache-2.0
//
// Node's `eventsource` (a WHATWG EventSource) against the real hub: the client browsers
// and Digipair pages stand for. SSEHUB_BIN names the binary; ctest sets it.

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { EventSource } from 'eventsource';

import { startHub } from './hub.mjs';

async function post(hub, path, body, method = 'POST') {
    const res = await fetch(hub.url + path, {
        method,
        headers: { 'content-type': 'application/json' },
        body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    return { status: res.status, body: text, json: text ? JSON.parse(text) : null };
}

/** Resolves with the first event of `type` on `es`, or rejects after `ms`. */
function nextEvent(es, type, ms = 5_000) {
    return new Promise((resolve, reject) => {
        const timer = setTimeout(() => {
            es.removeEventListener(type, on);
            reject(new Error(`no "${type}" event within ${ms} ms`));
        }, ms);
        const on = (e) => {
            clearTimeout(timer);
            es.removeEventListener(type, on);
            resolve(e);
        };
        es.addEventListener(type, on);
    });
}

let hub;

before(async () => {
    hub = await startHub(['--stream-retry', '200ms']);
});

after(async () => {
    const status = await hub.stop();
    assert.deepEqual(status, { code: 0, signal: null }, `ssehub did not exit cleanly:\n${hub.output()}`);
});

test('onopen fires promptly and a push arrives as a message', { timeout: 15_000 }, async () => {
    const started = Date.now();
    const es = new EventSource(`${hub.url}/events?session=node-1`);
    try {
        await nextEvent(es, 'open');
        assert.ok(Date.now() - started < 1_000, `open took ${Date.now() - started} ms`);

        const received = nextEvent(es, 'message');
        const r = await post(hub, '/api/v1/sessions/node-1/messages', { message: { hello: 'node' } });
        assert.equal(r.status, 200, r.body);

        const e = await received;
        assert.equal(e.data, '{"hello":"node"}');
        assert.equal(e.lastEventId, r.json.eventId);
    } finally {
        es.close();
    }
});

test('a named broadcast reaches addEventListener and not onmessage', { timeout: 15_000 }, async () => {
    const es = new EventSource(`${hub.url}/events?session=node-2&channel=news`);
    const messages = [];
    es.onmessage = (e) => messages.push(e.data);
    try {
        await nextEvent(es, 'open');
        const update = nextEvent(es, 'update');
        const r = await post(hub, '/api/v1/channels/news/messages', {
            event: 'update',
            message: { version: 2 },
        });
        assert.equal(r.status, 200, r.body);
        assert.equal(r.json.delivered, 1, r.body);

        const e = await update;
        assert.equal(e.type, 'update');
        assert.equal(e.data, '{"version":2}');
        await sleep(100);
        assert.deepEqual(messages, []);
    } finally {
        es.close();
    }
});

test('a reconnect sends Last-Event-ID and resumes without duplicates', { timeout: 20_000 }, async () => {
    // Record the Last-Event-ID of every request the client makes.
    const sent = [];
    const recordingFetch = (input, init) => {
        sent.push(new Headers(init?.headers).get('last-event-id'));
        return fetch(input, init);
    };
    const es = new EventSource(`${hub.url}/events?session=node-3&channel=resume`, {
        fetch: recordingFetch,
    });
    const data = [];
    es.onmessage = (e) => data.push(e.data);
    try {
        await nextEvent(es, 'open');
        const first = nextEvent(es, 'message');
        assert.equal((await post(hub, '/api/v1/channels/resume/messages', { message: { n: 1 } })).status, 200);
        const seen = await first;
        assert.ok(seen.lastEventId, 'the event carries an id');

        // The hub ends the stream; the broadcast that follows falls in the gap.
        const reopened = new Promise((resolve) => {
            es.addEventListener('error', () => es.addEventListener('open', resolve, { once: true }), {
                once: true,
            });
        });
        const kicked = await post(hub, '/api/v1/sessions/node-3', undefined, 'DELETE');
        assert.ok(kicked.status >= 200 && kicked.status < 300, kicked.body);
        assert.equal((await post(hub, '/api/v1/channels/resume/messages', { message: { n: 2 } })).status, 200);

        await reopened;
        assert.equal(sent.length, 2, `requests: ${JSON.stringify(sent)}`);
        assert.equal(sent[0], null);
        assert.equal(sent[1], seen.lastEventId);

        const deadline = Date.now() + 5_000;
        while (data.length < 2 && Date.now() < deadline) {
            await sleep(20);
        }
        await sleep(200);
        assert.deepEqual(data, ['{"n":1}', '{"n":2}']);
    } finally {
        es.close();
    }
});
