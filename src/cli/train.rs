//! `multigrid train`: a [`Session`] driven from the command line, with a progress bar, a
//! JSON-lines log (one [`LogLine`] per step), periodic checkpoints and mosaics; resumable, and
//! saved on Ctrl-C.

use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use indicatif::{ProgressBar, ProgressStyle};
use multigrid_ebm::device::block_on;
use multigrid_ebm::session::{LogLine, log_up_to};
use multigrid_ebm::{Config, Error, Overrides, Session, Step, checkpoint};

use super::{BUNDLED_TRAIN, DeviceArg, create_dir, load_images, resolve_config, write_file, write_mosaics};

#[derive(clap::Args)]
pub struct Args {
    /// Folder of images (searched recursively; default: the bundled texture set).
    #[arg(long)]
    data: Option<PathBuf>,
    /// Configuration preset: paper, small, digits or tiny [default: small]. On --resume, only to
    /// check that it names the checkpoint's nets.
    #[arg(long)]
    preset: Option<String>,
    /// A configuration JSON file (overrides --preset).
    #[arg(long)]
    config: Option<PathBuf>,
    /// Grid sizes, e.g. 1,4,16,32 (each divides the next).
    #[arg(long)]
    scales: Option<String>,
    /// Train until this many iterations in all (a resumed run continues up to it).
    #[arg(long, default_value_t = 1000)]
    iters: u64,
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Run folder: checkpoint.bpk, log.jsonl, config.json and mosaics are written here.
    #[arg(long)]
    out: PathBuf,
    /// Continue from <out>/checkpoint.bpk: its configuration, with any settings given now over it
    /// (Langevin, optimiser, batch, method; not the nets).
    #[arg(long)]
    resume: bool,
    #[command(flatten)]
    settings: Overrides,
    /// Checkpoint and mosaics every this many iterations.
    #[arg(long, default_value_t = 100)]
    save_every: u64,
    /// Also keep a copy, checkpoint_<iteration>.bpk, every this many iterations (to pick the best
    /// model later, e.g. with `multigrid eval`).
    #[arg(long)]
    snapshot_every: Option<u64>,
    /// No progress bar (for logs).
    #[arg(long)]
    quiet: bool,
    #[command(flatten)]
    device: DeviceArg,
}

/// The configuration named by --preset, --config and --scales.
fn named_config(args: &Args) -> Result<Config, Error> {
    resolve_config(args.preset.as_deref().unwrap_or("small"), args.config.as_deref(), args.scales.as_deref())
}

/// A new run's session, or the folder's run resumed: its checkpoint and its log (cut to the
/// checkpoint's iteration, so that iterations it never saved are logged once, when learned
/// again), with the settings given now over its configuration. Other nets named by --preset,
/// --scales or --config, and other settings in a --config file, are refused, not ignored.
fn open_session(args: &Args, device: &burn::tensor::Device) -> Result<(Session, bool), Error> {
    let checkpoint_path = args.out.join("checkpoint.bpk");
    if !(args.resume && checkpoint_path.exists()) {
        if args.resume {
            eprintln!("no {} yet: starting a new run", checkpoint_path.display());
        }
        return Ok((Session::new(named_config(args)?.with_overrides(&args.settings)?, args.seed, device)?, false));
    }
    let learner = checkpoint::load(&checkpoint_path, device)?;
    eprintln!("resuming {} at iteration {}", checkpoint_path.display(), learner.iteration);
    let log_path = args.out.join("log.jsonl");
    let log = match std::fs::read_to_string(&log_path) {
        Ok(log) => log,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
        Err(e) => return Err(Error::io(format!("reading {}", log_path.display()), e)),
    };
    let (log, dropped) = log_up_to(&log, learner.iteration);
    if dropped > 0 {
        write_file(&log_path, log.as_bytes())?;
        eprintln!(
            "dropped the log's last {dropped} lines, past iteration {}: the interrupted run never saved them",
            learner.iteration
        );
    }
    let mut session = Session::resume(learner, &log);
    if args.preset.is_some() || args.config.is_some() || args.scales.is_some() {
        let named = named_config(args)?;
        named.same_nets(session.config())?;
        let wanted = session.config().with_overrides(&args.settings)?;
        if args.config.is_some() && named.with_overrides(&args.settings)? != wanted {
            return Err(Error::Config(
                "--config names settings other than the resumed run's: give the ones to change as flags \
                 (--lr, --steps, ...) on --resume"
                    .into(),
            ));
        }
    }
    let before = session.config().clone();
    if *session.apply(&args.settings)? != before {
        eprintln!("resumed with the settings given now: {}", session.config().to_json());
    }
    Ok((session, true))
}

fn summary(grids: &[multigrid_ebm::learner::GridStats]) -> String {
    grids
        .iter()
        .map(|g| match g.loss {
            Some(loss) => format!("g{} {:+.3e}", g.size, loss),
            None => format!("g{} err {:.1}", g.size, g.recon_error),
        })
        .collect::<Vec<_>>()
        .join(" ")
}

pub fn run(args: Args) -> Result<(), Error> {
    let device = args.device.create()?;
    create_dir(&args.out)?;
    let checkpoint_path = args.out.join("checkpoint.bpk");
    let (mut session, resumed) = open_session(&args, &device)?;
    let config = session.config().clone();
    write_file(&args.out.join("config.json"), config.to_json().as_bytes())?;

    let data_dir = args.data.clone().unwrap_or_else(|| PathBuf::from(BUNDLED_TRAIN));
    session.set_images(load_images(&data_dir, config.image_size())?)?;
    eprintln!(
        "{} images of {}×{} from {}; {} grids {:?}, {} parameters, method {}, T = {}, batch {}",
        session.images().len(),
        config.image_size(),
        config.image_size(),
        data_dir.display(),
        config.grids.len(),
        config.scales(),
        config.parameter_count(),
        config.method.name(),
        config.langevin.steps,
        config.batch_size
    );

    let stop = Arc::new(AtomicBool::new(false));
    let flag = stop.clone();
    // A second Ctrl-C while saving falls through to the default (the process ends).
    let _ = ctrlc::set_handler(move || flag.store(true, Ordering::SeqCst));

    // A resumed run continues its log; a new one replaces the folder's run, log included (its
    // checkpoint is replaced at the first save).
    let log_path = args.out.join("log.jsonl");
    let mut log = std::fs::OpenOptions::new()
        .create(true)
        .append(resumed)
        .write(true)
        .truncate(!resumed)
        .open(&log_path)
        .map_err(|e| Error::io(format!("opening {}", log_path.display()), e))?;
    let bar = if args.quiet { ProgressBar::hidden() } else { ProgressBar::new(args.iters) };
    bar.set_style(
        ProgressStyle::with_template("{elapsed_precise} [{bar:30}] {pos}/{len} {per_sec} {msg}")
            .expect("a valid template")
            .progress_chars("=> "),
    );
    bar.set_position(session.iteration());
    let say = |message: String| if args.quiet { eprintln!("{message}") } else { bar.println(message) };
    // The checkpoint, and the mosaics of what the last iteration showed.
    let save = |session: &Session| -> Result<(), Error> {
        checkpoint::save(session.learner(), &checkpoint_path)?;
        write_mosaics(&args.out, "observed", &session.shown().observed)?;
        write_mosaics(&args.out, "synthesized", &session.shown().synthesized)?;
        Ok(())
    };

    // The iteration the folder's checkpoint holds.
    let mut saved = resumed.then(|| session.iteration());
    while session.iteration() < args.iters && !stop.load(Ordering::SeqCst) {
        let started = Instant::now();
        let step = match block_on(session.step(0)) {
            Ok(step) => step,
            Err(e) => {
                bar.abandon();
                match save(&session) {
                    Ok(()) => eprintln!("the model's last good state is saved in {}", checkpoint_path.display()),
                    // The device is gone (a remote server stopped, a GPU lost): the last save stands.
                    Err(why) => eprintln!(
                        "the current state could not be saved ({why}); {}",
                        match saved {
                            Some(iteration) => format!("{} keeps iteration {iteration}", checkpoint_path.display()),
                            None => "the run had not reached its first save".into(),
                        }
                    ),
                }
                return Err(match &args.device.remote {
                    Some(url) => Error::Device(format!("the remote device at {url} failed: {e}")),
                    None => e,
                });
            }
        };
        let line = LogLine { step, seconds: started.elapsed().as_secs_f64(), rss_mb: resident_mb() };
        writeln!(log, "{}", line.to_json()).map_err(|e| Error::io(format!("writing {}", log_path.display()), e))?;
        match line.step {
            Step::Learned(learned) => {
                let iteration = learned.iteration;
                if let Some(warning) = learned.warning {
                    say(warning);
                }
                bar.set_message(summary(&learned.grids));
                bar.set_position(iteration);
                if args.quiet && (iteration % args.save_every == 0 || iteration == 1) {
                    eprintln!("iteration {iteration} ({:.2} s): {}", line.seconds, summary(&learned.grids));
                }
                if iteration % args.save_every == 0 {
                    save(&session)?;
                    saved = Some(iteration);
                }
                if args.snapshot_every.is_some_and(|n| iteration % n == 0) {
                    checkpoint::save(session.learner(), &args.out.join(format!("checkpoint_{iteration}.bpk")))?;
                }
            }
            Step::Rollback(r) => {
                say(format!(
                    "rolled back to iteration {} and lowered the learning rate to {:.3e}: {}",
                    r.to, r.lr, r.reason
                ));
                bar.set_position(r.to);
            }
            Step::Stopped(stopped) => {
                bar.abandon();
                save(&session)?;
                eprintln!("the model's last good state is saved in {}", checkpoint_path.display());
                return Err(stopped.into());
            }
        }
    }
    bar.finish();
    save(&session)?;
    if stop.load(Ordering::SeqCst) {
        eprintln!("interrupted: saved iteration {} to {}", session.iteration(), checkpoint_path.display());
    } else {
        eprintln!("saved {} (iteration {})", checkpoint_path.display(), session.iteration());
    }
    Ok(())
}

/// Resident memory of this process in MB (Linux; None elsewhere), logged to show it stays flat.
fn resident_mb() -> Option<f64> {
    let statm = std::fs::read_to_string("/proc/self/statm").ok()?;
    let pages: f64 = statm.split_whitespace().nth(1)?.parse().ok()?;
    Some(pages * 4096.0 / 1e6)
}
