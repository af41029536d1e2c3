//! `multigrid train`: learning with a progress bar, a JSON-lines log, periodic checkpoints
//! and mosaics, resumable, and saved on Ctrl-C. The divergence guard (`multigrid_ebm::guard`)
//! rolls a diverging run back to its last good state with a lower learning rate.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use indicatif::{ProgressBar, ProgressStyle};
use multigrid_ebm::config::{GridConfig, Method};
use multigrid_ebm::device::{block_on, on_pool};
use multigrid_ebm::guard::{Guard, Guarded, Rule};
use multigrid_ebm::learner::{GridStats, Iteration};
use multigrid_ebm::{Config, Error, Learner, Overrides, checkpoint};

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
    /// multigrid, cd or pcd.
    #[arg(long)]
    method: Option<Method>,
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
    #[arg(long)]
    batch: Option<usize>,
    /// Langevin steps T per grid.
    #[arg(long)]
    steps: Option<usize>,
    /// Langevin step size δ.
    #[arg(long)]
    delta: Option<f64>,
    /// Adam learning rate.
    #[arg(long)]
    lr: Option<f64>,
    /// Normalisation: none or batch.
    #[arg(long)]
    norm: Option<String>,
    /// α of an energy-magnitude penalty, α·(mean f(obs)² + mean f(syn)²), in every grid's loss
    /// (0: the paper's loss).
    #[arg(long)]
    energy_penalty: Option<f64>,
    /// Iterations over which the learning rate halves (0: constant, as in the official code).
    #[arg(long)]
    lr_half_life: Option<f64>,
    /// Iterations at the full learning rate before it starts to halve.
    #[arg(long)]
    lr_constant_for: Option<u64>,
    /// Decoupled weight decay λ: every parameter × (1 − lr·λ) before each Adam step (0: plain
    /// Adam, as in the official code).
    #[arg(long)]
    weight_decay: Option<f64>,
    /// The largest move of a pixel in one Langevin step, in grey levels (0: unbounded, as in the
    /// official code).
    #[arg(long)]
    max_step: Option<f64>,
    /// The largest energy scale ‖w ⊙ γ‖ of a grid's net: after each Adam step its fully connected
    /// weights are shrunk back to it (0: free, as in the official code).
    #[arg(long)]
    energy_scale_cap: Option<f64>,
    /// Add Langevin noise (on or off).
    #[arg(long)]
    noise: Option<String>,
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

/// The settings given on the command line over the preset's (or a resumed run's).
fn overrides(args: &Args) -> Result<Overrides, Error> {
    let noise = match args.noise.as_deref() {
        None => None,
        Some("on") => Some(true),
        Some("off") => Some(false),
        Some(n) => return Err(Error::Config(format!("--noise {n}: use on or off"))),
    };
    Ok(Overrides {
        method: args.method,
        batch: args.batch,
        steps: args.steps,
        delta: args.delta,
        lr: args.lr,
        noise,
        norm: args.norm.as_deref().map(str::parse).transpose()?,
        energy_penalty: args.energy_penalty,
        lr_half_life: args.lr_half_life,
        lr_constant_for: args.lr_constant_for,
        weight_decay: args.weight_decay,
        max_step: args.max_step,
        energy_scale_cap: args.energy_scale_cap,
    })
}

/// The configuration named by --preset, --config and --scales, with the flags over it.
fn named_config(args: &Args) -> Result<Config, Error> {
    let config =
        resolve_config(args.preset.as_deref().unwrap_or("small"), args.config.as_deref(), args.scales.as_deref())?;
    config.with_overrides(&overrides(args)?)
}

fn new_learner(args: &Args, device: &burn::tensor::Device) -> Result<Learner, Error> {
    Learner::new(named_config(args)?, args.seed, device)
}

/// Where two configurations' nets differ, in words: their scales, or else the first grid whose
/// layers differ (channels, kernel and stride of each).
fn nets_apart(a: &Config, b: &Config) -> (String, String) {
    if a.scales() != b.scales() {
        return (format!("grids {:?}", a.scales()), format!("grids {:?}", b.scales()));
    }
    let layers = |g: &GridConfig| {
        let layers: Vec<String> =
            g.layers.iter().map(|l| format!("{} {}×{}/{}", l.channels, l.kernel, l.kernel, l.stride)).collect();
        format!("grid {} layers {}", g.size, layers.join(", "))
    };
    let (x, y) = a.grids.iter().zip(&b.grids).find(|(x, y)| x != y).expect("nets that differ, at equal scales");
    (layers(x), layers(y))
}

/// A resumed run keeps its checkpoint's configuration, with the settings given now over it.
/// Nothing given is ignored: other nets (--preset, --scales, --config or --norm naming nets the
/// checkpoint does not hold) are refused, and so are other settings in a --config file (give
/// those as flags).
fn apply_on_resume(args: &Args, learner: &mut Learner) -> Result<(), Error> {
    let config = learner.config.clone().with_overrides(&overrides(args)?)?;
    if args.preset.is_some() || args.config.is_some() || args.scales.is_some() {
        let named = named_config(args)?;
        if named.grids != config.grids {
            let (named, held) = nets_apart(&named, &config);
            return Err(Error::Config(format!(
                "the nets named by --preset/--config/--scales ({named}) are not the checkpoint's ({held}): a resumed \
                 run keeps its nets; start a new run (another --out) to change them"
            )));
        }
        if args.config.is_some() && named != config {
            return Err(Error::Config(
                "--config names settings other than the resumed run's: give the ones to change as flags \
                 (--lr, --steps, ...) on --resume"
                    .into(),
            ));
        }
    }
    if config.norm != learner.config.norm {
        return Err(Error::Config(format!(
            "--norm {}: a resumed run keeps its normalisation ({}); start a new run to change it",
            config.norm.name(),
            learner.config.norm.name()
        )));
    }
    if config != learner.config {
        eprintln!("resumed with the settings given now: {}", config.to_json());
        learner.set_config(config);
    }
    Ok(())
}

/// Cut a resumed run's log after the last line of the checkpoint's iteration: what follows was
/// written by iterations the interrupted run never saved, which are about to be learned again.
/// (Iteration numbers may repeat after a rollback, hence the last such line.) Returns the log as
/// kept (empty if there is none) and how many lines were dropped; a log without that iteration
/// is left as it is.
fn trim_log(path: &Path, iteration: u64) -> Result<(String, usize), Error> {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok((String::new(), 0)),
        Err(e) => return Err(Error::io(format!("reading {}", path.display()), e)),
    };
    let lines: Vec<&str> = text.lines().collect();
    let of = |line: &str| serde_json::from_str::<serde_json::Value>(line).ok()?.get("iteration")?.as_u64();
    let Some(last) = lines.iter().rposition(|l| of(l) == Some(iteration)) else {
        return Ok((text, 0));
    };
    let dropped = lines.len() - 1 - last;
    if dropped == 0 {
        return Ok((text, 0));
    }
    let kept: String = lines[..=last].iter().map(|l| format!("{l}\n")).collect();
    write_file(path, kept.as_bytes())?;
    Ok((kept, dropped))
}

/// Each iteration of a run's log with its grids' figures, oldest first, as the run ended up
/// learning them: an iteration logged again after a rollback replaces the lines from it on.
/// (For the guard of a resumed run: [`Guard::recall_gradients`].)
fn logged_iterations(log: &str) -> Vec<(u64, Vec<GridStats>)> {
    #[derive(serde::Deserialize)]
    struct Line {
        iteration: u64,
        grids: Vec<GridStats>,
    }
    let mut learned: Vec<(u64, Vec<GridStats>)> = Vec::new();
    for line in log.lines() {
        // Events (rollbacks, warnings) have no iteration; they are not figures.
        let Ok(Line { iteration, grids }) = serde_json::from_str(line) else { continue };
        while learned.last().is_some_and(|(i, _)| *i >= iteration) {
            learned.pop();
        }
        learned.push((iteration, grids));
    }
    learned
}

fn summary(it: &Iteration) -> String {
    it.grids
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
    let resumed = args.resume && checkpoint_path.exists();
    let mut learner = if resumed {
        let mut l = checkpoint::load(&checkpoint_path, &device)?;
        eprintln!("resuming {} at iteration {}", checkpoint_path.display(), l.iteration);
        apply_on_resume(&args, &mut l)?;
        l
    } else {
        if args.resume {
            eprintln!("no {} yet: starting a new run", checkpoint_path.display());
        }
        new_learner(&args, &device)?
    };
    let config = learner.config.clone();
    write_file(&args.out.join("config.json"), config.to_json().as_bytes())?;

    let data_dir = args.data.clone().unwrap_or_else(|| PathBuf::from(BUNDLED_TRAIN));
    let data = load_images(&data_dir, config.image_size())?;
    let observed = data.to_tensor(&learner.device());
    learner.set_observed_colours(&observed);
    eprintln!(
        "{} images of {}×{} from {}; {} grids {:?}, {} parameters, method {}, T = {}, batch {}",
        data.len(),
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
    let mut guard = Guard::new(&learner, Rule::default());
    if resumed {
        let (kept, dropped) = trim_log(&log_path, learner.iteration)?;
        guard.recall_gradients(logged_iterations(&kept));
        if dropped > 0 {
            eprintln!(
                "dropped the log's last {dropped} lines, past iteration {}: the interrupted run never saved them",
                learner.iteration
            );
        }
    }
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
    bar.set_position(learner.iteration);
    // One JSON line appended to the log; a message on the terminal, above the progress bar.
    let mut append = |line: serde_json::Value| {
        writeln!(log, "{line}").map_err(|e| Error::io(format!("writing {}", log_path.display()), e))
    };
    let say = |message: String| if args.quiet { eprintln!("{message}") } else { bar.println(message) };

    let save = |learner: &Learner, last: Option<&Iteration>| -> Result<(), Error> {
        checkpoint::save(learner, &checkpoint_path)?;
        if let Some(it) = last {
            write_mosaics(&args.out, "observed", &it.observed)?;
            write_mosaics(&args.out, "synthesized", &it.synthesized)?;
        }
        Ok(())
    };

    let mut last: Option<Iteration> = None;
    while learner.iteration < args.iters && !stop.load(Ordering::SeqCst) {
        let batch = learner.pick_batch(&observed);
        let started = Instant::now();
        let it = match on_pool(|| block_on(guard.learn(&mut learner, batch, &mut |_, _, _| {}))) {
            Ok(Guarded::Learned(it)) => it,
            Ok(Guarded::RolledBack { reason, to, lr, rollbacks_in_a_row }) => {
                append(serde_json::json!({
                    "event": "rollback", "reason": reason, "to": to, "lr": lr, "rollbacks_in_a_row": rollbacks_in_a_row,
                }))?;
                say(format!("rolled back to iteration {to} and lowered the learning rate to {lr:.3e}: {reason}"));
                bar.set_position(learner.iteration);
                continue;
            }
            Err(e) => {
                bar.abandon();
                save(&learner, last.as_ref())?;
                eprintln!("the model's last good state is saved in {}", checkpoint_path.display());
                return Err(e);
            }
        };
        let seconds = started.elapsed().as_secs_f64();
        if let Some(warning) = guard.take_warning() {
            append(serde_json::json!({ "event": "warning", "message": warning }))?;
            say(warning);
        }
        append(serde_json::json!({
            "iteration": it.iteration, "seconds": seconds, "method": config.method.name(), "grids": it.grids,
            "lr": learner.config.optimizer.lr_at(it.iteration - 1), "rss_mb": resident_mb(),
        }))?;
        bar.set_message(summary(&it));
        bar.set_position(it.iteration);
        if args.quiet && (it.iteration % args.save_every == 0 || it.iteration == 1) {
            eprintln!("iteration {} ({seconds:.2} s): {}", it.iteration, summary(&it));
        }
        if it.iteration % args.save_every == 0 {
            save(&learner, Some(&it))?;
        }
        if args.snapshot_every.is_some_and(|n| it.iteration % n == 0) {
            checkpoint::save(&learner, &args.out.join(format!("checkpoint_{}.bpk", it.iteration)))?;
        }
        last = Some(it);
    }
    bar.finish();
    save(&learner, last.as_ref())?;
    if stop.load(Ordering::SeqCst) {
        eprintln!("interrupted: saved iteration {} to {}", learner.iteration, checkpoint_path.display());
    } else {
        eprintln!("saved {} (iteration {})", checkpoint_path.display(), learner.iteration);
    }
    Ok(())
}

/// Resident memory of this process in MB (Linux; None elsewhere), logged to show it stays flat.
fn resident_mb() -> Option<f64> {
    let statm = std::fs::read_to_string("/proc/self/statm").ok()?;
    let pages: f64 = statm.split_whitespace().nth(1)?.parse().ok()?;
    Some(pages * 4096.0 / 1e6)
}

#[cfg(test)]
mod tests {
    use super::{logged_iterations, nets_apart};
    use multigrid_ebm::Config;

    #[test]
    fn nets_that_differ_only_in_layers_are_told_apart_by_their_layers() {
        let small = Config::small();
        let mut wider = small.clone();
        wider.grids[1].layers[0].channels *= 2;
        let (a, b) = nets_apart(&wider, &small);
        let (c, k) = (small.grids[1].layers[0].channels, small.grids[1].layers[0].kernel);
        assert!(a.starts_with(&format!("grid {} layers {} {k}×{k}", small.grids[1].size, 2 * c)), "{a}");
        assert!(b.starts_with(&format!("grid {} layers {c} {k}×{k}", small.grids[1].size)), "{b}");
        let (a, b) = nets_apart(&Config::tiny(), &small);
        assert!(a.starts_with("grids [") && b.starts_with("grids ["), "{a} / {b}");
        assert_ne!(a, b);
    }

    #[test]
    fn a_logs_iterations_are_those_the_run_kept_after_its_rollbacks() {
        let line = |i: u64, g: f64| {
            serde_json::json!({"iteration": i, "seconds": 0.3, "grids": [
                {"size": 4, "loss": 1.0, "recon_error": 9.0, "energy_observed": 2.0, "energy_synthesized": 3.0,
                 "langevin_gradient": 1.0},
                {"size": 16, "loss": 1.0, "recon_error": 9.0, "energy_observed": 2.0, "energy_synthesized": 3.0,
                 "langevin_gradient": g}]})
            .to_string()
        };
        let log = [
            line(1, 10.0),
            line(2, 20.0),
            line(3, 30.0),
            r#"{"event": "rollback", "to": 1}"#.to_string(),
            line(2, 21.0),
            "not json".to_string(),
            line(3, 31.0),
            line(4, 41.0),
        ]
        .join("\n");
        let kept: Vec<(u64, Option<f32>)> =
            logged_iterations(&log).into_iter().map(|(i, grids)| (i, grids[1].langevin_gradient)).collect();
        assert_eq!(kept, vec![(1, Some(10.0)), (2, Some(21.0)), (3, Some(31.0)), (4, Some(41.0))]);
    }
}
