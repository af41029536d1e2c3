#!/usr/bin/env python3
"""What Burn's remote backend costs: `multigrid serve` on loopback hosting a device, reached over
WebSocket and over Iroh through the relay it runs (the page's route), against the same device used
in the process, side by side in alternating rounds. Per grid, the ms of a Langevin step
and of a parameter update (`multigrid bench`), and the seconds of a whole learning iteration
(`multigrid train`, from its log). Written up as reports/remote.md.

  scripts/remote.py [--preset small] [--batch 8] [--reps 5] [--iters 30] [--rounds 3]
                    [--server-device cpu] [--report reports/remote.md]

Server and client share this machine's cores, so on loopback the figures are the protocol's cost
(the operations sent in batches, a round trip per read) plus the two processes' contention;
across a network each round trip adds the link's latency.
"""
import argparse, json, os, secrets, shutil, statistics, subprocess, sys, tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from compare import BIN, ROOT, run  # noqa: E402
import provenance  # noqa: E402


# How the client reaches the server: `multigrid serve`'s transport options, per route.
ROUTES = {"WebSocket": [], "Iroh via its relay": ["--transport", "iroh", "--relays", "here"]}


def serve(device, transport):
    """`multigrid serve` on free loopback ports; the process and the address it printed."""
    server = subprocess.Popen([BIN, "serve", "--device", device, "--port", "0", *transport], cwd=ROOT, text=True,
                              stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    first = server.stdout.readline().strip()
    if not first.startswith("multigrid serve: listening on "):
        server.kill()
        sys.exit(f"remote report: `multigrid serve --device {device} {' '.join(transport)}` did not start ({first!r})")
    return server, first.rsplit(" ", 1)[1]


def iteration_seconds(args, where, work):
    """Median seconds per learning iteration of a short run (the first, which warms up, left out)."""
    out = tempfile.mkdtemp(dir=work)
    run("train", "--preset", args.preset, "--batch", str(args.batch), "--iters", str(args.iters),
        "--seed", "1", "--quiet", "--save-every", str(args.iters), "--out", out, *where)
    seconds = [json.loads(line)["seconds"] for line in open(os.path.join(out, "log.jsonl")) if '"seconds"' in line]
    shutil.rmtree(out)
    return statistics.median(seconds[1:] or seconds)


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--preset", default="small")
    p.add_argument("--batch", type=int, default=8)
    p.add_argument("--reps", type=int, default=5)
    p.add_argument("--iters", type=int, default=30)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--server-device", default="cpu", help="what `multigrid serve` hosts: cpu or wgpu")
    p.add_argument("--report", default=os.path.join(ROOT, "reports", "remote.md"))
    args = p.parse_args()
    # The server and every client read the token from the environment.
    os.environ["MULTIGRID_TOKEN"] = secrets.token_hex(16)
    servers = {route: serve(args.server_device, transport) for route, transport in ROUTES.items()}
    work = tempfile.mkdtemp(prefix="remote-report-")
    sides = {"in the process": ["--device", args.server_device]}
    sides |= {route: ["--remote", address] for route, (_, address) in servers.items()}
    steps = {side: {} for side in sides}
    iterations = {side: [] for side in sides}
    try:
        for _ in range(args.rounds):
            for side, where in sides.items():
                bench = json.loads(run("bench", "--preset", args.preset, "--batch", str(args.batch),
                                       "--reps", str(args.reps), "--json", *where, capture=True))
                for row in bench["rows"]:
                    steps[side].setdefault(row["grid"], []).append((row["langevin_step_ms"], row["update_ms"]))
                iterations[side].append(iteration_seconds(args, where, work))
    finally:
        for server, _ in servers.values():
            server.kill()
            server.wait()
        shutil.rmtree(work, ignore_errors=True)

    out = ["# The remote backend: a device served on loopback against the same device in the process", ""]
    out += provenance.block() + [
        f"`multigrid serve --device {args.server_device}` on 127.0.0.1, reached by the CLI's `--remote` over "
        "WebSocket and over Iroh through the relay that `serve --relays here` runs (the route the page takes), "
        f"against the same device in the process (`--device {args.server_device}`), in {args.rounds} alternating "
        f"round{'s' if args.rounds != 1 else ''}: `multigrid bench --preset {args.preset} --batch {args.batch} "
        f"--reps {args.reps}` (medians over the rounds) and a {args.iters}-iteration `multigrid train` (the median "
        "iteration of each run, then over the rounds). Server and client share this machine's cores.", "",
        *figures({"steps": steps, "iterations": iterations, "args": vars(args)}), "",
        "Burn's remote backend sends every tensor operation to the server (batched until a read, a sync or an "
        "upload) and makes every read a round trip. With the same CPU on both sides, as here, remote can only be "
        "slower: a server pays where its device runs the operations faster than the client's by more than what "
        "the messages add."]
    os.makedirs(os.path.dirname(os.path.abspath(args.report)), exist_ok=True)
    open(args.report, "w").write("\n".join(out) + "\n")
    json.dump({"steps": steps, "iterations": iterations, "address": "127.0.0.1", "args": vars(args) | {"report": None}},
              open(os.path.splitext(args.report)[0] + ".json", "w"), indent=1)
    print(f"wrote {args.report}")


def figures(data):
    """The table of what remote adds, per grid and route, and the learning iteration's figures, from
    what `main` measured (reports/remote.json; `npm run bench -- cpu` shows them too)."""
    (local, a), *routes = data["steps"].items()
    median = lambda values, i: statistics.median(v[i] for v in values)
    grids = sorted(a, key=int)
    cell = lambda g, steps, i: f"{median(steps[g], i):.1f} (×{median(steps[g], i) / median(a[g], i):.1f})"
    names = [name for name, _ in routes]
    out = [f"| grid | Langevin step, in the process (ms) | {' | '.join(names)} | update, in the process (ms) | {' | '.join(names)} |",
           "|---|" + "---|" * (2 + 2 * len(routes))]
    for g in grids:
        out.append(f"| {g} | {median(a[g], 0):.1f} | " + " | ".join(cell(g, b, 0) for _, b in routes)
                   + f" | {median(a[g], 1):.1f} | " + " | ".join(cell(g, b, 1) for _, b in routes) + " |")
    seconds = {side: statistics.median(values) for side, values in data["iterations"].items()}
    preset, batch = data["args"]["preset"], data["args"]["batch"]
    out += ["", f"A learning iteration of `{preset}` (batch {batch}) takes {seconds[local] * 1e3:.0f} ms in the process; "
            "remote, it takes:", "",
            f"| route | learning iteration (ms) | × | more (ms) | added to a Langevin step at grids {', '.join(map(str, grids))} (ms) |",
            "|---|---|---|---|---|"]
    for name, b in routes:
        added = ", ".join(f"{median(b[g], 0) - median(a[g], 0):.1f}" for g in grids)
        out.append(f"| {name} | {seconds[name] * 1e3:.0f} | {seconds[name] / seconds[local]:.1f} | "
                   f"{(seconds[name] - seconds[local]) * 1e3:.0f} | {added} |")
    return out


if __name__ == "__main__":
    main()
