#!/usr/bin/env bash
# pledge-bench against a single node and against a local cluster of three,
# one after the other in the same run, same binaries, same machine.
#
#   bench/cluster-vs-single.sh [BIN_DIR] [DURATION] [RECEIPTS]
#
# BIN_DIR defaults to target/release (cargo build --release --bins first).
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${1:-target/release}
DURATION=${2:-10s}
RECEIPTS=${3:-20000}
WORK=$(mktemp -d /tmp/pledge-cluster-bench.XXXXXX)
# The bench measures what the node can do, not its policy: request rates off.
printf '[limits]\nrequests_per_second_per_address = 0\nrequests_per_second_per_participant = 0\n' >"$WORK/unlimited.toml"
PIDS=()
cleanup() {
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT

wait_listening() { # FILE
  for _ in $(seq 1 600); do
    grep -q "listening on" "$1" 2>/dev/null && return 0
    sleep 0.1
  done
  echo "a node did not start: $1" >&2
  exit 1
}

echo "== single node"
"$BIN/pledge-node" --config "$WORK/unlimited.toml" --data-dir "$WORK/single" --listen 127.0.0.1:50461 --no-http >"$WORK/single.out" 2>"$WORK/single.log" &
PIDS+=($!)
wait_listening "$WORK/single.out"
"$BIN/pledge-bench" run --node http://127.0.0.1:50461 --keys "$WORK/single/dev-keys" \
  --duration "$DURATION" --receipts "$RECEIPTS"
kill "${PIDS[0]}"

echo "== cluster of three (submitting to the leader)"
"$BIN/pledge-node" cluster-init --dir "$WORK/cluster" --nodes 3 --base-port 50471 >/dev/null
for id in 1 2 3; do
  grep -q '^\[limits\]' "$WORK/cluster/member-$id.toml" || cat "$WORK/unlimited.toml" >>"$WORK/cluster/member-$id.toml"
  "$BIN/pledge-node" --config "$WORK/cluster/member-$id.toml" >"$WORK/member-$id.out" 2>"$WORK/member-$id.log" &
  PIDS+=($!)
done
for id in 1 2 3; do wait_listening "$WORK/member-$id.out"; done
LEADER=""
for _ in $(seq 1 100); do
  for port in 50471 50472 50473; do
    if "$BIN/pledgectl" --node "http://127.0.0.1:$port" --json info 2>/dev/null | grep -q '"role": *"leader"'; then
      LEADER=$port
    fi
  done
  [ -n "$LEADER" ] && break
  sleep 0.2
done
[ -n "$LEADER" ] || { echo "no leader" >&2; exit 1; }
echo "leader: 127.0.0.1:$LEADER"
"$BIN/pledge-bench" run --node "http://127.0.0.1:$LEADER" --keys "$WORK/cluster/member-1/dev-keys" \
  --duration "$DURATION" --receipts "$RECEIPTS"
