//! `eval` metrics and inpainting: identical sets score ~0, data against noise scores high, and
//! recovery with nothing occluded returns its input.
#![cfg(not(target_arch = "wasm32"))]

mod common;
use burn::prelude::*;
use common::*;
use multigrid_ebm::data::{ImageSet, load_folder};
use multigrid_ebm::eval::{FLAT_STD, evaluate, flat_share, pixel_std};
use multigrid_ebm::inpaint::{MaskKind, make_mask, occluded_error, recover};
use multigrid_ebm::{Config, Learner};
use rand::SeedableRng;

fn textures(split: &str) -> ImageSet {
    load_folder(&std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("data/textures").join(split), 64).unwrap().0
}

fn noise(n: usize) -> ImageSet {
    let mut set = ImageSet::new(64);
    for i in 0..n {
        set.push(format!("noise {i}"), pseudo_random(3 * 64 * 64, i as u64, 0.0, 255.0));
    }
    set
}

#[test]
fn identical_sets_score_about_zero_and_noise_scores_high() {
    let held_out = textures("held-out");
    let same = evaluate(&held_out, &held_out, Some(&held_out), &[1, 4, 16, 64], 0);
    let far = evaluate(&noise(36), &held_out, Some(&textures("train")), &[1, 4, 16, 64], 0);
    println!("identical: SWD {:.1}, noise: SWD {:.1}", same.swd_mean, far.swd_mean);
    assert!(same.colour.iter().all(|c| c.distance == 0.0), "{:?}", same.colour);
    assert_eq!(same.nn_synthesized_to_train, Some(0.0));
    assert!(far.colour.iter().all(|c| c.distance > 10.0), "{:?}", far.colour);
    assert_eq!(same.swd_mean, 0.0);
    assert!(far.swd_mean > 100.0, "noise vs data: SWD only {}", far.swd_mean);
    // Two halves of the training set: close, but not identical.
    let train = textures("train");
    let (even, odd) = split(&train);
    let halves = evaluate(&even, &odd, None, &[1, 4, 16, 64], 0);
    println!("two halves of the training set: SWD {:.1}", halves.swd_mean);
    assert!(halves.swd_mean > 0.0 && halves.swd_mean * 3.0 < far.swd_mean);
    assert!(far.nn_ratio.unwrap() > 1.5, "noise is not near the training images: {:?}", far.nn_ratio);
}

/// Flat images (one colour, or a faint gradient) count as flat, noise and most of the bundled
/// textures do not.
#[test]
fn flat_images_are_counted() {
    let mut set = ImageSet::new(64);
    set.push("orange".into(), [230.0, 120.0, 30.0].iter().flat_map(|&c| vec![c; 64 * 64]).collect());
    set.push("faint".into(), (0..3 * 64 * 64).map(|i| 100.0 + (i % 64) as f32 * 0.2).collect());
    let flats = set.len();
    for (i, image) in noise(2).pixels.chunks(3 * 64 * 64).enumerate() {
        set.push(format!("noise {i}"), image.to_vec());
    }
    let std = pixel_std(&set);
    println!("pixel std: {std:?}");
    assert!(std[..flats].iter().all(|&s| s < FLAT_STD) && std[flats..].iter().all(|&s| s > 50.0), "{std:?}");
    assert_eq!(flat_share(&set), 0.5);
    let held_out = textures("held-out");
    let m = evaluate(&held_out, &held_out, None, &[1, 4, 16, 64], 0);
    println!("held-out textures: {:.1}% flat", 100.0 * m.held_out_flat_share);
    assert_eq!(m.flat_share, m.held_out_flat_share);
    // 6 of the 36 held-out crops are smooth (dark sky, petals).
    assert!(m.held_out_flat_share < 0.25, "the real textures are mostly flat? {}", m.held_out_flat_share);
}

fn split(set: &ImageSet) -> (ImageSet, ImageSet) {
    let per = 3 * 64 * 64;
    let (mut a, mut b) = (ImageSet::new(64), ImageSet::new(64));
    for (i, name) in set.names.iter().enumerate() {
        let half = if i % 2 == 0 { &mut a } else { &mut b };
        half.push(name.clone(), set.pixels[i * per..(i + 1) * per].to_vec());
    }
    (a, b)
}

#[test]
fn evaluation_is_deterministic_for_a_seed() {
    let (a, b) = (textures("held-out"), noise(8));
    assert_eq!(evaluate(&b, &a, None, &[1, 4, 16, 64], 3), evaluate(&b, &a, None, &[1, 4, 16, 64], 3));
    assert_ne!(evaluate(&b, &a, None, &[1, 4, 16, 64], 3).swd, evaluate(&b, &a, None, &[1, 4, 16, 64], 4).swd);
}

#[test]
fn recovery_with_every_pixel_known_returns_the_input() {
    let learner = Learner::new(Config::tiny(), 1, &cpu()).unwrap();
    let images = tensor4(pseudo_random(2 * 3 * 16 * 16, 4, 0.0, 255.0), [2, 3, 16, 16]);
    let all = Tensor::<4>::ones([2, 1, 16, 16], &cpu());
    let chain = recover(&learner, images.clone(), all.clone(), None);
    assert_eq!(values(chain.last().unwrap().clone()), values(images.clone()));
    assert_eq!(values(occluded_error(chain.last().unwrap().clone(), images, all)), vec![0.0, 0.0]);
}

#[test]
fn recovery_keeps_known_pixels_and_fills_the_occluded_ones() {
    let learner = Learner::new(Config::tiny(), 1, &cpu()).unwrap();
    let images = tensor4(pseudo_random(2 * 3 * 16 * 16, 5, 0.0, 255.0), [2, 3, 16, 16]);
    let mask = make_mask(MaskKind::Centre, 2, 16, &mut rand_chacha::ChaCha8Rng::seed_from_u64(0));
    assert_eq!(mask.iter().filter(|&&m| m == 0.0).count(), 2 * 8 * 8);
    let known = Tensor::<4>::from_data(TensorData::new(mask.clone(), [2, 1, 16, 16]), &cpu());
    let recovered = values(recover(&learner, images.clone(), known.clone(), None).pop().unwrap());
    let original = values(images);
    for (i, (r, o)) in recovered.iter().zip(&original).enumerate() {
        let (n, p) = (i / (3 * 256), i % 256);
        if mask[n * 256 + p] == 1.0 {
            assert_eq!(r, o, "a known pixel moved");
        }
        assert!(r.is_finite() && (0.0..=255.0).contains(r));
    }
    let random = make_mask(MaskKind::Random(0.3), 4, 16, &mut rand_chacha::ChaCha8Rng::seed_from_u64(1));
    let hidden = random.iter().filter(|&&m| m == 0.0).count() as f64 / random.len() as f64;
    assert!((hidden - 0.3).abs() < 0.05, "{hidden}");
}
