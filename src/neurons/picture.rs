//! Loading a `picture` neuron's PNG asset as a grey matrix, safely: the header's dimensions are
//! read before anything is decoded, so a tiny file that claims 16384×16384 pixels is refused
//! without allocating for it, and the decoder itself runs under memory limits.

use super::AssetDirs;
use image::{ImageBuffer, ImageReader, Limits, Luma};
use std::path::Path;

/// Largest side of a picture asset, in pixels (the same bound as an image stream's side). A
/// larger asset is refused: scale it down first; it is resized to the neuron's shape anyway.
pub const MAX_PICTURE_SIDE: u32 = 4096;

/// Most bytes the PNG decoder may hold at once (an RGBA 16-bit 4096² picture is 128 MiB).
pub const MAX_PICTURE_DECODE_BYTES: u64 = 160 << 20;

/// Loads a PNG as grey (BT.601 luma) in [0, 1], resized to rows×cols (triangle filter).
pub fn load_picture(
    file: &str,
    rows: usize,
    cols: usize,
    assets: &AssetDirs,
) -> Result<Vec<f32>, String> {
    let candidates = assets.resolve(file);
    let Some(path) = candidates.iter().find(|p| p.is_file()) else {
        let tried: Vec<String> = candidates.iter().map(|p| p.display().to_string()).collect();
        return Err(format!(
            "asset {file:?} not found (looked in: {})",
            tried.join(", ")
        ));
    };
    let (w, h, grey) = decode_grey(path)?;
    if w as usize == cols && h as usize == rows {
        return Ok(grey);
    }
    let buf: ImageBuffer<Luma<f32>, Vec<f32>> =
        ImageBuffer::from_raw(w, h, grey).ok_or("image buffer size mismatch")?;
    let resized = image::imageops::resize(
        &buf,
        cols as u32,
        rows as u32,
        image::imageops::FilterType::Triangle,
    );
    Ok(resized.into_raw())
}

/// Reads the header, refuses oversized pictures, then decodes under limits into grey pixels.
fn decode_grey(path: &Path) -> Result<(u32, u32, Vec<f32>), String> {
    let cannot = |e: &dyn std::fmt::Display| format!("cannot read {} as a PNG: {e}", shown(path));
    let mut reader = ImageReader::open(path)
        .map_err(|e| cannot(&e))?
        .with_guessed_format()
        .map_err(|e| cannot(&e))?;
    let mut limits = Limits::default();
    limits.max_alloc = Some(MAX_PICTURE_DECODE_BYTES);
    reader.limits(limits);
    let limit_err = |e: image::ImageError| match e {
        image::ImageError::Limits(_) => too_large(path),
        e => cannot(&e),
    };
    // Only the header is read here: the pixels are decoded once the size is known to be fine.
    let decoder = reader.into_decoder().map_err(limit_err)?;
    let (w, h) = image::ImageDecoder::dimensions(&decoder);
    if w > MAX_PICTURE_SIDE || h > MAX_PICTURE_SIDE || w == 0 || h == 0 {
        return Err(format!(
            "{} is {w}x{h} pixels; a picture may be 1..={MAX_PICTURE_SIDE} pixels a side (scale it down first)",
            shown(path)
        ));
    }
    let img = image::DynamicImage::from_decoder(decoder).map_err(limit_err)?;
    Ok((w, h, grey_of(&img)))
}

fn shown(path: &Path) -> String {
    format!("{:?}", path.display().to_string())
}

fn too_large(path: &Path) -> String {
    format!(
        "{} needs more than {} MiB to decode; scale it down first",
        shown(path),
        MAX_PICTURE_DECODE_BYTES >> 20
    )
}

/// BT.601 luma of every pixel, in [0, 1], without an intermediate float RGB copy.
fn grey_of(img: &image::DynamicImage) -> Vec<f32> {
    use image::DynamicImage as D;
    let luma = |r: f32, g: f32, b: f32| 0.299 * r + 0.587 * g + 0.114 * b;
    match img {
        D::ImageRgb8(b) => b
            .pixels()
            .map(|p| luma(u8f(p[0]), u8f(p[1]), u8f(p[2])))
            .collect(),
        D::ImageRgba8(b) => b
            .pixels()
            .map(|p| luma(u8f(p[0]), u8f(p[1]), u8f(p[2])))
            .collect(),
        D::ImageLuma8(b) => b.pixels().map(|p| luma1(u8f(p[0]))).collect(),
        D::ImageLumaA8(b) => b.pixels().map(|p| luma1(u8f(p[0]))).collect(),
        D::ImageRgb16(b) => b
            .pixels()
            .map(|p| luma(u16f(p[0]), u16f(p[1]), u16f(p[2])))
            .collect(),
        D::ImageRgba16(b) => b
            .pixels()
            .map(|p| luma(u16f(p[0]), u16f(p[1]), u16f(p[2])))
            .collect(),
        D::ImageLuma16(b) => b.pixels().map(|p| luma1(u16f(p[0]))).collect(),
        D::ImageLumaA16(b) => b.pixels().map(|p| luma1(u16f(p[0]))).collect(),
        D::ImageRgb32F(b) => b.pixels().map(|p| luma(p[0], p[1], p[2])).collect(),
        D::ImageRgba32F(b) => b.pixels().map(|p| luma(p[0], p[1], p[2])).collect(),
        // A layout a PNG does not decode to today: through an RGB f32 copy.
        other => other
            .to_rgb32f()
            .pixels()
            .map(|p| luma(p[0], p[1], p[2]))
            .collect(),
    }
}

fn u16f(v: u16) -> f32 {
    v as f32 / 65535.0
}

fn u8f(v: u8) -> f32 {
    v as f32 / 255.0
}

/// A grey pixel through the same weights as a colour one (so grey and RGB files agree).
fn luma1(v: f32) -> f32 {
    0.299 * v + 0.587 * v + 0.114 * v
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every pixel layout gives the grey the old RGB-f32 path gave (so pictures look the same).
    #[test]
    fn grey_matches_the_rgb_f32_path_for_every_layout() {
        let dir = tempfile::tempdir().unwrap();
        let rgb8: Vec<u8> = (0..4 * 3 * 3).map(|i| (i * 37 % 256) as u8).collect();
        let wide = |v: &[u8]| -> Vec<u16> { v.iter().map(|&x| x as u16 * 257 + 3).collect() };
        let save16 = |name: &str, data: &[u16], rgb: bool| {
            let img: image::DynamicImage = if rgb {
                image::ImageBuffer::<image::Rgb<u16>, _>::from_raw(4, 3, data.to_vec())
                    .unwrap()
                    .into()
            } else {
                image::ImageBuffer::<image::Luma<u16>, _>::from_raw(4, 3, data.to_vec())
                    .unwrap()
                    .into()
            };
            img.save(dir.path().join(name)).unwrap();
        };
        image::save_buffer(
            dir.path().join("rgb8.png"),
            &rgb8,
            4,
            3,
            image::ExtendedColorType::Rgb8,
        )
        .unwrap();
        image::save_buffer(
            dir.path().join("l8.png"),
            &rgb8[..12],
            4,
            3,
            image::ExtendedColorType::L8,
        )
        .unwrap();
        save16("rgb16.png", &wide(&rgb8), true);
        save16("l16.png", &wide(&rgb8[..12]), false);
        let assets = AssetDirs {
            base: Some(dir.path().to_path_buf()),
        };
        for name in ["rgb8.png", "l8.png", "rgb16.png", "l16.png"] {
            let got = load_picture(name, 3, 4, &assets).unwrap();
            let old = image::open(dir.path().join(name)).unwrap().to_rgb32f();
            let want: Vec<f32> = old
                .pixels()
                .map(|p| 0.299 * p[0] + 0.587 * p[1] + 0.114 * p[2])
                .collect();
            assert_eq!(got.len(), 12, "{name}");
            for (g, w) in got.iter().zip(&want) {
                assert!((g - w).abs() < 1e-6, "{name}: {got:?} vs {want:?}");
            }
        }
    }
}
