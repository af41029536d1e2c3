//! Configuration as plain data (serde JSON): the scale list, one energy net per grid, the
//! normalisation, Langevin dynamics, the optimiser and the learning method. Every checkpoint
//! stores the whole configuration, so a model can always be rebuilt from its file alone.

use serde::{Deserialize, Serialize};

use crate::Error;

/// One convolution layer of a grid's bottom-up ConvNet: conv (TensorFlow 'SAME' padding) →
/// normalisation → LeakyReLU(0.2).
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(all(test, not(target_arch = "wasm32")), derive(ts_rs::TS), ts(export))]
pub struct ConvLayer {
    pub channels: usize,
    pub kernel: usize,
    pub stride: usize,
}

/// The energy net f_k of one grid: conv layers, then a fully connected layer to one scalar.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
#[cfg_attr(all(test, not(target_arch = "wasm32")), derive(ts_rs::TS), ts(export))]
pub struct GridConfig {
    /// Image size of this grid (s_k × s_k).
    pub size: usize,
    pub layers: Vec<ConvLayer>,
}

impl GridConfig {
    /// Spatial size after every conv layer ('SAME' padding: ceil(size / stride)).
    pub fn feature_size(&self) -> usize {
        self.layers.iter().fold(self.size, |s, l| s.div_ceil(l.stride))
    }

    /// Inputs of the final fully connected layer.
    pub fn fc_inputs(&self) -> usize {
        let channels = self.layers.last().map_or(3, |l| l.channels);
        channels * self.feature_size() * self.feature_size()
    }
}

/// Normalisation after each convolution.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
#[cfg_attr(all(test, not(target_arch = "wasm32")), derive(ts_rs::TS), ts(export))]
pub enum Norm {
    /// No normalisation: f(I) depends on I alone.
    None,
    /// Batch statistics (the official code; also during Langevin), so one image's energy
    /// depends on the rest of its batch.
    Batch,
}

impl Norm {
    pub fn name(self) -> &'static str {
        match self {
            Norm::None => "none",
            Norm::Batch => "batch",
        }
    }
}

impl std::str::FromStr for Norm {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self, Error> {
        match s {
            "none" => Ok(Norm::None),
            "batch" => Ok(Norm::Batch),
            _ => Err(Error::Config(format!("unknown normalisation '{s}': use none or batch"))),
        }
    }
}

/// Which Langevin update to run.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
#[cfg_attr(all(test, not(target_arch = "wasm32")), derive(ts_rs::TS), ts(export))]
pub enum LangevinForm {
    /// I ← I + (δ²/2)(∂f/∂I − I/σ²) + δ·Z (the paper's equation).
    Paper,
    /// I ← I + (δ²/2)·∂f/∂I (the official code: no reference term; noise only if enabled).
    Code,
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[cfg_attr(all(test, not(target_arch = "wasm32")), derive(ts_rs::TS), ts(export))]
pub struct LangevinConfig {
    pub form: LangevinForm,
    /// T: Langevin steps per grid.
    pub steps: usize,
    /// δ: step size.
    pub delta: f64,
    /// σ: standard deviation of the Gaussian reference q(I) (paper form only).
    pub sigma: f64,
    /// Add δ·Z each step.
    pub noise: bool,
    /// Clamp pixels to [lo, hi] after each step (the official code clamps to [0, 255]).
    pub clip: Option<[f32; 2]>,
    /// The largest move of a pixel in one step, in grey levels: the drift (δ²/2)·(…) is
    /// clamped to ±max_step before any noise is added (as Du & Mordatch 2019 clamp their
    /// Langevin gradient). None (the official code, and what files without the field get)
    /// leaves the step unbounded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_step: Option<f32>,
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[cfg_attr(all(test, not(target_arch = "wasm32")), derive(ts_rs::TS), ts(export))]
pub struct OptimizerConfig {
    /// Adam learning rate (before any decay: `lr_constant_for`, `lr_half_life`).
    pub lr: f64,
    pub beta1: f32,
    pub beta2: f32,
    pub epsilon: f32,
    /// Learning-rate decay: the rate halves every this many iterations, lr·2^(−t/h) at iteration
    /// t. None (the official code, and what files without the field get) keeps it constant.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lr_half_life: Option<f64>,
    /// Iterations learned at the full rate before the halving starts: lr·2^(−(t−c)/h) from
    /// iteration t = c on. 0 (what files without the field get) halves from the start.
    #[serde(default, skip_serializing_if = "is_zero")]
    #[cfg_attr(all(test, not(target_arch = "wasm32")), ts(type = "number"))]
    pub lr_constant_for: u64,
    /// Decoupled weight decay λ (AdamW, Loshchilov & Hutter 2019): before each Adam step every
    /// parameter is multiplied by 1 − lr·λ. It bounds the weights, which Adam at lr 0.3 lets
    /// grow without end (and with them the energies' scale and the Langevin step's reach). 0 (the
    /// official code, and what files without the field get) is plain Adam.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub weight_decay: f64,
    /// The largest energy scale ‖w ⊙ γ‖ a grid's net may take ([`crate::energy::EnergyNet::energy_scale`]):
    /// after each Adam step a net above it has its fully connected weights shrunk back to it. At
    /// lr 0.3 the scale grows without end, and once f is steep enough Langevin overshoots and the
    /// energies split (reports/stability.md). None (the official code, and what files without
    /// the field get) leaves it free.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub energy_scale_cap: Option<f64>,
}

impl OptimizerConfig {
    /// The learning rate of the step that follows `iteration` learned iterations.
    pub fn lr_at(&self, iteration: u64) -> f64 {
        match self.lr_half_life {
            Some(h) => self.lr * (-(iteration.saturating_sub(self.lr_constant_for) as f64) / h).exp2(),
            None => self.lr,
        }
    }
}

/// How the synthesized examples of one learning iteration are obtained.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Default)]
#[serde(rename_all = "lowercase")]
#[cfg_attr(all(test, not(target_arch = "wasm32")), derive(ts_rs::TS), ts(export))]
pub enum Method {
    /// Algorithm 1: chains start at the 1×1 mean and move up every grid; all grids learn.
    #[default]
    Multigrid,
    /// Contrastive divergence: chains start at the observed images of the finest grid.
    Cd,
    /// Persistent CD: chains continue from the previous iteration's synthesized images.
    Pcd,
}

impl Method {
    pub fn name(self) -> &'static str {
        match self {
            Method::Multigrid => "multigrid",
            Method::Cd => "cd",
            Method::Pcd => "pcd",
        }
    }
}

impl std::str::FromStr for Method {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self, Error> {
        match s {
            "multigrid" => Ok(Method::Multigrid),
            "cd" => Ok(Method::Cd),
            "pcd" => Ok(Method::Pcd),
            _ => Err(Error::Config(format!("unknown method '{s}': use multigrid, cd or pcd"))),
        }
    }
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[cfg_attr(all(test, not(target_arch = "wasm32")), derive(ts_rs::TS), ts(export))]
pub struct Config {
    /// The grids, coarse to fine, each with its size and its energy net's layers; each size
    /// divides the next. The scales are derived from them ([`Config::scales`]: 1, then every
    /// grid's size). A `scales` field in older files is ignored.
    pub grids: Vec<GridConfig>,
    pub norm: Norm,
    pub langevin: LangevinConfig,
    pub optimizer: OptimizerConfig,
    pub batch_size: usize,
    pub method: Method,
    /// Langevin steps of CD and PCD on the finest grid; `None` gives the multi-grid chain's
    /// budget, T × (number of grids), so the methods are compared at equal cost in steps.
    #[serde(default)]
    pub cd_steps: Option<usize>,
    /// α of an energy-magnitude penalty added to every learned grid's loss,
    /// α·(mean f(observed)² + mean f(synthesized)²) (Du & Mordatch 2019): it keeps the energies'
    /// scale, which nothing else pins, from running away in long runs. 0 (the default, and what
    /// files without the field get) is the paper's loss.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub energy_penalty: f64,
}

fn is_zero<T: Default + PartialEq>(x: &T) -> bool {
    *x == T::default()
}

/// The most trainable parameters a configuration may ask for (400 MB of float32 weights, about
/// four times that while learning). The paper preset has 6.4 million; the paper's pattern
/// extended to 512-pixel grids about 60 million.
pub const MAX_PARAMETERS: u64 = 100_000_000;
/// The most Langevin steps of one CD / PCD chain (T ≤ 10000 on each of at most nine grids).
pub const MAX_CD_STEPS: usize = 100_000;

/// `small`'s energy scale cap: it holds back grid 64 alone, whose scale grows past it at the
/// official constant rate (reports/stability.md).
pub const SMALL_ENERGY_SCALE_CAP: f64 = 4e5;

/// One conv layer (shorthand for the architecture tables below).
const fn layer(channels: usize, kernel: usize, stride: usize) -> ConvLayer {
    ConvLayer { channels, kernel, stride }
}

/// The official architectures (model.py), keyed by grid size.
pub fn paper_layers(size: usize) -> Option<Vec<ConvLayer>> {
    match size {
        4 => Some(vec![layer(96, 5, 2), layer(128, 3, 1), layer(256, 3, 1)]),
        16 => Some(vec![layer(96, 5, 2), layer(128, 3, 1), layer(256, 3, 1), layer(512, 3, 1)]),
        64 => Some(vec![layer(64, 5, 2), layer(128, 5, 2), layer(256, 5, 2), layer(512, 5, 2)]),
        _ => None,
    }
}

/// A generic net for a grid size without an official architecture: stride-2 5×5 convs that
/// halve the image down to 4×4 (or one conv for grids of 4 and under), doubling channels from
/// `base` up to `cap`.
pub fn generic_layers(size: usize, base: usize, cap: usize) -> Vec<ConvLayer> {
    let mut layers = Vec::new();
    let (mut s, mut c) = (size, base);
    loop {
        let stride = if s > 4 { 2 } else { 1 };
        layers.push(layer(c, if s > 4 { 5 } else { 3 }, stride));
        s = s.div_ceil(stride);
        c = (c * 2).min(cap);
        if s <= 4 {
            break;
        }
    }
    layers
}

impl Config {
    /// The official code's architectures and hyper-parameters (grid sizes with no official
    /// architecture fall back to [`generic_layers`]).
    pub fn paper() -> Config {
        Config {
            grids: grids_for(&[1, 4, 16, 64], |s| paper_layers(s).unwrap_or_else(|| generic_layers(s, 64, 512))),
            norm: Norm::Batch,
            langevin: LangevinConfig {
                form: LangevinForm::Code,
                steps: 90,
                delta: 0.3,
                sigma: 50.0,
                noise: false,
                clip: Some([0.0, 255.0]),
                max_step: None,
            },
            optimizer: OptimizerConfig {
                lr: 0.3,
                beta1: 0.5,
                beta2: 0.999,
                epsilon: 1e-8,
                lr_half_life: None,
                lr_constant_for: 0,
                weight_decay: 0.0,
                energy_scale_cap: None,
            },
            batch_size: 100,
            method: Method::Multigrid,
            cd_steps: None,
            energy_penalty: 0.0,
        }
    }

    /// Sized for training on a CPU and in the browser: the paper's configuration with far fewer
    /// channels (grid 64 is 16→32→64→128), T = 30 and batch 8 (see README, "Presets", for the
    /// measurements behind it).
    pub fn small() -> Config {
        let paper = Config::paper();
        Config {
            grids: grids_for(&paper.scales(), |s| match s {
                4 => vec![layer(32, 3, 1), layer(64, 3, 1)],
                16 => vec![layer(32, 5, 2), layer(64, 3, 1), layer(96, 3, 2)],
                64 => vec![layer(16, 5, 2), layer(32, 5, 2), layer(64, 5, 2), layer(128, 5, 2)],
                _ => generic_layers(s, 16, 128),
            }),
            langevin: LangevinConfig { steps: 30, ..paper.langevin.clone() },
            // The cap and the decaying rate: reports/stability.md.
            optimizer: OptimizerConfig {
                energy_scale_cap: Some(SMALL_ENERGY_SCALE_CAP),
                lr_half_life: Some(1000.0),
                lr_constant_for: 6000,
                ..paper.optimizer.clone()
            },
            batch_size: 8,
            ..paper
        }
    }

    /// For the bundled digits (data/digits: MNIST padded to 32×32): `small`'s nets for grids 4
    /// and 16 and a grid 32 of 16→32→64 channels, with `small`'s Langevin and optimiser settings.
    pub fn digits() -> Config {
        let small = Config::small();
        Config {
            grids: grids_for(&[1, 4, 16, 32], |s| match s {
                32 => vec![layer(16, 5, 2), layer(32, 5, 2), layer(64, 5, 2)],
                _ => small.grids.iter().find(|g| g.size == s).expect("small has grids 4 and 16").layers.clone(),
            }),
            // The optimiser weights/digits.bpk was learned with: the official one.
            optimizer: Config::paper().optimizer,
            ..small
        }
    }

    /// For tests: three grids up to 16×16, a few channels, T = 10, no normalisation.
    pub fn tiny() -> Config {
        let paper = Config::paper();
        Config {
            grids: grids_for(&[1, 4, 16], |s| match s {
                4 => vec![layer(8, 3, 1)],
                16 => vec![layer(8, 5, 2), layer(16, 3, 2)],
                _ => generic_layers(s, 8, 16),
            }),
            norm: Norm::None,
            langevin: LangevinConfig { steps: 10, ..paper.langevin.clone() },
            batch_size: 8,
            ..paper
        }
    }

    pub fn preset(name: &str) -> Result<Config, Error> {
        match name {
            "paper" => Ok(Config::paper()),
            "small" => Ok(Config::small()),
            "digits" => Ok(Config::digits()),
            "tiny" => Ok(Config::tiny()),
            _ => Err(Error::Config(format!("unknown preset '{name}': use paper, small, digits or tiny"))),
        }
    }

    pub const PRESETS: [&'static str; 4] = ["paper", "small", "digits", "tiny"];

    pub fn from_json(json: &str) -> Result<Config, Error> {
        let config: Config =
            serde_json::from_str(json).map_err(|e| Error::Config(format!("invalid configuration JSON: {e}")))?;
        config.validate()?;
        Ok(config)
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).expect("a Config always serialises")
    }

    /// Image sizes from coarse to fine: 1 (the per-channel mean, which has no net), then every
    /// grid's size. Derived from `grids`, the one list of grids.
    pub fn scales(&self) -> Vec<usize> {
        std::iter::once(1).chain(self.grids.iter().map(|g| g.size)).collect()
    }

    /// The finest grid's image size.
    pub fn image_size(&self) -> usize {
        self.grids.last().map_or(1, |g| g.size)
    }

    /// Langevin steps of one CD / PCD chain (see [`Config::cd_steps`]).
    pub fn cd_steps(&self) -> usize {
        self.cd_steps.unwrap_or(self.langevin.steps * self.grids.len())
    }

    /// Langevin steps of one chain as this model runs it: T on each grid for multi-grid, the
    /// finest grid's [`Config::cd_steps`] for CD and PCD.
    pub fn chain_steps(&self) -> usize {
        match self.method {
            Method::Multigrid => self.langevin.steps,
            Method::Cd | Method::Pcd => self.cd_steps(),
        }
    }

    /// Whether `other` has this configuration's nets (grids, layers, normalisation). A model keeps
    /// its nets for life: the error names where they differ.
    pub fn same_nets(&self, other: &Config) -> Result<(), Error> {
        if self.grids != other.grids {
            let (these, those) = nets_apart(self, other);
            return Err(Error::Config(format!(
                "{these} are not the model's nets ({those}): a model keeps its nets; start a new one to change them"
            )));
        }
        if self.norm != other.norm {
            return Err(Error::Config(format!(
                "normalisation {}: a model keeps its normalisation ({}); start a new one to change it",
                self.norm.name(),
                other.norm.name()
            )));
        }
        Ok(())
    }

    /// Checks everything a model or a learner relies on, with a message that says what to fix.
    pub fn validate(&self) -> Result<(), Error> {
        let bad = |m: String| Err(Error::Config(m));
        let scales = self.scales();
        if self.grids.is_empty() {
            return bad("a configuration needs at least one grid".into());
        }
        for w in scales.windows(2) {
            if w[1] <= w[0] || w[1] % w[0] != 0 {
                return bad(format!("each grid's size must divide the next and grow (after 1), got {scales:?}"));
            }
        }
        if self.image_size() > 512 {
            return bad(format!("the finest grid is {} pixels; at most 512 is supported", self.image_size()));
        }
        for grid in &self.grids {
            let size = grid.size;
            if grid.layers.is_empty() {
                return bad(format!("grid {size} has no conv layers"));
            }
            for l in &grid.layers {
                if l.channels == 0 || l.kernel == 0 || l.stride == 0 || l.channels > 4096 || l.kernel > 15 {
                    return bad(format!("grid {size}: invalid conv layer {l:?}"));
                }
            }
        }
        // Bounded before anything is built: the per-layer limits alone allow 15 GB in one layer.
        let parameters = self.parameter_count_u64();
        if parameters > MAX_PARAMETERS {
            return bad(format!(
                "the nets would have {parameters} parameters; at most {MAX_PARAMETERS} are supported \
                 (use fewer channels, smaller kernels or larger strides)"
            ));
        }
        let lv = &self.langevin;
        if lv.steps > 10_000 || !(lv.delta.is_finite() && lv.delta > 0.0) {
            return bad(format!("Langevin needs 0 ≤ T ≤ 10000 and δ > 0, got T = {}, δ = {}", lv.steps, lv.delta));
        }
        if lv.form == LangevinForm::Paper && !(lv.sigma.is_finite() && lv.sigma > 0.0) {
            return bad(format!("the paper form needs σ > 0, got {}", lv.sigma));
        }
        // Float32 settings must be finite: JSON numbers beyond float32's range read as infinity,
        // which JSON cannot hold, so the configuration would not load again from its own JSON.
        if let Some([lo, hi]) = lv.clip
            && !(lo.is_finite() && hi.is_finite() && lo < hi)
        {
            return bad(format!("clip range [{lo}, {hi}] is empty or not finite"));
        }
        if let Some(m) = lv.max_step
            && !(m.is_finite() && m > 0.0)
        {
            return bad(format!("the largest Langevin step must be finite and > 0, got {m}"));
        }
        let o = &self.optimizer;
        let valid = o.lr.is_finite()
            && o.lr > 0.0
            && (0.0..1.0).contains(&o.beta1)
            && (0.0..1.0).contains(&o.beta2)
            && o.epsilon.is_finite()
            && o.epsilon >= 0.0
            && o.lr_half_life.is_none_or(|h| h.is_finite() && h > 0.0)
            && o.weight_decay >= 0.0
            && o.lr * o.weight_decay < 1.0;
        if !valid {
            return bad(format!(
                "Adam needs lr > 0, 0 ≤ β < 1, a finite ε ≥ 0, a finite half-life > 0 and a weight decay \
                 0 ≤ λ < 1/lr, got {o:?}"
            ));
        }
        if let Some(cap) = o.energy_scale_cap
            && !(cap.is_finite() && cap > 0.0)
        {
            return bad(format!("the energy scale cap must be finite and > 0, got {cap}"));
        }
        if !(self.energy_penalty.is_finite() && self.energy_penalty >= 0.0) {
            return bad(format!("the energy penalty α must be finite and ≥ 0, got {}", self.energy_penalty));
        }
        if self.batch_size == 0 || self.batch_size > 4096 {
            return bad(format!("batch size must be 1..=4096, got {}", self.batch_size));
        }
        if let Some(steps) = self.cd_steps
            && steps > MAX_CD_STEPS
        {
            return bad(format!("cd_steps must be at most {MAX_CD_STEPS}, got {steps}"));
        }
        Ok(())
    }

    /// Number of trainable parameters of every grid's net.
    pub fn parameter_count(&self) -> usize {
        usize::try_from(self.parameter_count_u64()).unwrap_or(usize::MAX)
    }

    /// The same in 64 bits, saturating (a 32-bit usize, as in wasm, overflows on the largest
    /// layers that pass the per-layer checks).
    fn parameter_count_u64(&self) -> u64 {
        let norm = u64::from(self.norm == Norm::Batch);
        let n = |v: usize| v as u64;
        self.grids.iter().fold(0u64, |total, g| {
            let mut c_in = 3;
            let mut params = 0u64;
            for l in &g.layers {
                let (c, k) = (n(l.channels), n(l.kernel));
                let conv = c.saturating_mul(c_in).saturating_mul(k * k);
                params = params.saturating_add(conv).saturating_add(c + 2 * norm * c);
                c_in = c;
            }
            let fc = c_in.saturating_mul(n(g.feature_size()).saturating_pow(2));
            total.saturating_add(params).saturating_add(fc).saturating_add(1)
        })
    }
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

fn grids_for(scales: &[usize], layers: impl Fn(usize) -> Vec<ConvLayer>) -> Vec<GridConfig> {
    scales[1..].iter().map(|&size| GridConfig { size, layers: layers(size) }).collect()
}

/// The settings a person may change on top of a preset or a checkpoint: the command line's
/// flags (`multigrid train --steps 30 --lr 0.01`) and the page's controls are this one struct.
/// Unset fields keep the configuration's value; the architecture is not among them.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, clap::Args)]
#[serde(deny_unknown_fields)]
#[cfg_attr(all(test, not(target_arch = "wasm32")), derive(ts_rs::TS), ts(export, optional_fields))]
pub struct Overrides {
    /// multigrid, cd or pcd.
    #[arg(long)]
    pub method: Option<Method>,
    /// Batch size (observed images per learning iteration).
    #[arg(long)]
    pub batch: Option<usize>,
    /// Langevin steps T per grid.
    #[arg(long)]
    pub steps: Option<usize>,
    /// Langevin step size δ.
    #[arg(long)]
    pub delta: Option<f64>,
    /// Adam learning rate.
    #[arg(long)]
    pub lr: Option<f64>,
    /// Iterations over which the learning rate halves (0: constant, as in the official code).
    #[arg(long)]
    pub lr_half_life: Option<f64>,
    /// Iterations at the full learning rate before it starts to halve.
    #[arg(long)]
    #[cfg_attr(all(test, not(target_arch = "wasm32")), ts(optional, type = "number"))]
    pub lr_constant_for: Option<u64>,
    /// Decoupled weight decay λ: every parameter × (1 − lr·λ) before each Adam step (0: plain
    /// Adam, as in the official code).
    #[arg(long)]
    pub weight_decay: Option<f64>,
    /// Langevin noise: on or off.
    #[arg(long, value_parser = on_off, value_name = "on|off")]
    pub noise: Option<bool>,
    /// The largest move of a pixel in one Langevin step, in grey levels (0: unbounded, as in the
    /// official code).
    #[arg(long)]
    pub max_step: Option<f64>,
    /// Normalisation: none or batch (a new model only: a model keeps its nets).
    #[arg(long)]
    pub norm: Option<Norm>,
    /// α of an energy-magnitude penalty, α·(mean f(obs)² + mean f(syn)²), in every grid's loss
    /// (0: the paper's loss).
    #[arg(long)]
    pub energy_penalty: Option<f64>,
    /// The largest energy scale ‖w ⊙ γ‖ of a grid's net: after each Adam step its fully connected
    /// weights are shrunk back to it (0: free, as in the official code).
    #[arg(long)]
    pub energy_scale_cap: Option<f64>,
}

impl Overrides {
    /// Write the settings that are set into `c` (0 turns an optional setting off). Each field
    /// of the struct above has its line here, and nowhere else.
    fn apply(&self, c: &mut Config) {
        let set = |v: f64| (v != 0.0).then_some(v);
        if let Some(v) = self.method {
            c.method = v;
        }
        if let Some(v) = self.batch {
            c.batch_size = v;
        }
        if let Some(v) = self.steps {
            c.langevin.steps = v;
        }
        if let Some(v) = self.delta {
            c.langevin.delta = v;
        }
        if let Some(v) = self.lr {
            c.optimizer.lr = v;
        }
        if let Some(v) = self.lr_half_life {
            c.optimizer.lr_half_life = set(v);
        }
        if let Some(v) = self.lr_constant_for {
            c.optimizer.lr_constant_for = v;
        }
        if let Some(v) = self.weight_decay {
            c.optimizer.weight_decay = v;
        }
        if let Some(v) = self.noise {
            c.langevin.noise = v;
        }
        if let Some(v) = self.max_step {
            c.langevin.max_step = set(v).map(|m| m as f32);
        }
        if let Some(v) = self.norm {
            c.norm = v;
        }
        if let Some(v) = self.energy_penalty {
            c.energy_penalty = v;
        }
        if let Some(v) = self.energy_scale_cap {
            c.optimizer.energy_scale_cap = set(v);
        }
    }
}

/// `on` or `off`, as the command line spells a switch.
fn on_off(s: &str) -> Result<bool, String> {
    match s {
        "on" => Ok(true),
        "off" => Ok(false),
        _ => Err(format!("'{s}': use on or off")),
    }
}

impl Overrides {
    pub fn from_json(json: &str) -> Result<Overrides, Error> {
        serde_json::from_str(json).map_err(|e| Error::Config(format!("invalid settings JSON: {e}")))
    }
}

impl Config {
    /// This configuration with `overrides` applied, validated (so a bad setting is refused
    /// with the library's own limits before it reaches a model).
    pub fn with_overrides(&self, overrides: &Overrides) -> Result<Config, Error> {
        let mut c = self.clone();
        overrides.apply(&mut c);
        c.validate()?;
        Ok(c)
    }
}

/// Replace the scale list of a configuration, keeping its nets where the sizes match and
/// using [`generic_layers`] for new sizes.
pub fn with_scales(mut config: Config, scales: Vec<usize>) -> Result<Config, Error> {
    if scales.len() < 2 || scales[0] != 1 {
        return Err(Error::Config(format!("scales must start at 1 and name at least one grid, got {scales:?}")));
    }
    let widest = config.grids.iter().flat_map(|g| &g.layers).map(|l| l.channels).max().unwrap_or(64);
    let old = std::mem::take(&mut config.grids);
    config.grids = grids_for(&scales, |s| {
        old.iter()
            .find(|g| g.size == s)
            .map(|g| g.layers.clone())
            .unwrap_or_else(|| generic_layers(s, (widest / 8).max(8), widest))
    });
    config.validate()?;
    Ok(config)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overrides_apply_what_is_set_and_are_validated_with_the_library_limits() {
        let o = Overrides::from_json(r#"{"steps": 7, "lr": 0.5, "noise": false, "method": "pcd"}"#).unwrap();
        let c = Config::small().with_overrides(&o).unwrap();
        assert_eq!((c.langevin.steps, c.optimizer.lr, c.langevin.noise, c.method), (7, 0.5, false, Method::Pcd));
        assert_eq!(
            (c.batch_size, c.langevin.delta, &c.grids),
            (Config::small().batch_size, Config::small().langevin.delta, &Config::small().grids)
        );
        assert_eq!(Config::small().with_overrides(&Overrides::default()).unwrap(), Config::small());
        for bad in [r#"{"steps": 10001}"#, r#"{"batch": 0}"#, r#"{"delta": -1}"#, r#"{"lr": 0}"#] {
            let e = Config::small().with_overrides(&Overrides::from_json(bad).unwrap()).unwrap_err();
            assert!(matches!(e, Error::Config(_)), "{bad}: {e}");
        }
        assert!(Overrides::from_json(r#"{"stepz": 3}"#).unwrap_err().to_string().contains("stepz"));
    }

    #[test]
    fn nets_that_differ_are_named_where_they_differ() {
        let small = Config::small();
        assert!(
            small.same_nets(&small.with_overrides(&Overrides { lr: Some(0.1), ..Default::default() }).unwrap()).is_ok()
        );
        let mut wider = small.clone();
        wider.grids[1].layers[0].channels *= 2;
        let message = wider.same_nets(&small).unwrap_err().to_string();
        let (c, k) = (small.grids[1].layers[0].channels, small.grids[1].layers[0].kernel);
        assert!(message.contains(&format!("grid {} layers {} {k}×{k}", small.grids[1].size, 2 * c)), "{message}");
        assert!(message.contains(&format!("grid {} layers {c} {k}×{k}", small.grids[1].size)), "{message}");
        assert!(message.contains("keeps its nets"), "{message}");
        let message = Config::tiny().same_nets(&small).unwrap_err().to_string();
        assert!(message.contains("grids [1, 4, 16]") && message.contains("grids [1, 4, 16, 64]"), "{message}");
        let mut other_norm = small.clone();
        other_norm.norm = Norm::None;
        assert!(other_norm.same_nets(&small).unwrap_err().to_string().contains("keeps its normalisation"));
    }

    #[test]
    fn the_digits_preset_is_small_on_grids_up_to_32() {
        // What `multigrid train --preset small --scales 1,4,16,32` built (weights/digits.bpk),
        // when `small` learned at the official constant rate with no cap.
        let mut official = Config::small();
        official.optimizer = Config::paper().optimizer;
        assert_eq!(Config::digits(), with_scales(official, vec![1, 4, 16, 32]).unwrap());
        assert_eq!(Config::small().optimizer.energy_scale_cap, Some(SMALL_ENERGY_SCALE_CAP));
    }

    #[test]
    fn the_learning_rate_halves_every_half_life() {
        let mut o = Config::small().optimizer;
        o.lr_half_life = None;
        assert_eq!((o.lr_at(0), o.lr_at(10_000)), (o.lr, o.lr));
        let from_start = Overrides { lr_half_life: Some(1000.0), lr_constant_for: Some(0), ..Default::default() };
        let o = Config::small().with_overrides(&from_start).unwrap().optimizer;
        assert_eq!(o.lr_at(0), o.lr);
        assert!((o.lr_at(1000) - o.lr / 2.0).abs() < 1e-12 && (o.lr_at(3000) - o.lr / 8.0).abs() < 1e-12);
        // small's default: constant for 6,000 iterations, then halving every 1,000.
        let o = Config::small().optimizer;
        assert_eq!((o.lr_at(0), o.lr_at(6000)), (o.lr, o.lr));
        assert!((o.lr_at(7000) - o.lr / 2.0).abs() < 1e-12 && (o.lr_at(20_000) - o.lr / 16384.0).abs() < 1e-12);
        // Files written before the field existed halve from the start.
        let mut json: serde_json::Value = serde_json::from_str(&Config::small().to_json()).unwrap();
        json["optimizer"].as_object_mut().unwrap().remove("lr_constant_for");
        assert_eq!(Config::from_json(&json.to_string()).unwrap().optimizer.lr_constant_for, 0);
        let off = Config::small().with_overrides(&Overrides { lr_half_life: Some(0.0), ..Default::default() });
        assert_eq!(off.unwrap().optimizer.lr_half_life, None);
        for bad in [-1.0, f64::NAN, f64::INFINITY] {
            let c = Config::small().with_overrides(&Overrides { lr_half_life: Some(bad), ..Default::default() });
            assert!(c.is_err(), "half-life {bad} accepted");
        }
    }

    #[test]
    fn weight_decay_is_set_by_overrides_and_bounded() {
        let with = |l: f64| Config::small().with_overrides(&Overrides { weight_decay: Some(l), ..Default::default() });
        assert_eq!(with(1e-3).unwrap().optimizer.weight_decay, 1e-3);
        assert_eq!(Config::small().optimizer.weight_decay, 0.0, "the official code has none");
        // lr·λ ≥ 1 would flip or zero every parameter at each step.
        for bad in [-1e-3, f64::NAN, f64::INFINITY, 1.0 / Config::small().optimizer.lr] {
            assert!(with(bad).is_err(), "weight decay {bad} accepted");
        }
        // Files written before the field existed load with none.
        let mut json: serde_json::Value = serde_json::from_str(&Config::small().to_json()).unwrap();
        assert!(json["optimizer"].get("weight_decay").is_none(), "0 is not written");
        json["optimizer"]["weight_decay"] = 2e-3.into();
        assert_eq!(Config::from_json(&json.to_string()).unwrap().optimizer.weight_decay, 2e-3);
    }

    #[test]
    fn energy_scale_cap_is_set_by_overrides_and_bounded() {
        let with =
            |c: f64| Config::small().with_overrides(&Overrides { energy_scale_cap: Some(c), ..Default::default() });
        assert_eq!(with(4e5).unwrap().optimizer.energy_scale_cap, Some(4e5));
        assert_eq!(with(0.0).unwrap().optimizer.energy_scale_cap, None, "0 leaves the scale free");
        for bad in [-1.0, f64::NAN, f64::INFINITY] {
            assert!(with(bad).is_err(), "energy scale cap {bad} accepted");
        }
        let mut json: serde_json::Value = serde_json::from_str(&Config::paper().to_json()).unwrap();
        assert!(json["optimizer"].get("energy_scale_cap").is_none(), "none is not written");
        json["optimizer"]["energy_scale_cap"] = 3e5.into();
        assert_eq!(Config::from_json(&json.to_string()).unwrap().optimizer.energy_scale_cap, Some(3e5));
    }

    #[test]
    fn presets_validate_and_round_trip_through_json() {
        for name in Config::PRESETS {
            let c = Config::preset(name).unwrap();
            c.validate().unwrap();
            assert_eq!(Config::from_json(&c.to_json()).unwrap(), c);
        }
    }

    #[test]
    fn paper_preset_is_the_official_architecture() {
        let c = Config::paper();
        assert_eq!(c.grids[2].fc_inputs(), 512 * 4 * 4);
        assert_eq!(c.grids[1].fc_inputs(), 512 * 8 * 8);
        assert_eq!(c.grids[0].fc_inputs(), 256 * 2 * 2);
        assert_eq!((c.langevin.steps, c.langevin.delta, c.optimizer.lr, c.batch_size), (90, 0.3, 0.3, 100));
    }

    #[test]
    fn bad_scales_are_rejected_with_a_reason() {
        let err = with_scales(Config::tiny(), vec![1, 4, 10]).unwrap_err().to_string();
        assert!(err.contains("divide"), "{err}");
        let c = with_scales(Config::small(), vec![1, 4, 16, 32]).unwrap();
        assert_eq!(c.grids[2].size, 32);
        assert_eq!(c.grids[2].feature_size(), 4);
        assert_eq!(c.scales(), [1, 4, 16, 32]);
        assert!(with_scales(Config::tiny(), vec![4, 16]).unwrap_err().to_string().contains("start at 1"));
    }

    #[test]
    fn the_scales_are_derived_from_the_grids_and_an_older_scales_field_is_ignored() {
        let json = Config::tiny().to_json();
        assert!(!json.contains("\"scales\""), "{json}");
        let older = json.replacen('{', "{\n  \"scales\": [1, 4, 16],", 1);
        assert_eq!(Config::from_json(&older).unwrap(), Config::tiny());
        let mut c = Config::tiny();
        c.grids.swap(0, 1);
        assert!(c.validate().unwrap_err().to_string().contains("divide"), "sizes must grow");
    }
}
