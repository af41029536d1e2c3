#!/usr/bin/env python3
"""Retrain a pretrained model from scratch by its recipe, with no hand steps, and score it:
`npm run reports -- pretrain small|digits`. Writes the run folder (checkpoints, log.jsonl, mosaics),
reports/pretrain-MODEL.md (the recipe's commands, the wall time, the scores of the last checkpoint
beside the published model's), and with --publish copies the result to weights/MODEL.bpk.

  scripts/pretrain.py MODEL [--runs runs/pretrain] [--report reports/pretrain-MODEL.md] [--publish]
                            [--iters-scale 1.0] [--eval-n N]

The recipes are the commands weights/README.md documents for each published model, stage by stage
(a stage after the first resumes the run). --iters-scale shrinks every stage's iterations and save
intervals (the smoke form uses it); the report says so. A full `small` takes hours here.
"""
import argparse, json, os, shutil, statistics, sys, time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from compare import DATASETS, ROOT, evaluate, run  # noqa: E402
import provenance  # noqa: E402

# Each stage: `multigrid train` arguments without --out; iteration counts are the run's totals.
RECIPES = {
    "small": {
        "stages": [
            ["--preset", "small", "--seed", "2018", "--iters", 6000, "--save-every", 1000, "--snapshot-every", 1000,
             "--lr-half-life", "0", "--energy-scale-cap", "4e5"],
            ["--resume", "--iters", 20000, "--save-every", 1000, "--snapshot-every", 1000,
             "--lr-half-life", "1000", "--lr-constant-for", "6000", "--energy-scale-cap", "4e5"],
        ],
        "scored on": "textures",
    },
    "digits": {
        "stages": [
            ["--data", "data/digits/train", "--preset", "digits", "--iters", 4000, "--seed", "1",
             "--save-every", 250, "--snapshot-every", 500],
            ["--data", "data/digits/train", "--resume", "--iters", 10000, "--seed", "1",
             "--save-every", 500, "--snapshot-every", 1000],
        ],
        "scored on": "digits",
    },
}
SCALED = {"--iters", "--save-every", "--snapshot-every"}


def scaled(stage, factor):
    """The stage's arguments as strings, its iteration counts times `factor` (at least 1)."""
    out = []
    for i, a in enumerate(stage):
        out.append(str(max(1, round(a * factor))) if i and stage[i - 1] in SCALED else str(a))
    return out


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("model", choices=sorted(RECIPES))
    p.add_argument("--runs", default=os.path.join(ROOT, "runs", "pretrain"))
    p.add_argument("--report")
    p.add_argument("--publish", action="store_true", help="copy the result to weights/MODEL.bpk")
    p.add_argument("--iters-scale", type=float, default=1.0)
    p.add_argument("--eval-n", type=int, help="images `multigrid eval` synthesizes (default: its own, as published)")
    args = p.parse_args()
    os.chdir(ROOT)  # the recipes name the data as weights/README.md does, from the repository root
    recipe = RECIPES[args.model]
    out = os.path.join(args.runs, args.model)
    shutil.rmtree(out, ignore_errors=True)
    commands, seconds = [], []
    for stage in recipe["stages"]:
        argv = ["train", *scaled(stage, args.iters_scale), "--quiet", "--out", out]
        commands.append("multigrid " + " ".join(argv[:-1] + [f"runs/pretrain/{args.model}"]))
        t0 = time.time()
        run(*argv)
        seconds.append(time.time() - t0)
    checkpoint = os.path.join(out, "checkpoint.bpk")
    log = [json.loads(line) for line in open(os.path.join(out, "log.jsonl"))]
    learned = [e for e in log if "grids" in e]
    rollbacks = sum(1 for e in log if e.get("event") == "rollback")
    data = DATASETS[recipe["scored on"]]
    ours = evaluate(checkpoint, data=data, n=args.eval_n)
    published = evaluate(os.path.join(ROOT, "weights", f"{args.model}.bpk"), data=data, n=args.eval_n)
    if args.publish:
        shutil.copy2(checkpoint, os.path.join(ROOT, "weights", f"{args.model}.bpk"))

    report = args.report or os.path.join(ROOT, "reports", f"pretrain-{args.model}.md")
    lines = [f"# Retraining `{args.model}.bpk` from scratch", ""] + provenance.block() + [
        "The recipe, as weights/README.md documents it, run stage by stage"
        + (f", every iteration count scaled by {args.iters_scale:g}" if args.iters_scale != 1 else "") + ":", "",
        "```sh", *commands, "```", "",
        "| stage | wall time |", "|---|---|"]
    lines += [f"| {i + 1} | {provenance.wall(s)} |" for i, s in enumerate(seconds)]
    iteration = learned[-1]["iteration"] if learned else 0
    lines += ["", f"{iteration:,} iterations, {rollbacks} rollback{'s' if rollbacks != 1 else ''} by the guard, "
              f"median {statistics.median(e['seconds'] for e in learned):.2f} s an iteration. "
              + ("The result was copied to " f"weights/{args.model}.bpk." if args.publish else
                 f"weights/{args.model}.bpk was left as it is (--publish replaces it)."), "",
              f"`multigrid eval` (seed 0, {args.eval_n or 'its default number of'} samples) against the held-out "
              f"{recipe['scored on']}, of the last checkpoint beside the published model:", "",
              "| | held-out SWD ×10³ (mean over grids) | flat share | held-out flat share | nearest-neighbour ratio |",
              "|---|---|---|---|---|"]
    for name, m in (("retrained", ours), ("published", published)):
        lines.append(f"| {name} | {m['swd_mean']:.1f} | {m['flat_share']:.1%} | {m['held_out_flat_share']:.1%} | "
                     f"{m.get('nn_ratio', float('nan')):.2f} |")
    os.makedirs(os.path.dirname(os.path.abspath(report)), exist_ok=True)
    open(report, "w").write("\n".join(lines) + "\n")
    print(f"wrote {report}")


if __name__ == "__main__":
    main()
