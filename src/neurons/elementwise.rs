//! Unit generators, elementwise on any dense kind (scalar, audio block, image), and the seeded
//! noise they share with the GPU.

use super::NeuronDef;
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

/// Outputs are big enough to be worth splitting across threads above this many elements.
pub const PAR_MIN: usize = 1 << 14;

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
    let f = |(o, ((&x, &a), &b)): (&mut f32, ((&f32, &f32), &f32))| *o = (a * x + b).sin();
    if o.len() >= PAR_MIN {
        o.par_iter_mut().zip(x.par_iter().zip(a).zip(b)).for_each(f);
    } else {
        o.iter_mut().zip(x.iter().zip(a).zip(b)).for_each(f);
    }
}

fn tanh(_: &NeuronDef, ins: &[Vec<f32>], outs: &mut [Vec<f32>], _: &UpCtx) {
    map1(&mut outs[0], &ins[0], f32::tanh)
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
    let wrap = |p: f32| {
        let f = p - p.floor();
        if f >= 1.0 { 0.0 } else { f }
    };
    let (freq, out) = (&ins[0], &mut outs[0]);
    if def.kind == Kind::Audio {
        let dt = (1.0 / ctx.sample_rate) as f32;
        let mut p = out.last().copied().unwrap_or(0.0);
        for (o, &f) in out.iter_mut().zip(freq) {
            p = wrap(p + f * dt);
            *o = p;
        }
    } else {
        let dt = (1.0 / ctx.tick_rate) as f32;
        for (o, &f) in out.iter_mut().zip(freq) {
            *o = wrap(*o + f * dt);
        }
    }
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
