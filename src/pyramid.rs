//! The multi-grid pyramid: block-average down-sampling and pixel-replication up-sampling.
//! Both are exact and linear, so down(up(I)) = I and down-sampling keeps each image's mean.

use burn::prelude::*;
use burn::tensor::module::avg_pool2d;
use burn::tensor::ops::AvgPoolOptions;

/// Average each r×r block: [N, C, s, s] → [N, C, s/r, s/r].
pub fn down_sample(images: Tensor<4>, factor: usize) -> Tensor<4> {
    if factor == 1 {
        return images;
    }
    avg_pool2d(images, AvgPoolOptions::new([factor, factor]))
}

/// Replicate each pixel into an r×r block: [N, C, s, s] → [N, C, s·r, s·r].
pub fn up_sample(images: Tensor<4>, factor: usize) -> Tensor<4> {
    if factor == 1 {
        return images;
    }
    let [n, c, h, w] = images.dims();
    images.reshape([n, c, h, 1, w, 1]).expand([n, c, h, factor, w, factor]).reshape([n, c, h * factor, w * factor])
}

/// Down- or up-sample images of any grid size to `size` (sizes must divide one another).
pub fn resample(images: Tensor<4>, size: usize) -> Tensor<4> {
    let from = images.dims()[3];
    if size <= from { down_sample(images, from / size) } else { up_sample(images, size / from) }
}

/// The observed pyramid {I^(k)}: the finest images down-sampled to every size in `scales`
/// (coarse to fine, as in the configuration). `images` must be of the finest size.
pub fn pyramid(images: Tensor<4>, scales: &[usize]) -> Vec<Tensor<4>> {
    let mut levels = vec![images];
    for w in scales.windows(2).rev() {
        let finer = levels.last().expect("starts non-empty").clone();
        levels.push(down_sample(finer, w[1] / w[0]));
    }
    levels.reverse();
    levels
}

/// Mean squared difference per pixel value between `image` ([1, 3, s, s]) and every image of
/// `set` ([m, 3, s, s]): [m] (to find the training image nearest a synthesized one).
pub fn squared_distances(set: Tensor<4>, image: Tensor<4>) -> Tensor<1> {
    let [m, c, s, _] = set.dims();
    (set - image.expand([m, c, s, s])).powi_scalar(2).reshape([m, c * s * s]).mean_dim(1).reshape([m])
}
