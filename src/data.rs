//! Observed images: decoded with the `image` crate (PNG, JPEG, GIF, BMP, WebP, TIFF),
//! centre-cropped to a square and resized to the finest grid. Grey images become RGB;
//! transparent pixels are composited over white. Pixels are f32 in [0, 255], laid out
//! [n, 3, s, s] (channel, row, column), as the nets take them.
//!
//! Files are untrusted: decoding runs under explicit limits ([`MAX_SIDE`], [`MAX_PIXELS`], and
//! the decoder's allocation cap [`MAX_DECODER_BYTES`]), so a decompression bomb (a few KB that
//! claim 40000×40000 pixels) is refused by name before anything large is allocated, and folders
//! are walked without following a symbolic link into a folder already visited.

use burn::prelude::*;
use image::imageops::FilterType;
use image::{DynamicImage, ImageBuffer, ImageReader, Limits, Rgba};

use crate::{Error, Result};

/// A set of observed images of one size, on the host.
#[derive(Clone, Debug, Default)]
pub struct ImageSet {
    pub size: usize,
    /// n × 3 × size × size values in [0, 255].
    pub pixels: Vec<f32>,
    pub names: Vec<String>,
}

/// A file that could not be used, and why.
#[derive(Clone, Debug)]
pub struct Skipped {
    pub name: String,
    pub reason: String,
}

impl ImageSet {
    pub fn new(size: usize) -> ImageSet {
        ImageSet { size, pixels: Vec::new(), names: Vec::new() }
    }

    pub fn len(&self) -> usize {
        self.names.len()
    }

    pub fn is_empty(&self) -> bool {
        self.names.is_empty()
    }

    pub fn push(&mut self, name: String, pixels: Vec<f32>) {
        assert_eq!(pixels.len(), 3 * self.size * self.size, "an image of the set's size");
        self.pixels.extend(pixels);
        self.names.push(name);
    }

    /// The images as one device tensor [n, 3, s, s].
    pub fn to_tensor(&self, device: &Device) -> Tensor<4> {
        crate::device::images_tensor(self.pixels.clone(), self.len(), self.size, device)
    }

    /// The first `n` images (or fewer).
    pub fn take(&self, n: usize) -> ImageSet {
        let n = n.min(self.len());
        let per = 3 * self.size * self.size;
        ImageSet { size: self.size, pixels: self.pixels[..n * per].to_vec(), names: self.names[..n].to_vec() }
    }
}

/// The longest side a decoded image may have.
pub const MAX_SIDE: u32 = 16_384;
/// The most pixels a decoded image may have (100 megapixels).
pub const MAX_PIXELS: u64 = 100_000_000;
/// What a decoder may allocate for one image.
pub const MAX_DECODER_BYTES: u64 = 512 << 20;
/// Squares larger than this are first reduced in their own pixel type, so that the float copy
/// made for compositing and resizing stays small; the page keeps images at most this large on
/// their shorter side ([`decode_size`]).
pub const KEPT_SIDE: u32 = 1024;

/// Centre-crop to a square, composite over white, resize to `size` × `size`; CHW in [0, 255].
pub fn prepare(image: &DynamicImage, size: usize) -> Result<Vec<f32>> {
    let (w, h) = (image.width(), image.height());
    if w == 0 || h == 0 {
        return Err(Error::Data(format!("the image is empty ({w}×{h})")));
    }
    let side = w.min(h);
    let mut square = image.crop_imm((w - side) / 2, (h - side) / 2, side, side);
    if side > KEPT_SIDE.max(size as u32) {
        let reduced = KEPT_SIDE.max(size as u32);
        square = square.resize_exact(reduced, reduced, FilterType::Triangle);
    }
    let side = square.width();
    let square = square.to_rgba32f();
    let white = ImageBuffer::from_fn(side, side, |x, y| {
        let Rgba([r, g, b, a]) = *square.get_pixel(x, y);
        let over = |c: f32| c * a + (1.0 - a);
        Rgba([over(r), over(g), over(b), 1.0])
    });
    let resized = image::imageops::resize(&white, size as u32, size as u32, FilterType::CatmullRom);
    let mut out = vec![0.0; 3 * size * size];
    for (x, y, Rgba(p)) in resized.enumerate_pixels() {
        for c in 0..3 {
            out[(c * size + y as usize) * size + x as usize] = (p[c] * 255.0).clamp(0.0, 255.0);
        }
    }
    Ok(out)
}

/// An image file's width and height read from its header alone, refused when over the limits
/// above; None when the `image` crate does not know the format (a browser may still decode it).
pub fn checked_dimensions(bytes: &[u8]) -> Result<Option<(u32, u32)>> {
    if bytes.is_empty() {
        return Err(Error::Data("the file is empty (0 bytes)".into()));
    }
    let reader =
        ImageReader::new(std::io::Cursor::new(bytes)).with_guessed_format().map_err(|e| Error::Data(e.to_string()))?;
    if reader.format().is_none() {
        return Ok(None);
    }
    let (w, h) = reader.into_dimensions().map_err(|e| Error::Data(e.to_string()))?;
    if w > MAX_SIDE || h > MAX_SIDE || u64::from(w) * u64::from(h) > MAX_PIXELS {
        return Err(Error::Data(format!(
            "the image claims {w}×{h} pixels, over the limit of {MAX_SIDE} per side and {} megapixels \
             (a decompression bomb, or a picture to scale down first); it was not decoded",
            MAX_PIXELS / 1_000_000
        )));
    }
    Ok(Some((w, h)))
}

/// The size to decode an image file at: its own (from its header, under the limits above), or
/// scaled down so that its shorter side is [`KEPT_SIDE`] (a model of any size re-crops from
/// that). None where the `image` crate does not know the format (a browser may still decode it).
pub fn decode_size(bytes: &[u8]) -> Result<Option<(u32, u32)>> {
    Ok(checked_dimensions(bytes)?.map(|(w, h)| {
        let short = w.min(h);
        if short <= KEPT_SIDE {
            return (w, h);
        }
        let scale =
            |side: u32| ((u64::from(side) * u64::from(KEPT_SIDE) + u64::from(short) / 2) / u64::from(short)).max(1);
        (scale(w) as u32, scale(h) as u32)
    }))
}

/// Decode an encoded image file (any format the `image` crate reads) under the limits above,
/// and prepare it.
pub fn decode(bytes: &[u8], size: usize) -> Result<Vec<f32>> {
    if checked_dimensions(bytes)?.is_none() {
        return Err(Error::Data("not an image format this program reads (PNG, JPEG, GIF, BMP, WebP, TIFF)".into()));
    }
    let mut limits = Limits::default();
    limits.max_image_width = Some(MAX_SIDE);
    limits.max_image_height = Some(MAX_SIDE);
    limits.max_alloc = Some(MAX_DECODER_BYTES);
    let mut reader =
        ImageReader::new(std::io::Cursor::new(bytes)).with_guessed_format().map_err(|e| Error::Data(e.to_string()))?;
    reader.limits(limits);
    let image = reader.decode().map_err(|e| Error::Data(e.to_string()))?;
    prepare(&image, size)
}

/// An image as a browser canvas gives it: RGBA bytes, row by row, of `width` × `height` pixels.
#[derive(Clone, Copy, Debug)]
pub struct CanvasPixels<'a> {
    pub bytes: &'a [u8],
    pub width: u32,
    pub height: u32,
}

/// Prepare raw RGBA pixels (as a browser canvas gives them).
pub fn from_rgba(rgba: &[u8], width: u32, height: u32, size: usize) -> Result<Vec<f32>> {
    let buffer = ImageBuffer::<Rgba<u8>, _>::from_raw(width, height, rgba.to_vec()).ok_or_else(|| {
        Error::Data(format!(
            "{} bytes are not a {width}×{height} RGBA image ({} expected)",
            rgba.len(),
            4 * width as usize * height as usize
        ))
    })?;
    prepare(&DynamicImage::ImageRgba8(buffer), size)
}

/// Every non-hidden file under `dir` (recursively), sorted, so a folder loads in one order.
/// Symbolic links are followed, but a folder already visited (a link loop, or two links to
/// one folder) is walked once and named among the skipped; so is a folder that cannot be read.
#[cfg(not(target_arch = "wasm32"))]
fn files_under(dir: &std::path::Path, skipped: &mut Vec<Skipped>) -> Result<Vec<std::path::PathBuf>> {
    let mut files = Vec::new();
    let mut visited = std::collections::HashSet::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(d) = pending.pop() {
        let Ok(real) = d.canonicalize() else {
            skipped
                .push(Skipped { name: d.display().to_string(), reason: "a broken link or unreadable folder".into() });
            continue;
        };
        if !visited.insert(real) {
            skipped.push(Skipped { name: d.display().to_string(), reason: "a link to a folder already read".into() });
            continue;
        }
        let entries = match std::fs::read_dir(&d) {
            Ok(entries) => entries,
            Err(e) if d == dir => return Err(Error::Data(format!("cannot read folder {}: {e}", d.display()))),
            Err(e) => {
                skipped.push(Skipped { name: d.display().to_string(), reason: format!("cannot read the folder: {e}") });
                continue;
            }
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if entry.file_name().to_string_lossy().starts_with('.') {
                continue;
            }
            if path.is_dir() {
                pending.push(path);
            } else {
                files.push(path);
            }
        }
    }
    files.sort();
    Ok(files)
}

/// Load every image under `dir`; files that do not decode are returned as skipped.
/// A folder with no usable image is an error that says why.
#[cfg(not(target_arch = "wasm32"))]
pub fn load_folder(dir: &std::path::Path, size: usize) -> Result<(ImageSet, Vec<Skipped>)> {
    if !dir.is_dir() {
        return Err(Error::Data(format!("{} is not a folder of images", dir.display())));
    }
    let mut set = ImageSet::new(size);
    let mut skipped = Vec::new();
    for path in files_under(dir, &mut skipped)? {
        let name = path.strip_prefix(dir).unwrap_or(&path).display().to_string();
        let decoded = std::fs::read(&path).map_err(|e| Error::Data(e.to_string())).and_then(|b| decode(&b, size));
        match decoded {
            Ok(pixels) => set.push(name, pixels),
            Err(e) => skipped.push(Skipped { name: path.display().to_string(), reason: e.to_string() }),
        }
    }
    if set.is_empty() {
        let why = if skipped.is_empty() {
            "it holds no files".to_string()
        } else {
            format!("none of its files could be decoded: {}", describe_skipped(&skipped))
        };
        return Err(Error::Data(format!("no usable image in {}: {why}", dir.display())));
    }
    Ok((set, skipped))
}

/// A dataset's packs (`packs.json` beside its split folders, written by `scripts/make-dataset`):
/// each split's images in one PNG atlas, `size` × `size` cells, `columns` a row, row by row in
/// the order of `names` (the files' paths in the dataset). The page loads a split in one
/// request; the command line reads the same packs.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(all(test, not(target_arch = "wasm32")), derive(ts_rs::TS), ts(export))]
pub struct Packs {
    pub size: usize,
    pub packs: Vec<Pack>,
}

/// One split's atlas ([`Packs`]).
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(all(test, not(target_arch = "wasm32")), derive(ts_rs::TS), ts(export))]
pub struct Pack {
    pub split: String,
    pub file: String,
    pub columns: usize,
    pub names: Vec<String>,
}

/// The file that names a dataset's packs.
pub const PACKS: &str = "packs.json";

/// The images of a folder that a pack holds (`dir` is a split folder of a dataset with packs:
/// `data/digits/train`), prepared at `size` and sorted by name as [`load_folder`] would read the
/// folder; None when there is no pack for it.
#[cfg(not(target_arch = "wasm32"))]
pub fn load_pack(dir: &std::path::Path, size: usize) -> Result<Option<ImageSet>> {
    let (Some(root), Some(split)) = (dir.parent(), dir.file_name().and_then(|n| n.to_str())) else { return Ok(None) };
    let Ok(index) = std::fs::read_to_string(root.join(PACKS)) else { return Ok(None) };
    let packs: Packs =
        serde_json::from_str(&index).map_err(|e| Error::Data(format!("{}: {e}", root.join(PACKS).display())))?;
    let Some(pack) = packs.packs.iter().find(|p| p.split == split) else { return Ok(None) };
    let path = root.join(&pack.file);
    let bytes = std::fs::read(&path).map_err(|e| Error::Data(format!("{}: {e}", path.display())))?;
    let atlas = image::load_from_memory(&bytes).map_err(|e| Error::Data(format!("{}: {e}", path.display())))?;
    let cell = packs.size as u32;
    let rows = pack.names.len().div_ceil(pack.columns.max(1)) as u32;
    if pack.columns == 0 || atlas.width() < pack.columns as u32 * cell || atlas.height() < rows * cell {
        return Err(Error::Data(format!(
            "{}: not an atlas of {} images of {cell}×{cell}",
            path.display(),
            pack.names.len()
        )));
    }
    let mut cells: Vec<(&String, DynamicImage)> = pack
        .names
        .iter()
        .enumerate()
        .map(|(i, name)| {
            let (x, y) = ((i % pack.columns) as u32 * cell, (i / pack.columns) as u32 * cell);
            (name, atlas.crop_imm(x, y, cell, cell))
        })
        .collect();
    cells.sort_by(|a, b| a.0.cmp(b.0));
    let mut set = ImageSet::new(size);
    for (name, image) in cells {
        let name = name.strip_prefix(&format!("{split}/")).unwrap_or(name);
        set.push(name.to_string(), prepare(&image, size)?);
    }
    Ok(Some(set))
}

/// One line naming every skipped file and the reason.
pub fn describe_skipped(skipped: &[Skipped]) -> String {
    skipped.iter().map(|s| format!("{} ({})", s.name, s.reason)).collect::<Vec<_>>().join("; ")
}
