//! Timing the three operations learning is made of, per grid and batch size: a forward pass,
//! one Langevin step (forward + input gradient) and one parameter update (forward on observed
//! and synthesized, backward, Adam). Shared by `multigrid bench` and the browser benchmark.

use burn::prelude::*;
use burn::tensor::Distribution;
use serde::Serialize;
use web_time::Instant;

use crate::config::{Config, GridConfig};
use crate::device::read;
use crate::energy::EnergyNet;
use crate::langevin::langevin_step;
use crate::{Error, Learner, Result};

#[derive(Clone, Debug, Serialize)]
#[cfg_attr(all(test, not(target_arch = "wasm32")), derive(ts_rs::TS), ts(export))]
pub struct Row {
    pub grid: usize,
    pub batch: usize,
    #[cfg_attr(all(test, not(target_arch = "wasm32")), ts(type = "string"))]
    pub norm: &'static str,
    pub forward_ms: f64,
    pub langevin_step_ms: f64,
    pub update_ms: f64,
    /// GFLOP/s reached by the Langevin step (forward plus input gradient ≈ 2 × forward FLOPs).
    pub gflops: f64,
    /// GFLOP of one forward pass of the batch.
    pub forward_gflop: f64,
}

/// 2 × multiply-adds of one forward pass of one image (convolutions and the fc layer).
pub fn forward_flops(grid: &GridConfig) -> f64 {
    let (mut s, mut c_in, mut flops) = (grid.size, 3, 0.0);
    for l in &grid.layers {
        s = s.div_ceil(l.stride);
        flops += 2.0 * (s * s * l.channels * c_in * l.kernel * l.kernel) as f64;
        c_in = l.channels;
    }
    flops + 2.0 * grid.fc_inputs() as f64
}

/// Wait for the device by reading one value back.
async fn finish<const D: usize>(t: Tensor<D>) -> Result<()> {
    read(t.sum()).await.map(|_| ())
}

/// Median of `reps` timings (ms) after one warm-up run.
macro_rules! median_ms {
    ($reps:expr, $body:expr) => {{
        $body;
        let mut times = Vec::new();
        for _ in 0..$reps.max(1) {
            let started = Instant::now();
            $body;
            times.push(started.elapsed().as_secs_f64() * 1e3);
        }
        times.sort_by(f64::total_cmp);
        times[times.len() / 2]
    }};
}

/// Time grid `size` of `config` at `batch` on `device`.
pub async fn time_grid(config: &Config, size: usize, batch: usize, reps: usize, device: &Device) -> Result<Row> {
    let k = config
        .grids
        .iter()
        .position(|g| g.size == size)
        .ok_or_else(|| Error::Config(format!("grid {size} is not in the scales {:?}", config.scales())))?;
    let mut config = config.clone();
    config.batch_size = batch;
    let mut learner = Learner::new(config, 0, device)?;
    let dev = learner.device();
    let images = || Tensor::<4>::random([batch, 3, size, size], Distribution::Uniform(0.0, 255.0), &dev);
    let (obs, syn) = (images(), images());
    let net: EnergyNet = learner.nets[k].clone().no_grad();
    let langevin = learner.config.langevin.clone();
    let forward_ms = median_ms!(reps, finish(net.forward(obs.clone())).await?);
    let langevin_step_ms = median_ms!(reps, finish(langevin_step(&net, syn.clone(), &langevin)).await?);
    let update_ms = median_ms!(reps, {
        learner.update_grid(k, obs.clone(), syn.clone()).await?;
        finish(learner.nets[k].flat_parameters()[0].0.clone()).await?;
    });
    let flops = forward_flops(&learner.config.grids[k]) * batch as f64;
    Ok(Row {
        grid: size,
        batch,
        norm: learner.config.norm.name(),
        forward_ms,
        langevin_step_ms,
        update_ms,
        gflops: 2.0 * flops / (langevin_step_ms * 1e6),
        forward_gflop: flops / 1e9,
    })
}
