//! sine.json: spectral peak at 440 Hz, no step larger than the sine's own slope allows (also across
//! block boundaries and through a frequency edit: the phase stays continuous).

mod common;
use common::*;
use dmm_synth::audio::wav::read_stereo;
use dmm_synth::engine::edits::parse_edits_jsonl;

/// Frequency of the largest |DTFT| of the Hann-windowed signal, searched in [lo, hi].
fn peak_hz(x: &[f32], sr: f64, lo: f64, hi: f64, step: f64) -> f64 {
    let n = x.len();
    let w: Vec<f64> = (0..n)
        .map(|i| {
            let h = 0.5 - 0.5 * (2.0 * std::f64::consts::PI * i as f64 / (n - 1) as f64).cos();
            h * x[i] as f64
        })
        .collect();
    let mut best = (lo, 0.0);
    let mut f = lo;
    while f <= hi {
        let dw = 2.0 * std::f64::consts::PI * f / sr;
        let (mut re, mut im) = (0.0, 0.0);
        // Rotate a phasor instead of calling sin/cos per sample.
        let (c, s) = (dw.cos(), dw.sin());
        let (mut pr, mut pi) = (1.0f64, 0.0f64);
        for &v in &w {
            re += v * pr;
            im -= v * pi;
            let t = pr * c - pi * s;
            pi = pr * s + pi * c;
            pr = t;
        }
        let mag = re * re + im * im;
        if mag > best.1 {
            best = (f, mag);
        }
        f += step;
    }
    best.0
}

fn max_step(x: &[f32]) -> (f32, usize) {
    x.windows(2)
        .enumerate()
        .map(|(i, w)| ((w[1] - w[0]).abs(), i))
        .fold((0.0, 0), |a, b| if b.0 > a.0 { b } else { a })
}

#[test]
fn sine_is_440_hz_and_smooth() {
    let p = patch("sine.json");
    let dir = tempfile::tempdir().unwrap();
    render_to(&p, dir.path(), 375, 1000, vec![], 0);
    let (left, right, sr) = read_stereo(&dir.path().join("audio.wav")).unwrap();
    assert_eq!(sr, 48_000);
    assert_eq!(left.len(), 48_000, "375 ticks of 128 samples");
    assert_eq!(left, right);
    // The first tick's output is silent (the pipeline fills); analyse the rest.
    let body = &left[4 * 128..];
    let f = peak_hz(body, sr as f64, 400.0, 480.0, 0.05);
    assert!((f - 440.0).abs() <= 1.0, "peak at {f} Hz");
    let amp = body.iter().fold(0.0f32, |m, v| m.max(v.abs()));
    assert!((amp - 0.5).abs() < 1e-3, "amplitude {amp}");
    // A sine of amplitude A and frequency f moves at most A·2πf/sr per sample.
    let bound = 0.5 * 2.0 * std::f32::consts::PI * 440.0 / 48_000.0 * 1.001;
    let (step, at) = max_step(body);
    assert!(step <= bound, "step {step} at sample {at} > {bound}");
    // Block boundaries in particular (every 128 samples).
    for b in (128..body.len()).step_by(128) {
        let d = (body[b] - body[b - 1]).abs();
        assert!(d <= bound, "step {d} across the block boundary at {b}");
    }
}

#[test]
fn frequency_edit_keeps_the_phase_continuous() {
    let p = patch("sine.json");
    let dir = tempfile::tempdir().unwrap();
    let edits = parse_edits_jsonl(
        r#"{"tick": 150, "op": "set", "target": "ph.freq", "source": "one.out", "weight": 660}"#,
    )
    .unwrap();
    render_to(&p, dir.path(), 375, 1000, edits, 0);
    let (left, _, sr) = read_stereo(&dir.path().join("audio.wav")).unwrap();
    let body = &left[4 * 128..];
    let bound = 0.5 * 2.0 * std::f32::consts::PI * 660.0 / 48_000.0 * 1.001;
    let (step, at) = max_step(body);
    assert!(step <= bound, "step {step} at sample {at} > {bound}");
    // Before the edit 440 Hz, well after it 660 Hz.
    let before = &left[4 * 128..150 * 128];
    let after = &left[160 * 128..];
    let fb = peak_hz(before, sr as f64, 400.0, 700.0, 0.1);
    let fa = peak_hz(after, sr as f64, 400.0, 700.0, 0.1);
    assert!((fb - 440.0).abs() <= 1.0, "before: {fb}");
    assert!((fa - 660.0).abs() <= 1.0, "after: {fa}");
}
