#!/usr/bin/env python3
"""The divergence guard's energy rule against the published models' training logs: how close each
healthy run came to the limit that would have rolled it back. Written up as reports/guard.md.

  scripts/guard_evidence.py [--report reports/guard.md] [LOG ...]

The rule (src/guard.rs, `Rule::default`): an iteration whose largest |mean f| over the learned grids
exceeds `growth` times its value at the last kept state (kept every `keep_every` iterations), or
`floor`, whichever is larger, is rolled back. Its constants are read from src/guard.rs, not typed
here. The logs hold every 10th iteration, which is also `keep_every`: each logged iteration is
compared with the one logged before it, the state the guard would have kept.
"""
import argparse, json, os, re, sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from scripts import provenance  # noqa: E402

ROOT = provenance.ROOT
LOGS = ["weights/small-training/log.jsonl", "weights/digits-training/log-every-10th.jsonl"]


def rule():
    """`Rule::default`'s keep_every, growth and floor, from src/guard.rs."""
    source = open(os.path.join(ROOT, "src", "guard.rs")).read()
    body = re.search(r"impl Default for Rule \{.*?\n\}", source, re.S).group(0)
    value = lambda name: float(re.search(rf"\b{name}: ([0-9.e_]+)", body).group(1).replace("_", ""))
    return {"keep_every": int(value("keep_every")), "growth": value("growth"), "floor": value("floor")}


def largest_energies(path):
    """(iteration, largest |mean f| over the learned grids) of each learned line of a log."""
    rows = []
    for line in open(os.path.join(ROOT, path)):
        entry = json.loads(line)
        learned = [g for g in entry.get("grids", []) if g.get("loss") is not None]
        if learned:
            rows.append((entry["iteration"], max(max(abs(g["energy_observed"]), abs(g["energy_synthesized"]))
                                                 for g in learned)))
    return rows


def closest(rows, r):
    """The largest share of the limit any iteration reached, where, and the gap between lines."""
    worst = max(((b / max(r["growth"] * a, r["floor"]), ia, ib) for (ia, a), (ib, b) in zip(rows, rows[1:])))
    gaps = sorted({ib - ia for (ia, _), (ib, _) in zip(rows, rows[1:])})
    return worst, gaps


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("logs", nargs="*", default=LOGS)
    p.add_argument("--report", default=os.path.join(ROOT, "reports", "guard.md"))
    args = p.parse_args()
    r = rule()
    out = ["# The divergence guard's energy rule on healthy runs", ""] + provenance.block() + [
        f"The rule (`Rule::default` in src/guard.rs): roll back an iteration whose largest |mean f| over the "
        f"learned grids exceeds {r['growth']:g}× its value at the last kept state (kept every {r['keep_every']} "
        f"iterations) or {r['floor']:g}, whichever is larger. Each log below is of a healthy run, one of the "
        "published models; each logged iteration is set against the one logged before it, and the share is "
        "how much of the limit it reached (1 would have been rolled back).", "",
        "| log | iterations | largest \\|mean f\\| | closest to the limit | at | gap between lines |",
        "|---|---|---|---|---|---|"]
    for path in args.logs:
        rows = largest_energies(path)
        (share, before, at), gaps = closest(rows, r)
        spacing = ", ".join(map(str, gaps))
        out.append(f"| `{path}` | {rows[0][0]:,}–{rows[-1][0]:,} ({len(rows):,} lines) | "
                   f"{max(e for _, e in rows):.3g} | {share:.3f} of the limit | iteration {at:,} (after {before:,}) | "
                   f"{spacing} |")
        if set(gaps) - {r["keep_every"], r["keep_every"] - 1}:
            out.append(f"|  | lines are {spacing} iterations apart, not {r['keep_every']}: the shares are approximate |||||")
    out += ["", "A share well below 1 on every healthy run is the margin the rule leaves. The runs it exists for "
            "cross the limit: `multigrid train --preset tiny --lr 50` is rolled back by it and then completes "
            "(tests/cli.rs, `a_diverging_run_heals_itself_by_rolling_back`)."]
    os.makedirs(os.path.dirname(os.path.abspath(args.report)), exist_ok=True)
    open(args.report, "w").write("\n".join(out) + "\n")
    print(f"wrote {args.report}")


if __name__ == "__main__":
    main()
