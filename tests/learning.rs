//! Learning works: on a tiny synthetic dataset (two-colour stripes) 80 iterations move the
//! synthesized images' contrast toward the data's (the gap at least halves; measured 3–13× over
//! seeds), for multigrid and for persistent CD;
//! and each method updates exactly the grids it should.
#![cfg(not(target_arch = "wasm32"))]

mod common;
use burn::prelude::*;
use common::*;
use multigrid_ebm::device::block_on;
use multigrid_ebm::{Config, Learner, Method, Norm};

/// Mean over images of each image's pixel standard deviation: 0 for flat images.
fn contrast(images: &Tensor<4>) -> f64 {
    let [n, c, h, w] = images.dims();
    let px = values(images.clone());
    let per = c * h * w;
    (0..n)
        .map(|i| {
            let im = &px[i * per..(i + 1) * per];
            let mean = im.iter().map(|&v| v as f64).sum::<f64>() / per as f64;
            (im.iter().map(|&v| (v as f64 - mean).powi(2)).sum::<f64>() / per as f64).sqrt()
        })
        .sum::<f64>()
        / n as f64
}

/// The stripes dataset, written to a folder named for the calling test (tests run in parallel
/// threads of one process, so each needs its own).
fn stripes(name: &str) -> Tensor<4> {
    let dir = tempdir(&format!("learning-{name}"));
    stripes_folder(&dir, 16, 16);
    let (set, _) = multigrid_ebm::data::load_folder(&dir, 16).unwrap();
    set.to_tensor(&cpu())
}

/// |contrast(synthesized) − contrast(observed)| at the finest grid: at the first iteration and
/// averaged over the last five of `iterations`.
fn contrast_gap(method: Method, iterations: usize) -> (f64, f64) {
    let data = stripes(&format!("{method:?}"));
    let target = contrast(&data);
    let mut config = Config::tiny();
    config.method = method;
    let mut learner = Learner::new(config, 3, &cpu()).unwrap();
    learner.set_observed_colours(&data);
    let mut gaps = Vec::new();
    for _ in 0..iterations {
        let batch = learner.pick_batch(&data);
        let it = block_on(learner.learn(batch, None)).unwrap();
        gaps.push((contrast(it.synthesized.last().unwrap()) - target).abs());
    }
    let last = gaps[iterations - 5..].iter().sum::<f64>() / 5.0;
    println!("{method:?}: data contrast {target:.1}, gap {:.1} → {last:.1}", gaps[0]);
    (gaps[0], last)
}

#[test]
fn multigrid_learning_moves_synthesized_contrast_to_the_data() {
    let (first, last) = contrast_gap(Method::Multigrid, 80);
    assert!(last * 2.0 < first, "contrast gap only fell from {first:.1} to {last:.1}");
}

#[test]
fn persistent_cd_learning_moves_synthesized_contrast_to_the_data() {
    let (first, last) = contrast_gap(Method::Pcd, 80);
    assert!(last * 2.0 < first, "contrast gap only fell from {first:.1} to {last:.1}");
}

#[test]
fn multigrid_updates_every_grid_and_cd_only_the_finest() {
    let data = stripes("updates");
    for (method, changed) in
        [(Method::Multigrid, vec![true, true]), (Method::Cd, vec![false, true]), (Method::Pcd, vec![false, true])]
    {
        let mut config = Config::tiny();
        config.method = method;
        let mut learner = Learner::new(config, 1, &cpu()).unwrap();
        let before: Vec<Vec<f32>> = learner.nets.iter().map(|n| values(n.flat_parameters()[0].0.clone())).collect();
        let it = block_on(learner.learn(data.clone().narrow(0, 0, 8), None)).unwrap();
        let after: Vec<Vec<f32>> = learner.nets.iter().map(|n| values(n.flat_parameters()[0].0.clone())).collect();
        let did: Vec<bool> = before.iter().zip(&after).map(|(b, a)| b != a).collect();
        assert_eq!(did, changed, "{method:?}");
        assert_eq!(it.grids.iter().map(|g| g.loss.is_some()).collect::<Vec<_>>(), changed, "{method:?}");
    }
}

#[test]
fn a_diverging_iteration_is_refused_and_changes_nothing() {
    let mut config = Config::tiny();
    config.langevin.clip = None;
    config.langevin.delta = 1e30; // the chain overflows to infinity on the first step
    let mut learner = Learner::new(config, 1, &cpu()).unwrap();
    let before = values(learner.nets[1].flat_parameters()[0].0.clone());
    let err =
        block_on(learner.learn(stripes("divergence").narrow(0, 0, 8), None)).err().expect("divergence is an error");
    assert!(err.to_string().contains("diverged"), "{err}");
    assert_eq!(learner.iteration, 0);
    assert_eq!(values(learner.nets[1].flat_parameters()[0].0.clone()), before);
}

/// Adam's first step moves each parameter by lr · m̂/√v̂ = lr · sign(g) (ε aside), so one update
/// shows the direction the learner followed: it must be −∇θ [mean f(syn) − mean f(obs)], computed
/// here with a separate forward pass for each set, for either normalisation (the learner batches
/// the two sets together where that gives the same energies).
#[test]
fn an_update_descends_mean_synthesized_minus_mean_observed_energy() {
    for norm in [Norm::None, Norm::Batch] {
        let mut config = Config::tiny();
        config.norm = norm;
        let lr = config.optimizer.lr as f32;
        let mut learner = Learner::new(config, 2, &cpu()).unwrap();
        let device = learner.device();
        let [obs, syn] = [1, 2].map(|seed| tensor4(pseudo_random(8 * 3 * 16 * 16, seed, 0.0, 255.0), [8, 3, 16, 16]));
        let net = learner.nets[1].clone();
        let energy = |x: Tensor<4>| net.forward(x.to_device(&device).autodiff()).mean();
        let grads = (energy(syn.clone()) - energy(obs.clone())).backward();
        let expected = net.parameters_and_gradients(Some(&grads));
        block_on(learner.update_grid(1, obs, syn)).unwrap();
        let (mut checked, mut wrong) = (0, 0);
        for (((before, _), grad), (after, _)) in expected.into_iter().zip(learner.nets[1].flat_parameters()) {
            let (before, grad, after) =
                (values(before), values(grad.expect("every parameter is learned")), values(after));
            for ((b, g), a) in before.iter().zip(&grad).zip(&after) {
                if g.abs() > 1e-3 {
                    checked += 1;
                    wrong += usize::from(((a - b) + lr * g.signum()).abs() > 1e-3 * lr);
                }
            }
        }
        assert!(checked > 1000, "{norm:?}: only {checked} parameters with a clear gradient");
        assert_eq!(wrong, 0, "{norm:?}: {wrong} of {checked} parameters moved off −lr·sign(∂loss/∂θ)");
    }
}

/// When every iteration diverges, the guard rolls back each time and then gives up, leaving the
/// model exactly at its last good state.
#[test]
fn the_guard_gives_up_cleanly_when_rollbacks_do_not_help() {
    use multigrid_ebm::guard::{Guard, Guarded, Rule};
    let mut config = Config::tiny();
    config.langevin.clip = None;
    config.langevin.delta = 1e30; // every chain overflows, whatever the learning rate
    let mut learner = Learner::new(config, 1, &cpu()).unwrap();
    let before = values(learner.nets[1].flat_parameters()[0].0.clone());
    let rule = Rule::default();
    let mut guard = Guard::new(&learner, rule.clone());
    let batch = stripes("guard").narrow(0, 0, 8);
    let mut rollbacks = 0;
    let err = loop {
        match block_on(guard.learn(&mut learner, batch.clone(), None)) {
            Ok(Guarded::RolledBack { to, .. }) => {
                assert_eq!(to, 0);
                rollbacks += 1;
            }
            Ok(Guarded::Learned(_)) => panic!("a diverging iteration was accepted"),
            Err(e) => break e,
        }
    };
    assert_eq!(rollbacks, rule.max_rollbacks);
    assert!(matches!(err, multigrid_ebm::Error::Unstable { .. }), "{err}");
    assert!(err.to_string().contains("left at iteration 0"), "{err}");
    assert_eq!(learner.iteration, 0);
    assert_eq!(values(learner.nets[1].flat_parameters()[0].0.clone()), before);
    assert!((learner.config.optimizer.lr - 0.3 / 1024.0).abs() < 1e-12, "{}", learner.config.optimizer.lr);
}

/// The logged Langevin gradient is ‖∂f/∂Ĩ‖ at the synthesized images under the nets as they were
/// before the update, averaged over images: checked against a separate input-gradient pass, for
/// both normalisations; a grid that is not learned has none.
#[test]
fn the_langevin_gradient_diagnostic_is_the_norm_of_df_di_at_the_synthesized_images() {
    use multigrid_ebm::langevin::energy_and_gradient;
    for norm in [Norm::None, Norm::Batch] {
        let mut config = Config::tiny();
        config.norm = norm;
        let mut learner = Learner::new(config, 3, &cpu()).unwrap();
        let before = learner.nets.clone();
        let it = block_on(learner.learn(stripes("diagnostic").narrow(0, 0, 8), None)).unwrap();
        for (k, g) in it.grids.iter().enumerate() {
            let synthesized = it.synthesized[k + 1].clone();
            let [n, c, h, w] = synthesized.dims();
            let (_, grad) = energy_and_gradient(&before[k], synthesized);
            let v = values(grad);
            let expected: f64 = (0..n)
                .map(|i| v[i * c * h * w..(i + 1) * c * h * w].iter().map(|x| (*x as f64).powi(2)).sum::<f64>().sqrt())
                .sum::<f64>()
                / n as f64;
            let got = g.langevin_gradient.expect("learned") as f64;
            assert!(
                expected > 0.0 && (got - expected).abs() <= 1e-4 * expected,
                "{norm:?} grid {}: {got} vs {expected}",
                g.size
            );
        }
    }
    let mut config = Config::tiny();
    config.method = Method::Cd;
    let mut learner = Learner::new(config, 3, &cpu()).unwrap();
    let it = block_on(learner.learn(stripes("diagnostic-cd").narrow(0, 0, 8), None)).unwrap();
    assert_eq!(it.grids.iter().map(|g| g.langevin_gradient.is_some()).collect::<Vec<_>>(), [false, true]);
}

/// What the page shows beside an inspected image: its energy under its grid's net (the same value
/// the update uses), and the training image nearest to it at that grid.
#[test]
fn energies_per_scale_and_the_nearest_observed_image() {
    let learner = Learner::new(Config::tiny(), 5, &cpu()).unwrap();
    let images = tensor4(pseudo_random(4 * 3 * 16 * 16, 9, 0.0, 255.0), [4, 3, 16, 16]);
    let chain = multigrid_ebm::pyramid::pyramid(images.clone(), &learner.config.scales());
    let energies = learner.energies_per_scale(&chain);
    assert_eq!(energies.len(), learner.nets.len());
    for (k, e) in energies.into_iter().enumerate() {
        let direct = values(learner.nets[k].forward(chain[k + 1].clone()));
        assert_eq!(values(e), direct, "grid {k}");
    }
    assert_eq!(values(learner.energy(2, chain[2].clone()).unwrap()), values(learner.nets[1].forward(chain[2].clone())));
    assert!(learner.energy(0, chain[0].clone()).is_err(), "the 1×1 scale has no net");
    assert!(learner.energy(3, chain[2].clone()).is_err(), "tiny has two nets");
    let target = images.clone().slice(2..3) + 1.0;
    let d = values(multigrid_ebm::pyramid::squared_distances(images, target));
    assert_eq!(d.len(), 4);
    let nearest = d.iter().enumerate().min_by(|a, b| a.1.total_cmp(b.1)).unwrap().0;
    assert_eq!(nearest, 2);
    assert!((d[2] - 1.0).abs() < 1e-4, "{d:?}");
}

/// Sampling chains start from distinct observed colours while they last (a colour drawn twice
/// would give the same noiseless sample twice), then from a fresh round of them: 11 starts from
/// 5 colours use each colour twice or three times.
#[test]
fn starting_colours_are_drawn_without_replacement() {
    let mut learner = Learner::new(Config::tiny(), 5, &cpu()).unwrap();
    let colours: Vec<f32> = (0..5).flat_map(|i| [i as f32 * 10.0, 0.0, 0.0]).collect();
    learner.set_observed_colours(&tensor4(colours, [5, 3, 1, 1]));
    for n in [1, 5] {
        let mut reds: Vec<u32> = values(learner.starting_colours(n)).chunks(3).map(|c| c[0] as u32).collect();
        reds.sort();
        reds.dedup();
        assert_eq!(reds.len(), n, "{n} starts, all distinct");
    }
    let reds: Vec<u32> = values(learner.starting_colours(11)).chunks(3).map(|c| c[0] as u32).collect();
    for colour in (0..5).map(|i| i * 10) {
        let uses = reds.iter().filter(|&&r| r == colour).count();
        assert!((2..=3).contains(&uses), "colour {colour} used {uses} times in {reds:?}");
    }
}

/// The energy-magnitude penalty holds the energies' scale down: the same run with α > 0 ends
/// with smaller |mean f| on every grid than with the paper's loss, and α = 0 leaves the loss as
/// it was (the same figures as a configuration without the field).
#[test]
fn the_energy_penalty_keeps_energies_small() {
    let data = stripes("penalty");
    let largest_energy = |alpha: f64| {
        let mut config = Config::tiny();
        config.energy_penalty = alpha;
        let mut learner = Learner::new(config, 4, &cpu()).unwrap();
        learner.set_observed_colours(&data);
        let mut last = Vec::new();
        for _ in 0..40 {
            let batch = learner.pick_batch(&data);
            last = block_on(learner.learn(batch, None)).unwrap().grids;
        }
        let f = |g: &multigrid_ebm::learner::GridStats| {
            g.energy_observed.unwrap().abs().max(g.energy_synthesized.unwrap().abs()) as f64
        };
        last.iter().map(f).collect::<Vec<f64>>()
    };
    let (free, held) = (largest_energy(0.0), largest_energy(0.05));
    println!("|mean f| per grid after 40 iterations: α = 0 {free:?}, α = 0.05 {held:?}");
    assert!(free.iter().zip(&held).all(|(a, b)| b < a), "{free:?} vs {held:?}");

    let mut config = Config::tiny();
    assert!(!config.to_json().contains("energy_penalty"), "α = 0 is left out of the file");
    config.energy_penalty = -1.0;
    assert!(config.validate().is_err());
    config.energy_penalty = 0.5;
    assert_eq!(Config::from_json(&config.to_json()).unwrap().energy_penalty, 0.5);
}

/// With a learning-rate half-life, the first update moves the nets at the configured rate and
/// later ones at the decayed rate: a half-life of 10⁻³ iterations leaves 0.3·2^(−1000), which is
/// nothing in float32, for the second.
#[test]
fn a_decayed_learning_rate_stops_moving_the_nets() {
    let data = stripes("half-life");
    let mut config = Config::tiny();
    config.optimizer.lr_half_life = Some(1e-3);
    let mut learner = Learner::new(config, 1, &cpu()).unwrap();
    let first = |learner: &Learner| values(learner.nets[1].flat_parameters()[0].0.clone());
    let before = first(&learner);
    block_on(learner.learn(data.clone().narrow(0, 0, 8), None)).unwrap();
    let after_one = first(&learner);
    assert_ne!(before, after_one, "the first update uses the configured rate");
    block_on(learner.learn(data.narrow(0, 0, 8), None)).unwrap();
    assert_eq!(first(&learner), after_one, "the second update's rate has decayed to nothing");
}

/// Decoupled weight decay: from the same start, one iteration with λ differs from one without
/// by exactly −lr·λ·θ (the Adam step itself is the same, as the gradients are).
#[test]
fn weight_decay_shrinks_every_parameter_by_lr_times_lambda() {
    let data = stripes("weight-decay");
    let plain = Config::tiny();
    let mut decayed = plain.clone();
    decayed.optimizer.weight_decay = 0.5;
    let (lr, lambda) = (plain.optimizer.lr as f32, decayed.optimizer.weight_decay as f32);
    let all = |learner: &Learner| -> Vec<f32> {
        learner.nets.iter().flat_map(|n| n.flat_parameters()).flat_map(|(p, _)| values(p)).collect()
    };
    let mut learners = [plain, decayed].map(|c| Learner::new(c, 1, &cpu()).unwrap());
    let before = all(&learners[0]);
    for learner in &mut learners {
        block_on(learner.learn(data.clone().narrow(0, 0, 8), None)).unwrap();
    }
    let (without, with) = (all(&learners[0]), all(&learners[1]));
    let moved = before.iter().zip(&with).filter(|(b, w)| b != w).count();
    assert!(moved > before.len() / 2, "the decayed nets learned");
    for ((b, w0), w) in before.iter().zip(&without).zip(&with) {
        let expected = w0 - lr * lambda * b;
        assert!((w - expected).abs() <= 1e-4 * (1.0 + expected.abs()), "{w} is not {w0} − lr·λ·{b} = {expected}");
    }
}

/// The energy scale cap: from the same start, one capped iteration gives the uncapped nets with
/// only each grid's fully connected weights shrunk by cap / ‖w ⊙ γ‖, so every scale ends at the
/// cap; a net already under its cap is left as it is.
#[test]
fn energy_scale_cap_shrinks_only_the_fc_weights_down_to_the_cap() {
    let data = stripes("energy-scale-cap");
    let scalar = |t: Tensor<1>| values(t)[0] as f64;
    for norm in [Norm::Batch, Norm::None] {
        let mut free = Config::tiny();
        free.norm = norm;
        let mut learner = Learner::new(free.clone(), 3, &cpu()).unwrap();
        block_on(learner.learn(data.clone().narrow(0, 0, 8), None)).unwrap();
        let scales: Vec<f64> = learner.nets.iter().map(|n| scalar(n.energy_scale())).collect();
        // ‖w ⊙ γ‖ by hand: fully connected weight j belongs to channel j / (h·w) of the last layer.
        for (net, scale) in learner.nets.iter().zip(&scales) {
            let p: Vec<Vec<f32>> = net.flat_parameters().into_iter().map(|(t, _)| values(t)).collect();
            let w = &p[p.len() - 2];
            let gamma = if norm == Norm::Batch { p[p.len() - 4].clone() } else { vec![1.0] };
            let per_channel = w.len() / gamma.len();
            let by_hand = w
                .iter()
                .enumerate()
                .map(|(j, &x)| (x * gamma[j / per_channel]) as f64)
                .map(|x| x * x)
                .sum::<f64>()
                .sqrt();
            assert!((by_hand - scale).abs() <= 1e-4 * by_hand, "{norm:?}: energy scale {scale} is not {by_hand}");
        }
        let cap = 0.5 * scales.iter().cloned().fold(f64::INFINITY, f64::min);
        let mut capped = free.clone();
        capped.optimizer.energy_scale_cap = Some(cap);
        let mut capped_learner = Learner::new(capped, 3, &cpu()).unwrap();
        block_on(capped_learner.learn(data.clone().narrow(0, 0, 8), None)).unwrap();
        for ((net, capped_net), scale) in learner.nets.iter().zip(&capped_learner.nets).zip(&scales) {
            let after = scalar(capped_net.energy_scale());
            assert!((after - cap).abs() <= 1e-4 * cap, "{norm:?}: scale {after} is not the cap {cap}");
            let (a, b) = (net.flat_parameters(), capped_net.flat_parameters());
            // Parameters in the order of parameter_specs: …, fc.weight, fc.bias.
            let fc_weight = a.len() - 2;
            for (i, ((p, _), (q, _))) in a.into_iter().zip(b).enumerate() {
                let factor = if i == fc_weight { (cap / scale) as f32 } else { 1.0 };
                for (x, y) in values(p).into_iter().zip(values(q)) {
                    assert!(
                        (y - factor * x).abs() <= 1e-5 * (1.0 + x.abs()),
                        "{norm:?} parameter {i}: {y} is not {factor}·{x}"
                    );
                }
            }
            let untouched = net.clone().with_energy_scale_at_most(2.0 * scale);
            assert_eq!(
                values(untouched.fc.weight.val()),
                values(net.fc.weight.val()),
                "{norm:?}: a net under its cap is left as it is"
            );
        }
        // The shrunk weights are still learned: the next step moves them.
        let fc = |l: &Learner| l.nets.iter().map(|n| values(n.fc.weight.val())).collect::<Vec<_>>();
        let before = fc(&capped_learner);
        block_on(capped_learner.learn(data.clone().narrow(0, 8, 8), None)).unwrap();
        for (k, (b, a)) in before.iter().zip(fc(&capped_learner)).enumerate() {
            assert_ne!(b, &a, "{norm:?}: grid {k}'s fully connected weights stopped learning after the cap");
        }
    }
}

/// The split the divergence guard warns about, on figures of grid 64 logged by
/// `scripts/stability.py` (reports/stability.md): healthy iterations (close, one sign; both
/// negative after a flip), a blip below 10⁶, and split ones (opposite signs, large).
#[test]
fn energies_split_where_the_stability_study_saw_them_split() {
    let grid = |o: f32, s: f32| multigrid_ebm::learner::GridStats {
        size: 64,
        loss: Some(s - o),
        recon_error: 30.0,
        energy_observed: Some(o),
        energy_synthesized: Some(s),
        langevin_gradient: Some(1e3),
    };
    for (o, s) in [(7.38e6, 7.83e6), (-1.07e8, -1.06e8), (1.43e5, -2.48e4), (6.89e6, 1.11e7)] {
        assert!(!grid(o, s).energies_split(), "{o:e} / {s:e} is healthy");
    }
    for (o, s) in [(7.44e7, -8.42e7), (2.04e7, -1.98e7), (1.46e9, -1.68e9)] {
        assert!(grid(o, s).energies_split(), "{o:e} / {s:e} is split");
    }
}
