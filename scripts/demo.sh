#!/usr/bin/env bash
# The demo: a throwaway server (MariaDB, or MySQL with DEMO_SERVER=mysql) with the binlog
# settings flowtally needs, two tenants with simulated factory traffic, and `flowtally run`
# keeping the dashboard tables current. Runs until Ctrl-C (or for DEMO_MINUTES minutes), then
# stops everything, checks the last snapshot with `flowtally verify`, and removes the server.
set -euo pipefail
cd "$(dirname "$0")/.."

server=${DEMO_SERVER:-mariadb}
case "$server" in
  mariadb) source scripts/ensure-mariadb.sh ;;
  mysql) source scripts/ensure-mysql.sh ;;
  *) echo "DEMO_SERVER=$server: use mariadb or mysql" >&2; exit 2 ;;
esac
port=3307
dir=$(mktemp -d /tmp/flowtally-demo.XXXXXX)
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$dir"
}
trap cleanup EXIT
trap 'echo; echo "== Stopping"; exit 0' INT

for p in $port 9187; do
  if (echo >"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
    echo "Port $p is taken: stop what listens there (the demo uses 3307 and 9187)." >&2
    exit 1
  fi
done

echo "== Building flowtally and its dev tools (release)"
cargo build --release --quiet -p flowtally -p flowtally-testkit --bins
bin=./target/release
ft="$bin/flowtally --config config/flowtally.toml"
url="mysql://root@127.0.0.1:$port"

echo "== Starting a throwaway $server on 127.0.0.1:$port"
"$bin/flowtally-devserver" --flavor "$server" --port "$port" >"$dir/server.out" 2>"$dir/server.log" &
pids+=($!)
for _ in $(seq 600); do
  grep -q '^ready ' "$dir/server.out" 2>/dev/null && break
  if ! kill -0 "${pids[0]}" 2>/dev/null; then cat "$dir/server.log" >&2; exit 1; fi
  sleep 0.1
done

echo "== Creating tenants DEFAULT and ACME with some history"
"$bin/flowtally-sim" --url "$url" --setup --tenants DEFAULT,ACME --transactions 300 --rate 0 --seed 7
$ft migrate

echo "== Starting flowtally run (logs in $dir/flowtally.log, state in $dir/state)"
FLOWTALLY_STATE_DIR="$dir/state" $ft run >"$dir/flowtally.log" 2>&1 &
ft_pid=$!
pids+=($ft_pid)

echo "== Simulating factory traffic (10 transactions/s)"
"$bin/flowtally-sim" --url "$url" --tenants DEFAULT,ACME --rate 10 --seed 8 >"$dir/simulate.log" 2>&1 &
sim_pid=$!
pids+=($sim_pid)

echo
echo "   Live figures:  http://127.0.0.1:9187/api/v1/tenants/DEFAULT/summary"
echo "   Health:        http://127.0.0.1:9187/healthz"
echo "   Ctrl-C stops the demo${DEMO_MINUTES:+ (or it stops after $DEMO_MINUTES minutes)}."
echo

finish() {
  echo "== Stopping the traffic, waiting for the next snapshot, stopping flowtally"
  kill -INT "$sim_pid" 2>/dev/null || true
  wait "$sim_pid" 2>/dev/null || true
  sleep $((62 - $(date +%S)))
  kill -TERM "$ft_pid"
  wait "$ft_pid" && echo "flowtally exited cleanly (checkpoint written)"
  echo "== flowtally verify: the last 1-minute snapshots against an independent SQL recompute"
  $ft verify --tables summary,bottlenecks,workload
}
trap 'echo; finish; exit 0' INT

end=$((SECONDS + ${DEMO_MINUTES:-100000} * 60))
while [ $SECONDS -lt $end ]; do
  sleep 5
  if ! kill -0 "$ft_pid" 2>/dev/null; then
    echo "flowtally stopped; its log:" >&2
    tail -20 "$dir/flowtally.log" >&2
    exit 1
  fi
done
finish
