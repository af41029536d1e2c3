//! The divergence guard: learning that heals itself. It wraps [`Learner::learn`] (for
//! [`crate::Session::step`]), keeps recent good states of the model in memory (weights, Adam
//! state, persistent chains, iteration and random generator), and when learning goes wrong
//! rolls back to one, halves the learning rate and carries on. After [`Rule::max_rollbacks`]
//! rollbacks with no good state reached in between it gives up with [`Error::Unstable`].
//!
//! Learning goes wrong in three ways, each rolled back:
//! - a figure of the iteration is not finite (the learner refuses it: [`Error::Diverged`]);
//! - the energies run away: the largest |mean f| of a learned grid exceeds [`Rule::growth`] times
//!   its value at the last kept state (or [`Rule::floor`], whichever is larger); back to the
//!   state kept every [`Rule::keep_every`] iterations;
//! - the finest grid's Langevin gradient collapses: its median over the last
//!   [`Rule::collapse_recent`] iterations falls below 1/[`Rule::collapse_factor`] of its median
//!   over [`Rule::collapse_reference`]: the synthesized images sit on a plateau of f and stop
//!   moving. The harm began long before, so this goes back to the oldest of [`Rule::anchors`]
//!   states kept [`Rule::anchor_every`] iterations apart, and reseeds the learner's generator so
//!   that the retry takes other batches.
//!
//! It also warns, once a run, when a grid's energies stay split for [`SPLIT_RUN`] iterations
//! ([`Guard::take_warning`]); that alone is not rolled back. The thresholds were fitted on the
//! logs of reports/stability.md; reports/reliability.md has the evidence.

use std::collections::VecDeque;

use burn::prelude::*;

use crate::learner::{GridStats, Iteration, Learner, LearnerState, StepHook};
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
    /// Keep a deep anchor state every this many iterations, for rolling back a collapse.
    pub anchor_every: u64,
    /// How many anchor states are kept: a collapse goes back to the oldest, at least
    /// `anchor_every · (anchors − 1)` iterations back.
    pub anchors: usize,
    /// A collapse: the recent median Langevin gradient this many times below the reference one.
    pub collapse_factor: f32,
    /// The recent window, in iterations.
    pub collapse_recent: usize,
    /// The reference window: from this many iterations back (the first) to this many (the second).
    pub collapse_reference: (usize, usize),
}

impl Default for Rule {
    fn default() -> Rule {
        // Fitted on the stability study's logs (reports/reliability.md); the energy rule's margin
        // on the published models' logs: reports/guard.md.
        Rule {
            keep_every: 10,
            growth: 100.0,
            floor: 1e4,
            lr_factor: 0.5,
            max_rollbacks: 10,
            anchor_every: 1000,
            anchors: 3,
            collapse_factor: 5.0,
            collapse_recent: 250,
            collapse_reference: (2500, 500),
        }
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

/// Iterations in a row with a grid's energies split ([`GridStats::energies_split`]) before the
/// guard warns (passing blips last a few).
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
    /// States every [`Rule::anchor_every`] iterations, oldest first (the starting state too).
    anchors: VecDeque<LearnerState>,
    /// The finest learned grid's Langevin gradient norm, one entry per iteration, back to the
    /// oldest anchor or `collapse_reference.0` iterations, whichever is older.
    gradients: VecDeque<(u64, f32)>,
    /// Collapses rolled back so far (salts the reseeding, so each retry differs).
    collapses: u64,
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
            anchors: VecDeque::from([learner.state()]),
            gradients: VecDeque::new(),
            collapses: 0,
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
                    if let Some(reason) = self.watch_gradients(&it) {
                        return Ok(self.roll_back_collapse(learner, reason));
                    }
                    if it.iteration % self.rule.anchor_every == 0 {
                        self.anchors.push_back(learner.state());
                        if self.anchors.len() > self.rule.anchors {
                            self.anchors.pop_front();
                        }
                    }
                    return Ok(Guarded::Learned(it));
                }
                Some(reason) => reason,
            },
            Err(Error::Diverged { iteration, grid, what }) => format!("iteration {iteration}, grid {grid}: {what}"),
            Err(e) => return Err(e),
        };
        self.go_back(learner, self.kept.clone());
        self.rollbacks_in_a_row += 1;
        if self.rollbacks_in_a_row > self.rule.max_rollbacks {
            return Err(Error::Unstable { rollbacks: self.rule.max_rollbacks, kept: learner.iteration, reason });
        }
        let lr = self.lower_lr(learner);
        Ok(Guarded::RolledBack { reason, to: learner.iteration, lr, rollbacks_in_a_row: self.rollbacks_in_a_row })
    }

    /// Record the finest learned grid's Langevin gradient; if it has collapsed, say how. Only
    /// that grid is watched: a coarser grid's gradient can fall as far in a healthy run.
    fn watch_gradients(&mut self, it: &Iteration) -> Option<String> {
        let (far, near) = self.rule.collapse_reference;
        let finest = finest_gradient(&it.grids)?;
        self.remember_gradient(it.iteration, finest.1);
        let n = self.gradients.len();
        if n < far {
            return None;
        }
        let median_of = |range: std::ops::Range<usize>| {
            let mut v: Vec<f32> = self.gradients.range(range).map(|(_, g)| *g).collect();
            median(&mut v)
        };
        let recent = median_of(n - self.rule.collapse_recent..n)?;
        let reference = median_of(n - far..n - near)?;
        (recent * self.rule.collapse_factor < reference).then(|| {
            format!(
                "iteration {}: grid {}'s Langevin gradient collapsed (median {recent:.3e} over the last {} iterations, \
                 against {reference:.3e} from {far} to {near} iterations back): the synthesized images stopped moving",
                it.iteration, finest.0, self.rule.collapse_recent
            )
        })
    }

    /// Recall the grids' figures of iterations learned before this guard started (a resumed
    /// run's log), oldest first: without them a collapse under way would go unwatched for the
    /// first `collapse_reference.0` iterations after a resume.
    pub fn recall_gradients(&mut self, history: impl IntoIterator<Item = (u64, Vec<GridStats>)>) {
        for (iteration, grids) in history {
            if let Some((_, gradient)) = finest_gradient(&grids) {
                self.remember_gradient(iteration, gradient);
            }
        }
    }

    fn remember_gradient(&mut self, iteration: u64, gradient: f32) {
        self.gradients.push_back((iteration, gradient));
        // Kept back to the oldest anchor too, so that a retry is watched from its first iteration.
        while self.gradients.len()
            > self.rule.collapse_reference.0 + self.rule.anchor_every as usize * self.rule.anchors
        {
            self.gradients.pop_front();
        }
    }

    /// Back to the oldest anchor, at a lower learning rate and with the learner's generator
    /// reseeded (the same batches would lead to the same collapse).
    fn roll_back_collapse(&mut self, learner: &mut Learner, reason: String) -> Guarded {
        let anchor = self.anchors.front().expect("the starting state is an anchor").clone();
        self.anchors.truncate(1);
        self.go_back(learner, anchor);
        self.collapses += 1;
        learner.branch(self.collapses);
        let to = learner.iteration;
        self.kept = learner.state();
        self.kept_magnitude = None;
        self.rollbacks_in_a_row = 1;
        self.split_for.iter_mut().for_each(|c| *c = 0);
        let lr = self.lower_lr(learner);
        Guarded::RolledBack { reason, to, lr, rollbacks_in_a_row: 1 }
    }

    /// Restore `state`, forgetting the gradients of the iterations it undoes (they will be
    /// learned again): every rollback goes through here.
    fn go_back(&mut self, learner: &mut Learner, state: LearnerState) {
        learner.restore(state);
        let to = learner.iteration;
        self.gradients.retain(|(i, _)| *i <= to);
    }

    /// Multiply the learning rate by [`Rule::lr_factor`]; the new rate.
    fn lower_lr(&self, learner: &mut Learner) -> f64 {
        let mut config = learner.config.clone();
        config.optimizer.lr *= self.rule.lr_factor;
        let lr = config.optimizer.lr;
        learner.set_config(config);
        lr
    }

    /// A warning about the learning so far, once a run: a grid whose energies have stayed split
    /// for [`SPLIT_RUN`] iterations (not rolled back: with a decaying rate a split can last while
    /// the samples hold).
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
                     synthesized {:.2e}). The samples may degrade from here; if the finest grid's Langevin gradient \
                     then collapses, the guard rolls back up to {} iterations. Keep a snapshot from before iteration {}.",
                    it.iteration,
                    g.size,
                    g.energy_observed.unwrap_or(0.0),
                    g.energy_synthesized.unwrap_or(0.0),
                    self.rule.anchor_every * (self.rule.anchors as u64),
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

/// The watched grid, the finest learned one, and its Langevin gradient.
fn finest_gradient(grids: &[GridStats]) -> Option<(usize, f32)> {
    grids.iter().rev().find_map(|g| Some((g.size, g.langevin_gradient?)))
}

/// The median of `v` (reordered), None if empty.
fn median(v: &mut [f32]) -> Option<f32> {
    if v.is_empty() {
        return None;
    }
    let mid = v.len() / 2;
    Some(*v.select_nth_unstable_by(mid, f32::total_cmp).1)
}

/// The largest |mean f| of a learned grid in an iteration, over observed and synthesized images.
fn magnitude(it: &Iteration) -> f32 {
    it.grids.iter().flat_map(|g| [g.energy_observed, g.energy_synthesized]).flatten().fold(0.0, |m, e| m.max(e.abs()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Config;

    fn iteration(iteration: u64, energies: (f32, f32)) -> Iteration {
        with_gradients(iteration, energies, 1.0, 1.0)
    }

    /// Grids 4 and 16 (the finest) with the Langevin gradients given.
    fn with_gradients(iteration: u64, energies: (f32, f32), coarse: f32, gradient: f32) -> Iteration {
        let grid = |size, langevin_gradient| GridStats {
            size,
            loss: Some(energies.1 - energies.0),
            recon_error: 1.0,
            energy_observed: Some(energies.0),
            energy_synthesized: Some(energies.1),
            langevin_gradient: Some(langevin_gradient),
        };
        Iteration { iteration, observed: vec![], synthesized: vec![], grids: vec![grid(4, coarse), grid(16, gradient)] }
    }

    #[test]
    fn a_collapse_is_a_lasting_fall_of_the_langevin_gradient_not_its_noise() {
        let learner = Learner::new(Config::tiny(), 1, &crate::device::cpu()).unwrap();
        let mut guard = Guard::new(&learner, Rule::default());
        let (far, _) = guard.rule.collapse_reference;
        // Healthy: a gradient that swings 12× from one iteration to the next, and grows; a coarser
        // grid's that falls 100× midway is not watched.
        for i in 1..=3 * far as u64 {
            let swing = [500.0, 2000.0, 6000.0][i as usize % 3];
            let g = swing * (1.0 + i as f32 / 1000.0);
            let coarse = if i < 2 * far as u64 { 1000.0 } else { 10.0 };
            assert_eq!(guard.watch_gradients(&with_gradients(i, (7e6, 6e6), coarse, g)), None, "iteration {i}");
        }
        // A fall to 1/20 (the study's collapses: 1,934 → 100–180) is told within the recent window.
        let start = 3 * far as u64;
        let told = (1..=guard.rule.collapse_recent as u64).find_map(|i| {
            guard.watch_gradients(&with_gradients(start + i, (1.6e7, -1.6e7), 10.0, 100.0)).map(|r| (i, r))
        });
        let (after, reason) = told.expect("a collapse is told");
        assert!(
            after > guard.rule.collapse_recent as u64 / 2 - 2,
            "told after {after} iterations: one bad stretch of a few is noise"
        );
        assert!(reason.contains("grid 16's Langevin gradient collapsed"), "{reason}");
    }

    #[test]
    fn a_resumed_guard_watches_with_the_recalled_gradients_at_once() {
        let learner = Learner::new(Config::tiny(), 1, &crate::device::cpu()).unwrap();
        let rule = Rule::default();
        let (far, _) = rule.collapse_reference;
        let fallen = |guard: &mut Guard| {
            (1..=rule.collapse_recent as u64)
                .find_map(|i| guard.watch_gradients(&with_gradients(far as u64 + i, (1.6e7, -1.6e7), 10.0, 100.0)))
        };
        let mut blind = Guard::new(&learner, rule.clone());
        assert_eq!(fallen(&mut blind), None, "with no history, a fall is not told");
        let mut resumed = Guard::new(&learner, rule.clone());
        resumed.recall_gradients((1..=far as u64).map(|i| (i, with_gradients(i, (7e6, 6e6), 1000.0, 2000.0).grids)));
        assert!(fallen(&mut resumed).is_some(), "with the log's history, the same fall is told");
    }

    // Native only: it blocks on the learner's futures, which the browser's test runner cannot
    // (there the guard runs inside `Trainer::learn`, tests/web.rs).
    #[cfg(not(target_arch = "wasm32"))]
    #[test]
    fn a_collapse_rolls_back_to_the_oldest_anchor_at_half_the_rate_on_other_batches() {
        use crate::device::{block_on, read_all};
        let device = crate::device::cpu();
        // A gentle rate, so that no iteration here is a runaway (which would roll back 10).
        let mut config = Config::tiny();
        config.optimizer.lr = 1e-3;
        let mut learner = Learner::new(config.clone(), 1, &device).unwrap();
        let rule = Rule { anchor_every: 3, anchors: 2, ..Rule::default() };
        let mut guard = Guard::new(&learner, rule);
        let size = learner.config.image_size();
        let observed =
            Tensor::<4>::random([8, 3, size, size], burn::tensor::Distribution::Uniform(0.0, 255.0), &device);
        let mut anchor = None;
        for _ in 0..8 {
            let batch = learner.pick_batch(&observed);
            let learned = block_on(guard.learn(&mut learner, batch, None));
            assert!(matches!(learned, Ok(Guarded::Learned(_))), "iteration {} was not learned", learner.iteration);
            if learner.iteration == 3 {
                anchor = Some(learner.state());
            }
        }
        // Anchors at 3 and 6 (the start dropped: two kept): the oldest, 3, is where a collapse goes.
        let lr = learner.config.optimizer.lr;
        let Guarded::RolledBack { to, lr: lowered, .. } = guard.roll_back_collapse(&mut learner, "collapsed".into())
        else {
            panic!("a collapse rolls back")
        };
        assert_eq!((to, learner.iteration), (3, 3));
        assert_eq!(lowered, lr * 0.5);
        assert_eq!(learner.config.optimizer.lr, lowered);
        let anchor = anchor.unwrap();
        let values = |l: &Learner| {
            block_on(read_all(l.nets.iter().map(|n| n.flat_parameters()[0].0.clone()).collect())).unwrap()
        };
        let retried = learner.batch_indices(8 * 64);
        let mut original = Learner::new(config, 1, &device).unwrap();
        original.restore(anchor);
        assert_eq!(values(&learner), values(&original), "the weights are the anchor's");
        assert_ne!(retried, original.batch_indices(8 * 64), "the retry draws other batches");
        assert!(guard.gradients.iter().all(|(i, _)| *i <= 3), "the undone iterations' gradients are forgotten");
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
