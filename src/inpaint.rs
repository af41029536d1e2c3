//! Inpainting / recovery, the paper's occlusion experiment: the multi-grid chain with the known
//! pixels held fixed. At each grid, a pixel whose block is wholly known is clamped to the block's
//! average; the chain starts from the 1×1 mean of each image's known pixels. CD / PCD models run
//! their finest grid only, from the up-sampled mean, with the known pixels clamped.

use burn::prelude::*;
use rand::RngExt;
use rand_chacha::ChaCha8Rng;

use crate::config::Method;
use crate::langevin::Known;
use crate::learner::{Learner, StepHook};
use crate::pyramid::{pyramid, up_sample};
use crate::{Error, Result};

/// Which pixels are occluded.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum MaskKind {
    /// A centred square of half the image's side.
    Centre,
    /// Each pixel independently, with this probability.
    Random(f64),
}

impl std::str::FromStr for MaskKind {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s.split_once(':') {
            None if s == "centre" || s == "center" => Ok(MaskKind::Centre),
            Some(("random", p)) => match p.parse::<f64>() {
                Ok(p) if (0.0..=1.0).contains(&p) => Ok(MaskKind::Random(p)),
                _ => Err(Error::Config(format!("mask '{s}': the fraction must be in [0, 1]"))),
            },
            _ => Err(Error::Config(format!("unknown mask '{s}': use centre, random:FRACTION or a PNG file"))),
        }
    }
}

/// The mask rule, one for the CLI's mask files and the page's painted masks: a mask image
/// brought to the finest grid (its first channel, grey levels in [0, 255]) marks a pixel known
/// where it is light (at least half: ≥ 128) and occluded where it is dark. Returns 1 known, 0
/// occluded, size × size row-major.
pub fn known_from_mask_image(pixels: &[f32], size: usize) -> Vec<f32> {
    pixels[..size * size].iter().map(|&v| if v >= 128.0 { 1.0 } else { 0.0 }).collect()
}

/// Known-pixel masks for n images of size × size: 1 known, 0 occluded, [n, 1, s, s] row-major.
pub fn make_mask(kind: MaskKind, n: usize, size: usize, rng: &mut ChaCha8Rng) -> Vec<f32> {
    let (lo, hi) = (size / 4, size - size / 4);
    (0..n * size * size)
        .map(|i| {
            let (y, x) = ((i / size) % size, i % size);
            let occluded = match kind {
                MaskKind::Centre => (lo..hi).contains(&y) && (lo..hi).contains(&x),
                MaskKind::Random(p) => rng.random_bool(p),
            };
            if occluded { 0.0 } else { 1.0 }
        })
        .collect()
}

/// An occlusion mask of one `size` × `size` image, by name (`centre`, `random:FRACTION`), drawn
/// from `seed`: one byte per pixel, 1 = occluded (the page's painted masks use the same layout).
pub fn occlusion_mask(kind: &str, size: usize, seed: u64) -> Result<Vec<u8>> {
    use rand::SeedableRng;
    let known = make_mask(kind.parse()?, 1, size, &mut ChaCha8Rng::seed_from_u64(seed));
    Ok(known.iter().map(|&k| u8::from(k == 0.0)).collect())
}

/// Known pixels at the finest grid (`size`) for a `width` × `height` image whose occlusion mask
/// has one byte per pixel (non-zero = occluded): the mask goes through the image's own crop and
/// resize ([`crate::data::from_rgba`]), then [`known_from_mask_image`].
pub fn known_from_occluded(mask: &[u8], width: u32, height: u32, size: usize) -> Result<Vec<f32>> {
    if mask.len() != width as usize * height as usize {
        return Err(Error::Data(format!("the mask has {} bytes for a {width}×{height} image", mask.len())));
    }
    let image: Vec<u8> = mask
        .iter()
        .flat_map(|&m| {
            let v = if m == 0 { 255 } else { 0 };
            [v, v, v, 255]
        })
        .collect();
    Ok(known_from_mask_image(&crate::data::from_rgba(&image, width, height, size)?, size))
}

/// Recover the occluded pixels of `images` ([n, 3, s, s] at the finest size) given `known`
/// ([n, 1, s, s], 1 = known). Returns the chain's result at every scale, coarse to fine.
pub fn recover(learner: &Learner, images: Tensor<4>, known: Tensor<4>, on_step: StepHook<'_>) -> Vec<Tensor<4>> {
    let [n, c, s, _] = images.dims();
    let scales = &learner.config.scales();
    let mask = known.expand([n, c, s, s]);
    let sums = pyramid(images * mask.clone(), scales);
    let counts = pyramid(mask, scales);
    let knowns: Vec<Option<Known>> = sums
        .into_iter()
        .zip(counts)
        .map(|(sum, count)| {
            let values = sum / count.clone().clamp_min(1e-6);
            Some(Known { mask: count.greater_equal_elem(1.0 - 1e-6).float(), values })
        })
        .collect();
    // The 1×1 start: the mean of each image's known pixels (mid-grey if none is known).
    let coarsest = knowns[0].as_ref().expect("one per scale");
    let start = coarsest.values.clone() * coarsest.mask.clone() + (coarsest.mask.clone().neg() + 1.0) * 127.5;
    match learner.config.method {
        Method::Multigrid => learner.multigrid_chain(start, &knowns, on_step),
        Method::Cd | Method::Pcd => {
            let init = up_sample(start, learner.config.image_size());
            learner.finest_grid_chain(init, knowns.last().and_then(Option::as_ref), on_step)
        }
    }
}

/// Per image: mean |recovered − original| over the occluded pixels (0 where nothing is occluded).
pub fn occluded_error(recovered: Tensor<4>, original: Tensor<4>, known: Tensor<4>) -> Tensor<1> {
    let [n, c, s, _] = original.dims();
    let hidden = known.neg().add_scalar(1.0).expand([n, c, s, s]);
    let total = ((recovered - original).abs() * hidden.clone()).sum_dims(&[1, 2, 3]).reshape([n]);
    total / hidden.sum_dims(&[1, 2, 3]).reshape([n]).clamp_min(1.0)
}
