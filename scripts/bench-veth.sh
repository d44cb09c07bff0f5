#!/usr/bin/env bash
# rvs-vswitchd against Debian's ovs-vswitchd (OVS 3.1, userspace datapath)
# end to end across veth pairs: two network namespaces, each joined by a veth
# pair to a netdev bridge whose two ports are AF_XDP sockets (type=afxdp) on
# the host ends. One PMD core each (pmd-cpu-mask), pmd-maxsleep left at its
# default (busy polling), the same NORMAL pipeline on both (the receiver's
# MAC put into the MAC table with ovs-appctl fdb/add).
#
# Traffic, per switch run:
#   * rvs-pktgen in NS_TX sends 64-byte UDP frames on the namespace end of the
#     first veth (AF_XDP) and receives them in NS_RX on the namespace end of
#     the second one (AF_XDP), with the sequence/timestamp stamp in the
#     payload: rx Mpps, loss %, latency p50/p99, for 1 and 1000 flows (source
#     port 1024-2023), at a fixed offered RATE and as fast as it can send;
#   * iperf3 TCP from NS_TX to NS_RX for IPERF_SECS seconds (Gbit/s).
# Rounds alternate OVS, rvs, OVS, rvs, ...; each run starts a fresh
# ovsdb-server and switch in a private directory. If Debian's ovs-vswitchd
# does not list afxdp in Open_vSwitch:iface_types, OVS runs with type=system
# (AF_PACKET) ports and rvs runs both afxdp and system, and the output says
# so. Everything is torn down on exit, failure or Ctrl-C.
#
# Usage: scripts/bench-veth.sh          (as root)
#   env: ROUNDS (3), DURATION (5 s per pktgen run), IPERF_SECS (5),
#        RATE (100000 pps offered: what a 2-core VM carries with low latency),
#        PMD_MASK (0x2), GEN_CPUS (0: cores the generators are pinned to),
#        PORT_TYPES (auto: "afxdp" if OVS has it), OUT (benches/results)
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
ROUNDS=${ROUNDS:-3}
DURATION=${DURATION:-5}
IPERF_SECS=${IPERF_SECS:-5}
RATE=${RATE:-100000}
PMD_MASK=${PMD_MASK:-0x2}
GEN_CPUS=${GEN_CPUS:-0}
OUT=${OUT:-benches/results}
OVS_BIN=/usr/sbin/ovs-vswitchd
SCHEMA=/usr/share/openvswitch/vswitch.ovsschema

scripts/setup.sh
echo "== building rvs-vswitchd and rvs-pktgen (release)"
cargo build --release -q -p vswitchd -p pktgen
RVS_BIN=$ROOT/target/release/rvs-vswitchd
PKTGEN=$ROOT/target/release/rvs-pktgen

# Unique names: several benchmarks may share the machine.
ID=$$
NS_TX=ns-tx-$ID NS_RX=ns-rx-$ID
VT=vt${ID}t VR=vt${ID}r # host ends (switch ports)
BR=vbr$ID               # not "br0": its tap device would clash with another run's
MAC_TX=02:00:00:00:00:01 MAC_RX=02:00:00:00:00:02
WORK=$(mktemp -d /tmp/rvs-bench-veth.XXXXXX)
CUR="" # the directory of the switch that is running, if any

stop_switch() { # DIR
    local d=$1
    ovs-vsctl --timeout=10 --db=unix:"$d/db.sock" --if-exists del-br "$BR" >/dev/null 2>&1 || true
    ovs-appctl --timeout=10 -t "$d/vswitchd.ctl" exit >/dev/null 2>&1 || true
    sleep 0.3
    for pf in vswitchd.pid ovsdb.pid; do
        if [ -s "$d/$pf" ]; then
            kill "$(cat "$d/$pf")" 2>/dev/null || true
        fi
    done
    sleep 0.3
    # Whatever XDP program a switch left on the host ends goes with it.
    for v in "$VT" "$VR"; do
        ip link set dev "$v" xdp off 2>/dev/null || true
        ip link set dev "$v" xdpgeneric off 2>/dev/null || true
    done
    ip link del "$BR" 2>/dev/null || true
}

cleanup() {
    set +e
    echo "== teardown"
    [ -n "$CUR" ] && stop_switch "$CUR"
    for ns in "$NS_TX" "$NS_RX"; do
        ip netns pids "$ns" 2>/dev/null | xargs -r kill 2>/dev/null
    done
    sleep 0.2
    ip link del "$VT" 2>/dev/null
    ip link del "$VR" 2>/dev/null
    ip netns del "$NS_TX" 2>/dev/null
    ip netns del "$NS_RX" 2>/dev/null
    ip link del "$BR" 2>/dev/null
    case "$WORK" in /tmp/rvs-bench-veth.*) rm -rf "$WORK" ;; esac
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# --- topology ------------------------------------------------------------------
echo "== namespaces $NS_TX (10.0.0.1, $MAC_TX) and $NS_RX (10.0.0.2, $MAC_RX); host ends $VT, $VR"
i=1
for pair in "$NS_TX:$VT:$MAC_TX" "$NS_RX:$VR:$MAC_RX"; do
    ns=${pair%%:*}
    rest=${pair#*:}
    host=${rest%%:*}
    mac=${rest#*:}
    ip netns add "$ns"
    ip link add "$host" type veth peer name eth0 netns "$ns"
    ip link set "$host" up
    ip -n "$ns" link set lo up
    ip -n "$ns" link set eth0 address "$mac"
    ip -n "$ns" addr add "10.0.0.$i/24" dev eth0
    ip -n "$ns" link set eth0 up
    # AF_XDP hands frames over as they are: TCP from the namespace must carry
    # full checksums, not offloaded partial ones.
    ip netns exec "$ns" ethtool -K eth0 tx off >/dev/null
    i=$((i + 1))
done
# No ARP needed for iperf3 (and none sent while pktgen's AF_XDP socket
# holds eth0).
ip -n "$NS_TX" neigh replace 10.0.0.2 lladdr "$MAC_RX" dev eth0
ip -n "$NS_RX" neigh replace 10.0.0.1 lladdr "$MAC_TX" dev eth0

# --- switches --------------------------------------------------------------------
start_switch() { # SWITCH PORT_TYPE DIR
    local sw=$1 pt=$2 d=$3
    mkdir -p "$d"
    export OVS_RUNDIR=$d OVS_LOGDIR=$d OVS_DBDIR=$d OVS_SYSCONFDIR=$d
    local vs=(ovs-vsctl --timeout=30 --db=unix:"$d/db.sock")
    ovsdb-tool create "$d/conf.db" "$SCHEMA"
    ovsdb-server "$d/conf.db" --remote=punix:"$d/db.sock" --unixctl="$d/ovsdb.ctl" \
        --pidfile="$d/ovsdb.pid" --log-file="$d/ovsdb.log" --detach --no-chdir -vconsole:off
    "${vs[@]}" --no-wait init
    "${vs[@]}" --no-wait set open . other_config:pmd-cpu-mask="$PMD_MASK"
    local bin=$OVS_BIN
    [ "$sw" = rvs ] && bin=$RVS_BIN
    CUR=$d
    "$bin" unix:"$d/db.sock" --pidfile="$d/vswitchd.pid" --log-file="$d/vswitchd.log" \
        --unixctl="$d/vswitchd.ctl" --detach --no-chdir -vconsole:off
    [ -z "$pt" ] && return 0
    "${vs[@]}" add-br "$BR" -- set bridge "$BR" datapath_type=netdev
    "${vs[@]}" add-port "$BR" "$VT" -- set interface "$VT" type="$pt" ofport_request=1
    "${vs[@]}" add-port "$BR" "$VR" -- set interface "$VR" type="$pt" ofport_request=2
    local err
    err=$("${vs[@]}" get interface "$VT" error)$("${vs[@]}" get interface "$VR" error)
    if [ "$err" != "[][]" ]; then
        echo "error: $err"
        return 1
    fi
    ovs-appctl --timeout=10 -t "$d/vswitchd.ctl" fdb/add "$BR" "$VR" 0 "$MAC_RX" >/dev/null
    sleep 1
}

echo "== does Debian's ovs-vswitchd have afxdp ports?"
"$OVS_BIN" --version | head -1
start_switch ovs "" "$WORK/probe"
sleep 1
OVS_TYPES=$(ovs-vsctl --timeout=10 --db=unix:"$WORK/probe/db.sock" get open . iface_types)
stop_switch "$WORK/probe"
CUR=""
echo "OVS iface_types: $OVS_TYPES"
if [[ "$OVS_TYPES" == *afxdp* ]]; then
    OVS_AFXDP=yes
    echo "OVS supports type=afxdp: both switches use afxdp ports"
else
    OVS_AFXDP=no
    echo "OVS has NO type=afxdp in this build: OVS runs type=system (AF_PACKET); rvs runs afxdp and system"
fi
if [ -z "${PORT_TYPES:-}" ]; then
    if [ "$OVS_AFXDP" = yes ]; then PORT_TYPES=afxdp; else PORT_TYPES="system afxdp"; fi
fi
ovs_port_type() { # PORT_TYPE -> what OVS runs for it
    if [ "$1" = afxdp ] && [ "$OVS_AFXDP" = no ]; then echo system; else echo "$1"; fi
}

# --- one run ----------------------------------------------------------------------
RESULTS=$WORK/results.jsonl
: >"$RESULTS"
record() { # SWITCH PORT_TYPE ROUND TEST JSON
    python3 -c 'import json,sys
r = dict(switch=sys.argv[1], port_type=sys.argv[2], round=int(sys.argv[3]), test=sys.argv[4])
try:
    r.update(json.loads(sys.argv[5]))
except ValueError:
    r["error"] = sys.argv[5]
print(json.dumps(r))' "$@" >>"$RESULTS"
}

pktgen_run() { # RATE FLOWS -> JSON summary (or an error line)
    local rate=$1 flows=$2 ports=()
    [ "$flows" -gt 1 ] && ports=(--src-port "1024-$((1023 + flows))")
    taskset -c "$GEN_CPUS" "$PKTGEN" run --tx afxdp:eth0 --tx-netns "$NS_TX" \
        --rx afxdp:eth0 --rx-netns "$NS_RX" --rate "$rate" --duration "$DURATION" \
        --size 64 --flows "$flows" --src-mac "$MAC_TX" --dst-mac "$MAC_RX" \
        --src-ip 10.0.0.1 --dst-ip 10.0.0.2 "${ports[@]}" --json 2>>"$WORK/pktgen.log" |
        tail -1 || echo "pktgen failed"
}

iperf_run() { # -> {"gbps": ...}
    local port=$((5201 + ID % 1000))
    ip netns exec "$NS_RX" taskset -c "$GEN_CPUS" iperf3 -s -1 -p "$port" >/dev/null 2>&1 &
    local srv=$!
    sleep 0.5
    local out
    out=$(ip netns exec "$NS_TX" taskset -c "$GEN_CPUS" iperf3 -c 10.0.0.2 -p "$port" \
        -t "$IPERF_SECS" -J 2>/dev/null || true)
    kill "$srv" 2>/dev/null || true
    wait "$srv" 2>/dev/null || true
    python3 -c 'import json,sys
try:
    e = json.loads(sys.stdin.read())["end"]
    print(json.dumps(dict(gbps=e["sum_received"]["bits_per_second"] / 1e9,
                          retransmits=e["sum_sent"].get("retransmits", 0))))
except Exception as x:
    print("iperf3 failed: %s" % x)' <<<"$out"
}

TESTS=("rate_1flow:$RATE:1" "rate_1000flows:$RATE:1000" "max_1flow:0:1" "max_1000flows:0:1000")
run_switch() { # SWITCH PORT_TYPE ROUND
    local sw=$1 pt=$2 r=$3 d=$WORK/$1-$2-$3 res
    if ! res=$(start_switch "$sw" "$pt" "$d" 2>>"$WORK/errors.log"); then
        echo "  $sw $pt round $r: switch did not start: $res"
        record "$sw" "$pt" "$r" start "switch did not start: $res"
        stop_switch "$d"
        CUR=""
        return 0
    fi
    CUR=$d
    local t name rate flows
    for t in "${TESTS[@]}"; do
        IFS=: read -r name rate flows <<<"$t"
        res=$(pktgen_run "$rate" "$flows")
        record "$sw" "$pt" "$r" "$name" "$res"
        printf '  %-4s %-6s round %d %-15s %s\n' "$sw" "$pt" "$r" "$name" "$res"
    done
    res=$(iperf_run)
    record "$sw" "$pt" "$r" iperf3 "$res"
    printf '  %-4s %-6s round %d %-15s %s\n' "$sw" "$pt" "$r" iperf3 "$res"
    stop_switch "$d"
    CUR=""
}

echo "== machine"
nproc
grep -m1 'model name' /proc/cpuinfo || true
uname -r
LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)
echo "load average before: $LOAD_BEFORE"
for pt in $PORT_TYPES; do
    ovs_pt=$(ovs_port_type "$pt")
    echo "== port type: rvs $pt, OVS $ovs_pt"
    for r in $(seq 1 "$ROUNDS"); do
        run_switch ovs "$ovs_pt" "$r"
        run_switch rvs "$pt" "$r"
    done
done
LOAD_AFTER=$(cut -d' ' -f1-3 /proc/loadavg)
echo "load average after: $LOAD_AFTER"

mkdir -p "$OUT"
STAMP=$(date -u +%Y%m%d-%H%M)
export RESULTS OUT STAMP LOAD_BEFORE LOAD_AFTER ROUNDS DURATION IPERF_SECS RATE PMD_MASK GEN_CPUS
export OVS_AFXDP OVS_TYPES PORT_TYPES
export RVS_REV=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
export OVS_VERSION=$("$OVS_BIN" --version | head -1)
export KERNEL=$(uname -r) NPROC=$(nproc)
export CPU=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//' || echo unknown)
python3 - <<'EOF'
import json, os, statistics
E = os.environ
rows = [json.loads(l) for l in open(E["RESULTS"]) if l.strip()]
ovs_afxdp = E["OVS_AFXDP"] == "yes"
rate = int(E["RATE"])
tests = [
    ("rate_1flow", f"{rate / 1e6:g} Mpps offered, 64 B, 1 flow"),
    ("rate_1000flows", f"{rate / 1e6:g} Mpps offered, 64 B, 1000 flows"),
    ("max_1flow", "max rate, 64 B, 1 flow"),
    ("max_1000flows", "max rate, 64 B, 1000 flows"),
]
# (metric key, label, unit, higher is better)
metrics = [
    ("rx_mpps", "rx", "Mpps", True),
    ("loss_pct", "loss", "%", False),
    ("p50_us", "latency p50", "µs", False),
    ("p99_us", "latency p99", "µs", False),
]
for r in rows:
    lat = r.get("latency_ns") or {}
    for k, src in (("p50_us", "p50"), ("p99_us", "p99")):
        if lat.get(src) is not None:
            r[k] = lat[src] / 1000.0

def ovs_type(pt):
    return pt if ovs_afxdp or pt != "afxdp" else "system"

def values(sw, pt, test, key):
    return [r[key] for r in sorted(rows, key=lambda r: r["round"])
            if r["switch"] == sw and r["port_type"] == pt and r["test"] == test
            and r.get(key) is not None]

def med(v):
    return statistics.median(v) if v else None

def fmt(v, nd=3):
    return "—" if v is None else f"{v:.{nd}f}"

table = []
for pt in E["PORT_TYPES"].split():
    opt = ovs_type(pt)
    label = f"rvs {pt} / OVS {opt}"
    for test, desc in tests:
        for key, mlabel, unit, hib in metrics:
            o, v = values("ovs", opt, test, key), values("rvs", pt, test, key)
            table.append(dict(ports=label, scenario=f"{desc}: {mlabel} ({unit})", metric=key,
                              higher_is_better=hib, ovs=o, rvs=v, ovs_median=med(o), rvs_median=med(v)))
    o, v = values("ovs", opt, "iperf3", "gbps"), values("rvs", pt, "iperf3", "gbps")
    table.append(dict(ports=label, scenario="iperf3 TCP, 1 stream: throughput (Gbit/s)", metric="gbps",
                      higher_is_better=True, ovs=o, rvs=v, ovs_median=med(o), rvs_median=med(v)))
for t in table:
    o, v = t["ovs_median"], t["rvs_median"]
    t["ratio_rvs_ovs"] = (v / o) if (o and v is not None) else None

nd = lambda t: 2 if t["metric"] in ("loss_pct", "p50_us", "p99_us", "gbps") else 3
print()
print(f"{'ports':<22} {'scenario':<58} {'OVS median':>11} {'rvs median':>11} {'rvs/OVS':>8}")
for t in table:
    print(f"{t['ports']:<22} {t['scenario']:<58} {fmt(t['ovs_median'], nd(t)):>11} "
          f"{fmt(t['rvs_median'], nd(t)):>11} {fmt(t['ratio_rvs_ovs'], 2):>8}")

base = f"{E['OUT']}/veth-{E['STAMP']}"
meta = dict(date_utc=E["STAMP"], rvs_rev=E["RVS_REV"], ovs=E["OVS_VERSION"],
            ovs_iface_types=E["OVS_TYPES"], ovs_has_afxdp=ovs_afxdp, kernel=E["KERNEL"],
            cpu=E["CPU"], nproc=int(E["NPROC"]), load_before=E["LOAD_BEFORE"],
            load_after=E["LOAD_AFTER"], rounds=int(E["ROUNDS"]),
            pktgen_seconds=float(E["DURATION"]), iperf3_seconds=float(E["IPERF_SECS"]),
            offered_pps=rate, pmd_cpu_mask=E["PMD_MASK"], generator_cpus=E["GEN_CPUS"])
with open(base + ".json", "w") as f:
    json.dump(dict(meta=meta, table=table, runs=rows), f, indent=1)
with open(base + ".md", "w") as f:
    f.write(f"# rvs vs OVS across veth pairs ({E['STAMP']} UTC)\n\n")
    f.write("`scripts/bench-veth.sh`: namespaces joined by veth pairs to a netdev bridge, "
            "NORMAL + fdb/add on both switches, one PMD core "
            f"(`pmd-cpu-mask={E['PMD_MASK']}`, busy polling), generators pinned to CPU(s) "
            f"{E['GEN_CPUS']}.\n\n")
    f.write(f"* rvs {E['RVS_REV']}; {E['OVS_VERSION']} (`/usr/sbin/ovs-vswitchd`), "
            f"iface_types `{E['OVS_TYPES']}`\n")
    f.write(f"* OVS afxdp: {'yes' if ovs_afxdp else 'NO (OVS runs type=system, AF_PACKET)'}\n")
    f.write(f"* {E['NPROC']} CPUs ({E['CPU']}), kernel {E['KERNEL']}; load average "
            f"{E['LOAD_BEFORE']} before, {E['LOAD_AFTER']} after\n")
    f.write(f"* {E['ROUNDS']} rounds (OVS, rvs alternating), rvs-pktgen {E['DURATION']} s per "
            f"test, iperf3 {E['IPERF_SECS']} s; loss and latency from rvs-pktgen's payload stamp\n\n")
    f.write("| ports | scenario | OVS median | rvs median | rvs/OVS | OVS runs | rvs runs |\n")
    f.write("|---|---|---|---|---|---|---|\n")
    for t in table:
        runs = lambda v: ", ".join(fmt(x, nd(t)) for x in v) or "—"
        f.write(f"| {t['ports']} | {t['scenario']} | {fmt(t['ovs_median'], nd(t))} | "
                f"{fmt(t['rvs_median'], nd(t))} | {fmt(t['ratio_rvs_ovs'], 2)} | "
                f"{runs(t['ovs'])} | {runs(t['rvs'])} |\n")
    errs = [r for r in rows if "error" in r]
    if errs:
        f.write("\nErrors:\n\n")
        for r in errs:
            f.write(f"* {r['switch']} {r['port_type']} round {r['round']} {r['test']}: {r['error']}\n")
print(f"\nwrote {base}.md and {base}.json")
EOF
