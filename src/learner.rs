//! The learner: the paper's Algorithm 1 (multi-grid learning), and the CD / persistent CD
//! baselines on the same nets.

use burn::optim::AdamState;
use burn::prelude::*;
use burn::tensor::Gradients;
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::config::{Config, Method, Norm};
use crate::device::read_all;
use crate::energy::EnergyNet;
use crate::langevin::{Known, langevin};
use crate::optim::NetsAdam;
use crate::pyramid::{pyramid, up_sample};
use crate::{Error, Result};

/// Called after every Langevin step with (grid index into `scales`, step, chain state), for
/// drawing the chain; None where nobody watches.
pub type StepHook<'a> = Option<&'a mut dyn FnMut(usize, usize, &Tensor<4>)>;

/// Monitoring figures of one grid in one iteration.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(all(test, not(target_arch = "wasm32")), derive(ts_rs::TS), ts(export))]
pub struct GridStats {
    pub size: usize,
    /// mean f(synthesized) − mean f(observed): the quantity minimised (None: grid not learned).
    pub loss: Option<f32>,
    /// mean |I^(k) − Ĩ^(k)| over pixels, in grey levels.
    pub recon_error: f32,
    pub energy_observed: Option<f32>,
    pub energy_synthesized: Option<f32>,
    /// ‖∂f/∂Ĩ‖ at the synthesized images, where their Langevin chain ended: the mean over images
    /// of the gradient's L2 norm (a learning diagnostic after Nijkamp et al. 2020: when it runs
    /// away, Langevin steps saturate before the samples show it). None: grid not learned.
    pub langevin_gradient: Option<f32>,
}

impl GridStats {
    /// Whether this grid's energies have split: mean f(observed) above mean f(synthesized) by
    /// more than half their summed magnitudes, with |mean f(observed)| over 10⁶. In a healthy run
    /// the two stay close and of one sign; split, the synthesized images sit where f is flat,
    /// their Langevin gradient collapses and the samples degrade (reports/stability.md).
    pub fn energies_split(&self) -> bool {
        match (self.energy_observed, self.energy_synthesized) {
            (Some(o), Some(s)) => o - s > 0.5 * (o.abs() + s.abs()) && o.abs() > 1e6,
            _ => false,
        }
    }
}

/// What one learning iteration produced. Images are device tensors, one per scale
/// (coarse to fine, the 1×1 grid first); read them back only when they are drawn.
pub struct Iteration {
    pub iteration: u64,
    pub observed: Vec<Tensor<4>>,
    pub synthesized: Vec<Tensor<4>>,
    /// One per grid above 1×1.
    pub grids: Vec<GridStats>,
}

pub struct Learner {
    pub config: Config,
    /// f_k for every grid above 1×1, in the order of `config.grids`.
    pub nets: Vec<EnergyNet>,
    /// Adam and its per-parameter state.
    pub(crate) optimizer: NetsAdam,
    /// Learning iterations done so far.
    pub iteration: u64,
    pub(crate) rng: ChaCha8Rng,
    /// Persistent CD's chains at the finest grid, carried from one iteration to the next.
    pub(crate) persistent: Option<Tensor<4>>,
    /// 1×1 colours (per-image means, [m, 3, 1, 1]) of observed images, where sampling starts.
    pub(crate) colours: Option<Tensor<4>>,
    /// The autodiff-enabled device the nets live on.
    pub(crate) device: Device,
}

/// Everything learning changes, kept to go back to (see [`crate::guard`]). Tensors are shared,
/// not copied: keeping a state costs the memory of the parameters it outlives.
#[derive(Clone)]
pub struct LearnerState {
    pub iteration: u64,
    nets: Vec<EnergyNet>,
    adam_states: Vec<Vec<Option<AdamState<1>>>>,
    persistent: Option<Tensor<4>>,
    rng: ChaCha8Rng,
}

impl Learner {
    /// A fresh model: every grid's net initialised from `seed`.
    pub fn new(config: Config, seed: u64, device: &Device) -> Result<Learner> {
        config.validate()?;
        let device = device.clone().autodiff();
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let nets = config.grids.iter().map(|g| EnergyNet::new(g, config.norm, &mut rng, &device)).collect();
        Ok(Self::from_parts(config, nets, rng, &device))
    }

    pub(crate) fn from_parts(config: Config, nets: Vec<EnergyNet>, rng: ChaCha8Rng, device: &Device) -> Learner {
        Learner {
            optimizer: NetsAdam::new(&config, &nets),
            config,
            nets,
            iteration: 0,
            rng,
            persistent: None,
            colours: None,
            device: device.clone().autodiff(),
        }
    }

    /// Change settings that keep the nets (Langevin, optimiser, batch size, method); the
    /// caller keeps the architecture as it is.
    pub fn set_config(&mut self, config: Config) {
        debug_assert!(config.grids == self.config.grids && config.norm == self.config.norm);
        self.optimizer.set_config(&config.optimizer);
        if config.method != self.config.method {
            self.persistent = None;
        }
        self.config = config;
    }

    /// The state that learning changes, to [`Learner::restore`] later.
    pub fn state(&self) -> LearnerState {
        LearnerState {
            iteration: self.iteration,
            nets: self.nets.clone(),
            adam_states: self.optimizer.states.clone(),
            persistent: self.persistent.clone(),
            rng: self.rng.clone(),
        }
    }

    /// Go back to a kept state (the learning rate stays as it is now).
    pub fn restore(&mut self, state: LearnerState) {
        let LearnerState { iteration, nets, adam_states, persistent, rng } = state;
        (self.iteration, self.nets, self.optimizer.states, self.persistent, self.rng) =
            (iteration, nets, adam_states, persistent, rng);
    }

    /// The device the nets live on, without autodiff: create image tensors here.
    pub fn device(&self) -> Device {
        self.device.clone().inner()
    }

    /// Grids whose nets this method learns: all of them for multigrid, the finest for CD/PCD.
    pub fn learned_grids(&self) -> std::ops::Range<usize> {
        match self.config.method {
            Method::Multigrid => 0..self.nets.len(),
            Method::Cd | Method::Pcd => self.nets.len() - 1..self.nets.len(),
        }
    }

    /// Restart the learner's random generator (batch order, starting colours, Langevin noise).
    pub fn reseed(&mut self, seed: u64) {
        self.rng = ChaCha8Rng::seed_from_u64(seed);
    }

    /// Take another branch of the random sequence from here (other batches, other noise),
    /// reproducibly: reseeded from its own next draw, salted.
    pub fn branch(&mut self, salt: u64) {
        let seed: u64 = self.rng.random();
        self.reseed(seed ^ salt.wrapping_mul(0x9E37_79B9_7F4A_7C15));
    }

    /// Langevin noise comes from the device's generator; seed it from ours so that a run is
    /// reproducible and a resumed run continues the same sequence.
    fn seed_langevin_noise(&mut self) {
        if self.config.langevin.noise {
            self.device.seed(self.rng.random());
        }
    }

    /// One learning iteration (Algorithm 1) on a batch of observed images at the finest size.
    /// If any loss is not finite, nothing is updated and [`Error::Diverged`] is returned.
    pub async fn learn(&mut self, observed: Tensor<4>, on_step: StepHook<'_>) -> Result<Iteration> {
        let chains_before = self.persistent.clone();
        self.seed_langevin_noise();
        // 1. The observed pyramid I^(k): block averages of each observed image.
        let observed = pyramid(observed, &self.config.scales());
        // 2. Synthesized images Ĩ^(k): the multi-grid chain from the 1×1 means (or CD / PCD).
        let synthesized = match self.config.method {
            Method::Multigrid => self.multigrid_sampling(observed[0].clone(), on_step),
            Method::Cd => self.finest_grid_chain(observed.last().expect("validated").clone(), None, on_step),
            Method::Pcd => {
                // The persistent chains start where multi-grid chains do, from the 1×1 means
                // (up-sampled to the finest grid), and then carry on across iterations.
                let start = match self.persistent.take() {
                    Some(chains) if chains.dims() == observed.last().expect("validated").dims() => chains,
                    _ => up_sample(observed[0].clone(), self.config.image_size()),
                };
                let synthesized = self.finest_grid_chain(start, None, on_step);
                self.persistent = Some(synthesized.last().expect("non-empty").clone());
                synthesized
            }
        };
        // 3. Update every grid's net simultaneously from mean f(Ĩ^(k)) − mean f(I^(k)).
        let grids = match self.update(&observed, &synthesized).await {
            Ok(grids) => grids,
            Err(e) => {
                self.persistent = chains_before; // a diverged iteration leaves the chains too
                return Err(e);
            }
        };
        self.iteration += 1;
        Ok(Iteration { iteration: self.iteration, observed, synthesized, grids })
    }

    /// Multi-grid sampling: from 1×1 images, up-sample to each grid and run T Langevin steps
    /// under that grid's net. Returns the chain's result at every scale (the start first).
    pub fn multigrid_sampling(&self, start: Tensor<4>, on_step: StepHook<'_>) -> Vec<Tensor<4>> {
        self.multigrid_chain(start, &[], on_step)
    }

    /// The multi-grid chain, optionally holding known pixels fixed at each scale
    /// (`known[k]` for `scales[k]`; missing entries hold nothing).
    pub(crate) fn multigrid_chain(
        &self,
        start: Tensor<4>,
        known: &[Option<Known>],
        mut on_step: StepHook<'_>,
    ) -> Vec<Tensor<4>> {
        let mut synthesized = vec![start];
        for (grid_config, net) in self.config.grids.iter().zip(&self.nets) {
            let coarser = synthesized.last().expect("non-empty").clone();
            let init = up_sample(coarser.clone(), grid_config.size / coarser.dims()[3]);
            let steps = self.config.langevin.steps;
            // This grid's place among the scales (the 1×1 start is scale 0).
            let grid = synthesized.len();
            let fixed = known.get(grid).and_then(Option::as_ref);
            let result = langevin(net, init, (steps, grid), &self.config.langevin, fixed, &mut on_step);
            synthesized.push(result);
        }
        synthesized
    }

    /// CD / PCD: Langevin on the finest grid only, from `start`; the coarser scales of the
    /// result are its block averages (shown, not learned from).
    pub(crate) fn finest_grid_chain(
        &self,
        start: Tensor<4>,
        known: Option<&Known>,
        mut on_step: StepHook<'_>,
    ) -> Vec<Tensor<4>> {
        let finest = self.nets.len();
        let net = self.nets.last().expect("validated: at least one grid");
        let steps = self.config.cd_steps();
        let result = langevin(net, start, (steps, finest), &self.config.langevin, known, &mut on_step);
        pyramid(result, &self.config.scales())
    }

    /// Synthesize images from the model as it was learned: multi-grid sampling for a
    /// multigrid model; for CD / PCD models, the finest grid's chain from the up-sampled 1×1
    /// images, with the same step budget as in learning.
    pub fn sample(&mut self, start: Tensor<4>, on_step: StepHook<'_>) -> Vec<Tensor<4>> {
        self.seed_langevin_noise();
        match self.config.method {
            Method::Multigrid => self.multigrid_sampling(start, on_step),
            Method::Cd | Method::Pcd => {
                let init = up_sample(start, self.config.image_size());
                self.finest_grid_chain(init, None, on_step)
            }
        }
    }

    /// f_k(I) of images at every scale (`images[k]` at `config.scales()[k]`, coarse to fine, as a
    /// chain or a pyramid holds them), one value per image, under each grid's net; the 1×1
    /// scale has no net and is left out (so `energies[k]` is for `images[k + 1]`). Under batch
    /// normalisation an image's energy depends on the batch it is given with.
    pub fn energies_per_scale(&self, images: &[Tensor<4>]) -> Vec<Tensor<1>> {
        self.nets.iter().zip(images.iter().skip(1)).map(|(net, x)| net.forward(x.clone())).collect()
    }

    /// f(I) of images at scale `scale` (≥ 1: `config.scales()[scale]`) under that grid's net, one
    /// value per image (e.g. a chain's state after some Langevin steps).
    pub fn energy(&self, scale: usize, images: Tensor<4>) -> Result<Tensor<1>> {
        match scale.checked_sub(1).and_then(|k| self.nets.get(k)) {
            Some(net) => Ok(net.forward(images)),
            None => Err(Error::Config(format!("scale {scale} has no net (the grids are 1..={})", self.nets.len()))),
        }
    }

    /// `n` 1×1 starting images: colours of observed images drawn at random without replacement
    /// (sampling adds no noise in the official form, so a colour drawn twice would give the same
    /// image twice), or mid-grey when the model has seen no images.
    pub fn starting_colours(&mut self, n: usize) -> Tensor<4> {
        let device = self.device();
        match self.colours.clone() {
            Some(colours) => {
                let picks = self.draw(colours.dims()[0], n);
                rows(&colours, &picks)
            }
            None => Tensor::full([n, 3, 1, 1], 127.5, &device),
        }
    }

    /// How many observed colours sampling can start from (the images learned from; 0 if none).
    pub fn observed_colour_count(&self) -> usize {
        self.colours.as_ref().map_or(0, |c| c.dims()[0])
    }

    /// Remember the 1×1 colours of the observed images (sampling starts from them).
    pub fn set_observed_colours(&mut self, images: &Tensor<4>) {
        let [n, c, ..] = images.dims();
        let means = images.clone().mean_dims(&[2, 3]).reshape([n, c, 1, 1]);
        self.colours = Some(means);
    }

    /// A batch of the observed images for one learning iteration (see [`Learner::batch_indices`]).
    pub fn pick_batch(&mut self, observed: &Tensor<4>) -> Tensor<4> {
        rows(observed, &self.batch_indices(observed.dims()[0]))
    }

    /// Where `n` sampling chains start when observed images are at hand: chain i from observed
    /// image i (the first n, cycling), so each sample can be shown under the image it started
    /// from. Returns those images' pyramid, coarse to fine; its 1×1 scale is the chains' start.
    pub fn observed_starts(&self, observed: &Tensor<4>, n: usize) -> Vec<Tensor<4>> {
        let m = observed.dims()[0];
        let picks: Vec<usize> = (0..n).map(|i| i % m).collect();
        pyramid(rows(observed, &picks), &self.config.scales())
    }

    /// Draw the indices of a batch from a set of `len` images (see [`Learner::draw`]).
    pub fn batch_indices(&mut self, len: usize) -> Vec<usize> {
        self.draw(len, self.config.batch_size)
    }

    /// `n` indices into a set of `len`, without replacement while the set lasts (then from a
    /// fresh shuffle of it), using the learner's generator so that a seed fixes the order.
    fn draw(&mut self, len: usize, n: usize) -> Vec<usize> {
        let mut all: Vec<usize> = (0..len).collect();
        let mut picks = Vec::with_capacity(n);
        while picks.len() < n {
            let take = (n - picks.len()).min(len);
            for i in 0..take {
                let j = self.rng.random_range(i..len);
                all.swap(i, j);
            }
            picks.extend_from_slice(&all[..take]);
        }
        picks
    }

    /// Step 3 of Algorithm 1: for every learned grid, Adam on mean f(syn) − mean f(obs), all
    /// grids at once. The figures are read back first, so a diverged iteration changes nothing.
    async fn update(&mut self, observed: &[Tensor<4>], synthesized: &[Tensor<4>]) -> Result<Vec<GridStats>> {
        let learned = self.learned_grids();
        // Every grid's images, without the 1×1 start (which has no net): grid k is net k.
        let updates: Vec<GridUpdate> = observed[1..]
            .iter()
            .zip(&synthesized[1..])
            .enumerate()
            .map(|(k, (obs, syn))| self.grid_update(k, obs.clone(), syn.clone(), learned.contains(&k)))
            .collect();
        self.check_and_apply(updates).await
    }

    /// One grid's update alone (benchmarks, tests), checked like a learning iteration's.
    pub async fn update_grid(&mut self, k: usize, observed: Tensor<4>, synthesized: Tensor<4>) -> Result<GridStats> {
        let update = self.grid_update(k, observed, synthesized, true);
        Ok(self.check_and_apply(vec![update]).await?.remove(0))
    }

    /// Grid k's figures and (when learned) the gradients of its loss, computed but not yet read.
    fn grid_update(&self, k: usize, observed: Tensor<4>, synthesized: Tensor<4>, learned: bool) -> GridUpdate {
        let synthesized = synthesized.inner();
        let recon_error = (observed.clone() - synthesized.clone()).abs().mean();
        if !learned {
            return GridUpdate { k, recon_error, learned: None };
        }
        // The synthesized images are a tracked leaf: the same backward pass that gives the
        // parameters' gradients gives ∂ mean f(Ĩ)/∂Ĩ = (∂f/∂Ĩ)/n, the Langevin gradient.
        let leaf = synthesized.clone().autodiff().require_grad();
        let (f_obs_each, f_syn_each) = self.energies(k, observed.autodiff(), leaf.clone());
        let [n, c, h, w] = leaf.dims();
        let (f_obs, f_syn) = (f_obs_each.clone().mean(), f_syn_each.mean());
        let loss = f_syn.clone() - f_obs.clone();
        let alpha = self.config.energy_penalty;
        let grads = if alpha > 0.0 {
            // α·(mean f(obs)² + mean f(syn)²), with the synthesized energies from a pass of
            // their own, so that the leaf's gradient stays the Langevin gradient of f alone.
            let f_syn_again = self.nets[k].forward(synthesized.autodiff());
            let square_mean = |f: Tensor<1>| (f.clone() * f).mean();
            let penalty = (square_mean(f_obs_each) + square_mean(f_syn_again)) * alpha;
            (loss.clone() + penalty).backward()
        } else {
            loss.clone().backward()
        };
        let g = leaf.grad(&grads).expect("the synthesized images are a tracked leaf") * n as f64;
        let langevin_gradient = (g.clone() * g).reshape([n, c * h * w]).sum_dim(1).sqrt().mean();
        let figures = LearnedFigures {
            loss: loss.inner(),
            energy_observed: f_obs.inner(),
            energy_synthesized: f_syn.inner(),
            langevin_gradient,
        };
        GridUpdate { k, recon_error, learned: Some((figures, grads)) }
    }

    /// f_k of the observed and of the synthesized images. Where an image's energy does not depend
    /// on its batch (no batch norm), both go through the net as one batch: one pass of larger
    /// products instead of two.
    fn energies(&self, k: usize, observed: Tensor<4>, synthesized: Tensor<4>) -> (Tensor<1>, Tensor<1>) {
        let net = &self.nets[k];
        if self.config.norm == Norm::Batch {
            return (net.forward(observed), net.forward(synthesized));
        }
        let m = observed.dims()[0];
        let f = net.forward(Tensor::cat(vec![observed, synthesized], 0));
        let n = f.dims()[0];
        (f.clone().slice(0..m), f.slice(m..n))
    }

    /// Read every grid's figures in one transaction; if all are finite, take one Adam step per
    /// learned grid.
    async fn check_and_apply(&mut self, updates: Vec<GridUpdate>) -> Result<Vec<GridStats>> {
        let mut tensors = Vec::new();
        for u in &updates {
            tensors.push(u.recon_error.clone());
            if let Some((f, _)) = &u.learned {
                tensors.extend(
                    [&f.loss, &f.energy_observed, &f.energy_synthesized, &f.langevin_gradient].map(|t| t.clone()),
                );
            }
        }
        let mut values = read_all(tensors).await?.into_iter().map(|v| v[0]);
        let mut stats = Vec::new();
        for u in &updates {
            let size = self.config.grids[u.k].size;
            let recon_error = values.next().expect("one value per figure");
            let [loss, energy_observed, energy_synthesized, langevin_gradient] =
                [(); 4].map(|_| u.learned.as_ref().map(|_| values.next().expect("one value per figure")));
            let grid = GridStats { size, loss, recon_error, energy_observed, energy_synthesized, langevin_gradient };
            if let Some((what, v)) = grid.first_non_finite() {
                return Err(Error::Diverged {
                    iteration: self.iteration + 1,
                    grid: size,
                    what: format!("{what} is {v}"),
                });
            }
            stats.push(grid);
        }
        for u in updates {
            if let Some((_, grads)) = u.learned {
                self.nets[u.k] = self.optimizer.step(u.k, &self.nets[u.k], &self.config, self.iteration, &grads);
            }
        }
        Ok(stats)
    }
}

impl GridStats {
    /// The first figure that is not finite, named.
    fn first_non_finite(&self) -> Option<(&'static str, f32)> {
        [
            ("loss", self.loss),
            ("f(observed)", self.energy_observed),
            ("f(synthesized)", self.energy_synthesized),
            ("the Langevin gradient's norm", self.langevin_gradient),
            ("reconstruction error", Some(self.recon_error)),
        ]
        .into_iter()
        .find_map(|(what, v)| v.filter(|v| !v.is_finite()).map(|v| (what, v)))
    }
}

/// A grid's update, computed on the device but not yet read, checked or applied.
struct GridUpdate {
    k: usize,
    /// mean |I − Ĩ|.
    recon_error: Tensor<1>,
    /// For a learned grid: its figures and ∂loss/∂θ_k.
    learned: Option<(LearnedFigures, Gradients)>,
}

/// The figures of a learned grid: scalars on the device.
struct LearnedFigures {
    loss: Tensor<1>,
    energy_observed: Tensor<1>,
    energy_synthesized: Tensor<1>,
    langevin_gradient: Tensor<1>,
}

/// The images of `images` at `indices` (in that order, repeats allowed).
fn rows(images: &Tensor<4>, indices: &[usize]) -> Tensor<4> {
    let picks: Vec<i64> = indices.iter().map(|&i| i as i64).collect();
    images.clone().select(0, Tensor::from_data(TensorData::new(picks, [indices.len()]), &images.device()))
}
