#!/usr/bin/env python3
"""Long training of the `small` preset at the settings studied: held-out SWD, the share of flat
samples and grid energies against iteration, in reports/stability.md with curves and mosaics.

  npm run reports -- stability [--iters 20000] [--every 1000] [--seed 2018] [--variants A,B] [--report-only]

Each variant trains in one `multigrid train` process that keeps a snapshot, checkpoint_N.bpk,
every --every iterations; each snapshot is scored by `multigrid eval` (64 samples, seed 0, against
the held-out textures) as it appears. A variant that continues another (`start`) begins from that
variant's snapshot and log at the iteration named, once that variant has reached it. Interrupted
runs resume from their last checkpoint (scores in curve.json). A variant that stops (the divergence
guard gives up, or energies become non-finite) is reported as stopped at its last good iteration;
one whose SWD is above twice its best for two snapshots in a row is called diverged and trained no
further; one with a `stop_at` is trained no further than that. Variants share the machine's cores
(RAYON_NUM_THREADS), a finished variant's going to the others; the thread count moves the figures
only at about 10⁻⁵ (the order of sums), but long runs are chaotic. A run finished before, whose runs/
folder is gone (a fresh clone), is reported from reports/stability/results.json, and the report says
which. Needs a release build (cargo build --release) and matplotlib (scripts/setup installs it).
"""
import argparse, json, os, shutil, subprocess, sys, threading, time
from concurrent.futures import ThreadPoolExecutor

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from compare import BIN, ROOT, evaluate, finest_samples, pyplot, run  # noqa: E402
import provenance  # noqa: E402

# Every setting studied, each naming all the settings it changes (so that the runs do not depend on
# the preset's defaults): name, label, `multigrid train` arguments over the preset, and options:
# `start` = (variant, iteration) to continue that variant's run from its snapshot there, and
# `stop_at` = the iteration the study trained it to (short of --iters, to save time).
BASE = ["--energy-penalty", "0", "--weight-decay", "0", "--max-step", "0"]
CONSTANT = ["--lr-half-life", "0", *BASE]
DEFAULT = ["--lr-half-life", "1000", "--lr-constant-for", "6000", *BASE, "--energy-scale-cap", "4e5"]
VARIANTS = [
    ("constant-lr", "official code: constant learning rate, no penalty", CONSTANT, {}),
    ("lr-half-life-2000", "learning rate halving every 2,000 iterations", ["--lr-half-life", "2000", *BASE], {}),
    ("energy-penalty", "energy penalty α = 2.5·10⁻⁸, constant learning rate",
     ["--lr-half-life", "0", "--energy-penalty", "2.5e-8", "--weight-decay", "0", "--max-step", "0"], {}),
    ("weight-decay-1e-3", "weight decay λ = 10⁻³, constant learning rate",
     ["--lr-half-life", "0", "--energy-penalty", "0", "--weight-decay", "1e-3", "--max-step", "0"], {}),
    ("weight-decay-1e-2", "weight decay λ = 10⁻², constant learning rate",
     ["--lr-half-life", "0", "--energy-penalty", "0", "--weight-decay", "1e-2", "--max-step", "0"], {"stop_at": 2000}),
    ("max-step-2", "Langevin steps of at most 2 grey levels per pixel, constant learning rate",
     ["--lr-half-life", "0", "--energy-penalty", "0", "--weight-decay", "0", "--max-step", "2"], {"stop_at": 3000}),
    ("max-step-1", "Langevin steps of at most 1 grey level per pixel, constant learning rate",
     ["--lr-half-life", "0", "--energy-penalty", "0", "--weight-decay", "0", "--max-step", "1"], {"stop_at": 2000}),
    ("steps-60", "T = 60 Langevin steps per grid (small has 30), constant learning rate", [*CONSTANT, "--steps", "60"],
     {"stop_at": 8000}),
    ("no-norm-lr-1e-2", "no batch norm (energies per image), learning rate 0.01, constant",
     [*CONSTANT, "--norm", "none", "--lr", "0.01"], {}),
    ("no-norm-lr-3e-3", "no batch norm (energies per image), learning rate 0.003, constant",
     [*CONSTANT, "--norm", "none", "--lr", "0.003"], {}),
    ("energy-scale-cap-4e5", "energy scale ‖w ⊙ γ‖ capped at 4·10⁵, constant learning rate",
     [*CONSTANT, "--energy-scale-cap", "4e5"], {}),
    ("energy-scale-cap-2e5", "energy scale ‖w ⊙ γ‖ capped at 2·10⁵, constant learning rate",
     [*CONSTANT, "--energy-scale-cap", "2e5"], {}),
    ("lr-decay-from-6000", "the defaults", DEFAULT, {"start": ("energy-scale-cap-4e5", 6000)}),
    ("new-default", "the defaults: energy scale capped at 4·10⁵, learning rate constant to 6,000, then halving every 1,000",
     DEFAULT, {"stop_at": 8000}),
    ("lr-decay-from-4000", "energy scale capped at 4·10⁵, rate constant to 4,000, then halving every 1,000",
     ["--lr-half-life", "1000", "--lr-constant-for", "4000", *BASE, "--energy-scale-cap", "4e5"],
     {"start": ("new-default", 4000), "stop_at": 7000}),
    ("collapse-rollback", "the defaults from scratch, with the guard's collapse rollback", DEFAULT, {}),
]


# Samples scored per snapshot: the study's protocol since it began (eval's default is one per
# training image, 120).
SAMPLES = 64


class Cores:
    """The machine's cores shared out among the variants still training."""

    def __init__(self, variants):
        self.active, self.lock = variants, threading.Lock()

    def env(self):
        with self.lock:
            return dict(os.environ, RAYON_NUM_THREADS=str(max(1, (os.cpu_count() or 1) // max(1, self.active))))

    def done(self):
        with self.lock:
            self.active -= 1


DIVERGED = "diverged: SWD above twice its best twice in a row"


def diverged(curve):
    best = min(c["swd_mean"] for c in curve)
    return len(curve) >= 3 and all(c["swd_mean"] > 2 * best for c in curve[-2:])


def split_from(log, run=50):
    """The first iteration from which the finest grid's energies stay split for `run` iterations:
    f(obs) above f(syn) by more than half their summed magnitudes, and |f(obs)| over 10⁶ (a
    healthy run keeps the two close, of one sign). The same rule as GridStats::energies_split
    (src/learner.rs), which the guard warns on; this one also reads logs made before the warning."""
    def split(l):
        o, s = l["grids"][-1]["energy_observed"], l["grids"][-1]["energy_synthesized"]
        return o - s > 0.5 * (abs(o) + abs(s)) and abs(o) > 1e6
    flags = [split(l) for l in log]
    for i in range(len(log) - run + 1):
        if all(flags[i:i + run]):
            return log[i]["iteration"]
    return None


def figures_of(log):
    """What the summary table says of a run's full (not thinned) log: the finest grid's largest
    |mean f(obs)| and median Langevin gradient norm over the last 500 iterations, and where its
    energies split. Kept in results.json, whose logs are thinned, for runs reported from it."""
    tail = log[-500:]
    return {"largest_energy": max(abs(l["grids"][-1]["energy_observed"]) for l in tail),
            "median_gradient": sorted(l["grids"][-1]["langevin_gradient"] for l in tail)[len(tail) // 2],
            "split_from": split_from(log)}


def limit(a, options):
    """The iterations a variant is trained for (at most --iters) and, if the study trained it to
    fewer (`stop_at`), why it stopped there."""
    stop_at = options.get("stop_at")
    if stop_at is None or stop_at >= a.iters:
        return a.iters, None
    return stop_at, f"the study trained it to {stop_at:,} iterations"


def start_of(a, options):
    """Where a variant that continues another starts: (that variant, iteration), the iteration
    brought within --iters for a short run (a smoke test)."""
    if "start" not in options:
        return None
    source, n = options["start"]
    return source, min(n, max(a.every, (a.iters // 2) // a.every * a.every))


def seed_from(a, out, source, n, key):
    """Begin a variant's run folder from `source`'s snapshot at iteration n: the checkpoint, the log
    up to its last line of iteration n, and the scores up to n."""
    src = os.path.join(a.runs, source)
    snapshot = os.path.join(src, f"checkpoint_{n}.bpk")
    if not os.path.exists(snapshot):
        raise SystemExit(f"scripts/stability.py: {source} has no snapshot at {n}: train it first")
    os.makedirs(out, exist_ok=True)
    shutil.copy(snapshot, os.path.join(out, "checkpoint.bpk"))
    shutil.copy(snapshot, os.path.join(out, f"checkpoint_{n}.bpk"))
    lines = open(os.path.join(src, "log.jsonl")).read().splitlines()
    at = [i for i, l in enumerate(lines) if learned(json.loads(l)) and json.loads(l)["iteration"] == n]
    open(os.path.join(out, "log.jsonl"), "w").write("".join(l + "\n" for l in lines[:at[-1] + 1]))
    curve = [c for c in json.load(open(os.path.join(src, "curve.json")))["curve"] if c["iteration"] <= n]
    json.dump({"key": key, "curve": curve, "stopped": None, "stamps": {}}, open(os.path.join(out, "curve.json"), "w"),
              indent=1)


def learned(line):
    """Whether a log line is a learned iteration (logs before the event field had none on them)."""
    return line.get("event", "learned") == "learned" and "iteration" in line


def complete(run, iters):
    """Whether a run (a curve.json, or a run in results.json) stopped or reached `iters`."""
    return bool(run.get("stopped")) or bool(run["curve"]) and run["curve"][-1]["iteration"] >= iters


def train_and_score(a, name, extra, options, cores):
    try:
        iters, why = limit(a, options)
        r = train_variant(a, name, extra, iters, start_of(a, options), cores)
        # Trained to where the study stopped it (and not stopped before for another reason).
        if why and r["curve"] and r["curve"][-1]["iteration"] >= iters and (
                not r["stopped"] or r["stopped"]["why"] != DIVERGED):
            r["stopped"] = {"after": iters, "why": why}
        return r
    finally:
        cores.done()


def recorded(a, name, extra, iters):
    """A finished run of this variant in the committed report (results.json), when its runs/
    folder is gone (a fresh clone): it is reported as it was, not trained again."""
    path = os.path.join(a.report, "stability", "results.json")
    if not os.path.exists(path):
        return None
    report = json.load(open(path))
    if (report["preset"], report["seed"], report["every"]) != (a.preset, a.seed, a.every):
        return None
    r = next((r for r in report["runs"] if r["name"] == name and r.get("args") == extra), None)
    return {**r, "recorded": True} if r and r["curve"] and complete(r, iters) else None


def run_key(a, extra, start=None):
    """What a run's curve.json is kept under: a run made otherwise is trained again."""
    return {"preset": a.preset, "seed": a.seed, "every": a.every, "args": extra, **({"start": list(start)} if start else {})}


def kept_run(a, name, extra, start=None):
    """The variant's curve.json under runs/ (None if there is none), and whether it was made with
    these settings (if not, the run is trained again from the start)."""
    saved = os.path.join(a.runs, name, "curve.json")
    kept = json.load(open(saved)) if os.path.exists(saved) else None
    return kept, bool(kept) and kept["key"] == run_key(a, extra, start)


def finished(a, name, label, extra, options):
    """Whether a variant has nothing left to train (so it needs no cores)."""
    if a.report_only:
        return True
    iters, _ = limit(a, options)
    kept, same = kept_run(a, name, extra, start_of(a, options))
    if kept is None:
        return recorded(a, name, extra, iters) is not None
    return same and complete(kept, iters)


def train_variant(a, name, extra, iters, start, cores):
    out = os.path.join(a.runs, name)
    kept, same = kept_run(a, name, extra, start)
    if kept is None and (r := recorded(a, name, extra, iters)):
        return r
    if start and not same and not a.report_only:
        shutil.rmtree(out, ignore_errors=True)
        seed_from(a, out, *start, run_key(a, extra, start))
        kept, same = kept_run(a, name, extra, start)
    curve, stopped = [], None
    if same:
        curve, stopped = [c for c in kept["curve"] if c["iteration"] <= iters], kept.get("stopped")
    elif a.report_only:
        return {"name": name, "args": extra, "curve": [], "stopped": None, "events": [], "log": []}
    else:
        shutil.rmtree(out, ignore_errors=True)
    if curve and not stopped and diverged(curve):
        stopped = {"after": curve[-1]["iteration"], "why": DIVERGED}
    if not a.report_only and not stopped and not complete({"curve": curve}, iters):
        curve, stopped = train_scoring(a, extra, out, iters, curve, kept.get("stamps", {}) if same else {}, start, cores)
    log = [json.loads(line) for line in open(os.path.join(out, "log.jsonl"))]
    # Up to the last scored snapshot (a report made while a chunk runs leaves that chunk out).
    iters = min(iters, curve[-1]["iteration"]) if curve else iters
    events = [l for l in log if not learned(l)]
    # An iteration learned again after a rollback: keep the last of each.
    log = sorted({l["iteration"]: l for l in log if learned(l)}.values(), key=lambda l: l["iteration"])[:iters]
    return {"name": name, "args": extra, "start": list(start) if start else None, "curve": curve, "stopped": stopped,
            "events": events, "log": log, "figures": figures_of(log) if log else None}


def train_scoring(a, extra, out, iters, curve, stamps, start, cores):
    """One `multigrid train` process up to `iters` (resuming from the run's checkpoint), keeping a
    snapshot every --every iterations; each is scored as it appears, and again when a rollback of
    the divergence guard has written it anew (stamps: each scored snapshot's mtime). One process,
    so the guard keeps its state across the whole run. Stops the process once SWD diverges."""
    saved = os.path.join(out, "curve.json")
    args = ["train", "--preset", a.preset, "--seed", str(a.seed), "--iters", str(iters), "--out", out, "--resume",
            "--quiet", "--save-every", str(a.every), "--snapshot-every", str(a.every), *extra]
    print("$ multigrid " + " ".join(args), flush=True)
    env = cores.env()
    process = subprocess.Popen([BIN, *args], env=env)
    stopped = None

    def save():
        json.dump({"key": run_key(a, extra, start), "curve": curve, "stopped": stopped, "stamps": stamps}, open(saved, "w"),
                  indent=1)

    def score_new():
        nonlocal curve, stopped
        for done in range(a.every, iters + 1, a.every):
            path = os.path.join(out, f"checkpoint_{done}.bpk")
            if not os.path.exists(path):
                continue
            stamp = os.stat(path).st_mtime_ns
            scored = any(c["iteration"] == done for c in curve)
            # A snapshot scored before stamps were kept (or copied in) counts as scored.
            if scored and stamps.get(str(done), stamp) == stamp:
                continue
            metrics = evaluate(path, env=env, n=SAMPLES)
            curve = sorted([c for c in curve if c["iteration"] != done] + [{"iteration": done, **metrics}],
                           key=lambda c: c["iteration"])
            stamps[str(done)] = stamp
            if diverged(curve) and stopped is None:
                stopped = {"after": curve[-1]["iteration"], "why": DIVERGED}
                process.terminate()
            save()

    while process.poll() is None:
        score_new()
        time.sleep(10)
    score_new()
    if process.returncode != 0 and stopped is None:
        stopped = {"after": curve[-1]["iteration"] if curve else 0, "why": f"multigrid train exited {process.returncode}"}
        save()
    return curve, stopped


def mosaic(a, name, iteration, figures):
    """16 samples (seed 0) of a variant's snapshot, as reports/stability/NAME_N.png (kept as it
    is when the snapshot is not here: a run reported from results.json)."""
    path = f"{name}_{iteration}.png"
    checkpoint = os.path.join(a.runs, name, f"checkpoint_{iteration}.bpk")
    if not os.path.exists(checkpoint) and os.path.exists(os.path.join(figures, path)):
        return path
    finest_samples(checkpoint,
                   os.path.join(a.runs, name, f"samples_{iteration}"), os.path.join(figures, path))
    return path


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--preset", default="small")
    p.add_argument("--iters", type=int, default=20000)
    p.add_argument("--every", type=int, default=1000)
    p.add_argument("--seed", type=int, default=2018)
    p.add_argument("--variants", default=",".join(v[0] for v in VARIANTS), help="the settings to study, by name")
    p.add_argument("--runs", default=os.path.join(ROOT, "runs", "stability"))
    p.add_argument("--report", default=os.path.join(ROOT, "reports"))
    p.add_argument("--report-only", action="store_true", help="train no further: report the snapshots scored so far")
    a = p.parse_args()
    plt = pyplot()
    names = a.variants.split(",")
    if unknown := [n for n in names if n not in [v[0] for v in VARIANTS]]:
        sys.exit(f"unknown variants {unknown}")
    # A variant that continues another says so in its label.
    variants = [(name, label + (f", continuing {start[0]} from its {start[1]:,}-iteration snapshot"
                               if (start := start_of(a, options)) else ""), extra, options)
                for name, label, extra, options in VARIANTS if name in names]
    for name, _, _, options in variants:
        if "start" in options and options["start"][0] not in names:
            sys.exit(f"{name} continues {options['start'][0]}: study both")

    figures = os.path.join(a.report, "stability")
    os.makedirs(figures, exist_ok=True)
    # The cores go to the variants still to train (those reported as they are need none). Those
    # that continue another start once the others are done.
    cores = Cores(sum(1 for v in variants if not finished(a, *v)))
    done = {}
    with ThreadPoolExecutor(max_workers=len(variants)) as pool:
        for phase in ([v for v in variants if "start" not in v[3]], [v for v in variants if "start" in v[3]]):
            done.update(zip([v[0] for v in phase], pool.map(lambda v: train_and_score(a, v[0], v[2], v[3], cores), phase)))
    results = [done[v[0]] for v in variants]
    reference = json.loads(run("eval", "--images", os.path.join(ROOT, "data", "textures", "train"), "--json",
                               capture=True))["metrics"]
    # The per-iteration logs, every 50th iteration, for the record.
    thin = [{k: v for k, v in r.items() if k != "recorded"} | {"log": [l for l in r["log"] if l["iteration"] % 50 == 0]}
            for r in results]
    json.dump({"preset": a.preset, "seed": a.seed, "iters": a.iters, "every": a.every, "reference": reference,
               "runs": thin}, open(os.path.join(figures, "results.json"), "w"), indent=1)

    # SWD and flat share per snapshot; the finest grid's energies per iteration.
    fig, (ax1, ax2, ax3) = plt.subplots(1, 3, figsize=(15, 7))
    for i, ((name, label, *_), r) in enumerate(zip(variants, results)):
        its = [c["iteration"] for c in r["curve"]]
        # tab20: a colour of its own for each of up to 20 settings (the default cycle repeats after 10).
        line, = ax1.plot(its, [c["swd_mean"] for c in r["curve"]], marker="o", label=label, color=plt.cm.tab20(i % 20))
        ax2.plot(its, [100 * c["flat_share"] for c in r["curve"]], marker="o", color=line.get_color(), label=label)
        every = r["log"][::10]
        ax3.plot([l["iteration"] for l in every], [abs(l["grids"][-1]["energy_observed"]) for l in every],
                 color=line.get_color(), label=label, linewidth=0.6)
    ax1.axhline(reference["swd_mean"], color="grey", linestyle="--", label="real training images")
    ax1.set(xlabel="iteration", ylabel="SWD ×10³ vs held-out (lower is better)", title="sample quality")
    ax2.axhline(100 * reference["flat_share"], color="grey", linestyle="--", label="real training images")
    ax2.set(xlabel="iteration", ylabel=f"% of {SAMPLES} samples that are flat", title="flat samples")
    ax3.set(xlabel="iteration", ylabel="|mean f(observed)|, finest grid (every 10th)", title="energy scale")
    ax3.set_yscale("log")
    # One legend for the three plots, below them (the settings' names are long).
    fig.legend(*ax1.get_legend_handles_labels(), loc="lower center", ncol=2, fontsize=8, frameon=False)
    fig.tight_layout(rect=(0, 0.3, 1, 1))
    fig.savefig(os.path.join(figures, "curves.png"), dpi=110)
    text = report(a, variants, results, reference, figures)
    open(os.path.join(a.report, "stability.md"), "w").write(text)
    print(text)


def report(a, variants, results, reference, figures):
    """The report's text: every figure in it computed from the runs."""
    runs = list(zip(variants, results))
    rows, shown, summary, before, happened = [], [], [], [], []
    its = sorted({c["iteration"] for r in results for c in r["curve"]})
    for (name, *_), r in runs:
        at = {c["iteration"]: c for c in r["curve"]}
        cells = [f"{at[i]['swd_mean']:.1f} ({100 * at[i]['flat_share']:.0f}%)" if i in at else "–" for i in its]
        rows.append(f"| {name} | " + " | ".join(cells) + " |")
    for (name, label, _, options), r in runs:
        if not r["curve"]:
            continue
        best, last = min(r["curve"], key=lambda c: c["swd_mean"]), r["curve"][-1]
        picks = [best] if best is last else [best, last]
        shown.append(f"**{label}**\n\n" + "\n".join(
            f"- iteration {c['iteration']} (SWD {c['swd_mean']:.1f}, {100 * c['flat_share']:.0f}% flat): "
            f"![]({'stability/' + mosaic(a, name, c['iteration'], figures)})"
            for c in picks))
        energy, gradient, split = (r["figures"][k] for k in ("largest_energy", "median_gradient", "split_from"))
        state = (f"stopped after {r['stopped']['after']:,}" if r["stopped"] else
                 "not stopped" if last["iteration"] >= a.iters else "in progress")
        summary.append(f"| {label} | {last['iteration']:,} ({state}) | {best['swd_mean']:.1f} at {best['iteration']:,} "
                       f"({100 * best['flat_share']:.0f}% flat) | {last['swd_mean']:.1f} ({100 * last['flat_share']:.0f}% flat) "
                       f"| {energy:.2g} | {gradient:.3g} | {f'{split:,}' if split else '–'} |")
        happened.append(f"- **{name}**: " + story(r, options))
        if split:
            thin = [l for l in r["log"] if l["iteration"] % 50 == 0]
            calm = sorted(l["grids"][-1]["langevin_gradient"] for l in thin if split - 1500 <= l["iteration"] < split - 600)
            surge = [l for l in thin if split - 600 <= l["iteration"] <= split + 50]
            after = [l["grids"][-1]["recon_error"] for l in thin if split <= l["iteration"] <= split + 300]
            if calm and surge and after:
                peak = max(surge, key=lambda l: l["grids"][-1]["langevin_gradient"])
                before.append(f"| {label} | {split:,} | {calm[len(calm) // 2]:.3g} | "
                              f"{peak['grids'][-1]['langevin_gradient']:.3g} (iteration {peak['iteration']:,}) | {max(after):.0f} |")
    reached = [label for (_, label, *_), r in runs if r["curve"] and not r["stopped"] and r["curve"][-1]["iteration"] >= a.iters]
    verdict = (f"Trained to {a.iters:,} iterations without stopping: {'; '.join(reached)}." if reached else
               f"None of these settings trained {a.iters:,} iterations.")
    recorded = [name for (name, *_), r in runs if r.get("recorded")]
    note = (f"Reported from `stability/results.json` as an earlier run of this command left them (their runs/ "
            f"folders were not on this machine): {', '.join(recorded)}." if recorded else None)
    return f"""# Stability of long training

{chr(10).join(provenance.block(extra=note))}
The `{a.preset}` preset on the bundled textures, trained at each setting below from seed {a.seed};
every {a.every:,} iterations its checkpoint is scored by `multigrid eval` ({SAMPLES} samples, seed 0,
against the 36 held-out textures). A sample is *flat* when its pixels vary by less than 15 grey
levels (`eval::FLAT_STD`). The real training images score SWD {reference['swd_mean']:.1f} and
{100 * reference['flat_share']:.0f}% flat. Every row is one command's run: the settings and where a
run continues another are in `scripts/stability.py` (`VARIANTS`).

| setting | iterations | best SWD ×10³ | last SWD ×10³ | finest grid: largest \\|mean f(obs)\\|, last 500 iterations | finest grid: median Langevin gradient norm, last 500 | energies split from |
|---|---|---|---|---|---|---|
{chr(10).join(summary)}

{verdict}

What happened in each run, read from its log:

{chr(10).join(happened)}

*Split*: from that iteration on, for at least 50 iterations, the finest grid's mean f(obs) exceeds
mean f(syn) by more than half their summed magnitudes, with |f(obs)| over 10⁶: the two have run
apart in opposite directions, and the synthesized images sit where f is flat. A healthy run keeps
them close and of one sign. The divergence guard warns of a split and rolls back a collapse of the
finest grid's Langevin gradient (`src/guard.rs`; reports/reliability.md).

Before each split: the finest grid's Langevin gradient norm (its median from 1,500 to 600
iterations before the split, against its largest from 600 before to 50 after), and the largest
reconstruction error mean |I − Ĩ| (grey levels) in the 300 iterations after it. Read from every
50th iteration of the logs.

| setting | split from | Langevin gradient, 1,500–600 before | largest, around the split | reconstruction error after |
|---|---|---|---|---|
{chr(10).join(before)}

Per snapshot, SWD ×10³ (share of flat samples), settings by the names of their runs (in the
order of the first table):

| setting | {' | '.join(f'{i:,}' for i in its)} |
|---|{'---|' * len(its)}
{chr(10).join(rows)}

![curves](stability/curves.png)

{(chr(10) * 2).join(shown)}

Raw figures: `stability/results.json` (the scores, and the training log every 50 iterations).
"""


def story(r, options):
    """One run's course in a sentence or two: where it began, its splits, the guard's rollbacks
    and warnings, and how it ended."""
    parts = []
    if r.get("start"):
        parts.append(f"continues {r['start'][0]} from its {r['start'][1]:,}-iteration snapshot")
    split = r["figures"] and r["figures"]["split_from"]
    if split:
        parts.append(f"energies split from {split:,}")
    for e in r["events"]:
        if e.get("event") == "rollback":
            # "iteration N: what went wrong (figures)"
            at, _, what = e["reason"].partition(":")
            at = at.removeprefix("iteration ").strip()
            what = what.split("(")[0].strip()
            parts.append(f"{what} at {int(at):,}: rolled back to {e['to']:,}, rate {e['lr']:.3g}" if at.isdigit() else
                         f"rolled back to {e['to']:,}, rate {e['lr']:.3g} ({what})")
        elif e.get("event") == "stopped":
            parts.append(f"stopped: {e['message']}")
    warned = [l["iteration"] for l in r["log"] if l.get("warning")]
    if warned:
        parts.append(f"warned of split energies at {warned[0]:,}")
    if r["stopped"]:
        parts.append(f"trained no further after {r['stopped']['after']:,} ({r['stopped']['why']})")
    last = r["curve"][-1]
    parts.append(f"SWD {last['swd_mean']:.1f} at {last['iteration']:,}")
    return "; ".join(parts) + "."


if __name__ == "__main__":
    main()
