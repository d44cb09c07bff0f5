#!/usr/bin/env bash
# flow_mod rate: how long the real `ovs-ofctl` takes to install N flows into
# a bridge of rvs-vswitchd and of Open vSwitch's ovs-vswitchd (Debian 3.1,
# userspace datapath), alternating OVS, rvs, OVS, rvs ... (ROUNDS rounds).
#
# Per switch and round: a fresh ovsdb-server + switch in a private
# directory, one bridge (datapath_type=netdev, no ports), then
#   1. `ovs-ofctl --bundle add-flows br0 FILE` (OpenFlow 1.4 bundle, atomic
#      commit: how most scripts install flows), timed to the command's exit;
#   2. `ovs-ofctl dump-aggregate br0` must report N flows (checked);
#   3. `ovs-ofctl del-flows br0` (timed), then `ovs-ofctl add-flows br0 FILE`
#      (one flow_mod per flow, no bundle), timed the same way, and checked.
# (The bridge gets a name of its own per run, shown here as br0.)
# The flows are N rules `table=0,priority=100,udp,nw_dst=10.X.Y.Z,
# tp_dst=P,actions=output:2` (distinct matches).
#
# Usage: scripts/bench-flowmod.sh [N] [ROUNDS]     (as root; default 100000 3)
# Prints a markdown table (median seconds and flow_mods/s) and writes it with
# the raw runs to benches/results/flowmod-<date>.{md,json}.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
N=${1:-100000}
ROUNDS=${2:-3}
SCHEMA=/usr/share/openvswitch/vswitch.ovsschema
OVS_BIN=/usr/sbin/ovs-vswitchd

# OVS's userspace datapath is a tap device named ovs-netdev: one
# ovs-vswitchd with netdev bridges per host at a time.
if pgrep -f 'ovs-vswitchd(-dpdk)? ' >/dev/null; then
    echo "error: an ovs-vswitchd is running (it holds the ovs-netdev datapath); stop it first" >&2
    exit 1
fi
scripts/setup.sh >/dev/null
cargo build --release -q -p vswitchd
RVS_BIN=$ROOT/target/release/rvs-vswitchd

WORK=$(mktemp -d /tmp/rvs-flowmod.XXXXXX)
cleanup() {
    # run_one runs in a subshell: find its daemons by their pidfiles.
    for pf in "$WORK"/*/vswitchd.pid "$WORK"/*/ovsdb.pid; do
        [ -s "$pf" ] && kill "$(cat "$pf")" 2>/dev/null || true
    done
    sleep 0.3
    rm -rf "$WORK"
}
trap cleanup EXIT

python3 - "$N" >"$WORK/flows.txt" <<'EOF'
import sys
n = int(sys.argv[1])
for i in range(n):
    a = 0x0a000000 + i
    print(f"table=0,priority=100,udp,nw_dst={a >> 24}.{(a >> 16) & 255}.{(a >> 8) & 255}.{a & 255},"
          f"tp_dst={1000 + i % 1000},actions=output:2")
EOF

now() { date +%s.%N; }

run_one() { # SWITCH ROUND -> "bundle_s plain_s"
    local sw=$1 r=$2
    local d=$WORK/$sw-$r
    mkdir -p "$d"
    export OVS_RUNDIR=$d OVS_LOGDIR=$d OVS_DBDIR=$d OVS_SYSCONFDIR=$d
    local vs=(ovs-vsctl --timeout=60 --db=unix:$d/db.sock)
    ovsdb-tool create "$d/conf.db" "$SCHEMA"
    ovsdb-server "$d/conf.db" --remote=punix:"$d/db.sock" --unixctl="$d/ovsdb.ctl" \
        --pidfile="$d/ovsdb.pid" --log-file="$d/ovsdb.log" --detach --no-chdir -vconsole:off
    "${vs[@]}" --no-wait init
    local bin=$OVS_BIN
    [ "$sw" = rvs ] && bin=$RVS_BIN
    "$bin" unix:"$d/db.sock" --pidfile="$d/vswitchd.pid" --log-file="$d/vswitchd.log" \
        --unixctl="$d/vswitchd.ctl" --detach --no-chdir -vconsole:off
    # A bridge name of its own: the netdev bridge's internal port is a tap
    # device of that name in the host's namespace.
    local br=fm$$$r${sw:0:1}
    if ! "${vs[@]}" add-br "$br" -- set bridge "$br" datapath_type=netdev; then
        echo "error: $sw could not create bridge $br; its log:" >&2
        tail -n 20 "$d/vswitchd.log" >&2
        exit 1
    fi
    ovs-ofctl del-flows "$br"
    local t0 t1 t2 t3 t4 n
    t0=$(now)
    ovs-ofctl --bundle add-flows "$br" "$WORK/flows.txt"
    t1=$(now)
    n=$(ovs-ofctl dump-aggregate "$br" | sed -n 's/.*flow_count=\([0-9]*\).*/\1/p')
    if [ "$n" != "$N" ]; then
        echo "error: $sw has $n flows after the bundle, expected $N" >&2
        exit 1
    fi
    t4=$(now)
    ovs-ofctl del-flows "$br"
    t2=$(now)
    ovs-ofctl add-flows "$br" "$WORK/flows.txt"
    t3=$(now)
    n=$(ovs-ofctl dump-aggregate "$br" | sed -n 's/.*flow_count=\([0-9]*\).*/\1/p')
    if [ "$n" != "$N" ]; then
        echo "error: $sw has $n flows after add-flows, expected $N" >&2
        exit 1
    fi
    ovs-appctl -t "$d/vswitchd.ctl" exit >/dev/null 2>&1 || true
    # The next switch may start only once this one is gone (its datapath
    # and bridge tap devices with it).
    for pf in "$d/vswitchd.pid" "$d/ovsdb.pid"; do
        [ -s "$pf" ] || continue
        local pid
        pid=$(cat "$pf")
        kill "$pid" 2>/dev/null || true
        for _ in $(seq 1 100); do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.1
        done
    done
    python3 -c "import sys; print(f'{float(sys.argv[2])-float(sys.argv[1]):.3f} {float(sys.argv[4])-float(sys.argv[3]):.3f} {float(sys.argv[3])-float(sys.argv[5]):.3f}')" \
        "$t0" "$t1" "$t2" "$t3" "$t4"
}

LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)
RAW=$WORK/raw.txt
: >"$RAW"
for r in $(seq 1 "$ROUNDS"); do
    for sw in ovs rvs; do
        res=$(run_one "$sw" "$r")
        echo "round $r $sw: bundle, add-flows, del-flows (s): $res" >&2
        echo "$sw $r $res" >>"$RAW"
    done
done
LOAD_AFTER=$(cut -d' ' -f1-3 /proc/loadavg)

STAMP=$(date -u +%Y%m%d-%H%M)
OUT=$ROOT/benches/results/flowmod-$STAMP
python3 - "$RAW" "$N" "$OUT" "$LOAD_BEFORE" "$LOAD_AFTER" "$(git rev-parse --short HEAD)" <<'EOF'
import json, statistics, subprocess, sys, platform
raw, n, out, lb, la, rev = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5], sys.argv[6]
runs = {sw: {"bundle": [], "plain": [], "del": []} for sw in ("ovs", "rvs")}
for line in open(raw):
    sw, r, b, p, d = line.split()
    runs[sw]["bundle"].append(float(b))
    runs[sw]["plain"].append(float(p))
    runs[sw]["del"].append(float(d))
cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?")
ovs_ver = subprocess.run(["ovs-vswitchd", "--version"], capture_output=True, text=True).stdout.splitlines()[0]
rows = []
for kind, label in (("bundle", "ovs-ofctl --bundle add-flows"), ("plain", "ovs-ofctl add-flows"),
                    ("del", "ovs-ofctl del-flows")):
    o = statistics.median(runs["ovs"][kind]); v = statistics.median(runs["rvs"][kind])
    rows.append(dict(command=label, flows=n, ovs_s=o, rvs_s=v, ovs_rate=n / o, rvs_rate=n / v,
                     ratio=o / v, ovs_runs=runs["ovs"][kind], rvs_runs=runs["rvs"][kind]))
md = [f"flow_mod rate, {n} flows (`scripts/bench-flowmod.sh {n}`), {rev}, {cpu}, "
      f"{subprocess.run(['nproc'], capture_output=True, text=True).stdout.strip()} cores, "
      f"kernel {platform.release()}, {ovs_ver}; load before {lb}, after {la}", "",
      "| command | OVS s (median) | rvs s (median) | OVS flow_mods/s | rvs flow_mods/s | speed rvs/OVS | OVS runs | rvs runs |",
      "|---|---|---|---|---|---|---|---|"]
for r in rows:
    md.append(f"| {r['command']} | {r['ovs_s']:.2f} | {r['rvs_s']:.2f} | {r['ovs_rate']:.0f} | {r['rvs_rate']:.0f} | "
              f"{r['ratio']:.2f} | {', '.join(f'{x:.2f}' for x in r['ovs_runs'])} | {', '.join(f'{x:.2f}' for x in r['rvs_runs'])} |")
text = "\n".join(md) + "\n"
open(out + ".md", "w").write(text)
json.dump(dict(rev=rev, cpu=cpu, kernel=platform.release(), ovs=ovs_ver, load_before=lb, load_after=la, rows=rows),
          open(out + ".json", "w"), indent=1)
print(text)
print(f"written: {out}.md {out}.json")
EOF
