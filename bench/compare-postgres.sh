#!/usr/bin/env bash
# compare-postgres.sh - pledge-node and the PostgreSQL peer, side by side in one run.
#
# Runs, alternating, for each client count: pledge-bench against a fresh
# pledge-node (release build, gRPC on loopback, fresh pledges only, every
# acknowledgement fdatasynced), then the PostgreSQL peer (pg_peer.sh:
# partial unique index, SHA-256 chain row, one PL/pgSQL call per pledge,
# synchronous_commit=on) with the same client count and duration. Repeats
# the whole sequence ROUNDS times, then prints both rates, both p99s and the
# ratio for every pair. The machine is shared: trust the ratios of pairs run
# back to back more than any absolute figure.
#
# Parameters (environment variables):
#   CLIENTS     client counts, space separated        (default "1 64")
#   DURATION    seconds per run                        (default 15)
#   ROUNDS      how many times to run the sequence    (default 1)
#   PG_PEER     the peer's script                      (default ../shared/bench/pg_peer.sh)
#   PG_RECEIPTS receipts the peer pre-loads            (default 400000)
#   WORK        work directory                         (default: new mktemp -d)
#   PORT        the node's loopback port               (default 50071)
#   BUILD       0 = use the release binaries as built   (default 1: cargo build)
#   NODE_BINS   pledge-node builds to run, space separated, each right
#               before the peer in every pair (default target/release/pledge-node;
#               two builds give an A/B of the node in the same run)
#   BENCH_BIN   the load generator                     (default target/release/pledge-bench)
#   RATE_ONE    pledges/s the node is allowed for at 1-7 clients (default 5000)
#   RATE_MANY   pledges/s the node is allowed for at 8+ clients  (default 20000)
#               (fresh receipts issued for a run: rate x DURATION; lower them
#               on a loaded machine, where the set-up would otherwise take
#               longer than the run; a run that uses them up ends early and
#               its rate stays right)
#
# Needs: cargo (it builds the release binaries), and root or an installed
# PostgreSQL for the peer (pg_peer.sh installs it from Debian packages).
set -euo pipefail
cd "$(dirname "$0")/.."

CLIENTS=${CLIENTS:-"1 64"}
DURATION=${DURATION:-15}
ROUNDS=${ROUNDS:-1}
PG_PEER=${PG_PEER:-../shared/bench/pg_peer.sh}
PG_RECEIPTS=${PG_RECEIPTS:-400000}
WORK=${WORK:-$(mktemp -d /tmp/compare-postgres.XXXXXX)}
# The bench measures what the node can do, not its policy: request rates off.
mkdir -p "$WORK"
printf '[limits]\nrequests_per_second_per_address = 0\nrequests_per_second_per_participant = 0\n' >"$WORK/unlimited.toml"
PORT=${PORT:-50071}
RATE_ONE=${RATE_ONE:-5000}
RATE_MANY=${RATE_MANY:-20000}

log() { printf '[compare %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

[ -f "$PG_PEER" ] || die "PostgreSQL peer script not found at $PG_PEER (set PG_PEER)"
mkdir -p "$WORK"
# The peer runs its server as the postgres user, who must reach its directory.
chmod 0755 "$WORK"
if [ "${BUILD:-1}" = 1 ]; then
  log "building the release binaries"
  cargo build --release --locked -q --bin pledge-node --bin pledge-bench
fi
NODE_BINS=${NODE_BINS:-target/release/pledge-node}
BENCH=${BENCH_BIN:-target/release/pledge-bench}

# Fresh receipts the node needs for one run: its rate is not known in
# advance, so allow for RATE_MANY/s at 8 clients or more, RATE_ONE/s below.
receipts_for() {
  local clients=$1
  if [ "$clients" -ge 8 ]; then echo $((RATE_MANY * DURATION)); else echo $((RATE_ONE * DURATION)); fi
}

# One pledge-bench run against a node of its own; prints "rate p50 p99".
node_run() {
  local clients=$1 tag=$2 node=$3 dir="$WORK/node-$2" out="$WORK/node-$2.out"
  rm -rf "$dir"
  "$node" --config "$WORK/unlimited.toml" --data-dir "$dir" --listen "127.0.0.1:$PORT" --no-http >"$WORK/node-$tag.log" 2>&1 &
  local pid=$!
  for _ in $(seq 1 100); do
    grep -q 'listening on' "$WORK/node-$tag.log" 2>/dev/null && break
    sleep 0.1
  done
  grep -q 'listening on' "$WORK/node-$tag.log" || { kill "$pid"; die "pledge-node did not start (see $WORK/node-$tag.log)"; }
  "$BENCH" run --node "http://127.0.0.1:$PORT" --keys "$dir/dev-keys" --clients "$clients" \
    --duration "${DURATION}s" --mix fresh=100 --receipts "$(receipts_for "$clients")" >"$out" 2>&1 \
    || { kill "$pid"; cat "$out" >&2; die "pledge-bench failed (see $out)"; }
  kill -TERM "$pid"; wait "$pid" || true
  grep -q 'self-check passed' "$out" || die "pledge-bench self-check failed (see $out)"
  local rate p50 p99
  rate=$(sed -n 's/^pledges acknowledged (durable): [0-9]* = \([0-9]*\)\/s.*/\1/p' "$out")
  p50=$(sed -n 's/^submit latency: .* p50=\([0-9.]*\) ms.*/\1/p' "$out")
  p99=$(sed -n 's/^submit latency: .* p99=\([0-9.]*\) ms.*/\1/p' "$out")
  echo "$rate $p50 $p99"
}

# One PostgreSQL peer run; prints "rate p50 p99".
pg_run() {
  local clients=$1 tag=$2 dir="$WORK/pg-$2"
  rm -rf "$dir"
  CLIENTS="$clients" BENCH_SECONDS="$DURATION" SYNC_MODES=on DUP_PCTS=0 FSYNC_TEST=0 \
    RECEIPTS="$PG_RECEIPTS" PGPEER_DIR="$dir" bash "$PG_PEER" >"$WORK/pg-$tag.out" 2>"$WORK/pg-$tag.log" \
    || { tail -n 20 "$WORK/pg-$tag.log" >&2; die "the PostgreSQL peer failed (see $WORK/pg-$tag.log)"; }
  # results.tsv: rep sync clients dup dsync tps avg p50 p99 max ...
  awk -F '\t' 'NR == 2 { printf "%.0f %s %s\n", $6, $8, $9 }' "$dir/results/results.tsv"
}

LOAD_START=$(cut -d ' ' -f 1-3 /proc/loadavg)
RESULTS="$WORK/pairs.tsv"
printf 'round\tclients\tnode\tnode_per_s\tnode_p50_ms\tnode_p99_ms\tpg_per_s\tpg_p50_ms\tpg_p99_ms\tratio\n' >"$RESULTS"
for round in $(seq 1 "$ROUNDS"); do
  for clients in $CLIENTS; do
    tag="r${round}-c${clients}"
    build=0
    nodes=()
    for node in $NODE_BINS; do
      build=$((build + 1))
      log "round $round, $clients clients: pledge-node $build ($node)"
      read -r nrate np50 np99 < <(node_run "$clients" "$tag-n$build" "$node")
      log "  pledge-node $build: ${nrate}/s, p50 ${np50} ms, p99 ${np99} ms"
      nodes+=("$build $nrate $np50 $np99")
    done
    log "round $round, $clients clients: PostgreSQL peer"
    read -r prate pp50 pp99 < <(pg_run "$clients" "$tag")
    log "  PostgreSQL:  ${prate}/s, p50 ${pp50} ms, p99 ${pp99} ms"
    for measured in "${nodes[@]}"; do
      read -r build nrate np50 np99 <<<"$measured"
      ratio=$(awk -v a="$nrate" -v b="$prate" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "nan" }')
      printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$round" "$clients" "$build" "$nrate" "$np50" \
        "$np99" "$prate" "$pp50" "$pp99" "$ratio" >>"$RESULTS"
    done
  done
done

{
  echo
  echo "pledge-node vs the PostgreSQL peer, side by side (${DURATION} s per run, alternating)"
  echo "machine: $(nproc) cores, $(awk '/MemTotal/ { printf "%.0f GiB", $2 / 1048576 }' /proc/meminfo), $(uname -sr), load average at the start: ${LOAD_START}, at the end: $(cut -d ' ' -f 1-3 /proc/loadavg)"
  echo "pledge-node: release build, pledge-bench over gRPC on 127.0.0.1, fresh pledges, 2 signatures each, acknowledged after fdatasync"
  build=0
  for node in $NODE_BINS; do build=$((build + 1)); echo "node $build: $node"; done
  echo "PostgreSQL:  $(sed -n 's/^server: //p' "$(ls "$WORK"/pg-*.out | head -n 1)" | head -n 1)"
  echo
  column -t -s $'\t' "$RESULTS"
  echo
  echo "results: $RESULTS; outputs in $WORK"
} | tee "$WORK/summary.txt"
