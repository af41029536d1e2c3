#!/usr/bin/env python3
"""The paper's recovery experiment on the bundled textures: held-out images with pixels occluded by
three masks (a centre square of half the side, i.e. a quarter of the area; random 50% and random 70%
of the pixels) are recovered by multi-grid, CD and persistent CD models trained with the same budget
(the same nets, optimiser, batch, iterations and Langevin steps per iteration, as in
scripts/compare.py). Recovery runs each model's own chain with the known pixels held fixed
(`multigrid inpaint`). Writes reports/recovery.md (mean per-pixel error of the recovered pixels,
per mask and method, mean and spread over seeds, beside filling every occluded pixel with the mean
of its image's known pixels, where every chain starts) and mosaics in reports/recovery/.

  scripts/recovery.py [--preset small] [--iters 300] [--seeds 1,2] [--n 36]
Trained models are kept in runs/recovery/METHOD-seedS and reused when their iteration count
matches (delete the folder to retrain). Needs a release build (cargo build --release).
"""
import argparse, json, os, shutil, statistics, subprocess, sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import provenance  # noqa: E402

ROOT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
BIN = os.path.join(ROOT, "target", "release", "multigrid")
METHODS = [("multigrid", "multi-grid"), ("cd", "CD"), ("pcd", "persistent CD")]
MASKS = [("centre", "centre square (¼ of the area)"), ("random:0.5", "random 50%"), ("random:0.7", "random 70%")]
HELD_OUT = os.path.join(ROOT, "data", "textures", "held-out")
MARKER = "<!-- The figures above are written by scripts/recovery.py; what follows is kept as written when they are. -->"


def run(*args, capture=False):
    print("$ multigrid " + " ".join(args), flush=True)
    out = subprocess.run([BIN, *args], check=True, text=True, stdout=subprocess.PIPE if capture else None)
    return out.stdout if capture else None


def trained(a, method, seed):
    """A checkpoint of `method` trained for a.iters iterations (reused if already there)."""
    out = os.path.join(a.runs, f"{method}-seed{seed}")
    checkpoint = os.path.join(out, "checkpoint.bpk")
    log = os.path.join(out, "log.jsonl")
    done = sum(1 for _ in open(log)) if os.path.exists(log) else 0
    if done != a.iters or not os.path.exists(checkpoint):
        shutil.rmtree(out, ignore_errors=True)
        run("train", "--preset", a.preset, "--method", method, "--seed", str(seed), "--iters", str(a.iters),
            "--out", out, "--quiet", "--save-every", str(a.iters))
    return checkpoint


def recover(a, checkpoint, mask, seed, out):
    result = json.loads(run("inpaint", "--weights", checkpoint, "--mask", mask, "--n", str(a.n), "--seed", str(seed),
                            "--data", HELD_OUT, "--out", out, capture=True).strip().splitlines()[-1])
    return result["mean_occluded_error"], result["mean_fill_error"]


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--preset", default="small")
    p.add_argument("--iters", type=int, default=300)
    p.add_argument("--seeds", default="1,2")
    p.add_argument("--n", type=int, default=36, help="held-out images to recover (the bundled set has 36)")
    p.add_argument("--runs", default=os.path.join(ROOT, "runs", "recovery"))
    p.add_argument("--report", default=os.path.join(ROOT, "reports", "recovery.md"))
    a = p.parse_args()
    seeds = [int(s) for s in a.seeds.split(",")]
    if not os.path.exists(BIN):
        raise SystemExit("scripts/recovery.py: build the CLI first: cargo build --release")
    figures = os.path.join(os.path.dirname(a.report), "recovery")
    os.makedirs(figures, exist_ok=True)
    errors = {}  # (method, mask) -> [error per seed]
    baseline = {}  # mask -> [error of filling with the mean of the known pixels, per seed]
    for method, _ in METHODS:
        for seed in seeds:
            checkpoint = trained(a, method, seed)
            for mask, _ in MASKS:
                out = os.path.join(a.runs, f"{method}-seed{seed}", "recovered-" + mask.replace(":", "-"))
                error, mean_fill = recover(a, checkpoint, mask, seed, out)
                errors.setdefault((method, mask), []).append(error)
                if method == METHODS[0][0]:
                    baseline.setdefault(mask, []).append(mean_fill)
                if seed == seeds[0]:
                    size = max(int(f.split("_")[1].split("x")[0]) for f in os.listdir(out) if f.startswith("recovered_"))
                    for kind in ("occluded", "recovered"):
                        shutil.copy(os.path.join(out, f"{kind}_{size}x{size}.png"),
                                    os.path.join(figures, f"{method}-{mask.replace(':', '-')}-{kind}.png"))
    lines = [
        "# Recovery of occluded pixels: multi-grid vs CD vs persistent CD",
        "",
        *provenance.block(),
        f"The paper's experiment (Table 3 there, on other data): {a.n} held-out textures "
        f"(`data/textures/held-out`, never seen in training) are occluded by three masks and recovered "
        f"by models of the `{a.preset}` preset trained for {a.iters} iterations on the training textures with the same "
        "nets, optimiser, batch and Langevin steps per iteration (multi-grid: T steps on each grid; CD and "
        "persistent CD: as many steps on the finest grid). Recovery runs each model's own chain with the known pixels "
        "held fixed at every grid (`multigrid inpaint`: for multi-grid, from the 1×1 mean of the known pixels up "
        "through every grid; for CD and PCD, the finest grid's chain from that mean). The figure is the mean "
        "absolute error per recovered (occluded) pixel and channel, in grey levels (0–255), averaged over the "
        f"images; mean over seeds {a.seeds}, with the range.",
        "",
        "| mask | " + " | ".join(label for _, label in METHODS) + " | mean of the known pixels (no model) |",
        "|---|" + "---|" * (len(METHODS) + 1),
    ]
    for mask, label in MASKS:
        cells = []
        best = min(statistics.mean(errors[(m, mask)]) for m, _ in METHODS)
        for method, _ in METHODS:
            e = errors[(method, mask)]
            mean = statistics.mean(e)
            cell = f"{mean:.1f} ({min(e):.1f}–{max(e):.1f})"
            cells.append(f"**{cell}**" if mean == best else cell)
        b = baseline[mask]
        lines.append(f"| {label} | " + " | ".join(cells) + f" | {statistics.mean(b):.1f} ({min(b):.1f}–{max(b):.1f}) |")
    lines += ["", f"Mosaics (seed {seeds[0]}; occluded pixels black, then the recovery), finest grid:", ""]
    for mask, label in MASKS:
        lines.append(f"**{label}**")
        lines.append("")
        lines.append("| " + " | ".join(l for _, l in METHODS) + " |")
        lines.append("|" + "---|" * len(METHODS))
        slug = mask.replace(":", "-")
        lines.append("| " + " | ".join(f"![{l} occluded](recovery/{m}-{slug}-occluded.png)" for m, l in METHODS) + " |")
        lines.append("| " + " | ".join(f"![{l} recovered](recovery/{m}-{slug}-recovered.png)" for m, l in METHODS) + " |")
        lines.append("")
    lines.append("Raw figures: " + json.dumps({**{f"{m}/{k}": v for (m, k), v in errors.items()},
                                               **{f"mean-fill/{k}": v for k, v in baseline.items()}}))
    # Notes written by hand below the marker are kept when the figures are written again.
    notes = MARKER + "\n"
    if os.path.exists(a.report):
        old = open(a.report).read()
        if MARKER in old:
            notes = MARKER + old.split(MARKER, 1)[1]
    with open(a.report, "w") as f:
        f.write("\n".join(lines) + "\n\n" + notes)
    print(f"wrote {os.path.relpath(a.report, ROOT)}")


if __name__ == "__main__":
    main()
