#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# The README's walk-through as a user runs it: `curl -N` streams, the four Digipair files of
# shared/cases/digipair posted verbatim with curl, and the bytes each stream received
# compared exactly.
#
#   tests/curl/walkthrough.sh build/debug/ssehub ../shared
set -euo pipefail

bin="$1"
cases="$2/cases/digipair"
work="$(mktemp -d)"
hub=""
cleanup() {
    [ -z "$hub" ] || kill -TERM "$hub" 2>/dev/null || true
    wait 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT
fail() {
    printf 'FAIL: %s\n' "$*" >&2
    printf -- '--- hub log\n' >&2
    cat "$work/hub.log" >&2
    exit 1
}

# 1. The hub on a free loopback port; its address comes from the `listening` line.
"$bin" serve --listen 127.0.0.1:0 --stream-keepalive 60s 2>"$work/hub.log" &
hub=$!
addr=""
for _ in $(seq 100); do
    addr="$(sed -n 's/.*listening address=\([0-9.:]*\).*/\1/p' "$work/hub.log")"
    [ -z "$addr" ] || break
    sleep 0.1
done
[ -n "$addr" ] || fail "no listening line"
url="http://$addr"

# 2. Three streams, as in the walk-through; each is open once its retry hint arrived.
streams=()
curl -sN --max-time 6 "$url/events?session=session_12345" >"$work/plain" &
streams+=($!)
curl -sN --max-time 6 "$url/dp_001/greeting?session=session_12345" >"$work/greeting" &
streams+=($!)
curl -sN --max-time 6 "$url/dp_001/system?channel=channel_abc" >"$work/system" &
streams+=($!)
for stream in plain greeting system; do
    for _ in $(seq 50); do
        grep -q '^retry:2000$' "$work/$stream" 2>/dev/null && break
        sleep 0.1
    done
    grep -q '^retry:2000$' "$work/$stream" || fail "stream $stream got no retry:2000"
done

# 3. The four documentation examples, verbatim; each answers 200 with its result.
post() {
    curl -sS -w '\n%{http_code}' -X POST "$url/api/v1/actions" \
        -H 'content-type: application/json' --data-binary "@$cases/$1.json"
}
expect_result() {
    local name="$1" want="$2" got
    got="$(post "$name")"
    [ "$(tail -n1 <<<"$got")" = 200 ] || fail "$name: $got"
    [[ "$(head -n1 <<<"$got")" == $want ]] || fail "$name answered $(head -n1 <<<"$got")"
    head -n1 <<<"$got"
}
expect_result registerSession '{"id":"session_12345","connected":true,"lastEventId":*}' >/dev/null
expect_result registerChannel '{"id":"channel_abc","sessions":1}' >/dev/null
pushed="$(expect_result push '{"delivered":1,"eventId":"*"}')"
sent="$(expect_result broadcast '{"delivered":1,"eventId":"*","sessions":1}')"
push_id="$(sed 's/.*"eventId":"\([^"]*\)".*/\1/' <<<"$pushed")"
broadcast_id="$(sed 's/.*"eventId":"\([^"]*\)".*/\1/' <<<"$sent")"

# 4. The curls end at --max-time; then compare what each stream holds, byte for byte.
for pid in "${streams[@]}"; do
    wait "$pid" || true # curl exits 28 at --max-time: the end we asked for
done
nl=$'\n'
greeting="$(cat "$work/greeting"; printf x)"
want="event:message${nl}id:${push_id}${nl}data:{\"text\":\"Hello, world!\"}${nl}${nl}"
[[ "$greeting" == retry:2000"$nl$nl"*"$want"x ]] || fail "greeting stream: $greeting"

system="$(cat "$work/system"; printf x)"
want="event:update${nl}id:${broadcast_id}${nl}data:{\"text\":\"System update available\"}"
[[ "$system" == retry:2000"$nl$nl"event:session*"$want$nl$nl"x ]] || fail "system stream: $system"

# The plain stream is session_12345 of the default namespace: it gets neither.
plain="$(cat "$work/plain")"
[[ "$plain" != *data:* ]] || fail "plain stream got an event: $plain"
echo "walk-through ok: push $push_id, broadcast $broadcast_id"
