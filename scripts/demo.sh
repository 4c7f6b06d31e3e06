#!/usr/bin/env bash
# The demo: a throwaway MariaDB (or MySQL: DEMO_SERVER=mysql) on 127.0.0.1:3307, two tenants
# (DEFAULT and ACME) under simulated factory traffic, and `flowtally run` serving the live
# Production Dashboard at http://127.0.0.1:9187/ while it keeps the mv_ tables current. Runs
# until Ctrl-C, or for DEMO_MINUTES minutes; then it stops the traffic, waits for the next
# snapshot and checks it with `flowtally verify`. Everything it starts is stopped and the
# server's files removed at the end (a second Ctrl-C skips the check).
#
#   scripts/demo.sh                     MariaDB, until Ctrl-C
#   DEMO_SERVER=mysql scripts/demo.sh   MySQL (fetched by scripts/ensure-mysql.sh)
#   DEMO_MINUTES=3 scripts/demo.sh      three minutes, then verify
#   DEMO_RATE=20 scripts/demo.sh        simulated transactions per second (default 10)
#   DEMO_BOTTLENECK=EDGE scripts/demo.sh  the node whose work the traffic slows down (default SEW,
#                                       seeded with a WIP limit of 12: within a minute or two
#                                       its queue passes the limit and the dashboard's alert
#                                       list ("Needs a person", in Thai "จุดที่ต้องมีคนเข้าไปดู")
#                                       calls it out, red; the Thai wall screen's URL is
#                                       printed); DEMO_BOTTLENECK= for none
#   DEMO_HA=1 scripts/demo.sh           two instances with [ha] (the second on :9188); after a
#                                       minute the writer is killed (kill -9) and the other
#                                       takes over, which healthz shows
set -euo pipefail
cd "$(dirname "$0")/.."

server=${DEMO_SERVER:-mariadb}
minutes=${DEMO_MINUTES:-0}
ha=${DEMO_HA:-0}
rate=${DEMO_RATE:-10}
bottleneck=${DEMO_BOTTLENECK-SEW}
port=3307
dashboard=http://127.0.0.1:9187/
# The floor's wall screen, in Thai (the alert list under the key figures).
wall="${dashboard}tenants/DEFAULT?view=wall&lang=th"
echo "== flowtally demo: the dashboard will be at $dashboard (tenants DEFAULT and ACME; open it in a browser)"
echo "   the Thai wall screen:  $wall"

case "$server" in
  mariadb) source scripts/ensure-mariadb.sh ;;
  mysql) source scripts/ensure-mysql.sh ;;
  *)
    echo "DEMO_SERVER=$server: use mariadb or mysql" >&2
    exit 2
    ;;
esac

ports="$port 9187"
[ "$ha" = 1 ] && ports="$ports 9188"
for p in $ports; do
  if (echo >"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
    echo "Port $p is taken: stop what listens there (the demo uses 3307 and 9187)." >&2
    exit 1
  fi
done

dir=$(mktemp -d /tmp/flowtally-demo.XXXXXX)
server_pid="" ft_pid="" ft2_pid="" sim_pid=""
# Background jobs in process groups of their own: Ctrl-C reaches this script only, which
# stops them in order (traffic, flowtally, then the server).
set -m
stop() {
  local pid=$1
  [ -n "$pid" ] || return 0
  kill -TERM "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
}
cleanup() {
  trap - EXIT INT TERM
  stop "$sim_pid"
  stop "$ft_pid"
  stop "$ft2_pid"
  stop "$server_pid"
  rm -rf "$dir"
}
trap cleanup EXIT
trap 'echo; echo "== Stopping"; exit 0' INT TERM
running=1

echo "== Building flowtally and its dev tools (release)"
cargo build --release --quiet -p flowtally -p flowtally-testkit --bins
bin=./target/release
ft="$bin/flowtally --config config/flowtally.toml"
url=mysql://root@127.0.0.1:$port

echo "== Starting a throwaway $server on 127.0.0.1:$port (log: $dir/server.log)"
"$bin/flowtally-devserver" --flavor "$server" --port $port >"$dir/server.log" 2>&1 &
server_pid=$!
for _ in $(seq 600); do
  grep -q '^ready ' "$dir/server.log" 2>/dev/null && break
  if ! kill -0 "$server_pid" 2>/dev/null; then
    cat "$dir/server.log" >&2
    exit 1
  fi
  sleep 0.1
done
grep -q '^ready ' "$dir/server.log" || { echo "the server did not start:" >&2; cat "$dir/server.log" >&2; exit 1; }

echo "== Creating tenants DEFAULT and ACME (source tables, then flowtally migrate), with some history"
"$bin/flowtally-sim" --url "$url" --setup --tenants DEFAULT,ACME --rate 0 --transactions 300 --seed 7 >"$dir/setup.log"
if [ "$ha" = 1 ]; then
  # [ha] from the environment: the same configuration for both instances otherwise.
  export FLOWTALLY_HA_ENABLED=true FLOWTALLY_HA_LEASE_SECS=5
fi
$ft migrate >"$dir/migrate.log"

echo "== Starting flowtally run (log: $dir/flowtally.log)"
FLOWTALLY_STATE_DIR="$dir/state" $ft run >"$dir/flowtally.log" 2>&1 &
ft_pid=$!
for _ in $(seq 300); do
  curl -s -o /dev/null "${dashboard}healthz" 2>/dev/null && break
  (echo >/dev/tcp/127.0.0.1/9187) 2>/dev/null && break
  sleep 0.1
done

if [ "$ha" = 1 ]; then
  echo "== Starting a second instance, the standby, on :9188 (log: $dir/flowtally2.log)"
  FLOWTALLY_STATE_DIR="$dir/state2" FLOWTALLY_SOURCE_SERVER_ID=4188 \
    FLOWTALLY_HTTP_LISTEN=127.0.0.1:9188 $ft run >"$dir/flowtally2.log" 2>&1 &
  ft2_pid=$!
fi

slowdown=()
if [ -n "$bottleneck" ]; then
  slowdown=(--bottleneck "$bottleneck")
  echo "== Simulating factory traffic ($rate transactions/s), node $bottleneck a bottleneck"
else
  echo "== Simulating factory traffic ($rate transactions/s)"
fi
"$bin/flowtally-sim" --url "$url" --tenants DEFAULT,ACME --rate "$rate" --seed 8 "${slowdown[@]}" >"$dir/simulate.log" 2>&1 &
sim_pid=$!

echo
echo "   Production Dashboard:  $dashboard"
echo "   tenant DEFAULT:        ${dashboard}tenants/DEFAULT"
echo "   tenant ACME:           ${dashboard}tenants/ACME"
echo "   Thai wall screen:      $wall"
echo "   JSON API:              ${dashboard}api/v1/tenants"
if [ -n "$bottleneck" ]; then
  echo "   the bottleneck:        node $bottleneck is slowed down; within a minute or two it passes its"
  echo "                          WIP limit and turns red on the wall screen's alert list"
  echo "                          (จุดที่ต้องมีคนเข้าไปดู); the same alert as JSON:"
  echo "                          ${dashboard}api/v1/tenants/DEFAULT/alerts"
fi
[ "$ha" = 1 ] && echo "   the standby:           http://127.0.0.1:9188/ (same figures; writes once it takes over)"
if [ "$minutes" -gt 0 ]; then
  echo "   running for $minutes minute(s); Ctrl-C stops earlier"
else
  echo "   running until Ctrl-C"
fi
echo

# Ctrl-C from here on ends the loop and goes on to the check below.
trap 'echo; running=0' INT
end=$((SECONDS + minutes * 60))
killed=0
while [ "$running" -eq 1 ] && { [ "$minutes" -eq 0 ] || [ $SECONDS -lt $end ]; }; do
  sleep 5 &
  wait $! || true
  if ! kill -0 "$ft_pid" 2>/dev/null; then
    echo "flowtally stopped; the end of its log:" >&2
    tail -20 "$dir/flowtally.log" >&2
    exit 1
  fi
  if [ $((SECONDS % 60)) -lt 5 ] && command -v curl >/dev/null 2>&1; then
    echo "$(date +%T) healthz: $(curl -s "${dashboard}healthz" || echo unreachable)"
    [ "$ha" = 1 ] && [ "$killed" = 0 ] && echo "$(date +%T) standby healthz: $(curl -s http://127.0.0.1:9188/healthz || echo unreachable)"
  fi
  if [ "$ha" = 1 ] && [ "$killed" = 0 ] && [ $SECONDS -ge 60 ]; then
    echo "== kill -9 of the first instance (the writer); the standby takes over within the lease (5 s)"
    kill -KILL "$ft_pid" 2>/dev/null || true
    wait "$ft_pid" 2>/dev/null || true
    ft_pid=$ft2_pid ft2_pid="" killed=1 dashboard=http://127.0.0.1:9188/
    sleep 8
    echo "$(date +%T) healthz of the survivor: $(curl -s "${dashboard}healthz" || echo unreachable)"
  fi
done

trap 'echo; echo "== Stopping"; exit 0' INT TERM
echo "== Stopping the traffic, waiting for the next snapshot, stopping flowtally"
stop "$sim_pid"
sim_pid=""
sleep $((62 - $(date +%S)))
stop "$ft_pid"
ft_pid=""
echo "== flowtally verify: the last 1-minute snapshots against an independent SQL recompute"
# (the 5- and 15-minute tables were written before the last traffic, so they are not compared)
$ft verify --tables summary,bottlenecks,workload
