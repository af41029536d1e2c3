"""What the benchmark subcommands share: paths, running commands, building the CLI, `multigrid bench`'s
command line, the PyTorch reference, the headless-browser script, medians, markdown tables and
writing a report without losing the notes kept in it."""
import importlib.util, json, os, shutil, statistics, subprocess, sys

ROOT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
BIN = os.path.join(ROOT, "target", "release", "multigrid")
REFERENCE = os.environ.get("REFERENCE", os.path.join(ROOT, "reference", "torch_multigrid.py"))
BROWSER = os.path.join(ROOT, "scripts", "bench", "browser.mjs")
TORCH = "torch==2.15.0"
OPS = ("forward_ms", "langevin_step_ms", "update_ms")
# Builds of the CLI by this crate's cargo features; the plain one last, so target/release/multigrid
# is the default build again at the end.
VARIANTS = {"fusion": ["fusion"], "autotune": ["autotune"], "both": ["fusion", "autotune"], "neither": []}
# A report is the figures a subcommand writes, this line, then notes written by hand that a rerun keeps.
NOTES_MARKER = "<!-- The figures above are written by `npm run bench`; what follows is kept as written when they are. -->"


def sh(cmd, env=None, capture=True):
    """Runs `cmd` in the repository root, echoing it; its stdout when `capture`."""
    print("$", " ".join(cmd), flush=True)
    return subprocess.run(cmd, check=True, text=True, env=env, cwd=ROOT, stdout=subprocess.PIPE if capture else None).stdout


def last_json(out):
    """The JSON object on the last line of a command's output."""
    return json.loads(out.strip().splitlines()[-1])


def query(cmd):
    """A command's output, or "" when it fails or is not installed (for optional facts: GPU names)."""
    try:
        r = subprocess.run(cmd, capture_output=True, text=True)
        return r.stdout.strip() if r.returncode == 0 else ""
    except FileNotFoundError:
        return ""


def build_cli(features=()):
    """The release CLI (target/release/multigrid) with these cargo features."""
    sh(["cargo", "build", "--release", "--locked", "--bin", "multigrid"] + (["--features", ",".join(features)] if features else []),
       capture=False)


def build_variants(names, bins):
    """The CLI built as each of `names` (keys of VARIANTS), copied to `bins`/NAME."""
    os.makedirs(bins, exist_ok=True)
    for name in names:
        build_cli(VARIANTS[name])
        shutil.copy2(BIN, os.path.join(bins, name))


def bench_cmd(binary, grids, batch, norm, reps, device=None):
    """`multigrid bench` on the paper nets, its rows as JSON."""
    return [binary, "bench"] + (["--device", device] if device else []) + ["--preset", "paper", "--grids", grids,
                                                                          "--batch", batch, "--norm", norm, "--reps", str(reps), "--json"]


def python_with_torch(explicit):
    """A python that imports torch: `explicit`, else .venv-bench (made with TORCH on first use)."""
    if explicit:
        return explicit
    venv = os.path.join(ROOT, ".venv-bench")
    py = os.path.join(venv, "bin", "python")
    if not os.path.exists(py) or subprocess.run([py, "-c", "import torch"], capture_output=True).returncode != 0:
        try:
            sh([sys.executable, "-m", "venv", venv], capture=False)
            sh([py, "-m", "pip", "install", "-q", TORCH, "numpy", "safetensors", "pillow"], capture=False)
        except subprocess.CalledProcessError:
            sys.exit(f"No PyTorch for the side-by-side figures: installing {TORCH} into .venv-bench failed. "
                     "Pass --python PATH, a python that imports torch.")
    return py


def load_reference():
    """reference/torch_multigrid.py (or $REFERENCE) as a module; needs torch in this python."""
    spec = importlib.util.spec_from_file_location("torch_multigrid", REFERENCE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def browser(args, capture=True):
    """Runs scripts/bench/browser.mjs with `args`; its output when `capture`."""
    return sh(["node", BROWSER] + list(args), capture=capture)


def median_row(runs):
    """One row from several rounds' rows: the median time of each op (and our GFLOP/s from it)."""
    row = dict(runs[0])
    for op in OPS:
        row[op] = statistics.median(r[op] for r in runs)
    if "forward_gflop" in row:
        row["gflops"] = 2 * row["forward_gflop"] / (row["langevin_step_ms"] / 1e3)
    return row


def medians(rounds):
    """Each row's median over rounds, from a list of rounds that each hold the same rows."""
    return [median_row(list(r)) for r in zip(*rounds)]


def op_name(op):
    return op.removesuffix("_ms").replace("_", " ")


def table(*columns):
    """A markdown table's header and separator lines."""
    return ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]


def write_report(name, figures, folder=None):
    """Writes `name` in reports/ (or `folder`): `figures`, then NOTES_MARKER and whatever the
    report already held below it. Prints and returns the whole report."""
    path = os.path.join(folder or os.path.join(ROOT, "reports"), name)
    notes = NOTES_MARKER + "\n"
    if os.path.exists(path):
        old = open(path).read()
        if NOTES_MARKER in old:
            notes = old[old.index(NOTES_MARKER):]
    text = figures.rstrip("\n") + "\n\n" + notes
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        f.write(text)
    print(text)
    return text
