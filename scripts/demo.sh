#!/usr/bin/env bash
# The demo: a throwaway MariaDB with the binlog settings flowtally needs, two tenants with
# simulated factory traffic, and `flowtally run` keeping the dashboard tables current. Prints the
# latest snapshot every 20 s for DEMO_MINUTES minutes (default 3), then stops everything, checks
# the last snapshot with `flowtally verify`, and removes the server.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/ensure-mariadb.sh

minutes=${DEMO_MINUTES:-3}
port=3307
dir=$(mktemp -d /tmp/flowtally-demo.XXXXXX)
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$dir"
}
trap cleanup EXIT

for p in $port 9187; do
  if (echo >"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
    echo "Port $p is taken: stop what listens there (the demo uses 3307 and 9187)." >&2
    exit 1
  fi
done

echo "== Building flowtally (release)"
cargo build --release --quiet
ft="./target/release/flowtally --config config/flowtally.toml"

echo "== Starting a throwaway MariaDB on 127.0.0.1:$port in $dir"
user=$(id -un)
mariadb-install-db --no-defaults --user="$user" --datadir="$dir/data" \
  --auth-root-authentication-method=normal --skip-test-db >"$dir/install.log" 2>&1
mariadbd --no-defaults --user="$user" --datadir="$dir/data" --socket="$dir/s" --port=$port \
  --bind-address=127.0.0.1 --server-id=1 --log-bin="$dir/data/bin" --binlog-format=ROW \
  --binlog-row-image=FULL --binlog-row-metadata=FULL --character-set-server=utf8mb4 \
  --collation-server=utf8mb4_unicode_ci --max-allowed-packet=256M >"$dir/mariadb.log" 2>&1 &
pids+=($!)
for _ in $(seq 100); do
  mariadb --protocol=TCP -h127.0.0.1 -P$port -uroot -e 'SELECT 1' >/dev/null 2>&1 && break
  sleep 0.1
done
sql() { mariadb --protocol=TCP -h127.0.0.1 -P$port -uroot --table "$@"; }

echo "== Creating tenants DEFAULT and ACME with some history"
$ft simulate --setup --tenants DEFAULT,ACME --transactions 300 --rate 0 --seed 7

echo "== Starting flowtally run (logs in $dir/flowtally.log, state in $dir/state)"
FLOWTALLY_STATE_DIR="$dir/state" $ft run >"$dir/flowtally.log" 2>&1 &
ft_pid=$!
pids+=($ft_pid)

echo "== Simulating factory traffic (10 transactions/s)"
$ft simulate --tenants DEFAULT,ACME --rate 10 --seed 8 >"$dir/simulate.log" 2>&1 &
sim_pid=$!
pids+=($sim_pid)

end=$((SECONDS + minutes * 60))
while [ $SECONDS -lt $end ]; do
  sleep 20
  echo
  echo "== $(date +%T) latest snapshot of tenant DEFAULT"
  sql -e "SELECT snapshot_at, graph_id, node_id, team_id, wip_count, waiting_count, completed_count
          FROM bgerp_t_default.mv_token_flow_summary
          WHERE snapshot_at = (SELECT MAX(snapshot_at) FROM bgerp_t_default.mv_token_flow_summary)
          ORDER BY graph_id, node_id, team_id" || true
  sql -e "SELECT snapshot_at, node_code, queue_depth, avg_wait_minutes, bottleneck_score
          FROM bgerp_t_default.mv_node_bottlenecks
          WHERE snapshot_at = (SELECT MAX(snapshot_at) FROM bgerp_t_default.mv_node_bottlenecks)
          ORDER BY bottleneck_score DESC LIMIT 5" || true
  sql -e "SELECT COUNT(DISTINCT snapshot_at) AS minutes_written FROM bgerp_t_default.mv_team_workload" || true
  if command -v curl >/dev/null 2>&1; then
    echo "-- live, from memory: curl -s http://127.0.0.1:9187/healthz"
    curl -s http://127.0.0.1:9187/healthz || true
    echo
  fi
done

echo
echo "== Stopping the traffic, waiting for the next snapshot, stopping flowtally"
kill -INT "$sim_pid" 2>/dev/null || true
wait "$sim_pid" 2>/dev/null || true
sleep $((62 - $(date +%S)))
kill -TERM "$ft_pid"
wait "$ft_pid" && echo "flowtally exited cleanly (checkpoint written)"
echo "== flowtally verify: the last 1-minute snapshots against an independent SQL recompute"
# (the 5- and 15-minute tables were written before the last traffic, so they are not compared)
$ft verify --tables summary,bottlenecks,workload
