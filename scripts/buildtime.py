#!/usr/bin/env python3
"""The first build of the page, timed: where a cold `npm start` spends its time, and what each way
tried to shorten it changes. Writes reports/build.json (the measurements) and reports/build.md.

  npm run reports -- build [--variants NAME,...] [--rounds 3] [--seconds 20] [--report-only] [--smoke]

For the build as shipped and each variant tried (TRIED: cargo settings on top of it), in a copy of
the tracked files with a cold target folder of its own: the single-threaded wasm module
(scripts/build-wasm, with cargo's --timings), the threaded one (--threads) and the page (vite).
Once: wasm-bindgen-cli's install into a temporary folder (scripts/setup --wasm-bindgen-into). Then
the shipped page against the first variant's, side by side in headless Chromium
(scripts/bench/browser.mjs --versus): training it/s of `small` on every core and the paper net's
grid-64 ops, and once each on WebGPU (SwiftShader).

--report-only writes build.md again from build.json. --smoke: the shipped build only, in the
repository itself (warm once the page is built), one short round on the CPU backend, into a
temporary folder; nothing under reports/.
"""
import argparse, gzip, json, os, re, shutil, subprocess, sys, tempfile, time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from scripts import provenance  # noqa: E402

ROOT = provenance.ROOT
SHIPPED = "as shipped"
# Ways tried to make the first build shorter, as cargo --config settings over the shipped build.
# The crates that took longest in the single-threaded module but run little per tensor operation:
# CubeCL's kernel library and IR, the image decoders, the argument parser.
TRIED = {
    "kernel crates at opt-level 1": [
        f"profile.release.package.{crate}.opt-level=1" for crate in (
            "cubek", "cubek-attention", "cubek-convolution", "cubek-fft", "cubek-interpolate", "cubek-matmul",
            "cubek-pool", "cubek-quant", "cubek-random", "cubek-reduce", "cubek-std", "cubek-tile", "cubecl-ir",
            "cubecl-opt", "cubecl-std", "pliron", "image", "pxfm", "moxcms", "zune-jpeg", "tiff", "image-webp",
            "png", "gif", "clap_builder", "regex-automata")],
}
MODULES = (("wasm", "pkg", []), ("wasm, threads", "pkg-threads", ["--threads"]))


def run(cmd, cwd, env=None, log=None):
    """Runs `cmd`, its output appended to `log`; returns the wall time in seconds."""
    t0 = time.time()
    with open(log or os.devnull, "a") as out:
        done = subprocess.run(cmd, cwd=cwd, env=env, stdout=out, stderr=subprocess.STDOUT)
    if done.returncode != 0:
        sys.exit(f"build report: `{' '.join(cmd)}` failed in {cwd} (exit {done.returncode}; see {log})")
    return time.time() - t0


def copy_checkout(dest):
    """The tracked files of this checkout, as they are now, in `dest`, with node_modules linked."""
    files = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True).stdout.split(b"\0")
    for f in filter(None, (f.decode() for f in files)):
        if os.path.isfile(os.path.join(ROOT, f)):
            os.makedirs(os.path.dirname(os.path.join(dest, f)), exist_ok=True)
            shutil.copy2(os.path.join(ROOT, f), os.path.join(dest, f))
    os.symlink(os.path.join(ROOT, "node_modules"), os.path.join(dest, "node_modules"))


def crate_times(timings_dir):
    """Seconds per crate (all its units) from the newest cargo --timings page in `timings_dir`."""
    pages = [os.path.join(timings_dir, f) for f in os.listdir(timings_dir) if f.startswith("cargo-timing-")]
    page = open(max(pages, key=os.path.getmtime)).read()
    times = {}
    for u in json.loads(re.search(r"const UNIT_DATA = (\[.*?\]);", page, re.S).group(1)):
        times[u["name"]] = round(times.get(u["name"], 0) + u["duration"], 1)
    return times


def build(checkout, target, settings, dist, log):
    """Times the three build steps in `checkout` into `target` with cargo `settings` (--config)."""
    env = dict(os.environ, CARGO_TARGET_DIR=target)
    config = [arg for s in settings for arg in ("--config", s)]
    steps, crates, sizes = {}, {}, {}
    for module, folder, flags in MODULES:
        steps[module] = run(["bash", "scripts/build-wasm", *flags, "--timings", *config], checkout, env, log)
        crates[module] = crate_times(os.path.join(target, "threads" if flags else "", "cargo-timings"))
        data = open(os.path.join(checkout, "www", folder, "multigrid_ebm_bg.wasm"), "rb").read()
        sizes[module] = [len(data), len(gzip.compress(data, 9))]
    steps["page (vite)"] = run(["npx", "vite", "build", "--outDir", dist, "--emptyOutDir"], checkout, env, log)
    return {"settings": settings, "steps": steps, "crates": crates, "sizes": sizes}


def report(results, out, extra=None):
    names = list(results["variants"])
    variants = results["variants"]
    heads = lambda first: [f"| {first} | " + " | ".join(names) + " |", "|---|" + "---|" * len(names)]
    bindgen = results["bindgen"]
    lines = ["# The first build", ""] + provenance.block(browser=results.get("browser"), extra=extra) + [
        f"{results['rust']}. A cold `npm start` on a fresh machine installs the tools, builds the two",
        "WebAssembly modules and builds the page (scripts/build). Each variant is built from a copy of the",
        "checkout with a cold target folder, one after the other (a build uses every core).",
        "wasm-bindgen-cli's install is timed once, into a temporary folder; installing Rust's target, the",
        "nightly and the npm packages is network bound and not timed.", ""]
    for name in names[1:]:
        lines.append(f"*{name}*: cargo `--config` " + ", ".join(f"`{s}`" for s in variants[name]["settings"][:3])
                     + (f" and {len(variants[name]['settings']) - 3} more like them" if len(variants[name]["settings"]) > 3 else "") + ".")
    lines += [""] + heads("step")
    lines.append("| wasm-bindgen-cli install (scripts/setup) | " + " | ".join(provenance.wall(bindgen) for _ in names) + " |")
    for step in variants[SHIPPED]["steps"]:
        lines.append(f"| {step} | " + " | ".join(provenance.wall(variants[n]["steps"][step]) for n in names) + " |")
    totals = {n: bindgen + sum(variants[n]["steps"].values()) for n in names}
    lines.append("| **total** | " + " | ".join(f"**{provenance.wall(totals[n])}**" for n in names) + " |")
    shipped = totals[SHIPPED]
    lines += ["", f"As shipped, the single-threaded module (the one with WebGPU) is "
              f"{variants[SHIPPED]['steps']['wasm'] / shipped:.0%} of the first build, the threaded one "
              f"{variants[SHIPPED]['steps']['wasm, threads'] / shipped:.0%}."]
    for n in names[1:]:
        lines.append(f"*{n}* takes {totals[n] / shipped:.2f}× the shipped build's time.")

    def both(n):  # seconds per crate, the two modules together
        t = {}
        for module in variants[n]["crates"].values():
            for crate, s in module.items():
                t[crate] = t.get(crate, 0) + s
        return t
    per = {n: both(n) for n in names}
    top = sorted(per[SHIPPED], key=lambda c: -per[SHIPPED][c])[:15]
    lines += ["", "Where the time goes: seconds per crate, both modules together, from cargo's `--timings` (each",
              "unit from its start to its end; two run at once, so they add up to about twice the wall time).",
              "The fifteen longest:", ""] + heads("crate")
    lines += [f"| {c} | " + " | ".join(f"{per[n].get(c, 0):.0f}" for n in names) + " |" for c in top]
    lines.append("| all crates | " + " | ".join(f"{sum(per[n].values()):.0f}" for n in names) + " |")
    lines += ["", "The modules' sizes, bytes (gzipped):", ""] + heads("module")
    for module in variants[SHIPPED]["sizes"]:
        lines.append(f"| {module} | " + " | ".join("{:,} ({:,})".format(*variants[n]["sizes"][module]) for n in names) + " |")
    versus = results.get("versus")
    if versus:
        other = versus["versus"]
        lines += ["", f"The page as shipped against *{other}*, side by side (`scripts/bench/browser.mjs --versus`, "
                  f"{versus['rounds']} alternating rounds of {versus['seconds']} s on every core, medians; WebGPU once each):", "",
                  "| build, backend | small it/s (spread) | paper g64 b16 forward ms | Langevin step ms | update ms |",
                  "|---|---|---|---|---|"]
        for label, key in ((SHIPPED, "a"), (other, "b"), (SHIPPED, "webgpuA"), (other, "webgpuB")):
            s = versus.get(key)
            if s:
                lines.append(f"| {label}, {s['badge'].split(' ·')[0]} | {s['itersPerSecond']:.2f} ("
                             + "–".join(f"{x:.2f}" for x in s["spread"])
                             + f") | {s['forwardMs']:.1f} | {s['langevinStepMs']:.1f} | {s['updateMs']:.1f} |")
        lines += ["", f"Training it/s of `small`, *{other}* over as shipped: {versus['ratio']:.2f}×."]
        lines += [f"{note}." for note in versus.get("notes", [])]
    os.makedirs(os.path.dirname(os.path.abspath(out)), exist_ok=True)
    open(out, "w").write("\n".join(lines) + "\n")
    print(f"wrote {out}")


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--variants", default=",".join(TRIED), help="the variants tried, beside the shipped build")
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--seconds", type=int, default=20)
    p.add_argument("--report", default=os.path.join(ROOT, "reports", "build.md"))
    p.add_argument("--report-only", action="store_true", help="write build.md again from build.json")
    p.add_argument("--smoke", action="store_true")
    args = p.parse_args()
    saved = os.path.join(os.path.dirname(os.path.abspath(args.report)), "build.json")
    if args.report_only:
        results = json.load(open(saved))
        m = results["measured"]
        return report(results, args.report, extra=f"Measured at commit {m['commit']}, {m['date']}, by `{m['command']}`"
                      + (f" ({m['note']})." if m.get("note") else "."))
    tried = [] if args.smoke else [v for v in args.variants.split(",") if v]
    unknown = [v for v in tried if v not in TRIED]
    if unknown:
        sys.exit(f"build report: unknown variant(s) {unknown}; known: {list(TRIED)}")
    work = tempfile.mkdtemp(prefix="build-report-")
    try:
        if args.smoke:
            bindgen, checkout = 0.0, ROOT  # the smoke form does not reinstall the tools
        else:
            bindgen = run(["bash", "scripts/setup", "--wasm-bindgen-into", os.path.join(work, "tools")], ROOT,
                          log=os.path.join(work, "wasm-bindgen.log"))
            checkout = os.path.join(work, "checkout")  # copied once: what is built is the checkout at the start
            copy_checkout(checkout)
        variants, dists = {}, {}
        for name in [SHIPPED, *tried]:
            slug = re.sub(r"\W+", "-", name)
            target = (os.environ.get("CARGO_TARGET_DIR", os.path.join(ROOT, "target")) if args.smoke
                      else os.path.join(work, f"target-{slug}"))
            log, dists[name] = os.path.join(work, f"{slug}.log"), os.path.join(work, f"dist-{slug}")
            print(f"build report: building {name} (log {log})", flush=True)
            variants[name] = build(checkout, target, TRIED.get(name, []), dists[name], log)
            print(f"build report: {name}: " + ", ".join(f"{k} {provenance.wall(v)}" for k, v in variants[name]["steps"].items()), flush=True)
        other = tried[0] if tried else SHIPPED
        cmd = ["node", "scripts/bench/browser.mjs", "--dist", dists[SHIPPED], "--versus", dists[other],
               "--rounds", str(1 if args.smoke else args.rounds), "--seconds", str(2 if args.smoke else args.seconds)]
        out = subprocess.run(cmd + (["--cpu-only"] if args.smoke else []), cwd=ROOT, capture_output=True, text=True)
        if out.returncode != 0:
            sys.exit(f"build report: the side-by-side run failed:\n{out.stderr[-2000:]}")
        sys.stderr.write(out.stderr)
        versus = dict(json.loads(out.stdout.strip().splitlines()[-1]), versus=other,
                      notes=[l for l in out.stderr.splitlines() if l.startswith("WebGPU not timed")])
        rust = subprocess.run(["rustc", "--version"], capture_output=True, text=True).stdout.strip()
        results = {"measured": {"commit": provenance.commit(), "date": time.strftime("%Y-%m-%d", time.gmtime()),
                                "command": provenance.command()},
                   "rust": rust, "browser": "headless Chromium (Debian)", "bindgen": bindgen,
                   "variants": variants, "versus": versus}
        if not args.smoke:
            json.dump(results, open(saved, "w"), indent=1)
        report(results, args.report)
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
