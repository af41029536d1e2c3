"""Native GPU: `multigrid bench --device wgpu` (Vulkan), the CLI built with and without Burn's `fusion`
and `autotune` features, side by side with the PyTorch reference nets on CUDA, in float32 and with
PyTorch's default TF32 convolutions, on one GPU machine in one run. Optionally the CPU backends of
both on that machine's cores too. Writes reports/bench-gpu.md.

The three stages can run apart, for a GPU machine without cargo (from the repository root):
  npm run bench -- gpu --build-only                 builds the CLI each way into target/bench-gpu/
  python3 -m scripts.bench gpu --run-only --out runs.json   on the GPU machine, with those builds
  npm run bench -- gpu --render runs.json           the report from saved runs
Needs a Vulkan adapter for wgpu and a python3 whose torch sees a CUDA GPU (REFERENCE names
torch_multigrid.py; default reference/torch_multigrid.py). Rounds alternate the builds and PyTorch
(the CPU stage runs after the first); --deadline-s starts no new round past that many seconds, and
the runs file is rewritten after every step, so a cut-off run keeps what it measured."""
import argparse, json, os, platform, statistics, subprocess, sys, time

from .common import (OPS, ROOT, VARIANTS, bench_cmd, build_variants, last_json, load_reference, medians, op_name,
                     query, table, write_report)

HELP = "Burn's wgpu backend (four builds) against PyTorch on CUDA (reports/bench-gpu.md)"
BINS = os.path.join(ROOT, "target", "bench-gpu")


def arguments(p):
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


def torch_worker(precision, grids, batches, norms, reps, threads):
    """PyTorch's rows for each of `norms` (one JSON object on stdout). On CUDA unless
    `threads` is set (then on the CPU with that many threads, like the reference's own bench).
    Each timed repetition ends by reading one value back, as `multigrid bench` does."""
    import torch
    ref = load_reference()
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
            return last_json(subprocess.run(cmd, check=True, text=True, capture_output=True, timeout=a.timeout_s, cwd=ROOT,
                                            env=env).stdout)
        except (subprocess.SubprocessError, ValueError, IndexError) as e:
            tail = getattr(e, "stderr", "") or ""
            tail = tail.decode(errors="replace") if isinstance(tail, bytes) else tail  # TimeoutExpired keeps bytes
            runs["errors"].append(f"{what}: {(tail.strip().splitlines() or [str(e)])[-1]}")
            print(f"{what} failed: {e}\n{tail[-2000:]}", flush=True)
            return None

    def ours(name, device, norms, reps, env=None):
        return attempt(f"{name} on {device}", bench_cmd(os.path.join(BINS, name), a.grids, a.batches, norms, reps, device), env)

    def theirs(precision, norms, reps, threads=None):
        return attempt(f"torch {precision} on {'cpu' if threads else 'cuda'}",
                       [sys.executable, "-m", "scripts.bench", "gpu", "--torch-worker", precision, "--grids", a.grids,
                        "--batches", a.batches, "--norms", norms, "--reps", str(reps)] + (["--threads", str(threads)] if threads else []))

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


def same_row(rows, r):
    """The row of `rows` for `r`'s grid, batch and norm, or None."""
    return next((x for x in rows if (x["grid"], x["batch"], x["norm"]) == (r["grid"], r["batch"], r["norm"])), None)


def render(runs):
    meta = runs["meta"]
    variants = sorted((n for n in runs["ours"] if runs["ours"][n]), key=lambda n: n != "neither")
    base = "neither" if "neither" in variants else variants[0]
    ours = {n: medians(runs["ours"][n]) for n in variants}
    torch = {p: medians(runs["torch"][p]) for p in runs["torch"] if runs["torch"][p]}
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
        f"Produced by `npm run bench -- gpu` on a GPU machine lent to one development session: {gpu}, "
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
        *table("grid", "batch", "norm", "op", "PyTorch fp32 ms", "PyTorch tf32 ms", *(f"{n} ms" for n in variants),
               "best / PyTorch fp32"),
    ]
    fmt = lambda v: "–" if v is None else f"{v:.2f}"  # noqa: E731
    for i, r in enumerate(ours[base]):
        for op in OPS:
            ms = {n: ours[n][i][op] for n in variants}
            fastest = min(variants, key=ms.get)
            best[(r["grid"], r["batch"], r["norm"], op)] = (fastest, ms[fastest])
            t = {p: x[op] for p, rows in torch.items() if (x := same_row(rows, r))}
            ratio = f"{ms[fastest] / t['fp32']:.1f}× ({fastest})" if t.get("fp32") else "–"
            lines.append(f"| {r['grid']} | {r['batch']} | {r['norm']} | {op_name(op)} | "
                         f"{fmt(t.get('fp32'))} | {fmt(t.get('tf32'))} | " + " | ".join(f"{ms[n]:.2f}" for n in variants)
                         + f" | {ratio} |")
    lines += ["", "Langevin step rate (2 × the forward pass's FLOPs per step)"
              + (f"; peak: PyTorch's best 8192² f32 matrix product on this GPU with TF32 off, **{peak / 1e3:.1f} TFLOP/s**"
                 if peak else "") + ":", "",
              *table("grid", "batch", "norm", "best build", "GFLOP/s", "% of peak", "PyTorch fp32 GFLOP/s", "% of peak")]
    pct = lambda g: f"{100 * g / peak:.1f}%" if peak else "–"  # noqa: E731
    for r in ours[base]:
        fastest, ms = best[(r["grid"], r["batch"], r["norm"], "langevin_step_ms")]
        flop = 2 * r["forward_gflop"]
        t = same_row(torch.get("fp32", []), r)
        theirs = flop / (t["langevin_step_ms"] / 1e3) if t else None
        lines.append(f"| {r['grid']} | {r['batch']} | {r['norm']} | {fastest} | {flop / (ms / 1e3):.0f} | {pct(flop / (ms / 1e3))} | "
                     + (f"{theirs:.0f} | {pct(theirs)} |" if theirs else "– | – |"))
    if len(variants) > 1:
        lines += ["", "What each feature changed: each build's time over `neither`'s, lowest–highest over the "
                  f"{len(ours[base])} grid, batch and norm rows (geometric mean in brackets).", "",
                  *table("build", *map(op_name, OPS))]
    for n in variants[1:]:
        cells = []
        for op in OPS:
            rs = [o[op] / b[op] for o, b in zip(ours[n], ours[base])]
            cells.append(f"{min(rs):.2f}–{max(rs):.2f} ({statistics.geometric_mean(rs):.2f})")
        lines.append(f"| {n} | " + " | ".join(cells) + " |")
    if "cpu" in runs:
        c = runs["cpu"]
        c_ours, c_torch = medians(c["ours"]), medians(c["torch"])
        lines += ["", f"## CPU backends on the same machine ({c['threads']} threads, no normalisation)", "",
                  "Burn's CPU backend (flex, the shipped build) against PyTorch's CPU kernels, the same threads; "
                  f"median over {len(c['ours'])} round(s) of the median of 3 repetitions after a warm-up.", "",
                  *table("grid", "batch", "op", "ours ms", "PyTorch ms", "ratio")]
        for o in c_ours:
            t = next(x for x in c_torch if (x["grid"], x["batch"]) == (o["grid"], o["batch"]))
            for op in OPS:
                lines.append(f"| {o['grid']} | {o['batch']} | {op_name(op)} | {o[op]:.1f} | {t[op]:.1f} | {o[op] / t[op]:.2f} |")
    if runs["errors"]:
        lines += ["", "## Failed runs", ""] + [f"- {e.strip()}" for e in runs["errors"]]
    return "\n".join(lines) + "\n"


def main(a):
    if a.torch_worker:
        return torch_worker(a.torch_worker, a.grids, a.batches, a.norms, a.reps, a.threads)
    variants = [n for n in VARIANTS if n in a.variants.split(",")]
    if a.render:
        runs = merge(a.render)
    else:
        if not a.run_only:
            build_variants(variants, BINS)
        if a.build_only:
            return
        os.makedirs(os.path.dirname(os.path.abspath(a.out)), exist_ok=True)
        runs = run(a, variants)
        if a.run_only:
            return
    write_report("bench-gpu.md", render(runs))
