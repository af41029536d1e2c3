#!/usr/bin/env python3
"""Multigrid vs CD vs persistent CD on the bundled textures: the same nets, optimiser and batch,
and the same Langevin budget per iteration (T steps on each of the grids for multigrid; as many
steps, T x grids, on the finest grid for CD and PCD). Each method is trained for several seeds in
chunks (resuming from its checkpoint), evaluated after every chunk with `multigrid eval` on the
held-out textures, and summarised in reports/comparison.md with learning curves and sample mosaics.

  scripts/compare.py [--preset small] [--iters 400] [--chunk 100] [--seeds 1,2,3] [--jobs 1]
Interrupted runs resume where they stopped (each run keeps its evaluations in curve.json); with
--train-only --methods cd,pcd, only those runs are trained (to share the work between machines).
With --jobs N, N runs train at once (each with the machine's cores shared out through
RAYON_NUM_THREADS); the figures do not depend on it. Needs a release build (cargo build --release)
and matplotlib (.venv/bin/pip install matplotlib==3.10.8).
"""
import argparse, json, os, shutil, statistics, subprocess, sys
from concurrent.futures import ThreadPoolExecutor

ROOT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
BIN = os.path.join(ROOT, "target", "release", "multigrid")
METHODS = [("multigrid", "multi-grid"), ("cd", "CD"), ("pcd", "persistent CD")]


def run(*args, capture=False, env=None):
    print("$ multigrid " + " ".join(args), flush=True)
    out = subprocess.run([BIN, *args], check=True, text=True, stdout=subprocess.PIPE if capture else None, env=env)
    return out.stdout if capture else None


def evaluate(weights, seed=0, env=None):
    return json.loads(run("eval", "--weights", weights, "--seed", str(seed), "--json", capture=True, env=env))["metrics"]


def run_dir(a, method, seed):
    return os.path.join(a.runs, f"{method}-seed{seed}")


def train_and_evaluate(a, method, seed, env):
    """Trains one method for one seed in chunks, evaluating after each chunk. Resumable: the
    evaluations so far are kept in the run's curve.json, and training resumes from its checkpoint."""
    out = run_dir(a, method, seed)
    saved = os.path.join(out, "curve.json")
    key = {"preset": a.preset, "method": method, "seed": seed, "chunk": a.chunk}
    kept = json.load(open(saved)) if os.path.exists(saved) else None
    curve = []
    if kept and kept["key"] == key:
        curve = [c for c in kept["curve"] if c["iteration"] <= a.iters]
    else:
        shutil.rmtree(out, ignore_errors=True)
    for done in range(a.chunk, a.iters + 1, a.chunk):
        if any(c["iteration"] == done for c in curve):
            continue
        run("train", "--preset", a.preset, "--method", method, "--seed", str(seed), "--iters", str(done),
            "--out", out, "--resume", "--quiet", "--save-every", str(a.chunk), env=env)
        curve.append({"iteration": done, **evaluate(os.path.join(out, "checkpoint.bpk"), env=env)})
        json.dump({"key": key, "curve": curve}, open(saved, "w"), indent=1)
    log = [json.loads(line) for line in open(os.path.join(out, "log.jsonl"))][: a.iters]
    return {
        "method": method, "seed": seed, "curve": curve, "log": log,
        "seconds_per_iteration": statistics.mean(l["seconds"] for l in log),
    }


def finest_samples(weights, out, dest):
    """16 samples (seed 0) of a model into the folder `out`, and the finest grid's mosaic copied to `dest`."""
    run("sample", "--weights", weights, "--n", "16", "--seed", "0", "--out", out)
    finest = max(os.listdir(out), key=lambda f: int(f.split("_")[1].split("x")[0]))
    shutil.copy(os.path.join(out, finest), dest)


def pyplot():
    """matplotlib's pyplot, drawing to files, or exit saying how to install it."""
    try:
        import matplotlib
    except ImportError:
        sys.exit("matplotlib is needed: .venv/bin/pip install matplotlib==3.10.8 and run with .venv/bin/python")
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    return plt


def mean_sd(values):
    values = [v for v in values if v is not None]
    if not values:
        return "–"
    sd = statistics.stdev(values) if len(values) > 1 else 0.0
    return f"{statistics.mean(values):.1f} ± {sd:.1f}" if abs(statistics.mean(values)) >= 10 else f"{statistics.mean(values):.2f} ± {sd:.2f}"


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--preset", default="small")
    p.add_argument("--iters", type=int, default=400)
    p.add_argument("--chunk", type=int, default=100)
    p.add_argument("--seeds", default="1,2,3")
    p.add_argument("--runs", default=os.path.join(ROOT, "runs", "compare"))
    p.add_argument("--report", default=os.path.join(ROOT, "reports"))
    p.add_argument("--jobs", type=int, default=1, help="runs trained at once")
    p.add_argument("--methods", default=",".join(m for m, _ in METHODS), help="train only these (with --train-only)")
    p.add_argument("--train-only", action="store_true", help="train and evaluate, but write no report")
    a = p.parse_args()
    plt = pyplot()

    seeds = [int(s) for s in a.seeds.split(",")]
    figures = os.path.join(a.report, "comparison")
    os.makedirs(figures, exist_ok=True)
    env = dict(os.environ)
    if a.jobs > 1:
        env.setdefault("RAYON_NUM_THREADS", str(max(1, (os.cpu_count() or 1) // a.jobs)))
    methods = a.methods.split(",") if a.train_only else [m for m, _ in METHODS]
    runs = [(method, seed) for method in methods for seed in seeds]
    with ThreadPoolExecutor(max_workers=a.jobs) as pool:
        done = pool.map(lambda r: train_and_evaluate(a, *r, env), runs)
        results = {f"{method}/{seed}": result for (method, seed), result in zip(runs, done)}
    if a.train_only:
        return
    for method, _ in METHODS:
        out = run_dir(a, method, seeds[0])
        finest_samples(os.path.join(out, "checkpoint.bpk"), os.path.join(out, "samples"), os.path.join(figures, f"{method}.png"))
    reference = json.loads(run("eval", "--images", os.path.join(ROOT, "data", "textures", "train"), "--json", capture=True))["metrics"]
    json.dump({"preset": a.preset, "iters": a.iters, "seeds": seeds, "reference": reference, "runs": results},
              open(os.path.join(figures, "results.json"), "w"), indent=1)

    # Learning curves: SWD after each chunk, and the finest grid's loss, per method (mean over seeds).
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 4))
    for method, label in METHODS:
        runs = [results[f"{method}/{s}"] for s in seeds]
        its = [c["iteration"] for c in runs[0]["curve"]]
        swd = [[r["curve"][i]["swd_mean"] for r in runs] for i in range(len(its))]
        m = [statistics.mean(v) for v in swd]
        lo, hi = [min(v) for v in swd], [max(v) for v in swd]
        line, = ax1.plot(its, m, marker="o", label=label)
        ax1.fill_between(its, lo, hi, alpha=0.2, color=line.get_color())
        losses = [[l["grids"][-1]["loss"] for l in r["log"]] for r in runs]
        n = min(len(x) for x in losses)
        window = max(1, n // 40)
        smooth = [statistics.mean(statistics.mean(x[max(0, i - window):i + 1]) for x in losses) for i in range(n)]
        ax2.plot(range(1, n + 1), smooth, label=label, color=line.get_color())
    ax1.axhline(reference["swd_mean"], color="grey", linestyle="--", label="real training images")
    ax1.set(xlabel="iteration", ylabel="SWD ×10³ vs held-out (lower is better)", title="sample quality")
    ax2.set(xlabel="iteration", ylabel="mean f(syn) − mean f(obs), finest grid", title="loss (moving average)")
    ax2.set_yscale("symlog")
    ax1.legend()
    ax2.legend()
    fig.tight_layout()
    fig.savefig(os.path.join(figures, "curves.png"), dpi=110)

    rows = []
    for method, label in METHODS:
        finals = [results[f"{method}/{s}"]["curve"][-1] for s in seeds]
        colour64 = [next(c["distance"] for c in f["colour"] if c["size"] == max(x["size"] for x in f["colour"])) for f in finals]
        rows.append(f"| {label} | {mean_sd([f['swd_mean'] for f in finals])} | {mean_sd(colour64)} | "
                    f"{mean_sd([f['nn_ratio'] for f in finals])} |")
    ref_colour = next(c["distance"] for c in reference["colour"] if c["size"] == max(x["size"] for x in reference["colour"]))
    finest = max(c["size"] for c in results[f"multigrid/{seeds[0]}"]["curve"][-1]["colour"])
    best = min(METHODS, key=lambda m: statistics.mean(results[f"{m[0]}/{s}"]["curve"][-1]["swd_mean"] for s in seeds))
    text = f"""# Multigrid vs CD vs persistent CD

Produced by `scripts/compare.py --preset {a.preset} --iters {a.iters} --chunk {a.chunk} --seeds {a.seeds}`
on the bundled textures (120 training, 36 held-out images of 64×64): the `{a.preset}` preset's nets,
Adam and batch for every method, and the same Langevin budget per iteration: T steps on each grid
for multigrid, T × (number of grids) steps on the finest grid for CD (chains from the observed
images) and persistent CD (chains carried over from the previous iteration); so a multi-grid
iteration costs less, as only T of its steps are on the finest grid. Each model is sampled the
way it learned (64 images, seed 0, every chain starting from the 1×1 colour of an observed image:
through the grids for multigrid, T × grids steps on the finest grid for CD and PCD) and compared
with the held-out images by `multigrid eval`; figures are mean ± standard deviation over seeds {a.seeds}.

| method | SWD ×10³ ↓ | colour distance, {finest}×{finest} (grey levels) ↓ | nearest-neighbour ratio |
|---|---|---|---|
{chr(10).join(rows)}
| *real training images (reference)* | {reference['swd_mean']:.1f} | {ref_colour:.2f} | – |

Lowest SWD after {a.iters} iterations: **{best[1]}**. SWD is the sliced Wasserstein distance between
7×7 patches of the Laplacian pyramids of samples and held-out images; the real training images give
the floor a perfect model could reach on this small set. The nearest-neighbour ratio is the mean
distance from a sample to its nearest training image over the same for held-out images: well below 1
means samples sit nearer the training images than new images do, either copies or (as for flat
samples near the smooth training crops) images with little texture; the mosaics tell which.

![learning curves](comparison/curves.png)

| multi-grid | CD | persistent CD |
|---|---|---|
| ![](comparison/multigrid.png) | ![](comparison/cd.png) | ![](comparison/pcd.png) |

Samples (seed 0) from the seed-{seeds[0]} model of each method. Raw figures: `comparison/results.json`.
"""
    open(os.path.join(a.report, "comparison.md"), "w").write(text)
    print(text)


if __name__ == "__main__":
    main()
