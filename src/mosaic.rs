//! Images for people: RGBA pixels of a batch (what a canvas draws) and PNG mosaics (what the
//! CLI writes), small grids scaled up with crisp (nearest-neighbour) pixels.

use image::{ImageBuffer, Rgba, RgbaImage};

/// [n, 3, s, s] values in [0, 255] → n RGBA images of s × s, each s·s·4 bytes.
pub fn to_rgba(pixels: &[f32], n: usize, size: usize) -> Vec<u8> {
    let plane = size * size;
    let mut out = Vec::with_capacity(n * plane * 4);
    for i in 0..n {
        let image = &pixels[i * 3 * plane..(i + 1) * 3 * plane];
        for p in 0..plane {
            for c in 0..3 {
                out.push(image[c * plane + p].round().clamp(0.0, 255.0) as u8);
            }
            out.push(255);
        }
    }
    out
}

/// Tile n images of s × s into a mosaic of `columns` columns, each image scaled up by an
/// integer factor to at least `min_tile` pixels, with a 2-pixel white gap.
pub fn mosaic(pixels: &[f32], n: usize, size: usize, columns: usize, min_tile: usize) -> RgbaImage {
    let scale = min_tile.div_ceil(size).max(1);
    let tile = size * scale;
    let gap = 2;
    let columns = columns.clamp(1, n.max(1));
    let rows = n.div_ceil(columns).max(1);
    let (w, h) = (columns * (tile + gap) + gap, rows * (tile + gap) + gap);
    let rgba = to_rgba(pixels, n, size);
    ImageBuffer::from_fn(w as u32, h as u32, |x, y| {
        let (x, y) = (x as usize, y as usize);
        let (cx, cy) = ((x.saturating_sub(gap)) / (tile + gap), (y.saturating_sub(gap)) / (tile + gap));
        let (ox, oy) = (x.saturating_sub(gap) % (tile + gap), y.saturating_sub(gap) % (tile + gap));
        let i = cy * columns + cx;
        if x < gap || y < gap || ox >= tile || oy >= tile || i >= n {
            return Rgba([255, 255, 255, 255]);
        }
        let at = (i * size * size + (oy / scale) * size + ox / scale) * 4;
        Rgba([rgba[at], rgba[at + 1], rgba[at + 2], 255])
    })
}

/// Encode an image as PNG.
pub fn png(image: &RgbaImage) -> Vec<u8> {
    let mut bytes = std::io::Cursor::new(Vec::new());
    image.write_to(&mut bytes, image::ImageFormat::Png).expect("PNG encoding into memory does not fail");
    bytes.into_inner()
}

/// Columns for a near-square mosaic of n images.
pub fn columns_for(n: usize) -> usize {
    (n as f64).sqrt().ceil().max(1.0) as usize
}
