// The feedback tools (CPU reference and formulas: src/neurons/warp.rs): `roll`, a toroidal shift
// by whole rows and columns with an optional random mask, and `warp`, the 2015 wave transform or
// an affine map, sampled bilinearly. Settings arrive as numbers in P.c (konst); a neuron's input
// ports are packed one after another in `ins`, so its scalar inputs are ins[P.in1 + j].
// Tolerance against the CPU: roll exact; warp 1e-3 relative (sin, cos and division round
// differently on a GPU, moving sample points by ~1e-5 px).

fn finite_or_zero(v: f32) -> f32 {
    if non_finite(v) {
        return 0.0;
    }
    return v;
}

// The reduced setting plus the integer part of the input (clamped to ±2^24), wrapped into 0..n.
fn roll_shift(setting: f32, input: f32, n: u32) -> u32 {
    let v = trunc(clamp(finite_or_zero(input), -16777216.0, 16777216.0));
    let m = i32(n);
    let s = i32(setting) + i32(v);
    return u32(((s % m) + m) % m);
}

// Constants: 0 dx (mod cols), 1 dy (mod rows), 2 keep threshold (2·keep − 1).
@compute @workgroup_size(256)
fn roll(@builtin(global_invocation_id) g: vec3<u32>, @builtin(num_workgroups) w: vec3<u32>) {
    let i = linear(g, w);
    if i >= P.n { return; }
    let sx = roll_shift(konst(0u), ins[P.in1], P.cols);
    let sy = roll_shift(konst(1u), ins[P.in2], P.rows);
    let r = i / P.cols;
    let c = i % P.cols;
    let src = ((r + P.rows - sy) % P.rows) * P.cols + (c + P.cols - sx) % P.cols;
    var v = ins[P.in0 + src];
    let keep = konst(2u);
    if keep < 1.0 && !(noise_value(P.key, P.tick_lo, P.tick_hi, i) < keep) {
        v = 0.0;
    }
    put(P.out0 + i, v);
}

// Sample position along one axis of n pixels → (first index, second index, fraction).
struct Axis {
    i0: u32,
    i1: u32,
    f: f32,
}

fn warp_axis(s_in: f32, n: u32, wrap: bool) -> Axis {
    let nf = f32(n);
    var s = clamp(s_in, -1.0, nf);
    if wrap {
        s = s_in - nf * floor(s_in / nf);
    }
    let s0 = floor(s);
    let i = i32(s0);
    let m = i32(n);
    var a: Axis;
    if wrap {
        a.i0 = u32(((i % m) + m) % m);
        a.i1 = u32((((i + 1) % m) + m) % m);
    } else {
        a.i0 = u32(clamp(i, 0, m - 1));
        a.i1 = u32(clamp(i + 1, 0, m - 1));
    }
    a.f = s - s0;
    return a;
}

fn warp_pixel(r: u32, c: u32) -> f32 {
    return ins[P.in0 + r * P.cols + c];
}

fn warp_sample(sx: f32, sy: f32, wrap: bool) -> f32 {
    let x = warp_axis(sx, P.cols, wrap);
    let y = warp_axis(sy, P.rows, wrap);
    let top = warp_pixel(y.i0, x.i0) + (warp_pixel(y.i0, x.i1) - warp_pixel(y.i0, x.i0)) * x.f;
    let bottom = warp_pixel(y.i1, x.i0) + (warp_pixel(y.i1, x.i1) - warp_pixel(y.i1, x.i0)) * x.f;
    return top + (bottom - top) * y.f;
}

// Parameter j (0 cx, 1 cy, 2 phase, 3 dcoef, 4 zoom, 5 angle, 6 tx, 7 ty): its setting plus its
// scalar input, clamped to [lo, hi].
fn warp_param(j: u32, lo: f32, hi: f32) -> f32 {
    return clamp(konst(2u + j) + finite_or_zero(ins[P.in1 + j]), lo, hi);
}

// Constants: 0 mode (0 wave, 1 affine), 1 edge (0 wrap, 1 clamp), 2.. the parameters' settings.
@compute @workgroup_size(256)
fn warp(@builtin(global_invocation_id) g: vec3<u32>, @builtin(num_workgroups) w: vec3<u32>) {
    let i = linear(g, w);
    if i >= P.n { return; }
    let wf = f32(P.cols);
    let hf = f32(P.rows);
    let centre = vec2<f32>(warp_param(0u, -16.0, 16.0) * (wf - 1.0), warp_param(1u, -16.0, 16.0) * (hf - 1.0));
    let p = vec2<f32>(f32(i % P.cols), f32(i / P.cols));
    let d = p - centre;
    var s: vec2<f32>;
    if konst(0u) == 1.0 {
        // The inverse of: zoom and turn about the centre, then move by the shift.
        let zoom = warp_param(4u, 1e-3, 1e3);
        let angle = warp_param(5u, -1e4, 1e4);
        let shift = vec2<f32>(warp_param(6u, -16.0, 16.0) * wf, warp_param(7u, -16.0, 16.0) * hf);
        let q = (d - shift) / zoom;
        let cs = cos(angle);
        let sn = sin(angle);
        s = centre + vec2<f32>(cs * q.x + sn * q.y, -sn * q.x + cs * q.y);
    } else {
        let phase = warp_param(2u, -1e4, 1e4);
        let dcoef = warp_param(3u, -1e3, 1e3);
        let m = 0.25 * sin(dcoef * length(d) + phase) + 0.75;
        s = centre + d * m;
    }
    put(P.out0 + i, warp_sample(s.x, s.y, konst(1u) == 0.0));
}
