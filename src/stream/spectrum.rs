//! Magnitude spectrum of an audio block: Hann window, real FFT (realfft), one magnitude per bin.
//! The one implementation: `HannFft` windows and transforms (the `spectrum` neuron uses it with
//! its own scale and bands); `Spectrum` is the UI scope's fixed-length view of it. Plan and
//! buffers are made once, so `magnitudes` never allocates.
//!
//! Scale: a sine of amplitude `a` whose frequency sits on a bin centre reads `a` in that bin
//! (the window's coherent gain is divided out), so 0 dB is a full-scale sine.

use realfft::num_complex::Complex;
use realfft::{RealFftPlanner, RealToComplex};
use std::sync::Arc;
use thiserror::Error;

#[derive(Debug, Error, PartialEq, Eq)]
pub enum SpectrumError {
    #[error("spectrum length {0}: expected an even number of samples, at least 2")]
    BadLength(usize),
}

/// Lowest level `to_db` reports (what a silent bin reads), dB.
pub const FLOOR_DB: f32 = -200.0;

/// A real FFT of Hann-windowed samples with its plan and buffers: the one spectrum
/// implementation, used by the scope (`Spectrum`) and by the `spectrum` neuron. It is planned
/// again (from the planner's cache) only when the length changes, so a caller that keeps its
/// length allocates nothing after the first call.
#[derive(Default)]
pub struct HannFft {
    planner: Option<RealFftPlanner<f32>>,
    fft: Option<Arc<dyn RealToComplex<f32>>>,
    window: Vec<f32>,
    input: Vec<f32>,
    output: Vec<Complex<f32>>,
    scratch: Vec<Complex<f32>>,
}

impl HannFft {
    /// Samples of the current plan (0 before the first).
    pub fn len(&self) -> usize {
        self.window.len()
    }

    pub fn is_empty(&self) -> bool {
        self.window.is_empty()
    }

    /// Plans for `len` samples (at least 1) unless it already is.
    fn plan(&mut self, len: usize) {
        if self.len() == len && self.fft.is_some() {
            return;
        }
        let fft = self
            .planner
            .get_or_insert_with(RealFftPlanner::new)
            .plan_fft_forward(len);
        self.input = fft.make_input_vec();
        self.output = fft.make_output_vec();
        self.scratch = fft.make_scratch_vec();
        self.window = hann(len);
        self.fft = Some(fft);
    }

    /// The FFT of the `len` samples `x(0), ..., x(len − 1)`, each times the periodic Hann window
    /// (a non-finite sample counts as 0): calls `bin(k, X_k)` for k = 0..=len/2. Does nothing
    /// for `len` 0 (or if the FFT refused its buffers, which come from its own plan).
    pub fn run(
        &mut self,
        len: usize,
        x: impl Fn(usize) -> f32,
        mut bin: impl FnMut(usize, Complex<f32>),
    ) {
        if len == 0 {
            return;
        }
        self.plan(len);
        let Some(fft) = &self.fft else { return };
        for (j, (v, &w)) in self.input.iter_mut().zip(&self.window).enumerate() {
            let s = x(j);
            *v = if s.is_finite() { s * w } else { 0.0 };
        }
        if fft
            .process_with_scratch(&mut self.input, &mut self.output, &mut self.scratch)
            .is_err()
        {
            return;
        }
        for (k, c) in self.output.iter().enumerate() {
            bin(k, *c);
        }
    }
}

/// A spectrum of a fixed length: `HannFft` with the scope's scale.
pub struct Spectrum {
    fft: HannFft,
    len: usize,
    /// Divides |X_k| so a bin-centred sine of amplitude a reads a.
    norm: f32,
}

impl std::fmt::Debug for Spectrum {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Spectrum")
            .field("len", &self.len())
            .finish()
    }
}

impl Spectrum {
    /// Plans an FFT of `len` samples (even, at least 2).
    pub fn new(len: usize) -> Result<Spectrum, SpectrumError> {
        if len < 2 || !len.is_multiple_of(2) {
            return Err(SpectrumError::BadLength(len));
        }
        let mut fft = HannFft::default();
        fft.plan(len);
        let sum: f32 = fft.window.iter().sum();
        Ok(Spectrum {
            fft,
            len,
            norm: sum / 2.0,
        })
    }

    /// Samples per transform.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Never true (a spectrum has at least 2 samples); for clippy's sake.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Bins per transform: `len / 2 + 1`, from 0 Hz to Nyquist.
    pub fn bins(&self) -> usize {
        self.len() / 2 + 1
    }

    /// Centre frequency of bin `k` at `sample_rate`, Hz.
    pub fn bin_hz(&self, k: usize, sample_rate: f32) -> f32 {
        k as f32 * sample_rate / self.len() as f32
    }

    /// Magnitudes of the Hann-windowed last `len()` samples of `samples` (zero-padded in front
    /// when there are fewer) into `out[..bins()]` (a shorter `out` gets the first bins).
    /// NaN/Inf samples count as 0.
    pub fn magnitudes(&mut self, samples: &[f32], out: &mut [f32]) {
        let n = self.len();
        let tail = &samples[samples.len().saturating_sub(n)..];
        let pad = n - tail.len();
        let (last, norm) = (self.bins() - 1, self.norm);
        out.fill(0.0);
        self.fft.run(
            n,
            |j| if j < pad { 0.0 } else { tail[j - pad] },
            |k, c| {
                if let Some(o) = out.get_mut(k) {
                    // DC and Nyquist have no mirror image in the negative frequencies.
                    let edge = if k == 0 || k == last { 0.5 } else { 1.0 };
                    *o = c.norm() * edge / norm;
                }
            },
        );
    }
}

/// The periodic Hann window of `len` samples (the right one for spectra: its DFT has exactly
/// three non-zero taps).
pub fn hann(len: usize) -> Vec<f32> {
    (0..len)
        .map(|i| {
            let x = std::f64::consts::TAU * i as f64 / len as f64;
            (0.5 - 0.5 * x.cos()) as f32
        })
        .collect()
}

/// A magnitude in dB (20·log10), `FLOOR_DB` for 0 or anything not finite and positive.
pub fn to_db(mag: f32) -> f32 {
    if mag.is_finite() && mag > 0.0 {
        (20.0 * mag.log10()).max(FLOOR_DB)
    } else {
        FLOOR_DB
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The textbook DFT of the windowed block, scaled like `magnitudes`.
    fn naive(samples: &[f32]) -> Vec<f32> {
        let n = samples.len();
        let w = hann(n);
        let norm: f64 = w.iter().map(|&x| x as f64).sum::<f64>() / 2.0;
        (0..=n / 2)
            .map(|k| {
                let (mut re, mut im) = (0.0f64, 0.0f64);
                for (i, (&s, &wi)) in samples.iter().zip(&w).enumerate() {
                    let ph = -std::f64::consts::TAU * (k * i) as f64 / n as f64;
                    let x = s as f64 * wi as f64;
                    re += x * ph.cos();
                    im += x * ph.sin();
                }
                let edge = if k == 0 || k == n / 2 { 0.5 } else { 1.0 };
                ((re * re + im * im).sqrt() * edge / norm) as f32
            })
            .collect()
    }

    #[test]
    fn matches_a_naive_dft() {
        let n = 256;
        let mut seed = 0x2545_f491_u32;
        let samples: Vec<f32> = (0..n)
            .map(|_| {
                seed ^= seed << 13;
                seed ^= seed >> 17;
                seed ^= seed << 5;
                seed as f32 / u32::MAX as f32 * 2.0 - 1.0
            })
            .collect();
        let mut s = Spectrum::new(n).unwrap();
        let mut got = vec![0.0; s.bins()];
        s.magnitudes(&samples, &mut got);
        let want = naive(&samples);
        for (k, (g, w)) in got.iter().zip(&want).enumerate() {
            assert!((g - w).abs() < 1e-4, "bin {k}: fft {g} vs dft {w}");
        }
    }

    #[test]
    fn a_440_hz_sine_peaks_in_the_440_hz_bin() {
        let (n, sr) = (4096, 48_000.0f32);
        let samples: Vec<f32> = (0..n)
            .map(|i| 0.5 * (std::f32::consts::TAU * 440.0 * i as f32 / sr).sin())
            .collect();
        let mut s = Spectrum::new(n).unwrap();
        let mut mags = vec![0.0; s.bins()];
        s.magnitudes(&samples, &mut mags);
        let peak = (0..mags.len())
            .max_by(|&a, &b| mags[a].total_cmp(&mags[b]))
            .unwrap();
        assert_eq!(peak, (440.0 * n as f32 / sr).round() as usize);
        assert!((s.bin_hz(peak, sr) - 440.0).abs() < sr / n as f32 / 2.0);
        // Between bins the Hann window loses at most 1.42 dB: the peak reads about 0.5.
        assert!(mags[peak] > 0.42 && mags[peak] <= 0.5, "{}", mags[peak]);
    }

    #[test]
    fn a_bin_centred_sine_reads_its_amplitude() {
        let n = 1024;
        let samples: Vec<f32> = (0..n)
            .map(|i| 0.25 * (std::f32::consts::TAU * 32.0 * i as f32 / n as f32).cos())
            .collect();
        let mut s = Spectrum::new(n).unwrap();
        let mut mags = vec![0.0; s.bins()];
        s.magnitudes(&samples, &mut mags);
        assert!((mags[32] - 0.25).abs() < 1e-4, "{}", mags[32]);
        assert!(mags[40] < 1e-4);
    }

    #[test]
    fn short_and_non_finite_input_is_padded_and_zeroed() {
        let mut s = Spectrum::new(64).unwrap();
        let mut mags = vec![1.0; s.bins()];
        s.magnitudes(&[f32::NAN, f32::INFINITY, 0.0], &mut mags);
        assert!(mags.iter().all(|&m| m == 0.0));
        assert_eq!(Spectrum::new(7).unwrap_err(), SpectrumError::BadLength(7));
        assert_eq!(Spectrum::new(0).unwrap_err(), SpectrumError::BadLength(0));
        assert_eq!(to_db(0.0), FLOOR_DB);
        assert_eq!(to_db(f32::NAN), FLOOR_DB);
        assert!((to_db(1.0)).abs() < 1e-6);
    }
}
