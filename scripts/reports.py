#!/usr/bin/env python3
"""Regenerate a report: `npm run reports -- NAME [--smoke] [ARGS...]`.

  stability    reports/stability.md     long runs of `small` at every setting studied (hours)
  comparison   reports/comparison.md    multi-grid, CD and persistent CD, textures and digits (hours)
  recovery     reports/recovery.md      the paper's occlusion experiment (an hour or more)
  bench        reports/bench.md         the CPU backend against PyTorch, and the page (minutes; torch)
  soak         reports/soak.md          an hour of training in the page: memory, rollbacks, messages
  build        reports/build.md         the first build, cold, with and without the opt-level table (an hour)
  guard        reports/guard.md         the divergence guard's energy rule against the published models' logs (seconds)
  pretrain     reports/pretrain-MODEL.md  retrain `small` or `digits` from scratch by its recipe (hours; MODEL first)
  remote       reports/remote.md        a device served on loopback (multigrid serve) against it in the process (minutes)

ARGS go to the script that writes the report (its --help lists them). Each report opens with its
provenance: this command, the commit, the date, the machine and the wall time.

--smoke runs the same script end to end on a few iterations, writing into a temporary folder and
nowhere under reports/ (`npm test` runs every smoke form, so the scripts cannot rot), and checks
that the report it wrote opens with its provenance.
"""
import os, subprocess, sys, tempfile

ROOT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
VENV = os.path.join(ROOT, ".venv", "bin", "python")

# name: (the report, the command that writes it, the smoke form's arguments given a temporary folder).
REPORTS = {
    "stability": ("stability.md", [VENV, "scripts/stability.py"],
                  lambda tmp: ["--iters", "4", "--every", "2", "--variants", "energy-scale-cap-4e5,lr-decay-from-6000",
                               "--runs", os.path.join(tmp, "runs"), "--report", tmp]),
    "comparison": ("comparison.md", [VENV, "scripts/compare.py"],
                   lambda tmp: ["--datasets", "digits", "--iters", "2", "--chunk", "1", "--seeds", "1", "--samples", "16",
                                "--runs", os.path.join(tmp, "runs"), "--report", tmp]),
    "recovery": ("recovery.md", [VENV, "scripts/recovery.py"],
                 lambda tmp: ["--preset", "tiny", "--iters", "2", "--seeds", "1", "--n", "2",
                              "--runs", os.path.join(tmp, "runs"), "--report", os.path.join(tmp, "recovery.md")]),
    "bench": ("bench.md", [sys.executable, "-m", "scripts.bench", "cpu"],
              lambda tmp: ["--smoke", "--report-dir", tmp]),
    "soak": ("soak.md", [sys.executable, "scripts/soak.py"],
             lambda tmp: ["--minutes", "0.05", "--interval", "3", "--report", os.path.join(tmp, "soak.md")]),
    "build": ("build.md", [sys.executable, "scripts/buildtime.py"],
              lambda tmp: ["--smoke", "--report", os.path.join(tmp, "build.md")]),
    "guard": ("guard.md", [sys.executable, "scripts/guard_evidence.py"],
              lambda tmp: ["--report", os.path.join(tmp, "guard.md")]),
    "pretrain": ("pretrain.md", [sys.executable, "scripts/pretrain.py"],
                 lambda tmp: ["digits", "--iters-scale", "0.0005", "--eval-n", "8", "--runs", os.path.join(tmp, "runs"),
                              "--report", os.path.join(tmp, "pretrain.md")]),
    "remote": ("remote.md", [sys.executable, "scripts/remote.py"],
               lambda tmp: ["--preset", "tiny", "--batch", "2", "--reps", "1", "--iters", "3", "--rounds", "1",
                            "--report", os.path.join(tmp, "remote.md")]),
}


def main():
    args = sys.argv[1:]
    if not args or args[0] not in REPORTS:
        print(__doc__)
        sys.exit(2 if args and args[0] not in ("-h", "--help") else 0)
    name, rest = args[0], args[1:]
    smoke = "--smoke" in rest
    rest = [a for a in rest if a != "--smoke"]
    report, command, smoke_args = REPORTS[name]
    env = dict(os.environ, MULTIGRID_REPORT_COMMAND=" ".join(["npm run reports --", name, *args[1:]]))
    if not os.path.exists(os.path.join(ROOT, "target", "release", "multigrid")):
        subprocess.run(["cargo", "build", "--release", "--quiet"], cwd=ROOT, check=True)
    if not smoke:
        sys.exit(subprocess.run([*command, *rest], cwd=ROOT, env=env).returncode)
    if smoke_args is None:
        sys.exit(f"the {name} report has no smoke form yet")
    with tempfile.TemporaryDirectory(prefix=f"report-{name}-") as tmp:
        done = subprocess.run([*command, *smoke_args(tmp), *rest], cwd=ROOT, env=env, stdout=subprocess.DEVNULL)
        path = os.path.join(tmp, report)
        if done.returncode != 0 or not os.path.exists(path):
            sys.exit(f"smoke {name}: the script failed (exit {done.returncode}) or wrote no {report}")
        head = open(path).read().splitlines()[:6]
        if not (head[0].startswith("# ") and any(l.startswith("> Regenerate: `npm run reports -- ") for l in head)
                and any(l.startswith("> Commit ") for l in head) and any(l.startswith("> Machine: ") for l in head)):
            sys.exit(f"smoke {name}: {report} does not open with its provenance:\n" + "\n".join(head))
        print(f"smoke {name}: {report} written and opens with its provenance")


if __name__ == "__main__":
    main()
