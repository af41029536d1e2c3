//! `multigrid bench`: per grid and batch size, milliseconds for a forward pass, one Langevin
//! step and one parameter update, and the FLOP rate reached on the Langevin step.

use burn::prelude::*;
use burn::tensor::Distribution;
use multigrid_ebm::config::{Config, GridConfig, Norm};
use multigrid_ebm::device::read;
use multigrid_ebm::energy::EnergyNet;
use multigrid_ebm::langevin::langevin_step;
use multigrid_ebm::{Error, Learner};
use serde::Serialize;

use super::{DeviceArg, resolve_config};

#[derive(clap::Args)]
pub struct Args {
    #[arg(long, default_value = "paper")]
    preset: String,
    /// Batch sizes, comma-separated.
    #[arg(long, default_value = "16,100")]
    batch: String,
    /// Grid sizes to time (default: every grid of the preset).
    #[arg(long)]
    grids: Option<String>,
    /// Normalisation: none or batch (default: the preset's).
    #[arg(long)]
    norm: Option<String>,
    /// Timed repetitions (the median is reported) after one warm-up.
    #[arg(long, default_value_t = 5)]
    reps: usize,
    /// One JSON object on stdout instead of a table.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    device: DeviceArg,
}

#[derive(Serialize)]
struct Row {
    grid: usize,
    batch: usize,
    norm: &'static str,
    forward_ms: f64,
    langevin_step_ms: f64,
    update_ms: f64,
    /// GFLOP/s reached by the Langevin step (forward plus input gradient, ≈ 2 × forward FLOPs).
    gflops: f64,
    forward_gflop: f64,
}

/// Multiply-adds × 2 of one forward pass of one image (convolutions and the fc layer).
pub fn forward_flops(grid: &GridConfig) -> f64 {
    let (mut s, mut c_in, mut flops) = (grid.size, 3, 0.0);
    for l in &grid.layers {
        s = s.div_ceil(l.stride);
        flops += 2.0 * (s * s * l.channels * c_in * l.kernel * l.kernel) as f64;
        c_in = l.channels;
    }
    flops + 2.0 * grid.fc_inputs() as f64
}

fn parse_list(list: &str, what: &str) -> Result<Vec<usize>, Error> {
    list.split(',')
        .map(|s| s.trim().parse::<usize>().map_err(|e| Error::Config(format!("--{what} {list}: {e}"))))
        .collect()
}

/// Median wall time in ms of `f`, which must finish its device work before returning.
fn time_ms(reps: usize, mut f: impl FnMut()) -> f64 {
    f();
    let mut times: Vec<f64> = (0..reps.max(1))
        .map(|_| {
            let t = std::time::Instant::now();
            f();
            t.elapsed().as_secs_f64() * 1e3
        })
        .collect();
    times.sort_by(f64::total_cmp);
    times[times.len() / 2]
}

/// Wait for the device by reading one value back.
fn finish(t: Tensor<1>) {
    multigrid_ebm::device::block_on(read(t.sum())).expect("device readback");
}

pub fn run(args: Args) -> Result<(), Error> {
    if cfg!(debug_assertions) {
        eprintln!("warning: this is a debug build; Burn is far slower unoptimised. Use `cargo run --release -- bench`.");
    }
    let mut config: Config = resolve_config(&args.preset, None, None)?;
    if let Some(n) = &args.norm {
        config.norm = if n == "batch" { Norm::Batch } else if n == "none" { Norm::None } else {
            return Err(Error::Config(format!("--norm {n}: use none or batch")));
        };
    }
    let grids = match &args.grids {
        Some(list) => parse_list(list, "grids")?,
        None => config.scales[1..].to_vec(),
    };
    let batches = parse_list(&args.batch, "batch")?;
    let device = args.device.create()?;
    let norm = if config.norm == Norm::Batch { "batch" } else { "none" };
    let mut rows = Vec::new();
    for &size in &grids {
        let Some(k) = config.scales[1..].iter().position(|&s| s == size) else {
            return Err(Error::Config(format!("grid {size} is not in the preset's scales {:?}", config.scales)));
        };
        for &batch in &batches {
            let mut c = config.clone();
            c.batch_size = batch;
            let mut learner = Learner::new(c, 0, &device)?;
            let dev = learner.device();
            let images = || Tensor::<4>::random([batch, 3, size, size], Distribution::Uniform(0.0, 255.0), &dev);
            let (obs, syn) = (images(), images());
            let net: EnergyNet = learner.nets[k].clone().no_grad();
            let forward_ms = time_ms(args.reps, || finish(net.forward(obs.clone())));
            let langevin_step_ms =
                time_ms(args.reps, || finish(langevin_step(&net, syn.clone(), &learner.config.langevin).flatten(0, 3)));
            let update_ms = time_ms(args.reps, || {
                multigrid_ebm::device::block_on(learner.update_grid(k, obs.clone(), syn.clone())).expect("finite update");
                finish(learner.nets[k].flat_parameters()[0].0.clone());
            });
            let flops = forward_flops(&learner.config.grids[k]) * batch as f64;
            rows.push(Row {
                grid: size,
                batch,
                norm,
                forward_ms,
                langevin_step_ms,
                update_ms,
                gflops: 2.0 * flops / (langevin_step_ms * 1e6),
                forward_gflop: flops / 1e9,
            });
        }
    }
    if args.json {
        println!("{}", serde_json::json!({ "device": args.device.device, "preset": args.preset, "rows": rows }));
    } else {
        println!("preset {} ({} norm), device {}, median of {} after a warm-up", args.preset, norm, args.device.device, args.reps);
        println!("{:>5} {:>6} {:>11} {:>17} {:>10} {:>9}", "grid", "batch", "forward_ms", "langevin_step_ms", "update_ms", "GFLOP/s");
        for r in &rows {
            println!(
                "{:>5} {:>6} {:>11.1} {:>17.1} {:>10.1} {:>9.1}",
                r.grid, r.batch, r.forward_ms, r.langevin_step_ms, r.update_ms, r.gflops
            );
        }
    }
    Ok(())
}
