#!/usr/bin/env bash
# node-cpu.sh - where one pledge's time goes: CPU per pledge of each of the
# node's threads, and of the load generator, during a timed run.
#
# Starts a fresh release pledge-node, runs `pledge-bench run` (fresh pledges
# only) against it, and reads every thread's CPU time (/proc/PID/task/*/stat)
# when the timed phase starts and when it ends. Prints, per thread kind
# (tokio workers: gRPC, decoding, signature checks; decide: rules and seal;
# durable: the log write and fdatasync; apply: the state store; alerts: a
# single node's alerts follower, which before ran on tokio's blocking pool and
# counted with the workers), the CPU
# microseconds per acknowledged pledge (sled's own threads apart), next to
# the submit latency. Wall time per pledge minus the CPU on its path is
# waiting: for the disk, and for the threads to wake each other.
#
# Parameters (environment variables):
#   CLIENTS   concurrent clients                 (default 1)
#   DURATION  seconds of the timed phase         (default 15)
#   RECEIPTS  receipts issued in the set-up      (default 40000)
#   WORK      work directory                     (default: new mktemp -d)
#   PORT      the node's loopback port           (default 50073)
#   BUILD     0 = use the binaries as built      (default 1: cargo build --release)
#   NODE_BIN  the pledge-node to measure         (default target/release/pledge-node;
#             another build's, e.g. for an A/B run: BUILD=0 NODE_BIN=/path/pledge-node)
#   BENCH_BIN the load generator                 (default target/release/pledge-bench)
#   LIMITS    more [limits] lines for the node's config, e.g.
#             "state_apply_wait_ms = 0" (default none)
set -euo pipefail
cd "$(dirname "$0")/.."

CLIENTS=${CLIENTS:-1}
DURATION=${DURATION:-15}
RECEIPTS=${RECEIPTS:-40000}
WORK=${WORK:-$(mktemp -d /tmp/node-cpu.XXXXXX)}
mkdir -p "$WORK"
PORT=${PORT:-50073}
BUILD=${BUILD:-1}

log() { printf '[node-cpu %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

if [ "$BUILD" = 1 ]; then
  log "building the release binaries"
  cargo build --release --locked -q --bin pledge-node --bin pledge-bench
fi
NODE=${NODE_BIN:-target/release/pledge-node}
BENCH=${BENCH_BIN:-target/release/pledge-bench}
# shellcheck source=bench/fresh-node.sh
. bench/fresh-node.sh
TICKS=$(getconf CLK_TCK)

# "kind ticks" for every thread of process $1, kinds named after the thread.
thread_ticks() {
  local pid=$1 task comm
  for task in /proc/"$pid"/task/*; do
    comm=$(cat "$task/comm" 2>/dev/null) || continue
    # utime and stime are fields 14 and 15; comm (field 2) may hold spaces.
    sed -e 's/^.*) //' "$task/stat" 2>/dev/null |
      awk -v c="$comm" '{ print $12 + $13, c }'
  done | awk '{
      ticks = $1
      sub(/^[0-9]+ /, "")
      kind = "other-node"
      if ($0 ~ /^tokio-r/) kind = "tokio-workers"
      else if ($0 == "decide" || $0 == "durable" || $0 == "apply" || $0 == "alerts") kind = $0
      else if ($0 ~ /^sled-io/ || $0 == "log flusher") kind = "sled-background"
      t[kind] += ticks
    } END { for (k in t) print k, t[k] }'
}

process_ticks() {
  sed -e 's/^.*) //' "/proc/$1/stat" | awk '{ print $12 + $13 }'
}

start_fresh_node
start_fresh_pledges "$DURATION"
thread_ticks "$node_pid" >"$WORK/before"
bench_before=$(process_ticks "$bench_pid")
load_before=$(cut -d ' ' -f 1 /proc/loadavg)
sleep "$DURATION"
kill -0 "$bench_pid" 2>/dev/null ||
  die "pledge-bench ended before the timed phase did: its pre-signed work ran out (raise RECEIPTS; see $out)"
thread_ticks "$node_pid" >"$WORK/after"
bench_after=$(process_ticks "$bench_pid")
load_after=$(cut -d ' ' -f 1 /proc/loadavg)
finish_fresh_pledges

pledges=$(sed -n 's/^pledges acknowledged (durable): \([0-9]*\) = .*/\1/p' "$out")
[ -n "$pledges" ] && [ "$pledges" -gt 0 ] || die "no pledge acknowledged (see $out)"
{
  echo "node: $NODE; extra limits: ${LIMITS:-none}"
  echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(uname -r); load average ${load_before} -> ${load_after}"
  grep -E '^(pledges acknowledged|submit latency)' "$out"
  echo "CPU per acknowledged pledge during the timed phase (${CLIENTS} client(s), ${DURATION} s):"
  join -a 1 -e 0 -o 0,1.2,2.2 <(sort "$WORK/after") <(sort "$WORK/before") |
    awk -v n="$pledges" -v hz="$TICKS" '{ us = ($2 - $3) * 1e6 / hz / n; total += us; printf "  %-14s %8.0f us\n", $1, us }
      END { printf "  %-14s %8.0f us\n", "node total", total }'
  awk -v a="$bench_after" -v b="$bench_before" -v n="$pledges" -v hz="$TICKS" \
    'BEGIN { printf "  %-14s %8.0f us\n", "pledge-bench", (a - b) * 1e6 / hz / n }'
} | tee "$WORK/summary.txt"
