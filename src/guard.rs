//! The divergence guard: learning that heals itself. It wraps [`Learner::learn`] for the command
//! line and the page alike, keeps the last good state of the model in memory (weights, Adam
//! state, persistent chains, iteration and random generator), and when an iteration goes wrong
//! rolls back to it, halves the learning rate and carries on. After [`Rule::max_rollbacks`]
//! rollbacks with no good state reached in between it gives up with [`Error::Unstable`].
//!
//! An iteration goes wrong when
//! - any figure of it is not finite (the learner refuses the update: [`Error::Diverged`]), or
//! - the energies run away: the largest |mean f| of a learned grid, over observed and
//!   synthesized images, exceeds [`Rule::growth`] times its value at the last good state (or
//!   [`Rule::floor`], whichever is larger).
//!
//! It also warns (without rolling back) when a grid's energies have split for [`SPLIT_RUN`]
//! iterations in a row ([`Guard::take_warning`]).
//!
//! The state is kept every [`Rule::keep_every`] iterations, so the window is at most that long.
//! A guard started on a resumed or loaded model, whose energies it has not seen, takes its
//! first iteration's magnitude as the reference.
//! Measured on the bundled `small` run (`weights/small-training/log.jsonl`, 3,000 healthy
//! iterations): over any 10 iterations the largest |mean f| grew at most 3.3× (floor 10³; 32.8×
//! with a floor of 100 in the first iterations, when energies leave 0), so 100× leaves a wide
//! margin; `tiny` at lr 50 reaches 10¹⁹ within tens of iterations, and trips it. The slow drift of
//! `small` after ~4,000 iterations at lr 0.3 (10⁷ → 10⁹ over hundreds of iterations) is not a
//! runaway by this rule.

use burn::prelude::*;

use crate::learner::{Iteration, Learner, LearnerState, StepHook};
use crate::{Error, Result};

/// When the guard trips and what it does then.
#[derive(Clone, Debug, PartialEq)]
pub struct Rule {
    /// Keep the state every this many iterations (when the iteration was good).
    pub keep_every: u64,
    /// An energy magnitude this many times the kept one is a runaway.
    pub growth: f32,
    /// Magnitudes below this are never compared by ratio (energies start near 0).
    pub floor: f32,
    /// The learning rate is multiplied by this at each rollback.
    pub lr_factor: f64,
    /// Give up after this many rollbacks in a row.
    pub max_rollbacks: u32,
}

impl Default for Rule {
    fn default() -> Rule {
        Rule { keep_every: 10, growth: 100.0, floor: 1e4, lr_factor: 0.5, max_rollbacks: 10 }
    }
}

/// What a guarded iteration did.
pub enum Guarded {
    Learned(Iteration),
    /// The iteration went wrong; the model is back at `to`, learning at `lr`.
    RolledBack {
        reason: String,
        to: u64,
        lr: f64,
        rollbacks_in_a_row: u32,
    },
}

/// Iterations in a row with a grid's energies split ([`crate::learner::GridStats::energies_split`]) before the
/// guard warns: the split runs it measured lasted thousands of iterations, passing blips a few.
pub const SPLIT_RUN: u32 = 50;

pub struct Guard {
    pub rule: Rule,
    /// Iterations in a row each grid's energies have been split.
    split_for: Vec<u32>,
    /// A warning not yet taken ([`Guard::take_warning`]).
    warning: Option<String>,
    /// Whether the split warning was given (once a run: with a decaying rate a split can
    /// recur for thousands of iterations while the samples hold).
    warned: bool,
    kept: LearnerState,
    /// The energy magnitude of the kept state's iteration; None until the first iteration
    /// under this guard (a resumed or loaded model's energies are not known before it).
    kept_magnitude: Option<f32>,
    rollbacks_in_a_row: u32,
}

impl Guard {
    /// Start guarding from the learner's current state.
    pub fn new(learner: &Learner, rule: Rule) -> Guard {
        let grids = learner.config.grids.len();
        Guard {
            kept: learner.state(),
            kept_magnitude: None,
            rollbacks_in_a_row: 0,
            rule,
            split_for: vec![0; grids],
            warning: None,
            warned: false,
        }
    }

    /// One learning iteration, rolled back when it goes wrong. Errors other than a divergence
    /// pass through; after too many rollbacks in a row the model is left at the last good state
    /// and [`Error::Unstable`] says so.
    pub async fn learn(
        &mut self,
        learner: &mut Learner,
        observed: Tensor<4>,
        on_step: StepHook<'_>,
    ) -> Result<Guarded> {
        let reason = match learner.learn(observed, on_step).await {
            Ok(it) => match self.runaway(&it) {
                None => {
                    if it.iteration % self.rule.keep_every == 0 {
                        self.kept = learner.state();
                        self.kept_magnitude = Some(magnitude(&it));
                        self.rollbacks_in_a_row = 0;
                    }
                    self.kept_magnitude.get_or_insert(magnitude(&it));
                    self.watch_split(&it);
                    return Ok(Guarded::Learned(it));
                }
                Some(reason) => reason,
            },
            Err(Error::Diverged { iteration, grid, what }) => format!("iteration {iteration}, grid {grid}: {what}"),
            Err(e) => return Err(e),
        };
        learner.restore(self.kept.clone());
        self.rollbacks_in_a_row += 1;
        if self.rollbacks_in_a_row > self.rule.max_rollbacks {
            return Err(Error::Unstable { rollbacks: self.rule.max_rollbacks, kept: learner.iteration, reason });
        }
        let mut config = learner.config.clone();
        config.optimizer.lr *= self.rule.lr_factor;
        let lr = config.optimizer.lr;
        learner.set_config(config);
        Ok(Guarded::RolledBack { reason, to: learner.iteration, lr, rollbacks_in_a_row: self.rollbacks_in_a_row })
    }

    /// A warning about the learning so far, once: a grid whose energies have stayed split for
    /// [`SPLIT_RUN`] iterations (the guard does not roll that back: at a constant rate every such
    /// run degraded soon after, while with `small`'s decaying rate the energies stayed split for
    /// thousands of iterations and the samples held; reports/stability.md).
    pub fn take_warning(&mut self) -> Option<String> {
        self.warning.take()
    }

    fn watch_split(&mut self, it: &Iteration) {
        for (count, g) in self.split_for.iter_mut().zip(&it.grids) {
            *count = if g.energies_split() { *count + 1 } else { 0 };
            if *count == SPLIT_RUN && !self.warned {
                self.warned = true;
                self.warning = Some(format!(
                    "iteration {}: grid {}'s energies have split for {SPLIT_RUN} iterations (mean f: observed {:.2e}, \
                     synthesized {:.2e}). At a constant learning rate the samples degraded soon after in every such \
                     run measured; keep a snapshot from before iteration {} (reports/stability.md).",
                    it.iteration,
                    g.size,
                    g.energy_observed.unwrap_or(0.0),
                    g.energy_synthesized.unwrap_or(0.0),
                    it.iteration + 1 - u64::from(SPLIT_RUN)
                ));
            }
        }
    }

    /// Why this iteration's energies count as a runaway, if they do.
    fn runaway(&self, it: &Iteration) -> Option<String> {
        let kept = self.kept_magnitude?;
        let now = magnitude(it);
        (now > self.rule.growth * kept.max(self.rule.floor)).then(|| {
            format!(
                "iteration {}: energies ran away (largest |mean f| {now:.3e}, over {}× max({kept:.3e}, {:.0e}) at iteration {})",
                it.iteration, self.rule.growth, self.rule.floor, self.kept.iteration
            )
        })
    }
}

/// The largest |mean f| of a learned grid in an iteration, over observed and synthesized images.
fn magnitude(it: &Iteration) -> f32 {
    it.grids.iter().flat_map(|g| [g.energy_observed, g.energy_synthesized]).flatten().fold(0.0, |m, e| m.max(e.abs()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Config;
    use crate::learner::GridStats;

    fn iteration(iteration: u64, energies: (f32, f32)) -> Iteration {
        let grid = |size| GridStats {
            size,
            loss: Some(energies.1 - energies.0),
            recon_error: 1.0,
            energy_observed: Some(energies.0),
            energy_synthesized: Some(energies.1),
            langevin_gradient: Some(1.0),
        };
        Iteration { iteration, observed: vec![], synthesized: vec![], grids: vec![grid(4), grid(16)] }
    }

    #[test]
    fn the_guard_warns_once_when_energies_stay_split() {
        let learner = Learner::new(Config::tiny(), 1, &crate::device::cpu()).unwrap();
        let mut guard = Guard::new(&learner, Rule::default());
        // A split that heals before SPLIT_RUN iterations says nothing.
        for i in 1..SPLIT_RUN as u64 {
            guard.watch_split(&iteration(i, (2e7, -2e7)));
        }
        guard.watch_split(&iteration(SPLIT_RUN as u64, (2e7, 2.1e7)));
        assert_eq!(guard.take_warning(), None);
        for i in 1..=SPLIT_RUN as u64 {
            guard.watch_split(&iteration(100 + i, (2e7, -2e7)));
        }
        let warning = guard.take_warning().expect("a warning after SPLIT_RUN split iterations");
        assert!(
            warning.contains("grid 4's energies have split") && warning.contains("before iteration 101"),
            "{warning}"
        );
        guard.watch_split(&iteration(200, (2e7, -2e7)));
        guard.watch_split(&iteration(201, (2e7, 2.1e7)));
        for i in 1..=SPLIT_RUN as u64 {
            guard.watch_split(&iteration(201 + i, (2e7, -2e7)));
        }
        assert_eq!(guard.take_warning(), None, "said once a run, not again when it splits again");
    }
}
