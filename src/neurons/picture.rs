//! Loading a `picture` neuron's PNG asset as a grey matrix, safely and in bounded memory: the
//! header's dimensions are checked before any pixel is decoded (a tiny file can claim billions of
//! pixels), and the pixels are decoded row by row and area-averaged into the neuron's shape while
//! decoding, so memory stays about one row plus the neuron's own matrix whatever the file's size.

use super::AssetDirs;
use image::{ImageBuffer, Luma};
use std::io::BufReader;
use std::path::Path;

/// Largest side a picture's header may claim, in pixels. It is downscaled to the neuron's shape
/// while decoding, so a large picture costs time, not memory.
pub const MAX_PICTURE_SIDE: u32 = 65535;

/// Most pixels a picture may have (16384², 268 million): more is refused from the header, before
/// decoding (a few MB of compressed zeros can claim billions of pixels and take minutes).
pub const MAX_PICTURE_PIXELS: u64 = 1 << 28;

/// Most bytes the PNG decoder may hold at once (its row buffers and metadata chunks).
pub const MAX_PICTURE_DECODE_BYTES: u64 = 64 << 20;

/// Loads a PNG as grey (BT.601 luma) in [0, 1] at rows×cols: each axis longer than the neuron's
/// is area-averaged while decoding; an axis shorter than the neuron's is then enlarged (triangle
/// filter).
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
    let (rows, cols) = (rows.max(1) as u32, cols.max(1) as u32);
    let (ih, iw, grey) = decode_averaged(path, rows, cols)?;
    if (ih, iw) == (rows, cols) {
        return Ok(grey);
    }
    let buf: ImageBuffer<Luma<f32>, Vec<f32>> =
        ImageBuffer::from_raw(iw, ih, grey).ok_or("image buffer size mismatch")?;
    let resized = image::imageops::resize(&buf, cols, rows, image::imageops::FilterType::Triangle);
    Ok(resized.into_raw())
}

/// Where the source pixels of one axis (`n` long) go among `m ≤ n` cells: source pixel `x`
/// covers [x·m, (x+1)·m) and cell `j` covers [j·n, (j+1)·n) in units of 1/(n·m); a pixel falls
/// in one cell or straddles two, and its weights are its overlaps / n, so each cell's weights
/// sum to 1 and the cell gets the mean of the pixels under it (area average).
struct Axis {
    cell: Vec<u32>,
    w0: Vec<f64>,
    w1: Vec<f64>,
}

impl Axis {
    fn new(n: u32, m: u32) -> Axis {
        debug_assert!(m >= 1 && m <= n);
        let (n64, m64) = (n as u64, m as u64);
        let mut a = Axis {
            cell: Vec::with_capacity(n as usize),
            w0: Vec::with_capacity(n as usize),
            w1: Vec::with_capacity(n as usize),
        };
        for x in 0..n64 {
            let (lo, hi) = (x * m64, (x + 1) * m64);
            let j = lo / n64;
            let edge = (j + 1) * n64;
            let first = hi.min(edge) - lo;
            a.cell.push(j as u32);
            a.w0.push(first as f64 / n64 as f64);
            a.w1.push((m64 - first) as f64 / n64 as f64);
        }
        a
    }

    /// Adds the samples of one row (at x0, x0 + dx, ...) into their cells, weighted.
    fn spread(&self, samples: &[f32], x0: u32, dx: u32, out: &mut [f64]) {
        let at = self.cell.iter().zip(&self.w0).zip(&self.w1);
        for (&g, ((&c, &w0), &w1)) in samples
            .iter()
            .zip(at.skip(x0 as usize).step_by(dx as usize))
        {
            let (c, g) = (c as usize, g as f64);
            out[c] += g * w0;
            if w1 != 0.0 {
                out[c + 1] += g * w1;
            }
        }
    }
}

/// The Adam7 passes: first column, first row, column step, row step.
const ADAM7: [(u32, u32, u32, u32); 7] = [
    (0, 0, 8, 8),
    (4, 0, 8, 8),
    (0, 4, 4, 8),
    (2, 0, 4, 4),
    (0, 2, 2, 4),
    (1, 0, 2, 2),
    (0, 1, 1, 2),
];

/// Reads the header, refuses absurd sizes, then decodes row by row, area-averaging into
/// min(h, rows) × min(w, cols) cells. Returns that shape and the cells.
fn decode_averaged(path: &Path, rows: u32, cols: u32) -> Result<(u32, u32, Vec<f32>), String> {
    let cannot = |e: &dyn std::fmt::Display| format!("cannot read {} as a PNG: {e}", shown(path));
    let decode_err = |e: png::DecodingError| match e {
        png::DecodingError::LimitsExceeded => too_large(path),
        e => cannot(&e),
    };
    let file = std::fs::File::open(path).map_err(|e| cannot(&e))?;
    let limits = png::Limits {
        bytes: MAX_PICTURE_DECODE_BYTES as usize,
    };
    let mut decoder = png::Decoder::new_with_limits(BufReader::new(file), limits);
    decoder.set_transformations(png::Transformations::EXPAND);
    // Only the header is read here: nothing is decoded until its size is known to be fine.
    let (w, h) = {
        let info = decoder.read_header_info().map_err(decode_err)?;
        (info.width, info.height)
    };
    check_size(path, w, h)?;
    let mut reader = decoder.read_info().map_err(decode_err)?;
    let (color, depth) = reader.output_color_type();
    let wide = depth == png::BitDepth::Sixteen;
    let channels = color.samples();
    let interlaced = reader.info().interlaced;
    let (ih, iw) = (h.min(rows), w.min(cols));
    let (ax, ay) = (Axis::new(w, iw), Axis::new(h, ih));
    // f64 sums: a cell may hold the mean of millions of pixels.
    let mut cells = vec![0f64; ih as usize * iw as usize];
    let mut row = vec![0f64; iw as usize];
    let mut grey = Vec::with_capacity(w as usize);
    // Which pass and line of an interlaced file the next row should be.
    let (mut pass, mut line) = (0usize, 0u32);
    while let Some(r) = reader.next_interlaced_row().map_err(decode_err)? {
        let (x0, dx, y) = match r.interlace() {
            png::InterlaceInfo::Null(_) if !interlaced => (0, 1, line),
            png::InterlaceInfo::Adam7(info) => {
                // Passes too small for this picture have no rows: find the one this row is in.
                while pass < ADAM7.len() && *info != png::Adam7Info::new(pass as u8 + 1, line, w) {
                    pass += 1;
                    line = 0;
                }
                let Some(&(x0, y0, dx, dy)) = ADAM7.get(pass) else {
                    return Err(cannot(&"an interlaced row out of order"));
                };
                (x0, dx, y0 + line * dy)
            }
            png::InterlaceInfo::Null(_) => return Err(cannot(&"an interlaced row out of order")),
        };
        line += 1;
        if y >= h {
            return Err(cannot(&"more rows than the header says"));
        }
        grey_row(r.data(), channels, wide, &mut grey);
        row.fill(0.0);
        ax.spread(&grey, x0, dx, &mut row);
        let (y, iw) = (y as usize, iw as usize);
        let at = ay.cell[y] as usize * iw;
        add_scaled(&mut cells[at..at + iw], &row, ay.w0[y]);
        if ay.w1[y] != 0.0 {
            add_scaled(&mut cells[at + iw..at + 2 * iw], &row, ay.w1[y]);
        }
    }
    Ok((ih, iw, cells.into_iter().map(|v| v as f32).collect()))
}

fn add_scaled(dst: &mut [f64], src: &[f64], w: f64) {
    for (d, s) in dst.iter_mut().zip(src) {
        *d += s * w;
    }
}

/// Refuses a header of 0 pixels, of more than `MAX_PICTURE_SIDE` a side or more than
/// `MAX_PICTURE_PIXELS` in all.
fn check_size(path: &Path, w: u32, h: u32) -> Result<(), String> {
    if w == 0 || h == 0 || w > MAX_PICTURE_SIDE || h > MAX_PICTURE_SIDE {
        return Err(format!(
            "{} is {w}x{h} pixels; a picture may be 1..={MAX_PICTURE_SIDE} pixels a side",
            shown(path)
        ));
    }
    if w as u64 * h as u64 > MAX_PICTURE_PIXELS {
        return Err(format!(
            "{} is {w}x{h} pixels, more than the {MAX_PICTURE_PIXELS} a picture may have (16384x16384); scale it down first",
            shown(path)
        ));
    }
    Ok(())
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

/// BT.601 luma of every pixel of one decoded row (8 or 16 bits a sample, grey or RGB, alpha
/// ignored), in [0, 1].
fn grey_row(data: &[u8], channels: usize, wide: bool, out: &mut Vec<f32>) {
    out.clear();
    let luma = |r: f32, g: f32, b: f32| 0.299 * r + 0.587 * g + 0.114 * b;
    let be = |p: &[u8], c: usize| u16f(u16::from_be_bytes([p[2 * c], p[2 * c + 1]]));
    match (wide, channels >= 3) {
        (false, false) => out.extend(data.chunks_exact(channels).map(|p| luma1(u8f(p[0])))),
        (false, true) => out.extend(
            data.chunks_exact(channels)
                .map(|p| luma(u8f(p[0]), u8f(p[1]), u8f(p[2]))),
        ),
        (true, false) => out.extend(data.chunks_exact(2 * channels).map(|p| luma1(be(p, 0)))),
        (true, true) => out.extend(
            data.chunks_exact(2 * channels)
                .map(|p| luma(be(p, 0), be(p, 1), be(p, 2))),
        ),
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

/// Interlaced (Adam7) files: written by hand here (the png crate's encoder does not interlace).
#[cfg(test)]
mod interlaced {
    use super::*;

    fn crc32(bytes: &[u8]) -> u32 {
        let mut c = !0u32;
        for &b in bytes {
            c ^= b as u32;
            for _ in 0..8 {
                c = if c & 1 != 0 {
                    0xEDB8_8320 ^ (c >> 1)
                } else {
                    c >> 1
                };
            }
        }
        !c
    }

    fn chunk(out: &mut Vec<u8>, kind: &[u8; 4], data: &[u8]) {
        out.extend((data.len() as u32).to_be_bytes());
        let mut body = kind.to_vec();
        body.extend(data);
        out.extend(&body);
        out.extend(crc32(&body).to_be_bytes());
    }

    /// zlib of stored (uncompressed) deflate blocks.
    fn zlib_stored(data: &[u8]) -> Vec<u8> {
        let mut out = vec![0x78, 0x01];
        let blocks: Vec<&[u8]> = data.chunks(65535).collect();
        for (i, b) in blocks.iter().enumerate() {
            out.push((i + 1 == blocks.len()) as u8);
            out.extend((b.len() as u16).to_le_bytes());
            out.extend((!(b.len() as u16)).to_le_bytes());
            out.extend(*b);
        }
        let (mut a, mut s) = (1u32, 0u32);
        for &x in data {
            a = (a + x as u32) % 65521;
            s = (s + a) % 65521;
        }
        out.extend(((s << 16) | a).to_be_bytes());
        out
    }

    /// An 8-bit grey PNG of `px` (row-major, w×h), Adam7-interlaced or not.
    fn grey_png(px: &[u8], w: u32, h: u32, adam7: bool) -> Vec<u8> {
        let mut raw = Vec::new();
        if adam7 {
            for &(x0, y0, dx, dy) in &ADAM7 {
                for y in (y0..h).step_by(dy as usize) {
                    if x0 >= w {
                        continue;
                    }
                    raw.push(0);
                    for x in (x0..w).step_by(dx as usize) {
                        raw.push(px[(y * w + x) as usize]);
                    }
                }
            }
        } else {
            for row in px.chunks(w as usize) {
                raw.push(0);
                raw.extend(row);
            }
        }
        let mut out = b"\x89PNG\r\n\x1a\n".to_vec();
        let mut ihdr = Vec::new();
        ihdr.extend(w.to_be_bytes());
        ihdr.extend(h.to_be_bytes());
        ihdr.extend([8, 0, 0, 0, adam7 as u8]);
        chunk(&mut out, b"IHDR", &ihdr);
        chunk(&mut out, b"IDAT", &zlib_stored(&raw));
        chunk(&mut out, b"IEND", &[]);
        out
    }

    /// An interlaced file gives exactly what the same pixels give plain, at the file's own size
    /// (every pixel in its place) and downscaled (every pixel in its cells), for sizes where
    /// some passes are empty.
    #[test]
    fn an_interlaced_picture_is_the_plain_one() {
        let dir = tempfile::tempdir().unwrap();
        let assets = AssetDirs {
            base: Some(dir.path().to_path_buf()),
        };
        for (w, h) in [(37u32, 23u32), (3, 2), (1, 9)] {
            let px: Vec<u8> = (0..w * h).map(|i| (i * 53 % 251) as u8).collect();
            std::fs::write(dir.path().join("plain.png"), grey_png(&px, w, h, false)).unwrap();
            std::fs::write(dir.path().join("adam7.png"), grey_png(&px, w, h, true)).unwrap();
            // The hand-made plain file is a PNG the image crate reads back as these pixels.
            let back = image::open(dir.path().join("plain.png"))
                .unwrap()
                .to_luma8();
            assert_eq!(back.as_raw(), &px);
            let (rows, cols) = (h as usize, w as usize);
            let want: Vec<f32> = px.iter().map(|&v| luma1(u8f(v))).collect();
            for name in ["plain.png", "adam7.png"] {
                assert_eq!(
                    load_picture(name, rows, cols, &assets).unwrap(),
                    want,
                    "{name} {w}x{h}"
                );
            }
            let (r, c) = (h.div_ceil(3) as usize, w.div_ceil(2) as usize);
            // The same sums in another order: equal to rounding.
            let a = load_picture("adam7.png", r, c, &assets).unwrap();
            let p = load_picture("plain.png", r, c, &assets).unwrap();
            assert_eq!(a.len(), r * c);
            for (x, y) in a.iter().zip(&p) {
                assert!((x - y).abs() < 1e-6, "{w}x{h} -> {c}x{r}: {a:?} vs {p:?}");
            }
        }
    }
}
