#!/usr/bin/env python3
"""This project's PyTorch reference of the multi-grid energy nets, written apart from the Rust code
to check it and to time it against.

What it implements: the per-grid energy ConvNets f(I; θ) of Gao, Lu, Zhou, Zhu & Wu, "Learning
Generative ConvNets via Multi-grid Modeling and Sampling" (CVPR 2018, arXiv 1709.08868), as the
authors' TensorFlow code builds them (github.com/ruiqigao/Multigrid_learning, model.py and ops.py):
each conv layer is a convolution with TensorFlow's 'SAME' padding and a bias, then batch
normalisation with the statistics of the batch it is given (also during Langevin, as in that
code) or no normalisation, then LeakyReLU(0.2); the last feature map is flattened in PyTorch's
(channel, row, column) order into a fully connected layer to one number. Pixels are in [0, 255],
NCHW, float32. The official architectures (grids 4, 16, 64) are `PAPER` below.

Configurations: the same as the Rust crate (src/config.rs). `--preset paper|small|tiny` gives its
presets; `--config FILE` reads its JSON format (what `multigrid train` writes as config.json;
missing keys take the paper preset's values); `--norm none|batch` overrides the normalisation;
`--narrow N` divides every layer's channels by N (rounding up), which keeps a configuration's
shapes (grids, layer count, kernels, strides) with about N² times fewer weights.

Safetensors layout (what the Rust interop reads and writes, src/interop.rs), per grid of size S:
  grid{S}.conv.{i}.weight [out, in, k, k]   grid{S}.conv.{i}.bias [out]     (i counts conv layers from 0)
  grid{S}.bn.{i}.weight [out]               grid{S}.bn.{i}.bias [out]       (only with batch norm; no running
                                                                             statistics: batch statistics are used)
  grid{S}.fc.weight [1, features]           grid{S}.fc.bias [1]
and in the file's metadata `multigrid.config` (the whole configuration as the crate's JSON) and
`norm`. Fixture files also hold, per grid, the inputs grid{S}.x [batch, 3, S, S], their energies
grid{S}.energy [batch] and input gradients grid{S}.grad = d sum(f) / d x.

'SAME' padding: output size ceil(n / stride); where the total padding is odd, the extra row and
column go after (bottom, right), e.g. 64 -> 32 with a 5x5 kernel and stride 2 pads 1 before and 2
after. PyTorch's own padding=k//2 is symmetric and would differ.

How the tests use it (scripts/make-fixtures writes the files):
  tests/fixtures/reference_{none,batch}.safetensors   `fixtures --preset paper --narrow 8`: the paper's
      shapes with 1/8 of its channels; tests/reference.rs requires the Rust nets to give the same
      energies and input gradients on every grid, with and without batch norm, to 1e-4 relative error
      (the biases keep every pre-activation clear of LeakyReLU's kink: see `clear_of_kink`)
  tests/fixtures/energy-expected.json   `energy` of real images under reference_none's weights, for
      `multigrid import` + `multigrid energy` (tests/cli.rs)
  scripts/make-fixtures --paper DIR     the full paper nets, for the ignored tests in tests/reference.rs
      (MULTIGRID_PAPER_FIXTURES=DIR cargo test --release --test reference -- --include-ignored)
`npm run bench -- cpu` and `-- gpu` (scripts/bench/) time its `bench` (or import this module) beside `multigrid bench`.

Usage:
  torch_multigrid.py bench [--grids 16,64] [--batches 16,100] [--threads 2] [--reps 5] [--norm none] [--json] [CONFIG]
  torch_multigrid.py energy --weights W.safetensors --grid 16 --input X.safetensors [--norm none] [CONFIG]
      the net's architecture from W's `multigrid.config`, else from CONFIG (default: the paper preset)
  torch_multigrid.py fixtures --out F.safetensors [--seed 0] [--batch 4] [--norm none] [CONFIG]
  torch_multigrid.py check --fixture F.safetensors [--tolerance 1e-5]
      recompute a fixture's energies and gradients from its weights and inputs (exit 1 if they differ)
where CONFIG is [--preset NAME | --config FILE] [--narrow N].
"""
import argparse
import copy
import json
import math
import statistics
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

LEAKY_SLOPE = 0.2
NORM_EPSILON = 1e-5

# The official architectures (model.py): per grid size, (out channels, kernel, stride) per conv layer.
PAPER = {
    4: [(96, 5, 2), (128, 3, 1), (256, 3, 1)],
    16: [(96, 5, 2), (128, 3, 1), (256, 3, 1), (512, 3, 1)],
    64: [(64, 5, 2), (128, 5, 2), (256, 5, 2), (512, 5, 2)],
}


# --- Configurations (the crate's JSON format, src/config.rs) ---------------------------------------

def _grids(table):
    return [{"size": s, "layers": [{"channels": c, "kernel": k, "stride": st} for c, k, st in layers]}
            for s, layers in table.items()]


def paper_config():
    return {
        "grids": _grids(PAPER),
        "norm": "batch",
        "langevin": {"form": "code", "steps": 90, "delta": 0.3, "sigma": 50.0, "noise": False, "clip": [0.0, 255.0]},
        "optimizer": {"lr": 0.3, "beta1": 0.5, "beta2": 0.999, "epsilon": 1e-8},
        "batch_size": 100,
        "method": "multigrid",
        "cd_steps": None,
    }


def preset(name):
    """The crate's presets (Config::paper, Config::small, Config::tiny)."""
    config = paper_config()
    if name == "paper":
        return config
    if name == "small":
        config["grids"] = _grids({4: [(32, 3, 1), (64, 3, 1)],
                                  16: [(32, 5, 2), (64, 3, 1), (96, 3, 2)],
                                  64: [(16, 5, 2), (32, 5, 2), (64, 5, 2), (128, 5, 2)]})
        config["langevin"]["steps"], config["batch_size"] = 30, 8
        return config
    if name == "tiny":
        config["grids"] = _grids({4: [(8, 3, 1)], 16: [(8, 5, 2), (16, 3, 2)]})
        config["norm"], config["langevin"]["steps"], config["batch_size"] = "none", 10, 8
        return config
    sys.exit(f"unknown preset '{name}': use paper, small or tiny")


def narrowed(config, divisor):
    """The same shapes with every layer's channels divided by `divisor`, rounded up."""
    config = copy.deepcopy(config)
    for grid in config["grids"]:
        for layer in grid["layers"]:
            layer["channels"] = max(1, -(-layer["channels"] // divisor))
    return config


def checked(config):
    """A configuration the nets can be built from, with a message that says what is wrong. The
    scales are derived from the grids (1, then every grid's size), as in the crate; a `scales`
    field of an older file is ignored."""
    grids = config["grids"]
    if config["norm"] not in ("none", "batch"):
        sys.exit(f"unknown normalisation '{config['norm']}': use none or batch")
    sizes = [1] + [g["size"] for g in grids]
    if len(sizes) < 2 or any(b <= a or b % a for a, b in zip(sizes, sizes[1:])):
        sys.exit(f"each grid's size must divide the next and grow (after 1), got {sizes}")
    for g in grids:
        if not g["layers"] or any(min(l["channels"], l["kernel"], l["stride"]) < 1 for l in g["layers"]):
            sys.exit(f"grid {g['size']}: invalid conv layers {g['layers']}")
    return config


def config_from_args(args):
    """--preset or --config, then --narrow and --norm."""
    if getattr(args, "config", None):
        config = paper_config()
        config.update(json.load(open(args.config)))
    else:
        config = preset(getattr(args, "preset", None) or "paper")
    if getattr(args, "narrow", None):
        config = narrowed(config, args.narrow)
    if getattr(args, "norm", None):
        config["norm"] = args.norm
    return checked(config)


def grid_layers(config, size):
    """(channels, kernel, stride) per conv layer of one grid's net."""
    for g in config["grids"]:
        if g["size"] == size:
            return [(l["channels"], l["kernel"], l["stride"]) for l in g["layers"]]
    sys.exit(f"grid {size} is not in the scales {[1] + [g['size'] for g in config['grids']]}")


# --- The nets ----------------------------------------------------------------------------------------

def same_padding(n, kernel, stride):
    """TensorFlow 'SAME' padding of one spatial dimension of size n: (before, after)."""
    total = max((math.ceil(n / stride) - 1) * stride + kernel - n, 0)
    return total // 2, total - total // 2


class SameConv(nn.Module):
    """Convolution with 'SAME' padding; parameters `weight` [out, in, k, k] and `bias` [out]."""

    def __init__(self, c_in, c_out, kernel, stride):
        super().__init__()
        self.stride = stride
        self.weight = nn.Parameter(torch.empty(c_out, c_in, kernel, kernel))
        self.bias = nn.Parameter(torch.zeros(c_out))

    def forward(self, x):
        k = self.weight.shape[-1]
        top, bottom = same_padding(x.shape[-2], k, self.stride)
        left, right = same_padding(x.shape[-1], k, self.stride)
        return F.conv2d(F.pad(x, (left, right, top, bottom)), self.weight, self.bias, stride=self.stride)


class BatchStatNorm(nn.Module):
    """Batch normalisation with the statistics of the batch it is given (biased variance), always,
    as the official code runs it in learning and in Langevin; parameters `weight` (γ) and `bias` (β)."""

    def __init__(self, channels):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(channels))
        self.bias = nn.Parameter(torch.zeros(channels))

    def forward(self, x):
        return F.batch_norm(x, None, None, self.weight, self.bias, training=True, eps=NORM_EPSILON)


class EnergyNet(nn.Module):
    """f(I) of one grid: [SameConv -> BatchStatNorm (norm "batch") -> LeakyReLU(0.2)] per layer, then
    flatten -> fully connected -> one number per image. Parameter names are the safetensors names
    without the `grid{S}.` prefix (conv.{i}.weight, bn.{i}.bias, fc.weight, ...)."""

    def __init__(self, size, layers, norm="none"):
        super().__init__()
        self.size, self.norm = size, norm
        convs, norms, c, s = [], [], 3, size
        for channels, kernel, stride in layers:
            convs.append(SameConv(c, channels, kernel, stride))
            if norm == "batch":
                norms.append(BatchStatNorm(channels))
            c, s = channels, math.ceil(s / stride)
        self.conv = nn.ModuleList(convs)
        self.bn = nn.ModuleList(norms)
        self.fc = nn.Linear(c * s * s, 1)
        # Xavier-uniform weights and zero biases, as the official code (and the crate) start out.
        for m in (*self.conv, self.fc):
            nn.init.xavier_uniform_(m.weight)
            nn.init.zeros_(m.bias)

    def forward(self, x):
        for i, conv in enumerate(self.conv):
            x = conv(x)
            if self.norm == "batch":
                x = self.bn[i](x)
            x = F.leaky_relu(x, LEAKY_SLOPE)
        return self.fc(x.flatten(1)).squeeze(1)


def nets(config):
    """Every grid's net of a configuration, keyed by grid size."""
    return {g["size"]: EnergyNet(g["size"], grid_layers(config, g["size"]), config["norm"]) for g in config["grids"]}


def energy_and_gradient(net, x):
    """f(x) per image and d sum(f) / d x."""
    x = x.detach().requires_grad_(True)
    f = net(x)
    (g,) = torch.autograd.grad(f.sum(), x)
    return f.detach(), g


def langevin_step(net, x, delta=0.3, form="code", sigma=50.0, noise=False, clip=(0.0, 255.0)):
    """One Langevin update: code form x + δ²/2 ∂f/∂x, paper form x + δ²/2 (∂f/∂x − x/σ²); then + δZ
    with noise, then clamped to `clip` (None: not clamped). Defaults: the paper preset."""
    _, g = energy_and_gradient(net, x)
    drift = g - x / (sigma * sigma) if form == "paper" else g
    x = x.detach() + 0.5 * delta * delta * drift
    if noise:
        x = x + delta * torch.randn_like(x)
    return x.clamp(*clip) if clip is not None else x


# --- Weights files -----------------------------------------------------------------------------------

def read_file(path):
    """A safetensors file's tensors and metadata."""
    from safetensors import safe_open
    with safe_open(path, framework="pt") as f:
        return {k: f.get_tensor(k) for k in f.keys()}, f.metadata() or {}


def file_config(tensors, metadata, fallback):
    """The configuration a weights file is read with: the one it carries, else `fallback` with the
    normalisation its `norm` metadata or its tensors show (as the crate's import does)."""
    if "multigrid.config" in metadata:
        config = paper_config()
        config.update(json.loads(metadata["multigrid.config"]))
        return checked(config)
    config = copy.deepcopy(fallback)
    config["norm"] = metadata.get("norm") or ("batch" if any(".bn." in k for k in tensors) else "none")
    return checked(config)


def load_net(config, size, tensors, source):
    """Grid `size`'s net with the weights of `tensors`; every name and shape must fit."""
    net = EnergyNet(size, grid_layers(config, size), config["norm"])
    state = {}
    for name, param in net.state_dict().items():
        full = f"grid{size}.{name}"
        if full not in tensors:
            sys.exit(f"{source} has no tensor '{full}': it was written for another architecture or normalisation")
        if tuple(tensors[full].shape) != tuple(param.shape):
            sys.exit(f"{source}: '{full}' has shape {list(tensors[full].shape)}, this net needs {list(param.shape)}")
        state[name] = tensors[full].float()
    net.load_state_dict(state)
    return net


# --- Commands ----------------------------------------------------------------------------------------

def timed(fn, reps=5):
    """Median seconds of `reps` calls after one warm-up call."""
    fn()
    times = []
    for _ in range(reps):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def bench(args):
    config = config_from_args(args)
    lv, opt_cfg = config["langevin"], config["optimizer"]
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    rows = []
    for size in map(int, args.grids.split(",")):
        for batch in map(int, args.batches.split(",")):
            net = EnergyNet(size, grid_layers(config, size), config["norm"])
            opt = torch.optim.Adam(net.parameters(), lr=opt_cfg["lr"], betas=(opt_cfg["beta1"], opt_cfg["beta2"]),
                                   eps=opt_cfg["epsilon"])
            obs, syn = (torch.rand(batch, 3, size, size) * 255 for _ in range(2))

            def forward():
                with torch.no_grad():
                    net(obs)

            def update():
                opt.zero_grad()
                (net(syn).mean() - net(obs).mean()).backward()
                opt.step()

            def step():
                langevin_step(net, syn, lv["delta"], lv["form"], lv["sigma"], lv["noise"], lv["clip"])

            rows.append(dict(grid=size, batch=batch, forward_ms=1e3 * timed(forward, args.reps),
                             langevin_step_ms=1e3 * timed(step, args.reps), update_ms=1e3 * timed(update, args.reps)))
    meta = dict(torch=torch.__version__, threads=torch.get_num_threads(), norm=config["norm"])
    if args.json:
        print(json.dumps(dict(meta=meta, rows=rows)))
    else:
        print(meta)
        print("grid batch forward_ms langevin_step_ms update_ms")
        for r in rows:
            print(f"{r['grid']:>4} {r['batch']:>5} {r['forward_ms']:>10.1f} {r['langevin_step_ms']:>16.1f} {r['update_ms']:>9.1f}")


def energy(args):
    tensors, metadata = read_file(args.weights)
    fallback = config_from_args(argparse.Namespace(preset=args.preset, config=args.config, narrow=args.narrow))
    config = file_config(tensors, metadata, fallback)
    if args.norm:
        config["norm"] = args.norm
    net = load_net(config, args.grid, tensors, args.weights)
    x = read_file(args.input)[0]["x"].float()
    f, g = energy_and_gradient(net, x)
    print(json.dumps(dict(energy=f.tolist(), grad_abs_mean=g.abs().mean().item(), grad_first=g.flatten()[:8].tolist())))


@torch.no_grad()
def _layers_in_float64(net, x):
    """Per conv layer of `net` on inputs `x`, in float64: (index, pre-activation less its bias, the
    scale of its float32 rounding error, the bias parameter). The bias is the conv bias without
    batch norm and batch norm's β with it; the scale is Σ|w||h| + |b|, times γ/σ with batch norm.
    The next layer is computed with the bias as it is when the caller moves on."""
    h = x.double()
    for i, conv in enumerate(net.conv):
        k, stride = conv.weight.shape[-1], conv.stride
        top, bottom = same_padding(h.shape[-2], k, stride)
        left, right = same_padding(h.shape[-1], k, stride)
        pad = (left, right, top, bottom)
        w, b = conv.weight.double(), conv.bias.double()
        z = F.conv2d(F.pad(h, pad), w, b, stride=stride)
        scale = F.conv2d(F.pad(h.abs(), pad), w.abs(), b.abs(), stride=stride)
        if net.norm == "batch":
            bn = net.bn[i]
            mean, var = z.mean((0, 2, 3), keepdim=True), z.var((0, 2, 3), unbiased=False, keepdim=True)
            gain = bn.weight.double().view(1, -1, 1, 1) / (var + NORM_EPSILON).sqrt()
            z, scale, bias = (z - mean) * gain, scale * gain.abs(), bn.bias
        else:
            z, bias = z - b.view(1, -1, 1, 1), conv.bias
        yield i, z, scale, bias
        h = F.leaky_relu(z + bias.double().view(1, -1, 1, 1), LEAKY_SLOPE)


def _closeness(z, scale, bias):
    """|pre-activation| over the scale of its rounding error, per unit."""
    beta = bias.detach().double().view(1, -1, 1, 1)
    return (z + beta).abs() / (scale + beta.abs())


def kink_margin(net, x):
    """The smallest |pre-activation| of `x` in `net` over the scale of its float32 rounding error."""
    return min(_closeness(z, scale, bias).min().item() for _, z, scale, bias in _layers_in_float64(net, x))


def clear_of_kink(net, x, margin=1e-5, tries=100):
    """Redraw, channel by channel, the biases that put a pre-activation of the inputs `x` within
    `margin` of LeakyReLU's kink at 0, relative to the scale of its float32 rounding error (see
    `_layers_in_float64`; float32 errors measured on these nets stay under 4e-7 of it). Nearer the
    kink, two float32 implementations that sum in different orders can take different sides of it,
    and the input gradient then differs by that unit's whole share. Without this, every one of 20
    draws of the full paper nets (seeds 0-9, both normalisations) had units within 1e-6 of the
    kink, and in one (seed 0, no normalisation) PyTorch's own float32 gradient was 1e-2 away from
    float64's, and the crate's from PyTorch's. The biases are drawn again from the same range, in
    layer order."""
    for i, z, scale, bias in _layers_in_float64(net, x):
        for _ in range(tries):
            near = (_closeness(z, scale, bias) < margin).flatten(2).any(2).any(0)
            if not near.any():
                break
            with torch.no_grad():
                bias[near] = torch.empty(int(near.sum())).uniform_(-0.1, 0.1)
        else:
            sys.exit(f"grid {net.size} layer {i}: no biases in {tries} draws keep the inputs clear of the kink")


def fixtures(args):
    """Random weights for every grid of the configuration (with non-trivial biases and batch-norm
    scales, so a dropped or misplaced one shows), random inputs in [0, 255], their energies and
    input gradients: one file. The biases keep every pre-activation clear of LeakyReLU's kink, so
    the gradients are well defined in float32 (see `clear_of_kink`)."""
    from safetensors.torch import save_file
    config = config_from_args(args)
    torch.manual_seed(args.seed)
    out = {}
    for size, net in nets(config).items():
        with torch.no_grad():
            for m in (*net.conv, *net.bn, net.fc):
                m.bias.uniform_(-0.1, 0.1)
            for m in net.bn:
                m.weight.uniform_(0.5, 1.5)
        x = torch.rand(args.batch, 3, size, size) * 255
        clear_of_kink(net, x)
        f, g = energy_and_gradient(net, x)
        for name, value in net.state_dict().items():
            out[f"grid{size}.{name}"] = value.detach().contiguous()
        out[f"grid{size}.x"], out[f"grid{size}.energy"], out[f"grid{size}.grad"] = x, f, g.contiguous()
    metadata = {"multigrid.config": json.dumps(config), "norm": config["norm"], "seed": str(args.seed),
                "generator": "reference/torch_multigrid.py fixtures"}
    save_file(out, args.out, metadata=metadata)
    params = sum(v.numel() for k, v in out.items() if k.split(".")[1] in ("conv", "bn", "fc"))
    print(f"wrote {args.out}: {len(out)} tensors, {params:,} parameters, norm {config['norm']}")


def check(args):
    """Recompute a fixture file's energies and input gradients from its own weights and inputs."""
    tensors, metadata = read_file(args.fixture)
    config = file_config(tensors, metadata, paper_config())
    worst = 0.0
    for grid in config["grids"]:
        s = grid["size"]
        if f"grid{s}.x" not in tensors:
            continue
        net = load_net(config, s, tensors, args.fixture)
        f, g = energy_and_gradient(net, tensors[f"grid{s}.x"].float())
        ef = ((f - tensors[f"grid{s}.energy"]).abs().max() / tensors[f"grid{s}.energy"].abs().max()).item()
        eg = ((g - tensors[f"grid{s}.grad"]).abs().max() / tensors[f"grid{s}.grad"].abs().max()).item()
        print(f"{args.fixture} grid {s} (norm {config['norm']}): energy rel. error {ef:.2e}, gradient rel. error {eg:.2e}, "
              f"nearest pre-activation to the kink {kink_margin(net, tensors[f'grid{s}.x']):.1e} of its rounding scale")
        worst = max(worst, ef, eg)
    if worst > args.tolerance:
        sys.exit(f"{args.fixture}: differs from this reference by {worst:.2e} (tolerance {args.tolerance:.0e})")


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)

    def with_config(q, norm_default=None):
        which = q.add_mutually_exclusive_group()
        which.add_argument("--preset", choices=["paper", "small", "tiny"], help="a preset of the crate (default paper)")
        which.add_argument("--config", help="a configuration JSON in the crate's format")
        q.add_argument("--narrow", type=int, help="divide every layer's channels by N (rounding up)")
        q.add_argument("--norm", choices=["none", "batch"], default=norm_default,
                       help="override the configuration's normalisation" + (f" (default {norm_default})" if norm_default else ""))
        return q

    b = with_config(sub.add_parser("bench", help="time forward, Langevin step and update"), "none")
    b.add_argument("--grids", default="16,64")
    b.add_argument("--batches", default="16,100")
    b.add_argument("--threads", type=int, default=2)
    b.add_argument("--reps", type=int, default=5)
    b.add_argument("--json", action="store_true")
    e = with_config(sub.add_parser("energy", help="energies of images under a weights file"))
    e.add_argument("--weights", required=True)
    e.add_argument("--input", required=True, help="safetensors file with x [batch, 3, S, S]")
    e.add_argument("--grid", type=int, required=True)
    f = with_config(sub.add_parser("fixtures", help="write a cross-check fixture file"), "none")
    f.add_argument("--out", required=True)
    f.add_argument("--seed", type=int, default=0)
    f.add_argument("--batch", type=int, default=4)
    c = sub.add_parser("check", help="recompute a fixture file's energies and gradients")
    c.add_argument("--fixture", required=True)
    c.add_argument("--tolerance", type=float, default=1e-5)
    a = p.parse_args()
    {"bench": bench, "energy": energy, "fixtures": fixtures, "check": check}[a.cmd](a)


if __name__ == "__main__":
    main()
