// Audio staples and the audio↔picture bridges (src/neurons/audio.rs has the CPU references and
// the rows). A neuron's private memory follows its outputs in `outs`: at out0 + the outputs'
// total length.

// svf: Simper's trapezoidal state-variable filter over the block, in order (a recursion: one
// invocation). Outputs low, band, high (n samples each); memory [ic1eq, ic2eq, sample rate].
// Tolerance 1e-3: tan() and the feedback round differently from the CPU.
@compute @workgroup_size(1)
fn svf() {
    let n = P.n;
    let mem = P.out0 + 3u * n;
    let sr = outs[mem + 2u];
    var ic1 = outs[mem];
    var ic2 = outs[mem + 1u];
    for (var i = 0u; i < n; i++) {
        let x = ins[P.in0 + i];
        var fc = ins[P.in1 + i];
        if non_finite(fc) { fc = 0.0; }
        fc = clamp(fc, 0.0, 0.49 * sr);
        var r = ins[P.in2 + i];
        if non_finite(r) { r = 0.0; }
        r = clamp(r, 0.0, 1.0);
        let g = tan(3.14159265358979 * fc / sr);
        let k = 2.0 - 1.98 * r;
        let a1 = 1.0 / (1.0 + g * (g + k));
        let a2 = g * a1;
        let a3 = g * a2;
        let v3 = x - ic2;
        let v1 = a1 * ic1 + a2 * v3;
        let v2 = ic2 + a2 * ic1 + a3 * v3;
        ic1 = 2.0 * v1 - ic1;
        ic2 = 2.0 * v2 - ic2;
        put(P.out0 + i, v2);
        put(P.out0 + n + i, v1);
        put(P.out0 + 2u * n + i, x - k * v1 - v2);
    }
    if non_finite(ic1) { ic1 = 0.0; }
    if non_finite(ic2) { ic2 = 0.0; }
    outs[mem] = ic1;
    outs[mem + 1u] = ic2;
}

// delay: writes each sample into the line, reads `time` seconds back (linear interpolation).
// Memory [write position, line length, sample rate, 0, line...]. In order: one invocation.
// Tolerance 1e-5.
@compute @workgroup_size(1)
fn delay() {
    let n = P.n;
    let mem = P.out0 + n;
    let line = mem + 4u;
    let len = u32(outs[mem + 1u]);
    if len < 2u { return; }
    let sr = outs[mem + 2u];
    let mx = f32(len - 2u);
    var pos = min(u32(max(outs[mem], 0.0)), len - 1u);
    for (var i = 0u; i < n; i++) {
        // Guarded like every stored value (the CPU's guard scrubs the line too).
        put(line + pos, ins[P.in0 + i]);
        var t = ins[P.in1 + i];
        if non_finite(t) { t = 0.0; }
        let d = clamp(t * sr, 0.0, mx);
        let whole = floor(d);
        let frac = d - whole;
        let w = u32(whole);
        let a = outs[line + (pos + len - w) % len];
        let b = outs[line + (pos + 2u * len - w - 1u) % len];
        put(P.out0 + i, a + (b - a) * frac);
        pos = (pos + 1u) % len;
    }
    outs[mem] = f32(pos);
}

// adsr: one envelope step (the same as neurons::audio::adsr_step).
fn adsr_rate(t: f32, dt: f32) -> f32 {
    if t > 0.0 { return dt / t; }
    return 1e30;
}

fn adsr_step(level: f32, stage0: f32, gate: f32, a: f32, d: f32, s: f32, r: f32, dt: f32) -> vec2<f32> {
    var stage = stage0;
    if gate > 0.0 {
        if stage == 0.0 || stage == 4.0 { stage = 1.0; }
    } else if stage != 0.0 {
        stage = 4.0;
    }
    var sus = s;
    if non_finite(sus) { sus = 0.0; }
    sus = clamp(sus, 0.0, 1.0);
    if stage == 1.0 {
        let l = min(level + adsr_rate(a, dt), 1.0);
        return vec2(l, select(1.0, 2.0, l >= 1.0));
    }
    if stage == 2.0 {
        let l = max(level - adsr_rate(d, dt), sus);
        return vec2(l, select(2.0, 3.0, l <= sus));
    }
    if stage == 3.0 {
        return vec2(sus, 3.0);
    }
    if stage == 4.0 {
        let l = max(level - adsr_rate(r, dt), 0.0);
        return vec2(l, select(4.0, 0.0, l <= 0.0));
    }
    return vec2(0.0, 0.0);
}

// adsr on scalars and images: one envelope per element (f1 = 1/tick_rate); memory holds the
// stages. Tolerance 1e-4.
@compute @workgroup_size(256)
fn adsr_tick(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = linear(gid, nwg);
    if i >= P.n { return; }
    let mem = P.out0 + P.n;
    let o = adsr_step(outs[P.out0 + i], outs[mem + i], ins[P.in0 + i], ins[P.in1], ins[P.in2],
        ins[P.in3], ins[P.in3 + 1u], P.f1);
    put(P.out0 + i, o.x);
    outs[mem + i] = o.y;
}

// adsr on audio: one envelope through the block, in order (f1 = 1/sample_rate). The release
// input follows sustain in `ins` (a neuron's ports are packed in order).
@compute @workgroup_size(1)
fn adsr_audio() {
    let n = P.n;
    let mem = P.out0 + n;
    var level = outs[P.out0 + n - 1u];
    var stage = outs[mem];
    let a = ins[P.in1];
    let d = ins[P.in2];
    let s = ins[P.in3];
    let r = ins[P.in3 + 1u];
    for (var i = 0u; i < n; i++) {
        let o = adsr_step(level, stage, ins[P.in0 + i], a, d, s, r, P.f1);
        level = o.x;
        stage = o.y;
        put(P.out0 + i, level);
    }
    outs[mem] = stage;
}

// scan: row floor(row) of the image as one wavetable cycle over the block. Tolerance 1e-5.
@compute @workgroup_size(256)
fn scan(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = linear(gid, nwg);
    if i >= P.n { return; }
    var row = ins[P.in1];
    if non_finite(row) { row = 0.0; }
    let r = min(u32(max(floor(row), 0.0)), P.rows - 1u);
    let base = P.in0 + r * P.cols;
    let p = i * P.cols;
    let j = p / P.n;
    let frac = f32(p % P.n) / f32(P.n);
    let a = ins[base + j];
    let b = ins[base + (j + 1u) % P.cols];
    put(P.out0 + i, a + (b - a) * frac);
}

// spectrum: one workgroup. Outputs: the image (n = rows·cols), then low, mid, high; memory
// [position, size, block_len, sample_rate, max_hz, 0, ring (size), magnitudes (size/2 + 1)]. Steps, separated by
// barriers: the block into the ring; a direct DFT of the Hann-windowed ring per bin (the CPU
// runs realfft); band sums and the columns. Tolerance 1e-3.
var<workgroup> band_part: array<vec3<f32>, 256>;

@compute @workgroup_size(256)
fn spectrum(@builtin(local_invocation_id) l: vec3<u32>) {
    let t = l.x;
    let mem = P.out0 + P.n + 3u;
    let size = u32(outs[mem + 1u]);
    let bl = u32(outs[mem + 2u]);
    let ring = mem + 6u;
    let mags = ring + size;
    let half = size / 2u;
    let pos0 = u32(max(outs[mem], 0.0)) % max(size, 1u);
    // A bad memory head (never written by the CPU side) does nothing; no early return: every
    // invocation must reach every barrier.
    let ok = size >= 4u;
    workgroupBarrier();
    storageBarrier();
    var skip = 0u;
    if bl > size { skip = bl - size; }
    for (var i = skip + t; ok && i < bl; i += WG) {
        put(ring + (pos0 + i) % size, ins[P.in0 + i]);
    }
    let pos = (pos0 + bl) % max(size, 1u);
    workgroupBarrier();
    storageBarrier();
    let hz = outs[mem + 3u] / f32(max(size, 1u));
    var e = vec3(0.0, 0.0, 0.0);
    for (var k = t; ok && k <= half; k += WG) {
        var re = 0.0;
        var im = 0.0;
        for (var j = 0u; j < size; j++) {
            let w = 0.5 - 0.5 * cos(6.28318530717959 * f32(j) / f32(size));
            let v = outs[ring + (pos + j) % size] * w;
            let ang = 6.28318530717959 * f32((k * j) % size) / f32(size);
            re += v * cos(ang);
            im -= v * sin(ang);
        }
        let p = re * re + im * im;
        put(mags + k, sqrt(p) * (4.0 / f32(size)));
        let f = f32(k) * hz;
        if f < 250.0 { e.x += p; } else if f < 2500.0 { e.y += p; } else { e.z += p; }
    }
    band_part[t] = e;
    workgroupBarrier();
    storageBarrier();
    if ok && t == 0u {
        var s = vec3(0.0, 0.0, 0.0);
        for (var i = 0u; i < WG; i++) { s += band_part[i]; }
        let norm = 16.0 / 3.0 / (f32(size) * f32(size));
        put(P.out0 + P.n, sqrt(s.x * norm));
        put(P.out0 + P.n + 1u, sqrt(s.y * norm));
        put(P.out0 + P.n + 2u, sqrt(s.z * norm));
        outs[mem] = f32(pos);
    }
    // The last column's bin: max_hz in bins, at most Nyquist's.
    let top = min(outs[mem + 4u] * f32(size) / outs[mem + 3u], f32(half));
    for (var i = t; ok && i < P.n; i += WG) {
        let c = i % P.cols;
        var v = outs[mags];
        if P.cols >= 2u {
            let b = f32(c) * top / f32(P.cols - 1u);
            let j = min(u32(max(floor(b), 0.0)), half);
            let frac = b - f32(j);
            let a = outs[mags + j];
            let bb = outs[mags + min(j + 1u, half)];
            v = a + (bb - a) * frac;
        }
        put(P.out0 + i, v);
    }
}
