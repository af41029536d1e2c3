//! Sample quality without a downloaded network, deterministic for a seed:
//!
//! * **Sliced Wasserstein distance** (SWD, as in Karras et al. 2018) between the distributions of
//!   7×7 patches of the Laplacian pyramid of synthesized and held-out images, per pyramid level
//!   (each set's descriptors normalised per channel, 512 random directions); reported × 10³.
//! * **Colour distance** per grid: the 1-D Wasserstein distance between the pixel-value
//!   distributions of the two sets at that grid's resolution, averaged over channels, in grey levels.
//! * **Nearest-neighbour distance** to the training set: per synthesized image, the RMS pixel
//!   difference to its closest training image; compared with the same figure for held-out images,
//!   a ratio well below 1 means samples sit nearer the training images than new images do:
//!   memorisation, or flat samples near the smoothest training images (the mosaics tell which).

use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::Serialize;

use crate::data::ImageSet;

const PATCH: usize = 7;
const PATCHES_PER_IMAGE: usize = 64;
const DIRECTIONS: usize = 512;
const QUANTILES: usize = 256;

#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct Metrics {
    /// SWD × 10³ per Laplacian level, finest first (e.g. 64, 32, 16).
    pub swd: Vec<LevelSwd>,
    /// Mean of `swd`.
    pub swd_mean: f64,
    /// Colour distance per grid size, coarse to fine.
    pub colour: Vec<GridColour>,
    /// Mean distance from each synthesized image to its nearest training image (grey levels).
    pub nn_synthesized_to_train: Option<f64>,
    /// The same for held-out images: what a model that does not copy would show.
    pub nn_held_out_to_train: Option<f64>,
    /// nn_synthesized_to_train / nn_held_out_to_train.
    pub nn_ratio: Option<f64>,
    /// Share of synthesized images that are flat: a spatial pixel standard deviation
    /// ([`pixel_std`]) under [`FLAT_STD`] grey levels.
    pub flat_share: f64,
    /// The same share among the held-out images, for scale.
    pub held_out_flat_share: f64,
}

/// An image whose pixels vary by less than this many grey levels (standard deviation over its
/// positions, [`pixel_std`]) counts as flat: one colour, with little or no texture or stroke.
/// The pretrained `small` model's samples fall in two groups, 9–14 (its flat orange squares) and
/// 31–38; 6 of the 36 held-out textures (dark sky, smooth petals) are under 15 too, so the
/// held-out share is reported beside the samples' one.
pub const FLAT_STD: f64 = 15.0;

/// How much each image varies over its positions, in grey levels: the standard deviation of each
/// channel over the pixels, combined over the channels as √(mean of the variances). A flat
/// square of any colour scores 0.
pub fn pixel_std(images: &ImageSet) -> Vec<f64> {
    let plane = images.size * images.size;
    images
        .pixels
        .chunks(3 * plane)
        .map(|image| {
            let variance = |v: &[f32]| {
                let mean = v.iter().map(|&x| x as f64).sum::<f64>() / v.len() as f64;
                v.iter().map(|&x| (x as f64 - mean).powi(2)).sum::<f64>() / v.len() as f64
            };
            (image.chunks(plane).map(variance).sum::<f64>() / 3.0).sqrt()
        })
        .collect()
}

/// Share of flat images ([`pixel_std`] under [`FLAT_STD`]).
pub fn flat_share(images: &ImageSet) -> f64 {
    let std = pixel_std(images);
    std.iter().filter(|&&s| s < FLAT_STD).count() as f64 / std.len().max(1) as f64
}

#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct LevelSwd {
    pub size: usize,
    pub swd: f64,
}

#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct GridColour {
    pub size: usize,
    pub distance: f64,
}

/// Images as [n][c][s][s] f32 planes.
struct Planes {
    n: usize,
    s: usize,
    px: Vec<f32>,
}

impl Planes {
    fn of(set: &ImageSet) -> Planes {
        Planes { n: set.len(), s: set.size, px: set.pixels.clone() }
    }

    fn at(&self, i: usize, c: usize, y: usize, x: usize) -> f32 {
        self.px[((i * 3 + c) * self.s + y) * self.s + x]
    }

    /// 2×2 block average.
    fn down(&self) -> Planes {
        let s = self.s / 2;
        let mut px = Vec::with_capacity(self.n * 3 * s * s);
        for i in 0..self.n {
            for c in 0..3 {
                for y in 0..s {
                    for x in 0..s {
                        let sum = self.at(i, c, 2 * y, 2 * x)
                            + self.at(i, c, 2 * y + 1, 2 * x)
                            + self.at(i, c, 2 * y, 2 * x + 1)
                            + self.at(i, c, 2 * y + 1, 2 * x + 1);
                        px.push(sum / 4.0);
                    }
                }
            }
        }
        Planes { n: self.n, s, px }
    }

    /// self − up(coarser): one Laplacian level.
    fn minus_up(&self, coarser: &Planes) -> Planes {
        let mut px = self.px.clone();
        for i in 0..self.n {
            for c in 0..3 {
                for y in 0..self.s {
                    for x in 0..self.s {
                        px[((i * 3 + c) * self.s + y) * self.s + x] -= coarser.at(i, c, y / 2, x / 2);
                    }
                }
            }
        }
        Planes { n: self.n, s: self.s, px }
    }
}

/// Laplacian pyramid levels, finest first, down to 16×16 (the last level is the Gaussian one).
fn laplacian(set: &ImageSet) -> Vec<Planes> {
    let mut gaussian = vec![Planes::of(set)];
    while gaussian.last().expect("non-empty").s > 16 && gaussian.last().expect("non-empty").s % 2 == 0 {
        let next = gaussian.last().expect("non-empty").down();
        gaussian.push(next);
    }
    let mut levels: Vec<Planes> = gaussian.windows(2).map(|w| w[0].minus_up(&w[1])).collect();
    levels.push(gaussian.pop().expect("non-empty"));
    levels
}

/// 7×7×3 patch descriptors at random positions, normalised per channel (over this set). The
/// positions depend only on `seed` and the image index, so two sets are compared at the same
/// positions (common random numbers: identical sets give identical descriptors).
fn descriptors(level: &Planes, seed: u64) -> Vec<Vec<f32>> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let rng = &mut rng;
    let d = 3 * PATCH * PATCH;
    let mut out = Vec::with_capacity(level.n * PATCHES_PER_IMAGE);
    if level.s < PATCH {
        return out;
    }
    for i in 0..level.n {
        for _ in 0..PATCHES_PER_IMAGE {
            let (y0, x0) = (rng.random_range(0..=level.s - PATCH), rng.random_range(0..=level.s - PATCH));
            let mut v = Vec::with_capacity(d);
            for c in 0..3 {
                for y in 0..PATCH {
                    for x in 0..PATCH {
                        v.push(level.at(i, c, y0 + y, x0 + x));
                    }
                }
            }
            out.push(v);
        }
    }
    let per = PATCH * PATCH;
    for c in 0..3 {
        let values = || out.iter().flat_map(|v| v[c * per..(c + 1) * per].iter().map(|&x| x as f64));
        let count = (out.len() * per) as f64;
        let mean = values().sum::<f64>() / count;
        let std = (values().map(|x| (x - mean).powi(2)).sum::<f64>() / count).sqrt().max(1e-8);
        for v in &mut out {
            for x in &mut v[c * per..(c + 1) * per] {
                *x = ((*x as f64 - mean) / std) as f32;
            }
        }
    }
    out
}

/// Sliced Wasserstein distance between two descriptor sets (the larger one subsampled; both
/// subsamples and all directions come from `seed`).
fn sliced_wasserstein(a: &[Vec<f32>], b: &[Vec<f32>], seed: u64) -> f64 {
    let n = a.len().min(b.len());
    if n == 0 {
        return f64::NAN;
    }
    let pick = |set: &[Vec<f32>], rng: &mut ChaCha8Rng| -> Vec<Vec<f32>> {
        let mut idx: Vec<usize> = (0..set.len()).collect();
        for i in 0..n {
            let j = rng.random_range(i..idx.len());
            idx.swap(i, j);
        }
        idx[..n].iter().map(|&i| set[i].clone()).collect()
    };
    let (a, b) = (pick(a, &mut ChaCha8Rng::seed_from_u64(seed)), pick(b, &mut ChaCha8Rng::seed_from_u64(seed)));
    let rng = &mut ChaCha8Rng::seed_from_u64(seed.wrapping_add(1));
    let d = a[0].len();
    let mut total = 0.0;
    for _ in 0..DIRECTIONS {
        // A uniformly random direction: a normalised Gaussian vector (Box–Muller).
        let mut dir: Vec<f64> = (0..d)
            .map(|_| {
                let (u, v): (f64, f64) = (rng.random_range(f64::EPSILON..1.0), rng.random_range(0.0..1.0));
                (-2.0 * u.ln()).sqrt() * (2.0 * std::f64::consts::PI * v).cos()
            })
            .collect();
        let norm = dir.iter().map(|x| x * x).sum::<f64>().sqrt();
        dir.iter_mut().for_each(|x| *x /= norm);
        let project = |set: &[Vec<f32>]| -> Vec<f64> {
            let mut p: Vec<f64> = set.iter().map(|v| v.iter().zip(&dir).map(|(&x, &w)| x as f64 * w).sum()).collect();
            p.sort_by(f64::total_cmp);
            p
        };
        let (pa, pb) = (project(&a), project(&b));
        total += pa.iter().zip(&pb).map(|(x, y)| (x - y).abs()).sum::<f64>() / n as f64;
    }
    total / DIRECTIONS as f64
}

/// 1-D Wasserstein distance between two samples of values, via their quantiles.
fn wasserstein_1d(mut a: Vec<f32>, mut b: Vec<f32>) -> f64 {
    a.sort_by(f32::total_cmp);
    b.sort_by(f32::total_cmp);
    let q = |v: &[f32], t: f64| v[((t * (v.len() - 1) as f64).round() as usize).min(v.len() - 1)] as f64;
    (0..QUANTILES).map(|i| (i as f64 + 0.5) / QUANTILES as f64).map(|t| (q(&a, t) - q(&b, t)).abs()).sum::<f64>()
        / QUANTILES as f64
}

/// Block-average every image of a set to `size`.
fn resample(set: &ImageSet, size: usize) -> Planes {
    let r = set.size / size;
    let mut px = Vec::with_capacity(set.len() * 3 * size * size);
    let p = Planes::of(set);
    for i in 0..p.n {
        for c in 0..3 {
            for y in 0..size {
                for x in 0..size {
                    let mut sum = 0.0;
                    for dy in 0..r {
                        for dx in 0..r {
                            sum += p.at(i, c, y * r + dy, x * r + dx);
                        }
                    }
                    px.push(sum / (r * r) as f32);
                }
            }
        }
    }
    Planes { n: set.len(), s: size, px }
}

fn colour_distance(a: &ImageSet, b: &ImageSet, size: usize) -> f64 {
    let (pa, pb) = (resample(a, size), resample(b, size));
    let channel = |p: &Planes, c: usize| -> Vec<f32> {
        (0..p.n)
            .flat_map(|i| (0..p.s * p.s).map(move |k| (i, k)))
            .map(|(i, k)| p.px[(i * 3 + c) * p.s * p.s + k])
            .collect()
    };
    (0..3).map(|c| wasserstein_1d(channel(&pa, c), channel(&pb, c))).sum::<f64>() / 3.0
}

/// Mean over `from` of the RMS difference (grey levels) to the nearest image of `to`.
fn nearest_neighbour(from: &ImageSet, to: &ImageSet) -> f64 {
    let per = 3 * from.size * from.size;
    (0..from.len())
        .map(|i| {
            let a = &from.pixels[i * per..(i + 1) * per];
            to.pixels
                .chunks_exact(per)
                .map(|b| a.iter().zip(b).map(|(x, y)| ((x - y) as f64).powi(2)).sum::<f64>())
                .fold(f64::INFINITY, f64::min)
                / per as f64
        })
        .map(f64::sqrt)
        .sum::<f64>()
        / from.len() as f64
}

/// Compare synthesized images with held-out ones (and, if given, with the training set).
/// `scales` lists the grids for the colour distances. Both sets must have the same image size.
pub fn evaluate(
    synthesized: &ImageSet,
    held_out: &ImageSet,
    train: Option<&ImageSet>,
    scales: &[usize],
    seed: u64,
) -> Metrics {
    assert_eq!(synthesized.size, held_out.size, "compare images of one size");
    let (la, lb) = (laplacian(synthesized), laplacian(held_out));
    let swd: Vec<LevelSwd> = la
        .iter()
        .zip(&lb)
        .enumerate()
        .map(|(i, (a, b))| {
            let level_seed = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15).wrapping_add(i as u64);
            let (da, db) = (descriptors(a, level_seed), descriptors(b, level_seed));
            LevelSwd { size: a.s, swd: 1e3 * sliced_wasserstein(&da, &db, level_seed) }
        })
        .collect();
    let swd_mean = swd.iter().map(|l| l.swd).sum::<f64>() / swd.len() as f64;
    let colour = scales
        .iter()
        .filter(|&&s| s <= synthesized.size && synthesized.size.is_multiple_of(s))
        .map(|&size| GridColour { size, distance: colour_distance(synthesized, held_out, size) })
        .collect();
    let (nn_s, nn_h) = match train {
        Some(t) => (Some(nearest_neighbour(synthesized, t)), Some(nearest_neighbour(held_out, t))),
        None => (None, None),
    };
    Metrics {
        swd,
        swd_mean,
        colour,
        nn_synthesized_to_train: nn_s,
        nn_held_out_to_train: nn_h,
        nn_ratio: nn_s.zip(nn_h).map(|(s, h)| s / h),
        flat_share: flat_share(synthesized),
        held_out_flat_share: flat_share(held_out),
    }
}
