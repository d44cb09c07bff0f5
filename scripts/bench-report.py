#!/usr/bin/env python3
"""Report of scripts/bench-vs-ovs.sh: medians per scenario and switch, as a
table on stdout, markdown + JSON + PNG bar chart under $OUT. Reads the runs
from $RESULTS (one JSON object per line) and the context from the
environment the script exports."""
import json
import os
import platform
import statistics
import subprocess

env = os.environ
runs = [json.loads(l) for l in open(env["RESULTS"]) if l.strip()]
names = dict(
    kv.split("=", 1) for kv in env.get("SCENARIO_NAMES", "").split(";") if "=" in kv
)
scenarios = list(dict.fromkeys(list(names) + [r["scenario"] for r in runs]))

# Scenarios that cannot be measured with these vdevs, and why (no fake
# numbers: the row says so).
NOT_MEASURABLE = {
    "ct_64_1m": "not measurable here: net_pcap infinite_rx keeps every frame of the pcap "
    "in an mbuf of the port's mempool, so 1M connections need a pool of over 1M mbufs. "
    "OVS 3.1 caps its shared mempool at MAX_NB_MBUF = 262144 mbufs (lib/netdev-dpdk.c; "
    "the per-port model sizes pools from the queue sizes, also far below 1M), and 1M "
    "mbufs of ~2.3 KiB (rvs) exceed the EAL's -m 1024 MiB. A 1M-connection run needs "
    "a traffic generator on a NIC (or a ring/vhost peer), not pcap replay.",
}


def cpu_model():
    for line in open("/proc/cpuinfo"):
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor()


def dpdk_version():
    try:
        return subprocess.run(
            ["pkg-config", "--modversion", "libdpdk"], capture_output=True, text=True
        ).stdout.strip()
    except OSError:
        return "unknown"


limit_on = env.get("LIMIT", "1") == "1"
LIMIT_LABEL = "DPDK io-fwd (rvs-pktgen iofwd, testpmd not packaged)"
machine = {
    "cpu": cpu_model(),
    "cores": os.cpu_count(),
    "kernel": platform.release(),
    "memory_gib": round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1),
    "ovs": env.get("OVS_VERSION", "").strip(),
    "rvs": env.get("RVS_REV", ""),
    "dpdk": dpdk_version(),
    "rustc": env.get("RUSTC_VERSION", ""),
    "load_before": env.get("LOAD_BEFORE", ""),
    "load_after": env.get("LOAD_AFTER", ""),
    "rounds": int(env.get("ROUNDS", "3")),
    "warmup_s": float(env.get("WARMUP", "5")),
    "window_s": float(env.get("WINDOW", "10")),
    "pmd_perf_metrics": env.get("PERF_METRICS", "true"),
    "limit": LIMIT_LABEL if limit_on else "not run",
}


def med(xs):
    xs = [x for x in xs if x is not None]
    return statistics.median(xs) if xs else None

STAGES = ["rx", "extract", "EMC", "SMC/dpcls", "upcall", "actions", "tx", "other", "total"]

rows = []
for sc in scenarios:
    row = {"scenario": sc, "description": names.get(sc, sc)}
    for sw in ("ovs", "rvs"):
        rs = [r for r in runs if r["scenario"] == sc and r["switch"] == sw]
        ok = [r["pps"] for r in rs if r["pps"] is not None]
        cyc = [r.get("cycles") or {} for r in rs if r["pps"] is not None]
        row[sw] = {
            "pipeline": rs[0]["pipeline"] if rs else None,
            "runs_mpps": [round(p / 1e6, 3) for p in ok],
            "errors": [r["raw"] for r in rs if r["pps"] is None],
            "median_mpps": round(statistics.median(ok) / 1e6, 3) if ok else None,
            # Busy cycles per received packet (pmd-perf-show "Rx packets"),
            # median over the runs.
            "cycles_per_pkt": med([c.get("busy_cycles_per_pkt") for c in cyc]),
            "stages": {
                st: med([(c.get("stages") or {}).get(st) for c in cyc]) for st in STAGES
            }
            if any(c.get("stages") for c in cyc)
            else None,
        }
    o, v = row["ovs"]["median_mpps"], row["rvs"]["median_mpps"]
    row["ratio_rvs_ovs"] = round(v / o, 3) if o and v else None
    lim = [r["pps"] for r in runs if r["scenario"] == sc and r["switch"] == "iofwd" and r["pps"]]
    row["limit_mpps"] = round(statistics.median(lim) / 1e6, 3) if lim else None
    row["limit"] = (
        f"{row['limit_mpps']:.2f}" if lim else ("failed" if limit_on else "not run")
    )
    row["ratio_rvs_limit"] = round(v / row["limit_mpps"], 3) if v and lim else None
    if sc in NOT_MEASURABLE:
        row["note"] = NOT_MEASURABLE[sc]
        row["limit"] = "—"
    rows.append(row)
for sc, what in [
    ("vxlan_encap", "VXLAN encapsulation"),
    ("geneve_encap", "Geneve encapsulation"),
]:
    rows.append(
        {
            "scenario": sc,
            "description": what,
            "ovs": {"pipeline": None, "median_mpps": None, "runs_mpps": [], "errors": []},
            "rvs": {"pipeline": None, "median_mpps": None, "runs_mpps": [], "errors": []},
            "ratio_rvs_ovs": None,
            "ratio_rvs_limit": None,
            "limit": "—",
            "note": "not yet supported (rvs has no tunnel ports); not run",
        }
    )


def cell(sw, row):
    m = row[sw]["median_mpps"]
    if m is not None:
        return f"{m:.2f}"
    if row.get("note", "").startswith("not measurable"):
        return "not measurable here"
    if row.get("note"):
        return "not yet supported" if sw == "rvs" else "not run"
    if row[sw]["pipeline"] is None:
        return "not yet supported by rvs" if sw == "rvs" else "—"
    return "failed"


def verdict(row):
    r = row["ratio_rvs_ovs"]
    if r is None:
        return "—"
    if r >= 2.0:
        return "goal met (>= 2x OVS)"
    if r >= 1.0:
        return f"above OVS, below the 2x goal"
    return "**rvs below OVS**"


header = (
    f"| scenario | OVS Mpps (median) | rvs Mpps (median) | ratio rvs/OVS | verdict | "
    f"limit Mpps ({LIMIT_LABEL}) | rvs/limit | pipeline (both) | OVS runs | rvs runs |"
)
lines = [header, "|---|---|---|---|---|---|---|---|---|---|"]
for row in rows:
    ratio = f"{row['ratio_rvs_ovs']:.2f}" if row["ratio_rvs_ovs"] else "—"
    rl = f"{row['ratio_rvs_limit']:.2f}" if row.get("ratio_rvs_limit") else "—"
    lines.append(
        "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |".format(
            row["description"],
            cell("ovs", row),
            cell("rvs", row),
            ratio,
            verdict(row),
            row["limit"],
            rl,
            row["rvs"]["pipeline"] or row["ovs"]["pipeline"] or "—",
            ", ".join(f"{x:.2f}" for x in row["ovs"]["runs_mpps"]) or "—",
            ", ".join(f"{x:.2f}" for x in row["rvs"]["runs_mpps"]) or "—",
        )
    )
table = "\n".join(lines)
print(table)


def fmt(x):
    return "—" if x is None else f"{x:.0f}"


cyc_lines = [
    "| scenario | OVS cycles/pkt | rvs cycles/pkt | "
    + " | ".join(f"rvs {st}" for st in STAGES[:-1])
    + " |",
    "|---|---|---|" + "---|" * (len(STAGES) - 1),
]
for row in rows:
    if row["ovs"]["median_mpps"] is None and row["rvs"]["median_mpps"] is None:
        continue
    st = row["rvs"]["stages"] or {}
    cyc_lines.append(
        "| {} | {} | {} | {} |".format(
            row["description"],
            fmt(row["ovs"]["cycles_per_pkt"]),
            fmt(row["rvs"]["cycles_per_pkt"]),
            " | ".join(fmt(st.get(s)) for s in STAGES[:-1]),
        )
    )
cyc_table = "\n".join(cyc_lines)
print()
print(cyc_table)
notes = [f"* {row['description']}: {row['note']}" for row in rows if row.get("note")]
notes.append(
    "* Multi-core scaling: not measurable here (2 cores: core 0 is the EAL main "
    "lcore / other processes, core 1 the single PMD)."
)
below = [r["description"] for r in rows if r["ratio_rvs_ovs"] and r["ratio_rvs_ovs"] < 1]
if below:
    notes.insert(0, "* **rvs is below OVS-DPDK in: " + "; ".join(below) + ".**")
print("\n".join(notes))

out, stamp = env["OUT"], env["STAMP"]
base = os.path.join(out, f"vs-ovs-{stamp}")
with open(base + ".json", "w") as f:
    json.dump({"machine": machine, "rows": rows, "runs": runs}, f, indent=1)
md = [
    f"# rvs vs OVS-DPDK, {stamp} UTC",
    "",
    "`scripts/bench-vs-ovs.sh` (ROUNDS={rounds}, WARMUP={warmup_s:g} s, WINDOW={window_s:g} s): "
    "one PMD core each (`pmd-cpu-mask=0x2`, `dpdk-lcore-mask=0x1`), rx port "
    "`net_pcap0,rx_pcap=FILE,infinite_rx=1`, tx port `net_null0,no-rx=1`, EAL "
    "`--no-huge --legacy-mem -m 1024 --no-pci --no-shconf`; rate = growth of "
    "`statistics:tx_packets` of the tx port. Runs alternate OVS, rvs per round. "
    "Frame sizes include the 4-byte FCS (a 64 B frame is 60 bytes in the pcap).".format(**machine),
    "",
    f"Machine: {machine['cpu']}, {machine['cores']} cores, {machine['memory_gib']} GiB, "
    f"kernel {machine['kernel']}; {machine['ovs']}; DPDK {machine['dpdk']}; rvs {machine['rvs']}, "
    f"{machine['rustc']}; load average before {machine['load_before']}, after {machine['load_after']}.",
    "",
    table,
    "",
    "Cycles per packet (median over the runs, measuring window only): busy PMD "
    "cycles per received packet from `ovs-appctl dpif-netdev/pmd-perf-show` "
    "(\"Rx packets ... cycles/pkt\") of each switch, and rvs's \"Cycles per packet "
    f"by stage\" (TSC). `pmd-perf-metrics={machine['pmd_perf_metrics']}` on both.",
    "",
    cyc_table,
    "",
    *notes,
    "",
]
with open(base + ".md", "w") as f:
    f.write("\n".join(md))

try:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    measured = [r for r in rows if r["ovs"]["median_mpps"] or r["rvs"]["median_mpps"]]
    fig, ax = plt.subplots(figsize=(10, 4.5))
    xs = range(len(measured))
    w = 0.38
    ov = [r["ovs"]["median_mpps"] or 0 for r in measured]
    rv = [r["rvs"]["median_mpps"] or 0 for r in measured]
    ax.bar([x - w / 2 for x in xs], ov, w, label="OVS-DPDK 3.1")
    ax.bar([x + w / 2 for x in xs], rv, w, label="rvs")
    for x, r in zip(xs, measured):
        if r["rvs"]["median_mpps"] is None:
            ax.text(x + w / 2, 0.05, "n/s", ha="center", va="bottom", fontsize=8, rotation=90)
    ax.set_xticks(list(xs))
    ax.set_xticklabels([r["description"].replace(", ", "\n") for r in measured], fontsize=8)
    ax.set_ylabel("Mpps (median), one PMD core")
    ax.set_title(f"rvs vs OVS-DPDK on DPDK vdevs ({machine['cpu']})", fontsize=9)
    ax.legend()
    fig.tight_layout()
    fig.savefig(base + ".png", dpi=110)
    print(f"wrote {base}.md, {base}.json, {base}.png")
except ImportError:
    print(f"wrote {base}.md, {base}.json (python3-matplotlib missing: no chart)")
