//! Scoring and evaluating models: `multigrid energy` (f(I) per image), `multigrid eval` (sample
//! quality against held-out images) and `multigrid inpaint` (recovery of occluded pixels).

use std::path::PathBuf;

use multigrid_ebm::Error;
use multigrid_ebm::data::ImageSet;
use multigrid_ebm::device::{block_on, on_pool, read, read_all};
use multigrid_ebm::eval::evaluate;
use multigrid_ebm::inpaint::{MaskKind, known_from_mask_image, make_mask, occluded_error, recover};
use multigrid_ebm::pyramid::resample;
use rand::SeedableRng;

use super::{
    BUNDLED_HELD_OUT, BUNDLED_TRAIN, DeviceArg, ModelArg, SynthesisArgs, create_dir, load_images, write_mosaics,
};

#[derive(clap::Args)]
pub struct EnergyArgs {
    #[command(flatten)]
    model: ModelArg,
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
    let learner = args.model.load(&device)?;
    let config = &learner.config;
    let set = load_images(&args.data, config.image_size())?;
    let images = set.to_tensor(&learner.device());
    let grids: Vec<usize> = match args.grid {
        Some(s) if config.scales()[1..].contains(&s) => vec![s],
        Some(s) => return Err(Error::Config(format!("--grid {s}: the model's grids are {:?}", &config.scales()[1..]))),
        None => config.scales()[1..].to_vec(),
    };
    let (mut out, mut scales) = (serde_json::Map::new(), serde_json::Map::new());
    for size in grids {
        let k = config.grids.iter().position(|g| g.size == size).expect("checked above");
        let net = &learner.nets[k];
        // The energies and the scale in one read (one host round trip on a GPU).
        let [f, scale]: [Vec<f32>; 2] =
            block_on(read_all(vec![net.forward(resample(images.clone(), size)), net.energy_scale()]))?
                .try_into()
                .expect("one value list per tensor read");
        out.insert(format!("grid{size}"), serde_json::json!(f));
        scales.insert(format!("grid{size}"), serde_json::json!(scale[0]));
    }
    // Each grid's energy scale ‖w ⊙ γ‖ beside the energies (reports/stability.md follows it).
    let result = serde_json::json!({ "images": set.names, "energy": out, "energy_scale": scales, "norm": config.norm });
    println!("{result}");
    Ok(())
}

#[derive(clap::Args)]
pub struct EvalArgs {
    #[command(flatten)]
    model: ModelArg,
    /// Held-out images (default: the bundled held-out textures).
    #[arg(long)]
    data: Option<PathBuf>,
    /// Training images, for the nearest-neighbour (memorisation) check (default: the bundled
    /// training textures when --data is the bundled held-out set; none otherwise).
    #[arg(long)]
    train: Option<PathBuf>,
    /// Number of images to synthesize (default: one from each colour of the images the model
    /// learned from, up to 1,000, so that its score compares with theirs; 64 if the checkpoint
    /// holds none).
    #[arg(long)]
    n: Option<usize>,
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Score the images in this folder instead of sampling a model (e.g. real images, as a
    /// reference, or samples made elsewhere).
    #[arg(long, conflicts_with = "weights")]
    images: Option<PathBuf>,
    /// With --images: score at this preset's grids (`digits` for 32×32 digits; default `small`,
    /// grids up to 64×64).
    #[arg(long, requires = "images", default_value = "small")]
    preset: String,
    /// One JSON object instead of a table.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    device: DeviceArg,
}

/// What `eval` synthesizes from a checkpoint that holds no observed colours, and at most by
/// default from one that does.
const DEFAULT_SAMPLES: usize = 64;
const MAX_DEFAULT_SAMPLES: usize = 1000;

/// Synthesize `n` images at the finest grid with a seed, as an image set.
fn synthesize(learner: &mut multigrid_ebm::Learner, n: usize, seed: u64) -> Result<ImageSet, Error> {
    learner.reseed(seed);
    let start = learner.starting_colours(n);
    let chain = on_pool(|| learner.sample(start, None));
    let size = learner.config.image_size();
    let pixels = block_on(read(chain.last().expect("non-empty").clone()))?;
    Ok(ImageSet { size, pixels, names: (0..n).map(|i| format!("sample {i}")).collect() })
}

pub fn eval(args: EvalArgs) -> Result<(), Error> {
    if args.n.is_some_and(|n| n < 2) {
        return Err(Error::Config("--n must be at least 2".into()));
    }
    let (synthesized, scales) = match &args.images {
        Some(dir) => {
            let scales = multigrid_ebm::Config::preset(&args.preset)?.scales();
            (load_images(dir, *scales.last().expect("non-empty"))?, scales)
        }
        None => {
            let mut learner = args.model.load(&args.device.create()?)?;
            let n = args.n.unwrap_or(match learner.observed_colour_count() {
                0 | 1 => DEFAULT_SAMPLES,
                m => m.min(MAX_DEFAULT_SAMPLES),
            });
            (synthesize(&mut learner, n, args.seed)?, learner.config.scales())
        }
    };
    let size = synthesized.size;
    let held_out_dir = args.data.clone().unwrap_or_else(|| PathBuf::from(BUNDLED_HELD_OUT));
    let held_out = load_images(&held_out_dir, size)?;
    let is_bundled = |dir: &PathBuf| dir.canonicalize().ok() == PathBuf::from(BUNDLED_HELD_OUT).canonicalize().ok();
    let train_dir = args.train.clone().or_else(|| is_bundled(&held_out_dir).then(|| PathBuf::from(BUNDLED_TRAIN)));
    let train = train_dir.map(|d| load_images(&d, size)).transpose()?;
    let m = evaluate(&synthesized, &held_out, train.as_ref(), &scales, args.seed);
    if args.json {
        println!(
            "{}",
            serde_json::json!({ "n": synthesized.len(), "seed": args.seed, "held_out": held_out.len(), "metrics": m })
        );
        return Ok(());
    }
    println!(
        "{} images (seed {}) against {} held-out images from {}",
        synthesized.len(),
        args.seed,
        held_out.len(),
        held_out_dir.display()
    );
    let levels: Vec<String> = m.swd.iter().map(|l| format!("{}: {:.1}", l.size, l.swd)).collect();
    println!("sliced Wasserstein ×10³ per Laplacian level   {}   mean {:.1}", levels.join("  "), m.swd_mean);
    let colours: Vec<String> = m.colour.iter().map(|c| format!("{}: {:.2}", c.size, c.distance)).collect();
    println!("colour distance per grid (grey levels)        {}", colours.join("  "));
    if let (Some(s), Some(h), Some(r)) = (m.nn_synthesized_to_train, m.nn_held_out_to_train, m.nn_ratio) {
        println!(
            "nearest training image (RMS grey levels)      synthesized {s:.1}, held-out {h:.1}, ratio {r:.2} \
             (below 1: samples sit nearer the training images than held-out images do; copies, or flat images \
             near smooth ones: see the mosaics)"
        );
    }
    println!(
        "flat images (pixel std under {} grey levels)   synthesized {:.1}%, held-out {:.1}%",
        multigrid_ebm::eval::FLAT_STD,
        100.0 * m.flat_share,
        100.0 * m.held_out_flat_share
    );
    Ok(())
}

#[derive(clap::Args)]
pub struct InpaintArgs {
    #[command(flatten)]
    model: ModelArg,
    /// Images to occlude and recover (default: the bundled held-out textures).
    #[arg(long)]
    data: Option<PathBuf>,
    /// centre, random:FRACTION, or a PNG whose dark pixels (< 128) mark what is occluded.
    #[arg(long, default_value = "centre")]
    mask: String,
    /// Recover at most this many images.
    #[arg(long, default_value_t = 16)]
    n: usize,
    /// The seed also draws random masks; the mosaics are original, occluded and recovered.
    #[command(flatten)]
    run: SynthesisArgs,
}

pub fn inpaint(args: InpaintArgs) -> Result<(), Error> {
    use burn::prelude::*;
    let device = args.run.device.create()?;
    let mut learner = args.model.load(&device)?;
    learner.reseed(args.run.seed);
    let size = learner.config.image_size();
    let set = load_images(&args.data.clone().unwrap_or_else(|| PathBuf::from(BUNDLED_HELD_OUT)), size)?.take(args.n);
    let n = set.len();
    let known: Vec<f32> = match args.mask.parse::<MaskKind>() {
        Ok(kind) => make_mask(kind, n, size, &mut rand_chacha::ChaCha8Rng::seed_from_u64(args.run.seed)),
        Err(_) if std::path::Path::new(&args.mask).is_file() => {
            let bytes = std::fs::read(&args.mask).map_err(|e| Error::io(format!("reading {}", args.mask), e))?;
            let grey = multigrid_ebm::data::decode(&bytes, size)
                .map_err(|e| Error::Data(format!("mask {}: {e}", args.mask)))?;
            known_from_mask_image(&grey, size).repeat(n)
        }
        Err(e) => return Err(e),
    };
    let dev = learner.device();
    let images = set.to_tensor(&dev);
    let known = Tensor::<4>::from_data(TensorData::new(known, [n, 1, size, size]), &dev);
    let chain = on_pool(|| recover(&learner, images.clone(), known.clone(), None));
    let recovered = chain.last().expect("non-empty").clone();
    let errors = block_on(read(occluded_error(recovered.clone(), images.clone(), known.clone())))?;
    // The baseline every chain starts from: each occluded pixel filled with the mean colour of
    // its image's known pixels (the 1×1 start, up-sampled).
    let mean_fill = resample(chain[0].clone(), size);
    let baseline = block_on(read(occluded_error(mean_fill, images.clone(), known.clone())))?;
    create_dir(&args.run.out)?;
    let occluded = images.clone() * known.expand([n, 3, size, size]);
    for (name, t) in [("original", images), ("occluded", occluded), ("recovered", recovered)] {
        write_mosaics(&args.run.out, name, &[t])?;
    }
    let mean = errors.iter().sum::<f32>() / n as f32;
    let mean_fill = baseline.iter().sum::<f32>() / n as f32;
    println!(
        "{}",
        serde_json::json!({
            "mask": args.mask, "images": set.names, "occluded_error": errors, "mean_occluded_error": mean,
            "mean_fill_error": mean_fill,
        })
    );
    eprintln!(
        "mean error on occluded pixels: {mean:.2} grey levels (filled with the mean of the known pixels: {mean_fill:.2}); mosaics in {}",
        args.run.out.display()
    );
    Ok(())
}
