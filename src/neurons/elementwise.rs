//! Unit generators, elementwise on any dense kind (scalar, audio block, image), and the seeded
//! noise they share with the GPU.

use super::NeuronDef;
use super::fastmath;
use super::table::{Gpu, Grid, Kinds, PerTick, PortKind::*, TypeInfo, UpCtx};
use crate::stream::Kind;
use rayon::prelude::*;

pub static TYPES: &[TypeInfo] = &[
    TypeInfo {
        name: "sin",
        inputs: &[("x", Any), ("a", Any), ("b", Any)],
        outputs: &[("out", Any)],
        kinds: Kinds::Dense,
        settings: &[],
        doc: "out = sin(a·x + b), elementwise.",
        example: "{}",
        cpu: Some(sine),
        start: None,
        gpu: Gpu::elementwise("sine"),
    },
    TypeInfo {
        name: "tanh",
        inputs: &[("x", Any)],
        outputs: &[("out", Any)],
        kinds: Kinds::Dense,
        settings: &[],
        doc: "out = tanh(x), elementwise (a soft limiter).",
        example: "{}",
        cpu: Some(tanh),
        start: None,
        gpu: Gpu::elementwise("tanh_"),
    },
    TypeInfo {
        name: "relu",
        inputs: &[("x", Any)],
        outputs: &[("out", Any)],
        kinds: Kinds::Dense,
        settings: &[],
        doc: "out = max(x, 0), elementwise.",
        example: "{}",
        cpu: Some(relu),
        start: None,
        gpu: Gpu::elementwise("relu"),
    },
    TypeInfo {
        name: "mul",
        inputs: &[("a", Any), ("b", Any)],
        outputs: &[("out", Any)],
        kinds: Kinds::Dense,
        settings: &[],
        doc: "out = a · b, elementwise (ring modulation, masks).",
        example: "{}",
        cpu: Some(mul),
        start: None,
        gpu: Gpu::elementwise("mul"),
    },
    TypeInfo {
        name: "phasor",
        inputs: &[("freq", Any)],
        outputs: &[("out", Any)],
        kinds: Kinds::Dense,
        settings: &[],
        doc: "Integrates freq (Hz) into a phase in [0, 1) that stays continuous across ticks and edits.",
        example: "{}",
        cpu: Some(phasor),
        start: None,
        // Audio integrates per sample, in order: one invocation runs the block.
        gpu: Gpu::elementwise("phasor_tick")
            .audio("phasor_audio", Grid::Single)
            .circular(),
    },
    TypeInfo {
        name: "noise",
        inputs: &[],
        outputs: &[("out", Any)],
        kinds: Kinds::Dense,
        settings: &["seed"],
        doc: "Uniform noise in [-1, 1), a pure function of (seed, neuron, tick, index): deterministic.",
        example: r#"{"seed": 7}"#,
        cpu: Some(noise),
        start: None,
        gpu: Gpu::elementwise("noise").per_tick(PerTick::NoiseKey),
    },
];

/// Outputs are big enough to be worth splitting across threads above this many elements (a
/// 256² image; a 128² one runs its elementwise kernels in about 10 µs, less than the hand-off).
pub const PAR_MIN: usize = 1 << 16;

pub fn map1(out: &mut [f32], x: &[f32], f: impl Fn(f32) -> f32 + Sync) {
    if out.len() >= PAR_MIN {
        out.par_iter_mut().zip(x).for_each(|(o, &a)| *o = f(a));
    } else {
        out.iter_mut().zip(x).for_each(|(o, &a)| *o = f(a));
    }
}

pub fn map2(out: &mut [f32], x: &[f32], y: &[f32], f: impl Fn(f32, f32) -> f32 + Sync) {
    if out.len() >= PAR_MIN {
        out.par_iter_mut()
            .zip(x.par_iter().zip(y))
            .for_each(|(o, (&a, &b))| *o = f(a, b));
    } else {
        for ((o, &a), &b) in out.iter_mut().zip(x).zip(y) {
            *o = f(a, b);
        }
    }
}

fn sine(_: &NeuronDef, ins: &[Vec<f32>], outs: &mut [Vec<f32>], _: &UpCtx) {
    let (x, a, b) = (&ins[0], &ins[1], &ins[2]);
    let o = &mut outs[0];
    if o.len() >= PAR_MIN {
        const CHUNK: usize = 4096;
        o.par_chunks_mut(CHUNK)
            .zip(
                x.par_chunks(CHUNK)
                    .zip(a.par_chunks(CHUNK))
                    .zip(b.par_chunks(CHUNK)),
            )
            .for_each(|(o, ((x, a), b))| fastmath::sin_affine(o, x, a, b));
    } else {
        fastmath::sin_affine(o, x, a, b);
    }
}

fn tanh(_: &NeuronDef, ins: &[Vec<f32>], outs: &mut [Vec<f32>], _: &UpCtx) {
    map1(&mut outs[0], &ins[0], fastmath::tanh)
}

fn relu(_: &NeuronDef, ins: &[Vec<f32>], outs: &mut [Vec<f32>], _: &UpCtx) {
    map1(&mut outs[0], &ins[0], |x| x.max(0.0))
}

fn mul(_: &NeuronDef, ins: &[Vec<f32>], outs: &mut [Vec<f32>], _: &UpCtx) {
    map2(&mut outs[0], &ins[0], &ins[1], |a, b| a * b)
}

/// Phase in [0, 1): audio integrates per sample (carrying the last sample of the previous block),
/// other kinds integrate per tick, elementwise.
fn phasor(def: &NeuronDef, ins: &[Vec<f32>], outs: &mut [Vec<f32>], ctx: &UpCtx) {
    let (freq, out) = (&ins[0], &mut outs[0]);
    if def.kind == Kind::Audio {
        phasor_block(out, freq, phasor_dt(ctx));
    } else {
        let dt = (1.0 / ctx.tick_rate) as f32;
        for (o, &f) in out.iter_mut().zip(freq) {
            *o = frac32(*o + f * dt);
        }
    }
}

/// An audio block of phases from the block's last sample on: p ← wrap(p + f·dt) per sample, in
/// f32 like the GPU's `phasor_audio` (the same operations, so both give the same bits). The only
/// serial step is the add: a phase that stays in [0, 1) takes no floor, and the wrap (once per
/// period) is a branch the predictor gets right, not a dependency of every sample.
pub fn phasor_block(out: &mut [f32], freq: &[f32], dt: f32) {
    let mut p = out.last().copied().unwrap_or(0.0);
    for (o, &f) in out.iter_mut().zip(freq) {
        let q = p + f * dt;
        p = if (0.0..1.0).contains(&q) { q } else { wrap(q) };
        *o = p;
    }
}

/// The time step of an audio phasor: one sample.
pub fn phasor_dt(ctx: &UpCtx) -> f32 {
    (1.0 / ctx.sample_rate) as f32
}

/// `phasor_block` for `K` audio phasors at once (the CPU backend batches a network's audio
/// phasors). One phasor is a chain of dependent adds, so it runs at the adder's latency; `K`
/// chains interleaved keep the adder busy. Each lane does exactly `phasor_block`'s operations
/// in the same order: the same bits. Blocks of unequal lengths go one at a time.
pub fn phasor_blocks<const K: usize>(outs: [&mut [f32]; K], freqs: [&[f32]; K], dt: f32) {
    let n = outs.first().map_or(0, |o| o.len());
    if outs.iter().any(|o| o.len() != n) || freqs.iter().any(|f| f.len() != n) {
        for (o, f) in outs.into_iter().zip(freqs) {
            phasor_block(o, f, dt);
        }
        return;
    }
    let mut p: [f32; K] = std::array::from_fn(|k| outs[k].last().copied().unwrap_or(0.0));
    // Sliced to n: the indexing below then needs no bounds checks.
    let freqs = freqs.map(|f| &f[..n]);
    let outs = outs.map(|o| &mut o[..n]);
    for i in 0..n {
        for k in 0..K {
            let q = p[k] + freqs[k][i] * dt;
            p[k] = if (0.0..1.0).contains(&q) { q } else { wrap(q) };
            outs[k][i] = p[k];
        }
    }
}

/// x − floor(x), and 0 where that rounds to 1: the phase wrap, off the per-sample path.
#[cold]
#[inline(never)]
fn wrap(x: f32) -> f32 {
    frac32(x)
}

/// x − floor(x) without a library call (floor is one on baseline x86-64, and keeps the loop from
/// vectorising): round by adding and removing 2^23, step down where that rounded up; and 0 where
/// the result rounds to 1. |x| ≥ 2^23 is an integer (0); NaN and ±inf give NaN, as x − floor(x).
#[inline(always)]
fn frac32(x: f32) -> f32 {
    const M: f32 = 8_388_608.0;
    let r = (x + M.copysign(x)) - M.copysign(x);
    let fl = if r > x { r - 1.0 } else { r };
    // Beyond 2^23 every f32 is an integer: 0, or NaN for ±inf.
    let f = if x.abs() < M {
        x - fl
    } else if x.is_finite() {
        0.0
    } else {
        f32::NAN
    };
    if f >= 1.0 { 0.0 } else { f }
}

fn noise(def: &NeuronDef, _: &[Vec<f32>], outs: &mut [Vec<f32>], ctx: &UpCtx) {
    let key = noise_key(ctx.seed, def.params.seed, &def.name);
    let tick = ctx.tick;
    let o = &mut outs[0];
    if o.len() >= PAR_MIN {
        o.par_iter_mut()
            .enumerate()
            .for_each(|(i, v)| *v = noise_value(key, tick, i as u32));
    } else {
        for (i, v) in o.iter_mut().enumerate() {
            *v = noise_value(key, tick, i as u32);
        }
    }
}

/// The 32-bit hash behind `noise` (PCG output permutation); WGSL has the same function.
pub fn pcg_hash(x: u32) -> u32 {
    let state = x.wrapping_mul(747796405).wrapping_add(2891336453);
    let word = ((state >> ((state >> 28) + 4)) ^ state).wrapping_mul(277803737);
    (word >> 22) ^ word
}

/// FNV-1a of a neuron name: gives each noise neuron its own stream.
pub fn name_hash(name: &str) -> u32 {
    name.bytes()
        .fold(2166136261u32, |h, b| (h ^ b as u32).wrapping_mul(16777619))
}

/// The per-neuron noise key from the global seed, the neuron's `seed` setting and its name.
pub fn noise_key(global: u64, own: u64, name: &str) -> u32 {
    let s = global ^ own.rotate_left(17);
    pcg_hash(name_hash(name) ^ pcg_hash(s as u32 ^ pcg_hash((s >> 32) as u32)))
}

/// Noise value for one element: uniform in [-1, 1).
pub fn noise_value(key: u32, tick: u64, index: u32) -> f32 {
    let h = pcg_hash(index ^ pcg_hash(tick as u32 ^ pcg_hash(key ^ (tick >> 32) as u32)));
    (h >> 8) as f32 * (2.0 / 16777216.0) - 1.0
}
