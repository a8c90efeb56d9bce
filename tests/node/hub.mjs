// SPDX-License-Identifier: Apache-2.0
//
// What the browser and chaos tests share: the real hub as a child process, a JSON helper
// for the control API, and a loopback TCP relay that can cut the connections it carries.

import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { chromium } from 'playwright-core';

const bin = process.env.SSEHUB_BIN;

// The hub reads every SSEHUB_* variable as a setting and refuses unknown ones, so the
// test's own variables (SSEHUB_BIN) stay out of its environment.
const hubEnv = Object.fromEntries(
    Object.entries(process.env).filter(([name]) => !name.startsWith('SSEHUB_')),
);

/** Starts `ssehub serve` on a free loopback port; resolves once it logs its address. */
export function startHub(args = []) {
    if (!bin) {
        throw new Error('SSEHUB_BIN must name the ssehub binary');
    }
    const child = spawn(bin, ['serve', '--listen', '127.0.0.1:0', ...args], {
        stdio: ['ignore', 'pipe', 'pipe'],
        env: hubEnv,
    });
    let output = '';
    child.stdout.on('data', (d) => { output += d; });

    const ready = new Promise((resolve, reject) => {
        const timer = setTimeout(() => {
            reject(new Error(`no "listening address=" line within 10 s:\n${output}`));
        }, 10_000);
        child.stderr.on('data', (d) => {
            output += d;
            const m = /listening.*address="?([^\s"]+)/.exec(output);
            if (m) {
                clearTimeout(timer);
                resolve(m[1]);
            }
        });
        child.on('exit', (code, signal) => {
            clearTimeout(timer);
            reject(new Error(`ssehub exited (${code ?? signal}) before listening:\n${output}`));
        });
    });

    const stop = async () => {
        if (child.exitCode !== null || child.signalCode !== null) {
            return { code: child.exitCode, signal: child.signalCode };
        }
        const exited = new Promise((resolve) => {
            child.on('exit', (code, signal) => resolve({ code, signal }));
        });
        child.kill('SIGTERM');
        const killer = setTimeout(() => child.kill('SIGKILL'), 15_000);
        const status = await exited;
        clearTimeout(killer);
        return status;
    };

    return ready.then((address) => {
        const [host, port] = address.split(':');
        return { url: `http://${address}`, host, port: Number(port), stop, output: () => output };
    });
}

/** A control API call; resolves with the status and the parsed JSON body. */
export async function call(hub, path, body, method = 'POST') {
    const res = await fetch(hub.url + path, {
        method,
        headers: { 'content-type': 'application/json' },
        body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    return { status: res.status, body: text, json: text ? JSON.parse(text) : null };
}

/**
 * A TCP relay on 127.0.0.1 in front of `target` ({host, port}). It keeps the first bytes of
 * every connection (the request head, to read what a client sent), and cut() destroys
 * connections at once, as a network failure would: the client sees an error, never a clean
 * end of stream.
 */
export async function startRelay(target) {
    const pairs = new Set();
    const requests = [];
    const server = net.createServer((client) => {
        const upstream = net.connect(target.port, target.host);
        const pair = { client, upstream, head: '' };
        pairs.add(pair);
        let seen = '';
        client.on('data', (d) => {
            if (!pair.head && seen.length < 8192) {
                seen += d.toString('latin1');
                const end = seen.indexOf('\r\n\r\n');
                if (end >= 0) {
                    pair.head = seen.slice(0, end);
                    requests.push(pair.head);
                }
            }
        });
        client.pipe(upstream);
        upstream.pipe(client);
        const drop = () => {
            pairs.delete(pair);
            client.destroy();
            upstream.destroy();
        };
        client.on('error', drop);
        upstream.on('error', drop);
        client.on('close', drop);
        upstream.on('close', drop);
    });
    await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address();

    return {
        url: `http://127.0.0.1:${port}`,
        /** Request heads seen so far, in arrival order. */
        requests,
        /** Destroys every connection (or those `which(pair)` picks, `pair.head` being its
         *  request head) with a reset; returns how many. */
        cut(which = () => true) {
            let n = 0;
            for (const pair of [...pairs]) {
                if (which(pair)) {
                    pair.client.resetAndDestroy();
                    pair.upstream.destroy();
                    pairs.delete(pair);
                    ++n;
                }
            }
            return n;
        },
        get size() {
            return pairs.size;
        },
        close() {
            this.cut();
            return new Promise((resolve) => server.close(resolve));
        },
    };
}

/** Resolves when `check()` is true, polling every 20 ms; rejects after `ms`, saying `what`
 *  (a string, or a function giving one at that moment). */
export async function until(check, ms, what) {
    const deadline = Date.now() + ms;
    while (!(await check())) {
        if (Date.now() > deadline) {
            const said = typeof what === 'function' ? what() : what;
            throw new Error(`timed out after ${ms} ms waiting for ${said}`);
        }
        await new Promise((r) => setTimeout(r, 20));
    }
}

// Debian's Chromium, headless, kept off the network beyond loopback; `--no-sandbox` because
// the tests may run as root.
const chromiumArgs = [
    '--headless',
    '--no-sandbox',
    '--disable-gpu',
    '--disable-quic',
    '--no-first-run',
    '--disable-background-networking',
    '--disable-component-update',
    '--disable-sync',
];

/** Headless Chromium with a throw-away profile; close() ends it and removes the profile. */
export async function launchChromium() {
    const profile = await mkdtemp(path.join(os.tmpdir(), 'ssehub-chromium-'));
    const browser = await chromium.launchPersistentContext(profile, {
        executablePath: '/usr/bin/chromium',
        args: chromiumArgs,
        headless: true,
        timeout: 30_000,
    });
    return {
        browser,
        async close() {
            await browser.close();
            await rm(profile, { recursive: true, force: true });
        },
    };
}
