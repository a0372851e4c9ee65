//! The DMM core: `self` and `edits` (engine-side: W is a sparse map), the accumulator and delay,
//! the constant, the clock, the fuzzy conditional and the two scalar tests.

use super::elementwise::{map1, map2};
use super::table::{Gpu, Grid, Kinds, PerTick, PortKind::*, Reduce, TypeInfo, UpCtx};
use super::{Init, NeuronDef};

pub static TYPES: &[TypeInfo] = &[
    TypeInfo {
        name: "self",
        inputs: &[("accum", Matrix), ("delta", Matrix)],
        outputs: &[("out", Matrix)],
        kinds: Kinds::None,
        settings: &[],
        doc: "The network matrix W: out = accum + delta; accum is fed from out with weight 1. Always present.",
        example: "{}",
        cpu: None,
        start: None,
        gpu: Gpu::NONE,
    },
    TypeInfo {
        name: "edits",
        inputs: &[],
        outputs: &[("out", Matrix)],
        kinds: Kinds::None,
        settings: &[],
        doc: "Emits the edit requests that arrived this tick as one W delta (wired to self.delta). Always present.",
        example: "{}",
        cpu: None,
        start: None,
        gpu: Gpu::NONE,
    },
    TypeInfo {
        name: "accum",
        inputs: &[("accum", Any), ("delta", Any)],
        outputs: &[("out", Any)],
        kinds: Kinds::All,
        settings: &["init"],
        doc: "out = accum + delta; feed out back into accum with weight 1 to integrate delta.",
        example: r#"{"init": 0.5}"#,
        cpu: Some(accum),
        start: None,
        gpu: Gpu::elementwise("accum"),
    },
    TypeInfo {
        name: "identity",
        inputs: &[("in", Any)],
        outputs: &[("out", Any)],
        kinds: Kinds::All,
        settings: &["init"],
        doc: "out = in (a one-tick delay); with a self-loop of weight 1 it holds its init value.",
        example: r#"{"init": 2}"#,
        cpu: Some(identity),
        start: None,
        gpu: Gpu::elementwise("identity"),
    },
    TypeInfo {
        name: "one",
        inputs: &[],
        outputs: &[("out", Any)],
        kinds: Kinds::Dense,
        settings: &[],
        doc: "Emits 1 everywhere; the weight on its connection is the constant.",
        example: "{}",
        cpu: None,
        start: Some(ones),
        gpu: Gpu::NONE,
    },
    TypeInfo {
        name: "time",
        inputs: &[],
        outputs: &[("ticks", Scalar), ("seconds", Scalar)],
        kinds: Kinds::None,
        settings: &[],
        doc: "The tick count and the time in seconds (tick / tick_rate).",
        example: "{}",
        cpu: Some(time),
        start: None,
        gpu: Gpu::run("time", Grid::Single).per_tick(PerTick::TickTime),
    },
    TypeInfo {
        name: "gate",
        inputs: &[("g", Scalar), ("x", Any)],
        outputs: &[("out", Any)],
        kinds: Kinds::All,
        settings: &[],
        doc: "out = g · x: the fuzzy conditional (0 closes, 1 passes, -1 inverts); works on W deltas too.",
        example: "{}",
        cpu: Some(gate),
        start: None,
        gpu: Gpu::elementwise("gate"),
    },
    TypeInfo {
        name: "max_norm",
        inputs: &[("in", Any)],
        outputs: &[("out", Scalar)],
        kinds: Kinds::Dense,
        settings: &[],
        doc: "out = the largest absolute value of the elements of in.",
        example: "{}",
        cpu: Some(max_norm),
        start: None,
        gpu: Gpu::run("max_norm", Grid::Single)
            .reduce(Reduce::MaxAbs)
            .tolerance(1e-4),
    },
    TypeInfo {
        name: "compare",
        inputs: &[("left", Any), ("right", Any)],
        outputs: &[("true", Scalar), ("false", Scalar)],
        kinds: Kinds::Dense,
        settings: &[],
        doc: "true = 1, false = 0 when every element of left <= right; otherwise true = 0, false = 1.",
        example: "{}",
        cpu: Some(compare),
        start: None,
        gpu: Gpu::run("compare", Grid::Single).reduce(Reduce::CountGreater),
    },
];

fn accum(_: &NeuronDef, ins: &[Vec<f32>], outs: &mut [Vec<f32>], _: &UpCtx) {
    map2(&mut outs[0], &ins[0], &ins[1], |a, d| a + d)
}

fn identity(_: &NeuronDef, ins: &[Vec<f32>], outs: &mut [Vec<f32>], _: &UpCtx) {
    outs[0].copy_from_slice(&ins[0])
}

fn ones(_: &NeuronDef, _: usize, len: usize) -> Vec<f32> {
    vec![1.0; len]
}

fn time(_: &NeuronDef, _: &[Vec<f32>], outs: &mut [Vec<f32>], ctx: &UpCtx) {
    outs[0][0] = ctx.tick as f32;
    outs[1][0] = (ctx.tick as f64 / ctx.tick_rate) as f32;
}

fn gate(_: &NeuronDef, ins: &[Vec<f32>], outs: &mut [Vec<f32>], _: &UpCtx) {
    let g = ins[0][0];
    map1(&mut outs[0], &ins[1], |x| g * x);
}

fn max_norm(_: &NeuronDef, ins: &[Vec<f32>], outs: &mut [Vec<f32>], _: &UpCtx) {
    outs[0][0] = ins[0].iter().fold(0.0f32, |m, x| m.max(x.abs()));
}

fn compare(_: &NeuronDef, ins: &[Vec<f32>], outs: &mut [Vec<f32>], _: &UpCtx) {
    let le = ins[0].iter().zip(&ins[1]).all(|(l, r)| l <= r);
    outs[0][0] = if le { 1.0 } else { 0.0 };
    outs[1][0] = if le { 0.0 } else { 1.0 };
}

/// A neuron's outputs at birth: its type's start values, else its `init` setting, else 0.
pub fn init_outputs(def: &NeuronDef, block_len: usize) -> Vec<Vec<f32>> {
    let mut outs: Vec<Vec<f32>> = def
        .outputs
        .iter()
        .enumerate()
        .map(|(p, port)| {
            let n = port.kind.len(block_len);
            match (def.info.start, &def.params.init) {
                (Some(start), _) => start(def, p, n),
                (None, Init::Fill(v)) => vec![*v; n],
                _ => vec![0.0; n],
            }
        })
        .collect();
    // Private memory (`Gpu::memory`) is the last entry, after the outputs.
    let m = def.params.memory;
    if m.len > 0 {
        let mut v = vec![0.0; m.len];
        let h = m.head.len().min(m.len);
        v[..h].copy_from_slice(&m.head[..h]);
        outs.push(v);
    }
    outs
}

/// The f32s a neuron keeps on a backend, by entry: its outputs, then its private memory if any
/// (what `init_outputs` returns, without building it).
pub fn state_lens(def: &NeuronDef, block_len: usize) -> Vec<usize> {
    let mut v: Vec<usize> = def.outputs.iter().map(|p| p.kind.len(block_len)).collect();
    if def.params.memory.len > 0 {
        v.push(def.params.memory.len);
    }
    v
}
