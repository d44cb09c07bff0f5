#!/usr/bin/env python3
"""One run of scripts/bench-vs-ovs.sh as a JSON line on stdout.

Usage: bench-record.py SCENARIO ROUND SWITCH PIPELINE RATE [RUNDIR]

RATE is packets per second or an error text. RUNDIR, when given, holds the
run's `ovs-appctl dpif-netdev/pmd-perf-show` and `pmd-stats-show` output
(pmd-perf-show.txt, pmd-stats-show.txt, read after the measuring window;
counters cleared when it started); their cycles per packet are added under
"cycles": busy cycles/pkt from pmd-perf-show's "Rx packets" line (OVS
`pmd_perf_format_overall_stats`), pmd-stats-show's "avg cycles per packet"
and "avg processing cycles per packet", and rvs's "Cycles per packet by
stage" section. For SWITCH iofwd, RATE is rvs-pktgen iofwd's JSON."""
import json
import re
import sys


def number(v):
    try:
        return float(v)
    except ValueError:
        return None


def pmd_block(text):
    """The first PMD thread's block (pmd-perf-show / pmd-stats-show)."""
    m = re.search(r"pmd thread numa_id \d+ core_id \d+:\n(.*?)(?=\npmd thread|\nmain thread|\Z)", text, re.S)
    return m.group(1) if m else ""


def cycles(rundir):
    out = {}
    try:
        perf = pmd_block(open(f"{rundir}/pmd-perf-show.txt").read())
        stats = pmd_block(open(f"{rundir}/pmd-stats-show.txt").read())
    except OSError:
        return None
    m = re.search(r"Rx packets:\s+(\d+)\s+\((\d+) Kpps, (\d+) cycles/pkt\)", perf)
    if m:
        out["rx_packets"] = int(m.group(1))
        out["busy_cycles_per_pkt"] = int(m.group(3))
    m = re.search(r"Cycles:\s+(\d+)\s+\(([\d.]+) GHz\)", perf)
    if m:
        out["ghz"] = float(m.group(2))
    for key, label in [
        ("avg_cycles_per_pkt", "avg cycles per packet"),
        ("avg_processing_cycles_per_pkt", "avg processing cycles per packet"),
        ("emc_hits", "emc hits"),
        ("megaflow_hits", "megaflow hits"),
    ]:
        m = re.search(rf"{label}: ([\d.]+)", stats)
        if m:
            out[key] = float(m.group(1))
    stage = perf.split("Cycles per packet by stage", 1)
    if len(stage) == 2:
        st = {}
        for name, v in re.findall(r"\n  - ([\w/]+):\s+([\d.]+)", stage[1]):
            st[name] = float(v)
        m = re.search(r"Busy iterations:\s+([\d.]+)", stage[1])
        if m:
            st["total"] = float(m.group(1))
        out["stages"] = st
    return out or None


def main():
    sc, rnd, sw, pipe, raw = sys.argv[1:6]
    rundir = sys.argv[6] if len(sys.argv) > 6 else None
    rec = dict(scenario=sc, round=int(rnd), switch=sw, pipeline=pipe, raw=raw.strip())
    if sw == "iofwd":
        try:
            j = json.loads(raw)
            rec["pps"] = j["tx_mpps"] * 1e6
            rec["raw"] = "ok"
        except (ValueError, KeyError):
            rec["pps"] = None
    else:
        rec["pps"] = number(raw) if re.fullmatch(r"[\d.]+", raw.strip()) else None
    # A switch that could not create its bridge (a tap device of the previous
    # run still held) forwarded nothing it was set up for: not a rate.
    if rundir and rec["pps"] is not None:
        try:
            log = open(f"{rundir}/vswitchd.log").read()
        except OSError:
            log = ""
        if "failed to create bridge br0" in log:
            rec["pps"] = None
            rec["raw"] = "error: failed to create bridge br0 (tap device busy); measured " + raw.strip()
    if rundir:
        rec["cycles"] = cycles(rundir)
    print(json.dumps(rec))


main()
