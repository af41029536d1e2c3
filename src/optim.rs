//! Adam for the energy nets: Burn's Adam step, with the per-parameter state kept here, flat and
//! in the order of [`crate::energy::parameter_specs`], so that checkpoints name it and any device
//! can hold it. The learner only says "step grid k's net with these gradients".

use burn::optim::{Adam, AdamConfig, AdamState, Optimizer};
use burn::tensor::Gradients;

use crate::config::{Config, OptimizerConfig};
use crate::energy::EnergyNet;

/// Adam's state for every parameter of every grid's net.
#[derive(Clone)]
pub struct NetsAdam {
    adam: Adam,
    /// `states[k][i]`: parameter i of grid k's net (None until its first step).
    pub(crate) states: Vec<Vec<Option<AdamState<1>>>>,
}

fn adam(o: &OptimizerConfig) -> Adam {
    AdamConfig::new().with_beta_1(o.beta1).with_beta_2(o.beta2).with_epsilon(o.epsilon).build()
}

impl NetsAdam {
    /// A fresh state (no moments yet) for these nets.
    pub fn new(config: &Config, nets: &[EnergyNet]) -> NetsAdam {
        let states = nets.iter().map(|n| vec![None; n.flat_parameters().len()]).collect();
        NetsAdam { adam: adam(&config.optimizer), states }
    }

    /// New β and ε (the moments are kept).
    pub fn set_config(&mut self, config: &OptimizerConfig) {
        self.adam = adam(config);
    }

    /// θ_k ← Adam(θ_k, ∂loss/∂θ_k): grid k's net after one step, the step that follows
    /// `iteration` learned iterations (at [`OptimizerConfig::lr_at`] that iteration), after the
    /// decoupled weight decay θ ← (1 − lr·λ)·θ when λ ([`OptimizerConfig::weight_decay`]) is set,
    /// and projected back to the energy scale cap ([`OptimizerConfig::energy_scale_cap`]) if any.
    pub fn step(&mut self, k: usize, net: &EnergyNet, config: &Config, iteration: u64, grads: &Gradients) -> EnergyNet {
        let lr = config.optimizer.lr_at(iteration);
        let decay = config.optimizer.weight_decay;
        let updated = net
            .parameters_and_gradients(Some(grads))
            .into_iter()
            .zip(self.states[k].iter_mut())
            .map(|(((value, id), grad), state)| match grad {
                Some(grad) => {
                    let value = if decay > 0.0 { value * (1.0 - lr * decay) } else { value };
                    let (value, next) = self.adam.step(lr, value, grad, state.take());
                    *state = next;
                    (value, id)
                }
                None => (value, id),
            })
            .collect();
        let net = EnergyNet::build(&config.grids[k], config.norm, updated);
        match config.optimizer.energy_scale_cap {
            Some(cap) => net.with_energy_scale_at_most(cap),
            None => net,
        }
    }
}
