//! `multigrid bench`: per grid and batch size, milliseconds for a forward pass, one Langevin
//! step and one parameter update, and the FLOP rate reached on the Langevin step.

use multigrid_ebm::Error;
use multigrid_ebm::bench::time_grid;
use multigrid_ebm::config::{Config, Norm};
use multigrid_ebm::device::{block_on, on_pool};

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
    /// Normalisations, comma-separated: none, batch or both (default: the preset's).
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

fn parse_list(list: &str, what: &str) -> Result<Vec<usize>, Error> {
    list.split(',')
        .map(|s| s.trim().parse::<usize>().map_err(|e| Error::Config(format!("--{what} {list}: {e}"))))
        .collect()
}

pub fn run(args: Args) -> Result<(), Error> {
    if cfg!(debug_assertions) {
        eprintln!(
            "warning: this is a debug build; Burn is far slower unoptimised. Use `cargo run --release -- bench`."
        );
    }
    let config: Config = resolve_config(&args.preset, None, None)?;
    let norms = match &args.norm {
        Some(list) => list.split(',').map(|n| n.trim().parse()).collect::<Result<Vec<Norm>, _>>()?,
        None => vec![config.norm],
    };
    let grids = match &args.grids {
        Some(list) => parse_list(list, "grids")?,
        None => config.scales()[1..].to_vec(),
    };
    let batches = parse_list(&args.batch, "batch")?;
    let device = args.device.create()?;
    let threads = std::env::var("RAYON_NUM_THREADS")
        .unwrap_or_else(|_| std::thread::available_parallelism().map_or(1, |n| n.get()).to_string());
    let mut rows = Vec::new();
    for &norm in &norms {
        let config = Config { norm, ..config.clone() };
        for &size in &grids {
            for &batch in &batches {
                // On a pool thread, as learning runs (`device::on_pool`).
                rows.push(on_pool(|| block_on(time_grid(&config, size, batch, args.reps, &device)))?);
            }
        }
    }
    if args.json {
        println!(
            "{}",
            serde_json::json!({ "device": args.device.name(), "preset": args.preset, "threads": threads, "rows": rows })
        );
    } else {
        println!(
            "preset {}, device {} ({threads} threads here), median of {} after a warm-up",
            args.preset,
            args.device.name(),
            args.reps
        );
        println!(
            "{:>5} {:>6} {:>6} {:>11} {:>17} {:>10} {:>9}",
            "grid", "batch", "norm", "forward_ms", "langevin_step_ms", "update_ms", "GFLOP/s"
        );
        for r in &rows {
            println!(
                "{:>5} {:>6} {:>6} {:>11.1} {:>17.1} {:>10.1} {:>9.1}",
                r.grid, r.batch, r.norm, r.forward_ms, r.langevin_step_ms, r.update_ms, r.gflops
            );
        }
    }
    Ok(())
}
