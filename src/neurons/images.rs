//! Images (and min-max normalisation on any kind): matrix product, row and column softmax,
//! transpose, normalize, and the constant images `coords` and `picture`.

use super::NeuronDef;
use super::elementwise::{PAR_MIN, map1};
use super::table::{Entry, Gpu, Grid, Kinds, PortKind::*, Reduce, TypeInfo, UpCtx};
use rayon::prelude::*;

pub static TYPES: &[TypeInfo] = &[
    TypeInfo {
        name: "matmul",
        inputs: &[("a", MatA), ("b", MatB)],
        outputs: &[("out", Image)],
        kinds: Kinds::None,
        settings: &["inner"],
        doc: "out = a · b, matrix product (a: rows×inner, b: inner×cols).",
        example: r#"{"inner": 29}"#,
        cpu: Some(matmul_up),
        start: None,
        gpu: Gpu::variants(
            Entry {
                name: "matmul_tiled",
                grid: Grid::Tiles { cols: 64, rows: 64 },
            },
            Entry {
                name: "matmul_regs",
                grid: Grid::Tiles { cols: 128, rows: 8 },
            },
        ),
    },
    TypeInfo {
        name: "softmax_rows",
        inputs: &[("x", Image)],
        outputs: &[("out", Image)],
        kinds: Kinds::None,
        settings: &["temperature"],
        doc: "Softmax of each row of x / temperature (max subtracted: never overflows).",
        example: r#"{"temperature": 0.7}"#,
        cpu: Some(softmax_rows_up),
        start: None,
        gpu: Gpu::run("softmax_rows", Grid::Rows).tolerance(1e-4),
    },
    TypeInfo {
        name: "softmax_cols",
        inputs: &[("x", Image)],
        outputs: &[("out", Image)],
        kinds: Kinds::None,
        settings: &["temperature"],
        doc: "Softmax of each column of x / temperature (max subtracted).",
        example: r#"{"temperature": 2}"#,
        cpu: Some(softmax_cols_up),
        start: None,
        gpu: Gpu::run("softmax_cols", Grid::Columns { per_group: 64 }).tolerance(1e-4),
    },
    TypeInfo {
        name: "transpose",
        inputs: &[("x", Image)],
        outputs: &[("out", ImageT)],
        kinds: Kinds::None,
        settings: &[],
        doc: "out = xᵀ (x: rows×cols, out: cols×rows).",
        example: "{}",
        cpu: Some(transpose_up),
        start: None,
        gpu: Gpu::run("transpose", Grid::Tiles { cols: 16, rows: 16 }).tolerance(0.0),
    },
    TypeInfo {
        name: "normalize",
        inputs: &[("x", Any)],
        outputs: &[("out", Any)],
        kinds: Kinds::Dense,
        settings: &[],
        doc: "Min-max to [0, 1]: (x - min) / (max - min); a constant input gives 0.",
        example: "{}",
        cpu: Some(normalize_up),
        start: None,
        gpu: Gpu::elementwise("normalize_apply")
            .reduce(Reduce::MinMax)
            .tolerance(1e-4),
    },
    TypeInfo {
        name: "coords",
        inputs: &[],
        outputs: &[("x", Image), ("y", Image)],
        kinds: Kinds::None,
        settings: &[],
        doc: "Ramps from 0 to 1: x along each row (left to right), y down each column.",
        example: "{}",
        cpu: None,
        start: Some(coords_start),
        gpu: Gpu::NONE,
    },
    TypeInfo {
        name: "picture",
        inputs: &[],
        outputs: &[("out", Image)],
        kinds: Kinds::None,
        settings: &["file"],
        doc: "A PNG asset as a grey matrix in [0, 1] (BT.601 luma), area-averaged to rows×cols while decoding (a larger file costs time, not memory; a smaller one is enlarged).",
        example: r#"{"file": "camera.png"}"#,
        cpu: None,
        start: Some(picture_start),
        gpu: Gpu::NONE,
    },
];

fn matmul_up(def: &NeuronDef, ins: &[Vec<f32>], outs: &mut [Vec<f32>], _: &UpCtx) {
    let (m, n) = (def.rows, def.cols);
    let k = ins[0].len() / m.max(1);
    matmul(&ins[0], &ins[1], &mut outs[0], m, k, n);
}

fn softmax_rows_up(def: &NeuronDef, ins: &[Vec<f32>], outs: &mut [Vec<f32>], _: &UpCtx) {
    let t = def.params.temperature;
    softmax_rows(&ins[0], &mut outs[0], def.rows, def.cols, t);
}

fn softmax_cols_up(def: &NeuronDef, ins: &[Vec<f32>], outs: &mut [Vec<f32>], _: &UpCtx) {
    let t = def.params.temperature;
    softmax_cols(&ins[0], &mut outs[0], def.rows, def.cols, t);
}

fn transpose_up(def: &NeuronDef, ins: &[Vec<f32>], outs: &mut [Vec<f32>], _: &UpCtx) {
    transpose(&ins[0], &mut outs[0], def.rows, def.cols);
}

fn normalize_up(_: &NeuronDef, ins: &[Vec<f32>], outs: &mut [Vec<f32>], _: &UpCtx) {
    normalize(&ins[0], &mut outs[0]);
}

fn coords_start(def: &NeuronDef, port: usize, _: usize) -> Vec<f32> {
    coords(def.rows, def.cols, port == 0)
}

fn picture_start(def: &NeuronDef, _: usize, len: usize) -> Vec<f32> {
    match def.params.picture.as_deref() {
        Some(px) if px.len() == len => px.clone(),
        // resolve() loads the pixels at rows×cols; anything else is a bug, shown as black.
        _ => vec![0.0; len],
    }
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

/// e^x for x ≤ 0 (softmax after the max is subtracted); see `fastmath`.
pub use super::fastmath::exp_neg;

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
