// SPDX-License-Identifier: Apache-2.0
//
// F29 with a real EventSource: a refused subscription (401 or 403) is final, so the client
// gives up instead of reconnecting in a loop; an allowed one, with its token in ?token=,
// receives its events. SSEHUB_BIN names the binary; ctest sets it.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHash, createHmac } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { EventSource } from 'eventsource';

const bin = process.env.SSEHUB_BIN;
const secret = 'node-subscriber-secret';
const adminKey = 'node-admin-key';
const hubEnv = Object.fromEntries(
    Object.entries(process.env).filter(([name]) => !name.startsWith('SSEHUB_')),
);

/** An HS256 JWT of `claims`, as an identity provider would sign it. */
function jwt(claims) {
    const b64 = (v) => Buffer.from(JSON.stringify(v)).toString('base64url');
    const body = `${b64({ alg: 'HS256', typ: 'JWT' })}.${b64(claims)}`;
    return `${body}.${createHmac('sha256', secret).update(body).digest('base64url')}`;
}

function startHub() {
    const keyHash = createHash('sha256').update(adminKey).digest('hex');
    const child = spawn(bin, ['serve', '--listen', '127.0.0.1:0',
        '--auth-publishers-keys', `sha256:${keyHash}`, '--auth-subscribers-mode', 'jwt',
        '--auth-subscribers-jwt-alg', 'HS256', '--auth-subscribers-jwt-secret', secret],
    { stdio: ['ignore', 'pipe', 'pipe'], env: hubEnv });
    let output = '';
    child.stdout.on('data', (d) => { output += d; });
    return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`hub did not start:\n${output}`)), 10_000);
        child.stderr.on('data', (d) => {
            output += d;
            const m = /listening.*address="?([^\s"]+)/.exec(output);
            if (m) {
                clearTimeout(timer);
                resolve({
                    url: `http://${m[1]}`,
                    stop: () => new Promise((done) => {
                        child.on('exit', (code) => done(code));
                        child.kill('SIGTERM');
                    }),
                });
            }
        });
    });
}

async function refusals(hub, status) {
    const res = await fetch(`${hub.url}/metrics`, { headers: { authorization: `Bearer ${adminKey}` } });
    const m = new RegExp(`ssehub_request_refusals_total\\{status="${status}"\\} (\\d+)`).exec(await res.text());
    return Number(m[1]);
}

/** Resolves once `es` reports an error and is CLOSED: the client gave up. */
function givesUp(es) {
    return new Promise((resolve) => {
        es.onerror = () => {
            if (es.readyState === EventSource.CLOSED) {
                resolve();
            }
        };
    });
}

test('refused subscriptions are final, allowed ones receive', async () => {
    const hub = await startHub();
    try {
        const exp = Math.floor(Date.now() / 1000) + 600;
        const alice = jwt({ sessions: ['alice'], channels: ['room1'], exp });
        const bob = jwt({ sessions: ['bob'], exp });

        const noToken = new EventSource(`${hub.url}/events?session=alice`);
        const stolen = new EventSource(`${hub.url}/events?session=alice&token=${bob}`);
        await Promise.all([givesUp(noToken), givesUp(stolen)]);

        // Well past the default reconnection delay, still one refusal each.
        await sleep(3_500);
        assert.equal(await refusals(hub, 401), 1);
        assert.equal(await refusals(hub, 403), 1);

        const es = new EventSource(`${hub.url}/events?session=alice&channel=room1&token=${alice}`);
        await new Promise((resolve) => { es.onopen = resolve; });
        const got = new Promise((resolve) => { es.onmessage = (e) => resolve(e.data); });
        const res = await fetch(`${hub.url}/api/v1/channels/room1/messages`, {
            method: 'POST',
            headers: { authorization: `Bearer ${adminKey}`, 'content-type': 'application/json' },
            body: JSON.stringify({ message: { to: 'room1' } }),
        });
        assert.equal(res.status, 200);
        assert.equal(await got, '{"to":"room1"}');
        es.close();
    } finally {
        assert.equal(await hub.stop(), 0);
    }
});
