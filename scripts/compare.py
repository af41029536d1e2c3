#!/usr/bin/env python3
"""Multigrid vs CD vs persistent CD on the bundled textures and digits: the same nets, optimiser and
batch, and the same Langevin budget per iteration (T steps on each of the grids for multigrid; as
many steps, T x grids, on the finest grid for CD and PCD). Each method is trained for several seeds
in chunks (resuming from its checkpoint), evaluated after every chunk with `multigrid eval` on the
dataset's held-out images, and summarised in reports/comparison.md with learning curves and sample
mosaics, one section per dataset (the digits also read by scripts/classify-digits).

  scripts/compare.py [--datasets textures,digits] [--iters 2000] [--chunk 250] [--seeds 1,2,3] [--jobs 1]
Interrupted runs resume where they stopped (each run keeps its evaluations in curve.json); with
--train-only --methods cd,pcd, only those runs are trained (to share the work between machines).
With --jobs N, N runs train at once (each with the machine's cores shared out through
RAYON_NUM_THREADS); the figures do not depend on it. Needs a release build (cargo build --release)
and matplotlib (.venv/bin/pip install matplotlib==3.10.8).
"""
import argparse, json, os, shutil, statistics, subprocess, sys
from concurrent.futures import ThreadPoolExecutor

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import provenance  # noqa: E402

ROOT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
# MULTIGRID_BIN: a copy of the binary, so that a long run is not changed by a rebuild under it.
BIN = os.environ.get("MULTIGRID_BIN") or os.path.join(ROOT, "target", "release", "multigrid")
METHODS = [("multigrid", "multi-grid"), ("cd", "CD"), ("pcd", "persistent CD")]
# name: (preset, training images, held-out images, how the report names them).
DATASETS = {
    "textures": ("small", "data/textures/train", "data/textures/held-out",
                 "the bundled textures (120 training, 36 held-out images of 64×64)"),
    "digits": ("digits", "data/digits/train", "data/digits/held-out",
               "the bundled digits (1,000 training, 200 held-out MNIST digits padded to 32×32)"),
}


def run(*args, capture=False, env=None):
    print("$ multigrid " + " ".join(args), flush=True)
    out = subprocess.run([BIN, *args], check=True, text=True, stdout=subprocess.PIPE if capture else None, env=env)
    return out.stdout if capture else None


def evaluate(weights, seed=0, env=None, data=None, n=None):
    """`multigrid eval` of a checkpoint against the bundled held-out textures, or the held-out
    images of `data` (a DATASETS entry); n samples, or eval's default (one per training image)."""
    against = ["--data", os.path.join(ROOT, data[2]), "--train", os.path.join(ROOT, data[1])] if data else []
    count = ["--n", str(n)] if n else []
    return json.loads(run("eval", "--weights", weights, "--seed", str(seed), "--json", *against, *count, capture=True,
                          env=env))["metrics"]


def run_dir(a, dataset, method, seed):
    return os.path.join(a.runs, dataset, f"{method}-seed{seed}")


def train_and_evaluate(a, dataset, method, seed, env):
    """Trains one method for one seed in chunks, evaluating after each chunk. Resumable: the
    evaluations so far are kept in the run's curve.json, and training resumes from its checkpoint."""
    preset, train, *_ = data = DATASETS[dataset]
    out = run_dir(a, dataset, method, seed)
    saved = os.path.join(out, "curve.json")
    key = {"preset": preset, "data": train, "method": method, "seed": seed, "chunk": a.chunk,
           **({"samples": a.samples} if a.samples else {})}
    kept = json.load(open(saved)) if os.path.exists(saved) else None
    curve = []
    if kept and kept["key"] == key:
        curve = [c for c in kept["curve"] if c["iteration"] <= a.iters]
    else:
        shutil.rmtree(out, ignore_errors=True)
    for done in range(a.chunk, a.iters + 1, a.chunk):
        if any(c["iteration"] == done for c in curve):
            continue
        run("train", "--preset", preset, "--data", os.path.join(ROOT, train), "--method", method, "--seed", str(seed),
            "--iters", str(done), "--out", out, "--resume", "--quiet", "--save-every", str(a.chunk), env=env)
        curve.append({"iteration": done, **evaluate(os.path.join(out, "checkpoint.bpk"), env=env, data=data, n=a.samples)})
        json.dump({"key": key, "curve": curve}, open(saved, "w"), indent=1)
    log = [json.loads(line) for line in open(os.path.join(out, "log.jsonl"))][: a.iters]
    return {
        "method": method, "seed": seed, "curve": curve,
        # the finest grid's loss per iteration (the whole log would make results.json tens of MB)
        "finest_loss": [float(f"{l['grids'][-1]['loss']:.6g}") for l in log],
        "seconds_per_iteration": statistics.mean(l["seconds"] for l in log),
    }


def finest_samples(weights, out, dest=None, n=16):
    """n samples (seed 0) of a model into the folder `out`, and the finest grid's mosaic copied to
    `dest` (if given); returns the mosaic's path in `out`."""
    run("sample", "--weights", weights, "--n", str(n), "--seed", "0", "--out", out)
    finest = max((f for f in os.listdir(out) if f.startswith("synthesized_")),
                 key=lambda f: int(f.split("_")[1].split("x")[0]))
    if dest:
        shutil.copy(os.path.join(out, finest), dest)
    return os.path.join(out, finest)


def classify_digits(mosaics, n):
    """scripts/classify-digits on mosaics of n digits each: per mosaic, its JSON (the classes
    confidently present, ...)."""
    out = subprocess.run([sys.executable, os.path.join(ROOT, "scripts", "classify-digits"), *mosaics, "--n", str(n),
                          "--json"], text=True, stdout=subprocess.PIPE)
    if out.returncode not in (0, 1):
        raise SystemExit(f"classify-digits failed on {mosaics}")
    results = [json.loads(line) for line in out.stdout.splitlines()]
    for r in results:  # the report holds paths in the repository, not this machine's
        r["mosaic"] = os.path.relpath(r["mosaic"], ROOT)
    return results


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
    p.add_argument("--datasets", default=",".join(DATASETS), help="of: " + ", ".join(DATASETS))
    p.add_argument("--iters", type=int, default=2000)
    p.add_argument("--chunk", type=int, default=250)
    p.add_argument("--seeds", default="1,2,3")
    p.add_argument("--runs", default=os.path.join(ROOT, "runs", "compare"))
    p.add_argument("--report", default=os.path.join(ROOT, "reports"))
    p.add_argument("--jobs", type=int, default=1, help="runs trained at once")
    p.add_argument("--samples", type=int, help="samples scored per evaluation (default: one per training image)")
    p.add_argument("--methods", default=",".join(m for m, _ in METHODS), help="train only these (with --train-only)")
    p.add_argument("--train-only", action="store_true", help="train and evaluate, but write no report")
    a = p.parse_args()
    plt = pyplot()

    datasets = a.datasets.split(",")
    if unknown := [d for d in datasets if d not in DATASETS]:
        sys.exit(f"unknown dataset {unknown}: use {', '.join(DATASETS)}")
    seeds = [int(s) for s in a.seeds.split(",")]
    figures = os.path.join(a.report, "comparison")
    os.makedirs(figures, exist_ok=True)
    env = dict(os.environ)
    if a.jobs > 1:
        env.setdefault("RAYON_NUM_THREADS", str(max(1, (os.cpu_count() or 1) // a.jobs)))
    methods = a.methods.split(",") if a.train_only else [m for m, _ in METHODS]
    runs = [(dataset, method, seed) for dataset in datasets for method in methods for seed in seeds]
    with ThreadPoolExecutor(max_workers=a.jobs) as pool:
        done = pool.map(lambda r: train_and_evaluate(a, *r, env), runs)
        results = {"/".join(map(str, r)): result for r, result in zip(runs, done)}
    if a.train_only:
        return
    sections, raw = [], {}
    for dataset in datasets:
        text, raw[dataset] = section(a, plt, dataset, seeds, results, figures)
        sections.append(text)
    json.dump({"iters": a.iters, "seeds": seeds, "datasets": raw}, open(os.path.join(figures, "results.json"), "w"), indent=1)
    text = f"""# Multigrid vs CD vs persistent CD

{chr(10).join(provenance.block())}
For each dataset, its preset's nets, Adam and batch for every method, and the same Langevin budget per
iteration: T steps on each grid for multigrid, T × (number of grids) steps on the finest grid for CD
(chains from the observed images) and persistent CD (chains carried over from the previous
iteration); so a multi-grid iteration costs less, as only T of its steps are on the finest grid. Each
model is sampled the way it learned (seed 0, one chain from the 1×1 colour of each training image,
as many samples as training images: through the grids for multigrid, T × grids steps on the finest
grid for CD and PCD) and compared with the dataset's held-out images by `multigrid eval`; figures are mean ±
standard deviation over seeds {a.seeds}, after {a.iters:,} iterations.

SWD is the sliced Wasserstein distance between 7×7 patches of the Laplacian pyramids of samples and
held-out images; the real training images give the floor a perfect model could reach. The
nearest-neighbour ratio is the mean distance from a sample to its nearest training image over the
same for held-out images: well below 1 means samples sit nearer the training images than new
images do, either copies or flat samples near smooth training images; the mosaics tell which. A
sample is flat when its pixels vary by less than 15 grey levels.

{(chr(10) * 2).join(sections)}

Raw figures: `comparison/results.json`.
"""
    open(os.path.join(a.report, "comparison.md"), "w").write(text)
    print(text)


def section(a, plt, dataset, seeds, results, figures):
    """One dataset's part of the report (its table, curves and mosaics) and its raw figures."""
    preset, train, held_out, described = DATASETS[dataset]
    runs_of = {m: [results[f"{dataset}/{m}/{s}"] for s in seeds] for m, _ in METHODS}
    # Mosaics of the first seed's models; digits are also read by the MNIST classifier (64 samples).
    for method, _ in METHODS:
        out = run_dir(a, dataset, method, seeds[0])
        finest_samples(os.path.join(out, "checkpoint.bpk"), os.path.join(out, "samples"),
                       os.path.join(figures, f"{dataset}-{method}.png"))
    digits = {}
    if dataset == "digits":
        keys = [(m, s) for m, _ in METHODS for s in seeds]
        mosaics = [finest_samples(os.path.join(run_dir(a, dataset, m, s), "checkpoint.bpk"),
                                  os.path.join(run_dir(a, dataset, m, s), "samples64"), n=64) for m, s in keys]
        digits = dict(zip(keys, classify_digits(mosaics, 64)))
    reference = json.loads(run("eval", "--images", os.path.join(ROOT, train), "--data", os.path.join(ROOT, held_out),
                               "--preset", preset, "--json", capture=True))["metrics"]

    # Learning curves: SWD after each chunk, and the finest grid's loss, per method (mean over seeds).
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 4))
    for method, label in METHODS:
        runs = runs_of[method]
        its = [c["iteration"] for c in runs[0]["curve"]]
        swd = [[r["curve"][i]["swd_mean"] for r in runs] for i in range(len(its))]
        line, = ax1.plot(its, [statistics.mean(v) for v in swd], marker="o", label=label)
        ax1.fill_between(its, [min(v) for v in swd], [max(v) for v in swd], alpha=0.2, color=line.get_color())
        losses = [r["finest_loss"] for r in runs]
        n = min(len(x) for x in losses)
        window = max(1, n // 40)
        smooth = [statistics.mean(statistics.mean(x[max(0, i - window):i + 1]) for x in losses) for i in range(n)]
        ax2.plot(range(1, n + 1), smooth, label=label, color=line.get_color())
    ax1.axhline(reference["swd_mean"], color="grey", linestyle="--", label="real training images")
    ax1.set(xlabel="iteration", ylabel="SWD ×10³ vs held-out (lower is better)", title=f"{dataset}: sample quality")
    ax2.set(xlabel="iteration", ylabel="mean f(syn) − mean f(obs), finest grid", title="loss (moving average)")
    ax2.set_yscale("symlog")
    ax1.legend()
    ax2.legend()
    fig.tight_layout()
    fig.savefig(os.path.join(figures, f"{dataset}-curves.png"), dpi=110)
    plt.close(fig)

    finest = max(c["size"] for c in runs_of["multigrid"][0]["curve"][-1]["colour"])
    colour_at = lambda m: next(c["distance"] for c in m["colour"] if c["size"] == finest)  # noqa: E731
    extra_head = " | classes read confidently (of 10) ↑ | samples read confidently ↑" if digits else ""
    rows = []
    for method, label in METHODS:
        finals = [r["curve"][-1] for r in runs_of[method]]
        extra = ""
        if digits:
            read = [digits[(method, s)] for s in seeds]
            extra = (f" | {mean_sd([d['classes'] for d in read])} "
                     f"| {mean_sd([100 * d['confident'] / d['samples'] for d in read])}%")
        rows.append(f"| {label} | {mean_sd([f['swd_mean'] for f in finals])} | {mean_sd([colour_at(f) for f in finals])} "
                    f"| {mean_sd([f['nn_ratio'] for f in finals])} | {mean_sd([100 * f['flat_share'] for f in finals])}%"
                    f"{extra} |")
    best = min(METHODS, key=lambda m: statistics.mean(r["curve"][-1]["swd_mean"] for r in runs_of[m[0]]))
    seconds = {m: statistics.mean(r["seconds_per_iteration"] for r in runs_of[m]) for m, _ in METHODS}
    classifier = ""
    if digits:
        accuracy = next(iter(digits.values()))["held_out_accuracy"]
        classifier = (f"\n\nDigits are read by `scripts/classify-digits` (an MNIST classifier, {100 * accuracy:.1f}% "
                      f"accurate on the held-out digits) on 64 samples of each seed's model: a class counts when one "
                      f"sample is labelled with it at probability ≥ 0.9.")
    table = f"""## {dataset.capitalize()}

The `{preset}` preset on {described}.

| method | SWD ×10³ ↓ | colour distance, {finest}×{finest} (grey levels) ↓ | nearest-neighbour ratio | flat samples{extra_head} |
|---|---|---|---|---|{'---|---|' if digits else ''}
{chr(10).join(rows)}
| *real training images (reference)* | {reference['swd_mean']:.1f} | {colour_at(reference):.2f} | – | {100 * reference['flat_share']:.0f}%{' | – | –' if digits else ''} |

Lowest SWD after {a.iters:,} iterations: **{best[1]}**. Seconds per iteration (this machine, as
trained): {', '.join(f'{label} {seconds[m]:.2f}' for m, label in METHODS)}.{classifier}

![learning curves](comparison/{dataset}-curves.png)

| multi-grid | CD | persistent CD |
|---|---|---|
| ![](comparison/{dataset}-multigrid.png) | ![](comparison/{dataset}-cd.png) | ![](comparison/{dataset}-pcd.png) |

Samples (seed 0) from the seed-{seeds[0]} model of each method."""
    raw = {"preset": preset, "reference": reference, "runs": {k.split("/", 1)[1]: v for k, v in results.items()
                                                               if k.startswith(dataset + "/")},
           "digits": {f"{m}/{s}": d for (m, s), d in digits.items()}}
    return table, raw


if __name__ == "__main__":
    main()
