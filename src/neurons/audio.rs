//! Audio staples and the audio↔picture bridges: a state-variable filter, a delay line, an ADSR
//! envelope, a spectrum analyser (audio → image row and band levels) and a scanner (image row →
//! audio block). Their state beyond the last outputs (filter integrators, the delay line, the
//! envelope's stage, the analysis window) is private memory (`Gpu::memory`), laid out after the
//! outputs: `outs[outputs.len()]` here, `out0` + the outputs' length in shaders/audio.wgsl.

use super::NeuronDef;
use super::table::{Gpu, Grid, Kinds, Memory, PortKind::*, TypeInfo, UpCtx};
use crate::stream::Kind;
use crate::stream::kind::Settings;

mod spectrum;
pub use spectrum::{BANDS, spectrum_bins};

pub static TYPES: &[TypeInfo] = &[
    TypeInfo {
        name: "svf",
        inputs: &[("x", Audio), ("cutoff", Audio), ("res", Audio)],
        outputs: &[("low", Audio), ("band", Audio), ("high", Audio)],
        kinds: Kinds::None,
        settings: &[],
        doc: "State-variable filter (Simper's trapezoidal SVF, stable up to Nyquist): low/band/high-pass of x; cutoff in Hz (clamped to [0, 0.49·sample_rate]), res in [0, 1] (Q = 1/(2 − 1.98·res): 0.5 to 50), both per sample.",
        example: "{}",
        cpu: Some(svf),
        start: None,
        // A recursion over the block: one invocation runs it in order. tan() and the feedback
        // differ in the last bits between backends.
        gpu: Gpu::run("svf", Grid::Single)
            .memory(svf_memory)
            .tolerance(1e-3),
    },
    TypeInfo {
        name: "delay",
        inputs: &[("x", Audio), ("time", Audio)],
        outputs: &[("out", Audio)],
        kinds: Kinds::None,
        settings: &["max_seconds"],
        doc: "Delay line: out = x delayed by time seconds (per sample, fractional: linear interpolation; clamped to [0, max_seconds]). max_seconds (default 1, at most 60) sizes the line when the neuron is created.",
        example: r#"{"max_seconds": 0.05}"#,
        cpu: Some(delay),
        start: None,
        gpu: Gpu::run("delay", Grid::Single).memory(delay_memory),
    },
    TypeInfo {
        name: "adsr",
        inputs: &[
            ("gate", Any),
            ("attack", Scalar),
            ("decay", Scalar),
            ("sustain", Scalar),
            ("release", Scalar),
        ],
        outputs: &[("out", Any)],
        kinds: Kinds::Dense,
        settings: &[],
        doc: "Envelope of a gate (on while > 0): rises to 1 in attack seconds, falls to sustain (clamped to [0, 1]) in decay·(1 − sustain), holds, and falls to 0 in release·level after the gate ends; a new gate restarts the attack from the current level (no clicks). Times are full-scale; 0 is instant. Per sample on audio, per tick (per pixel) otherwise.",
        example: "{}",
        cpu: Some(adsr),
        start: None,
        gpu: Gpu::elementwise("adsr_tick")
            .audio("adsr_audio", Grid::Single)
            .memory(adsr_memory)
            .tolerance(1e-4),
    },
    TypeInfo {
        name: "spectrum",
        inputs: &[("x", Audio)],
        outputs: &[
            ("image", Image),
            ("low", Scalar),
            ("mid", Scalar),
            ("high", Scalar),
        ],
        kinds: Kinds::None,
        settings: &["size", "max_hz"],
        doc: "Magnitude spectrum of the last size samples (default 1024; Hann window; a real FFT): every image row holds it, column c at frequency c/(cols − 1)·max_hz (linear, interpolated between bins; max_hz defaults to sample_rate/2; a sine of amplitude A peaks at A), so rows = 1 is the plain 1×cols row. low/mid/high: the RMS of the content below 250 Hz, 250–2500 Hz and above.",
        example: r#"{"size": 16}"#,
        cpu: Some(spectrum::spectrum),
        start: None,
        // The GPU computes a direct DFT (one workgroup; O(size²), fine for analysis windows of a
        // few thousand samples) where the CPU runs realfft: rounding differs.
        gpu: Gpu::run("spectrum", Grid::Single)
            .memory(spectrum::memory)
            .tolerance(1e-3),
    },
    TypeInfo {
        name: "scan",
        inputs: &[("image", Image), ("row", Scalar)],
        outputs: &[("out", Audio)],
        kinds: Kinds::None,
        settings: &[],
        doc: "Sonifies a picture: row floor(row) (clamped to the image) read as one cycle of a wavetable, resampled to the block with linear interpolation (wrapping at the end); a row as long as the block is the block.",
        example: "{}",
        cpu: Some(scan),
        start: None,
        gpu: Gpu::elementwise("scan"),
    },
];

/// `x` if finite, else `or`: inputs are finite sums of finite outputs but may overflow.
#[inline]
fn finite_or(x: f32, or: f32) -> f32 {
    if x.is_finite() { x } else { or }
}

// ---------------------------------------------------------------- svf

fn svf_memory(_: &NeuronDef, s: &Settings) -> Result<Memory, (&'static str, String)> {
    // The two integrators' states (Simper's ic1eq, ic2eq), and the sample rate for the GPU
    // (its time step parameter is per tick for a neuron without a `kind`).
    Ok(Memory {
        len: 3,
        head: [0.0, 0.0, s.sample_rate as f32, 0.0, 0.0, 0.0],
    })
}

/// Simper's coefficients for one sample: g = tan(π·fc/sr) and the damping k = 1/Q. Shared with
/// the test's re-implementation through the doc of the row; shaders/audio.wgsl has the same.
#[inline]
pub fn svf_coefficients(cutoff: f32, res: f32, sample_rate: f32) -> (f32, f32) {
    let fc = finite_or(cutoff, 0.0).clamp(0.0, 0.49 * sample_rate);
    let r = finite_or(res, 0.0).clamp(0.0, 1.0);
    let g = (std::f32::consts::PI * fc / sample_rate).tan();
    (g, 2.0 - 1.98 * r)
}

fn svf(_: &NeuronDef, ins: &[Vec<f32>], outs: &mut [Vec<f32>], ctx: &UpCtx) {
    let [low, band, high, mem] = outs else {
        return;
    };
    let (x, cutoff, res) = (&ins[0], &ins[1], &ins[2]);
    let sr = ctx.sample_rate as f32;
    let (mut ic1, mut ic2) = (mem[0], mem[1]);
    for i in 0..x.len() {
        let (g, k) = svf_coefficients(cutoff[i], res[i], sr);
        let a1 = 1.0 / (1.0 + g * (g + k));
        let a2 = g * a1;
        let a3 = g * a2;
        let v3 = x[i] - ic2;
        let v1 = a1 * ic1 + a2 * v3;
        let v2 = ic2 + a2 * ic1 + a3 * v3;
        ic1 = 2.0 * v1 - ic1;
        ic2 = 2.0 * v2 - ic2;
        low[i] = v2;
        band[i] = v1;
        high[i] = x[i] - k * v1 - v2;
    }
    // A state blown up by an overflowing input restarts from rest instead of staying NaN.
    mem[0] = finite_or(ic1, 0.0);
    mem[1] = finite_or(ic2, 0.0);
}

// ---------------------------------------------------------------- delay

/// Longest delay line, in seconds (a typo must not allocate gigabytes; positions stay exact in
/// f32 below 2^24 samples).
pub const MAX_DELAY_SECONDS: f64 = 60.0;

/// Memory: `[write position, line length, sample rate, 0]`, then the line (`length` samples).
const DELAY_HEAD: usize = 4;

fn delay_memory(def: &NeuronDef, s: &Settings) -> Result<Memory, (&'static str, String)> {
    let secs = match def.spec.settings.get("max_seconds") {
        None => 1.0,
        Some(v) => match v.as_f64() {
            Some(x) if x > 0.0 && x <= MAX_DELAY_SECONDS => x,
            _ => {
                return Err((
                    "max_seconds",
                    format!("expected seconds in (0, {MAX_DELAY_SECONDS}], found {v}"),
                ));
            }
        },
    };
    // The longest delay (secs·sr samples, rounded up) and one more sample to interpolate with.
    let line = (secs * s.sample_rate as f64).ceil() as usize + 2;
    if line >= 1 << 24 {
        return Err((
            "max_seconds",
            format!(
                "{secs} s at {} Hz is {line} samples; at most {} fit",
                s.sample_rate,
                (1 << 24) - 3
            ),
        ));
    }
    Ok(Memory {
        len: DELAY_HEAD + line,
        head: [0.0, line as f32, s.sample_rate as f32, 0.0, 0.0, 0.0],
    })
}

fn delay(_: &NeuronDef, ins: &[Vec<f32>], outs: &mut [Vec<f32>], ctx: &UpCtx) {
    let [out, mem] = outs else {
        return;
    };
    let (head, line) = mem.split_at_mut(DELAY_HEAD);
    let len = line.len();
    if len < 2 {
        return;
    }
    let (x, time) = (&ins[0], &ins[1]);
    let sr = ctx.sample_rate as f32;
    let max = (len - 2) as f32;
    let mut pos = (head[0].max(0.0) as usize).min(len - 1);
    for i in 0..x.len() {
        line[pos] = x[i];
        let d = (finite_or(time[i], 0.0) * sr).clamp(0.0, max);
        let whole = d.floor();
        let frac = d - whole;
        let a = line[(pos + len - whole as usize) % len];
        let b = line[(pos + 2 * len - whole as usize - 1) % len];
        out[i] = a + (b - a) * frac;
        pos = (pos + 1) % len;
    }
    head[0] = pos as f32;
}

// ---------------------------------------------------------------- adsr

/// Envelope stages, as stored in memory (and in shaders/audio.wgsl).
pub const IDLE: f32 = 0.0;
pub const ATTACK: f32 = 1.0;
pub const DECAY: f32 = 2.0;
pub const SUSTAIN: f32 = 3.0;
pub const RELEASE: f32 = 4.0;

fn adsr_memory(def: &NeuronDef, _: &Settings) -> Result<Memory, (&'static str, String)> {
    // One stage per envelope: one on audio (the block is one envelope in time), else one per
    // element.
    let len = match def.kind {
        Kind::Audio => 1,
        k => k.len(1).max(1),
    };
    Ok(Memory {
        len,
        head: [0.0; 6],
    })
}

/// The step a segment of `time` seconds (full scale) takes in `dt`; 0 (or NaN) is instant.
#[inline]
fn adsr_rate(time: f32, dt: f32) -> f32 {
    if time > 0.0 { dt / time } else { 1e30 }
}

/// The envelope's times (seconds, full scale) and sustain level, from the scalar inputs.
#[derive(Clone, Copy, Debug)]
pub struct Adsr {
    pub attack: f32,
    pub decay: f32,
    pub sustain: f32,
    pub release: f32,
}

impl Adsr {
    /// One envelope step: `(level, stage)` after a step of `dt` with this gate.
    #[inline]
    pub fn step(&self, level: f32, stage: f32, gate: f32, dt: f32) -> (f32, f32) {
        let mut stage = stage;
        if gate > 0.0 {
            if stage == IDLE || stage == RELEASE {
                stage = ATTACK;
            }
        } else if stage != IDLE {
            stage = RELEASE;
        }
        let sus = finite_or(self.sustain, 0.0).clamp(0.0, 1.0);
        if stage == ATTACK {
            let l = (level + adsr_rate(self.attack, dt)).min(1.0);
            return (l, if l >= 1.0 { DECAY } else { ATTACK });
        }
        if stage == DECAY {
            let l = (level - adsr_rate(self.decay, dt)).max(sus);
            return (l, if l <= sus { SUSTAIN } else { DECAY });
        }
        if stage == SUSTAIN {
            return (sus, SUSTAIN);
        }
        if stage == RELEASE {
            let l = (level - adsr_rate(self.release, dt)).max(0.0);
            return (l, if l <= 0.0 { IDLE } else { RELEASE });
        }
        (0.0, IDLE)
    }
}

fn adsr(def: &NeuronDef, ins: &[Vec<f32>], outs: &mut [Vec<f32>], ctx: &UpCtx) {
    let [out, mem] = outs else {
        return;
    };
    let gate = &ins[0];
    let env = Adsr {
        attack: ins[1][0],
        decay: ins[2][0],
        sustain: ins[3][0],
        release: ins[4][0],
    };
    if def.kind == Kind::Audio {
        let dt = (1.0 / ctx.sample_rate) as f32;
        let (mut level, mut stage) = (out.last().copied().unwrap_or(0.0), mem[0]);
        for (o, &g) in out.iter_mut().zip(gate) {
            (level, stage) = env.step(level, stage, g, dt);
            *o = level;
        }
        mem[0] = stage;
    } else {
        let dt = (1.0 / ctx.tick_rate) as f32;
        for ((o, st), &g) in out.iter_mut().zip(mem.iter_mut()).zip(gate) {
            (*o, *st) = env.step(*o, *st, g, dt);
        }
    }
}

// ---------------------------------------------------------------- scan

/// The row a `row` input selects: floor, clamped to the image (NaN: row 0).
#[inline]
pub fn scan_row(row: f32, rows: usize) -> usize {
    let r = finite_or(row, 0.0).floor().max(0.0) as usize;
    r.min(rows.saturating_sub(1))
}

fn scan(def: &NeuronDef, ins: &[Vec<f32>], outs: &mut [Vec<f32>], _: &UpCtx) {
    let (img, cols) = (&ins[0], def.cols);
    let base = scan_row(ins[1][0], def.rows) * cols;
    let Some(row) = img.get(base..base + cols) else {
        return;
    };
    let out = &mut outs[0];
    let n = out.len();
    for (i, o) in out.iter_mut().enumerate() {
        // Position i·cols/n, its whole part exact in integers.
        let p = i * cols;
        let (j, frac) = (p / n, (p % n) as f32 / n as f32);
        let (a, b) = (row[j], row[(j + 1) % cols]);
        *o = a + (b - a) * frac;
    }
}
