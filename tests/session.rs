//! The training session that the command line and the page both drive: a step, a rollback, a
//! run that cannot be saved by rollbacks, a resume and a change of settings.
#![cfg(not(target_arch = "wasm32"))]

mod common;
use common::*;
use multigrid_ebm::data::ImageSet;
use multigrid_ebm::device::block_on;
use multigrid_ebm::session::{Learned, LogLine, Step, log_up_to};
use multigrid_ebm::{Config, Error, Overrides, Session, checkpoint};

/// A `tiny` session (or `config`) on 12 pseudo-random 16×16 images.
fn session(config: Config, seed: u64) -> Session {
    let mut s = Session::new(config, seed, &cpu()).unwrap();
    let mut images = ImageSet::new(16);
    for i in 0..12 {
        images.push(format!("image {i}"), pseudo_random(3 * 16 * 16, i, 0.0, 255.0));
    }
    s.set_images(images).unwrap();
    s
}

fn learned(step: Step) -> Learned {
    match step {
        Step::Learned(l) => l,
        other => panic!("expected a learned step, got {other:?}"),
    }
}

#[test]
fn a_step_learns_one_iteration_and_shows_its_images() {
    let mut s = session(Config::tiny(), 1);
    let l = learned(block_on(s.step(5)).unwrap());
    assert_eq!((l.iteration, s.iteration(), l.grids.len()), (1, 1, 2));
    assert!(l.grids.iter().all(|g| g.loss.is_some_and(f32::is_finite)), "{l:?}");
    assert_eq!(l.lr, Config::tiny().optimizer.lr);
    let shown = s.shown();
    assert_eq!((shown.observed.len(), shown.synthesized.len()), (3, 3), "every scale, 1×1 first");
    assert_eq!(shown.synthesized[2].dims(), [8, 3, 16, 16], "a batch of 8 at the finest grid");
    assert_eq!(shown.frames.len(), 4, "T = 10, a frame every 5 steps, 2 grids");
    let rgba = block_on(s.read_shown(true, true)).unwrap();
    assert_eq!((rgba.observed[2].len(), rgba.frames.len()), (8 * 16 * 16 * 4, 4));
    assert!(Session::new(Config::tiny(), 1, &cpu()).unwrap().images().is_empty());
    let err = block_on(Session::new(Config::tiny(), 1, &cpu()).unwrap().step(0)).unwrap_err();
    assert!(matches!(err, Error::Data(_)) && err.to_string().contains("no observed images"), "{err}");
}

#[test]
fn a_diverging_step_is_rolled_back_at_half_the_rate_and_shows_nothing_new() {
    let mut s = session(Config::tiny(), 1);
    s.apply(&Overrides { lr: Some(50.0), ..Default::default() }).unwrap();
    let (mut rollback, mut last_learned) = (None, 0);
    for _ in 0..30 {
        match block_on(s.step(0)).unwrap() {
            Step::Learned(l) => last_learned = l.iteration,
            Step::Rollback(r) => {
                rollback = Some(r);
                break;
            }
            Step::Stopped(stopped) => panic!("stopped: {}", stopped.message),
        }
    }
    let r = rollback.expect("lr 50 diverges within 30 iterations");
    assert!(r.to <= last_learned && s.iteration() == r.to, "back at {} after {last_learned}", r.to);
    assert_eq!((r.lr, s.config().optimizer.lr, r.rollbacks_in_a_row), (25.0, 25.0, 1));
    assert_eq!(s.shown().synthesized.len(), if last_learned > 0 { 3 } else { 0 }, "what was shown stays");
}

#[test]
fn a_run_that_rollbacks_cannot_save_stops_at_its_last_good_state() {
    let mut s = session(Config::tiny(), 1);
    s.apply(&Overrides { lr: Some(1e30), ..Default::default() }).unwrap();
    let stopped = (0..40)
        .find_map(|_| match block_on(s.step(0)).unwrap() {
            Step::Stopped(stopped) => Some(stopped),
            _ => None,
        })
        .expect("a rate of 1e30 halved ten times still diverges");
    assert_eq!((stopped.kept, s.iteration()), (0, 0));
    assert!(stopped.message.contains("kept diverging"), "{}", stopped.message);
    assert!(matches!(Error::from(stopped), Error::Unstable { rollbacks: 10, kept: 0, .. }));
}

#[test]
fn a_resumed_session_continues_as_the_original_would() {
    let mut original = session(Config::tiny(), 3);
    let mut log = String::new();
    for _ in 0..4 {
        let step = block_on(original.step(0)).unwrap();
        log += &format!("{}\n", LogLine { step, seconds: 0.1, rss_mb: None }.to_json());
    }
    let bytes = block_on(original.export(multigrid_ebm::session::Format::Bpk)).unwrap();
    // Two more iterations the interrupted run never saved: cut from the log on resuming.
    let mut longer = log.clone();
    for _ in 0..2 {
        let step = block_on(original.step(0)).unwrap();
        longer += &format!("{}\n", LogLine { step, seconds: 0.1, rss_mb: None }.to_json());
    }
    let (kept, dropped) = log_up_to(&longer, 4);
    assert_eq!((kept.as_str(), dropped), (log.as_str(), 2));

    let mut resumed = Session::resume(checkpoint::from_bytes(&bytes, &cpu()).unwrap(), &kept);
    resumed.set_images(original.images().clone()).unwrap();
    assert_eq!(resumed.iteration(), 4);
    let mut replay = session(Config::tiny(), 3);
    for _ in 0..4 {
        block_on(replay.step(0)).unwrap();
    }
    for _ in 0..2 {
        assert_eq!(learned(block_on(resumed.step(0)).unwrap()), learned(block_on(replay.step(0)).unwrap()));
    }
}

#[test]
fn settings_apply_in_one_call_and_the_nets_are_kept() {
    let mut s = session(Config::tiny(), 1);
    let config = s.apply(&Overrides { steps: Some(3), lr: Some(0.01), ..Default::default() }).unwrap().clone();
    assert_eq!((config.langevin.steps, config.optimizer.lr), (3, 0.01));
    assert_eq!(s.summary().chain_steps, 3);
    let before = s.config().clone();
    let refused = s.apply(&Overrides { norm: Some(multigrid_ebm::Norm::Batch), ..Default::default() });
    assert!(refused.unwrap_err().to_string().contains("keeps its normalisation"));
    let refused = s.apply(&Overrides { steps: Some(100_000), ..Default::default() });
    assert!(matches!(refused, Err(Error::Config(_))));
    assert_eq!(s.config(), &before, "a refused change changes nothing");
    s.apply(&Overrides { method: Some(multigrid_ebm::Method::Cd), ..Default::default() }).unwrap();
    assert_eq!(s.summary().chain_steps, 3 * 2, "CD's chain: T × the number of grids");
}
