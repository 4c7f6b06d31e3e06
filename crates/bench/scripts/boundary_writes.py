#!/usr/bin/env python3
"""One boundary's snapshot writes for many tenants, without flowtally: the server's side alone.

Writes about what flowtally's snapshot writer writes at a 1- or 5-minute boundary (per tenant,
one transaction: for each view, one DELETE of the instant's rows and the rows past retention,
where the writer sends two, then one multi-row INSERT; a few rows per view, as a tenant of ~100
tokens has), for every tenant, with
8 clients at once as `[sink] write_concurrency` does, and prints the wall time and the server
process's CPU time. Used to find where a boundary's time goes on the server
(docs/benchmarks.md, "A boundary's writes on the server, and the applier's own CPU").

    boundary_writes.py --socket S --pid P setup N          # N tenant databases of mv_ tables
    boundary_writes.py --socket S --pid P run N CADENCE MINUTE [--tenants-per-transaction K]

`--pid` is the server's process id (its CPU time is read from /proc). Each run needs a MINUTE
of its own (0-1439 of one day), as a boundary's instant is.
"""
import argparse
import os
import pathlib
import subprocess
import tempfile
import time

CLIENTS = 8
MIGRATION = pathlib.Path(__file__).resolve().parents[3] / "migrations" / "0001_mv_tables.sql"


def cpu_secs(pid):
    fields = pathlib.Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    # utime and stime (fields 14 and 15), in clock ticks.
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def clients(socket, scripts):
    procs = [
        subprocess.Popen(["mariadb", "-S", socket, "-uroot"], stdin=open(s))
        for s in scripts
    ]
    return all(p.wait() == 0 for p in procs)


def setup(args):
    ddl = "\n".join(l for l in MIGRATION.read_text().splitlines() if not l.startswith("--"))
    with tempfile.TemporaryDirectory() as d:
        scripts = []
        for c in range(2):
            path = pathlib.Path(d) / f"setup{c}.sql"
            with open(path, "w") as f:
                for i in range(c, args.tenants, 2):
                    f.write(f"CREATE DATABASE IF NOT EXISTS t{i:05d}; USE t{i:05d};\n{ddl}\n")
            scripts.append(path)
        return clients(args.socket, scripts)


def views(cadence, at):
    summary = lambda i: f"({at}, 1, {i}, {i % 3}, {i % 7}, 3, 2)"
    node = lambda i: f"({at}, {i}, 'N{i}', 'Node {i}', 3, 12.50, 4.25)"
    team = lambda i: f"({at}, {i}, 'Team {i}', 'cut', 4, 2, 55.00)"
    cycle = lambda i: f"({at}, {i}, {i % 3}, '2026-11-30', '2026-12-07', 20, 11.00, 30.00, 14.20)"
    v = [
        ("mv_token_flow_summary", "graph_id, node_id, team_id, wip_count, completed_count, waiting_count", 8, summary, 1),
        ("mv_node_bottlenecks", "node_id, node_code, node_name, queue_depth, avg_wait_minutes, bottleneck_score", 5, node, 1),
        ("mv_team_workload", "team_id, team_name, team_category, active_tokens, waiting_tokens, avg_load", 3, team, 1),
    ]
    if cadence == 5:
        v.append(("mv_cycle_time_analytics", "node_id, team_id, period_start, period_end, token_count, p50_minutes, p95_minutes, avg_minutes", 12, cycle, 7))
    return v


def run(args):
    minute = args.minute
    at = f"'2026-12-07 {minute // 60:02d}:{minute % 60:02d}:00'"
    statements = []
    for t in range(args.tenants):
        s = []
        for table, cols, n, row, kept_days in views(args.cadence, at):
            name = f"`t{t:05d}`.{table}"
            s.append(f"DELETE FROM {name} WHERE snapshot_at = {at} OR snapshot_at < {at} - INTERVAL {kept_days} DAY LIMIT 1000")
            s.append(f"INSERT INTO {name} (snapshot_at, {cols}) VALUES " + ", ".join(row(i) for i in range(n)))
        statements.append(s)
    with tempfile.TemporaryDirectory() as d:
        paths = [pathlib.Path(d) / f"w{c}.sql" for c in range(CLIENTS)]
        files = [open(p, "w") for p in paths]
        for f in files:
            f.write("DELIMITER //\n")
        k = args.tenants_per_transaction
        for g, first in enumerate(range(0, args.tenants, k)):
            body = [x for s in statements[first:first + k] for x in s]
            files[g % CLIENTS].write(";\n".join(["START TRANSACTION", *body, "COMMIT"]) + "//\n")
        for f in files:
            f.close()
        cpu, started = cpu_secs(args.pid), time.monotonic()
        ok = clients(args.socket, paths)
        wall, cpu = time.monotonic() - started, cpu_secs(args.pid) - cpu
    print(f"{args.tenants} tenants, {args.cadence}-minute boundary, {k} per transaction: "
          f"{wall:.2f} s wall, server CPU {cpu:.2f} s")
    return ok


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--socket", required=True)
    p.add_argument("--pid", required=True, type=int)
    sub = p.add_subparsers(dest="command", required=True)
    s = sub.add_parser("setup")
    s.add_argument("tenants", type=int)
    r = sub.add_parser("run")
    r.add_argument("tenants", type=int)
    r.add_argument("cadence", type=int, choices=[1, 5])
    r.add_argument("minute", type=int)
    r.add_argument("--tenants-per-transaction", type=int, default=1)
    args = p.parse_args()
    if args.command == "run" and not 0 <= args.minute < 1440:
        p.error(f"MINUTE {args.minute}: use 0 to 1439, a minute of the day (one per run)")
    ok = setup(args) if args.command == "setup" else run(args)
    raise SystemExit(0 if ok else 1)


if __name__ == "__main__":
    main()
