//! Observed images: decoded with the `image` crate (PNG, JPEG, GIF, BMP, WebP, TIFF),
//! centre-cropped to a square and resized to the finest grid. Grey images become RGB;
//! transparent pixels are composited over white. Pixels are f32 in [0, 255], laid out
//! [n, 3, s, s] (channel, row, column), as the nets take them.

use burn::prelude::*;
use image::imageops::FilterType;
use image::{DynamicImage, ImageBuffer, Rgba};

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

/// Centre-crop to a square, composite over white, resize to `size` × `size`; CHW in [0, 255].
pub fn prepare(image: &DynamicImage, size: usize) -> Result<Vec<f32>> {
    let (w, h) = (image.width(), image.height());
    if w == 0 || h == 0 {
        return Err(Error::Data(format!("the image is empty ({w}×{h})")));
    }
    let side = w.min(h);
    let square = image.crop_imm((w - side) / 2, (h - side) / 2, side, side).to_rgba32f();
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

/// Decode an encoded image file (any format the `image` crate reads) and prepare it.
pub fn decode(bytes: &[u8], size: usize) -> Result<Vec<f32>> {
    let image = image::load_from_memory(bytes).map_err(|e| Error::Data(e.to_string()))?;
    prepare(&image, size)
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
#[cfg(not(target_arch = "wasm32"))]
fn files_under(dir: &std::path::Path) -> Result<Vec<std::path::PathBuf>> {
    let mut files = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(d) = pending.pop() {
        let entries =
            std::fs::read_dir(&d).map_err(|e| Error::Data(format!("cannot read folder {}: {e}", d.display())))?;
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
    for path in files_under(dir)? {
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

/// One line naming every skipped file and the reason.
pub fn describe_skipped(skipped: &[Skipped]) -> String {
    skipped.iter().map(|s| format!("{} ({})", s.name, s.reason)).collect::<Vec<_>>().join("; ")
}
