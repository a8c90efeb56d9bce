// SPDX-License-Identifier: Apache-2.0
//
// The origin behind the Pushpin peer of bench/compare. Pushpin holds the streams; this
// origin only answers each new stream with the GRIP headers that tell Pushpin to hold it
// open in channel CHANNEL (GET /sub/CHANNEL). `node grip_origin.mjs PORT`
import http from "node:http";

const port = Number(process.argv[2] ?? 8095);

const server = http.createServer((req, res) => {
    const [, kind, name = ""] = req.url.split("?")[0].split("/");
    if (kind !== "sub") {
        res.writeHead(404).end();
        return;
    }
    res.writeHead(200, {
        "Content-Type": "text/event-stream",
        "Grip-Hold": "stream",
        "Grip-Channel": name,
        "Grip-Keep-Alive": ":\\n\\n; format=cstring; timeout=10",
    });
    res.end("retry:2000\n\n");
});
server.listen({ port, host: "127.0.0.1", backlog: 65535 }, () =>
    console.error(`listening address=127.0.0.1:${port}`),
);
