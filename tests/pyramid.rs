//! The multi-grid pyramid's identities.
#![cfg(not(target_arch = "wasm32"))]

mod common;
use common::*;
use multigrid_ebm::pyramid::{down_sample, pyramid, up_sample};

#[test]
fn down_of_up_is_the_identity() {
    let x = tensor4(pseudo_random(2 * 3 * 4 * 4, 1, 0.0, 255.0), [2, 3, 4, 4]);
    for r in [2, 4] {
        let back = values(down_sample(up_sample(x.clone(), r), r));
        assert!(relative_error(&back, &values(x.clone())) < 1e-6, "factor {r}");
    }
}

#[test]
fn up_sampling_replicates_pixels() {
    let x = tensor4(vec![1.0, 2.0, 3.0, 4.0], [1, 1, 2, 2]);
    let up = values(up_sample(x, 2));
    assert_eq!(up, vec![1., 1., 2., 2., 1., 1., 2., 2., 3., 3., 4., 4., 3., 3., 4., 4.]);
}

#[test]
fn down_sampling_averages_blocks_and_keeps_the_mean() {
    let x = tensor4(pseudo_random(3 * 3 * 16 * 16, 2, 0.0, 255.0), [3, 3, 16, 16]);
    let levels = pyramid(x.clone(), &[1, 4, 16]);
    assert_eq!(levels.iter().map(|l| l.dims()[3]).collect::<Vec<_>>(), vec![1, 4, 16]);
    let means = |t: burn::tensor::Tensor<4>| values(t.mean_dims(&[2, 3]));
    for level in &levels {
        assert!(relative_error(&means(level.clone()), &means(x.clone())) < 1e-5);
    }
    // One 4×4 block by hand.
    let full = values(x);
    let block: f32 =
        (0..4).flat_map(|y| (0..4).map(move |x| (y, x))).map(|(y, x)| full[y * 16 + x]).sum::<f32>() / 16.0;
    assert!((values(levels[1].clone())[0] - block).abs() < 1e-3);
}
