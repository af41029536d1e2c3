//! `multigrid export` / `multigrid import`: weights to and from PyTorch-layout safetensors.

use std::path::PathBuf;

use multigrid_ebm::device::block_on;
use multigrid_ebm::integrity::{self, Integrity};
use multigrid_ebm::{Error, checkpoint, interop};

use super::{DeviceArg, ModelArg, resolve_config, write_file};

#[derive(clap::Args)]
pub struct ExportArgs {
    #[command(flatten)]
    model: ModelArg,
    /// safetensors (PyTorch layout), or bpk: a checkpoint of the weights and configuration
    /// without the Adam state (a third of the size; for publishing, e.g. the page's weights).
    #[arg(long, default_value = "safetensors")]
    format: String,
    #[arg(long)]
    out: PathBuf,
}

#[derive(clap::Args)]
pub struct ImportArgs {
    /// A .safetensors file in the reference implementation's names and layout.
    #[arg(long)]
    weights: PathBuf,
    /// Architecture when the file carries no configuration (the PyTorch reference uses `paper`);
    /// the normalisation is taken from the file.
    #[arg(long, default_value = "paper")]
    preset: String,
    /// Output checkpoint (.bpk).
    #[arg(long)]
    out: PathBuf,
    #[arg(long, default_value_t = 0)]
    seed: u64,
    #[command(flatten)]
    device: DeviceArg,
}

pub fn export(args: ExportArgs) -> Result<(), Error> {
    let learner = args.model.load(&multigrid_ebm::device::cpu())?;
    let bytes = match args.format.as_str() {
        "safetensors" => block_on(interop::export_safetensors(&learner))?,
        "bpk" => block_on(checkpoint::to_bytes(&learner, false))?,
        other => return Err(Error::Config(format!("--format {other}: use safetensors or bpk"))),
    };
    write_file(&args.out, &bytes)?;
    eprintln!("wrote {} ({} grids)", args.out.display(), learner.nets.len());
    Ok(())
}

pub fn import(args: ImportArgs) -> Result<(), Error> {
    let bytes =
        std::fs::read(&args.weights).map_err(|e| Error::io(format!("reading {}", args.weights.display()), e))?;
    let fallback = resolve_config(&args.preset, None, None)?;
    let device = args.device.create()?;
    let (learner, integrity) = interop::import_safetensors(&bytes, fallback, args.seed, &device)
        .map_err(|e| Error::Checkpoint(format!("{}: {e}", args.weights.display())))?;
    if integrity == Integrity::Unchecked {
        eprintln!("note: {}", integrity::unchecked_warning(&args.weights.display().to_string()));
    }
    checkpoint::save(&learner, &args.out)?;
    eprintln!("wrote {} ({} grids, {:?} normalisation)", args.out.display(), learner.nets.len(), learner.config.norm);
    Ok(())
}
