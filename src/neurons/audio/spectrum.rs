//! `spectrum`: the magnitude spectrum of the last `size` samples (on the CPU the shared Hann
//! window and real FFT of `stream::spectrum`; a direct DFT in shaders/audio.wgsl), drawn as
//! image rows, and the RMS of three bands.
//!
//! Memory: `[write position, size, block_len, sample_rate, max_hz, 0]`, the ring of the last `size` samples, then the
//! `size/2 + 1` bin magnitudes (kept so the GPU can draw the columns from them).

use super::super::NeuronDef;
use super::super::table::{Memory, UpCtx};
use crate::stream::kind::Settings;
use crate::stream::spectrum::HannFft;
use std::cell::RefCell;

/// Band edges in Hz: low below the first, mid up to the second, high above.
pub const BANDS: [f32; 2] = [250.0, 2500.0];

/// Default and largest analysis window, in samples.
pub const DEFAULT_SIZE: usize = 1024;
pub const MAX_SIZE: usize = 16384;

const HEAD: usize = 6;

/// Bins of a window of `size` samples: 0 to Nyquist.
pub fn spectrum_bins(size: usize) -> usize {
    size / 2 + 1
}

pub(super) fn memory(def: &NeuronDef, s: &Settings) -> Result<Memory, (&'static str, String)> {
    let size = match def.spec.settings.get("size") {
        None => DEFAULT_SIZE,
        Some(v) => match v.as_u64() {
            Some(n) if (4..=MAX_SIZE as u64).contains(&n) => n as usize,
            _ => {
                return Err((
                    "size",
                    format!("expected a window of 4..={MAX_SIZE} samples, found {v}"),
                ));
            }
        },
    };
    let nyquist = s.sample_rate as f64 / 2.0;
    let max_hz = match def.spec.settings.get("max_hz") {
        None => nyquist,
        Some(v) => match v.as_f64() {
            Some(x) if x > 0.0 && x <= nyquist => x,
            _ => {
                return Err((
                    "max_hz",
                    format!(
                        "expected a frequency in (0, {nyquist}] (half the sample rate), found {v}"
                    ),
                ));
            }
        },
    };
    Ok(Memory {
        len: HEAD + size + spectrum_bins(size),
        head: [
            0.0,
            size as f32,
            s.block_len() as f32,
            s.sample_rate as f32,
            max_hz as f32,
            0.0,
        ],
    })
}

thread_local! {
    /// Each thread's FFT (the shared implementation in `stream::spectrum`): planned once per
    /// size, so a tick allocates nothing.
    static FFT: RefCell<HannFft> = RefCell::new(HannFft::default());
}

pub(super) fn spectrum(def: &NeuronDef, ins: &[Vec<f32>], outs: &mut [Vec<f32>], ctx: &UpCtx) {
    let [image, low, mid, high, mem] = outs else {
        return;
    };
    let (head, rest) = mem.split_at_mut(HEAD);
    let size = head[1] as usize;
    if size < 4 || rest.len() != size + spectrum_bins(size) {
        return;
    }
    let (ring, mags) = rest.split_at_mut(size);
    // The block into the ring (only its last `size` samples survive).
    let x = &ins[0];
    let pos = (head[0].max(0.0) as usize) % size;
    let skip = x.len().saturating_sub(size);
    for (i, &v) in x.iter().enumerate().skip(skip) {
        ring[(pos + i) % size] = v;
    }
    let pos = (pos + x.len()) % size;
    head[0] = pos as f32;
    let mut energy = [0.0f32; 3];
    let hz = ctx.sample_rate as f32 / size as f32;
    FFT.with_borrow_mut(|f| {
        f.run(
            size,
            |j| ring[(pos + j) % size],
            |k, c| {
                let e = c.re * c.re + c.im * c.im;
                if let Some(m) = mags.get_mut(k) {
                    *m = e.sqrt() * (4.0 / size as f32);
                }
                energy[band_of(k as f32 * hz)] += e;
            },
        )
    });
    // Band RMS by Parseval: 2·Σ|X|² / (size · Σw²), Σw² = 3·size/8.
    let rms = |e: f32| (e * (16.0 / 3.0) / (size as f32 * size as f32)).sqrt();
    low[0] = rms(energy[0]);
    mid[0] = rms(energy[1]);
    high[0] = rms(energy[2]);
    let cols = def.cols;
    // The last column's bin: max_hz in bins, at most Nyquist's.
    let top = (head[4] * size as f32 / ctx.sample_rate as f32).min((size / 2) as f32);
    for (c, v) in image.iter_mut().take(cols).enumerate() {
        *v = column(mags, c, cols, top);
    }
    let at = cols.min(image.len());
    let (first, others) = image.split_at_mut(at);
    for row in others.chunks_mut(cols.max(1)) {
        row.copy_from_slice(&first[..row.len()]);
    }
}

/// Which band a frequency falls in (0 low, 1 mid, 2 high).
#[inline]
pub fn band_of(f: f32) -> usize {
    if f < BANDS[0] {
        0
    } else if f < BANDS[1] {
        1
    } else {
        2
    }
}

/// Column `c` of `cols`: the magnitude at bin c·top/(cols − 1), linearly interpolated.
#[inline]
fn column(mags: &[f32], c: usize, cols: usize, top: f32) -> f32 {
    let last = mags.len() - 1;
    if cols < 2 {
        return mags[0];
    }
    let b = c as f32 * top / (cols - 1) as f32;
    let j = (b.floor().max(0.0) as usize).min(last);
    let frac = b - j as f32;
    let (a, b) = (mags[j], mags[(j + 1).min(last)]);
    a + (b - a) * frac
}
