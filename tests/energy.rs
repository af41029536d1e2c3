//! The energy net and its input gradient: a hand-computed energy, finite differences,
//! and the Langevin update formula.
#![cfg(not(target_arch = "wasm32"))]

mod common;
use burn::prelude::*;
use common::*;
use multigrid_ebm::config::{ConvLayer, GridConfig, LangevinConfig, LangevinForm, Norm};
use multigrid_ebm::energy::{EnergyNet, parameter_specs};
use multigrid_ebm::langevin::{energy_and_gradient, langevin_step};

fn net_from(grid: &GridConfig, norm: Norm, values: Vec<Vec<f32>>) -> EnergyNet {
    let dev = cpu().autodiff();
    let flat = values
        .into_iter()
        .map(|v| (Tensor::from_data(TensorData::new(v.clone(), [v.len()]), &dev), burn::module::ParamId::new()))
        .collect();
    EnergyNet::build(grid, norm, flat)
}

fn random_net(grid: &GridConfig, norm: Norm, seed: u64) -> EnergyNet {
    let values = parameter_specs(grid, norm)
        .iter()
        .enumerate()
        .map(|(i, s)| pseudo_random(s.numel(), seed + i as u64, -0.2, 0.2))
        .collect();
    net_from(grid, norm, values)
}

#[test]
fn energy_equals_a_hand_computed_value() {
    // 2×2 image, one 1×1 conv to one channel, LeakyReLU(0.2), fc over the 4 outputs.
    let grid = GridConfig { size: 2, layers: vec![ConvLayer { channels: 1, kernel: 1, stride: 1 }] };
    let (w, b) = ([0.5f32, -1.0, 0.25], 2.0f32);
    let (fc, fc_b) = ([1.0f32, -2.0, 0.5, 3.0], -1.0f32);
    let net = net_from(&grid, Norm::None, vec![w.to_vec(), vec![b], fc.to_vec(), vec![fc_b]]);
    // pixels [c][y][x]
    let image = [[10.0f32, 0.0, 4.0, 8.0], [2.0, 6.0, 1.0, 0.0], [4.0, 8.0, 0.0, 16.0]];
    let mut expected = fc_b;
    for p in 0..4 {
        let z = w[0] * image[0][p] + w[1] * image[1][p] + w[2] * image[2][p] + b;
        let a = if z > 0.0 { z } else { 0.2 * z };
        expected += fc[p] * a;
    }
    let x = tensor4(image.concat(), [1, 3, 2, 2]);
    let f = values(net.forward(x));
    assert!((f[0] - expected).abs() < 1e-5, "f = {} but by hand {expected}", f[0]);
}

#[test]
fn input_gradient_matches_finite_differences() {
    let grid = GridConfig {
        size: 8,
        layers: vec![ConvLayer { channels: 4, kernel: 3, stride: 2 }, ConvLayer { channels: 6, kernel: 3, stride: 1 }],
    };
    for norm in [Norm::None, Norm::Batch] {
        let net = random_net(&grid, norm, 7);
        let x0 = pseudo_random(2 * 3 * 8 * 8, 3, 0.0, 1.0);
        let (_, g) = energy_and_gradient(&net, tensor4(x0.clone(), [2, 3, 8, 8]));
        let g = values(g);
        let total =
            |x: Vec<f32>| -> f64 { values(net.forward(tensor4(x, [2, 3, 8, 8]))).iter().map(|&v| v as f64).sum() };
        let eps = 1e-2f32;
        let mut worst = 0f64;
        for i in (0..x0.len()).step_by(37) {
            let (mut up, mut down) = (x0.clone(), x0.clone());
            up[i] += eps;
            down[i] -= eps;
            let fd = (total(up) - total(down)) / (2.0 * eps as f64);
            worst = worst.max((fd - g[i] as f64).abs() / (g[i].abs() as f64).max(0.05));
        }
        assert!(worst < 2e-2, "{norm:?}: autodiff and finite differences differ by {worst}");
    }
}

#[test]
fn langevin_step_follows_the_formulas() {
    let grid = GridConfig { size: 4, layers: vec![ConvLayer { channels: 3, kernel: 3, stride: 1 }] };
    let net = random_net(&grid, Norm::None, 11);
    let x0 = pseudo_random(3 * 4 * 4, 5, 0.0, 255.0);
    let x = tensor4(x0.clone(), [1, 3, 4, 4]);
    let g = values(energy_and_gradient(&net, x.clone()).1);
    let mut config = LangevinConfig {
        form: LangevinForm::Code,
        steps: 1,
        delta: 2.0,
        sigma: 50.0,
        noise: false,
        clip: None,
        max_step: None,
    };
    let code = values(langevin_step(&net, x.clone(), &config));
    for i in 0..x0.len() {
        assert!((code[i] - (x0[i] + 2.0 * g[i])).abs() < 1e-3);
    }
    config.form = LangevinForm::Paper;
    config.clip = Some([0.0, 100.0]);
    let paper = values(langevin_step(&net, x.clone(), &config));
    for i in 0..x0.len() {
        let expected = (x0[i] + 2.0 * (g[i] - x0[i] / 2500.0)).clamp(0.0, 100.0);
        assert!((paper[i] - expected).abs() < 1e-3);
    }
    // The largest step: each pixel's drift clamped to ±max_step, here the median |drift| (so
    // that about half the pixels are clamped and half are not).
    let mut sizes: Vec<f32> = g.iter().zip(&x0).map(|(g, x)| (2.0 * (g - x / 2500.0)).abs()).collect();
    sizes.sort_by(f32::total_cmp);
    let m = sizes[sizes.len() / 2];
    assert!(m > 0.0 && sizes[0] < m && *sizes.last().unwrap() > m);
    config.max_step = Some(m);
    let bounded = values(langevin_step(&net, x.clone(), &config));
    for i in 0..x0.len() {
        let expected = (x0[i] + (2.0 * (g[i] - x0[i] / 2500.0)).clamp(-m, m)).clamp(0.0, 100.0);
        assert!((bounded[i] - expected).abs() < 1e-3, "pixel {i}: {} is not {expected}", bounded[i]);
    }
    config.max_step = None;
    // Noise: the step minus its drift is δ·Z with Z ~ N(0, 1).
    config.clip = None;
    let batch = tensor4(pseudo_random(64 * 48, 9, 0.0, 255.0), [64, 3, 4, 4]);
    let drift = values(langevin_step(&net, batch.clone(), &config));
    config.noise = true;
    let noisy = values(langevin_step(&net, batch, &config));
    let z: Vec<f64> = noisy.iter().zip(&drift).map(|(a, b)| (a - b) as f64 / 2.0).collect();
    let mean = z.iter().sum::<f64>() / z.len() as f64;
    let std = (z.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / z.len() as f64).sqrt();
    assert!(mean.abs() < 0.1 && (std - 1.0).abs() < 0.1, "noise mean {mean}, std {std}");
}
