#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# The bench-smoke tests of ctest: each tool once, at a tiny size, against a real server on
# 127.0.0.1. Correctness only (every stream opens, every event arrives); nothing is timed.
#
#   bench/smoke.sh LOAD ssehub SSEHUB_BIN   the load tool against ssehub: fan-out, replay
#   bench/smoke.sh LOAD floor FLOOR_BIN     the load tool against the floor peer
set -euo pipefail

load="$1"
kind="$2"
server_bin="$3"
log="$(mktemp)"
server=""

cleanup() {
    if [ -n "$server" ]; then
        kill "$server" 2>/dev/null || true
        wait "$server" 2>/dev/null || true
    fi
    rm -f "$log"
}
trap cleanup EXIT

# Starts the server on port 0 and sets $address from its `listening address=` line.
start() {
    "$@" >"$log" 2>&1 &
    server=$!
    for _ in $(seq 100); do
        address="$(sed -n 's/.*listening address=\([0-9.]*:[0-9]*\).*/\1/p' "$log" | head -1)"
        [ -n "$address" ] && return 0
        kill -0 "$server" 2>/dev/null || break
        sleep 0.1
    done
    echo "smoke: the server did not start:" >&2
    cat "$log" >&2
    exit 1
}

case "$kind" in
ssehub)
    start "$server_bin" serve --listen 127.0.0.1:0 --server-threads 2
    # 50 streams on one channel, 20 broadcasts at 200/s from 2 keep-alive publishers.
    "$load" --check --url "http://$address/events?session=s{i}&channel=smoke" \
        --connections 50 --publish-url "http://$address/api/v1/channels/smoke/messages" \
        --publishers 2 --rate 200 --messages 20 --drain 5000 --server-pids "$server"
    # One stream resumes 100 events it missed, with Last-Event-ID.
    "$load" --check --url "http://$address/events?session=r0&channel=replay" \
        --connections 1 --publish-url "http://$address/api/v1/channels/replay/messages" \
        --replay 100 --drain 5000
    ;;
floor)
    start "$server_bin" --listen 127.0.0.1:0 --threads 2
    "$load" --check --url "http://$address/sub/smoke" --connections 20 \
        --publish-url "http://$address/pub/smoke" --publish-body '{"ts":{ts},"seq":{seq}}' \
        --rate 200 --messages 20 --drain 5000 --server-pids "$server"
    ;;
*)
    echo "smoke: unknown server kind $kind" >&2
    exit 2
    ;;
esac
