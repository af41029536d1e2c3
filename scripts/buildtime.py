#!/usr/bin/env python3
"""The first build of the page, timed: where a cold `npm start` spends its time, and what the
opt-level table in Cargo.toml ([profile.release.package]) saves. Writes reports/build.md.

For each of two variants of this checkout (as shipped, and without the table), in a copy of the
tracked files with a cold target folder: the single-threaded wasm build (scripts/build-wasm, with
cargo's --timings), the threaded one (--threads) and the page (vite). Once: wasm-bindgen-cli's
install into a temporary folder (scripts/setup --wasm-bindgen-into). Then the two pages side by
side in headless Chromium (scripts/bench/browser.mjs --versus): training it/s of `small` on every
core and the paper net's grid-64 ops, and the same on WebGPU (SwiftShader) once each.

--smoke: the shipped variant only, built in the repository itself (warm when the page is built),
the page into a temporary folder, one short round on the CPU backend; no report under reports/.
"""
import argparse, gzip, json, os, re, shutil, subprocess, sys, tempfile, time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from scripts import provenance  # noqa: E402

ROOT = provenance.ROOT
TABLE = re.compile(r"\n# Build time:.*?\n\[profile\.release\.package\]\n(?:[^\n\[]+\n)*", re.S)


def run(cmd, cwd, env=None, log=None):
    """Runs `cmd`, its output to `log` (appended); returns the wall time in seconds."""
    t0 = time.time()
    with open(log or os.devnull, "a") as out:
        done = subprocess.run(cmd, cwd=cwd, env=env, stdout=out, stderr=subprocess.STDOUT)
    if done.returncode != 0:
        sys.exit(f"build report: `{' '.join(cmd)}` failed in {cwd} (exit {done.returncode}; see {log})")
    return time.time() - t0


def copy_checkout(dest, table):
    """The tracked files of this checkout (as they are now) in `dest`, node_modules linked; without
    the opt-level table when not `table`."""
    files = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True).stdout.split(b"\0")
    for f in filter(None, (f.decode() for f in files)):
        src = os.path.join(ROOT, f)
        if os.path.isfile(src):
            os.makedirs(os.path.dirname(os.path.join(dest, f)), exist_ok=True)
            shutil.copy2(src, os.path.join(dest, f))
    os.symlink(os.path.join(ROOT, "node_modules"), os.path.join(dest, "node_modules"))
    if not table:
        path = os.path.join(dest, "Cargo.toml")
        text = open(path).read()
        stripped = TABLE.sub("\n", text)
        if stripped == text:
            sys.exit("build report: Cargo.toml has no opt-level table ([profile.release.package]) to leave out")
        open(path, "w").write(stripped)


def crate_times(timings_dir):
    """Seconds per crate (all its units) from the newest cargo --timings page in `timings_dir`."""
    pages = [os.path.join(timings_dir, f) for f in os.listdir(timings_dir) if f.startswith("cargo-timing-")]
    units = json.loads(re.search(r"const UNIT_DATA = (\[.*?\]);", open(max(pages, key=os.path.getmtime)).read(), re.S).group(1))
    times = {}
    for u in units:
        times[u["name"]] = times.get(u["name"], 0) + u["duration"]
    return times


def build(checkout, target, log, smoke):
    """Times the three build steps in `checkout` with its target folder `target`."""
    env = dict(os.environ, CARGO_TARGET_DIR=target)
    steps = {}
    steps["wasm"] = run(["bash", "scripts/build-wasm", "--timings"], checkout, env, log)
    steps["wasm, threads"] = run(["bash", "scripts/build-wasm", "--threads", "--timings"], checkout, env, log)
    dist = os.path.join(os.path.dirname(log), "dist-" + os.path.basename(log).removesuffix(".log"))
    steps["page (vite)"] = run(["npx", "vite", "build", "--outDir", dist, "--emptyOutDir"], checkout, env, log)
    times = {"wasm": crate_times(os.path.join(target, "cargo-timings")),
             "wasm, threads": crate_times(os.path.join(target, "threads", "cargo-timings"))}
    sizes = {}
    for module, folder in (("wasm", "pkg"), ("wasm, threads", "pkg-threads")):
        data = open(os.path.join(checkout, "www", folder, "multigrid_ebm_bg.wasm"), "rb").read()
        sizes[module] = (len(data), len(gzip.compress(data, 9)))
    return {"steps": steps, "crates": times, "sizes": sizes, "dist": dist}


def minutes(s):
    m, s = divmod(round(s), 60)
    return f"{m} min {s:02d} s"


def report(args, bindgen, variants, versus, out):
    shipped, without = variants.get("shipped"), variants.get("without")
    names = [n for n in ("without", "shipped") if n in variants]
    label = {"without": "without the table (before)", "shipped": "as shipped (after)"}
    rust = subprocess.run(["rustc", "--version"], capture_output=True, text=True).stdout.strip()
    lines = ["# The first build", ""] + provenance.block(browser="headless Chromium (Debian)", extra=rust) + [
        "A cold `npm start` on a fresh machine: install the tools, build the two WebAssembly modules, build",
        "the page. Each variant here is built from a copy of this checkout with a cold target folder, one",
        "after the other on this machine (a build uses every core). The tools' install is timed once,",
        "into a temporary folder; installing Rust's target and nightly and the npm packages is network",
        "bound and left out.", "",
        "| step | " + " | ".join(label[n] for n in names) + " |", "|---|" + "---|" * len(names)]
    steps = list(variants[names[0]]["steps"])
    lines.append(f"| wasm-bindgen-cli install (scripts/setup) | " + " | ".join(minutes(bindgen) for _ in names) + " |")
    for step in steps:
        lines.append(f"| {step} | " + " | ".join(minutes(variants[n]["steps"][step]) for n in names) + " |")
    totals = {n: bindgen + sum(variants[n]["steps"].values()) for n in names}
    lines.append("| **total** | " + " | ".join(f"**{minutes(totals[n])}**" for n in names) + " |")
    lines.append("")
    if shipped and without:
        lines.append(f"The table cuts the first build from {minutes(totals['without'])} to {minutes(totals['shipped'])} "
                     f"({totals['shipped'] / totals['without']:.2f}×).")
        lines.append("")
    # Where the compile time goes: the crates that take longest, summed over both modules.
    def both(n):
        t = {}
        for build_times in variants[n]["crates"].values():
            for crate, s in build_times.items():
                t[crate] = t.get(crate, 0) + s
        return t
    per = {n: both(n) for n in names}
    top = sorted(per[names[0]], key=lambda c: -per[names[0]][c])[:15]
    lines += ["Compile time per crate, both modules together (CPU seconds from cargo's `--timings`; the",
              "build runs two at once), the fifteen longest first:", "",
              "| crate | " + " | ".join(label[n] for n in names) + " |", "|---|" + "---|" * len(names)]
    for c in top:
        lines.append(f"| {c} | " + " | ".join(f"{per[n].get(c, 0):.0f}" for n in names) + " |")
    lines.append("| all crates | " + " | ".join(f"{sum(per[n].values()):.0f}" for n in names) + " |")
    lines += ["", "The WebAssembly modules' sizes (bytes, and gzipped as a host serves them):", "",
              "| module | " + " | ".join(label[n] for n in names) + " |", "|---|" + "---|" * len(names)]
    for module in variants[names[0]]["sizes"]:
        lines.append(f"| {module} | " + " | ".join("{:,} ({:,})".format(*variants[n]["sizes"][module]) for n in names) + " |")
    if versus:
        lines += ["", "The page's speed, the two builds side by side (`scripts/bench/browser.mjs --versus`: "
                  f"{versus['rounds']} alternating rounds of {versus['seconds']} s, medians):", "",
                  *versus["table"], "",
                  f"Training it/s of `small`, as shipped over before: {versus['ratio']:.2f}×."]
    os.makedirs(os.path.dirname(out), exist_ok=True)
    open(out, "w").write("\n".join(lines) + "\n")
    print(f"wrote {out}")


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--seconds", type=int, default=20)
    p.add_argument("--report", default=os.path.join(ROOT, "reports", "build.md"))
    p.add_argument("--smoke", action="store_true")
    args = p.parse_args()
    work = tempfile.mkdtemp(prefix="build-report-")
    try:
        bindgen_log = os.path.join(work, "wasm-bindgen.log")
        if args.smoke:
            bindgen = 0.0  # the smoke form does not reinstall the tools
        else:
            bindgen = run(["bash", "scripts/setup", "--wasm-bindgen-into", os.path.join(work, "tools")], ROOT, log=bindgen_log)
        names = ["shipped"] if args.smoke else ["without", "shipped"]
        if not args.smoke:  # both copies first: what is built is the checkout as it was at the start
            for name in names:
                copy_checkout(os.path.join(work, name), table=name == "shipped")
        variants = {}
        for name in names:
            log = os.path.join(work, f"{name}.log")
            if args.smoke:
                checkout, target = ROOT, os.environ.get("CARGO_TARGET_DIR", os.path.join(ROOT, "target"))
            else:
                checkout = os.path.join(work, name)
                target = os.path.join(checkout, "target")
            print(f"build report: building {name} in {checkout} (log {log})", flush=True)
            variants[name] = build(checkout, target, log, args.smoke)
            print(f"build report: {name}: " + ", ".join(f"{k} {minutes(v)}" for k, v in variants[name]["steps"].items()), flush=True)
        a = variants.get("without", variants["shipped"])["dist"]
        b = variants["shipped"]["dist"]
        cmd = ["node", "scripts/bench/browser.mjs", "--dist", a, "--versus", b,
               "--rounds", str(1 if args.smoke else args.rounds), "--seconds", str(2 if args.smoke else args.seconds)]
        if args.smoke:
            cmd.append("--cpu-only")
        out = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
        if out.returncode != 0:
            sys.exit(f"build report: the side-by-side run failed:\n{out.stderr[-2000:]}")
        lines = out.stdout.strip().splitlines()
        versus = json.loads(lines[-1])
        versus["table"] = [l.replace(a, "before").replace(b, "as shipped") if not args.smoke else l for l in lines if l.startswith("|")]
        report(args, bindgen, variants, versus, args.report)
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
