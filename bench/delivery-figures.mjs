// SPDX-License-Identifier: Apache-2.0
//
// Figures of the delivery model (issue 4), measured on a running `ssehub serve`:
//   - resident memory per session stream (the session with its empty history ring),
//   - resident memory per history event (small events kept in channel rings),
//   - time to replay 10,000 missed events to a resuming client.
// It asserts nothing; it prints one line per figure.
//
//   node bench/delivery-figures.mjs build/release/ssehub
//
// Run it on a release build: a debug (ASan) build measures the sanitizer instead.

import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import net from 'node:net';

const bin = process.argv[2] ?? 'build/release/ssehub';

function rssKiB(pid) {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    return Number(/VmRSS:\s+(\d+)/.exec(status)[1]);
}

async function startHub(args) {
    const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('SSEHUB_')));
    const child = spawn(bin, ['serve', '--listen', '127.0.0.1:0', ...args], {
        stdio: ['ignore', 'ignore', 'pipe'], env,
    });
    let out = '';
    return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`hub did not listen:\n${out}`)), 10_000);
        child.stderr.on('data', (d) => {
            out += d;
            const m = /listening address=127\.0\.0\.1:(\d+)/.exec(out);
            if (m && timer) {
                clearTimeout(timer);
                const port = Number(m[1]);
                resolve({ child, url: `http://127.0.0.1:${port}`, port });
            }
        });
    });
}

async function post(hub, path, body) {
    const res = await fetch(hub.url + path, {
        method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body),
    });
    return res.json();
}

const pin = (element, properties) => ({ library: '@digipair/skill-sse', element, properties });

async function settle(pid) {
    await new Promise((r) => setTimeout(r, 500));
    return rssKiB(pid);
}

async function memoryPerSession() {
    const hub = await startHub(['--session-grace', '10m']);
    const n = 20_000;
    const before = await settle(hub.child.pid);
    for (let i = 0; i < n; i += 500) {
        await post(hub, '/api/v1/actions',
            Array.from({ length: 500 }, (_, k) => pin('registerSession', { id: `s${i + k}` })));
    }
    const after = await settle(hub.child.pid);
    hub.child.kill('SIGTERM');
    console.log(`memory per session stream: ${Math.round(((after - before) * 1024) / n)} bytes ` +
        `(${n} sessions, RSS ${before} -> ${after} KiB)`);
}

async function memoryPerEvent() {
    const hub = await startHub(['--history-channel-events', '1000000', '--history-max-bytes', '1GiB']);
    await post(hub, '/api/v1/actions', pin('registerChannel', { id: 'c', session: 'anchor' }));
    const n = 200_000;
    const before = await settle(hub.child.pid);
    for (let i = 0; i < n; i += 1000) {
        await post(hub, '/api/v1/actions',
            Array.from({ length: 1000 }, (_, k) => pin('broadcast', { id: 'c', message: { i: i + k } })));
    }
    const after = await settle(hub.child.pid);
    const sample = `event:message\nid:abcdef-${n}\ndata:{"i":${n}}\n\n`.length;
    hub.child.kill('SIGTERM');
    console.log(`memory per history event: ${Math.round(((after - before) * 1024) / n)} bytes ` +
        `for events of about ${sample} bytes on the wire (${n} events)`);
}

// Opens a raw stream; resolves with a reader that counts events and notes the first id.
function openStream(hub, target, headers = {}) {
    return new Promise((resolve) => {
        const socket = net.connect(hub.port, '127.0.0.1');
        const state = { socket, text: '', events: 0, cursor: null, waiters: [] };
        socket.setEncoding('latin1');
        socket.on('data', (d) => {
            state.text += d;
            let at;
            while ((at = state.text.indexOf('\n\n')) >= 0) {
                const block = state.text.slice(0, at);
                state.text = state.text.slice(at + 2);
                if (/^data:/m.test(block)) {
                    ++state.events;
                } else if (!state.cursor && /^id:/m.test(block)) {
                    state.cursor = /^id:(.*)$/m.exec(block)[1];
                }
            }
            state.waiters = state.waiters.filter((w) => !w());
        });
        const extra = Object.entries(headers).map(([k, v]) => `${k}: ${v}\r\n`).join('');
        socket.write(`GET ${target} HTTP/1.0\r\nHost: x\r\nAccept: text/event-stream\r\n${extra}\r\n`);
        resolve(state);
    });
}

const waitFor = (state, check) => new Promise((resolve) => {
    if (check()) {
        resolve();
        return;
    }
    state.waiters.push(() => (check() ? (resolve(), true) : false));
});

async function replayTime() {
    const n = 10_000;
    const hub = await startHub(['--history-session-events', String(n), '--session-grace', '10m']);
    const first = await openStream(hub, '/events?session=r');
    await waitFor(first, () => first.cursor !== null);
    first.socket.destroy();
    for (let i = 0; i < n; i += 1000) {
        await post(hub, '/api/v1/actions',
            Array.from({ length: 1000 }, (_, k) => pin('push', { id: 'r', message: { i: i + k, pad: 'x'.repeat(64) } })));
    }
    const runs = [];
    for (let run = 0; run < 5; ++run) {
        const started = process.hrtime.bigint();
        const again = await openStream(hub, '/events?session=r', { 'Last-Event-ID': first.cursor });
        await waitFor(again, () => again.events >= n);
        runs.push(Number(process.hrtime.bigint() - started) / 1e6);
        again.socket.destroy();
    }
    hub.child.kill('SIGTERM');
    runs.sort((a, b) => a - b);
    console.log(`replay of ${n} missed events (about 110 bytes each), request to last byte: ` +
        `median ${runs[2].toFixed(1)} ms, best ${runs[0].toFixed(1)} ms over 5 runs`);
}

await memoryPerSession();
await memoryPerEvent();
await replayTime();
