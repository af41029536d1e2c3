//! Multi-grid energy-based generative ConvNets (Gao, Lu, Zhou, Zhu & Wu, CVPR 2018) on Burn.
//!
//! For each grid (1×1 → 4×4 → 16×16 → 64×64 by default) an energy-based model
//! p(I) ∝ exp(f_θ(I)) whose f is a bottom-up ConvNet ([`energy::EnergyNet`]). Learning
//! ([`learner::Learner`], the paper's Algorithm 1) synthesizes one image per observed image by
//! starting from its 1×1 mean, up-sampling ([`pyramid`]) and running Langevin dynamics
//! ([`langevin`]) on every grid in turn, then updates every grid's net from the difference
//! between observed and synthesized images. CD and persistent CD are offered as baselines.

pub mod bench;
pub mod checkpoint;
pub mod config;
pub mod data;
pub mod device;
pub mod energy;
pub mod eval;
pub mod guard;
pub mod inpaint;
pub mod integrity;
pub mod interop;
pub mod langevin;
pub mod learner;
pub mod mosaic;
pub mod optim;
pub mod pyramid;
pub mod session;

#[cfg(target_arch = "wasm32")]
pub mod web;

pub use config::{Config, LangevinForm, Method, Norm, Overrides};
pub use learner::Learner;
pub use session::{Session, Step};

/// Everything that can go wrong, each with a message that says what was wrong and what to do.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("configuration: {0}")]
    Config(String),
    #[error("{0}")]
    Data(String),
    #[error("checkpoint: {0}")]
    Checkpoint(String),
    #[error("{0}")]
    Device(String),
    #[error(
        "learning diverged at iteration {iteration} (grid {grid}: {what}); the model was left as it was before this iteration. Lower the learning rate or δ, or use batch normalisation"
    )]
    Diverged { iteration: u64, grid: usize, what: String },
    #[error(
        "learning kept diverging: {rollbacks} rollbacks in a row, each halving the learning rate, did not help (last: {reason}). The model is left at iteration {kept}, its last good state. Lower δ or T, or use batch normalisation"
    )]
    Unstable { rollbacks: u32, kept: u64, reason: String },
    #[error("{0}")]
    Io(String),
}

impl Error {
    pub fn io(context: impl std::fmt::Display, e: std::io::Error) -> Error {
        Error::Io(format!("{context}: {e}"))
    }

    /// The kind of error, as a name: what the page tells apart (it arrives in JavaScript as the
    /// `name` of the thrown `Error`). Only `DeviceError` says the device failed; the others are
    /// about the input or the learning, and the model stays usable.
    pub fn kind(&self) -> &'static str {
        match self {
            Error::Config(_) => "ConfigError",
            Error::Data(_) => "DataError",
            Error::Checkpoint(_) => "CheckpointError",
            Error::Device(_) => "DeviceError",
            Error::Diverged { .. } => "DivergedError",
            Error::Unstable { .. } => "UnstableError",
            Error::Io(_) => "IoError",
        }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
