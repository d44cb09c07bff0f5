#!/usr/bin/env bash
# rvs-vswitchd against OVS-DPDK (Debian's openvswitch-switch-dpdk, OVS 3.1 on
# DPDK 22.11) on the same DPDK vdevs, one PMD core each, same pcap.
#
# Each scenario runs on both switches alternately (OVS, rvs, OVS, rvs, ...)
# for ROUNDS rounds. A run: fresh ovsdb-server and switch, bridge br0
# (datapath_type=netdev) with p1 = net_pcap replaying the scenario's pcap
# (infinite_rx=1) and p2 = net_null (no-rx=1, drops what it is given); the
# rate is the growth of p2's statistics:tx_packets over WINDOW seconds after
# WARMUP seconds, timed between two updates of the statistics column (both
# switches write it every 5 s). The PMD counters are cleared when the window
# starts (pmd-stats-clear) and `dpif-netdev/pmd-perf-show` and
# `pmd-stats-show` of both switches are saved when it ends: cycles per
# packet (OVS and rvs totals, rvs by stage) go into the report, with
# `other_config:pmd-perf-metrics=PERF_METRICS` on both. Each round also runs
# `rvs-pktgen iofwd` (DPDK io forwarding, the testpmd --forward-mode=io
# equivalent; Debian 12 does not package dpdk-testpmd) on the same vdevs and
# EAL options, pinned to the PMD core: the "limit" column. Prints the median
# per switch and writes markdown, JSON and a PNG bar chart to benches/results/.
#
# Usage: scripts/bench-vs-ovs.sh [SCENARIO...]
#   env: ROUNDS (3), WARMUP (5 s), WINDOW (10 s), OUT (benches/results),
#        PERF_METRICS (true), LIMIT (1: run iofwd; 0: skip),
#        SWITCHES ("ovs rvs"), RVS_BIN (target/release/rvs-vswitchd; for A/B runs)
# Scenarios: pf_64_1flow pf_64_10kflows normal_64 pf_512 pf_1518
#            of_multitable_64 of_pipeline_100k ct_64 ct_64_10k ct_64_1m
#            (same OpenFlow pipelines on both switches)
# Needs root (DPDK, pinning). No hugepages or NIC needed.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
ROUNDS=${ROUNDS:-3}
WARMUP=${WARMUP:-5}
WINDOW=${WINDOW:-10}
OUT=${OUT:-benches/results}
PERF_METRICS=${PERF_METRICS:-true}
LIMIT=${LIMIT:-1}
SWITCHES=${SWITCHES:-ovs rvs}
EAL_EXTRA_BASE="--no-huge --legacy-mem -m 1024 --no-pci --no-shconf"
OVS_BIN=/usr/lib/openvswitch-switch-dpdk/ovs-vswitchd-dpdk
SCHEMA=/usr/share/openvswitch/vswitch.ovsschema
ALL_SCENARIOS=(pf_64_1flow pf_64_10kflows normal_64 pf_512 pf_1518 of_multitable_64 of_pipeline_100k
    ct_64 ct_64_10k ct_64_1m)
if [ $# -gt 0 ]; then SCENARIOS=("$@"); else SCENARIOS=("${ALL_SCENARIOS[@]}"); fi

# --- what the benchmark needs: OVS-DPDK, the vdev PMDs, matplotlib ---------
need_apt=()
for pkg in openvswitch-switch-dpdk librte-mempool-ring23 librte-net-pcap23 librte-net-null23 \
    python3-matplotlib libdpdk-dev libclang-dev; do
    dpkg -s "$pkg" >/dev/null 2>&1 || need_apt+=("$pkg")
done
if [ ${#need_apt[@]} -gt 0 ]; then
    export DEBIAN_FRONTEND=noninteractive
    own_policy=0
    # The packages' maintainer scripts must not start the system's daemons.
    if [ ! -e /usr/sbin/policy-rc.d ]; then
        printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
        chmod 755 /usr/sbin/policy-rc.d
        own_policy=1
    fi
    apt-get update -qq
    rc=0
    apt-get install -y -qq --no-install-recommends "${need_apt[@]}" || rc=$?
    [ "$own_policy" = 1 ] && rm -f /usr/sbin/policy-rc.d
    [ "$rc" = 0 ] || exit "$rc"
fi
# Debian 12 ships no dpdk-testpmd; rvs-pktgen iofwd stands in for it.
TESTPMD=$(command -v dpdk-testpmd || true)

echo "== building rvs-vswitchd and rvs-pktgen (release, feature dpdk)"
cargo build --release -q -p vswitchd -p pktgen --features vswitchd/dpdk,pktgen/dpdk
RVS_BIN=${RVS_BIN:-$ROOT/target/release/rvs-vswitchd}
PKTGEN=$ROOT/target/release/rvs-pktgen

WORK=$(mktemp -d /tmp/rvs-bench.XXXXXX)
PIDS=()
cleanup() {
    for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
}
trap cleanup EXIT

# --- traffic -----------------------------------------------------------------
# Host A (02:00:00:00:00:01, on p1) sends to host B (02:00:00:00:00:02), which
# the NORMAL pipelines are told is behind p2 (ovs-appctl fdb/add).
echo "== pcaps"
"$PKTGEN" pcap -o "$WORK/64_1flow.pcap" --size 64
"$PKTGEN" pcap -o "$WORK/64_10k.pcap" --size 64 --flows 10000 \
    --src-ip 10.0.0.1-10.0.39.16 --src-port 1024-1123 --dst-port 2000-2099
"$PKTGEN" pcap -o "$WORK/512_1flow.pcap" --size 512
"$PKTGEN" pcap -o "$WORK/1518_1flow.pcap" --size 1518
# 100k distinct 5-tuples (source addresses 10.0.0.1-10.1.134.160).
"$PKTGEN" pcap -o "$WORK/64_100k.pcap" --size 64 --flows 100000 \
    --src-ip 10.0.0.1-10.1.134.160 --src-port 1024-1123 --dst-port 2000-2099

pcap_of() {
    case $1 in
        pf_64_1flow | normal_64 | of_multitable_64 | ct_64) echo "$WORK/64_1flow.pcap" ;;
        pf_64_10kflows | ct_64_10k) echo "$WORK/64_10k.pcap" ;;
        of_pipeline_100k) echo "$WORK/64_100k.pcap" ;;
        pf_512) echo "$WORK/512_1flow.pcap" ;;
        pf_1518) echo "$WORK/1518_1flow.pcap" ;;
    esac
}

# The pipeline each switch runs per scenario ("" = not supported). Both
# switches get the same one: rvs takes OpenFlow through ovs-ofctl on
# $OVS_RUNDIR/br0.mgmt like OVS.
pipeline_of() { # SWITCH SCENARIO
    case "$2" in
        normal_64) echo "NORMAL + fdb/add" ;;
        of_multitable_64) echo "OpenFlow 3 tables (goto_table)" ;;
        of_pipeline_100k) echo "OpenFlow 10 rules, 4 tables (registers, resubmit)" ;;
        ct_64 | ct_64_10k) echo "OpenFlow ct(commit) + output" ;;
        ct_64_1m) echo "" ;;
        *) echo "OpenFlow in_port=1,actions=output:2" ;;
    esac
}

describe() {
    case $1 in
        pf_64_1flow) echo "port forward, 64 B, 1 flow" ;;
        pf_64_10kflows) echo "port forward, 64 B, 10k flows" ;;
        normal_64) echo "NORMAL with learned MACs, 64 B, 1 flow" ;;
        pf_512) echo "port forward, 512 B, 1 flow" ;;
        pf_1518) echo "port forward, 1518 B, 1 flow" ;;
        of_multitable_64) echo "OpenFlow multi-table, 64 B, 1 flow" ;;
        of_pipeline_100k) echo "OpenFlow 10-rule pipeline, 64 B, 100k flows" ;;
        ct_64) echo "conntrack, 64 B, 1 flow" ;;
        ct_64_10k) echo "conntrack, 64 B, 10k connections" ;;
        ct_64_1m) echo "conntrack, 64 B, 1M connections" ;;
    esac
}

# One run: prints the rate in packets per second (or "error: ...").
run_one() { # SWITCH SCENARIO ROUND
    local sw=$1 sc=$2 r=$3
    local d=$WORK/$sw-$sc-$r
    mkdir -p "$d"
    export OVS_RUNDIR=$d OVS_LOGDIR=$d OVS_DBDIR=$d OVS_SYSCONFDIR=$d
    local vs=(ovs-vsctl --timeout=60 --db=unix:$d/db.sock)
    ovsdb-tool create "$d/conf.db" "$SCHEMA"
    ovsdb-server "$d/conf.db" --remote=punix:"$d/db.sock" --unixctl="$d/ovsdb.ctl" \
        --pidfile="$d/ovsdb.pid" --log-file="$d/ovsdb.log" --detach --no-chdir -vconsole:off
    "${vs[@]}" --no-wait init
    "${vs[@]}" --no-wait set open . other_config:dpdk-init=true \
        other_config:pmd-cpu-mask=0x2 other_config:dpdk-lcore-mask=0x1 \
        "other_config:dpdk-extra=$EAL_EXTRA_BASE --file-prefix=rb$$$sw$r" \
        other_config:pmd-perf-metrics="$PERF_METRICS"
    local bin=$OVS_BIN
    [ "$sw" = rvs ] && bin=$RVS_BIN
    "$bin" unix:"$d/db.sock" --pidfile="$d/vswitchd.pid" --log-file="$d/vswitchd.log" \
        --unixctl="$d/vswitchd.ctl" --detach --no-chdir -vconsole:off
    local app=(ovs-appctl --timeout=30 -t "$d/vswitchd.ctl")
    "${vs[@]}" add-br br0 -- set bridge br0 datapath_type=netdev
    "${vs[@]}" add-port br0 p2 -- set interface p2 type=dpdk ofport_request=2 \
        'options:dpdk-devargs="net_null0,no-rx=1"'
    case "$(pipeline_of "$sw" "$sc")" in
        "NORMAL + fdb/add")
            "${app[@]}" fdb/add br0 p2 0 02:00:00:00:00:02 >/dev/null
            ;;
        "OpenFlow in_port=1,actions=output:2")
            ovs-ofctl del-flows br0
            ovs-ofctl add-flow br0 in_port=1,actions=output:2
            ;;
        "OpenFlow 3 tables (goto_table)")
            ovs-ofctl del-flows br0
            ovs-ofctl -O OpenFlow13 add-flow br0 table=0,in_port=1,actions=goto_table:1
            ovs-ofctl -O OpenFlow13 add-flow br0 table=1,ip,nw_dst=10.0.0.0/8,actions=goto_table:2
            ovs-ofctl -O OpenFlow13 add-flow br0 table=2,udp,tp_dst=1024,actions=output:2
            ;;
        "OpenFlow ct(commit) + output")
            ovs-ofctl del-flows br0
            ovs-ofctl add-flow br0 "table=0,in_port=1,ip,ct_state=-trk,actions=ct(table=1)"
            ovs-ofctl add-flow br0 "table=1,in_port=1,ip,ct_state=+trk+new,actions=ct(commit),output:2"
            ovs-ofctl add-flow br0 "table=1,in_port=1,ip,ct_state=+trk+est,actions=output:2"
            ;;
        "OpenFlow 10 rules, 4 tables (registers, resubmit)")
            ovs-ofctl del-flows br0
            ovs-ofctl add-flows br0 - <<'FLOWS'
table=0,priority=100,in_port=1,ip,actions=load:0x1->NXM_NX_REG0[],resubmit(,1)
table=0,priority=0,actions=drop
table=1,priority=100,reg0=0x1,udp,actions=load:0x2->NXM_NX_REG1[],resubmit(,2)
table=1,priority=0,actions=drop
table=2,priority=100,ip,nw_dst=10.0.0.0/8,actions=resubmit(,3)
table=2,priority=50,ip,nw_src=192.168.0.0/16,actions=drop
table=2,priority=0,actions=drop
table=3,priority=100,reg1=0x2,udp,tp_dst=0/0xc000,actions=output:2
table=3,priority=90,tcp,actions=drop
table=3,priority=0,actions=drop
FLOWS
            ;;
    esac
    "${vs[@]}" add-port br0 p1 -- set interface p1 type=dpdk ofport_request=1 \
        "options:dpdk-devargs=\"net_pcap0,rx_pcap=$(pcap_of "$sc"),infinite_rx=1\""
    local err
    err=$("${vs[@]}" get interface p1 error)$("${vs[@]}" get interface p2 error)
    local rate
    if [ "$err" != "[][]" ]; then
        rate="error: $err"
    else
        sleep "$WARMUP"
        "${app[@]}" dpif-netdev/pmd-stats-clear >/dev/null 2>&1 || true
        rate=$(python3 - "$d/db.sock" "$WINDOW" <<'EOF'
import subprocess, sys, time
db, window = sys.argv[1], float(sys.argv[2])
def tx():
    out = subprocess.run(["ovs-vsctl", "--db=unix:" + db, "get", "interface", "p2",
                          "statistics:tx_packets"], capture_output=True, text=True).stdout
    return int(out.strip() or 0)
def next_change(v, limit=12.0):
    t0 = time.monotonic()
    while time.monotonic() - t0 < limit:
        n = tx()
        if n != v:
            return time.monotonic(), n
        time.sleep(0.05)
    raise SystemExit("error: statistics did not change")
t, v = next_change(tx())
t1, v1 = t, v
while t - t1 < window - 0.5:
    t, v = next_change(v)
print(f"{(v - v1) / (t - t1):.0f}")
EOF
        ) || rate="error: measurement failed"
        # The PMD counters of the window (cleared after the warm-up).
        "${app[@]}" dpif-netdev/pmd-perf-show >"$d/pmd-perf-show.txt" 2>&1 || true
        "${app[@]}" dpif-netdev/pmd-stats-show >"$d/pmd-stats-show.txt" 2>&1 || true
    fi
    "${app[@]}" exit >/dev/null 2>&1 || true
    sleep 0.5
    for pf in vswitchd.pid ovsdb.pid; do
        if [ -s "$d/$pf" ]; then
            kill "$(cat "$d/$pf")" 2>/dev/null || true
        fi
    done
    # The next run creates the datapath's tap devices (ovs-netdev, br0)
    # again: wait until this switch is gone and has released them, else the
    # next one fails with "creating tap device failed: Device or resource
    # busy" and forwards nothing.
    local vpid
    vpid=$(cat "$d/vswitchd.pid" 2>/dev/null || true)
    for _ in $(seq 1 100); do
        if { [ -z "$vpid" ] || ! kill -0 "$vpid" 2>/dev/null; } &&
            ! ip link show ovs-netdev >/dev/null 2>&1; then
            break
        fi
        sleep 0.1
    done
    # A switch that could not create br0 measured nothing.
    if grep -q "failed to create bridge br0" "$d/vswitchd.log" 2>/dev/null; then
        rate="error: $(grep -m1 'creating tap device failed\|failed to create bridge' "$d/vswitchd.log" | cut -d'|' -f5-)"
    fi
    echo "$rate"
}

echo "== machine"
LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)
echo "load average before: $LOAD_BEFORE"
RESULTS=$WORK/results.jsonl
: >"$RESULTS"
for sc in "${SCENARIOS[@]}"; do
    if [ -z "$(pipeline_of rvs "$sc")" ]; then
        echo "$sc: not measurable here (see the report)"
        continue
    fi
    for r in $(seq 1 "$ROUNDS"); do
        # The io-forwarding limit of the same vdevs, once per scenario.
        if [ "$LIMIT" = 1 ] && [ "$r" = 1 ]; then
            lim=$(timeout $((WARMUP + WINDOW + 60)) taskset -c 1 "$PKTGEN" iofwd \
                --rx-devargs "net_pcap0,rx_pcap=$(pcap_of "$sc"),infinite_rx=1" \
                --tx-devargs "net_null0,no-rx=1" --eal "$EAL_EXTRA_BASE --file-prefix=rbio$$" \
                --warmup "$WARMUP" --duration "$WINDOW" --json 2>>"$WORK/errors.log" | tail -1) ||
                lim="error: iofwd failed"
            printf '%-18s round %d %-5s %-40s %s\n' "$sc" "$r" iofwd "DPDK io forwarding" "$lim"
            python3 "$ROOT/scripts/bench-record.py" "$sc" "$r" iofwd "DPDK io forwarding" "$lim" >>"$RESULTS"
        fi
        for sw in $SWITCHES; do
            pipe=$(pipeline_of "$sw" "$sc")
            rate=$(run_one "$sw" "$sc" "$r" 2>>"$WORK/errors.log" | tail -1)
            printf '%-18s round %d %-5s %-40s %s\n' "$sc" "$r" "$sw" "$pipe" "$rate"
            python3 "$ROOT/scripts/bench-record.py" "$sc" "$r" "$sw" "$pipe" "$rate" \
                "$WORK/$sw-$sc-$r" >>"$RESULTS"
        done
    done
done
LOAD_AFTER=$(cut -d' ' -f1-3 /proc/loadavg)

mkdir -p "$OUT"
STAMP=$(date -u +%Y%m%d-%H%M)
export RESULTS OUT STAMP LOAD_BEFORE LOAD_AFTER ROUNDS WARMUP WINDOW TESTPMD PERF_METRICS LIMIT
export RVS_REV=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
export OVS_VERSION=$("$OVS_BIN" --version | head -2 | tr '\n' ' ')
export RUSTC_VERSION=$(rustc --version)
export SCENARIO_NAMES=$(for sc in "${SCENARIOS[@]}"; do printf '%s=%s;' "$sc" "$(describe "$sc")"; done)
# Debian's python3 (python3-matplotlib), not one a version manager put first.
PY=/usr/bin/python3
[ -x "$PY" ] || PY=python3
"$PY" "$ROOT/scripts/bench-report.py"
