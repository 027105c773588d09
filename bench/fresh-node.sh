# fresh-node.sh - sourced by node-cpu.sh and node-rss.sh: a fresh release
# pledge-node with request rates off, and `pledge-bench run` of fresh
# pledges against it. Expects NODE, BENCH, WORK, PORT, CLIENTS, RECEIPTS
# and a `die` function; the node is stopped when the script exits.

# Starts the node in $WORK/node; sets `dir` and `node_pid`.
start_fresh_node() {
  printf '[limits]\nrequests_per_second_per_address = 0\nrequests_per_second_per_participant = 0\n%s\n' \
    "${LIMITS:-}" >"$WORK/unlimited.toml"
  dir="$WORK/node"
  rm -rf "$dir"
  "$NODE" --config "$WORK/unlimited.toml" --data-dir "$dir" --listen "127.0.0.1:$PORT" --no-http >"$WORK/node.log" 2>&1 &
  node_pid=$!
  trap 'kill "$node_pid" 2>/dev/null || true' EXIT
  for _ in $(seq 1 100); do
    grep -q 'listening on' "$WORK/node.log" 2>/dev/null && break
    sleep 0.1
  done
  grep -q 'listening on' "$WORK/node.log" || die "pledge-node did not start (see $WORK/node.log)"
}

# Runs fresh pledges for at most $1 seconds in the background and returns
# once the set-up is done; sets `out` and `bench_pid`.
start_fresh_pledges() {
  out="$WORK/bench.out"
  "$BENCH" run --node "http://127.0.0.1:$PORT" --keys "$dir/dev-keys" --clients "$CLIENTS" \
    --duration "${1}s" --mix fresh=100 --receipts "$RECEIPTS" >"$out" 2>&1 &
  bench_pid=$!
  until grep -q '^set-up:' "$out" 2>/dev/null; do
    kill -0 "$bench_pid" 2>/dev/null || die "pledge-bench ended during the set-up (see $out)"
    sleep 0.05
  done
}

# Waits for the pledges and checks pledge-bench's self-check.
finish_fresh_pledges() {
  wait "$bench_pid" || { cat "$out" >&2; die "pledge-bench failed (see $out)"; }
  grep -q 'self-check passed' "$out" || die "pledge-bench self-check failed (see $out)"
}
