// SPDX-License-Identifier: Apache-2.0
//
// The better-sse peer of bench/compare: the smallest server a Node user would write with
// better-sse. GET /sub/CHANNEL opens a stream in that channel; POST /pub/CHANNEL
// broadcasts the request body (already JSON) as the data of a `message` event.
// `node better_sse_server.mjs PORT WORKERS`: WORKERS processes of node:cluster share the
// port; a publish reaches the other workers through the primary.
import cluster from "node:cluster";
import http from "node:http";
import { createChannel, createSession } from "better-sse";

const port = Number(process.argv[2] ?? 8093);
const workers = Number(process.argv[3] ?? 2);

if (cluster.isPrimary) {
    const forked = [];
    for (let i = 0; i < workers; i++) {
        const worker = cluster.fork();
        worker.on("message", (m) => {
            for (const other of forked) {
                if (other !== worker) {
                    other.send(m);
                }
            }
        });
        forked.push(worker);
    }
    let listening = 0;
    cluster.on("listening", () => {
        if (++listening === workers) {
            console.error(`listening address=127.0.0.1:${port} workers=${workers}`);
        }
    });
    process.on("SIGTERM", () => {
        for (const w of forked) {
            w.kill("SIGTERM");
        }
        process.exit(0);
    });
} else {
    const channels = new Map();
    const channel = (name) => {
        let c = channels.get(name);
        if (!c) {
            c = createChannel();
            channels.set(name, c);
        }
        return c;
    };
    // The body is JSON text already: send it as it is.
    const identity = (data) => data;

    process.on("message", (m) => channel(m.channel).broadcast(m.body, "message"));

    http.createServer(async (req, res) => {
        const [, kind, name = ""] = req.url.split("?")[0].split("/");
        if (req.method === "GET" && kind === "sub") {
            const session = await createSession(req, res, { serializer: identity, keepAlive: 10000 });
            channel(name).register(session);
            return;
        }
        if (req.method === "POST" && kind === "pub") {
            const parts = [];
            for await (const part of req) {
                parts.push(part);
            }
            const body = Buffer.concat(parts).toString();
            res.writeHead(200, { "content-type": "application/json" }).end("{}");
            process.send({ channel: name, body });
            channel(name).broadcast(body, "message");
            return;
        }
        res.writeHead(404).end();
    }).listen(port, "127.0.0.1");
}
