//! Image loading: odd images are handled, unreadable files are skipped and named, and the CLI
//! exits with code 2 when nothing usable is left.
#![cfg(not(target_arch = "wasm32"))]

mod common;
use multigrid_ebm::data::{decode, from_rgba, load_folder};

fn png(image: image::DynamicImage) -> Vec<u8> {
    let mut out = std::io::Cursor::new(Vec::new());
    image.write_to(&mut out, image::ImageFormat::Png).unwrap();
    out.into_inner()
}

#[test]
fn grey_alpha_and_non_square_images_become_rgb_squares() {
    let grey = image::DynamicImage::ImageLuma8(image::GrayImage::from_pixel(10, 30, image::Luma([100])));
    let px = decode(&png(grey), 4).unwrap();
    assert_eq!(px.len(), 3 * 16);
    assert!(px.iter().all(|&v| (v - 100.0).abs() < 0.5));
    // Fully transparent black is white; opaque red stays red.
    let rgba =
        image::RgbaImage::from_fn(2, 2, |x, _| image::Rgba(if x == 0 { [0, 0, 0, 0] } else { [255, 0, 0, 255] }));
    let px = decode(&png(image::DynamicImage::ImageRgba8(rgba)), 2).unwrap();
    // [channel][row][column]: column 0 white, column 1 red.
    assert_eq!(px, vec![255., 255., 255., 255., 255., 0., 255., 0., 255., 0., 255., 0.]);
    // A wide image is centre-cropped: the left and right thirds are dropped.
    let wide = image::RgbImage::from_fn(30, 10, |x, _| {
        if (10..20).contains(&x) { image::Rgb([0, 200, 0]) } else { image::Rgb([0, 0, 0]) }
    });
    let px = decode(&png(image::DynamicImage::ImageRgb8(wide)), 2).unwrap();
    assert!(px[4..8].iter().all(|&v| (v - 200.0).abs() < 1.0), "{px:?}");
}

#[test]
fn raw_rgba_of_the_wrong_size_is_an_error() {
    assert!(from_rgba(&[0; 15], 2, 2, 4).unwrap_err().to_string().contains("2×2"));
    assert_eq!(from_rgba(&[7; 16], 2, 2, 4).unwrap().len(), 48);
}

#[test]
fn unreadable_files_are_skipped_and_named() {
    let dir = common::tempdir("skip");
    common::stripes_folder(&dir, 3, 16);
    std::fs::write(dir.join("broken.png"), b"\x89PNG\r\n\x1a\nnot really").unwrap();
    std::fs::write(dir.join("notes.txt"), b"hello").unwrap();
    let (set, skipped) = load_folder(&dir, 16).unwrap();
    assert_eq!(set.len(), 3);
    let names: Vec<_> = skipped.iter().map(|s| s.name.clone()).collect();
    assert!(
        names.iter().any(|n| n.ends_with("broken.png")) && names.iter().any(|n| n.ends_with("notes.txt")),
        "{names:?}"
    );
}

#[test]
fn train_on_a_folder_of_only_corrupt_images_exits_2_naming_the_file() {
    let dir = common::tempdir("corrupt");
    std::fs::write(dir.join("bad.png"), b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR garbage").unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_multigrid"))
        .args(["train", "--preset", "tiny", "--iters", "1", "--quiet", "--data"])
        .arg(&dir)
        .arg("--out")
        .arg(dir.join("run"))
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("bad.png") && stderr.contains("no usable image"), "{stderr}");
}
