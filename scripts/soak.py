#!/usr/bin/env python3
"""Soak: an hour of training in the page (scripts/soak.mjs, headless Chromium against dist/), written
up as reports/soak.md: memory of the page and its workers and of the wasm instance over the run,
iterations, rollbacks, and every error and warning the page showed. Exits as soak.mjs does (1 on an
error, a stop, or memory growth over 20% after warm-up).

  scripts/soak.py [--minutes 60] [--interval 60] [--query ...] [--dist dist] [--report reports/soak.md]
"""
import argparse, json, os, subprocess, sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from scripts import provenance  # noqa: E402

ROOT = provenance.ROOT


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--minutes", default="60")
    p.add_argument("--interval", default="60", help="seconds between samples")
    p.add_argument("--query", default="?preset=small&seed=1&backend=cpu&debug=1")
    p.add_argument("--dist", default="dist")
    p.add_argument("--report", default=os.path.join(ROOT, "reports", "soak.md"))
    args = p.parse_args()
    if not os.path.exists(os.path.join(ROOT, args.dist, "index.html")):
        sys.exit(f"soak: {args.dist}/ has no built page; run `npm run build` first")
    done = subprocess.run(["node", "scripts/soak.mjs", "--minutes", args.minutes, "--interval", args.interval,
                           "--query", args.query, "--dist", args.dist], cwd=ROOT, stdout=subprocess.PIPE, text=True)
    lines = done.stdout.strip().splitlines()
    try:
        run = json.loads(lines[-1])
    except (IndexError, json.JSONDecodeError):
        sys.exit(f"soak: scripts/soak.mjs printed no result (exit {done.returncode})")
    samples, growth = run["samples"], run["growth"]
    first, last = samples[0], samples[-1]
    warm = next(s for s in samples if s["minute"] == run["warm"])
    mb = lambda b: f"{b / 1e6:.1f}"
    backend = last.get("backend") or "unknown"
    out = ["# Soak: training in the page for a long time", ""] + provenance.block(browser=run["browser"]) + [
        f"The built page served with COOP/COEP, opened at `{run['query']}`, Train pressed, and sampled every",
        f"{args.interval} s for {args.minutes} min: the memory of the page and its workers",
        "(`performance.measureUserAgentSpecificMemory`), the wasm instance's memory, the iteration, the",
        "divergence guard's rollbacks so far, and the messages the page showed. The badge read: "
        f"{backend}.", "",
        "| minute | iteration | rollbacks so far | page and workers (MB) | wasm memory (MB) |", "|---|---|---|---|---|"]
    out += [f"| {s['minute']:g} | {s['iteration']:,} | {s['rollbacks']} | {mb(s['allBytes'])} | {mb(s['wasmBytes'])} |"
            for s in samples]
    low = min(s["allBytes"] for s in samples)
    high = max(s["allBytes"] for s in samples)
    out += ["", f"From minute {warm['minute']:g} to {last['minute']:g} the page's and workers' memory went "
            f"×{growth['all']:.3f} and the wasm memory ×{growth['wasm']:.3f}; the page's and workers' memory "
            f"moved between {mb(low)} and {mb(high)} MB. Training went from iteration {first['iteration']:,} to "
            f"{last['iteration']:,} with {last['rollbacks']} rollback{'s' if last['rollbacks'] != 1 else ''}, and "
            + ("was still training at the end." if last["playing"] else "had **stopped** by the end."), ""]
    out.append("Errors the page showed or threw: " + ("; ".join(f"“{e}”" for e in run["errors"]) if run["errors"] else "none") + ".")
    out.append("Warnings it showed: " + ("; ".join(f"“{w}”" for w in run["warnings"]) if run["warnings"] else "none") + ".")
    out += ["", "The run fails (exit 1) on an error, a stop, or more than 20% memory growth after warm-up: "
            + ("it passed." if done.returncode == 0 else "**it failed**.")]
    os.makedirs(os.path.dirname(os.path.abspath(args.report)), exist_ok=True)
    open(args.report, "w").write("\n".join(out) + "\n")
    print(f"wrote {args.report}")
    sys.exit(done.returncode)


if __name__ == "__main__":
    main()
