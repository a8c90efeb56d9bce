#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Disconnect actions under a storm: how fast they run, and what they cost other clients.

    bench/actions.py [--hub build/release/ssehub] [--clients 1000] [--rounds 3]

Starts one ssehub on 127.0.0.1 with a webhook receiver (this script, a threaded HTTP server
on loopback) on its allow-list. Each round opens --clients streams, declares each session
with one `disconnected` webhook, closes every stream at once, and measures:

- actions/s: clients / (time from the first close until the receiver has every call);
- the delivery latency of one other client, pushed to every 5 ms from another thread
  (each message carries its send time), before the storm (baseline) and while the actions
  run (storm): p50, p99 and max, in milliseconds.

It asserts nothing: it prints figures. The hub runs with its defaults except those named
below (grace 0 s so that a close ends the session, and the connection limits).
"""

import argparse
import http.server
import json
import os
import select
import socket
import statistics
import subprocess
import sys
import threading
import time


class Receiver(http.server.ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 1024

    def __init__(self):
        super().__init__(("127.0.0.1", 0), Handler)
        self.lock = threading.Lock()
        self.calls = 0
        self.last = 0.0

    def seen(self):
        with self.lock:
            return self.calls, self.last


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_POST(self):
        length = int(self.headers.get("Content-Length", "0"))
        self.rfile.read(length)
        with self.server.lock:
            self.server.calls += 1
            self.server.last = time.monotonic()
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.send_header("Connection", "close")
        self.end_headers()

    def log_message(self, *args):
        pass


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def request(port, method, target, body=None):
    data = b"" if body is None else json.dumps(body).encode()
    with socket.create_connection(("127.0.0.1", port)) as s:
        head = (f"{method} {target} HTTP/1.1\r\nHost: hub\r\nConnection: close\r\n"
                f"Content-Type: application/json\r\nContent-Length: {len(data)}\r\n\r\n")
        s.sendall(head.encode() + data)
        out = b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            out += chunk
    status = int(out.split(b" ", 2)[1])
    return status, out.split(b"\r\n\r\n", 1)[1]


def open_stream(port, session):
    s = socket.create_connection(("127.0.0.1", port))
    s.sendall(f"GET /events?session={session} HTTP/1.1\r\nHost: hub\r\n\r\n".encode())
    got = b""
    while b"retry:" not in got:
        chunk = s.recv(4096)
        if not chunk:
            raise RuntimeError(f"stream {session} closed before retry:")
        got += chunk
    return s


class Observer:
    """One other client: a publisher thread pushes {"t": send time} every 5 ms, a reader
    thread notes each arrival's latency in the current phase."""

    def __init__(self, port):
        self.port = port
        self.sock = open_stream(port, "observer")
        self.phase = "idle"
        self.samples = {"baseline": [], "storm": []}
        self.stop = False
        self.threads = [threading.Thread(target=self.read), threading.Thread(target=self.push)]
        for t in self.threads:
            t.start()

    def push(self):
        # One keep-alive connection, so the publisher measures the hub, not TCP set-up.
        conn = socket.create_connection(("127.0.0.1", self.port))
        while not self.stop:
            body = json.dumps({"message": {"t": time.monotonic()}}).encode()
            conn.sendall(b"POST /api/v1/sessions/observer/messages HTTP/1.1\r\nHost: hub\r\n"
                         b"Content-Type: application/json\r\nContent-Length: "
                         + str(len(body)).encode() + b"\r\n\r\n" + body)
            answer = b""
            while b"\r\n\r\n" not in answer:
                answer += conn.recv(4096)
            head, rest = answer.split(b"\r\n\r\n", 1)
            length = 0
            for line in head.split(b"\r\n"):
                if line.lower().startswith(b"content-length:"):
                    length = int(line.split(b":")[1])
            while len(rest) < length:
                rest += conn.recv(4096)
            time.sleep(0.005)
        conn.close()

    def read(self):
        buf = b""
        self.sock.setblocking(False)
        while not self.stop:
            ready, _, _ = select.select([self.sock], [], [], 0.1)
            if not ready:
                continue
            chunk = self.sock.recv(65536)
            if not chunk:
                return
            now = time.monotonic()
            buf += chunk
            while b"data:" in buf:
                at = buf.index(b"data:")
                end = buf.find(b"\n", at)
                if end < 0:
                    break
                line = buf[at + 5:end]
                buf = buf[end + 1:]
                try:
                    sent = json.loads(line)["t"]
                except (ValueError, KeyError, TypeError):
                    continue
                if self.phase in self.samples:
                    self.samples[self.phase].append((now - sent) * 1000.0)

    def close(self):
        self.stop = True
        for t in self.threads:
            t.join()
        self.sock.close()


def figures(samples):
    if not samples:
        return "no samples"
    s = sorted(samples)
    p99 = s[min(len(s) - 1, int(len(s) * 0.99))]
    return (f"n={len(s)} p50={statistics.median(s):.2f} ms p99={p99:.2f} ms "
            f"max={s[-1]:.2f} ms")


def main():
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--hub", default=os.path.join(root, "build/release/ssehub"))
    parser.add_argument("--clients", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()

    receiver = Receiver()
    threading.Thread(target=receiver.serve_forever, daemon=True).start()
    allow = f"http://127.0.0.1:{receiver.server_address[1]}/"

    port = free_port()
    hub = subprocess.Popen(
        [args.hub, "serve", "--listen", f"127.0.0.1:{port}", "--session-grace", "0s",
         "--webhooks-allow", allow, "--limits-connections", str(args.clients + 100),
         "--log-level", "warn"],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        for _ in range(100):
            try:
                if request(port, "GET", "/healthz")[0] == 200:
                    break
            except OSError:
                time.sleep(0.05)
        observer = Observer(port)
        expected = 0
        for round_ in range(args.rounds):
            socks = [open_stream(port, f"r{round_}-{i}") for i in range(args.clients)]
            pins = [{"library": "@digipair/skill-sse", "element": "registerSession",
                     "properties": {"id": f"r{round_}-{i}", "disconnected": [
                         {"library": "ssehub", "element": "webhook",
                          "properties": {"url": allow + "left",
                                         "body": {"session": "{{session.id}}",
                                                  "reason": "{{reason}}"}}}]}}
                    for i in range(args.clients)]
            status, body = request(port, "POST", "/api/v1/actions", pins)
            if status != 200:
                raise RuntimeError(f"declaring the sessions: {status} {body[:200]!r}")

            observer.samples = {"baseline": [], "storm": []}
            observer.phase = "baseline"
            time.sleep(1.0)

            expected += args.clients
            observer.phase = "storm"
            start = time.monotonic()
            for s in socks:
                s.close()
            while receiver.seen()[0] < expected and time.monotonic() - start < 120:
                time.sleep(0.002)
            calls, last = receiver.seen()
            observer.phase = "idle"
            took = last - start
            print(f"round {round_}: {args.clients} disconnects -> {calls - expected + args.clients}"
                  f" webhook calls in {took * 1000:.0f} ms = {args.clients / took:.0f} actions/s")
            print(f"  other client, baseline: {figures(observer.samples['baseline'])}")
            print(f"  other client, storm:    {figures(observer.samples['storm'])}")
        observer.close()
    finally:
        hub.terminate()
        hub.wait(timeout=30)
        receiver.shutdown()


if __name__ == "__main__":
    sys.exit(main())
