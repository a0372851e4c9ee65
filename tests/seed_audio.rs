//! The audio staples and the audio↔picture bridges (issue 13): `svf` against the analytic
//! response of the bilinear SVF and against its difference equation, `delay` (an impulse arrives
//! after the set time, also across an edit), `adsr` (levels at the stage boundaries, retrigger
//! without clicks), `spectrum` (a sine's peak bin, a direct DFT of the window), `scan` (the block
//! is the row); bad settings; the GPU against the CPU on realistic inputs; the two shipped
//! patches render sound that is sane.

mod common;
use common::*;
use dmm_synth::backend::Backend;
use dmm_synth::backend::cpu::CpuBackend;
use dmm_synth::backend::gpu::GpuBackend;
use dmm_synth::engine::Machine;
use dmm_synth::engine::edits::{Edit, EditOutcome};
use dmm_synth::neurons::control::MidiState;
use dmm_synth::neurons::{NeuronDef, NeuronSpec, UpCtx, init_outputs, resolve};
use dmm_synth::patch::Patch;
use dmm_synth::stream::{Settings, WMatrix};
use std::f64::consts::{PI, TAU};

/// No MIDI: the audio units read none.
static NO_MIDI: std::sync::LazyLock<MidiState> = std::sync::LazyLock::new(MidiState::default);

/// One neuron run by its CPU kernel on inputs the test makes.
struct Unit {
    def: NeuronDef,
    outs: Vec<Vec<f32>>,
    ctx: UpCtx<'static>,
    block: usize,
}

fn unit(spec: NeuronSpec, tick_rate: f64, sample_rate: u32) -> Unit {
    let settings = Settings {
        tick_rate,
        sample_rate,
        ..Settings::default()
    };
    let def = resolve("u", &spec, &settings, &assets()).unwrap_or_else(|e| panic!("{e:?}"));
    let block = settings.block_len();
    Unit {
        outs: init_outputs(&def, block),
        def,
        ctx: UpCtx {
            tick: 0,
            seed: 0,
            tick_rate,
            sample_rate: sample_rate as f64,
            midi: &NO_MIDI,
        },
        block,
    }
}

impl Unit {
    fn run(&mut self, ins: &[Vec<f32>]) {
        let kernel = self.def.info.cpu.expect("a CPU kernel");
        kernel(&self.def, ins, &mut self.outs, &self.ctx);
        self.ctx.tick += 1;
    }

    /// Runs `signal` (one value per sample, per input) block by block; returns output `port`
    /// concatenated.
    fn stream(
        &mut self,
        inputs: &[&dyn Fn(usize) -> f32],
        samples: usize,
        port: usize,
    ) -> Vec<f32> {
        let mut out = Vec::new();
        let mut t = 0;
        while t < samples {
            let ins: Vec<Vec<f32>> = inputs
                .iter()
                .map(|f| (t..t + self.block).map(f).collect())
                .collect();
            self.run(&ins);
            out.extend_from_slice(&self.outs[port]);
            t += self.block;
        }
        out
    }
}

// ---------------------------------------------------------------- svf

/// Amplitude of the f-Hz component of `y` (least squares on sin and cos).
fn amplitude(y: &[f32], f: f64, sr: f64, from: usize) -> f64 {
    let (mut ss, mut cc, mut sc, mut ys, mut yc) = (0.0, 0.0, 0.0, 0.0, 0.0);
    for (i, &v) in y.iter().enumerate().skip(from) {
        let (s, c) = (TAU * f * i as f64 / sr).sin_cos();
        ss += s * s;
        cc += c * c;
        sc += s * c;
        ys += v as f64 * s;
        yc += v as f64 * c;
    }
    let det = ss * cc - sc * sc;
    let a = (ys * cc - yc * sc) / det;
    let b = (yc * ss - ys * sc) / det;
    a.hypot(b)
}

/// The SVF is the bilinear transform of 1/(s² + k·s + 1) (low), s/(…) (band), s²/(…) (high)
/// with the cutoff prewarped: on the unit circle s = j·tan(πf/sr)/tan(πfc/sr).
#[test]
fn svf_frequency_response_is_the_bilinear_transfer_function() {
    let (sr, fc, res) = (48_000.0, 1000.0, 0.6);
    let k = 2.0 - 1.98 * res;
    for f in [60.0, 400.0, 1000.0, 2500.0, 9000.0, 20_000.0] {
        let x = |i: usize| (TAU * f * i as f64 / sr).sin() as f32;
        let (cut, r) = (|_| fc as f32, |_| res as f32);
        let n = 48_000;
        let mut got = [0.0; 3];
        for (p, g) in got.iter_mut().enumerate() {
            let mut u = unit(NeuronSpec::new("svf"), 375.0, sr as u32);
            let y = u.stream(&[&x, &cut, &r], n, p);
            *g = amplitude(&y, f, sr, n / 2);
        }
        let w = (PI * f / sr).tan() / (PI * fc / sr).tan();
        let d = ((1.0 - w * w).powi(2) + (k * w).powi(2)).sqrt();
        let want = [1.0 / d, w / d, w * w / d];
        for (p, name) in ["low", "band", "high"].iter().enumerate() {
            assert!(
                (got[p] - want[p]).abs() <= 2e-3 * want[p] + 2e-4,
                "{name} at {f} Hz: {} vs analytic {}",
                got[p],
                want[p]
            );
        }
    }
}

/// Through the engine, with the cutoff swept by an LFO and noise in: every sample equals Simper's
/// difference equation computed here in f64 from the inputs the filter saw.
#[test]
fn svf_follows_its_difference_equation_in_the_engine() {
    let p = patch_str(
        r#"{ "settings": { "tick_rate": 375, "sample_rate": 48000 },
             "neurons": {
               "one": { "type": "one", "kind": "audio" },
               "src": { "type": "noise", "kind": "audio", "seed": 3 },
               "ph": { "type": "phasor", "kind": "audio" },
               "lfo": { "type": "sin", "kind": "audio" },
               "f": { "type": "svf" },
               "out": { "type": "audio_out" } },
             "weights": {
               "ph.freq": { "one.out": 3 },
               "lfo.x": { "ph.out": 1 }, "lfo.a": { "one.out": 6.283185307179586 },
               "f.x": { "src.out": 1 },
               "f.cutoff": { "one.out": 2000, "lfo.out": 1500 },
               "f.res": { "one.out": 0.85 },
               "out.left": { "f.low": 0.5 }, "out.right": { "f.band": 0.5 } } }"#,
    );
    let mut m = machine(&p);
    let (mut ic1, mut ic2) = (0.0f64, 0.0f64);
    let sr = 48_000.0;
    let mut span = (f64::MAX, f64::MIN);
    for tick in 0..200 {
        m.tick(false).unwrap();
        let read = |m: &mut Machine, port: &str| -> Vec<f64> {
            m.read(port).unwrap().iter().map(|&v| v as f64).collect()
        };
        let (x, fc, res) = (
            read(&mut m, "f.x"),
            read(&mut m, "f.cutoff"),
            read(&mut m, "f.res"),
        );
        let (low, band, high) = (
            read(&mut m, "f.low"),
            read(&mut m, "f.band"),
            read(&mut m, "f.high"),
        );
        span = (span.0.min(fc[0]), span.1.max(fc[0]));
        for i in 0..x.len() {
            let g = (PI * fc[i].clamp(0.0, 0.49 * sr) / sr).tan();
            let k = 2.0 - 1.98 * res[i].clamp(0.0, 1.0);
            let v1 = (ic1 + g * (x[i] - ic2)) / (1.0 + g * (g + k));
            let v2 = ic2 + g * v1;
            ic1 = 2.0 * v1 - ic1;
            ic2 = 2.0 * v2 - ic2;
            for (what, got, want) in [
                ("low", low[i], v2),
                ("band", band[i], v1),
                ("high", high[i], x[i] - k * v1 - v2),
            ] {
                assert!(
                    (got - want).abs() <= 1e-4 * want.abs().max(1.0),
                    "tick {tick} sample {i}: {what} {got} vs {want}"
                );
            }
        }
    }
    assert!(
        span.0 < 700.0 && span.1 > 3300.0,
        "the LFO sweeps the cutoff: {span:?}"
    );
}

/// Stable up to Nyquist: a cutoff at (and beyond) the top of the range, full resonance and a
/// loud input keep the outputs finite and bounded.
#[test]
fn svf_stays_stable_at_the_top_of_its_range() {
    let mut u = unit(NeuronSpec::new("svf"), 375.0, 48_000);
    let x = |i: usize| if i % 7 < 3 { 10.0 } else { -10.0 };
    let (cut, r) = (|i: usize| 20_000.0 + 10.0 * i as f32, |_| 1.0);
    for p in 0..3 {
        let y = u.stream(&[&x, &cut, &r], 48_000, p);
        let peak = y.iter().fold(0.0f32, |m, v| m.max(v.abs()));
        assert!(peak.is_finite() && peak < 1e4, "port {p}: peak {peak}");
    }
}

// ---------------------------------------------------------------- delay

#[test]
fn delay_impulse_arrives_after_the_set_time() {
    let spec = || NeuronSpec::new("delay").with("max_seconds", 0.05);
    // 10 ms at 48 kHz: 480 samples, across several blocks of 128.
    let mut u = unit(spec(), 375.0, 48_000);
    let imp = |i: usize| if i == 0 { 1.0 } else { 0.0 };
    let y = u.stream(&[&imp, &|_| 0.01], 1280, 0);
    for (i, &v) in y.iter().enumerate() {
        let want = if i == 480 { 1.0 } else { 0.0 };
        assert!((v - want).abs() < 1e-6, "sample {i}: {v}");
    }
    // A fractional delay (100.25 samples) splits the impulse linearly.
    let mut u = unit(spec(), 375.0, 48_000);
    let y = u.stream(&[&imp, &|_| (100.25 / 48_000.0) as f32], 256, 0);
    assert!(
        (y[100] - 0.75).abs() < 1e-3 && (y[101] - 0.25).abs() < 1e-3,
        "{:?}",
        &y[99..103]
    );
    assert!(
        y.iter()
            .enumerate()
            .all(|(i, v)| i == 100 || i == 101 || *v == 0.0)
    );
    // Longer than max_seconds: the longest delay (2400 samples); 0 and below: no delay.
    let mut u = unit(spec(), 375.0, 48_000);
    let y = u.stream(&[&imp, &|_| 5.0], 2560, 0);
    assert_eq!(y.iter().position(|&v| v != 0.0), Some(2400));
    let mut u = unit(spec(), 375.0, 48_000);
    let y = u.stream(&[&imp, &|_| -1.0], 128, 0);
    assert_eq!(y[0], 1.0);
}

/// The line lives in the neuron's memory: an edit elsewhere (a new neuron) keeps it, so an impulse
/// sent before the edit still arrives on time after it.
#[test]
fn delay_line_survives_an_edit() {
    let p = patch_str(
        r#"{ "settings": { "tick_rate": 375, "sample_rate": 48000 },
             "neurons": {
               "one": { "type": "one", "kind": "audio" },
               "kick": { "type": "accum", "kind": "audio", "init": 1 },
               "d": { "type": "delay", "max_seconds": 0.5 },
               "out": { "type": "audio_out" } },
             "weights": { "d.x": { "kick.out": 1 }, "d.time": { "one.out": 0.1 },
                          "out.left": { "d.out": 1 } } }"#,
    );
    // `kick` is a block of ones before the first tick and zeros after: one block, 4800 samples
    // (0.1 s) later, i.e. in the output of ticks 37 and 38 (4800 = 37·128 + 64).
    let mut m = machine(&p);
    let mut y = Vec::new();
    let mut sent = Vec::new();
    for t in 0..45 {
        if t == 10 {
            m.submit(Edit::AddNeuron {
                name: "extra".into(),
                neuron: NeuronSpec::new("one"),
                weights: WMatrix::new(),
            });
        }
        m.tick(false).unwrap();
        y.extend(m.read("d.out").unwrap());
        sent.extend(m.read("d.x").unwrap());
    }
    let applied: Vec<u64> = m
        .take_outcomes()
        .iter()
        .filter_map(|(_, o)| match o {
            EditOutcome::Applied { tick } => Some(*tick),
            _ => None,
        })
        .collect();
    assert!(
        matches!(applied[..], [t] if t < 37),
        "applied before the echo: {applied:?}"
    );
    assert!(m.network().contains("extra"));
    // What entered at tick 0 (the kick's block, faded in by the new weight's ramp) comes out
    // 4800 samples later, and nothing else.
    let on: Vec<usize> = (0..y.len()).filter(|&i| y[i] != 0.0).collect();
    assert_eq!(on.first(), Some(&4800), "first delayed sample");
    assert_eq!(on.len(), 128, "one block");
    assert!(sent[128..].iter().all(|&v| v == 0.0) && sent[127] > 0.5);
    for i in 0..128 {
        assert!(
            (y[4800 + i] - sent[i]).abs() < 1e-5,
            "sample {i}: {} vs {}",
            y[4800 + i],
            sent[i]
        );
    }
}

// ---------------------------------------------------------------- adsr

/// The envelope as written in its row's doc (full-scale rates, retrigger from the level), in f32
/// like the kernel, so that a segment ends on the same sample.
fn naive_adsr(gate: &[f64], a: f64, d: f64, s: f64, r: f64, dt: f64) -> Vec<f64> {
    let dt = dt as f32;
    let rate = |t: f64| {
        if t > 0.0 {
            dt / t as f32
        } else {
            f32::INFINITY
        }
    };
    let s = s as f32;
    let (mut level, mut stage) = (0.0f32, 'i');
    gate.iter()
        .map(|&g| {
            if g > 0.0 {
                if stage == 'i' || stage == 'r' {
                    stage = 'a';
                }
            } else if stage != 'i' {
                stage = 'r';
            }
            match stage {
                'a' => {
                    level = (level + rate(a)).min(1.0);
                    if level >= 1.0 {
                        stage = 'd';
                    }
                }
                'd' => {
                    level = (level - rate(d)).max(s);
                    if level <= s {
                        stage = 's';
                    }
                }
                's' => level = s,
                'r' => {
                    level = (level - rate(r)).max(0.0);
                    if level <= 0.0 {
                        stage = 'i';
                    }
                }
                _ => level = 0.0,
            }
            level as f64
        })
        .collect()
}

#[test]
fn adsr_levels_at_stage_boundaries() {
    let sr = 48_000.0;
    let (a, d, s, r) = (0.01, 0.1, 0.5, 0.2);
    let mut u = unit(
        NeuronSpec::new("adsr").with("kind", "audio"),
        100.0,
        sr as u32,
    );
    let gate = |i: usize| if i < 24_000 { 1.0f32 } else { 0.0 };
    let consts: Vec<Box<dyn Fn(usize) -> f32>> = [a, d, s, r]
        .iter()
        .map(|&v| Box::new(move |_| v as f32) as Box<dyn Fn(usize) -> f32>)
        .collect();
    let ins: Vec<&dyn Fn(usize) -> f32> = std::iter::once(&gate as &dyn Fn(usize) -> f32)
        .chain(consts.iter().map(|b| &**b))
        .collect();
    let env = u.stream(&ins, 36_000, 0);
    let at = |secs: f64| env[(secs * sr) as usize - 1] as f64;
    // Attack: 1 after 10 ms; decay to 0.5 in 0.1·(1 − 0.5) = 50 ms; sustain; release from 0.5
    // in 0.2·0.5 = 100 ms.
    for (t, want) in [
        (0.005, 0.5),
        (0.01, 1.0),
        (0.035, 0.75),
        (0.06, 0.5),
        (0.3, 0.5),
        (0.5, 0.5),
        (0.55, 0.25),
        (0.6, 0.0),
        (0.7, 0.0),
    ] {
        assert!(
            (at(t) - want).abs() < 2e-3,
            "level at {t} s: {} (want {want})",
            at(t)
        );
    }
    let g: Vec<f64> = (0..36_000).map(|i| gate(i) as f64).collect();
    let want = naive_adsr(&g, a, d, s, r, 1.0 / sr);
    for (i, (&e, w)) in env.iter().zip(&want).enumerate() {
        assert!((e as f64 - w).abs() < 1e-6, "sample {i}: {e} vs {w}");
    }
}

/// A gate that reopens during the release restarts the attack from the current level: no step
/// larger than one sample of the fastest segment, anywhere.
#[test]
fn adsr_retriggers_from_the_current_level() {
    let sr = 48_000.0;
    let mut u = unit(
        NeuronSpec::new("adsr").with("kind", "audio"),
        375.0,
        sr as u32,
    );
    // On 0.2 s, off 0.05 s (release half-way down), on again 0.2 s, off.
    let gate = |i: usize| {
        if i < 9600 || (12_000..21_600).contains(&i) {
            1.0
        } else {
            0.0
        }
    };
    let (a, d, s, r) = (|_| 0.02, |_| 0.05, |_| 0.6, |_| 0.1);
    let env = u.stream(&[&gate, &a, &d, &s, &r], 28_800, 0);
    let biggest = 1.0 / (0.02 * sr) + 1e-6;
    for w in env.windows(2) {
        assert!(
            (w[1] - w[0]).abs() as f64 <= biggest,
            "a click: {} → {}",
            w[0],
            w[1]
        );
    }
    let reopen = env[11_999] as f64;
    assert!(
        (reopen - (0.6 - 0.05 / 0.1)).abs() < 2e-3,
        "level at the reopen {reopen}"
    );
    assert!(env[12_000] as f64 > reopen, "rises from there");
}

/// On scalars the envelope steps once per tick (per element on images).
#[test]
fn adsr_on_scalars_steps_per_tick() {
    let mut u = unit(NeuronSpec::new("adsr"), 100.0, 48_000);
    let mut levels = Vec::new();
    for t in 0..40 {
        let gate = if t < 20 { 1.0 } else { 0.0 };
        u.run(&[vec![gate], vec![0.1], vec![0.0], vec![0.8], vec![0.5]]);
        levels.push(u.outs[0][0] as f64);
    }
    let want = naive_adsr(
        &(0..40)
            .map(|t| if t < 20 { 1.0 } else { 0.0 })
            .collect::<Vec<_>>(),
        0.1,
        0.0,
        0.8,
        0.5,
        0.01,
    );
    for (t, (l, w)) in levels.iter().zip(&want).enumerate() {
        assert!((l - w).abs() < 1e-5, "tick {t}: {l} vs {w}");
    }
    // 0.1 s of attack is 10 ticks (11 if f32 rounding leaves the tenth a hair below 1); the
    // decay of 0 s then drops to the sustain at once.
    let top = levels.iter().position(|&l| l >= 1.0).expect("reaches 1");
    assert!(top == 9 || top == 10, "{levels:?}");
    assert!((levels[top + 1] - 0.8).abs() < 1e-6, "{levels:?}");
}

// ---------------------------------------------------------------- spectrum

fn spectrum_unit(size: usize, rows: usize, cols: usize) -> Unit {
    let spec = NeuronSpec::new("spectrum")
        .with("size", size as u64)
        .with("rows", rows as u64)
        .with("cols", cols as u64);
    unit(spec, 375.0, 48_000)
}

/// A sine at a bin's centre (3000 Hz = bin 64 of 1024 at 48 kHz) and one between bins: the peak
/// column, its height (the amplitude), the bands.
#[test]
fn spectrum_of_a_sine_peaks_at_its_bin() {
    for (f, amp, peak_bin, band) in [
        (3000.0, 0.8, 64, 2),
        (1000.0, 0.5, 21, 1),
        (140.625, 0.3, 3, 0),
    ] {
        let mut u = spectrum_unit(1024, 2, 513);
        let x = move |i: usize| (amp * (TAU * f * i as f64 / 48_000.0).sin()) as f32;
        let _ = u.stream(&[&x], 2048, 0);
        let img = &u.outs[0];
        assert_eq!(img[..513], img[513..], "both rows hold the spectrum");
        let peak = (0..513).max_by(|&a, &b| img[a].total_cmp(&img[b])).unwrap();
        assert_eq!(peak, peak_bin, "{f} Hz");
        if f == 3000.0 {
            assert!(
                (img[peak] as f64 - amp).abs() < 1e-3,
                "height {}",
                img[peak]
            );
        }
        let bands = [u.outs[1][0], u.outs[2][0], u.outs[3][0]];
        let rms = amp / 2f64.sqrt();
        assert!(
            (bands[band] as f64 - rms).abs() < 0.03 * rms,
            "{f} Hz bands {bands:?}"
        );
        for (b, v) in bands.iter().enumerate().filter(|(b, _)| *b != band) {
            assert!((*v as f64) < 0.02 * rms, "{f} Hz: band {b} {v}");
        }
    }
    // Fewer columns: column c shows bin 8·c (512/64), so bin 64 is column 8.
    let mut u = spectrum_unit(1024, 1, 65);
    let x = |i: usize| (0.8 * (TAU * 3000.0 * i as f64 / 48_000.0).sin()) as f32;
    let _ = u.stream(&[&x], 2048, 0);
    let img = &u.outs[0];
    let peak = (0..65).max_by(|&a, &b| img[a].total_cmp(&img[b])).unwrap();
    assert_eq!(peak, 8);
}

/// max_hz zooms the row: 129 columns up to 4 kHz are 31.25 Hz apart, so 1 kHz is column 32.
#[test]
fn spectrum_max_hz_zooms_the_row() {
    let spec = NeuronSpec::new("spectrum")
        .with("size", 1024)
        .with("rows", 1)
        .with("cols", 129)
        .with("max_hz", 4000.0);
    let mut u = unit(spec, 375.0, 48_000);
    let x = |i: usize| (0.5 * (TAU * 1000.0 * i as f64 / 48_000.0).sin()) as f32;
    let _ = u.stream(&[&x], 2048, 0);
    let img = &u.outs[0];
    let peak = (0..129).max_by(|&a, &b| img[a].total_cmp(&img[b])).unwrap();
    assert_eq!(peak, 32);
    // Column c reads bin c·(4000·1024/48000)/128, interpolated.
    let mags = &u.outs[4][6 + 1024..];
    for c in [0usize, 7, 32, 77, 128] {
        let b = c as f64 * (4000.0 * 1024.0 / 48_000.0) / 128.0;
        let j = b.floor() as usize;
        let want = mags[j] as f64 + (mags[j + 1] - mags[j]) as f64 * (b - j as f64);
        assert!((img[c] as f64 - want).abs() < 1e-5, "column {c}");
    }
    let e = resolve(
        "s",
        &NeuronSpec::new("spectrum").with("max_hz", 30_000.0),
        &Settings::default(),
        &assets(),
    )
    .expect_err("above Nyquist");
    assert_eq!(e.field, "max_hz");
}

/// The window is the last `size` samples in order, across blocks: every column equals a direct
/// DFT (Hann window) of the input's last 1024 samples, computed here.
#[test]
fn spectrum_equals_a_direct_dft_of_the_window() {
    let size = 1024;
    let mut u = spectrum_unit(size, 1, size / 2 + 1);
    let x = |i: usize| {
        let h = (i as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 40;
        (h as f64 / (1u64 << 24) as f64 - 0.5) as f32 + 0.3 * (i as f32 * 0.05).sin()
    };
    let n = 128 * 13;
    let _ = u.stream(&[&x], n, 0);
    let window: Vec<f64> = (n - size..n).map(|i| x(i) as f64).collect();
    for k in 0..=size / 2 {
        let (mut re, mut im) = (0.0, 0.0);
        for (j, v) in window.iter().enumerate() {
            let w = 0.5 - 0.5 * (TAU * j as f64 / size as f64).cos();
            let ang = TAU * (k * j % size) as f64 / size as f64;
            re += v * w * ang.cos();
            im -= v * w * ang.sin();
        }
        let want = re.hypot(im) * 4.0 / size as f64;
        let got = u.outs[0][k] as f64;
        assert!((got - want).abs() < 1e-4, "bin {k}: {got} vs {want}");
    }
}

// ---------------------------------------------------------------- scan

#[test]
fn scan_block_equals_the_row() {
    let (rows, cols) = (4, 128);
    let spec = NeuronSpec::new("scan")
        .with("rows", rows)
        .with("cols", cols);
    let mut u = unit(spec, 375.0, 48_000);
    let img: Vec<f32> = (0..rows * cols)
        .map(|i| ((i * 37) % 101) as f32 / 100.0)
        .collect();
    for (row, want) in [(2.7, 2), (0.0, 0), (-5.0, 0), (99.0, 3), (f32::NAN, 0)] {
        u.run(&[img.clone(), vec![row]]);
        assert_eq!(
            u.outs[0],
            img[want * cols..(want + 1) * cols],
            "row input {row}"
        );
    }
    // A 5-column row over an 8-sample block: one cycle, linearly interpolated, wrapping.
    let spec = NeuronSpec::new("scan").with("rows", 1).with("cols", 5);
    let mut u = unit(spec, 6000.0, 48_000);
    let row = [0.0f32, 1.0, 0.5, -1.0, 0.25];
    u.run(&[row.to_vec(), vec![0.0]]);
    let want: Vec<f32> = (0..8)
        .map(|i| {
            let p = i as f64 * 5.0 / 8.0;
            let j = p.floor() as usize;
            (row[j] as f64 + (row[(j + 1) % 5] as f64 - row[j] as f64) * (p - j as f64)) as f32
        })
        .collect();
    for (g, w) in u.outs[0].iter().zip(&want) {
        assert!((g - w).abs() < 1e-6, "{:?} vs {want:?}", u.outs[0]);
    }
}

// ---------------------------------------------------------------- settings

/// Bad settings are refused at load with the setting's name and what was expected.
#[test]
fn bad_audio_settings_are_refused_naming_the_setting() {
    let s = Settings::default();
    for (spec, field, says) in [
        (
            NeuronSpec::new("delay").with("max_seconds", -1.0),
            "max_seconds",
            "(0, 60]",
        ),
        (
            NeuronSpec::new("delay").with("max_seconds", 1e9),
            "max_seconds",
            "(0, 60]",
        ),
        (
            NeuronSpec::new("delay").with("max_seconds", "long"),
            "max_seconds",
            "seconds",
        ),
        (
            NeuronSpec::new("spectrum").with("size", 2),
            "size",
            "4..=16384",
        ),
        (
            NeuronSpec::new("spectrum").with("size", 1 << 20),
            "size",
            "4..=16384",
        ),
        (
            NeuronSpec::new("spectrum").with("size", 12.5),
            "size",
            "4..=16384",
        ),
        (
            NeuronSpec::new("svf").with("cutoff", 100),
            "cutoff",
            "unknown setting",
        ),
    ] {
        let e = resolve("n", &spec, &s, &assets()).expect_err(field);
        assert_eq!(e.field, field, "{}", e.msg);
        assert!(e.msg.contains(says), "{}", e.msg);
    }
    // The budget counts the line: 60 s at 48 kHz is 11 MiB.
    let text = r#"{ "settings": { "memory_budget_mb": 8 },
                   "neurons": { "d": { "type": "delay", "max_seconds": 60 } } }"#;
    let e = Patch::parse(text, "t.json", &assets()).expect_err("over the budget");
    assert!(e.to_string().contains("budget"), "{e}");
    let ok = text.replace("60 }", "20 }");
    Patch::parse(&ok, "t.json", &assets()).unwrap_or_else(|e| panic!("{e}"));
}

// ---------------------------------------------------------------- GPU

fn gpu() -> Option<GpuBackend> {
    match GpuBackend::new() {
        Ok(b) => Some(b),
        Err(e) if std::env::var("REQUIRE_GPU").as_deref() == Ok("1") => {
            panic!("REQUIRE_GPU=1 but the GPU backend cannot start: {e}")
        }
        Err(e) => {
            eprintln!("NOT RUN: no GPU adapter ({e}); set REQUIRE_GPU=1 to make this a failure");
            None
        }
    }
}

/// The GPU kernels against the CPU on inputs that exercise them (a swept resonant filter, a
/// modulated delay longer than a block, envelopes, a spectrum of a chord, a scanned picture).
#[test]
fn audio_neurons_match_the_cpu_on_the_gpu() {
    let Some(g) = gpu() else { return };
    let p = patch("scan_sound.dmm");
    let q = patch("spectrum_picture.dmm");
    for (p, g) in [
        (p, Box::new(g) as Box<dyn Backend>),
        (q, Box::new(gpu().unwrap()) as Box<dyn Backend>),
    ] {
        let mk = |b: Box<dyn Backend>| {
            Machine::new(p.network.clone(), p.initial_w(), b, assets(), 1).unwrap()
        };
        let (mut c, mut gm) = (mk(Box::new(CpuBackend::new())), mk(g));
        for tick in 0..40 {
            let a = c.tick(true).unwrap().clone();
            let b = gm.tick(true).unwrap().clone();
            for (what, x, y) in [("left", &a.left, &b.left), ("right", &a.right, &b.right)] {
                for (i, (u, v)) in x.iter().zip(y.iter()).enumerate() {
                    assert!(
                        (u - v).abs() <= 2e-3 * u.abs().max(1.0),
                        "tick {tick} {what}[{i}]: cpu {u} gpu {v}"
                    );
                }
            }
            for (fa, fb) in a.frames.iter().zip(&b.frames) {
                let worst = fa
                    .rgba
                    .iter()
                    .zip(&fb.rgba)
                    .map(|(u, v)| u.abs_diff(*v))
                    .max()
                    .unwrap_or(0);
                assert!(
                    worst <= 2,
                    "tick {tick}: frames differ by {worst} grey levels"
                );
            }
        }
    }
}

// ---------------------------------------------------------------- the shipped patches

/// Interleaved samples of a rendered folder's audio.wav.
fn wav(dir: &std::path::Path) -> Vec<f32> {
    hound::WavReader::open(dir.join("audio.wav"))
        .expect("audio.wav")
        .samples::<f32>()
        .map(|s| s.expect("sample"))
        .collect()
}

/// Renders `name` for `seconds`; checks the sound is sane: finite, not silent (RMS over every
/// second), not clipping; returns the samples and the folder.
fn render_sane(name: &str, seconds: f64) -> (Vec<f32>, tempfile::TempDir) {
    let p = patch(name);
    let ticks = (seconds * p.settings.tick_rate) as u64;
    let dir = tempfile::tempdir().unwrap();
    render_to(
        &p,
        dir.path(),
        ticks,
        p.settings.tick_rate as u64,
        vec![],
        0,
    );
    let s = wav(dir.path());
    assert_eq!(
        s.len() as f64,
        2.0 * seconds * p.settings.sample_rate as f64,
        "{name}"
    );
    assert!(s.iter().all(|v| v.is_finite()), "{name}: NaN/Inf");
    let peak = s.iter().fold(0.0f32, |m, v| m.max(v.abs()));
    assert!(peak < 0.99, "{name}: clips (peak {peak})");
    for (k, second) in s.chunks(2 * p.settings.sample_rate as usize).enumerate() {
        let rms = (second.iter().map(|v| v * v).sum::<f32>() / second.len() as f32).sqrt();
        assert!(rms > 0.01, "{name}: second {k} is silent (RMS {rms})");
    }
    (s, dir)
}

/// The audio-reactive picture: sane sound, and a picture that follows it (the frames change,
/// and the red channel, lit by the kick's band, differs between frames).
#[test]
fn spectrum_picture_renders_sound_and_a_picture_that_follows_it() {
    let (_, dir) = render_sane("spectrum_picture.dmm", 4.0);
    let mut frames: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "png"))
        .collect();
    frames.sort();
    assert!(frames.len() >= 3, "{frames:?}");
    let pixels: Vec<Vec<u8>> = frames
        .iter()
        .map(|f| image::open(f).unwrap().to_rgba8().into_raw())
        .collect();
    assert!(pixels.windows(2).all(|w| w[0] != w[1]), "the picture moves");
    for px in &pixels[1..] {
        let lit = px.chunks(4).filter(|p| p[0] > 40 || p[2] > 40).count();
        assert!(
            lit > px.len() / 4 / 20,
            "the picture is lit by the sound: {lit} pixels"
        );
    }
}

/// The picture-driven sound: sane sound, and the scanned wave is the picture's row (resampled:
/// 128 columns over a 400-sample block), changing as the picture drifts.
#[test]
fn scan_sound_plays_a_row_of_its_evolving_picture() {
    render_sane("scan_sound.dmm", 4.0);
    let mut m = machine(&patch("scan_sound.dmm"));
    let mut waves = Vec::new();
    for t in 0..480 {
        m.tick(false).unwrap();
        if t % 120 == 119 {
            let img = m.read("wave.image").unwrap();
            let row = m.read("wave.row").unwrap()[0];
            let r = (row.floor().max(0.0) as usize).min(127);
            let w = m.read("wave.out").unwrap();
            assert_eq!(w.len(), 400);
            for (i, v) in w.iter().enumerate() {
                let p = i as f64 * 128.0 / 400.0;
                let j = p.floor() as usize;
                let (a, b) = (img[r * 128 + j] as f64, img[r * 128 + (j + 1) % 128] as f64);
                let want = a + (b - a) * (p - j as f64);
                assert!((*v as f64 - want).abs() < 1e-5, "tick {t} sample {i}");
            }
            waves.push(w);
        }
    }
    assert!(
        waves.windows(2).all(|w| w[0] != w[1]),
        "the wave follows the picture"
    );
}
