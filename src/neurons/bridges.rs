//! Bridges between kinds: scalar → audio without zipper noise, audio → scalar level.

use super::NeuronDef;
use super::table::{Gpu, Grid, Kinds, PortKind::*, Reduce, TypeInfo, UpCtx};

pub static TYPES: &[TypeInfo] = &[
    TypeInfo {
        name: "hold",
        inputs: &[("x", Scalar)],
        outputs: &[("out", Audio)],
        kinds: Kinds::None,
        settings: &[],
        doc: "Scalar to audio, ramped linearly from the last value across the block (no zipper noise).",
        example: "{}",
        cpu: Some(hold),
        start: None,
        gpu: Gpu::run("hold", Grid::Single),
    },
    TypeInfo {
        name: "rms",
        inputs: &[("x", Audio)],
        outputs: &[("out", Scalar)],
        kinds: Kinds::None,
        settings: &[],
        doc: "Root mean square of the audio block.",
        example: "{}",
        cpu: Some(rms),
        start: None,
        gpu: Gpu::run("rms", Grid::Single)
            .reduce(Reduce::SumSquares)
            .tolerance(1e-4),
    },
];

fn hold(_: &NeuronDef, ins: &[Vec<f32>], outs: &mut [Vec<f32>], _: &UpCtx) {
    let o = &mut outs[0];
    let n = o.len();
    let prev = o.last().copied().unwrap_or(0.0);
    let x = ins[0][0];
    for (i, v) in o.iter_mut().enumerate() {
        *v = prev + (x - prev) * ((i + 1) as f32 / n as f32);
    }
}

fn rms(_: &NeuronDef, ins: &[Vec<f32>], outs: &mut [Vec<f32>], _: &UpCtx) {
    let x = &ins[0];
    let s: f64 = x.iter().map(|&v| (v as f64) * (v as f64)).sum();
    outs[0][0] = (s / x.len().max(1) as f64).sqrt() as f32;
}
