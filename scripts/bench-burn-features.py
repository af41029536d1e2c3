#!/usr/bin/env python3
"""What Burn's `fusion` and `autotune` features change on the GPU backend (wgpu): builds the CLI
without them, with each and with both (cargo features of this crate, release), then times
`multigrid bench --device wgpu` for every build in alternating rounds, in one run. Writes
reports/bench-burn-features.md. The CPU backend (flex) ignores both features, so only wgpu is timed.
With --browser, it also builds the page (wasm + vite) each way and times WebGPU in headless
Chromium (scripts/bench-browser.mjs --webgpu-only; grids 16 and 64, batch 16, one repetition).

  scripts/bench-burn-features.py [--variants neither,fusion,autotune,both] [--grids 16,64] [--batch 16]
                                 [--reps 3] [--rounds 2] [--norm none] [--browser]
Needs a wgpu adapter (a GPU, or Mesa's lavapipe: apt-get install mesa-vulkan-drivers). Builds the
plain CLI (and page) last, so target/release/multigrid (and www/pkg, dist/) are the default build
again at the end.
"""
import argparse, json, os, shutil, sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench import OPS, ROOT, median_row, query, sh  # noqa: E402  (scripts/bench.py)

# The plain build comes last, so target/release/multigrid is the default build again at the end.
VARIANTS = {"fusion": ["fusion"], "autotune": ["autotune"], "both": ["fusion", "autotune"], "neither": []}


def build(features):
    sh(["cargo", "build", "--release", "--locked", "--bin", "multigrid"] + (["--features", ",".join(features)] if features else []),
       capture=False)


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


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--variants", default=",".join(VARIANTS), help="builds to compare; `neither` is always one")
    p.add_argument("--grids", default="16,64")
    p.add_argument("--batch", default="16")
    p.add_argument("--reps", type=int, default=3)
    p.add_argument("--rounds", type=int, default=2)
    p.add_argument("--norm", default="none")
    p.add_argument("--browser", action="store_true", help="also time WebGPU in headless Chromium, per build")
    a = p.parse_args()
    variants = {n: VARIANTS[n] for n in VARIANTS if n == "neither" or n in a.variants.split(",")}
    bins = os.path.join(ROOT, "target", "bench-burn-features")
    os.makedirs(bins, exist_ok=True)
    for name, features in variants.items():
        build(features)
        shutil.copy2(os.path.join(ROOT, "target", "release", "multigrid"), os.path.join(bins, name))

    runs = {name: [] for name in variants}
    for _ in range(a.rounds):
        for name in variants:
            out = sh([os.path.join(bins, name), "bench", "--device", "wgpu", "--preset", "paper", "--grids", a.grids,
                      "--batch", a.batch, "--norm", a.norm, "--reps", str(a.reps), "--json"])
            runs[name].append(json.loads(out)["rows"])

    browser = {}
    if a.browser:
        for name, features in variants.items():
            dist = os.path.join(bins, f"dist-{name}")
            build_page(features, dist)
            browser[name] = json.loads(sh(["node", "scripts/bench-browser.mjs", "--dist", dist, "--webgpu-only"])
                                       .strip().splitlines()[-1])
        sh(["npx", "vite", "build"], capture=False)  # dist/ from the plain www/pkg, built last

    with open(os.path.join(bins, "runs.json"), "w") as f:
        json.dump(dict(runs=runs, browser=browser), f)
    report = render(a, runs, browser)
    print(report)
    with open(os.path.join(ROOT, "reports", "bench-burn-features.md"), "w") as f:
        f.write(report)


def render(a, runs, browser):
    """The report's markdown from each build's rows over rounds (medians over rounds) and, when
    measured, each page build's WebGPU rows in the browser."""
    variants = ["neither"] + [n for n in runs if n != "neither"]
    others = variants[1:]
    medians = {name: [median_row(list(rounds)) for rounds in zip(*runs[name])] for name in variants}
    lines = [
        "# Burn's `fusion` and `autotune` on the wgpu backend",
        "",
        f"Produced by `scripts/bench-burn-features.py --variants {','.join(variants)} --grids {a.grids} "
        f"--batch {a.batch} --reps {a.reps} --rounds {a.rounds} --norm {a.norm}{' --browser' if browser else ''}`: the CLI built {len(variants)} ways "
        f"(cargo features `fusion`, `autotune`), each timing `multigrid bench --device wgpu` (paper nets) in "
        f"{a.rounds} alternating rounds; medians over rounds. Adapter: {adapter()}.",
        "",
        "| grid | batch | op | " + " | ".join(f"{n} ms" for n in variants) + " | "
        + " | ".join(f"{n} / neither" for n in others) + " |",
        "|---|---|---|" + "---|" * (len(variants) + len(others)),
    ]
    for i, r in enumerate(medians["neither"]):
        for op in OPS:
            ms = {name: medians[name][i][op] for name in variants}
            ratios = " | ".join(f"{ms[n] / ms['neither']:.2f}" for n in others)
            lines.append(f"| {r['grid']} | {r['batch']} | {op.removesuffix('_ms').replace('_', ' ')} | "
                         + " | ".join(f"{ms[n]:.1f}" for n in variants) + f" | {ratios} |")
    if browser:
        lines += ["", "## In the browser (WebGPU)", "",
                  "Each build of the page (`--browser`), timed by `scripts/bench-browser.mjs --webgpu-only` in "
                  "headless Chromium: paper nets, batch 16, one repetition after a warm-up.", "",
                  "| build | wasm gzipped | grid | forward ms | Langevin step ms | update ms |", "|---|---|---|---|---|---|"]
        for name in variants:
            b = browser[name]
            size = f"{b['sizes']['wasm'] / 1e6:.2f} MB"
            if b["webgpu"] is None:
                lines.append(f"| {name} | {size} | – | {b['webgpuNote']} | | |")
                continue
            for r in b["webgpu"]["rows"]:
                lines.append(f"| {name} | {size} | {r['grid']} | " + " | ".join(f"{r[op]:.1f}" for op in OPS) + " |")
        adapters = sorted({b["webgpu"]["adapter"] for b in browser.values() if b["webgpu"]})
        if adapters:
            lines += ["", f"Adapter: {', '.join(adapters)}."]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
