//! CPU reference kernels, one function per neuron family. The GPU kernels in `shaders/` are
//! compared against these.

use crate::backend::{noise_key, noise_value};
use crate::neurons::{Init, NeuronDef, Op};
use crate::stream::kind::Kind;
use rayon::prelude::*;

/// Inputs are big enough to be worth splitting across threads above this many elements.
const PAR_MIN: usize = 1 << 14;

/// Everything an up-stroke kernel may look at.
pub struct UpCtx {
    pub tick: u64,
    pub seed: u64,
    pub tick_rate: f64,
    pub sample_rate: f64,
}

/// Initial output values of a neuron (its state at birth).
pub fn init_outputs(def: &NeuronDef, block_len: usize) -> Vec<Vec<f32>> {
    def.outputs
        .iter()
        .map(|p| {
            let n = p.kind.len(block_len);
            match (&def.params.init, def.op()) {
                (_, Op::Picture) => def.params.picture.as_deref().cloned().unwrap_or_default(),
                (_, Op::One) => vec![1.0; n],
                (_, Op::Coords) => coords(def.rows, def.cols, p.name == "x"),
                (Init::Fill(v), _) => vec![*v; n],
                _ => vec![0.0; n],
            }
        })
        .collect()
}

/// `x` ramps 0→1 left to right along each row; `y` ramps 0→1 top to bottom.
pub fn coords(rows: usize, cols: usize, x: bool) -> Vec<f32> {
    let step = |n: usize| if n > 1 { 1.0 / (n - 1) as f32 } else { 0.0 };
    let (sx, sy) = (step(cols), step(rows));
    (0..rows * cols)
        .map(|i| {
            if x {
                (i % cols) as f32 * sx
            } else {
                (i / cols) as f32 * sy
            }
        })
        .collect()
}

fn map1(out: &mut [f32], x: &[f32], f: impl Fn(f32) -> f32 + Sync) {
    if out.len() >= PAR_MIN {
        out.par_iter_mut().zip(x).for_each(|(o, &a)| *o = f(a));
    } else {
        out.iter_mut().zip(x).for_each(|(o, &a)| *o = f(a));
    }
}

fn map2(out: &mut [f32], x: &[f32], y: &[f32], f: impl Fn(f32, f32) -> f32 + Sync) {
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

/// Runs one neuron's up stroke: `outs` holds the previous outputs on entry (the state) and the
/// new outputs on return.
pub fn up(def: &NeuronDef, ins: &[Vec<f32>], outs: &mut [Vec<f32>], ctx: &UpCtx) {
    match def.op() {
        // Engine-side or constant: nothing to do here.
        Op::SelfW | Op::Edits | Op::One | Op::Coords | Op::Picture => {}
        Op::AudioOut | Op::Display => {}
        Op::Accum => map2(&mut outs[0], &ins[0], &ins[1], |a, d| a + d),
        Op::Identity => outs[0].copy_from_slice(&ins[0]),
        Op::Time => {
            outs[0][0] = ctx.tick as f32;
            outs[1][0] = (ctx.tick as f64 / ctx.tick_rate) as f32;
        }
        Op::Gate => {
            let g = ins[0][0];
            map1(&mut outs[0], &ins[1], |x| g * x);
        }
        Op::MaxNorm => outs[0][0] = ins[0].iter().fold(0.0f32, |m, x| m.max(x.abs())),
        Op::Compare => {
            let le = ins[0].iter().zip(&ins[1]).all(|(l, r)| l <= r);
            outs[0][0] = if le { 1.0 } else { 0.0 };
            outs[1][0] = if le { 0.0 } else { 1.0 };
        }
        Op::Sin => {
            let (x, a, b) = (&ins[0], &ins[1], &ins[2]);
            let o = &mut outs[0];
            let f = |(o, ((&x, &a), &b)): (&mut f32, ((&f32, &f32), &f32))| *o = (a * x + b).sin();
            if o.len() >= PAR_MIN {
                o.par_iter_mut().zip(x.par_iter().zip(a).zip(b)).for_each(f);
            } else {
                o.iter_mut().zip(x.iter().zip(a).zip(b)).for_each(f);
            }
        }
        Op::Tanh => map1(&mut outs[0], &ins[0], f32::tanh),
        Op::Relu => map1(&mut outs[0], &ins[0], |x| x.max(0.0)),
        Op::Mul => map2(&mut outs[0], &ins[0], &ins[1], |a, b| a * b),
        Op::Phasor => phasor(def.kind, &ins[0], &mut outs[0], ctx),
        Op::Noise => {
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
        Op::Matmul => {
            let (m, n) = (def.rows, def.cols);
            let k = ins[0].len() / m.max(1);
            matmul(&ins[0], &ins[1], &mut outs[0], m, k, n);
        }
        Op::SoftmaxRows => softmax_rows(
            &ins[0],
            &mut outs[0],
            def.rows,
            def.cols,
            def.params.temperature,
        ),
        Op::SoftmaxCols => softmax_cols(
            &ins[0],
            &mut outs[0],
            def.rows,
            def.cols,
            def.params.temperature,
        ),
        Op::Transpose => transpose(&ins[0], &mut outs[0], def.rows, def.cols),
        Op::Normalize => normalize(&ins[0], &mut outs[0]),
        Op::Hold => {
            let o = &mut outs[0];
            let n = o.len();
            let prev = o.last().copied().unwrap_or(0.0);
            let x = ins[0][0];
            for (i, v) in o.iter_mut().enumerate() {
                *v = prev + (x - prev) * ((i + 1) as f32 / n as f32);
            }
        }
        Op::Rms => {
            let x = &ins[0];
            let s: f64 = x.iter().map(|&v| (v as f64) * (v as f64)).sum();
            outs[0][0] = (s / x.len().max(1) as f64).sqrt() as f32;
        }
    }
}

/// Phase in [0, 1): audio integrates per sample (carrying the last sample of the previous block),
/// other kinds integrate per tick, elementwise.
fn phasor(kind: Kind, freq: &[f32], out: &mut [f32], ctx: &UpCtx) {
    let wrap = |p: f32| {
        let f = p - p.floor();
        if f >= 1.0 { 0.0 } else { f }
    };
    if kind == Kind::Audio {
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

/// `c = a · b` with a: m×k, b: k×n, row-major (matrixmultiply's sgemm, threaded).
pub fn matmul(a: &[f32], b: &[f32], c: &mut [f32], m: usize, k: usize, n: usize) {
    // SAFETY: the slices hold m·k, k·n and m·n elements (checked below), row-major strides.
    assert!(a.len() >= m * k && b.len() >= k * n && c.len() >= m * n);
    unsafe {
        matrixmultiply::sgemm(
            m,
            k,
            n,
            1.0,
            a.as_ptr(),
            k as isize,
            1,
            b.as_ptr(),
            n as isize,
            1,
            0.0,
            c.as_mut_ptr(),
            n as isize,
            1,
        );
    }
}

/// e^x for x ≤ 0 (softmax after the max is subtracted), within 2 ulp of `f32::exp` on [-87, 0]
/// and 0 below. Branch-free, so the loops that call it vectorise: x = n·ln2 + r with |r| ≤ ln2/2,
/// e^r by Cephes' minimax polynomial, 2^n by building the exponent bits.
#[inline(always)]
pub fn exp_neg(x: f32) -> f32 {
    const LOG2E: f32 = std::f32::consts::LOG2_E;
    const LN2_HI: f32 = 0.693_359_4;
    const LN2_LO: f32 = -2.121_944_4e-4;
    // Round to nearest by adding and removing 1.5·2^23.
    const MAGIC: f32 = 12_582_912.0;
    let xc = x.clamp(-87.0, 0.0);
    let n = (xc * LOG2E + MAGIC) - MAGIC;
    let r = xc - n * LN2_HI - n * LN2_LO;
    let mut p = 1.987_569_1e-4f32;
    p = p * r + 1.398_199_9e-3;
    p = p * r + 8.333_452e-3;
    p = p * r + 4.166_579_6e-2;
    p = p * r + 0.166_666_65;
    p = p * r + 0.5;
    let e = p * r * r + r + 1.0;
    let scale = f32::from_bits(((n as i32 + 127) as u32) << 23);
    if x >= -87.0 { e * scale } else { 0.0 }
}

/// max and sum over 8 lanes, so that LLVM can vectorise them (a plain fold is sequential).
fn lanes(x: &[f32], init: f32, f: impl Fn(f32, f32) -> f32) -> f32 {
    let mut acc = [init; 8];
    let chunks = x.chunks_exact(8);
    let rest = chunks.remainder();
    for c in chunks {
        for i in 0..8 {
            acc[i] = f(acc[i], c[i]);
        }
    }
    let mut r = rest.iter().fold(init, |a, &v| f(a, v));
    for a in acc {
        r = f(r, a);
    }
    r
}

fn softmax_row(x: &[f32], o: &mut [f32], inv_t: f32) {
    // The temperature is positive (checked on load), so max(x)·(1/t) = max(x/t) exactly.
    let m = lanes(x, f32::NEG_INFINITY, f32::max) * inv_t;
    for (o, &v) in o.iter_mut().zip(x) {
        *o = exp_neg(v * inv_t - m);
    }
    let r = 1.0 / lanes(o, 0.0, |a, b| a + b);
    o.iter_mut().for_each(|v| *v *= r);
}

/// Softmax of each row of x/t; the row max is subtracted first.
pub fn softmax_rows(x: &[f32], out: &mut [f32], rows: usize, cols: usize, t: f32) {
    let inv_t = 1.0 / t;
    let n = rows * cols;
    out[..n]
        .par_chunks_mut(cols.max(1))
        .zip(x.par_chunks(cols.max(1)))
        .for_each(|(o, x)| softmax_row(x, o, inv_t));
}

/// Softmax of each column of x/t; the column max is subtracted first. Every pass sweeps rows
/// (cache friendly) and splits the rows across threads.
pub fn softmax_cols(x: &[f32], out: &mut [f32], rows: usize, cols: usize, t: f32) {
    let inv_t = 1.0 / t;
    let cols = cols.max(1);
    let chunk = cols * 16;
    // Merges per-thread column statistics (an empty vector is the identity).
    let combine = |f: fn(f32, f32) -> f32| {
        move |a: Vec<f32>, b: Vec<f32>| -> Vec<f32> {
            if a.is_empty() {
                return b;
            }
            a.iter().zip(&b).map(|(&p, &q)| f(p, q)).collect()
        }
    };
    let mx: Vec<f32> = x[..rows * cols]
        .par_chunks(chunk)
        .map(|block| {
            let mut m = vec![f32::NEG_INFINITY; cols];
            for row in block.chunks(cols) {
                for (m, &v) in m.iter_mut().zip(row) {
                    *m = m.max(v * inv_t);
                }
            }
            m
        })
        .reduce(Vec::new, combine(f32::max));
    out[..rows * cols]
        .par_chunks_mut(cols)
        .zip(x.par_chunks(cols))
        .for_each(|(o, x)| {
            for ((o, &v), &m) in o.iter_mut().zip(x).zip(&mx) {
                *o = exp_neg(v * inv_t - m);
            }
        });
    let sum: Vec<f32> = out[..rows * cols]
        .par_chunks(chunk)
        .map(|block| {
            let mut s = vec![0.0f32; cols];
            for row in block.chunks(cols) {
                for (s, &v) in s.iter_mut().zip(row) {
                    *s += v;
                }
            }
            s
        })
        .reduce(Vec::new, combine(|a, b| a + b));
    let inv: Vec<f32> = sum.iter().map(|s| 1.0 / s).collect();
    out[..rows * cols].par_chunks_mut(cols).for_each(|o| {
        for (o, &r) in o.iter_mut().zip(&inv) {
            *o *= r;
        }
    });
}

/// out (cols×rows) = xᵀ (x: rows×cols).
pub fn transpose(x: &[f32], out: &mut [f32], rows: usize, cols: usize) {
    const B: usize = 32;
    for r0 in (0..rows).step_by(B) {
        for c0 in (0..cols).step_by(B) {
            for r in r0..(r0 + B).min(rows) {
                for c in c0..(c0 + B).min(cols) {
                    out[c * rows + r] = x[r * cols + c];
                }
            }
        }
    }
}

/// Min-max to [0, 1]; a constant (or non-finite-range) input gives 0.
pub fn normalize(x: &[f32], out: &mut [f32]) {
    let (lo, hi) = if x.len() >= PAR_MIN {
        x.par_chunks(4096).map(min_max).reduce(
            || (f32::INFINITY, f32::NEG_INFINITY),
            |a, b| (a.0.min(b.0), a.1.max(b.1)),
        )
    } else {
        min_max(x)
    };
    let range = hi - lo;
    if range > 0.0 && range.is_finite() {
        let r = 1.0 / range;
        map1(out, x, |v| (v - lo) * r);
    } else {
        out.fill(0.0);
    }
}

fn min_max(x: &[f32]) -> (f32, f32) {
    x.iter()
        .fold((f32::INFINITY, f32::NEG_INFINITY), |(lo, hi), &v| {
            (lo.min(v), hi.max(v))
        })
}
