//! Helpers shared by the native integration tests.
#![allow(dead_code)]

use burn::prelude::*;
use multigrid_ebm::device::{block_on, read};

pub fn cpu() -> Device {
    multigrid_ebm::device::cpu()
}

pub fn values<const D: usize>(t: Tensor<D>) -> Vec<f32> {
    block_on(read(t)).expect("readback")
}

pub fn tensor4(values: Vec<f32>, shape: [usize; 4]) -> Tensor<4> {
    Tensor::from_data(TensorData::new(values, shape), &cpu())
}

/// max |a − b| / max |b|: the relative error of a whole tensor.
pub fn relative_error(a: &[f32], b: &[f32]) -> f64 {
    assert_eq!(a.len(), b.len());
    let scale = b.iter().fold(0f64, |m, v| m.max(v.abs() as f64)).max(1e-30);
    a.iter().zip(b).fold(0f64, |m, (x, y)| m.max((x - y).abs() as f64)) / scale
}

/// Deterministic pseudo-random values in [lo, hi).
pub fn pseudo_random(n: usize, seed: u64, lo: f32, hi: f32) -> Vec<f32> {
    let mut s = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
    (0..n)
        .map(|_| {
            s = s.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            lo + (hi - lo) * ((s >> 40) as f32 / (1u64 << 24) as f32)
        })
        .collect()
}

/// An empty scratch folder for one test, unique to this test process.
pub fn tempdir(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("multigrid-test-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// A folder of PNG images made on the fly: horizontal stripes of two colours, period 8 rows
/// (so the stripes survive down-sampling to 4×4), with a random phase per image.
pub fn stripes_folder(dir: &std::path::Path, n: usize, size: u32) {
    std::fs::create_dir_all(dir).unwrap();
    for i in 0..n {
        let phase = (i * 3) as u32 % 8;
        let img = image::RgbImage::from_fn(size, size, |_, y| {
            if ((y + phase) / 4).is_multiple_of(2) { image::Rgb([220, 60, 40]) } else { image::Rgb([30, 40, 200]) }
        });
        img.save(dir.join(format!("stripes_{i:02}.png"))).unwrap();
    }
}

/// Deterministic mutations of a file: byte flips, truncations, insertions, spliced blocks.
pub fn mutants(bytes: &[u8], count: usize, seed: u64) -> Vec<Vec<u8>> {
    let r = pseudo_random(4 * count, seed, 0.0, 1.0);
    let at = |u: f32, len: usize| ((u as f64 * len as f64) as usize).min(len.saturating_sub(1));
    (0..count)
        .map(|i| {
            let (a, b, c) = (r[4 * i + 1], r[4 * i + 2], r[4 * i + 3]);
            let mut m = bytes.to_vec();
            match i % 4 {
                0 => m[at(a, bytes.len())] ^= 1 << (at(b, 8) as u8),
                1 => m.truncate(at(a, bytes.len())),
                2 => {
                    let extra: Vec<u8> =
                        (0..1 + at(b, 64)).map(|j| (j as u8).wrapping_mul(31) ^ (c * 255.0) as u8).collect();
                    let p = at(a, bytes.len() + 1);
                    m.splice(p..p, extra);
                }
                _ => {
                    // A block of the file copied over another place of it.
                    let len = 1 + at(c, 4096);
                    let (from, to) = (at(a, bytes.len() - len), at(b, bytes.len() - len));
                    let block = bytes[from..from + len].to_vec();
                    m[to..to + len].copy_from_slice(&block);
                }
            }
            m
        })
        .collect()
}

/// The message of the checkpoint error that loading `bytes` gives (panics on anything else).
pub fn checkpoint_error(bytes: &[u8]) -> String {
    match multigrid_ebm::checkpoint::from_bytes(bytes, &cpu()) {
        Err(multigrid_ebm::Error::Checkpoint(m)) => m,
        Err(e) => panic!("expected a checkpoint error, got {e}"),
        Ok(_) => panic!("a bad checkpoint was accepted"),
    }
}
