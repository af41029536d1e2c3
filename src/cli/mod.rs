//! Command-line interface (clap). Each subcommand lives in its own module; they share the
//! device, config and data helpers below. Exit codes: 0 ok, 1 failure, 2 bad input (unusable
//! data, bad arguments), 3 learning kept diverging after the guard's rollbacks.

mod bench;
mod convert;
mod eval;
mod sample;
mod serve;
mod train;

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use multigrid_ebm::device::{BackendKind, create};
use multigrid_ebm::{Config, Error, Learner, checkpoint};

/// The bundled dataset and pretrained weights, found next to the sources this binary was built from.
pub const BUNDLED_TRAIN: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/data/textures/train");
pub const BUNDLED_HELD_OUT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/data/textures/held-out");
pub const BUNDLED_WEIGHTS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/weights/small.bpk");

#[derive(Parser)]
#[command(name = "multigrid", version, about = "Multi-grid energy-based generative ConvNets (Gao et al., CVPR 2018)")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Learn a model from a folder of images (Algorithm 1, or CD / PCD).
    // Boxed: its many flags make it over 200 bytes larger than the other commands.
    Train(Box<train::Args>),
    /// Synthesize images from a checkpoint by multi-grid sampling; one mosaic PNG per grid.
    Sample(sample::Args),
    /// Time forward, Langevin step and parameter update per grid (release builds only).
    Bench(bench::Args),
    /// Print f(I) of each image under a checkpoint's net, as JSON.
    Energy(eval::EnergyArgs),
    /// Sample quality of a checkpoint against held-out images.
    Eval(eval::EvalArgs),
    /// Recover occluded pixels by Langevin with the known pixels clamped.
    Inpaint(eval::InpaintArgs),
    /// Write a checkpoint's weights in another format (PyTorch-layout safetensors).
    Export(convert::ExportArgs),
    /// Make a checkpoint from PyTorch-layout safetensors weights.
    Import(convert::ImportArgs),
    /// Host this machine's device for `--remote` runs elsewhere (Burn's remote backend: WebSocket or Iroh).
    Serve(serve::Args),
}

/// Options shared by the commands that build nets.
#[derive(clap::Args, Clone)]
pub struct DeviceArg {
    /// Where the nets run: cpu, wgpu (Vulkan/Metal/DX12) or cuda (needs `--features cuda`).
    #[arg(long, default_value = "cpu")]
    pub device: String,
    /// Run the nets on the device of a `multigrid serve` server instead: `ws://host:port`,
    /// `iroh:SERVER_ID` or `iroh:SERVER_ID@host:port`.
    /// Checkpoints, logs and mosaics stay here.
    #[arg(long, conflicts_with = "device")]
    pub remote: Option<String>,
    /// The token of the --remote server (better given as MULTIGRID_TOKEN, out of the process list).
    #[arg(long, env = "MULTIGRID_TOKEN", hide_env_values = true)]
    pub token: Option<String>,
}

impl DeviceArg {
    /// What the nets run on, as reports name it: `cpu`, `wgpu`, or `remote ws://host:port`.
    pub fn name(&self) -> String {
        match &self.remote {
            Some(url) => format!("remote {url}"),
            None => self.device.clone(),
        }
    }

    pub fn create(&self) -> Result<burn::tensor::Device, Error> {
        match &self.remote {
            Some(url) => multigrid_ebm::device::remote(url, self.token.as_deref().unwrap_or_default()),
            None => create(self.device.parse::<BackendKind>()?),
        }
    }
}

/// The seed and output folder of a command that synthesizes images, and where it runs.
#[derive(clap::Args, Clone)]
pub struct SynthesisArgs {
    /// Seed of the starting colours and the Langevin noise.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Output folder for the mosaics (one PNG per grid).
    #[arg(long)]
    pub out: PathBuf,
    #[command(flatten)]
    pub device: DeviceArg,
}

/// The model a command works on.
#[derive(clap::Args, Clone)]
pub struct ModelArg {
    /// Checkpoint (.bpk); default: the bundled pretrained model.
    #[arg(long)]
    pub weights: Option<PathBuf>,
}

impl ModelArg {
    /// Load the checkpoint, defaulting to the bundled pretrained weights.
    pub fn load(&self, device: &burn::tensor::Device) -> Result<Learner, Error> {
        let path = self.weights.clone().unwrap_or_else(|| PathBuf::from(BUNDLED_WEIGHTS));
        if self.weights.is_none() {
            eprintln!("using the bundled pretrained weights {}", path.display());
        }
        checkpoint::load(&path, device)
    }
}

pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Train(a) => train::run(*a),
        Command::Sample(a) => sample::run(a),
        Command::Bench(a) => bench::run(a),
        Command::Energy(a) => eval::energy(a),
        Command::Eval(a) => eval::eval(a),
        Command::Inpaint(a) => eval::inpaint(a),
        Command::Export(a) => convert::export(a),
        Command::Import(a) => convert::import(a),
        Command::Serve(a) => serve::run(a),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            match e {
                Error::Data(_) | Error::Config(_) => ExitCode::from(2),
                Error::Unstable { .. } => ExitCode::from(3),
                _ => ExitCode::FAILURE,
            }
        }
    }
}

/// A configuration from `--config FILE.json`, else a preset, with optional scale override.
pub fn resolve_config(preset: &str, config: Option<&Path>, scales: Option<&str>) -> Result<Config, Error> {
    let config = match config {
        Some(path) => {
            let json =
                std::fs::read_to_string(path).map_err(|e| Error::io(format!("reading {}", path.display()), e))?;
            Config::from_json(&json)?
        }
        None => Config::preset(preset)?,
    };
    match scales {
        None => Ok(config),
        Some(list) => {
            let scales = list
                .split(',')
                .map(|s| s.trim().parse::<usize>())
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| Error::Config(format!("--scales {list}: {e}")))?;
            multigrid_ebm::config::with_scales(config, scales)
        }
    }
}

/// Load a folder of images at `size`, warning once about files that were skipped.
/// A bundled split (a folder of a dataset with packs) is read from its pack, in one file.
pub fn load_images(dir: &Path, size: usize) -> Result<multigrid_ebm::data::ImageSet, Error> {
    if let Some(set) = multigrid_ebm::data::load_pack(dir, size)? {
        return Ok(set);
    }
    let (set, skipped) = multigrid_ebm::data::load_folder(dir, size)?;
    if !skipped.is_empty() {
        eprintln!(
            "warning: skipped {} file(s) that are not readable images: {}",
            skipped.len(),
            multigrid_ebm::data::describe_skipped(&skipped)
        );
    }
    Ok(set)
}

pub fn create_dir(dir: &Path) -> Result<(), Error> {
    std::fs::create_dir_all(dir).map_err(|e| Error::io(format!("creating {}", dir.display()), e))
}

pub fn write_file(path: &Path, bytes: &[u8]) -> Result<(), Error> {
    std::fs::write(path, bytes).map_err(|e| Error::io(format!("writing {}", path.display()), e))
}

/// Write one mosaic PNG per scale: `{dir}/{prefix}_{size}x{size}.png`.
pub fn write_mosaics(dir: &Path, prefix: &str, images: &[burn::tensor::Tensor<4>]) -> Result<Vec<PathBuf>, Error> {
    let values = multigrid_ebm::device::block_on(multigrid_ebm::device::read_all(images.to_vec()))?;
    let mut paths = Vec::new();
    for (tensor, pixels) in images.iter().zip(values) {
        let [n, _, size, _] = tensor.dims();
        let image = multigrid_ebm::mosaic::mosaic(&pixels, n, size, multigrid_ebm::mosaic::columns_for(n), 64);
        let path = dir.join(format!("{prefix}_{size}x{size}.png"));
        write_file(&path, &multigrid_ebm::mosaic::png(&image))?;
        paths.push(path);
    }
    Ok(paths)
}
