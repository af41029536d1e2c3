#!/usr/bin/env python3
"""Native GPU benchmark: `multigrid bench --device wgpu` (Vulkan), the CLI built with and without
Burn's `fusion` and `autotune` features, side by side with the PyTorch reference nets on CUDA, in
float32 and with PyTorch's default TF32 convolutions, on one GPU machine in one run. Optionally the
CPU backends of both on that machine's cores too. Writes reports/bench-gpu.md.

  scripts/bench-gpu.py [--variants neither,autotune,fusion,both] [--rounds 2] [--reps 10]
                       [--deadline-s SECONDS] [--cpu-threads N]
The three stages can run apart, for a GPU machine without cargo:
  scripts/bench-gpu.py --build-only               # builds the CLI each way into target/bench-gpu/
  scripts/bench-gpu.py --run-only --out runs.json  # on the GPU machine, with those builds
  scripts/bench-gpu.py --render runs.json          # the report from saved runs
Needs a Vulkan adapter for wgpu and a python3 whose torch sees a CUDA GPU. REFERENCE names
torch_multigrid.py (default reference/torch_multigrid.py, this project's own). Rounds alternate the builds
and PyTorch (the CPU stage runs after the first); --deadline-s starts no new round past that many
seconds, and the runs file is rewritten after every step, so a cut-off run keeps what it measured.
"""
import argparse, importlib.util, json, os, platform, shutil, statistics, subprocess, sys, time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench import OPS, REFERENCE, ROOT, median_row, query  # noqa: E402  (scripts/bench.py)


def load(name, path):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


features = load("bench_burn_features", os.path.join(os.path.dirname(os.path.abspath(__file__)), "bench-burn-features.py"))
BINS = os.path.join(ROOT, "target", "bench-gpu")


def torch_worker(precision, grids, batches, norms, reps, threads):
    """PyTorch's rows for each of `norms` (one JSON object on stdout). On CUDA unless
    `threads` is set (then on the CPU with that many threads, like the reference's own bench).
    Each timed repetition ends by reading one value back, as `multigrid bench` does."""
    import torch
    ref = load("torch_multigrid", REFERENCE)
    cuda = threads is None
    if cuda:
        torch.backends.cudnn.allow_tf32 = torch.backends.cuda.matmul.allow_tf32 = precision == "tf32"
        device = torch.device("cuda")
    else:
        torch.set_num_threads(threads)
        device = torch.device("cpu")
    torch.manual_seed(0)
    rows = []
    for norm in norms.split(","):
        for size in map(int, grids.split(",")):
            for batch in map(int, batches.split(",")):
                net = ref.EnergyNet(size, ref.PAPER[size], norm).to(device)
                opt = torch.optim.Adam(net.parameters(), lr=0.3, betas=(0.5, 0.999))
                obs, syn = (torch.rand(batch, 3, size, size, device=device) * 255 for _ in range(2))

                def forward():
                    with torch.no_grad():
                        net(obs).sum().item()

                def update():
                    opt.zero_grad()
                    (net(syn).mean() - net(obs).mean()).backward()
                    opt.step()
                    next(net.parameters()).sum().item()

                rows.append(dict(grid=size, batch=batch, norm=norm,
                                 forward_ms=1e3 * ref.timed(forward, reps),
                                 langevin_step_ms=1e3 * ref.timed(lambda: ref.langevin_step(net, syn).sum().item(), reps),
                                 update_ms=1e3 * ref.timed(update, reps)))
    meta = dict(torch=torch.__version__)
    if cuda:
        # The fp32 rate this GPU reaches in a large matrix product (TF32 off): the peak the report uses.
        a, b = torch.randn(8192, 8192, device=device), torch.randn(8192, 8192, device=device)
        torch.backends.cuda.matmul.allow_tf32 = False
        best = 0.0
        for _ in range(6):
            torch.cuda.synchronize()
            t = time.perf_counter()
            torch.mm(a, b)
            torch.cuda.synchronize()
            best = max(best, 2 * 8192 ** 3 / (time.perf_counter() - t) / 1e9)
        meta.update(torch_gpu=torch.cuda.get_device_name(), sgemm_gflops=best)
    print(json.dumps(dict(meta=meta, rows=rows)))


def build(variants):
    os.makedirs(BINS, exist_ok=True)
    for name in variants:
        features.build(features.VARIANTS[name])
        shutil.copy2(os.path.join(ROOT, "target", "release", "multigrid"), os.path.join(BINS, name))


def run(a, variants):
    """Alternating rounds of every build (both normalisations per process) and PyTorch (float32,
    TF32); then, time allowing, the CPU backends. Rewrites `a.out` after every step."""
    started = time.time()
    cpu = query(["sh", "-c", "lscpu | sed -n 's/^Model name: *//p'"])
    runs = dict(meta=dict(gpu=query(["nvidia-smi", "--query-gpu=name,driver_version,memory.total", "--format=csv,noheader"]),
                          cpu=cpu, cores=os.cpu_count(), vk_driver_files=os.environ.get("VK_DRIVER_FILES", ""),
                          reps=a.reps, system=f"{platform.system()} {platform.machine()}"),
                ours={name: [] for name in variants}, torch={"fp32": [], "tf32": []}, errors=[])

    def save():
        with open(a.out, "w") as f:
            json.dump(runs, f)

    def attempt(what, cmd, env=None):
        try:
            return json.loads(subprocess.run(cmd, check=True, text=True, capture_output=True, timeout=a.timeout_s, cwd=ROOT,
                                             env=env).stdout.strip().splitlines()[-1])
        except (subprocess.SubprocessError, ValueError, IndexError) as e:
            tail = getattr(e, "stderr", "") or ""
            tail = tail.decode(errors="replace") if isinstance(tail, bytes) else tail  # TimeoutExpired keeps bytes
            runs["errors"].append(f"{what}: {(tail.strip().splitlines() or [str(e)])[-1]}")
            print(f"{what} failed: {e}\n{tail[-2000:]}", flush=True)
            return None

    def ours(name, device, norms, reps, env=None):
        return attempt(f"{name} on {device}", [os.path.join(BINS, name), "bench", "--device", device, "--preset", "paper",
                                                "--grids", a.grids, "--batch", a.batches, "--norm", norms, "--reps", str(reps),
                                                "--json"], env)

    def theirs(precision, norms, reps, threads=None):
        return attempt(f"torch {precision} on {'cpu' if threads else 'cuda'}",
                       [sys.executable, __file__, "--torch-worker", precision, "--grids", a.grids, "--batches", a.batches,
                        "--norms", norms, "--reps", str(reps)] + (["--threads", str(threads)] if threads else []))

    def one_round(i):
        for name in variants:
            out = ours(name, "wgpu", "none,batch", a.reps)
            if out:
                runs["ours"][name].append(out["rows"])
            save()
        for precision in ("fp32", "tf32"):
            out = theirs(precision, "none,batch", a.reps)
            if out:
                runs["torch"][precision].append(out["rows"])
                runs["meta"].update(out["meta"])
            save()
        print(f"round {i + 1} done at {time.time() - started:.0f} s", flush=True)

    def cpu_stage():
        mine = ours("neither", "cpu", "none", 3, dict(os.environ, RAYON_NUM_THREADS=str(a.cpu_threads)))
        peer = theirs("fp32", "none", 3, a.cpu_threads)
        if mine and peer:
            cpu = runs.setdefault("cpu", dict(threads=a.cpu_threads, ours=[], torch=[]))
            cpu["ours"].append(mine["rows"])
            cpu["torch"].append(peer["rows"])
        save()

    # The first round, then the CPU backends, then more rounds while the deadline allows.
    one_round(0)
    if a.cpu_threads:
        cpu_stage()
    for i in range(1, a.rounds):
        if a.deadline_s and time.time() - started > a.deadline_s:
            break
        one_round(i)
    runs["meta"]["seconds"] = round(time.time() - started)
    save()
    return runs


def merge(paths):
    """Runs saved by several calls on the same machine, as one run whose rounds are all of theirs."""
    runs = json.load(open(paths[0]))
    runs["meta"]["calls"] = len(paths)
    for path in paths[1:]:
        more = json.load(open(path))
        for side in ("ours", "torch"):
            for name, rounds in more[side].items():
                runs[side].setdefault(name, []).extend(rounds)
        if "cpu" in more:
            cpu = runs.setdefault("cpu", dict(more["cpu"], ours=[], torch=[]))
            cpu["ours"] += more["cpu"]["ours"]
            cpu["torch"] += more["cpu"]["torch"]
        runs["errors"] += more["errors"]
        runs["meta"]["seconds"] += more["meta"]["seconds"]
        runs["meta"]["sgemm_gflops"] = max(runs["meta"].get("sgemm_gflops", 0), more["meta"].get("sgemm_gflops", 0))
    return runs


def render(runs):
    meta = runs["meta"]
    variants = sorted((n for n in runs["ours"] if runs["ours"][n]), key=lambda n: n != "neither")
    base = "neither" if "neither" in variants else variants[0]
    ours = {n: [median_row(list(r)) for r in zip(*runs["ours"][n])] for n in variants}
    torch = {p: [median_row(list(r)) for r in zip(*runs["torch"][p])] for p in runs["torch"] if runs["torch"][p]}
    rounds = min(len(runs["ours"][n]) for n in variants)
    best = {}  # (grid, batch, norm, op) -> fastest build and its ms
    peak = meta.get("sgemm_gflops")
    if meta["gpu"]:
        gpu = f"**{meta['gpu']}** (nvidia-smi: name, driver, memory)"
    elif meta.get("torch_gpu"):
        gpu = f"**{meta['torch_gpu']}** (as PyTorch names it; nvidia-smi's line was not kept in this run)"
    else:
        gpu = "**no NVIDIA GPU found** (nvidia-smi and PyTorch's CUDA both failed)"
    calls = meta.get("calls", 1)
    lines = [
        "# Native GPU: Burn's wgpu backend against PyTorch on CUDA",
        "",
        f"Produced by `scripts/bench-gpu.py` on a GPU machine lent to one development session: {gpu}, "
        f"{meta['cores']} CPU cores ({meta['cpu']}), {meta['system']}. "
        f"wgpu runs on Vulkan through the NVIDIA driver (`VK_DRIVER_FILES={meta['vk_driver_files'] or 'default'}`); "
        f"PyTorch {meta.get('torch', '?')} on CUDA. The release CLI was built on the 2-core build machine "
        f"({', '.join(variants)}: cargo features `fusion`, `autotune`; `neither` is the shipped build) and copied there. "
        f"{rounds} round(s) alternating the builds and PyTorch"
        + (f" ({calls} consecutive calls on the same machine, rendered together)" if calls > 1 else "")
        + f"; each figure is the median over rounds of the median "
        f"of {meta['reps']} repetitions after a warm-up, and every repetition ends by reading one value back to the host "
        f"(both sides). Paper nets, random inputs in [0, 255]. PyTorch fp32 has TF32 off; PyTorch tf32 is its "
        f"default, TF32 tensor-core convolutions (Burn computes in plain f32). The runs took {meta.get('seconds', '?')} s in all.",
        "",
        "| grid | batch | norm | op | PyTorch fp32 ms | PyTorch tf32 ms | " + " | ".join(f"{n} ms" for n in variants)
        + " | best / PyTorch fp32 |",
        "|---|---|---|---|---|---|" + "---|" * len(variants) + "---|",
    ]
    for i, r in enumerate(ours[base]):
        for op in OPS:
            ms = {n: ours[n][i][op] for n in variants}
            fastest = min(variants, key=ms.get)
            best[(r["grid"], r["batch"], r["norm"], op)] = (fastest, ms[fastest])
            t = {p: next((x[op] for x in rows if (x["grid"], x["batch"], x["norm"]) == (r["grid"], r["batch"], r["norm"])), None)
                 for p, rows in torch.items()}
            fmt = lambda v: "–" if v is None else f"{v:.2f}"  # noqa: E731
            ratio = f"{ms[fastest] / t['fp32']:.1f}× ({fastest})" if t.get("fp32") else "–"
            lines.append(f"| {r['grid']} | {r['batch']} | {r['norm']} | {op.removesuffix('_ms').replace('_', ' ')} | "
                         f"{fmt(t.get('fp32'))} | {fmt(t.get('tf32'))} | " + " | ".join(f"{ms[n]:.2f}" for n in variants)
                         + f" | {ratio} |")
    lines += ["", "Langevin step rate (2 × the forward pass's FLOPs per step)"
              + (f"; peak: PyTorch's best 8192² f32 matrix product on this GPU with TF32 off, **{peak / 1e3:.1f} TFLOP/s**"
                 if peak else "") + ":", "",
              "| grid | batch | norm | best build | GFLOP/s | % of peak | PyTorch fp32 GFLOP/s | % of peak |", "|---|---|---|---|---|---|---|---|"]
    for r in ours[base]:
        fastest, ms = best[(r["grid"], r["batch"], r["norm"], "langevin_step_ms")]
        flop = 2 * r["forward_gflop"]
        t = next((x["langevin_step_ms"] for x in torch.get("fp32", []) if (x["grid"], x["batch"], x["norm"]) == (r["grid"], r["batch"], r["norm"])), None)
        pct = lambda g: f"{100 * g / peak:.1f}%" if peak else "–"  # noqa: E731
        theirs = flop / (t / 1e3) if t else None
        lines.append(f"| {r['grid']} | {r['batch']} | {r['norm']} | {fastest} | {flop / (ms / 1e3):.0f} | {pct(flop / (ms / 1e3))} | "
                     + (f"{theirs:.0f} | {pct(theirs)} |" if theirs else "– | – |"))
    if len(variants) > 1:
        lines += ["", "What each feature changed: each build's time over `neither`'s, lowest–highest over the "
                  f"{len(ours[base])} grid, batch and norm rows (geometric mean in brackets).", "",
                  "| build | " + " | ".join(op.removesuffix("_ms").replace("_", " ") for op in OPS) + " |", "|---|---|---|---|"]
    for n in variants[1:]:
        cells = []
        for op in OPS:
            rs = [o[op] / b[op] for o, b in zip(ours[n], ours[base])]
            cells.append(f"{min(rs):.2f}–{max(rs):.2f} ({statistics.geometric_mean(rs):.2f})")
        lines.append(f"| {n} | " + " | ".join(cells) + " |")
    if "cpu" in runs:
        c = runs["cpu"]
        c_ours, c_torch = ([median_row(list(r)) for r in zip(*c[side])] for side in ("ours", "torch"))
        lines += ["", f"## CPU backends on the same machine ({c['threads']} threads, no normalisation)", "",
                  "Burn's CPU backend (flex, the shipped build) against PyTorch's CPU kernels, the same threads; "
                  f"median over {len(c['ours'])} round(s) of the median of 3 repetitions after a warm-up.", "",
                  "| grid | batch | op | ours ms | PyTorch ms | ratio |", "|---|---|---|---|---|---|"]
        for o in c_ours:
            t = next(x for x in c_torch if (x["grid"], x["batch"]) == (o["grid"], o["batch"]))
            for op in OPS:
                lines.append(f"| {o['grid']} | {o['batch']} | {op.removesuffix('_ms').replace('_', ' ')} | {o[op]:.1f} | "
                             f"{t[op]:.1f} | {o[op] / t[op]:.2f} |")
    if runs["errors"]:
        lines += ["", "## Failed runs", ""] + [f"- {e.strip()}" for e in runs["errors"]]
    return "\n".join(lines) + "\n" + NOTES


# What the figures above show, and what was not measured (kept with the figures; written from the
# runs in reports/bench-gpu/).
NOTES = """
## What the committed runs show (NVIDIA H200, reports/bench-gpu/call-*.json)

- Burn's wgpu backend is far from PyTorch on this GPU: with the best build, the Langevin step takes
  2.1–7.7× PyTorch's float32 time, the parameter update 2.8–5.9× and the forward pass 5–14×; against
  PyTorch's default (TF32 convolutions) the gap is wider still at batch 100. The g64 Langevin step
  at batch 100 reaches about 2.7 TFLOP/s, 5% of the GPU's float32 matrix rate, where cuDNN reaches
  40%. At batch 16 both are far below it, and Burn's time is mostly a fixed cost per kernel rather
  than arithmetic: its forward pass takes 3–5 ms there (PyTorch 0.3–0.8 ms), and 6× the images take
  only 3.2–4.4× as long. Closing this is work in Burn's convolution kernels (cubecl), not in this
  crate: the Langevin loop already stays on the device with one read-back per iteration.
- `autotune` pays on a real GPU as it did on software Vulkan: the Langevin step 24% faster on
  (geometric) average and the update about twice as fast (g16 batch 100: 96 → 28 ms). Autotuning
  costs time on first use: the first call's round took 241 s for every build and PyTorch against
  106–110 s for each of the two later calls on the same machine (tuning results, and the driver's
  compiled shaders, are kept on disk between processes), and that first round's `autotune` rows had
  outliers (g16 batch 16 update 32 ms against 9 later), which the medians over three rounds leave
  out. So build the CLI with `--features autotune` for `--device wgpu`, as the README says.
- `fusion` does not pay: 0.94–1.03× alone on the forward pass, and up to 33% slower on the
  batch-norm rows (g64 batch 100 Langevin step 32 → 43 ms, update 147 → 190 ms); with `autotune`
  it adds little (the update about 10% faster in geometric mean). It stays off.
- The CPU table runs the CPU backends on 16 cores instead of the build machine's 2: the Langevin
  step takes 1.23–1.58× PyTorch's time and the update 1.47–2.17× here, against 0.97–1.65× and
  1.06–1.58× on 2 threads at the time (reports/bench.md then). PyTorch gained more from the extra
  cores, most on the update. Profiling on the build machine then showed why: flex ran every
  element-wise operation on the calling thread. With that patched (vendor/patches/README.md), a
  later call to the same kind of machine timed the CPU backend with and without the patch side by
  side, 16 threads, two alternating rounds (reports/bench-gpu/flex-parallel-*.json): the Langevin
  step 1.0–1.9× and the update 1.24–1.64× faster (g64 batch 100: step 134 → 70 ms, update 421 →
  257 ms). The table above is from before the patch.

## Not measured

- Burn's CUDA backend (`--features cuda`): building it needs cubecl-cuda's LLVM bundle, which its
  build script (tracel-llvm-bundler) downloads; neither the build machine nor the GPU machine can
  download anything, so it was not built.
- The browser's WebGPU on this GPU: the GPU machine has no browser, and Chromium's headless shell
  (a 64 MB package with some forty libraries of its own) does not fit beside the page in the
  64 MiB a call to that machine may carry. In this repository's headless Chromium, WebGPU runs on
  SwiftShader on the CPU (reports/bench.md, reports/bench-burn-features.md).
"""


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--variants", default="neither,autotune,fusion,both")
    p.add_argument("--grids", default="16,64")
    p.add_argument("--batches", default="16,100")
    p.add_argument("--rounds", type=int, default=2)
    p.add_argument("--reps", type=int, default=10)
    p.add_argument("--deadline-s", type=float, default=0, help="start no new round after this many seconds (0: no limit)")
    p.add_argument("--timeout-s", type=float, default=240, help="give up on one benchmark process after this long")
    p.add_argument("--cpu-threads", type=int, help="also compare the CPU backends with this many threads")
    p.add_argument("--out", default=os.path.join(BINS, "runs.json"))
    stage = p.add_mutually_exclusive_group()
    stage.add_argument("--build-only", action="store_true")
    stage.add_argument("--run-only", action="store_true")
    stage.add_argument("--render", metavar="RUNS_JSON", nargs="+",
                       help="saved runs; several (calls on the same machine) are rendered as one run's rounds")
    stage.add_argument("--torch-worker", choices=["fp32", "tf32"], help=argparse.SUPPRESS)
    p.add_argument("--threads", type=int, help=argparse.SUPPRESS)
    p.add_argument("--norms", default="none,batch", help=argparse.SUPPRESS)
    a = p.parse_args()
    if a.torch_worker:
        return torch_worker(a.torch_worker, a.grids, a.batches, a.norms, a.reps, a.threads)
    variants = [n for n in features.VARIANTS if n in a.variants.split(",")]
    if a.render:
        runs = merge(a.render)
    else:
        if not a.run_only:
            build(variants)
        if a.build_only:
            return
        os.makedirs(os.path.dirname(os.path.abspath(a.out)), exist_ok=True)
        runs = run(a, variants)
        if a.run_only:
            return
    report = render(runs)
    print(report)
    with open(os.path.join(ROOT, "reports", "bench-gpu.md"), "w") as f:
        f.write(report)


if __name__ == "__main__":
    main()
