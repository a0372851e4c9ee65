//! The scope's signal maths, free of egui: the trigger, the gain, the oscilloscope's column
//! envelope and the spectrum's log-frequency columns.

use crate::stream::spectrum::to_db;

/// Where the oscilloscope starts: the latest rising zero crossing that leaves `width` samples
/// after it, as a sub-sample position (linear interpolation between the two samples around
/// zero), so a steady tone stands still. Hysteresis: the signal must have gone below `-h` since
/// the previous crossing, so noise around zero does not retrigger. None when there is no such
/// crossing (the scope then free-runs on the newest samples).
pub fn trigger(samples: &[f32], width: usize, h: f32) -> Option<f32> {
    let last = samples.len().checked_sub(width)?;
    let mut armed = false;
    let mut found = None;
    for i in 1..=last {
        let (s0, s1) = (samples[i - 1], samples[i]);
        if s0 < -h {
            armed = true;
        }
        if armed && s0 < 0.0 && s1 >= 0.0 {
            // s0 + t (s1 - s0) = 0; s1 - s0 > 0 here.
            found = Some((i - 1) as f32 + s0 / (s0 - s1));
            armed = false;
        }
    }
    found
}

/// Largest |sample| (NaN/Inf ignored).
pub fn peak(samples: &[f32]) -> f32 {
    samples
        .iter()
        .filter(|x| x.is_finite())
        .fold(0.0f32, |m, x| m.max(x.abs()))
}

/// Auto gain: the factor that puts the peak at 90 % of the half height; 1 for (near) silence.
pub fn auto_scale(samples: &[f32]) -> f32 {
    let p = peak(samples);
    if p < 1e-6 { 1.0 } else { 0.9 / p }
}

/// The sample at sub-sample position `pos` (linear interpolation, clamped to the ends).
fn at(samples: &[f32], pos: f32) -> f32 {
    let Some(last) = samples.len().checked_sub(1) else {
        return 0.0;
    };
    let pos = pos.clamp(0.0, last as f32);
    let i = pos.floor() as usize;
    let t = pos - i as f32;
    let a = samples[i];
    let b = samples[(i + 1).min(last)];
    a + t * (b - a)
}

/// The oscilloscope's trace over `cols` columns: `width` samples from sub-sample `start`, as
/// (min, max) per column. A column that covers less than a sample gets the interpolated value
/// twice; one that covers several gets their range (no aliasing of fast signals).
pub fn envelope(samples: &[f32], start: f32, width: f32, cols: usize) -> Vec<(f32, f32)> {
    let per_col = width / cols.max(1) as f32;
    (0..cols)
        .map(|c| {
            let a = start + c as f32 * per_col;
            let b = a + per_col;
            let (mut lo, mut hi) = {
                let v = at(samples, a);
                (v, v)
            };
            let v = at(samples, b);
            (lo, hi) = (lo.min(v), hi.max(v));
            let first = a.ceil().max(0.0) as usize;
            let end = (b.floor().max(0.0) as usize + 1).min(samples.len());
            for &s in samples.get(first..end).unwrap_or(&[]) {
                (lo, hi) = (lo.min(s), hi.max(s));
            }
            (lo, hi)
        })
        .collect()
}

/// The log-frequency axis from `lo` to `hi` Hz: where `f` falls, 0..1.
pub fn freq_x(f: f32, lo: f32, hi: f32) -> f32 {
    (f / lo).ln() / (hi / lo).ln()
}

/// The spectrum line over `cols` columns of a log-frequency axis from `lo` to `hi` Hz, in dB:
/// each column shows the loudest bin in its frequency range, or (where bins are wider than
/// columns, at low frequencies) the magnitude interpolated at its centre.
pub fn spectrum_columns(mags: &[f32], bin_hz: f32, lo: f32, hi: f32, cols: usize) -> Vec<f32> {
    let ratio = hi / lo;
    let f_at = |x: f32| lo * ratio.powf(x);
    (0..cols)
        .map(|c| {
            let f0 = f_at(c as f32 / cols as f32);
            let f1 = f_at((c + 1) as f32 / cols as f32);
            let k0 = (f0 / bin_hz).ceil() as usize;
            let k1 = ((f1 / bin_hz).floor() as usize).min(mags.len().saturating_sub(1));
            let m = if k0 <= k1 {
                mags[k0..=k1].iter().fold(0.0f32, |m, &x| m.max(x))
            } else {
                at(mags, 0.5 * (f0 + f1) / bin_hz)
            };
            to_db(m)
        })
        .collect()
}

/// The loudest bin's frequency, refined by a parabola through it and its neighbours (in dB),
/// and its level in dB. None for silence.
pub fn peak_hz(mags: &[f32], bin_hz: f32) -> Option<(f32, f32)> {
    let (k, &m) = mags
        .iter()
        .enumerate()
        .skip(1)
        .max_by(|a, b| a.1.total_cmp(b.1))?;
    if m.is_nan() || m <= 1e-6 {
        return None;
    }
    let offset = match (mags.get(k - 1), mags.get(k + 1)) {
        (Some(&a), Some(&c)) => {
            let (a, b, c) = (to_db(a), to_db(m), to_db(c));
            let d = a - 2.0 * b + c;
            if d < 0.0 {
                (0.5 * (a - c) / d).clamp(-0.5, 0.5)
            } else {
                0.0
            }
        }
        _ => 0.0,
    };
    Some(((k as f32 + offset) * bin_hz, to_db(m)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stream::spectrum::Spectrum;

    fn sine(n: usize, hz: f32, sr: f32, phase: f32) -> Vec<f32> {
        (0..n)
            .map(|i| (std::f32::consts::TAU * hz * i as f32 / sr + phase).sin())
            .collect()
    }

    #[test]
    fn the_trigger_finds_the_latest_rising_zero_crossing() {
        // Period 100 samples, rising crossings at 25, 125, 225, ... (phase -pi/2 + ...).
        let s = sine(1000, 1.0, 100.0, -std::f32::consts::FRAC_PI_2);
        // cos-like start: -1 at 0, rising through 0 at 25.
        let t = trigger(&s, 300, 0.01).unwrap();
        assert!((t - 625.0).abs() < 0.01, "{t}");
        // It leaves `width` samples after it.
        let t = trigger(&s, 360, 0.01).unwrap();
        assert!((t - 625.0).abs() < 0.01, "{t}");
        let t = trigger(&s, 380, 0.01).unwrap();
        assert!((t - 525.0).abs() < 0.01, "{t}");
    }

    #[test]
    fn a_steady_tone_triggers_at_the_same_phase_whatever_the_window() {
        // 440 Hz at 48 kHz: the crossing lands between samples; the phase at the trigger is 0.
        let sr = 48_000.0;
        for shift in [0, 17, 40, 77] {
            let s = sine(4096, 440.0, sr, 0.3 + shift as f32 * 0.01);
            let t = trigger(&s, 1024, 0.01).unwrap();
            let phase = 440.0 * std::f32::consts::TAU * t / sr + 0.3 + shift as f32 * 0.01;
            let wrapped = phase.rem_euclid(std::f32::consts::TAU);
            let err = wrapped.min(std::f32::consts::TAU - wrapped);
            assert!(err < 0.01, "shift {shift}: phase {wrapped}");
        }
    }

    #[test]
    fn no_crossing_no_trigger_and_hysteresis_ignores_noise() {
        assert_eq!(trigger(&[0.5; 100], 10, 0.01), None);
        assert_eq!(trigger(&[0.0; 5], 10, 0.01), None);
        // Wiggles of ±0.001 around zero never go below -h.
        let s: Vec<f32> = (0..100)
            .map(|i| if i % 2 == 0 { -0.001 } else { 0.001 })
            .collect();
        assert_eq!(trigger(&s, 10, 0.01), None);
        assert!(trigger(&s, 10, 0.0).is_some());
    }

    #[test]
    fn auto_gain_and_envelope() {
        assert_eq!(auto_scale(&[0.0; 8]), 1.0);
        assert!((auto_scale(&[0.1, -0.45, 0.2]) - 2.0).abs() < 1e-6);
        // 8 samples over 2 columns: each column's range.
        let s = [0.0, 1.0, -1.0, 0.5, 0.2, 0.3, 0.1, -0.2];
        let e = envelope(&s, 0.0, 8.0, 2);
        assert_eq!(e[0], (-1.0, 1.0));
        assert_eq!(e[1].1, 0.3);
        // Finer than a sample: interpolated.
        let e = envelope(&[0.0, 1.0], 0.0, 1.0, 4);
        assert!((e[1].0 - 0.25).abs() < 1e-6 && (e[1].1 - 0.5).abs() < 1e-6);
    }

    #[test]
    fn a_440_hz_sine_shows_its_peak_at_440_hz() {
        let sr = 48_000.0;
        let s = sine(4096, 440.0, sr, 0.0);
        let mut sp = Spectrum::new(4096).unwrap();
        let mut mags = vec![0.0; sp.bins()];
        sp.magnitudes(&s, &mut mags);
        let bin_hz = sp.bin_hz(1, sr);
        let (hz, db) = peak_hz(&mags, bin_hz).unwrap();
        assert!((hz - 440.0).abs() < 2.0, "{hz}");
        assert!(db > -1.5 && db <= 0.0, "{db}");
        // The loudest column of the log axis is the one holding 440 Hz.
        let cols = spectrum_columns(&mags, bin_hz, 20.0, 20_000.0, 500);
        let loudest = (0..cols.len())
            .max_by(|&a, &b| cols[a].total_cmp(&cols[b]))
            .unwrap();
        let x = freq_x(440.0, 20.0, 20_000.0) * 500.0;
        assert!((loudest as f32 - x).abs() <= 1.0, "{loudest} vs {x}");
        assert_eq!(peak_hz(&[0.0; 10], bin_hz), None);
    }
}
