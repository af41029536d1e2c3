"""What Burn's `fusion` and `autotune` features change on the GPU backend (wgpu): builds the CLI
without them, with each and with both (cargo features of this crate, release), then times
`multigrid bench --device wgpu` for every build in alternating rounds, in one run. Writes
reports/bench-burn-features.md. The CPU backend (flex) ignores both features, so only wgpu is timed.
With --browser, it also builds the page (wasm + vite) each way and times WebGPU in headless
Chromium (`bench browser --webgpu-only`; grids 16 and 64, batch 16, one repetition).

Needs a wgpu adapter (a GPU, or Mesa's lavapipe: apt-get install mesa-vulkan-drivers). Builds the
plain CLI (and page) last, so target/release/multigrid (and www/pkg, dist/) are the default build
again at the end."""
import json, os

from .common import OPS, ROOT, VARIANTS, bench_cmd, browser, build_variants, last_json, medians, op_name, query, sh, table, write_report

HELP = "Burn's fusion and autotune on wgpu, natively and in the page (reports/bench-burn-features.md)"
BINS = os.path.join(ROOT, "target", "bench-burn-features")


def arguments(p):
    p.add_argument("--variants", default=",".join(VARIANTS), help="builds to compare; `neither` is always one")
    p.add_argument("--grids", default="16,64")
    p.add_argument("--batch", default="16")
    p.add_argument("--reps", type=int, default=3)
    p.add_argument("--rounds", type=int, default=2)
    p.add_argument("--norm", default="none")
    p.add_argument("--browser", action="store_true", help="also time WebGPU in headless Chromium, per build")


def build_page(features, dist):
    """The page with the wasm library built with `features` (scripts/build-wasm), in `dist`."""
    sh(["bash", "scripts/build-wasm", "--locked"] + (["--features", ",".join(features)] if features else []),
       capture=False)
    sh(["npx", "vite", "build", "--outDir", dist, "--emptyOutDir"], capture=False)


def adapter():
    """Name the Vulkan driver when it is Mesa's software one (wgpu does not print its adapter)."""
    gpu = query(["nvidia-smi", "-L"])
    if gpu:
        return gpu
    mesa = query(["dpkg-query", "-W", "-f", "${Version}", "mesa-vulkan-drivers"])
    return f"no GPU; Mesa lavapipe {mesa} (software Vulkan on the CPU)" if mesa else "wgpu's default adapter"


def main(a):
    variants = {n: VARIANTS[n] for n in VARIANTS if n == "neither" or n in a.variants.split(",")}
    build_variants(variants, BINS)

    runs = {name: [] for name in variants}
    for _ in range(a.rounds):
        for name in variants:
            out = sh(bench_cmd(os.path.join(BINS, name), a.grids, a.batch, a.norm, a.reps, "wgpu"))
            runs[name].append(json.loads(out)["rows"])

    pages = {}
    if a.browser:
        for name, features in variants.items():
            dist = os.path.join(BINS, f"dist-{name}")
            build_page(features, dist)
            pages[name] = last_json(browser(["--dist", dist, "--webgpu-only"]))
        sh(["npx", "vite", "build"], capture=False)  # dist/ from the plain www/pkg, built last

    with open(os.path.join(BINS, "runs.json"), "w") as f:
        json.dump(dict(runs=runs, browser=pages), f)
    write_report("bench-burn-features.md", render(a, runs, pages))


def render(a, runs, pages):
    """The report's markdown from each build's rows over rounds (medians over rounds) and, when
    measured, each page build's WebGPU rows in the browser."""
    variants = ["neither"] + [n for n in runs if n != "neither"]
    others = variants[1:]
    rows = {name: medians(runs[name]) for name in variants}
    lines = [
        "# Burn's `fusion` and `autotune` on the wgpu backend",
        "",
        f"Produced by `npm run bench -- features --variants {','.join(variants)} --grids {a.grids} "
        f"--batch {a.batch} --reps {a.reps} --rounds {a.rounds} --norm {a.norm}{' --browser' if pages else ''}`: the CLI built {len(variants)} ways "
        f"(cargo features `fusion`, `autotune`), each timing `multigrid bench --device wgpu` (paper nets) in "
        f"{a.rounds} alternating rounds; medians over rounds. Adapter: {adapter()}.",
        "",
        *table("grid", "batch", "op", *(f"{n} ms" for n in variants), *(f"{n} / neither" for n in others)),
    ]
    for i, r in enumerate(rows["neither"]):
        for op in OPS:
            ms = {name: rows[name][i][op] for name in variants}
            ratios = " | ".join(f"{ms[n] / ms['neither']:.2f}" for n in others)
            lines.append(f"| {r['grid']} | {r['batch']} | {op_name(op)} | "
                         + " | ".join(f"{ms[n]:.1f}" for n in variants) + f" | {ratios} |")
    if pages:
        lines += ["", "## In the browser (WebGPU)", "",
                  "Each build of the page (`--browser`), timed by `npm run bench -- browser --webgpu-only` in "
                  "headless Chromium: paper nets, batch 16, one repetition after a warm-up.", "",
                  *table("build", "wasm gzipped", "grid", "forward ms", "Langevin step ms", "update ms")]
        for name in variants:
            b = pages[name]
            size = f"{b['sizes']['wasm'] / 1e6:.2f} MB"
            if b["webgpu"] is None:
                lines.append(f"| {name} | {size} | – | {b['webgpuNote']} | | |")
                continue
            for r in b["webgpu"]["rows"]:
                lines.append(f"| {name} | {size} | {r['grid']} | " + " | ".join(f"{r[op]:.1f}" for op in OPS) + " |")
        adapters = sorted({b["webgpu"]["adapter"] for b in pages.values() if b["webgpu"]})
        if adapters:
            lines += ["", f"Adapter: {', '.join(adapters)}."]
    return "\n".join(lines) + "\n"
