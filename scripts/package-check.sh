#!/usr/bin/env bash
# The Debian package, as an operator gets it: builds it (cargo deb), installs it on this machine
# (apt-get, as root), and checks what it installed: `flowtally --version`, the unit with
# `systemd-analyze verify`, and `flowtally check` from the installed binary against a throwaway
# MariaDB with two tenants (started here on a free port, stopped at the end). CI runs it.
set -euo pipefail
cd "$(dirname "$0")/.."

command -v cargo-deb >/dev/null 2>&1 || cargo install --locked cargo-deb
command -v systemd-analyze >/dev/null 2>&1 || apt-get install -y systemd
source scripts/ensure-mariadb.sh

echo "== cargo deb"
cargo deb --quiet
deb=$(ls -t target/debian/flowtally_*.deb | head -1)
dpkg-deb --info "$deb" | sed -n '/Package:/,/Description:/p'
dpkg-deb --contents "$deb" | awk '{print $6}'

echo "== apt-get install $deb"
apt-get install -y --reinstall "./$deb"
test "$(stat -c %U:%G /etc/flowtally/flowtally.toml)" = root:flowtally
getent passwd flowtally >/dev/null

echo "== flowtally --version"
/usr/bin/flowtally --version | grep -qx "flowtally $(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -1)"
/usr/bin/flowtally --version

echo "== systemd-analyze verify flowtally.service"
systemd-analyze verify /lib/systemd/system/flowtally.service

echo "== flowtally check from the package, against a throwaway MariaDB"
cargo build --quiet -p flowtally-testkit --bins
dir=$(mktemp -d /tmp/flowtally-package.XXXXXX)
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
./target/debug/flowtally-devserver --flavor mariadb --port "$port" >"$dir/server.log" 2>&1 &
server=$!
trap 'kill -TERM $server 2>/dev/null; wait $server 2>/dev/null; rm -rf "$dir"' EXIT
for _ in $(seq 600); do
  grep -q '^ready ' "$dir/server.log" && break
  kill -0 "$server" 2>/dev/null || { cat "$dir/server.log"; exit 1; }
  sleep 0.1
done
./target/debug/flowtally-sim --url "mysql://root@127.0.0.1:$port" --setup --tenants DEFAULT,ACME \
  --rate 0 --transactions 50 --seed 1 >/dev/null
sed -e "s#mysql://flowtally_reader@127.0.0.1:3306#mysql://root@127.0.0.1:$port#" \
    -e "s#mysql://flowtally_writer@127.0.0.1:3306#mysql://root@127.0.0.1:$port#" \
    -e '/^password_file/d' -e "s#^dir = .*#dir = \"$dir/state\"#" \
    /etc/flowtally/flowtally.toml >"$dir/flowtally.toml"
/usr/bin/flowtally --config "$dir/flowtally.toml" migrate
/usr/bin/flowtally --config "$dir/flowtally.toml" check
echo "== the package installs, verifies and checks a deployment"
