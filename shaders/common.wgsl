// Shared by every kernel: the bindings of the one bind group, the per-dispatch parameters and
// small helpers. The Rust side (src/backend/gpu/) prepends this file to each kernel file.

// Per-dispatch parameters (a uniform buffer bound with a dynamic offset, one slot per dispatch).
// What a neuron's kernels get is set by its row in the neuron table (src/neurons/table.rs, `Gpu`).
struct Params {
    in0: u32, in1: u32, in2: u32, in3: u32,   // offsets of the neuron's input ports in `ins`
    out0: u32, out1: u32, n: u32, rows: u32,  // offsets of its output ports in `outs`; element count; rows
    cols: u32, k: u32, neuron: u32, key: u32, // cols; inner size (in0 length / rows), or the scratch
                                              // offset of a reduction; neuron index; noise key
    tick_lo: u32, tick_hi: u32,
    f0: f32, f1: f32,                         // 1/temperature; time step (1/sample_rate on audio,
                                              // else 1/tick_rate); `time` gets tick and seconds
    c: array<vec4<f32>, 4>,                   // the neuron's settings as numbers (Params::consts)
}

// Constant k (0..16) of the neuron's settings.
fn konst(k: u32) -> f32 {
    return P.c[k / 4u][k % 4u];
}

// Input ports after the down stroke, all neurons, packed.
@group(0) @binding(0) var<storage, read_write> ins: array<f32>;
// Output ports (the state carried between ticks), all neurons, packed.
@group(0) @binding(1) var<storage, read_write> outs: array<f32>;
@group(0) @binding(2) var<uniform> P: Params;
// The down-stroke plan (rows and terms) and the read-back gather list.
@group(0) @binding(3) var<storage, read> plan: array<u32>;
// Partial results of multi-workgroup reductions.
@group(0) @binding(4) var<storage, read_write> scratch: array<f32>;
// Non-finite values replaced by 0 this tick, per neuron.
@group(0) @binding(5) var<storage, read_write> bad: array<atomic<u32>>;
// What the CPU reads back: gathered scalars and audio, then display frames (RGBA8).
@group(0) @binding(6) var<storage, read_write> io: array<u32>;

const WG: u32 = 256u;

// NaN or ±Inf (bit test: comparisons with NaN may be optimised away).
fn non_finite(v: f32) -> bool {
    return (bitcast<u32>(v) & 0x7f800000u) == 0x7f800000u;
}

// Writes one output value; NaN/Inf become 0 and are counted against the neuron.
fn put(i: u32, v: f32) {
    if non_finite(v) {
        outs[i] = 0.0;
        atomicAdd(&bad[P.neuron], 1u);
    } else {
        outs[i] = v;
    }
}

// The PCG output permutation; the same function as backend::pcg_hash.
fn pcg_hash(x: u32) -> u32 {
    let state = x * 747796405u + 2891336453u;
    let word = ((state >> ((state >> 28u) + 4u)) ^ state) * 277803737u;
    return (word >> 22u) ^ word;
}

// Uniform noise in [-1, 1); the same function as backend::noise_value.
fn noise_value(key: u32, tick_lo: u32, tick_hi: u32, index: u32) -> f32 {
    let h = pcg_hash(index ^ pcg_hash(tick_lo ^ pcg_hash(key ^ tick_hi)));
    return f32(h >> 8u) * (2.0 / 16777216.0) - 1.0;
}

// Linear invocation index of a 1-D dispatch that may use a second dimension for > 65535 groups.
fn linear(gid: vec3<u32>, nwg: vec3<u32>) -> u32 {
    return gid.x + gid.y * nwg.x * WG;
}
