#!/usr/bin/env bash
# node-rss.sh - the node's resident memory after a given number of pledges.
#
# Starts a fresh release pledge-node, runs `pledge-bench run` with RECEIPTS
# fresh receipts issued in the set-up and one fresh pledge of each (the
# timed phase ends when they run out, so every run makes the same number of
# pledges), then prints the node's VmRSS and VmHWM (/proc/PID/status) when
# the set-up is done and when the pledges are. For an A/B of two builds,
# run it once with each NODE_BIN, back to back.
#
# Parameters (environment variables):
#   RECEIPTS  receipts issued, and pledges made    (default 50000)
#   CLIENTS   concurrent clients                  (default 64)
#   MAX_SECS  longest the pledges may take        (default 600)
#   WORK      work directory                      (default: new mktemp -d)
#   PORT      the node's loopback port            (default 50075)
#   BUILD     0 = use the binaries as built       (default 1: cargo build --release)
#   NODE_BIN  the pledge-node to measure          (default target/release/pledge-node)
#   BENCH_BIN the load generator                  (default target/release/pledge-bench)
set -euo pipefail
cd "$(dirname "$0")/.."

RECEIPTS=${RECEIPTS:-50000}
CLIENTS=${CLIENTS:-64}
MAX_SECS=${MAX_SECS:-600}
WORK=${WORK:-$(mktemp -d /tmp/node-rss.XXXXXX)}
PORT=${PORT:-50075}
BUILD=${BUILD:-1}
mkdir -p "$WORK"

log() { printf '[node-rss %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

if [ "$BUILD" = 1 ]; then
  log "building the release binaries"
  cargo build --release --locked -q --bin pledge-node --bin pledge-bench
fi
NODE=${NODE_BIN:-target/release/pledge-node}
BENCH=${BENCH_BIN:-target/release/pledge-bench}
# shellcheck source=bench/fresh-node.sh
. bench/fresh-node.sh

memory() { grep -E '^(VmRSS|VmHWM)' "/proc/$1/status" | tr -s ' \t' ' ' | paste -sd ',' -; }

start_fresh_node
start_fresh_pledges "$MAX_SECS"
after_setup=$(memory "$node_pid")
finish_fresh_pledges
sleep 1 # the state store's writer and the alerts finish what is queued
after_pledges=$(memory "$node_pid")
{
  echo "node: $NODE; $RECEIPTS receipts, $CLIENTS clients"
  echo "machine: $(nproc) cores, $(uname -r); load average $(cut -d ' ' -f 1-3 /proc/loadavg)"
  grep -E '^(set-up|pledges acknowledged)' "$out"
  echo "node memory after the set-up:   $after_setup"
  echo "node memory after the pledges:  $after_pledges"
} | tee "$WORK/summary.txt"
