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

/// A PNG whose header claims `w`×`h` pixels, with a few bytes of image data: a decompression bomb.
fn bomb_png(w: u32, h: u32) -> Vec<u8> {
    fn crc32(bytes: &[u8]) -> u32 {
        let mut c = !0u32;
        for &b in bytes {
            c ^= b as u32;
            for _ in 0..8 {
                c = if c & 1 != 0 { 0xEDB8_8320 ^ (c >> 1) } else { c >> 1 };
            }
        }
        !c
    }
    let chunk = |kind: &[u8], data: &[u8]| {
        let mut body = kind.to_vec();
        body.extend_from_slice(data);
        let mut out = (data.len() as u32).to_be_bytes().to_vec();
        out.extend_from_slice(&body);
        out.extend_from_slice(&crc32(&body).to_be_bytes());
        out
    };
    let mut ihdr = w.to_be_bytes().to_vec();
    ihdr.extend_from_slice(&h.to_be_bytes());
    ihdr.extend_from_slice(&[8, 2, 0, 0, 0]); // 8-bit RGB
    let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
    png.extend(chunk(b"IHDR", &ihdr));
    png.extend(chunk(b"IDAT", &[0x78, 0x9c, 0x03, 0x00, 0x00, 0x00, 0x00, 0x01]));
    png.extend(chunk(b"IEND", &[]));
    png
}

#[test]
fn a_decompression_bomb_is_refused_by_its_header_before_decoding() {
    let bomb = bomb_png(40_000, 40_000);
    assert!(bomb.len() < 100);
    let e = decode(&bomb, 16).unwrap_err().to_string();
    assert!(e.contains("40000×40000") && e.contains("decompression bomb"), "{e}");
    assert_eq!(multigrid_ebm::data::checked_dimensions(&bomb_png(300, 200)).unwrap(), Some((300, 200)));
    assert_eq!(multigrid_ebm::data::checked_dimensions(b"plain text, not an image").unwrap(), None);
}

/// Training on a folder of hostile files uses the good images and names every other file;
/// nothing panics, hangs (a symbolic link loop) or allocates gigabytes (a decompression bomb).
#[test]
fn a_folder_of_hostile_images_trains_on_the_usable_ones_and_names_the_rest() {
    let dir = common::tempdir("hostile");
    common::stripes_folder(&dir, 3, 16);
    let save = |name: &str, image: image::DynamicImage| std::fs::write(dir.join(name), png(image)).unwrap();
    save(
        "deep16.png",
        image::DynamicImage::ImageRgb16(image::ImageBuffer::from_pixel(20, 20, image::Rgb([40000u16, 0, 65535]))),
    );
    save("one-pixel.png", image::DynamicImage::ImageRgb8(image::RgbImage::from_pixel(1, 1, image::Rgb([9, 99, 199]))));
    save("alpha.png", image::DynamicImage::ImageRgba8(image::RgbaImage::from_pixel(8, 8, image::Rgba([0, 0, 0, 128]))));
    let mut cmyk = Vec::new();
    image::codecs::jpeg::JpegEncoder::new(&mut cmyk)
        .encode(&[0u8, 255, 255, 0].repeat(64), 8, 8, image::ExtendedColorType::Cmyk8)
        .map(|_| std::fs::write(dir.join("cmyk.jpg"), &cmyk).unwrap())
        .ok(); // where the encoder cannot write CMYK, the folder simply has one file fewer
    std::fs::write(dir.join("empty.png"), b"").unwrap();
    std::fs::write(dir.join("text.png"), b"just some text pretending to be a PNG").unwrap();
    std::fs::write(dir.join("bomb.png"), bomb_png(40_000, 40_000)).unwrap();
    std::fs::create_dir(dir.join("sub")).unwrap();
    #[cfg(unix)]
    std::os::unix::fs::symlink(&dir, dir.join("sub").join("loop")).unwrap();

    let run = dir.join("..").join(format!("hostile-run-{}", std::process::id()));
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_multigrid"))
        .args(["train", "--preset", "tiny", "--iters", "2", "--quiet", "--data"])
        .arg(&dir)
        .arg("--out")
        .arg(&run)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    // The resident memory the run logged stayed far below the bomb's claim (2 GB is the limit).
    let log = std::fs::read_to_string(run.join("log.jsonl")).unwrap();
    for line in log.lines() {
        let rss: f64 = serde_json::from_str::<serde_json::Value>(line).unwrap()["rss_mb"].as_f64().unwrap();
        assert!(rss < 2000.0, "resident {rss} MB");
    }
    for named in ["empty.png", "text.png", "bomb.png", "loop"] {
        assert!(stderr.contains(named), "{named} not named: {stderr}");
    }
    let (set, skipped) = load_folder(&dir, 16).unwrap();
    let good = ["deep16.png", "one-pixel.png", "alpha.png"];
    for name in good {
        assert!(set.names.iter().any(|n| n.ends_with(name)), "{name} not loaded: {:?}", set.names);
    }
    assert!(set.len() >= 3 + good.len(), "{:?}", set.names);
    assert_eq!(skipped.len(), 4, "{skipped:?}");
    // 16-bit values are scaled to 8-bit levels.
    let deep = set.names.iter().position(|n| n.ends_with("deep16.png")).unwrap();
    let px = &set.pixels[deep * 3 * 256..(deep + 1) * 3 * 256];
    assert!((px[0] - 40000.0 / 257.0).abs() < 1.0 && (px[2 * 256] - 255.0).abs() < 0.5, "{}", px[0]);
}
