"""CPU: `multigrid bench` (release build, Burn's CPU backend) against the project's PyTorch reference of
the same nets (reference/torch_multigrid.py), with the same threads, grids (16 and 64, paper
architectures), batches (16 and 100) and normalisations, in rounds that alternate the two in one run;
the peak rate of this CPU, memory over 1,000 training iterations, and the browser benchmarks
(`bench browser`: the ops and the first visit, threads, WebGPU calls) when the page is built.
Writes reports/bench.md and reports/bench.json.

PyTorch: --python's python must import torch; without --python, .venv-bench is made with
`pip install torch` (the PyPI wheel for Linux pulls CUDA libraries, several GB, but runs on CPU)."""
import json, os, platform, re, shutil, subprocess, sys

from .. import provenance
from .common import (BIN, OPS, REFERENCE, ROOT, bench_cmd, browser, build_cli, last_json, median_row, op_name,
                     python_with_torch, query, sh, table, write_report)

HELP = "Burn's CPU backend against PyTorch on the CPU, and the page (reports/bench.md)"


def arguments(p):
    p.add_argument("--threads", type=int, default=os.cpu_count())
    p.add_argument("--reps", type=int, default=5)
    p.add_argument("--rounds", type=int, default=3,
                   help="rounds alternating ours and PyTorch; each figure is the median over the rounds "
                        "(this shared machine's speed drifts, by up to ±30%% on the small rows)")
    p.add_argument("--python", help="a python that imports torch (default: .venv-bench, made when missing)")
    p.add_argument("--no-browser", action="store_true")
    p.add_argument("--report-dir", help="write the report here instead of reports/")
    p.add_argument("--smoke", action="store_true",
                   help="a quick end-to-end run of this script (batch 16 only, one round, 20 training iterations, "
                        "no browser, no PyTorch: its columns repeat ours); for a report elsewhere than reports/")


def cpu_peak(threads):
    """Theoretical f32 peak: cores × clock × FLOP/cycle/core from the vector units the CPU has."""
    info = open("/proc/cpuinfo").read()
    model = re.search(r"model name\s*:\s*(.*)", info).group(1).strip()
    mhz = float(re.search(r"cpu MHz\s*:\s*([\d.]+)", info).group(1))
    flags = set(re.search(r"flags\s*:\s*(.*)", info).group(1).split())
    family = int(re.search(r"cpu family\s*:\s*(\d+)", info).group(1))
    vendor = re.search(r"vendor_id\s*:\s*(\S+)", info).group(1)
    if "avx512f" in flags and not (vendor == "AuthenticAMD" and family == 25):
        per_cycle, why = 64, "AVX-512: 2 FMA units × 16 f32 lanes × 2 FLOP"
    elif "fma" in flags:
        per_cycle, why = 32, "2 FMA units × 8 f32 lanes (256-bit) × 2 FLOP" + (
            " (AMD Zen 4 executes AVX-512 on 256-bit units)" if "avx512f" in flags else "")
    else:
        per_cycle, why = 16, "SSE/AVX without FMA"
    peak = threads * mhz / 1e3 * per_cycle
    return {"model": model, "vendor": vendor, "family": family, "mhz": mhz, "threads": threads,
            "flop_per_cycle": per_cycle, "why": why, "gflops": peak}


def measured_sgemm(py, threads):
    """The best f32 matrix-product rate PyTorch (MKL/oneDNN) reaches here: an empirical peak, since the
    reported clock is the base clock and the cores boost above it."""
    code = f"""
import time, torch
torch.set_num_threads({threads})
a, b = torch.randn(4096, 4096), torch.randn(4096, 4096)
best = 0.0
for _ in range(6):
    t = time.perf_counter(); torch.mm(a, b); dt = time.perf_counter() - t
    best = max(best, 2 * 4096 ** 3 / dt / 1e9)
print(best)
"""
    return float(sh([py, "-c", code]).strip())


def rss_log(path):
    """(iteration, resident memory) at each learned iteration a run's log holds (its other lines are
    events; a long run's log may keep only every 10th iteration)."""
    lines = [json.loads(line) for line in open(path)]
    return [(l["iteration"], l["rss_mb"]) for l in lines if l.get("event", "learned") == "learned" and "rss_mb" in l]


def memory_over_iterations(iters=1000, folder=None):
    """Resident memory of `multigrid train --preset tiny --norm batch` over `iters` iterations, from
    its log. Batch normalisation, because without it `tiny` at seed 1 can diverge within a few
    hundred iterations on some CPUs (the guard then stops the run), and this measures memory."""
    out = os.path.join(folder or os.path.join(ROOT, "runs"), "bench-memory")
    shutil.rmtree(out, ignore_errors=True)  # a new model, not the last run's resumed
    sh([BIN, "train", "--preset", "tiny", "--norm", "batch", "--iters", str(iters), "--seed", "1", "--out", out,
        "--quiet", "--save-every", str(iters)], capture=False)
    rss = [mb for _, mb in rss_log(os.path.join(out, "log.jsonl"))]
    at = lambda n: rss[min(n, len(rss)) - 1]  # noqa: E731
    return {"iters": iters, "after_10": at(10), "after_100": at(100), "last": rss[-1], "max": max(rss)}


def browser_bench(args):
    """One mode of scripts/bench/browser.mjs against the built page: its JSON, or None and why not."""
    if not os.path.exists(os.path.join(ROOT, "dist", "index.html")):
        return None, "the page is not built (npm run build)"
    try:
        return last_json(browser(args)), None
    except (subprocess.CalledProcessError, ValueError, IndexError) as e:  # a failed run, or no JSON line
        return None, f"the browser benchmark failed ({e})"


# The speed-up from every core that a visitor with 8 cores would need ≥ 4× from (issue #32).
THREAD_TARGET = 1.8


def threads_section(scaling, note):
    """The page's training speed on one thread against every core, and what Amdahl's law makes of
    the ratio: the serial share s, from r = 1 / (s + (1 − s) / n), and the speed-up at 4 and 8."""
    lines = ["", "## Threads in the browser", ""]
    if not scaling:
        return lines + [f"Not measured: {note}."]
    n = int(re.search(r"(\d+) threads?", scaling["all"]["badge"]).group(1))
    r = scaling["ratio"]
    serial = (n / r - 1) / (n - 1) if n > 1 else 1.0
    at = lambda p: 1 / (serial + (1 - serial) / p)  # noqa: E731
    return lines + [
        f"`npm run bench -- browser --thread-scaling --cpu-only --rounds {scaling['rounds']} --seconds {scaling['seconds']:g}`: "
        f"the page trains `small` (batch 8, the textures) for {scaling['seconds']:g} s with `?backend=cpu&threads=1` (the "
        f"single-threaded module) and with `?backend=cpu` (the threaded one, a pool of `navigator.hardwareConcurrency` Web "
        f"Workers), in {scaling['rounds']} alternating fresh browsers, then times the paper nets' grid 64 at batch 16 in the "
        "same page. Medians of the rounds; the spread is the rounds' range.",
        "",
        *scaling["table"],
        "",
        f"Every core ({n}) against one thread: **{r:.2f}×** the iterations per second. By Amdahl's law that leaves a serial "
        f"share of {100 * serial:.0f}% of an iteration, and predicts {at(4):.1f}× on 4 threads and {at(8):.1f}× on 8.",
        "",
        *table("target", "measured", "met"),
        f"| `small` in the page on every core ≥ {THREAD_TARGET}× one thread | {r:.2f}× on {n} threads | "
        f"{'yes' if r >= THREAD_TARGET else 'no'} |",
    ]


# Dispatches per Langevin step of `small` at batch 8 the WebGPU path should come down to (issue #32).
DISPATCH_TARGET = 55


def webgpu_calls_section(cost, note):
    """The WebGPU calls the page's worker makes and the host's cost of one dispatch, as
    `bench browser --dispatch-cost` measured them, with the floor they put under a step."""
    lines = ["", "## WebGPU: calls and the host's cost of a dispatch", ""]
    if not cost:
        return lines + [f"Not measured: {note}."]
    small = next(r for r in cost["calls"]["rows"] if r["preset"] == "small")
    floor, cpu = cost["floor"], cost["cpu"]
    per_iteration_cpu = 1000 / cpu["all"]["itersPerSecond"]
    step = small["dispatchesPerLangevinStep"]
    verdict = ("so on WebGPU the dispatches alone would take longer than the CPU backend, whatever the GPU"
               if floor["iterationMs"] >= per_iteration_cpu else
               f"so WebGPU could at best be {per_iteration_cpu / floor['iterationMs']:.1f}× as fast as the CPU backend here, "
               "however fast the GPU")
    return lines + [
        "`npm run bench -- browser --dispatch-cost`. A counting layer in the page's worker counts the WebGPU calls Burn "
        "makes: compute dispatches, queue submissions and buffer maps; maps issued in one task of the worker's event loop "
        "count as one wait, a host round trip. Per Langevin step from samples of 8 at two chain lengths; per learning "
        "iteration from one Step, and from whole iterations while Train runs.",
        "",
        *cost["calls"]["table"],
        "",
        "Then a worker of the page's origin times dispatches of a kernel that does next to nothing, encoded as Burn's wgpu "
        "backend encodes them, and once more reusing one bind group. Dispatch counts times the host's cost of one is the "
        "floor of a step on WebGPU whatever the adapter, since Chromium's WebGPU front end is the same code on every GPU:",
        "",
        *cost["table"],
        "",
        f"At {cost['perDispatchUs']:.1f} µs per dispatch, the {small['learn']['dispatches']:,} dispatches of a learning "
        f"iteration of `small` (T = 4) cost {floor['iterationMs']:.0f} ms on the host alone, against {per_iteration_cpu:.0f} ms "
        f"for the whole iteration on the CPU backend on every core: {verdict}.",
        "",
        *table("target", "measured", "met"),
        f"| dispatches per grid's Langevin step of `small` (batch 8) ≤ {DISPATCH_TARGET} | {step:.1f} | "
        f"{'yes' if step <= DISPATCH_TARGET else 'no'} |",
    ]


def wasm_ceiling_note(browser, peak):
    """What SIMD128 allows one core here, how close the wasm CPU backend comes, and what within 2×
    of native on one thread would need."""
    clock = peak["gflops"] / (peak["threads"] * peak["flop_per_cycle"])  # GHz the measured peak implies
    ceiling = 8 * clock  # two 4-lane vector operations per cycle, a multiply and an add (no FMA)
    rows = []
    for w, n in zip(browser["cpu"], browser["native1"]):
        need = n["gflops"] / 2
        rows.append(f"g{w['grid']} Langevin step {w['gflops']:.1f} GFLOP/s ({100 * w['gflops'] / ceiling:.0f}% of it); "
                    f"within 2× of native's {n['gflops']:.1f} would need {need:.1f} ({100 * need / ceiling:.0f}%)")
    return (f"wasm's ceiling, by the model behind the native peak (two vector arithmetic operations per cycle): "
            f"SIMD128 has no fused multiply-add, so a multiply-add of 4 lanes takes two operations and one core does "
            f"8 f32 FLOP per cycle, {ceiling:.1f} GFLOP/s at the {clock:.2f} GHz the measured peak implies. A figure a little "
            f"over 100% means one busy core clocks higher (or the CPU has a third adder port). " + "; ".join(rows) + ".")


def pretrained_memory_note():
    """Resident memory over the bundled model's training, read from its committed log."""
    path = os.path.join(ROOT, "weights", "small-training", "log.jsonl")
    if not os.path.exists(path):
        return []
    log = rss_log(path)
    first, last = log[0], log[-1]
    middle = min(log, key=lambda entry: abs(entry[0] - last[0] / 2))
    kept = "" if len(log) == last[0] else f", which keeps {len(log):,} of them"
    return ["", f"Memory: besides the 1,000-iteration `tiny` run in the table above, the {last[0]:,}-iteration training "
                f"of the bundled `small` model logged {first[1]:.1f} MB resident after iteration {first[0]:,}, {middle[1]:.1f} MB "
                f"after {middle[0]:,} and {last[1]:.1f} MB after {last[0]:,}, at most {max(mb for _, mb in log):.1f} MB "
                f"(`weights/small-training/log.jsonl`{kept})."]


def measure(a, py):
    """Every round's rows, ours and PyTorch's, alternating; one row per (norm, grid, batch) with the
    medians over rounds; and PyTorch's version. (A smoke run has no PyTorch: py is None.)"""
    env = dict(os.environ, RAYON_NUM_THREADS=str(a.threads), OMP_NUM_THREADS=str(a.threads))
    grids, batches = ("16,64", "16") if a.smoke else ("16,64", "16,100")
    rounds = {}  # (norm, grid, batch) -> every round's row, ours and PyTorch's
    for _ in range(a.rounds):
        for norm in ("none", "batch"):
            ours = json.loads(sh(bench_cmd(BIN, grids, batches, norm, a.reps), env=env))
            theirs = json.loads(sh([py, REFERENCE, "bench", "--grids", grids, "--batches", batches, "--threads", str(a.threads),
                                    "--norm", norm, "--json"], env=env)) if py else {"rows": ours["rows"], "meta": {
                                        "torch": "not measured (a smoke run: its columns repeat ours)"}}
            torch_version = theirs["meta"]["torch"]
            for o in ours["rows"]:
                t = next(r for r in theirs["rows"] if r["grid"] == o["grid"] and r["batch"] == o["batch"])
                entry = rounds.setdefault((norm, o["grid"], o["batch"]), {"ours": [], "torch": []})
                entry["ours"].append(o)
                entry["torch"].append(t)
    rows = [{"norm": norm, "grid": grid, "batch": batch, "ours": median_row(e["ours"]), "torch": median_row(e["torch"]),
             "rounds": e} for (norm, grid, batch), e in rounds.items()]
    return rows, torch_version


def render(a, rows, peak, theoretical, memory, page, torch_version):
    """The report's figures: the side-by-side table, rates against the peak, targets, the browser."""
    lines = [
        "# Benchmark: multigrid-ebm (Burn, CPU) vs PyTorch on the same nets",
        "",
        *provenance.block(browser=query(["chromium", "--version"]) if page["ops"][0] else None),
        f"`multigrid bench` with {a.threads} threads; PyTorch {torch_version}; release build; the same thread count for both. "
        f"Each figure is the median over {a.rounds} rounds that alternate ours and PyTorch in this one run, each round "
        f"timing the median of {a.reps} repetitions after a warm-up; the last column shows how far the rounds' own ratios "
        "spread (the machine is shared). Paper architectures (model.py), random inputs in [0, 255].",
        "",
        *table("grid", "batch", "norm", "op", "ours ms", "PyTorch ms", "ratio (ours / PyTorch)", "rounds' ratios"),
    ]
    for r in rows:
        for op in OPS:
            o, t = r["ours"][op], r["torch"][op]
            each = [x[op] / y[op] for x, y in zip(r["rounds"]["ours"], r["rounds"]["torch"])]
            lines.append(f"| {r['grid']} | {r['batch']} | {r['norm']} | {op_name(op)} | {o:.1f} | {t:.1f} | "
                         f"{o / t:.2f} | {min(each):.2f}–{max(each):.2f} |")
    lines += [
        "",
        f"Peak: the larger of the theoretical figure, {peak['threads']} cores × {peak['mhz']:.0f} MHz × {peak['flop_per_cycle']} "
        f"f32 FLOP/cycle ({peak['why']}) = {theoretical:.0f} GFLOP/s (from /proc/cpuinfo, whose clock is the base clock), "
        f"and the measured rate of a 4096² f32 matrix product in PyTorch with the same threads, {peak['sgemm_gflops']:.0f} "
        f"GFLOP/s (the cores boost above the base clock): **{peak['gflops']:.0f} GFLOP/s**.",
        "",
        *table("grid", "batch", "norm", "Langevin step GFLOP/s (ours)", "% of peak", "PyTorch GFLOP/s"),
    ]
    for r in rows:
        flop = 2 * r["ours"]["forward_gflop"]
        lines.append(f"| {r['grid']} | {r['batch']} | {r['norm']} | {r['ours']['gflops']:.1f} | {100 * r['ours']['gflops'] / peak['gflops']:.0f}% | "
                     f"{flop / (r['torch']['langevin_step_ms'] / 1e3):.1f} |")
    lines += ["", "FLOPs of a Langevin step are counted as 2 × the forward pass (forward + input gradient; multiply-add = 2 FLOP)."]

    best64 = max(100 * r["ours"]["gflops"] / peak["gflops"] for r in rows if r["grid"] == 64)
    lines += ["", "## Targets", "", *table("target", "measured", "met")]
    for op in ("langevin_step_ms", "update_ms"):
        w = max(r["ours"][op] / r["torch"][op] for r in rows)
        lines.append(f"| {op_name(op)} ≤ 0.8 × PyTorch (g16, g64; batch 16, 100) | worst ratio {w:.2f} | {'yes' if w <= 0.8 else 'no'} |")
    lines.append(f"| ≥ 40% of peak on the g64 Langevin step | {best64:.0f}% (best g64 row) | {'yes' if best64 >= 40 else 'no'} |")
    # Rows where 0.8× PyTorch's Langevin step would need more than the machine's peak.
    beyond = []
    for r in rows:
        need = 2 * r["ours"]["forward_gflop"] / (0.8 * r["torch"]["langevin_step_ms"] / 1e3)
        if need > peak["gflops"]:
            beyond.append(f"g{r['grid']} b{r['batch']} {r['norm']} ({100 * need / peak['gflops']:.0f}%)")
    grew = memory["last"] - memory["after_100"]
    lines.append(f"| memory flat over {memory['iters']} iterations (`train --preset tiny --norm batch`, resident set) | "
                 f"{memory['after_10']:.1f} MB after 10, {memory['after_100']:.1f} MB after 100, {memory['last']:.1f} MB after "
                 f"{memory['iters']} (max {memory['max']:.1f}) | {'yes' if abs(grew) < 2 else 'no'} |")
    if beyond:
        lines += ["", f"Note: a Langevin step in 0.8× PyTorch's time would need more than this machine's peak for {len(beyond)} "
                  f"of the {len(rows)} rows (the share of peak it would need): {', '.join(beyond)}."]
    lines += pretrained_memory_note()
    (ops, note), scaling, cost = page["ops"], page["threads"], page["calls"]
    if ops:
        lines += ["", "## In the browser", "", ops["summary"], "", *ops["targets"], "", wasm_ceiling_note(ops, peak)]
    else:
        lines += ["", "## In the browser", "", f"Not measured: {note}."]
    lines += threads_section(*scaling) + webgpu_calls_section(*cost)
    return "\n".join(lines + remote_section()) + "\n"


def remote_section():
    """What a device served on loopback (`multigrid serve`, Burn's remote backend) adds, as its own
    report measured it: reports/remote.json, by `npm run reports -- remote`, at the commit its
    report names."""
    from .. import remote
    lines = ["", "## On a remote device", ""]
    data, report = os.path.join(ROOT, "reports", "remote.json"), os.path.join(ROOT, "reports", "remote.md")
    if not os.path.exists(data):
        return lines + ["Not measured: `npm run reports -- remote` writes reports/remote.json."]
    measured = next((line[2:].strip() for line in open(report) if line.startswith("> Commit")), "at an unrecorded commit")
    return lines + [f"From [`remote.md`](remote.md) (`npm run reports -- remote`; {measured}): the CPU backend served on "
                    "127.0.0.1 by `multigrid serve`, against the same backend in the process.", "",
                    *remote.figures(json.load(open(data)))]


def main(a):
    if a.smoke and not a.report_dir:
        sys.exit("--smoke writes elsewhere than reports/: give --report-dir")
    if a.smoke:
        a.rounds, a.reps, a.no_browser = 1, 1, True
    a.rounds = max(a.rounds, 1)
    build_cli()
    py = None if a.smoke else python_with_torch(a.python)
    rows, torch_version = measure(a, py)
    peak = cpu_peak(a.threads)
    peak["sgemm_gflops"] = measured_sgemm(py, a.threads) if py else 0.0
    theoretical = peak["gflops"]
    peak["gflops"] = max(theoretical, peak["sgemm_gflops"])
    memory = memory_over_iterations(20 if a.smoke else 1000, a.report_dir)
    skipped = (None, "skipped (--no-browser)")
    page = {name: skipped if a.no_browser else browser_bench(args) for name, args in (
        ("ops", ["--reps", "3"]),
        ("threads", ["--thread-scaling", "--cpu-only", "--rounds", "3", "--seconds", "20"]),
        ("calls", ["--dispatch-cost"]))}
    folder = a.report_dir or os.path.join(ROOT, "reports")
    write_report("bench.md", render(a, rows, peak, theoretical, memory, page, torch_version), folder)
    with open(os.path.join(folder, "bench.json"), "w") as f:
        json.dump({"peak": peak, "rows": rows, "memory": memory, "browser": page["ops"][0],
                   "browser_threads": page["threads"][0], "browser_webgpu_calls": page["calls"][0]}, f, indent=1)
