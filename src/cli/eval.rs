//! `multigrid energy`: score images; f(I) per image under each grid's net, as JSON.

use std::path::PathBuf;

use multigrid_ebm::device::{block_on, read};
use multigrid_ebm::pyramid::resample;
use multigrid_ebm::Error;

use super::{DeviceArg, load_images, load_weights};

#[derive(clap::Args)]
pub struct EnergyArgs {
    /// Checkpoint (.bpk); default: the bundled pretrained model.
    #[arg(long)]
    weights: Option<PathBuf>,
    /// Folder of images.
    #[arg(long)]
    data: PathBuf,
    /// Score at this grid only (images are down-sampled to it); default: every grid.
    #[arg(long)]
    grid: Option<usize>,
    #[command(flatten)]
    device: DeviceArg,
}

pub fn energy(args: EnergyArgs) -> Result<(), Error> {
    let device = args.device.create()?;
    let learner = load_weights(args.weights.as_deref(), &device)?;
    let config = &learner.config;
    let set = load_images(&args.data, config.image_size())?;
    let images = set.to_tensor(&learner.device());
    let grids: Vec<usize> = match args.grid {
        Some(s) if config.scales[1..].contains(&s) => vec![s],
        Some(s) => return Err(Error::Config(format!("--grid {s}: the model's grids are {:?}", &config.scales[1..]))),
        None => config.scales[1..].to_vec(),
    };
    let mut out = serde_json::Map::new();
    for size in grids {
        let k = config.scales[1..].iter().position(|&s| s == size).expect("checked above");
        let f = block_on(read(learner.nets[k].forward(resample(images.clone(), size))))?;
        out.insert(format!("grid{size}"), serde_json::json!(f));
    }
    let result = serde_json::json!({ "images": set.names, "energy": out, "norm": config.norm });
    println!("{result}");
    Ok(())
}
