#!/usr/bin/env bash
# Makes a MariaDB 11.8 LTS server available without installing it, next to Debian 12's MariaDB
# 10.11: downloads Debian sid's mariadb-server-core, mariadb-client-core and mariadb-client
# (1:11.8.x) plus the libraries their binaries link (sid's own glibc included), unpacks them with dpkg -x into a
# private root and runs every binary through that root's dynamic loader (the recipe of
# scripts/ensure-mysql.sh). The machine's apt configuration, dpkg database and installed packages
# (MariaDB 10.11 among them) are left alone. The unpacked root is cached, so a second run does no
# network access and costs a few milliseconds.
#
#   source scripts/ensure-mariadb-11.8.sh   exports FLOWTALLY_MARIADB118_ROOT (the unpacked
#                                           root), FLOWTALLY_MARIADB118_BIN (wrappers mariadbd,
#                                           mariadb, mariadb-binlog, mariadb-admin,
#                                           mariadb-dump, mariadb-tzinfo-to-sql) and
#                                           FLOWTALLY_MARIADB118_VERSION (e.g. 1:11.8.9+ds-4);
#                                           leaves the caller's shell options alone; returns 1
#                                           on failure.
#   scripts/ensure-mariadb-11.8.sh          the same, printing the root path as the last line
#                                           of stdout.
#
# The wrappers exec the real binary through the root's loader, so they can be exec'd by Rust
# code and scripts like any binary (the process shows as ld-linux-x86-64.so.2 in ps; its pid is
# the wrapper's pid). They are not put on PATH: the system's mariadb* there are 10.11's.
# Pass --no-defaults first (to the clients too) so no /etc/mysql/my.cnf (10.11's) or ~/.my.cnf is
# read. mariadbd's compiled-in paths are /usr/..., i.e. 10.11's files: pass --basedir=ROOT/usr,
# --lc-messages-dir=ROOT/usr/share/mariadb, --character-sets-dir=ROOT/usr/share/mariadb/charsets
# and --plugin-dir=ROOT/usr/lib/mysql/plugin (none ship in -core). mariadb-install-db is not
# wrapped (it runs ROOT/usr/sbin/mariadbd directly, which the system's glibc cannot load): a
# datadir is made with `mariadbd --bootstrap` fed ROOT/usr/share/mariadb/mariadb_system_tables*.sql,
# as crates/testkit/src/server.rs does.
#
# Environment:
#   FLOWTALLY_MARIADB118_CACHE   cache folder (default ${XDG_CACHE_HOME:-$HOME/.cache}/flowtally);
#                                holds mariadb-11.8/{root,bin,apt}.
#   FLOWTALLY_MARIADB118_MIRROR  Debian mirror to take sid from (default: the one the system's
#                                apt sources use, else http://deb.debian.org/debian).
#   FLOWTALLY_MARIADB118_KEYRING keyring that signs sid (default
#                                /usr/share/keyrings/debian-archive-keyring.gpg).
# Needs apt-get, apt-cache and dpkg-deb (Debian/Ubuntu); works as root and as a normal user.

if [[ "${BASH_SOURCE[0]}" != "$0" ]]; then
  # Sourced: do the work in a child bash so the caller's options, traps and names stay untouched.
  if _ftmdb118_out="$(bash "${BASH_SOURCE[0]}")"; then
    export FLOWTALLY_MARIADB118_ROOT="${_ftmdb118_out##*$'\n'}"
    export FLOWTALLY_MARIADB118_BIN="${FLOWTALLY_MARIADB118_ROOT%/*}/bin"
    export FLOWTALLY_MARIADB118_VERSION="$(sed -n 's/^version=//p' "${FLOWTALLY_MARIADB118_ROOT%/*}/complete" 2>/dev/null)"
    unset _ftmdb118_out
    return 0
  else
    unset _ftmdb118_out
    return 1
  fi
fi

set -euo pipefail

started=${EPOCHREALTIME/[.,]/}
base="${FLOWTALLY_MARIADB118_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/flowtally}/mariadb-11.8"
root="$base/root"
bindir="$base/bin"
stamp="$base/complete"
stamp_format=1
# The binaries that must resolve every library inside the root, then the other wrapped ones
# (checked too, wrapped only if they resolve).
required_bins=(usr/sbin/mariadbd usr/bin/mariadb-binlog usr/bin/mariadb)
extra_bins=(usr/bin/mariadb-admin usr/bin/mariadb-dump usr/bin/mariadb-tzinfo-to-sql)

die() { echo "ensure-mariadb-11.8: $*" >&2; exit 1; }
elapsed() { local now=${EPOCHREALTIME/[.,]/}; printf '%d.%02d s' $(((now - started) / 1000000)) $(((now - started) / 10000 % 100)); }

# Fast path: a complete root from an earlier run (the stamp is written last).
cached() {
  [[ -f "$stamp" ]] && grep -qx "format=$stamp_format" "$stamp" && grep -qxF "root=$root" "$stamp" && [[ -x "$bindir/mariadbd" && -x "$bindir/mariadb" && -x "$bindir/mariadb-binlog" && -f "$root/usr/sbin/mariadbd" && -f "$root/usr/share/mariadb/mariadb_system_tables.sql" ]]
}
if cached; then
  echo "ensure-mariadb-11.8: MariaDB $(sed -n 's/^version=//p' "$stamp") cached in $root ($(elapsed))" >&2
  echo "$root"
  exit 0
fi

for tool in apt-get apt-cache dpkg-deb dpkg; do
  command -v "$tool" >/dev/null 2>&1 || die "$tool not found: this script needs Debian's apt and dpkg (it runs on Debian/Ubuntu only)"
done
case "$(dpkg --print-architecture)" in
  amd64) arch=amd64 triplet=x86_64-linux-gnu loader_name=ld-linux-x86-64.so.2 ;;
  arm64) arch=arm64 triplet=aarch64-linux-gnu loader_name=ld-linux-aarch64.so.1 ;;
  *) die "architecture $(dpkg --print-architecture) is not supported (amd64 and arm64 are)" ;;
esac

mkdir -p "$base" 2>/dev/null || die "cannot create $base (set FLOWTALLY_MARIADB118_CACHE to a writable folder)"
log="$base/log"
# One run at a time per cache (parallel test binaries may all call this).
if command -v flock >/dev/null 2>&1; then
  exec 9>"$base/lock"
  flock 9
  if cached; then
    echo "ensure-mariadb-11.8: MariaDB $(sed -n 's/^version=//p' "$stamp") cached in $root (built by a parallel run, $(elapsed))" >&2
    echo "$root"
    exit 0
  fi
fi

# A half-finished earlier run is redone from scratch.
rm -rf "$root" "$bindir" "$base/debs" "$stamp"
: >"$log"

# The mirror the system already uses (deb822 .sources first, then one-line sources.list).
mirror="${FLOWTALLY_MARIADB118_MIRROR:-}"
if [[ -z "$mirror" ]]; then
  mirror="$(
    {
      for f in /etc/apt/sources.list.d/*.sources; do
        [[ -f "$f" ]] && awk '/^[ \t]*$/{if(u!="" && t~/deb( |$)/ && s!~/security/) print u; u="";s="";t="";next}
          /^URIs:/{u=$2} /^Suites:/{s=$0} /^Types:/{t=$0} END{if(u!="" && t~/deb( |$)/ && s!~/security/) print u}' "$f"
      done
      for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
        [[ -f "$f" ]] && awk '$1=="deb"{i=2; if($2 ~ /^\[/){while(i<=NF && $i !~ /\]$/) i++; i++} if($(i+1) !~ /security/) print $i}' "$f"
      done
    } 2>/dev/null | grep -E '^https?://' | grep -v -e security -e snapshot.debian.org | head -n 1
  )" || true
  mirror="${mirror:-http://deb.debian.org/debian}"
fi
mirror="${mirror%/}"
keyring="${FLOWTALLY_MARIADB118_KEYRING:-/usr/share/keyrings/debian-archive-keyring.gpg}"
[[ -r "$keyring" ]] || die "Debian's archive keyring $keyring is missing: apt-get install debian-archive-keyring (or set FLOWTALLY_MARIADB118_KEYRING)"

# Private apt: its own sources, lists, cache and (empty) dpkg status; the system's apt.conf.d
# is still read so proxy settings apply.
apt_dir="$base/apt"
mkdir -p "$apt_dir/lists/partial" "$apt_dir/cache/archives/partial" "$apt_dir/state"
echo "deb [signed-by=$keyring] $mirror sid main" >"$apt_dir/sources.list"
: >"$apt_dir/status"
apt_opts=(
  -o "Dir::Etc::SourceList=$apt_dir/sources.list" -o Dir::Etc::SourceParts=/dev/null
  -o "Dir::State=$apt_dir/state" -o "Dir::State::Lists=$apt_dir/lists" -o "Dir::State::status=$apt_dir/status"
  -o "Dir::Cache=$apt_dir/cache" -o Dir::Etc::Preferences=/dev/null -o Dir::Etc::PreferencesParts=/dev/null
  -o "APT::Architecture=$arch" -o "APT::Architectures=$arch" -o Acquire::Languages=none
  -o Acquire::IndexTargets::deb::DEP-11::DefaultEnabled=false
  -o Acquire::IndexTargets::deb::DEP-11-icons-small::DefaultEnabled=false
  -o Acquire::IndexTargets::deb::Contents-deb::DefaultEnabled=false
)
# As root apt downloads as user _apt, who cannot enter a cache under /root.
[[ "$(id -u)" -eq 0 ]] && apt_opts+=(-o APT::Sandbox::User=root)

echo "ensure-mariadb-11.8: fetching sid's package index from $mirror" >&2
if ! apt-get "${apt_opts[@]}" -q update >>"$log" 2>&1 || ! compgen -G "$apt_dir/lists/*_sid_main_binary-${arch}_Packages*" >/dev/null; then
  why="$(grep -E '^(E|W): ' "$log" | head -n 1 | cut -c4-)"
  case "$why" in
    *NO_PUBKEY* | *"not signed"* | *EXPKEYSIG* | *KEYEXPIRED*)
      die "apt-get update of sid from $mirror failed ($why): $keyring lacks sid's signing key; set FLOWTALLY_MARIADB118_KEYRING to the keyring of a newer debian-archive-keyring package" ;;
    *) die "apt-get update of sid from $mirror failed (${why:-see $log}): check the network, or set FLOWTALLY_MARIADB118_MIRROR to a reachable Debian mirror" ;;
  esac
fi

# mariadb-binlog, mariadb-admin and mariadb-dump are in mariadb-client, not in -core.
top=(mariadb-server-core mariadb-client-core mariadb-client)
# "package version" for each of the two that sid has.
policy="$(apt-cache "${apt_opts[@]}" policy "${top[@]}" 2>>"$log" | awk '/^[^ ]+:$/{p=substr($1, 1, length($1) - 1)} /Candidate:/ && $2 != "(none)" {print p, $2}')"
for p in "${top[@]}"; do
  grep -q "^$p " <<<"$policy" || die "package $p not found in sid at $mirror (renamed or removed? see https://packages.debian.org/sid/$p)"
done
mariadb_version="$(awk '$1 == "mariadb-server-core" {print $2}' <<<"$policy")"

# Every package the two could pull in: the pool the libraries' providers are picked from.
mapfile -t pool < <(apt-cache "${apt_opts[@]}" depends --recurse --no-recommends --no-suggests --no-conflicts \
  --no-breaks --no-replaces --no-enhances "${top[@]}" 2>>"$log" | grep -v -e '^ ' -e '^<' | sort -u)
[[ ${#pool[@]} -gt 2 ]] || die "apt-cache depends gave no dependencies for ${top[*]} (see $log)"

debs="$base/debs"
mkdir -p "$debs" "$root"
downloaded=() # packages unpacked into the root
tried=()      # "soname:pkg" pairs found not to provide soname
rejected=()   # packages downloaded in vain
bytes=0

# Downloads the packages named in $@ into $debs (one apt-get call).
fetch() {
  (cd "$debs" && apt-get "${apt_opts[@]}" -q download "$@") >>"$log" 2>&1 ||
    die "apt-get download $* failed ($(grep -E '^(E|W): ' "$log" | tail -n 1 | cut -c4-)): check the network, or see $log"
}
deb_of() { local f; for f in "$debs/$1"_*.deb; do [[ -f "$f" ]] && echo "$f" && return; done; }
unpack() {
  local f
  f="$(deb_of "$1")"
  dpkg -x "$f" "$root" || die "dpkg -x $f failed"
  bytes=$((bytes + $(stat -c %s "$f")))
  downloaded+=("$1")
  rm -f "$f"
}

# libc6 ships the loader, the rest comes from what the binaries' lookups miss.
fetch "${top[@]}" libc6
for p in "${top[@]}" libc6; do unpack "$p"; done
loader="$root/usr/lib/$triplet/$loader_name"
[[ -x "$loader" ]] || loader="$(find "$root" -name "$loader_name" -type f | head -n 1)"
[[ -n "$loader" && -x "$loader" ]] || die "sid's libc6 did not contain $loader_name"

libpath() {
  local d dirs=()
  for d in "$root/usr/lib/$triplet" "$root/lib/$triplet"; do [[ -d "$d" ]] && dirs+=("$d"); done
  local IFS=:
  echo "${dirs[*]}"
}
# Prints the sonames that $1 (relative to the root) needs and that do not resolve inside the root.
missing_of() {
  LD_TRACE_LOADED_OBJECTS=1 "$loader" --inhibit-cache --library-path "$(libpath)" "$root/$1" 2>&1 |
    awk -v root="$root/" '
      /=> not found/ {print $1; next}
      /=>/ && $1 !~ /^\// {p = $0; sub(/^[ \t]*[^ ]+ => /, "", p); if (index(p, root) != 1) print $1; next}
      /error while loading/ {print "!" $0}'
}
# Ranks the pool's packages for providing soname $1: best first.
rank() {
  local so="$1" stem ver name alias p q qs score
  stem="${so%%.so*}"
  ver="${so#*.so}"; ver="${ver#.}"
  name="${stem//_/-}"; name="${name,,}"
  case "$name" in
    libcrypto) alias=libssl ;;
    libtcmalloc | libtcmalloc-minimal | libprofiler) alias=libgoogle-perftools ;;
    libz) alias=zlib ;;
    libicu*) alias=libicu ;;
    *) alias="" ;;
  esac
  for p in "${pool[@]}"; do
    [[ " ${downloaded[*]} " == *" $p "* || " ${tried[*]} " == *" $so:$p "* ]] && continue
    [[ "$p" == lib* || "$p" == zlib* ]] || continue
    q="${p%t64}"
    qs="$q"; [[ "$q" =~ ^(.*[^-.0-9])[-.0-9]+g?$ ]] && qs="${BASH_REMATCH[1]}"
    if [[ "$q" == "$name$ver" || "$q" == "$name-$ver" ]]; then score=4
    elif [[ -n "$alias" && ("$q" == "$alias$ver" || "$q" == "$alias-$ver" || "$q" == "$alias${ver}g") ]]; then score=3
    elif [[ -n "$ver" && "$q" == *"$ver"* && ${#qs} -gt 4 && "$name" == "$qs"* ]]; then score=2
    elif [[ -n "$ver" && "$q" == *"$ver"* ]]; then score=1
    else score=0
    fi
    echo "$score $p"
  done | sort -k1,1nr -s | awk '{print $2}'
}

check_bins=("${required_bins[@]}" "${extra_bins[@]}")
for round in $(seq 1 13); do
  declare -A want=() # soname -> candidate package
  for b in "${required_bins[@]}"; do
    [[ -f "$root/$b" ]] || die "$b is not in ${top[*]} any more (sid's packaging changed): update ${BASH_SOURCE[0]}"
  done
  mapfile -t missing < <(for b in "${check_bins[@]}"; do [[ -f "$root/$b" ]] && missing_of "$b"; done | sort -u)
  [[ ${#missing[@]} -eq 0 ]] && break
  [[ $round -le 12 ]] || die "libraries still missing after 12 rounds: ${missing[*]} (see $log)"
  for so in "${missing[@]}"; do
    [[ "$so" == !* ]] && die "the loader failed on a binary: ${so#!}"
    best="$(rank "$so" | head -n 1)"
    [[ -n "$best" ]] || die "no package of sid provides $so (needed by the MariaDB binaries): see $log"
    want[$so]="$best"
  done
  mapfile -t pkgs < <(printf '%s\n' "${want[@]}" | sort -u)
  echo "ensure-mariadb-11.8: round $round: ${#missing[@]} libraries missing, fetching ${pkgs[*]}" >&2
  fetch "${pkgs[@]}"
  for p in "${pkgs[@]}"; do
    f="$(deb_of "$p")"
    [[ -n "$f" ]] || die "apt-get download $p gave no .deb (see $log)"
    contents="$(dpkg-deb -c "$f" | awk '{print $6}')"
    provides=0
    for so in "${!want[@]}"; do
      if awk -v s="/$so" 'substr($0, length($0) - length(s) + 1) == s {f = 1} END {exit !f}' <<<"$contents"; then provides=1; else [[ "${want[$so]}" == "$p" ]] && tried+=("$so:$p"); fi
    done
    if [[ $provides -eq 1 ]]; then unpack "$p"; else
      echo "ensure-mariadb-11.8: $p provides none of the missing libraries, trying other packages" >&2
      bytes=$((bytes + $(stat -c %s "$f")))
      rejected+=("$p")
      rm -f "$f"
    fi
  done
  unset want
done

# Self-check: the server is MariaDB 11.8 (the LTS flowtally tests) and every required binary
# resolves all its libraries inside the root; the bootstrap scripts are where the testkit looks.
for b in "${required_bins[@]}"; do
  m="$(missing_of "$b")"
  [[ -z "$m" ]] || die "$b still misses libraries: $(echo $m)"
done
for f in mariadb_system_tables.sql mariadb_system_tables_data.sql mariadb_performance_tables.sql english/errmsg.sys; do
  [[ -f "$root/usr/share/mariadb/$f" ]] || die "usr/share/mariadb/$f is not in ${top[*]} any more (sid's packaging changed): update ${BASH_SOURCE[0]}"
done
lp="$(libpath)"
version_line="$("$loader" --inhibit-cache --library-path "$lp" "$root/usr/sbin/mariadbd" --no-defaults --version 2>&1)" ||
  die "mariadbd --version failed: $version_line"
ver="$(sed -nE 's/.* Ver ([0-9]+\.[0-9]+\.[0-9]+)-MariaDB.*/\1/p' <<<"$version_line")"
[[ "$ver" == 11.* ]] || die "sid's mariadbd is not MariaDB 11.x: $version_line"
minor="${ver#11.}"; minor="${minor%%.*}"
[[ "$minor" -ge 8 ]] || die "sid's mariadbd is $ver, older than the 11.8 flowtally needs"
[[ "$minor" -eq 8 ]] || echo "ensure-mariadb-11.8: warning: sid moved to MariaDB $ver; flowtally is tested with 11.8" >&2

# Wrappers: exec the binary through the root's loader with the root's libraries.
shq() { printf "'%s'" "${1//\'/\'\\\'\'}"; } # single-quoted for /bin/sh
mkdir -p "$bindir"
for b in "${check_bins[@]}"; do
  [[ -f "$root/$b" ]] || continue
  if [[ " ${required_bins[*]} " != *" $b "* && -n "$(missing_of "$b")" ]]; then
    echo "ensure-mariadb-11.8: warning: not wrapping $b (libraries missing)" >&2
    continue
  fi
  w="$bindir/${b##*/}"
  {
    echo '#!/bin/sh'
    echo "# Generated by flowtally's scripts/ensure-mariadb-11.8.sh: runs sid's ${b##*/} ($mariadb_version) through sid's own loader."
    echo "exec $(shq "$loader") --inhibit-cache --library-path $(shq "$lp") $(shq "$root/$b") \"\$@\""
  } >"$w.tmp"
  chmod +x "$w.tmp"
  mv "$w.tmp" "$w"
done
"$bindir/mariadb-binlog" --no-defaults --version >/dev/null 2>&1 || die "mariadb-binlog --version failed through its wrapper"

rm -rf "$debs"
mb="$(awk -v b="$bytes" 'BEGIN{printf "%.1f", b / 1000000}')"
{
  echo "format=$stamp_format"
  echo "root=$root"
  echo "version=$mariadb_version"
  echo "mirror=$mirror"
  echo "packages=${downloaded[*]}"
  echo "bytes=$bytes"
  echo "built=$(date -u +%Y-%m-%dT%H:%M:%SZ)"
} >"$stamp.tmp"
mv "$stamp.tmp" "$stamp"
echo "ensure-mariadb-11.8: packages: ${downloaded[*]}" >&2
echo "ensure-mariadb-11.8: MariaDB $mariadb_version ready in $root (downloaded ${#downloaded[@]} packages$([[ ${#rejected[@]} -eq 0 ]] || echo " + ${#rejected[@]} not needed"), $mb MB, $(elapsed))" >&2
echo "$root"
