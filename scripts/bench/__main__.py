"""Benchmarks of multigrid-ebm against its PyTorch reference, natively and in the browser; each writes
or prints a report under reports/. Run from the repository root:
  npm run bench -- SUBCOMMAND [options]      (or python3 -m scripts.bench SUBCOMMAND [options])
  npm run bench -- SUBCOMMAND --help         the subcommand's options"""
import argparse, os, subprocess, sys

from . import common, cpu, features, gpu

BROWSER_HELP = ("the page in headless Chromium: wasm CPU and WebGPU against native, load time, download size; "
                "--webgpu-only, --thread-scaling (options: browser --help)")


def main(argv):
    # The reports' provenance names the command a person types (scripts/provenance.py).
    os.environ.setdefault("MULTIGRID_REPORT_COMMAND", " ".join(["npm run bench --", *argv]))
    p = argparse.ArgumentParser(prog="python3 -m scripts.bench", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="command", required=True, metavar="{cpu,gpu,browser,features}")
    for name, module in (("cpu", cpu), ("gpu", gpu), ("features", features)):
        module.arguments(sub.add_parser(name, help=module.HELP, description=module.__doc__,
                                        formatter_class=argparse.RawDescriptionHelpFormatter))
    # browser.mjs parses its own options (and prints them for --help).
    sub.add_parser("browser", help=BROWSER_HELP, add_help=False)
    a, rest = p.parse_known_args(argv)
    if a.command == "browser":
        try:
            common.browser(rest, capture=False)
        except subprocess.CalledProcessError as e:
            sys.exit(e.returncode)
    elif rest:
        p.error(f"unrecognized arguments: {' '.join(rest)}")
    else:
        {"cpu": cpu, "gpu": gpu, "features": features}[a.command].main(a)


if __name__ == "__main__":
    main(sys.argv[1:])
