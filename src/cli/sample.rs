//! `multigrid sample`: multi-grid sampling from a checkpoint, one mosaic PNG per grid.

use indicatif::ProgressBar;
use multigrid_ebm::Error;

use super::{ModelArg, SynthesisArgs, create_dir, write_mosaics};

#[derive(clap::Args)]
pub struct Args {
    #[command(flatten)]
    model: ModelArg,
    /// Number of images.
    #[arg(long, default_value_t = 64)]
    n: usize,
    #[command(flatten)]
    run: SynthesisArgs,
}

pub fn run(args: Args) -> Result<(), Error> {
    if args.n == 0 {
        return Err(Error::Config("--n must be at least 1".into()));
    }
    let device = args.run.device.create()?;
    let mut learner = args.model.load(&device)?;
    learner.reseed(args.run.seed);
    create_dir(&args.run.out)?;
    let start = learner.starting_colours(args.n);
    let c = &learner.config;
    let total = match c.method {
        multigrid_ebm::Method::Multigrid => c.langevin.steps * c.grids.len(),
        _ => c.cd_steps(),
    };
    let bar = ProgressBar::new(total as u64);
    let chain = multigrid_ebm::device::on_pool(|| learner.sample(start, Some(&mut |_, _, _| bar.inc(1))));
    let paths = write_mosaics(&args.run.out, "synthesized", &chain)?;
    bar.finish_and_clear();
    for p in paths {
        println!("{}", p.display());
    }
    Ok(())
}
