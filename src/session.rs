//! One training session: what the command line's `train` and the page's worker both drive.
//!
//! A [`Session`] owns everything one run needs: the [`Learner`] (the model and its optimiser),
//! the divergence [`Guard`], the observed images, and what the last call left to show (the
//! observed and synthesized images of every scale and the Langevin frames kept on the way).
//! [`Session::step`] is one guarded learning iteration and answers with a typed [`Step`]:
//! learned, rolled back, or stopped. Nothing outside this module decides a rollback, a warning
//! or whether a change of settings keeps the model's nets.

use burn::prelude::*;
use serde::{Deserialize, Serialize};

use crate::config::{Config, Overrides};
use crate::data::{self, ImageSet};
use crate::device::{self, pooled, read_all};
use crate::guard::{Guard, Guarded, Rule};
use crate::learner::{GridStats, Learner};
use crate::{Error, Result, checkpoint, inpaint, mosaic, pyramid};

/// What one [`Session::step`] did. It is also a line of a run's log (`log.jsonl`, with
/// [`LogLine`]), and crosses to the page as it is (generated for TypeScript).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "lowercase")]
#[cfg_attr(all(test, not(target_arch = "wasm32")), derive(ts_rs::TS), ts(export))]
pub enum Step {
    Learned(Learned),
    Rollback(Rollback),
    Stopped(Stopped),
}

/// A learning iteration that was kept.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(all(test, not(target_arch = "wasm32")), derive(ts_rs::TS), ts(export))]
pub struct Learned {
    /// Iterations learned so far, this one included.
    #[cfg_attr(all(test, not(target_arch = "wasm32")), ts(type = "number"))]
    pub iteration: u64,
    /// One per grid above 1×1, coarse to fine.
    pub grids: Vec<GridStats>,
    /// The learning rate this iteration's Adam step used.
    pub lr: f64,
    /// Said once a run: a grid's energies have stayed split ([`Guard::take_warning`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(all(test, not(target_arch = "wasm32")), ts(optional))]
    pub warning: Option<String>,
}

/// The iteration went wrong: the model is back at iteration `to`, learning at `lr`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(all(test, not(target_arch = "wasm32")), derive(ts_rs::TS), ts(export))]
pub struct Rollback {
    pub reason: String,
    #[cfg_attr(all(test, not(target_arch = "wasm32")), ts(type = "number"))]
    pub to: u64,
    pub lr: f64,
    pub rollbacks_in_a_row: u32,
}

/// Learning kept going wrong after the guard's rollbacks: the model is left at iteration
/// `kept`, its last good state, and the run should stop ([`Error::Unstable`] says it in words).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(all(test, not(target_arch = "wasm32")), derive(ts_rs::TS), ts(export))]
pub struct Stopped {
    pub message: String,
    pub reason: String,
    #[cfg_attr(all(test, not(target_arch = "wasm32")), ts(type = "number"))]
    pub kept: u64,
    pub rollbacks: u32,
}

impl From<Stopped> for Error {
    fn from(s: Stopped) -> Error {
        Error::Unstable { rollbacks: s.rollbacks, kept: s.kept, reason: s.reason }
    }
}

/// One line of a run's log: a [`Step`] and the seconds it took (and the process's resident
/// memory, where the caller measures it).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LogLine {
    #[serde(flatten)]
    pub step: Step,
    pub seconds: f64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rss_mb: Option<f64>,
}

impl LogLine {
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("plain data serialises")
    }
}

/// A log's text cut after the last line of `iteration`: what follows was written by iterations
/// a checkpoint at `iteration` never saved, which a resumed run learns again. (Iteration numbers
/// repeat after a rollback, hence the last such line.) Returns the kept text and how many lines
/// were dropped; a log without a line of that iteration is kept whole.
pub fn log_up_to(log: &str, iteration: u64) -> (String, usize) {
    let lines: Vec<&str> = log.lines().collect();
    let learned_at = |line: &str| match serde_json::from_str::<LogLine>(line) {
        Ok(LogLine { step: Step::Learned(l), .. }) => Some(l.iteration),
        _ => None,
    };
    match lines.iter().rposition(|l| learned_at(l) == Some(iteration)) {
        Some(last) if last + 1 < lines.len() => {
            (lines[..=last].iter().map(|l| format!("{l}\n")).collect(), lines.len() - 1 - last)
        }
        _ => (log.to_string(), 0),
    }
}

/// Each learned iteration of a log, oldest first, as the run ended up learning it: an iteration
/// logged again after a rollback replaces the lines from it on. Lines that are not log lines are
/// passed over.
pub fn learned_in_log(log: &str) -> Vec<Learned> {
    let mut learned: Vec<Learned> = Vec::new();
    for line in log.lines() {
        let Ok(LogLine { step: Step::Learned(l), .. }) = serde_json::from_str(line) else { continue };
        while learned.last().is_some_and(|last| last.iteration >= l.iteration) {
            learned.pop();
        }
        learned.push(l);
    }
    learned
}

/// A Langevin frame kept on the way: the chain's images at `grid` (index into the scales)
/// after step `step`.
pub struct Frame {
    pub grid: usize,
    pub step: usize,
    pub images: Tensor<4>,
}

/// What the last learning iteration, sample or recovery left to show: images per scale, coarse
/// to fine (the 1×1 scale first), and the kept Langevin frames.
#[derive(Default)]
pub struct Shown {
    pub observed: Vec<Tensor<4>>,
    pub synthesized: Vec<Tensor<4>>,
    pub frames: Vec<Frame>,
}

/// [`Shown`] read back as RGBA bytes (n × s × s × 4 per scale, per frame).
pub struct ShownRgba {
    pub observed: Vec<Vec<u8>>,
    pub synthesized: Vec<Vec<u8>>,
    /// (grid, step, RGBA) in the order the frames were kept.
    pub frames: Vec<(usize, usize, Vec<u8>)>,
}

/// Which of the shown images.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[cfg_attr(all(test, not(target_arch = "wasm32")), derive(ts_rs::TS), ts(export))]
pub enum Which {
    Observed,
    Synthesized,
}

/// The observed image nearest a synthesized one: its index and name, the root mean squared
/// difference in grey levels, and its RGBA at that grid.
pub struct Nearest {
    pub index: usize,
    pub name: String,
    pub rms: f32,
    pub rgba: Vec<u8>,
}

/// A file format a model is written in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[cfg_attr(all(test, not(target_arch = "wasm32")), derive(ts_rs::TS), ts(export))]
pub enum Format {
    /// Burnpack checkpoint with the Adam state: resumes training where it stopped.
    Bpk,
    /// PyTorch-layout safetensors (weights only).
    Safetensors,
}

/// What a page shows about its model, read in one call.
#[derive(Clone, Debug, Serialize)]
#[cfg_attr(all(test, not(target_arch = "wasm32")), derive(ts_rs::TS), ts(export))]
pub struct Summary {
    pub config: Config,
    /// 1, then every grid's size.
    pub scales: Vec<usize>,
    #[cfg_attr(all(test, not(target_arch = "wasm32")), ts(type = "number"))]
    pub iteration: u64,
    pub image_count: usize,
    /// Langevin steps of one chain as the model runs it ([`Config::chain_steps`]).
    pub chain_steps: usize,
}

/// Sampling draws at most this many images at once.
pub const MAX_SAMPLES: usize = 256;

pub struct Session {
    learner: Learner,
    guard: Guard,
    images: ImageSet,
    /// The observed images on the device, uploaded once after each change of the set.
    observed: Option<Tensor<4>>,
    shown: Shown,
}

impl Session {
    /// A fresh model: every grid's net initialised from `seed`.
    pub fn new(config: Config, seed: u64, device: &Device) -> Result<Session> {
        Ok(Session::from_learner(Learner::new(config, seed, device)?))
    }

    /// A session around a model learned before (a checkpoint, an import).
    pub fn from_learner(learner: Learner) -> Session {
        let guard = Guard::new(&learner, Rule::default());
        let images = ImageSet::new(learner.config.image_size());
        Session { learner, guard, images, observed: None, shown: Shown::default() }
    }

    /// A model from checkpoint bytes (.bpk). A file that does not match its checksum is refused.
    pub fn from_checkpoint(bytes: &[u8], device: &Device) -> Result<Session> {
        Ok(Session::from_learner(checkpoint::from_bytes(bytes, device)?))
    }

    /// Resume a run: its model, and the log it wrote so far (its text, already cut to the
    /// model's iteration by [`log_up_to`]), whose Langevin gradients the guard recalls so that
    /// a collapse under way is watched from the first resumed iteration.
    pub fn resume(learner: Learner, log: &str) -> Session {
        let mut session = Session::from_learner(learner);
        session.guard.recall_gradients(learned_in_log(log).into_iter().map(|l| (l.iteration, l.grids)));
        session
    }

    pub fn learner(&self) -> &Learner {
        &self.learner
    }

    pub fn config(&self) -> &Config {
        &self.learner.config
    }

    pub fn iteration(&self) -> u64 {
        self.learner.iteration
    }

    pub fn summary(&self) -> Summary {
        let config = self.learner.config.clone();
        Summary {
            scales: config.scales(),
            chain_steps: config.chain_steps(),
            config,
            iteration: self.learner.iteration,
            image_count: self.images.len(),
        }
    }

    /// Apply settings that keep the nets (Langevin, optimiser, batch size, method), validated
    /// with the library's limits; a change of the nets (normalisation) is refused.
    pub fn apply(&mut self, overrides: &Overrides) -> Result<&Config> {
        let config = self.learner.config.with_overrides(overrides)?;
        config.same_nets(&self.learner.config)?;
        if config != self.learner.config {
            self.learner.set_config(config);
        }
        Ok(&self.learner.config)
    }

    // ------------------------------------------------------------------ observed images

    pub fn images(&self) -> &ImageSet {
        &self.images
    }

    /// Replace the observed images (of the finest grid's size).
    pub fn set_images(&mut self, images: ImageSet) -> Result<()> {
        let size = self.learner.config.image_size();
        if images.size != size {
            return Err(Error::Data(format!("the images are {0}×{0}; this model's are {size}×{size}", images.size)));
        }
        (self.images, self.observed) = (images, None);
        Ok(())
    }

    /// Add an observed image from RGBA pixels (as a canvas gives them), centre-cropped and
    /// resized to the finest grid.
    pub fn add_rgba(&mut self, name: &str, rgba: &[u8], width: u32, height: u32) -> Result<()> {
        let pixels = data::from_rgba(rgba, width, height, self.learner.config.image_size())
            .map_err(|e| Error::Data(format!("{name}: {e}")))?;
        self.push(name, pixels);
        Ok(())
    }

    /// Add an observed image from an encoded file (PNG, JPEG, GIF, BMP, WebP, TIFF).
    pub fn add_file(&mut self, name: &str, bytes: &[u8]) -> Result<()> {
        let pixels =
            data::decode(bytes, self.learner.config.image_size()).map_err(|e| Error::Data(format!("{name}: {e}")))?;
        self.push(name, pixels);
        Ok(())
    }

    fn push(&mut self, name: &str, pixels: Vec<f32>) {
        self.images.push(name.to_string(), pixels);
        self.observed = None;
    }

    pub fn clear_images(&mut self) {
        (self.images, self.observed) = (ImageSet::new(self.learner.config.image_size()), None);
    }

    /// The observed images on the device (uploaded once after each change of the set; sampling
    /// then starts from their colours).
    fn observed(&mut self) -> Result<Tensor<4>> {
        if self.images.is_empty() {
            return Err(Error::Data("no observed images: add some first".into()));
        }
        if self.observed.is_none() {
            let observed = self.images.to_tensor(&self.learner.device());
            self.learner.set_observed_colours(&observed);
            self.observed = Some(observed);
        }
        Ok(self.observed.clone().expect("set above"))
    }

    // ------------------------------------------------------------------ learning

    /// One learning iteration on a batch of the observed images, under the divergence guard.
    /// With `frame_every` > 0, the chain is kept every that many Langevin steps (for drawing).
    /// A learned iteration's images become the shown ones; a rollback shows nothing new.
    pub async fn step(&mut self, frame_every: usize) -> Result<Step> {
        let observed = self.observed()?;
        let batch = self.learner.pick_batch(&observed);
        let mut frames = Vec::new();
        let (learner, guard, kept) = (&mut self.learner, &mut self.guard, &mut frames);
        let guarded =
            pooled(|| async move { guard.learn(learner, batch, Some(&mut keep_frames(frame_every, kept))).await })
                .await;
        Ok(match guarded {
            Ok(Guarded::Learned(it)) => {
                self.shown = Shown { observed: it.observed, synthesized: it.synthesized, frames };
                Step::Learned(Learned {
                    iteration: it.iteration,
                    lr: self.learner.config.optimizer.lr_at(it.iteration - 1),
                    grids: it.grids,
                    warning: self.guard.take_warning(),
                })
            }
            Ok(Guarded::RolledBack { reason, to, lr, rollbacks_in_a_row }) => {
                Step::Rollback(Rollback { reason, to, lr, rollbacks_in_a_row })
            }
            Err(Error::Unstable { rollbacks, kept, reason }) => {
                let message = Error::Unstable { rollbacks, kept, reason: reason.clone() }.to_string();
                Step::Stopped(Stopped { message, reason, kept, rollbacks })
            }
            Err(e) => return Err(e),
        })
    }

    // ------------------------------------------------------------------ synthesis

    /// Synthesize `n` images by the model's own sampling (no learning). With observed images at
    /// hand, chain i starts from observed image i's colour (the first n, cycling), and their
    /// pyramid is shown above the samples; otherwise chains start from the stored colours of the
    /// model's training images, which are not here, and no observed images are shown.
    pub async fn sample(&mut self, n: usize, seed: u64, frame_every: usize) -> Result<()> {
        if n == 0 || n > MAX_SAMPLES {
            return Err(Error::Config(format!("sample between 1 and {MAX_SAMPLES} images")));
        }
        self.learner.reseed(seed);
        let (start, observed) = if self.images.is_empty() {
            (self.learner.starting_colours(n), Vec::new())
        } else {
            let observed = self.observed()?;
            let shown = self.learner.observed_starts(&observed, n);
            (shown[0].clone(), shown)
        };
        let mut frames = Vec::new();
        let (learner, kept) = (&mut self.learner, &mut frames);
        let synthesized = pooled(|| async {
            let chain = learner.sample(start, Some(&mut keep_frames(frame_every, kept)));
            // Wait for the chain here, so that the caller's next readback is quick.
            read_all(vec![chain.last().expect("non-empty").clone().sum()]).await.map(|_| chain)
        })
        .await?;
        self.shown = Shown { observed, synthesized, frames };
        Ok(())
    }

    /// Show the observed pyramid of the first `n` observed images (before any learning).
    pub fn show_observed(&mut self, n: usize) -> Result<()> {
        let observed = self.observed()?;
        let n = n.clamp(1, self.images.len());
        self.shown.observed = pyramid::pyramid(observed.slice(0..n), &self.learner.config.scales());
        Ok(())
    }

    /// Recover the occluded pixels of one image (RGBA, any size: centre-cropped and resized to
    /// the finest grid) given a mask of the same size (one byte per pixel, non-zero = occluded),
    /// by the model's chain with the known pixels held ([`inpaint::recover`]). Shows the masked
    /// image's pyramid as observed and the chain as synthesized. Returns the mean absolute error
    /// over the occluded pixels, in grey levels.
    pub async fn inpaint(&mut self, image: data::CanvasPixels<'_>, mask: &[u8], frame_every: usize) -> Result<f32> {
        let size = self.learner.config.image_size();
        let known = inpaint::known_from_occluded(mask, image.width, image.height, size)?;
        let image = data::from_rgba(image.bytes, image.width, image.height, size)?;
        let device = self.learner.device();
        let original = device::images_tensor(image, 1, size, &device);
        let known = Tensor::<4>::from_data(TensorData::new(known, [1, 1, size, size]), &device);
        let mut frames = Vec::new();
        let (learner, kept) = (&self.learner, &mut frames);
        let (synthesized, error) = pooled(|| async {
            let chain =
                inpaint::recover(learner, original.clone(), known.clone(), Some(&mut keep_frames(frame_every, kept)));
            let error =
                inpaint::occluded_error(chain.last().expect("non-empty").clone(), original.clone(), known.clone());
            read_all(vec![error]).await.map(|e| (chain, e[0][0]))
        })
        .await?;
        let masked = original * known.expand([1, 3, size, size]);
        self.shown = Shown { observed: pyramid::pyramid(masked, &self.learner.config.scales()), synthesized, frames };
        Ok(error)
    }

    // ------------------------------------------------------------------ what is shown

    pub fn shown(&self) -> &Shown {
        &self.shown
    }

    /// The shown images as RGBA, read back in one transaction (one wait on a GPU): the observed
    /// ones, and the synthesized ones and the kept frames where asked for.
    pub async fn read_shown(&self, synthesized: bool, frames: bool) -> Result<ShownRgba> {
        let synthesized: &[Tensor<4>] = if synthesized { &self.shown.synthesized } else { &[] };
        let frames: &[Frame] = if frames { &self.shown.frames } else { &[] };
        let tensors: Vec<Tensor<4>> = (self.shown.observed.iter().chain(synthesized).cloned())
            .chain(frames.iter().map(|f| f.images.clone()))
            .collect();
        let mut rgba = rgba_of(&tensors).await?.into_iter();
        let observed = rgba.by_ref().take(self.shown.observed.len()).collect();
        let synthesized = rgba.by_ref().take(synthesized.len()).collect();
        let frames = frames.iter().zip(rgba).map(|(f, rgba)| (f.grid, f.step, rgba)).collect();
        Ok(ShownRgba { observed, synthesized, frames })
    }

    /// f(I) of the shown images under each grid's net, one list per scale coarse to fine (empty
    /// for the 1×1 scale, which has no net, and where nothing is shown).
    pub async fn energies(&self, which: Which) -> Result<Vec<Vec<f32>>> {
        let images = match which {
            Which::Observed => &self.shown.observed,
            Which::Synthesized => &self.shown.synthesized,
        };
        let values = read_all(self.learner.energies_per_scale(images)).await?;
        Ok(std::iter::once(Vec::new()).chain(values).collect())
    }

    /// f(I) of every kept Langevin frame's images under its grid's net, in the order they were
    /// kept (how the energy rose along the chain).
    pub async fn frame_energies(&self) -> Result<Vec<Vec<f32>>> {
        let energies =
            self.shown.frames.iter().map(|f| self.learner.energy(f.grid, f.images.clone())).collect::<Result<_>>()?;
        read_all(energies).await
    }

    /// The observed image nearest (mean squared difference) to shown synthesized image `index`
    /// at scale `scale`, both at that scale; None when there are no observed images.
    pub async fn nearest(&mut self, scale: usize, index: usize) -> Result<Option<Nearest>> {
        let Some(synthesized) = self.shown.synthesized.get(scale).cloned() else {
            return Err(Error::Config(format!("no synthesized images at scale {scale}")));
        };
        let [n, _, size, _] = synthesized.dims();
        if index >= n {
            return Err(Error::Config(format!("image {index} of {n}")));
        }
        if self.images.is_empty() {
            return Ok(None);
        }
        let set = pyramid::resample(self.observed()?, size);
        let distances = pyramid::squared_distances(set.clone(), synthesized.slice(index..index + 1));
        let distances = device::read(distances).await?;
        let (nearest, d) =
            distances.iter().enumerate().min_by(|a, b| a.1.total_cmp(b.1)).expect("observed images are not empty");
        let rgba = rgba_of(&[set.slice(nearest..nearest + 1)]).await?.remove(0);
        Ok(Some(Nearest { index: nearest, name: self.images.names[nearest].clone(), rms: d.sqrt(), rgba }))
    }

    /// The model as a file.
    pub async fn export(&self, format: Format) -> Result<Vec<u8>> {
        match format {
            Format::Bpk => checkpoint::to_bytes(&self.learner, true).await,
            Format::Safetensors => crate::interop::export_safetensors(&self.learner).await,
        }
    }
}

/// A step hook that keeps the chain's images after every `every`-th Langevin step (none when
/// `every` is 0).
fn keep_frames(every: usize, frames: &mut Vec<Frame>) -> impl FnMut(usize, usize, &Tensor<4>) + Send + '_ {
    move |grid, step, x| {
        if every > 0 && (step + 1) % every == 0 {
            frames.push(Frame { grid, step, images: x.clone() });
        }
    }
}

/// RGBA bytes of each tensor ([n, 3, s, s] → n × s × s × 4), read back in one transaction.
async fn rgba_of(images: &[Tensor<4>]) -> Result<Vec<Vec<u8>>> {
    let values = read_all(images.to_vec()).await?;
    Ok(images
        .iter()
        .zip(values)
        .map(|(t, v)| {
            let [n, _, s, _] = t.dims();
            mosaic::to_rgba(&v, n, s)
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn learned(iteration: u64, gradient: f32) -> String {
        let grid = |size, langevin_gradient| GridStats {
            size,
            loss: Some(1.0),
            recon_error: 9.0,
            energy_observed: Some(2.0),
            energy_synthesized: Some(3.0),
            langevin_gradient: Some(langevin_gradient),
        };
        let step =
            Step::Learned(Learned { iteration, grids: vec![grid(4, 1.0), grid(16, gradient)], lr: 0.3, warning: None });
        LogLine { step, seconds: 0.3, rss_mb: None }.to_json()
    }

    fn rollback(to: u64) -> String {
        let step = Step::Rollback(Rollback { reason: "ran away".into(), to, lr: 0.15, rollbacks_in_a_row: 1 });
        LogLine { step, seconds: 0.3, rss_mb: Some(50.0) }.to_json()
    }

    #[test]
    fn a_logs_learned_iterations_are_those_the_run_kept_after_its_rollbacks() {
        let log = [
            learned(1, 10.0),
            learned(2, 20.0),
            learned(3, 30.0),
            rollback(1),
            learned(2, 21.0),
            "not json".to_string(),
            learned(3, 31.0),
            learned(4, 41.0),
        ]
        .join("\n");
        let kept: Vec<(u64, Option<f32>)> =
            learned_in_log(&log).into_iter().map(|l| (l.iteration, l.grids[1].langevin_gradient)).collect();
        assert_eq!(kept, vec![(1, Some(10.0)), (2, Some(21.0)), (3, Some(31.0)), (4, Some(41.0))]);
    }

    #[test]
    fn a_log_is_cut_after_the_last_line_of_the_checkpoints_iteration() {
        let log = [learned(1, 1.0), learned(2, 2.0), rollback(1), learned(2, 2.5), learned(3, 3.0), rollback(2)]
            .map(|l| format!("{l}\n"))
            .concat();
        let (kept, dropped) = log_up_to(&log, 2);
        assert_eq!((kept.lines().count(), dropped), (4, 2), "up to the second line of iteration 2");
        assert_eq!(log_up_to(&log, 9), (log.clone(), 0), "a log without the iteration is kept whole");
        assert_eq!(log_up_to("", 3), (String::new(), 0));
    }

    #[test]
    fn a_step_crosses_as_one_tagged_object() {
        let line: serde_json::Value = serde_json::from_str(&rollback(7)).unwrap();
        assert_eq!(
            (line["event"].as_str(), line["to"].as_u64(), line["seconds"].as_f64()),
            (Some("rollback"), Some(7), Some(0.3))
        );
        let back: LogLine = serde_json::from_str(&rollback(7)).unwrap();
        assert!(matches!(back.step, Step::Rollback(Rollback { to: 7, .. })));
    }
}
