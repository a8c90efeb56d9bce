#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Runs the same SSE scenarios against ssehub, the floor and the peers, one after the
other, and prints one table with ratios to ssehub and to the floor.

Run it through bench/compare, which installs the peers and builds the tools first.
Every server listens on 127.0.0.1 only; every run is bounded in time.
"""

import argparse
import datetime
import json
import os
import platform
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "bench"
BUILD = ROOT / "build" / "bench"
LOAD = BUILD / "bench" / "ssehub-load"
FLOOR = BUILD / "bench" / "ssehub-floor"
SSEHUB = BUILD / "ssehub"

# The event every publisher sends: the load tool fills in {ts} (CLOCK_REALTIME ns) and {seq}.
PAYLOAD = '{"ts":{ts},"seq":{seq}}'


def log(text):
    print(f"compare: {text}", file=sys.stderr, flush=True)


def wait_port(port, seconds=20.0):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return True
        except OSError:
            time.sleep(0.1)
    return False


def process_tree(root_pid):
    """The pid and all its descendants, from /proc."""
    children = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            text = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        ppid = int(text[text.rfind(")") + 2:].split()[1])
        children.setdefault(ppid, []).append(int(entry))
    out, todo = [], [root_pid]
    while todo:
        pid = todo.pop()
        out.append(pid)
        todo.extend(children.get(pid, []))
    return out


class Peer:
    """A server under test: how to start it and how its URLs look."""

    name = ""
    replay = True  # keeps a history a client can resume from with Last-Event-ID

    def __init__(self, workdir):
        self.workdir = Path(workdir) / self.name
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.proc = None
        self.extra = []

    def command(self):
        raise NotImplementedError

    def start(self):
        out = open(self.workdir / "output.log", "ab")
        self.proc = subprocess.Popen(self.command(), stdout=out, stderr=out,
                                     stdin=subprocess.DEVNULL, start_new_session=True,
                                     cwd=self.workdir)
        if not wait_port(self.port) or self.proc.poll() is not None:
            self.stop()
            tail = (self.workdir / "output.log").read_text(errors="replace")[-2000:]
            raise RuntimeError(f"{self.name} did not start:\n{tail}")
        for port in self.ready_ports():
            if not wait_port(port):
                self.stop()
                raise RuntimeError(f"{self.name}: port {port} never opened")
        time.sleep(0.5)

    def ready_ports(self):
        return []

    def pids(self):
        return process_tree(self.proc.pid)

    def stop(self):
        for proc in [self.proc] + self.extra:
            if proc is None or proc.poll() is not None:
                continue
            try:
                os.killpg(proc.pid, signal.SIGTERM)
                proc.wait(timeout=15)
            except (ProcessLookupError, subprocess.TimeoutExpired):
                try:
                    os.killpg(proc.pid, signal.SIGKILL)
                    proc.wait(timeout=5)
                except ProcessLookupError:
                    pass
        self.extra = []
        # Let the kernel finish closing the sockets before the next server starts.
        time.sleep(1.0)

    # URL shapes: {i} is the connection index.
    def sub_url(self, own_channel):
        channel = "c{i}" if own_channel else "bench"
        return f"http://127.0.0.1:{self.port}/sub/{channel}"

    def publish(self):
        """(url, body template, content type)"""
        return (f"http://127.0.0.1:{self.port}/pub/bench", PAYLOAD, "application/json")


class Ssehub(Peer):
    name = "ssehub"
    port = 18080

    def command(self):
        return [str(SSEHUB), "serve", "--listen", f"127.0.0.1:{self.port}",
                "--server-threads", "2", "--history-channel-events", "20000",
                "--log-level", "warn"]

    def sub_url(self, own_channel):
        channel = "c{i}" if own_channel else "bench"
        return f"http://127.0.0.1:{self.port}/events?session=s{{i}}&channel={channel}"

    def publish(self):
        return (f"http://127.0.0.1:{self.port}/api/v1/channels/bench/messages",
                '{"message":' + PAYLOAD + "}", "application/json")


class Floor(Peer):
    name = "floor"
    port = 18090
    replay = False

    def command(self):
        return [str(FLOOR), "--listen", f"127.0.0.1:{self.port}", "--threads", "2"]


class Nchan(Peer):
    name = "nchan"
    port = 18091

    def command(self):
        conf = (BENCH / "peers" / "nginx.conf.in").read_text()
        conf = conf.replace("@PREFIX@", str(self.workdir)).replace("@PORT@", str(self.port))
        path = self.workdir / "nginx.conf"
        path.write_text(conf)
        return ["nginx", "-c", str(path), "-p", str(self.workdir)]


class Pushpin(Peer):
    name = "pushpin"
    port = 18092
    publish_port = 18096
    origin_port = 18095
    replay = False

    def command(self):
        (self.workdir / "run").mkdir(exist_ok=True)
        (self.workdir / "log").mkdir(exist_ok=True)
        values = {"@PREFIX@": str(self.workdir), "@PORT@": str(self.port),
                  "@PUBLISH_PORT@": str(self.publish_port), "@ZMQ_PORT_0@": "18097",
                  "@ZMQ_PORT_2@": "18098", "@ZMQ_PORT_3@": "18099"}
        conf = (BENCH / "peers" / "pushpin.conf.in").read_text()
        for key, value in values.items():
            conf = conf.replace(key, value)
        (self.workdir / "pushpin.conf").write_text(conf)
        (self.workdir / "routes").write_text(f"* 127.0.0.1:{self.origin_port}\n")
        return ["pushpin", "--config", str(self.workdir / "pushpin.conf"), "--merge-output"]

    def start(self):
        # The origin answers new streams; zurl carries Pushpin's requests to it.
        (self.workdir / "run").mkdir(exist_ok=True)
        out = open(self.workdir / "origin.log", "ab")
        origin = subprocess.Popen(["node", str(BENCH / "peers" / "grip_origin.mjs"),
                                   str(self.origin_port)], stdout=out, stderr=out,
                                  stdin=subprocess.DEVNULL, start_new_session=True)
        conf = (BENCH / "peers" / "zurl.conf.in").read_text()
        (self.workdir / "zurl.conf").write_text(conf.replace("@PREFIX@", str(self.workdir)))
        zurl = subprocess.Popen(["zurl", f"--config={self.workdir / 'zurl.conf'}"],
                                stdout=out, stderr=out, stdin=subprocess.DEVNULL,
                                start_new_session=True)
        self.extra = [origin, zurl]
        if not wait_port(self.origin_port):
            self.stop()
            raise RuntimeError("the GRIP origin did not start")
        super().start()

    def ready_ports(self):
        return [self.publish_port]

    def pids(self):
        # Pushpin's own processes and zurl; the origin stands for the application.
        return process_tree(self.proc.pid) + process_tree(self.extra[1].pid)

    def publish(self):
        content = 'event:message\\ndata:' + PAYLOAD.replace('"', '\\"') + '\\n\\n'
        body = ('{"items":[{"channel":"bench","formats":{"http-stream":{"content":"'
                + content + '"}}}]}')
        return (f"http://127.0.0.1:{self.publish_port}/publish/", body, "application/json")


class BetterSse(Peer):
    name = "better-sse"
    port = 18093
    replay = False

    def command(self):
        return ["node", str(BENCH / "peers" / "better_sse_server.mjs"), str(self.port), "2"]


PEERS = {p.name: p for p in [Ssehub, Floor, Nchan, Pushpin, BetterSse]}


def scenarios(quick):
    """name -> (title, load options as a function of the peer)"""
    n_idle = 200 if quick else 10_000
    n_1k = 100 if quick else 1_000
    n_10k = 200 if quick else 10_000
    seconds = 3 if quick else 20
    n_replay = 200 if quick else 10_000

    # 100 connects in flight: Pushpin answers 502 to some streams when a few hundred wait
    # for its origin at once (the storm scenario shows that); the others do not care.
    def subscribe(peer, n, own=False, concurrency=100):
        return ["--url", peer.sub_url(own), "--connections", str(n),
                "--concurrency", str(concurrency)]

    def publish(peer, *extra):
        url, body, ctype = peer.publish()
        return ["--publish-url", url, "--publish-body", body, "--content-type", ctype, *extra]

    return {
        "idle-one": ("idle, one channel", lambda p: subscribe(p, n_idle) + ["--settle", "2000"]),
        "idle-own": ("idle, own channels",
                     lambda p: subscribe(p, n_idle, own=True) + ["--settle", "2000"]),
        # Four publishers, so that the rate holds while an answer is slow.
        "fanout-1k": ("fan-out 1k x 100/s", lambda p: subscribe(p, n_1k) + publish(
            p, "--rate", "100", "--publishers", "4", "--duration", str(seconds * 1000))),
        "fanout-10k": ("fan-out 10k x 10/s", lambda p: subscribe(p, n_10k) + publish(
            p, "--rate", "10", "--publishers", "4", "--duration", str(seconds * 1000))),
        "burst": ("bursts of 10, 1k subs", lambda p: subscribe(p, n_1k) + publish(
            p, "--rate", "100", "--burst", "10", "--publishers", "10",
            "--duration", str(seconds * 1000))),
        "publish": ("publish flat out, 1 sub", lambda p: subscribe(p, 1) + publish(
            p, "--publishers", "8", "--duration", str(seconds * 1000 // 2))),
        "storm": ("connect storm", lambda p: subscribe(p, n_idle, concurrency=0)),
        "replay": ("replay", lambda p: subscribe(p, 1) + publish(
            p, "--publishers", "8", "--replay", str(n_replay), "--drain", "60000")),
    }


# What the table shows of each scenario: (label, json key, unit, lower is better)
METRICS = {
    "idle-one": [("RSS per stream", "server_rss_per_conn_b", "B", True),
                 ("time to all streaming", "streaming_s", "s", True),
                 ("failed", "failed", "", True)],
    "idle-own": [("RSS per stream", "server_rss_per_conn_b", "B", True),
                 ("failed", "failed", "", True)],
    "fanout-1k": [("deliveries/s", "deliveries_per_s", "/s", False),
                  ("p50", "latency_p50_ms", "ms", True),
                  ("p99", "latency_p99_ms", "ms", True),
                  ("max", "latency_max_ms", "ms", True),
                  ("lost", "lost", "", True),
                  ("CPU per 100k deliveries", "server_cpu_s_per_100k", "s", True),
                  ("publish p99", "publish_p99_ms", "ms", True)],
    "fanout-10k": [("deliveries/s", "deliveries_per_s", "/s", False),
                   ("p50", "latency_p50_ms", "ms", True),
                   ("p99", "latency_p99_ms", "ms", True),
                   ("max", "latency_max_ms", "ms", True),
                   ("lost", "lost", "", True),
                   ("CPU per 100k deliveries", "server_cpu_s_per_100k", "s", True),
                   ("publish p99", "publish_p99_ms", "ms", True)],
    "burst": [("CPU per 100k deliveries", "server_cpu_s_per_100k", "s", True),
              ("p99", "latency_p99_ms", "ms", True),
              ("lost", "lost", "", True)],
    "publish": [("accepted/s", "accepted_per_s", "/s", False),
                ("delivered", "delivered", "", False),
                ("lost", "lost", "", True),
                ("rejected", "rejected", "", True)],
    "storm": [("time to all streaming", "streaming_s", "s", True),
              ("failed", "failed", "", True)],
    "replay": [("time to last", "replay_s", "s", True),
               ("received", "replay_received", "", False)],
}


def run_scenario(peer, name, args, timeout, perf_dir=""):
    pids = peer.pids()
    cmd = [str(LOAD), *args, "--server-pids", ",".join(map(str, pids)), "--quiet"]
    perf = None
    if perf_dir:
        # A CPU profile of the server's processes for the whole scenario.
        out = Path(perf_dir) / f"{name}-{peer.name}.data"
        perf = subprocess.Popen(["perf", "record", "-q", "-F", "499", "-g", "-o", str(out),
                                 "-p", ",".join(map(str, pids))],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return {"error": f"load tool timed out after {timeout} s"}
    finally:
        if perf is not None:
            perf.send_signal(signal.SIGINT)
            perf.wait(timeout=60)
    if done.returncode != 0 or not done.stdout.strip():
        return {"error": f"load tool exit {done.returncode}: {done.stderr.strip()[-300:]}"}
    result = json.loads(done.stdout.strip().splitlines()[-1])
    if result.get("connections", 0) > 0 and result.get("established", 0) == 0:
        result["error"] = f"no stream opened: {result.get('first_failure', '')}"
    result["command"] = " ".join(cmd[:1] + [a if " " not in a and "{" not in a else repr(a)
                                           for a in cmd[1:]])
    return result


def fmt(value, unit):
    if value is None:
        return "n/a"
    if isinstance(value, str):
        return value
    if isinstance(value, int):
        return f"{value:,}"
    if unit in ("/s",) or abs(value) >= 10_000:
        return f"{value:,.0f}"
    if abs(value) >= 100:
        return f"{value:.0f}"
    if abs(value) >= 1:
        return f"{value:.2f}"
    return f"{value:.3g}"


def ratio(value, base):
    if not isinstance(value, (int, float)) or not isinstance(base, (int, float)) or base == 0:
        return ""
    return f"{value / base:.2f}"


def table(results, peers, scenario_titles):
    lines = ["| scenario | metric | " + " | ".join(peers) + " |",
             "| --- | --- |" + " --- |" * len(peers)]
    for scenario, metrics in METRICS.items():
        if scenario not in results:
            continue
        for label, key, unit, _ in metrics:
            base = results[scenario].get("ssehub", {}).get(key)
            floor = results[scenario].get("floor", {}).get(key)
            cells = []
            for peer in peers:
                r = results[scenario].get(peer, {})
                if "skipped" in r:
                    cells.append("n/a")
                    continue
                if "error" in r:
                    cells.append("error")
                    continue
                value = r.get(key)
                if key == "server_cpu_s_per_100k" and value is not None and value < 0:
                    value = None
                text = fmt(value, unit) + (f" {unit}" if unit and value is not None else "")
                marks = []
                if peer != "ssehub" and ratio(value, base):
                    marks.append(f"{ratio(value, base)}×s")
                if peer != "floor" and ratio(value, floor):
                    marks.append(f"{ratio(value, floor)}×f")
                cells.append(text + (f" ({', '.join(marks)})" if marks else ""))
            lines.append(f"| {scenario_titles[scenario]} | {label} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def targets(results):
    """The issue's targets, each as (text, verdict, figures): met, NOT MET or unknown."""

    def get(scenario, peer, key):
        value = results.get(scenario, {}).get(peer, {}).get(key)
        if value is None or (key == "server_cpu_s_per_100k" and value < 0):
            return None
        return value

    def check(text, condition, figures):
        verdict = "unknown" if condition is None else ("met" if condition else "NOT MET")
        return (text, verdict, figures)

    def ratio_of(a, b):
        return None if a is None or b in (None, 0) else a / b

    out = []
    idle = [ratio_of(get(s, "ssehub", "server_rss_per_conn_b"), get(s, "nchan",
                                                                     "server_rss_per_conn_b"))
            for s in ("idle-one", "idle-own")]
    out.append(check("idle memory per stream at most 1/5 of Nchan's",
                     None if None in idle else all(r <= 0.2 for r in idle),
                     "ssehub/nchan " + ", ".join("n/a" if r is None else f"{r:.2f}"
                                                 for r in idle)))
    cpu = [ratio_of(get(s, "ssehub", "server_cpu_s_per_100k"),
                    get(s, "floor", "server_cpu_s_per_100k")) for s in ("fanout-1k", "fanout-10k")]
    out.append(check("CPU per delivered event within 1.15x of the floor in both fan-outs",
                     None if None in cpu else all(r <= 1.15 for r in cpu),
                     "ssehub/floor " + ", ".join("n/a" if r is None else f"{r:.2f}"
                                                 for r in cpu)))
    burst = ratio_of(get("burst", "ssehub", "server_cpu_s_per_100k"),
                     get("fanout-1k", "floor", "server_cpu_s_per_100k"))
    out.append(check("under bursts, CPU per event below the one-write-per-event floor",
                     None if burst is None else burst < 1.0,
                     "ssehub burst / floor fan-out-1k " + ("n/a" if burst is None
                                                          else f"{burst:.2f}")))
    p99 = []
    for s in ("fanout-1k", "fanout-10k"):
        mine = get(s, "ssehub", "latency_p99_ms")
        p99.append((ratio_of(mine, get(s, "nchan", "latency_p99_ms")),
                    ratio_of(mine, get(s, "floor", "latency_p99_ms"))))
    flat = [r for pair in p99 for r in pair]
    publish_growth = ratio_of(get("fanout-10k", "ssehub", "publish_p99_ms"),
                              get("fanout-1k", "ssehub", "publish_p99_ms"))
    out.append(check("p99 no worse than Nchan's and within 1.3x of the floor",
                     None if None in flat else all(n <= 1.0 and f <= 1.3 for n, f in p99),
                     "ssehub/nchan, ssehub/floor: " + "; ".join(
                         "n/a" if None in pair else f"{pair[0]:.2f}, {pair[1]:.2f}"
                         for pair in p99) + "; publish p99 10k/1k " +
                     ("n/a" if publish_growth is None else f"{publish_growth:.2f}")))
    rate = ratio_of(get("publish", "ssehub", "accepted_per_s"),
                    get("publish", "nchan", "accepted_per_s"))
    lost = get("publish", "ssehub", "lost")
    out.append(check("published/s with one subscriber at least 2x Nchan's, all delivered",
                     None if rate is None else rate >= 2.0 and lost == 0,
                     "ssehub/nchan " + ("n/a" if rate is None else f"{rate:.2f}") +
                     f", lost {lost}"))
    storm = ratio_of(get("storm", "ssehub", "streaming_s"), get("storm", "nchan", "streaming_s"))
    losses = sum(get(s, "ssehub", "lost") or 0 for s in results)
    out.append(check("10,000 streams open no slower than Nchan's; zero loss everywhere",
                     None if storm is None else storm <= 1.0 and losses == 0,
                     "ssehub/nchan " + ("n/a" if storm is None else f"{storm:.2f}") +
                     f", ssehub losses {losses}"))
    replay = ratio_of(get("replay", "ssehub", "replay_s"), get("replay", "nchan", "replay_s"))
    out.append(check("replay at least as fast as Nchan's",
                     None if replay is None else replay <= 1.0,
                     "ssehub/nchan " + ("n/a" if replay is None else f"{replay:.2f}")))
    return out


def print_report(header, results, peers, titles):
    print(header)
    print("cells: value (÷ssehub ×s, ÷floor ×f)")
    print()
    print(table(results, peers, titles))
    print()
    print("| target | verdict | figures |")
    print("| --- | --- | --- |")
    for text, verdict, figures in targets(results):
        print(f"| {text} | {verdict} | {figures} |")


def print_saved(files, peers):
    """The table of results saved by earlier runs, merged."""
    results, quick, dates = {}, False, []
    for name in files:
        saved = json.loads(Path(name).read_text())
        quick = quick or saved.get("quick", False)
        dates.append(saved.get("started", "?"))
        for scenario, by_peer in saved["results"].items():
            results.setdefault(scenario, {}).update(by_peer)
    titles = {name: title for name, (title, _) in scenarios(quick).items()}
    order = [s for s in METRICS if s in results]
    results = {s: results[s] for s in order}
    print_report(f"ssehub bench/compare{' --quick' if quick else ''}: runs started "
                 f"{', '.join(dates)} on {platform.node()}, {os.cpu_count()} cores, "
                 f"{platform.release()}", results, peers, titles)


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="small N, for a smoke run")
    parser.add_argument("--peers", default=",".join(PEERS), help="comma-separated subset")
    parser.add_argument("--scenarios", default="", help="comma-separated subset")
    parser.add_argument("--json", default="", help="also write every result to this file")
    parser.add_argument("--perf", default="",
                        help="record a perf profile of each server run into this folder")
    parser.add_argument("--from-json", default="",
                        help="run nothing: print the table of earlier --json files "
                             "(comma-separated; a later file wins for the same cell)")
    args = parser.parse_args()
    if args.from_json:
        print_saved(args.from_json.split(","), [p for p in args.peers.split(",") if p])
        return

    peers = [p for p in args.peers.split(",") if p]
    unknown = [p for p in peers if p not in PEERS]
    if unknown:
        parser.error(f"unknown peers: {unknown}")
    all_scenarios = scenarios(args.quick)
    chosen = [s for s in args.scenarios.split(",") if s] or list(all_scenarios)
    titles = {name: all_scenarios[name][0] for name in all_scenarios}
    for tool in (LOAD, FLOOR, SSEHUB):
        if not tool.exists():
            sys.exit(f"compare: {tool} is missing: build the bench preset first (bench/compare)")

    started = datetime.datetime.now(datetime.timezone.utc)
    results = {s: {} for s in chosen}
    workdir = tempfile.mkdtemp(prefix="ssehub-bench-")
    timeout = 120 if args.quick else 600
    for scenario in chosen:
        for name in peers:
            peer = PEERS[name](workdir)
            if scenario == "replay" and not peer.replay:
                results[scenario][name] = {"skipped": "no history to resume from"}
                continue
            log(f"{scenario}: {name}")
            try:
                peer.start()
            except RuntimeError as e:
                results[scenario][name] = {"error": str(e)}
                log(str(e))
                continue
            try:
                r = run_scenario(peer, scenario, all_scenarios[scenario][1](peer), timeout,
                                 args.perf)
            finally:
                peer.stop()
            results[scenario][name] = r
            if "error" in r:
                log(f"  {r['error']}")
            else:
                log("  " + ", ".join(f"{k}={r[k]}" for k in (
                    "established", "failed", "streaming_s", "delivered", "lost",
                    "deliveries_per_s", "latency_p99_ms", "server_rss_per_conn_b",
                    "server_cpu_s_per_100k", "accepted_per_s", "replay_s") if k in r))

    finished = datetime.datetime.now(datetime.timezone.utc)
    print_report(f"ssehub bench/compare{' --quick' if args.quick else ''}: "
                 f"{started:%Y-%m-%d %H:%M} to {finished:%H:%M} UTC on {platform.node()}, "
                 f"{os.cpu_count()} cores, {platform.release()}", results, peers, titles)
    if args.json:
        Path(args.json).write_text(json.dumps(
            {"started": started.isoformat(), "quick": args.quick, "results": results},
            indent=1))


if __name__ == "__main__":
    main()
