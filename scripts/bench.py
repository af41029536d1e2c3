#!/usr/bin/env python3
"""Side-by-side benchmark: `multigrid bench` (release build, Burn's CPU backend) against the
project's PyTorch reference of the same nets (reference/torch_multigrid.py), with
the same threads, grids (16 and 64, paper architectures), batches (16 and 100) and normalisations,
measured in one run, plus the browser benchmark (scripts/bench-browser.mjs) when the page is built.
Writes reports/bench.md.

  scripts/bench.py [--threads 2] [--reps 5] [--rounds 3] [--python PATH] [--no-browser]
PyTorch: PATH's python must import torch; without --python, .venv-bench is made with
`pip install torch` (the PyPI wheel for Linux pulls CUDA libraries, several GB, but runs on CPU).
"""
import argparse, gzip, json, os, platform, re, statistics, subprocess, sys

ROOT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
REFERENCE = os.environ.get("REFERENCE", os.path.join(ROOT, "reference", "torch_multigrid.py"))
TORCH = "torch==2.15.0"


def sh(cmd, env=None, capture=True):
    print("$", " ".join(cmd), flush=True)
    return subprocess.run(cmd, check=True, text=True, env=env, cwd=ROOT, stdout=subprocess.PIPE if capture else None).stdout


def query(cmd):
    """A command's output, or "" when it fails or is not installed (for optional facts: GPU names)."""
    try:
        r = subprocess.run(cmd, capture_output=True, text=True)
        return r.stdout.strip() if r.returncode == 0 else ""
    except FileNotFoundError:
        return ""


def python_with_torch(explicit):
    if explicit:
        return explicit
    venv = os.path.join(ROOT, ".venv-bench")
    py = os.path.join(venv, "bin", "python")
    if not os.path.exists(py) or subprocess.run([py, "-c", "import torch"], capture_output=True).returncode != 0:
        sh([sys.executable, "-m", "venv", venv], capture=False)
        sh([py, "-m", "pip", "install", "-q", TORCH, "numpy", "safetensors", "pillow"], capture=False)
    return py


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


def memory_over_iterations(iters=1000):
    """Resident memory of `multigrid train --preset tiny` over `iters` iterations, from its log."""
    out = os.path.join(ROOT, "runs", "bench-memory")
    sh(["target/release/multigrid", "train", "--preset", "tiny", "--iters", str(iters), "--seed", "1", "--out", out,
        "--quiet", "--save-every", str(iters)], capture=False)
    rss = [json.loads(line)["rss_mb"] for line in open(os.path.join(out, "log.jsonl"))]
    return {"iters": iters, "after_10": rss[9], "after_100": rss[99], "last": rss[-1], "max": max(rss)}


def browser_bench(reps):
    if not os.path.exists(os.path.join(ROOT, "dist", "index.html")):
        return None, "the page is not built (npm run build)"
    try:
        out = sh(["node", "scripts/bench-browser.mjs", "--reps", str(reps)])
        return json.loads(out.strip().splitlines()[-1]), None
    except subprocess.CalledProcessError as e:
        return None, f"the browser benchmark failed ({e})"


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


# What profiling found and what was tried (measured while building this; kept with the figures).
NOTES = """## What was tried

- Profile first (perf, release, g64 Langevin step at batch 100). With Burn's CPU backend (flex) as
  released, about 50% of the time was in GEMM micro-kernels on badly shaped matrices (the
  `x1x6`/`x2x6` kernels for narrow outputs), the rest in flex's NHWC transposes, its transposed
  convolution for the input gradient, page faults from large per-call buffers and the LeakyReLU
  backward. Flex builds its im2col tiles per image, so the 8×8 and 4×4 outputs of the deeper layers
  give GEMMs with 16–64 columns, and it leaves both backward passes to Burn's generic fallbacks (a
  transposed convolution per image; a convolution with the batch as channels for the weight gradient).
- **Patched flex** (`vendor/patches`, see its README.md; `tests/conv.rs` checks it against a direct
  convolution): the forward pass and both backward passes as batched im2col + one large GEMM per tile
  of 512 output positions spanning several images, im2col through a per-convolution table of patch
  indices, per-thread scratch buffers. In `multigrid bench` runs while developing it, against the
  previous report (same machine type, flex as released): g64 batch 100 Langevin step 769 → about
  525 ms, update 2334 → about 1360 ms; g64 batch 16 Langevin step 124 → about 80 ms; g16 batch 16
  60 → 45–50 ms (this report's single run caught some rows, g16 batch 16 among them, slower: the
  machine is shared). The best g64 row went from 26% of peak to 39–46%.
- **LeakyReLU without branches.** Burn builds LeakyReLU (forward and backward) from `mask_where`
  on the sign of the input, and flex's in-place `mask_where` branched per element: 11% of a
  batch-norm g64 Langevin step at batch 100 (mispredicted branches, no vectorisation). The patch
  selects with a bitwise blend instead: 1.4%.
- **Keeping freed memory.** After that, 13% of the same profile was in the kernel: page faults and
  TLB flushes, because glibc returns every freed block over a few MB to the kernel, so each
  step's activations and gradients (up to 26 MB) were mapped and zeroed afresh. The CLI now tells
  glibc (`mallopt`) to serve blocks up to 32 MB from its heap and not to trim it. In A/B runs
  (`GLIBC_TUNABLES` with the same settings, alternating): batch-norm g64 batch 100 Langevin step
  730/709 → 515/511 ms, g16 batch 100 353/327 → 263/269 ms. Without normalisation, against the
  runs just before the change: g64 batch 100 Langevin step about 540 → 400–420 ms, g16 batch 16
  50 → 33 ms. Kernel time fell from 13% to 5–8% (what is left are copy-on-write faults on
  freshly zeroed gradient buffers). The page does not need this: wasm's allocator never returns
  memory.
- **Element-wise operations on every thread.** Flex ran every element-wise operation (LeakyReLU
  and its gradient, scalar and binary arithmetic, comparisons, selects, the zeroing of new
  tensors) on the calling thread while the pool waited: in a perf profile of g64 batch-16 steps
  and updates on 2 threads, 11% of the samples were the calling thread's alone, a share that grows
  with the cores. The patch splits them over rayon's threads from 64K elements up
  (`vendor/patches`, patch 0003): side by side here, the Langevin step 4–13% faster and the
  update within the noise; on 16 cores of a lent GPU machine the Langevin step 1.0–1.9× and the
  update 1.24–1.64× faster ([bench-gpu.md](bench-gpu.md)). The browser build has no threads, so
  there the operations keep upstream's code: a first version that sent them through the new
  helpers anyway made V8 run one grid's forward pass at half speed (and its Langevin step 50%
  slower) in each of 3 page loads, against none of 3 for the build without the patch and none of
  4 with upstream's code kept (alternating loads, timed like the table below); the same V8
  behaviour as the relaxed-SIMD build further down.
- Batch norm as one per-channel scale (γ / √(var + ε)) and one multiply over the batch instead of
  a division and a multiplication: about 5% on the batch-norm rows in alternating runs, within the
  noise.
- Tried and dropped: im2col by output-row stretches (strided copies, no index table) was slower
  (im2col's share went from 11% to 14%); tiles of 256 or 1024 positions made no difference beyond
  the noise, 2048 was slower, so tiles stay at 512. The GEMM micro-kernel (the `gemm` crate's
  AVX-512 `x4x6`) is now about 50% of the time; the rest is im2col/col2im (about 11%), the GEMM's
  packing (about 8%), copying tiles to and from the tensors (about 6%) and element-wise passes.
- Why ≤ 0.8× PyTorch stays out of reach here: PyTorch's oneDNN kernels run the g16 Langevin step
  at 60–85% of this machine's peak (table above; it varies from run to run), so 0.8× its time would
  need 75–105% of peak for those rows (a note under the targets lists any row beyond 100%). At
  g16 the GEMM micro-kernel is already about 63% of our time (perf, batch 16), running close to the
  FMA units' rate, so what is left is the `gemm` crate's packing and blocking against oneDNN's
  convolution kernels. For g64 it would need about 55–65% of peak in every pass; the micro-kernel
  is about 50% of the time there, the rest the convolution's data movement. The batch-norm rows are slower
  still: the batch statistics and their gradients are separate reductions and element-wise passes
  in flex (not fused, unlike PyTorch's batch-norm kernel).
- The Langevin loop keeps everything on the device: no host round trip per step (the figures are
  read back once per iteration, in one transaction), and the noise is drawn on the device.
- The parameter update sends the observed and the synthesized images through the net as one
  batch where no batch norm ties an image's energy to its batch (with batch norm each set keeps its
  own statistics, so two passes, as PyTorch's reference does for both): g64 batch-16 update 225 →
  212 ms side by side (three alternating runs each), about 4% less at g16 batch 100, within the
  noise at g16 batch 16.
- `x86-v4` (AVX-512 GEMM kernels, dispatched at run time): about 10% faster on the AMD Zen 4 machine where it was tried.
- Our own im2col + one batched matmul through Burn tensor ops (before the patch): slower than flex's
  convolution, because each im2col slice was a separate tensor op.
- Burn's `fusion` and `autotune` features act on the CubeCL backends (wgpu, CUDA), not on the flex
  CPU backend these tables measure. They are this crate's cargo features of the same names, off by
  default; `scripts/bench-burn-features.py --browser` builds the CLI and the page four ways, times
  `--device wgpu` in alternating rounds and the page's WebGPU in headless Chromium
  ([bench-burn-features.md](bench-burn-features.md)). With no GPU here, native ran on Mesa's
  lavapipe (software Vulkan on the CPU), paper nets, batch 16, no normalisation: `autotune` made the
  Langevin step 2.2–2.3× faster (g16 2470 → 1053 ms, g64 4407 → 1973 ms) and the update 2.1–2.4×
  faster, the forward pass unchanged; `fusion` made the forward pass and the Langevin step 12–22%
  slower (one forward row 53%), alone or with `autotune`, and the update 0–5% faster (an
  earlier run had it 4–7% slower). In the browser the picture differs: the page built with
  `autotune` (alone or with `fusion`) panics on its first WebGPU matmul in Chromium 156 on
  SwiftShader, because one of the candidate kernels autotuning compiles is an invalid shader there
  and cubecl-wgpu 0.11.3 treats that as a lost device instead of dropping the candidate; on wasm
  it would also re-tune on every page load (no tuning cache). `fusion` on WebGPU ran, with the update 2–6% faster and the rest
  unchanged, for 0.91 MB more gzipped wasm. So the page keeps both off. The native CLI keeps them
  off by default too, since the same crate features reach the wasm build (and
  `wasm-pack test` uses the defaults); build with `--features autotune` for `--device wgpu`. On a
  real GPU, an NVIDIA H200 lent to one session ([bench-gpu.md](bench-gpu.md),
  `scripts/bench-gpu.py`, side by side with PyTorch on CUDA), `autotune` made the Langevin step 24%
  faster and the update about twice as fast (geometric means over 8 rows), and `fusion` changed the
  forward pass by −6% to +3% and slowed some batch-norm rows by up to 33%. There Burn's wgpu takes
  2.1–7.7× PyTorch's float32 CUDA time per Langevin step (g64 batch 100: 24 ms, 5% of the GPU's
  float32 matrix rate, against PyTorch's 3.1 ms, 40%).
- The wasm CPU backend is single-threaded (no shared-memory threads on a static host without
  cross-origin isolation) with 4-lane SIMD128 instead of 16-lane AVX-512, and SIMD128 has no fused
  multiply-add: the `gemm` crate's wasm kernel issues a multiply and an add per 4 lanes, 8 FLOP
  per cycle at best against 64 for AVX-512 FMA. The line under the browser targets works out that
  ceiling and how close the wasm figures come to it: within 2× of native on one thread would need
  more than it allows. What could close the gap: relaxed SIMD (next item) and wasm threads where
  the host is cross-origin isolated.
- Relaxed SIMD, tried and not shipped. A patched `gemm-f32` whose wasm micro-kernels use
  `f32x4_relaxed_madd` (an FMA on this CPU), built with a cargo feature beside the plain SIMD128
  module, timed in headless Chromium 156 (paper nets, batch 16; nine page loads of it alternating
  with six of the plain build). Forward and update were 12–18% faster in every page load: g16
  forward 153–169 → 131–137 ms, update 934–972 → 818–864 ms; g64 forward 248–253 → 213–222 ms (one
  load 308 ms), update 1553–1620 → 1373–1408 ms. The Langevin step was not: in every page load,
  one of the two grids ran it about 13% faster (g16 317–335 → 278–282 ms, g64 530–537 → 460–463
  ms) and the other about 40% slower (g16 447–454 ms, g64 732–744 ms), for every repetition of that page, and
  which grid it hit changed from load to load. With V8's speculative inlining of indirect calls
  switched off (`--js-flags=--no-wasm-inlining-call-indirect`) all three page loads tried were
  fast in every row (update faster still, 770–793 ms at g16), so the slow mode comes from V8's
  tiering decisions, not from the kernel; V8's inlining trace shows the micro-kernel itself is
  never inlined, and a page cannot set V8's flags. Unrolling the kernel's loop 4 times instead of 2
  and a 2×6 kernel instead of 3×4 did not remove it (the 2×6 kernel was slower). A 40% slowdown of
  the step the page runs most, in half the grids, outweighs 15% on the rest, so the page keeps the
  plain SIMD128 build; the patch is kept in [relaxed-simd.diff](relaxed-simd.diff). Worth
  measuring next: whole training iterations (every grid's Langevin chain in turn, as the page runs
  them) rather than one grid at a time. Even at its best, relaxed SIMD doubles the ceiling above
  to 16 FLOP per cycle, and within 2× of native would still need 107–125% of it.
"""


def pretrained_memory_note():
    """Resident memory over the bundled model's training, read from its committed log."""
    path = os.path.join(ROOT, "weights", "small-training", "log.jsonl")
    if not os.path.exists(path):
        return ""
    rss = [json.loads(line)["rss_mb"] for line in open(path)]
    return (f"- Memory: besides the 1,000-iteration `tiny` run above, the {len(rss):,}-iteration training of the bundled\n"
            f"  `small` model logged {rss[9]:.1f} MB resident after 10 iterations, {rss[499]:.1f} MB after 500 and "
            f"{rss[-1]:.1f} MB after\n  {len(rss):,} (`weights/small-training/log.jsonl`): flat once the allocator has warmed up.\n")


OPS = ("forward_ms", "langevin_step_ms", "update_ms")


def median_row(runs):
    """One row from several rounds' rows: the median time of each op (and our GFLOP/s from it)."""
    row = dict(runs[0])
    for op in OPS:
        row[op] = statistics.median(r[op] for r in runs)
    if "forward_gflop" in row:
        row["gflops"] = 2 * row["forward_gflop"] / (row["langevin_step_ms"] / 1e3)
    return row


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--threads", type=int, default=os.cpu_count())
    p.add_argument("--reps", type=int, default=5)
    p.add_argument("--rounds", type=int, default=3,
                   help="rounds alternating ours and PyTorch; each figure is the median over the rounds "
                        "(this shared machine's speed drifts, by up to ±30%% on the small rows)")
    p.add_argument("--python")
    p.add_argument("--no-browser", action="store_true")
    a = p.parse_args()
    a.rounds = max(a.rounds, 1)

    sh(["cargo", "build", "--release"], capture=False)
    py = python_with_torch(a.python)
    env = dict(os.environ, RAYON_NUM_THREADS=str(a.threads), OMP_NUM_THREADS=str(a.threads))
    rounds = {}  # (norm, grid, batch) -> every round's row, ours and PyTorch's
    for _ in range(a.rounds):
        for norm in ("none", "batch"):
            ours = json.loads(sh(["target/release/multigrid", "bench", "--preset", "paper", "--grids", "16,64", "--batch", "16,100",
                                  "--norm", norm, "--reps", str(a.reps), "--json"], env=env))
            theirs = json.loads(sh([py, REFERENCE, "bench", "--grids", "16,64", "--batches", "16,100", "--threads", str(a.threads),
                                    "--norm", norm, "--json"], env=env))
            torch_version = theirs["meta"]["torch"]
            for o in ours["rows"]:
                t = next(r for r in theirs["rows"] if r["grid"] == o["grid"] and r["batch"] == o["batch"])
                entry = rounds.setdefault((norm, o["grid"], o["batch"]), {"ours": [], "torch": []})
                entry["ours"].append(o)
                entry["torch"].append(t)
    rows = [{"norm": norm, "grid": grid, "batch": batch, "ours": median_row(e["ours"]), "torch": median_row(e["torch"]),
             "rounds": e} for (norm, grid, batch), e in rounds.items()]
    peak = cpu_peak(a.threads)
    peak["sgemm_gflops"] = measured_sgemm(py, a.threads)
    theoretical = peak["gflops"]
    peak["gflops"] = max(theoretical, peak["sgemm_gflops"])
    memory = memory_over_iterations()
    browser, browser_note = (None, "skipped (--no-browser)") if a.no_browser else browser_bench(3)

    def ratio(o, t):
        return o / t

    lines = [
        "# Benchmark: multigrid-ebm (Burn, CPU) vs PyTorch on the same nets",
        "",
        f"Produced by `scripts/bench.py --threads {a.threads} --reps {a.reps} --rounds {a.rounds}` on {peak['model']} ({a.threads} threads), "
        f"{platform.system()} {platform.machine()}; PyTorch {torch_version}; release build; the same thread count for both. "
        f"Each figure is the median over {a.rounds} rounds that alternate ours and PyTorch in this one run, each round "
        f"timing the median of {a.reps} repetitions after a warm-up; the last column shows how far the rounds' own ratios "
        "spread (the machine is shared). Paper architectures (model.py), random inputs in [0, 255].",
        "",
        "| grid | batch | norm | op | ours ms | PyTorch ms | ratio (ours / PyTorch) | rounds' ratios |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        for op in OPS:
            o, t = r["ours"][op], r["torch"][op]
            each = [ratio(x[op], y[op]) for x, y in zip(r["rounds"]["ours"], r["rounds"]["torch"])]
            lines.append(f"| {r['grid']} | {r['batch']} | {r['norm']} | {op[:-3].replace('_', ' ')} | {o:.1f} | {t:.1f} | "
                         f"{ratio(o, t):.2f} | {min(each):.2f}–{max(each):.2f} |")
    lines += [
        "",
        f"Peak: the larger of the theoretical figure, {peak['threads']} cores × {peak['mhz']:.0f} MHz × {peak['flop_per_cycle']} "
        f"f32 FLOP/cycle ({peak['why']}) = {theoretical:.0f} GFLOP/s (from /proc/cpuinfo, whose clock is the base clock), "
        f"and the measured rate of a 4096² f32 matrix product in PyTorch with the same threads, {peak['sgemm_gflops']:.0f} "
        f"GFLOP/s (the cores boost above the base clock): **{peak['gflops']:.0f} GFLOP/s**.",
        "",
        "| grid | batch | norm | Langevin step GFLOP/s (ours) | % of peak | PyTorch GFLOP/s |",
        "|---|---|---|---|---|---|",
    ]
    for r in rows:
        flop = 2 * r["ours"]["forward_gflop"]
        lines.append(f"| {r['grid']} | {r['batch']} | {r['norm']} | {r['ours']['gflops']:.1f} | {100 * r['ours']['gflops'] / peak['gflops']:.0f}% | "
                     f"{flop / (r['torch']['langevin_step_ms'] / 1e3):.1f} |")
    lines += ["", "FLOPs of a Langevin step are counted as 2 × the forward pass (forward + input gradient; multiply-add = 2 FLOP)."]

    # Targets.
    def worst(op, norm=None):
        sel = [r for r in rows if norm is None or r["norm"] == norm]
        return max(ratio(r["ours"][op], r["torch"][op]) for r in sel)
    g64 = [r for r in rows if r["grid"] == 64]
    best64 = max(100 * r["ours"]["gflops"] / peak["gflops"] for r in g64)
    lines += ["", "## Targets", "", "| target | measured | met |", "|---|---|---|"]
    for op in ("langevin_step_ms", "update_ms"):
        w = worst(op)
        lines.append(f"| {op[:-3].replace('_', ' ')} ≤ 0.8 × PyTorch (g16, g64; batch 16, 100) | worst ratio {w:.2f} | {'yes' if w <= 0.8 else 'no'} |")
    lines.append(f"| ≥ 40% of peak on the g64 Langevin step | {best64:.0f}% (best g64 row) | {'yes' if best64 >= 40 else 'no'} |")
    # Rows where 0.8× PyTorch's Langevin step would need more than the machine's peak.
    beyond = []
    for r in rows:
        need = 2 * r["ours"]["forward_gflop"] / (0.8 * r["torch"]["langevin_step_ms"] / 1e3)
        if need > peak["gflops"]:
            beyond.append(f"g{r['grid']} b{r['batch']} {r['norm']} ({100 * need / peak['gflops']:.0f}%)")
    grew = memory["last"] - memory["after_100"]
    lines.append(f"| memory flat over {memory['iters']} iterations (`train --preset tiny`, resident set) | "
                 f"{memory['after_10']:.1f} MB after 10, {memory['after_100']:.1f} MB after 100, {memory['last']:.1f} MB after "
                 f"{memory['iters']} (max {memory['max']:.1f}) | {'yes' if abs(grew) < 2 else 'no'} |")
    if beyond:
        lines += ["", f"Note: a Langevin step in 0.8× PyTorch's time would need more than this machine's peak for {len(beyond)} "
                  f"of the {len(rows)} rows (the share of peak it would need): {', '.join(beyond)}."]
    if browser:
        lines += ["", "## In the browser", "", browser["summary"], ""]
        for t in browser["targets"]:
            lines.append(t)
        lines += ["", wasm_ceiling_note(browser, peak)]
    else:
        lines += ["", "## In the browser", "", f"Not measured: {browser_note}."]
    text = "\n".join(lines) + "\n\n" + NOTES + pretrained_memory_note()
    os.makedirs(os.path.join(ROOT, "reports"), exist_ok=True)
    open(os.path.join(ROOT, "reports", "bench.md"), "w").write(text)
    json.dump({"peak": peak, "rows": rows, "memory": memory, "browser": browser}, open(os.path.join(ROOT, "reports", "bench.json"), "w"), indent=1)
    print(text)


if __name__ == "__main__":
    main()
