//! Langevin dynamics on one grid: gradient ascent on f with optional noise.
//!
//! Paper form:  I ← I + (δ²/2)(∂f/∂I − I/σ²) + δ·Z,   Z ~ N(0, 1)
//! Code form:   I ← I + (δ²/2)·∂f/∂I   (+ δ·Z if noise is on)
//! The drift term may be clamped to ±max_step per pixel first; either form then clamps pixels to
//! the clip range, if one is set.

use burn::prelude::*;
use burn::tensor::Distribution;

use crate::config::{LangevinConfig, LangevinForm};
use crate::energy::EnergyNet;
use crate::learner::StepHook;

/// Pixels that Langevin must leave as they are (inpainting): where `mask` is 1 the chain is
/// reset to `values` after every step.
#[derive(Clone, Debug)]
pub struct Known {
    pub mask: Tensor<4>,
    pub values: Tensor<4>,
}

impl Known {
    fn apply(&self, images: Tensor<4>) -> Tensor<4> {
        let keep = self.mask.clone();
        images * (keep.clone().neg() + 1.0) + self.values.clone() * keep
    }
}

/// f(I) per image and ∂(Σ f)/∂I, by autodiff with respect to the input. `net` should be a
/// `no_grad()` copy when its parameter gradients are not wanted (about a third faster).
pub fn energy_and_gradient(net: &EnergyNet, images: Tensor<4>) -> (Tensor<1>, Tensor<4>) {
    // A fresh leaf on the autodiff device, whatever `images` was.
    let x = images.inner().autodiff().require_grad();
    let f = net.forward(x.clone());
    let grads = f.clone().sum().backward();
    let g = x.grad(&grads).expect("the input is a tracked leaf");
    (f.inner(), g)
}

/// One Langevin update of a batch of images.
pub fn langevin_step(net: &EnergyNet, images: Tensor<4>, config: &LangevinConfig) -> Tensor<4> {
    let (_, grad) = energy_and_gradient(net, images.clone());
    let half_delta_sq = 0.5 * config.delta * config.delta;
    let drift = match config.form {
        LangevinForm::Paper => grad - images.clone() / (config.sigma * config.sigma),
        LangevinForm::Code => grad,
    };
    let mut step = drift * half_delta_sq;
    if let Some(m) = config.max_step {
        step = step.clamp(-m, m);
    }
    let mut next = images + step;
    if config.noise {
        let noise = Tensor::random(next.shape(), Distribution::Normal(0.0, 1.0), &next.device());
        next = next + noise * config.delta;
    }
    match config.clip {
        Some([lo, hi]) => next.clamp(lo, hi),
        None => next,
    }
}

/// T steps of Langevin dynamics from `images` under `net`, the net of scale `grid`. After each
/// step `on_step(grid, t, &I)`, if given, sees the chain (for drawing it); `known` pixels, if
/// given, are held fixed.
pub fn langevin(
    net: &EnergyNet,
    mut images: Tensor<4>,
    (steps, grid): (usize, usize),
    config: &LangevinConfig,
    known: Option<&Known>,
    on_step: &mut StepHook<'_>,
) -> Tensor<4> {
    if let Some(known) = known {
        images = known.apply(images);
    }
    let net = net.clone().no_grad();
    for t in 0..steps {
        images = langevin_step(&net, images, config);
        if let Some(known) = known {
            images = known.apply(images);
        }
        if let Some(watch) = on_step {
            watch(grid, t, &images);
        }
    }
    images
}
