//! Feedback tools for images: `roll` (a toroidal shift by whole rows and columns, optionally the
//! 2015 randomized identity) and `warp` (the May 2015 wave transform, or an affine
//! zoom/rotate/translate), sampled bilinearly with the edges wrapped or clamped.
//!
//! Both types read their settings as per-neuron constants (`Params::consts`, resolved once here
//! and handed to the WGSL kernels in `P.c`), and every scalar input *adds* to its setting, so a
//! patch can fix a value, drive it, or both. The effective values are computed in f32 with the
//! same operations on both backends (shaders/warp.wgsl): a non-finite input counts as 0 and every
//! value is clamped to a range that keeps the sample coordinates finite.

use super::elementwise::{PAR_MIN, noise_key, noise_value};
use super::table::{Gpu, Kinds, PerTick, PortKind::*, TypeInfo, UpCtx};
use super::{NeuronDef, NeuronSpec, SpecError, err, get_f64};
use glam::{Affine2, Vec2};
use rayon::prelude::*;

pub static TYPES: &[TypeInfo] = &[
    TypeInfo {
        name: "roll",
        inputs: &[("x", Image), ("dx", Scalar), ("dy", Scalar)],
        outputs: &[("out", Image)],
        kinds: Kinds::None,
        settings: &["dx", "dy", "keep", "seed"],
        doc: "Toroidal shift: out[r][c] = x[r − dy][c − dx], indices wrapping; dx, dy = the setting (an integer) + the integer part of the input. With `keep` < 1 each element survives with probability keep, else 0, anew every tick (the 2015 randomized identity; `seed`).",
        example: r#"{"dx": 2, "dy": -1, "keep": 0.9, "seed": 3}"#,
        cpu: Some(roll_up),
        start: None,
        gpu: Gpu::elementwise("roll")
            .per_tick(PerTick::NoiseKey)
            .tolerance(0.0),
    },
    TypeInfo {
        name: "warp",
        inputs: &[
            ("x", Image),
            ("cx", Scalar),
            ("cy", Scalar),
            ("phase", Scalar),
            ("dcoef", Scalar),
            ("zoom", Scalar),
            ("angle", Scalar),
            ("tx", Scalar),
            ("ty", Scalar),
        ],
        outputs: &[("out", Image)],
        kinds: Kinds::None,
        settings: &[
            "mode", "edge", "cx", "cy", "phase", "dcoef", "zoom", "angle", "tx", "ty",
        ],
        doc: "Resamples x bilinearly (`edge` wrap or clamp) about the centre c = (cx, cy) (fractions of the width and height, default 0.5). `mode` wave (2015): out(p) = x(c + (p − c)·(0.25·sin(dcoef·d + phase) + 0.75)), d = the distance from p to c in pixels; `mode` affine: out = x zoomed by `zoom`, turned by `angle` (radians, clockwise) about c, moved by (tx, ty) (fractions). Each scalar input adds to its setting.",
        example: r#"{"mode": "affine", "edge": "clamp", "zoom": 1.3, "angle": 0.4, "tx": 0.1}"#,
        cpu: Some(warp_up),
        start: None,
        gpu: Gpu::elementwise("warp").tolerance(1e-3),
    },
];

/// Where a roll's constants sit in `Params::consts`.
mod roll_c {
    /// The dx setting reduced modulo cols; the dy setting modulo rows.
    pub const DX: usize = 0;
    pub const DY: usize = 1;
    /// An element survives when its noise value (in [-1, 1)) is below 2·keep − 1.
    pub const KEEP: usize = 2;
}

/// Where a warp's constants sit: `MODE`, `EDGE`, then the settings of scalar inputs 1..=8 in
/// port order, so input j's setting is `consts[FIRST + j - 1]`.
mod warp_c {
    pub const MODE: usize = 0;
    pub const EDGE: usize = 1;
    pub const FIRST: usize = 2;
}

/// The warp's scalar parameters in input-port order, with their defaults and clamping ranges.
const WARP_PARAMS: [(&str, f32, f32, f32); 8] = [
    ("cx", 0.5, -16.0, 16.0),
    ("cy", 0.5, -16.0, 16.0),
    ("phase", 0.0, -1e4, 1e4),
    ("dcoef", 0.5, -1e3, 1e3),
    ("zoom", 1.0, 1e-3, 1e3),
    ("angle", 0.0, -1e4, 1e4),
    ("tx", 0.0, -16.0, 16.0),
    ("ty", 0.0, -16.0, 16.0),
];

/// A setting that must be an integer (any size: a shift is reduced modulo the side).
fn get_int(spec: &NeuronSpec, key: &str) -> Result<i64, SpecError> {
    match spec.settings.get(key) {
        None => Ok(0),
        Some(v) => match v.as_i64() {
            Some(n) => Ok(n),
            None => err(key, format!("expected a whole number of pixels, found {v}")),
        },
    }
}

/// One of `choices` (the first is the default); returns its index.
fn get_choice(spec: &NeuronSpec, key: &str, choices: &[&str]) -> Result<usize, SpecError> {
    match spec.settings.get(key) {
        None => Ok(0),
        Some(v) => match choices.iter().position(|c| v.as_str() == Some(*c)) {
            Some(i) => Ok(i),
            None => err(
                key,
                format!("expected one of \"{}\", found {v}", choices.join("\", \"")),
            ),
        },
    }
}

/// The per-neuron constants of a roll or warp from its settings (all zeros for other types).
pub(super) fn consts(
    info: &TypeInfo,
    spec: &NeuronSpec,
    rows: usize,
    cols: usize,
) -> Result<[f32; 16], SpecError> {
    let mut c = [0.0f32; 16];
    match info.name {
        "roll" => {
            c[roll_c::DX] = get_int(spec, "dx")?.rem_euclid(cols as i64) as f32;
            c[roll_c::DY] = get_int(spec, "dy")?.rem_euclid(rows as i64) as f32;
            let keep = get_f64(spec, "keep")?.unwrap_or(1.0);
            if !(0.0..=1.0).contains(&keep) {
                return err(
                    "keep",
                    format!("expected a probability in [0, 1], found {keep}"),
                );
            }
            c[roll_c::KEEP] = (2.0 * keep - 1.0) as f32;
        }
        "warp" => {
            c[warp_c::MODE] = get_choice(spec, "mode", &["wave", "affine"])? as f32;
            c[warp_c::EDGE] = get_choice(spec, "edge", &["wrap", "clamp"])? as f32;
            for (j, (key, default, lo, hi)) in WARP_PARAMS.iter().enumerate() {
                let v = get_f64(spec, key)?.map_or(*default, |v| v as f32);
                if !(*lo..=*hi).contains(&v) {
                    return err(key, format!("expected a number in [{lo}, {hi}], found {v}"));
                }
                c[warp_c::FIRST + j] = v;
            }
        }
        _ => {}
    }
    Ok(c)
}

/// A scalar input as a parameter: non-finite counts as 0 (shaders/warp.wgsl: `finite_or_zero`).
fn finite_or_zero(v: f32) -> f32 {
    if v.is_finite() { v } else { 0.0 }
}

/// The shift along a side of `n`: the reduced setting plus the integer part of the input
/// (clamped to ±2^24, where f32 still holds every integer), wrapped into 0..n.
fn roll_shift(setting: f32, input: f32, n: usize) -> usize {
    let v = finite_or_zero(input)
        .clamp(-16_777_216.0, 16_777_216.0)
        .trunc();
    (setting as i64 + v as i64).rem_euclid(n.max(1) as i64) as usize
}

fn roll_up(def: &NeuronDef, ins: &[Vec<f32>], outs: &mut [Vec<f32>], ctx: &UpCtx) {
    let (rows, cols) = (def.rows, def.cols);
    let c = &def.params.consts;
    let sx = roll_shift(c[roll_c::DX], ins[1][0], cols);
    let sy = roll_shift(c[roll_c::DY], ins[2][0], rows);
    let x = &ins[0];
    let keep = c[roll_c::KEEP];
    let key = noise_key(ctx.seed, def.params.seed, &def.name);
    let row = |(r, o): (usize, &mut [f32])| {
        let src = &x[(r + rows - sy) % rows * cols..][..cols];
        // out[c] = src[c - sx]: the row's last sx elements come first.
        o[..sx].copy_from_slice(&src[cols - sx..]);
        o[sx..].copy_from_slice(&src[..cols - sx]);
        if keep < 1.0 {
            for (j, v) in o.iter_mut().enumerate() {
                if noise_value(key, ctx.tick, (r * cols + j) as u32) >= keep {
                    *v = 0.0;
                }
            }
        }
    };
    let o = &mut outs[0][..rows * cols];
    if o.len() >= PAR_MIN {
        o.par_chunks_mut(cols).enumerate().for_each(row);
    } else {
        o.chunks_mut(cols).enumerate().for_each(row);
    }
}

/// A warp's effective parameters for this tick (pixels for the centre and the translation).
#[derive(Clone, Copy, Debug)]
struct WarpParams {
    affine: bool,
    wrap: bool,
    centre: Vec2,
    phase: f32,
    dcoef: f32,
    zoom: f32,
    angle: f32,
    shift: Vec2,
}

fn warp_params(def: &NeuronDef, ins: &[Vec<f32>]) -> WarpParams {
    let c = &def.params.consts;
    let p = |j: usize| {
        let (_, _, lo, hi) = WARP_PARAMS[j];
        (c[warp_c::FIRST + j] + finite_or_zero(ins[j + 1][0])).clamp(lo, hi)
    };
    let (w, h) = (def.cols as f32, def.rows as f32);
    WarpParams {
        affine: c[warp_c::MODE] == 1.0,
        wrap: c[warp_c::EDGE] == 0.0,
        centre: Vec2::new(p(0) * (w - 1.0), p(1) * (h - 1.0)),
        phase: p(2),
        dcoef: p(3),
        zoom: p(4),
        angle: p(5),
        shift: Vec2::new(p(6) * w, p(7) * h),
    }
}

/// Bilinear sample of `x` (rows×cols) at column `sx`, row `sy`: wrapped around the torus, or
/// clamped to the edge pixels.
fn sample(x: &[f32], rows: usize, cols: usize, sx: f32, sy: f32, wrap: bool) -> f32 {
    let axis = |s: f32, n: usize| -> (usize, usize, f32) {
        let nf = n as f32;
        let s = if wrap {
            s - nf * (s / nf).floor()
        } else {
            s.clamp(-1.0, nf)
        };
        let s0 = s.floor();
        let i0 = s0 as i64;
        let idx = |i: i64| {
            if wrap {
                i.rem_euclid(n as i64) as usize
            } else {
                i.clamp(0, n as i64 - 1) as usize
            }
        };
        (idx(i0), idx(i0 + 1), s - s0)
    };
    let (c0, c1, fx) = axis(sx, cols);
    let (r0, r1, fy) = axis(sy, rows);
    let at = |r: usize, c: usize| x[r * cols + c];
    let top = at(r0, c0) + (at(r0, c1) - at(r0, c0)) * fx;
    let bottom = at(r1, c0) + (at(r1, c1) - at(r1, c0)) * fx;
    top + (bottom - top) * fy
}

fn warp_up(def: &NeuronDef, ins: &[Vec<f32>], outs: &mut [Vec<f32>], _: &UpCtx) {
    let (rows, cols) = (def.rows, def.cols);
    let wp = warp_params(def, ins);
    // Output pixel p samples the input at inverse(p): the forward map moves the centre by the
    // shift, turns and zooms about it.
    let inverse = Affine2::from_translation(wp.centre + wp.shift)
        * Affine2::from_angle(wp.angle)
        * Affine2::from_scale(Vec2::splat(wp.zoom))
        * Affine2::from_translation(-wp.centre);
    let inverse = inverse.inverse();
    let x = &ins[0];
    let row = |(r, o): (usize, &mut [f32])| {
        for (c, v) in o.iter_mut().enumerate() {
            let p = Vec2::new(c as f32, r as f32);
            let s = if wp.affine {
                inverse.transform_point2(p)
            } else {
                let d = p - wp.centre;
                let m = 0.25 * (wp.dcoef * d.length() + wp.phase).sin() + 0.75;
                wp.centre + d * m
            };
            *v = sample(x, rows, cols, s.x, s.y, wp.wrap);
        }
    };
    let o = &mut outs[0][..rows * cols];
    if o.len() >= PAR_MIN {
        o.par_chunks_mut(cols).enumerate().for_each(row);
    } else {
        o.chunks_mut(cols).enumerate().for_each(row);
    }
}
