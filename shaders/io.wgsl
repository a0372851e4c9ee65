// Read-back helpers. `gather` copies the values the CPU needs (every scalar output, the audio_out
// inputs) into one contiguous run of `io`, so one copy and one map read them all: plan[P.k + i] is
// an offset into `outs`, or into `ins` when bit 31 is set. `frame` turns a display neuron's
// inputs (in, r, g, b) into RGBA8 pixels at io[P.out0 ..], like backend::to_u8. Tolerance: exact
// for gather; ±1 level for frames (rounding at .5).

@compute @workgroup_size(256)
fn gather(@builtin(global_invocation_id) g: vec3<u32>, @builtin(num_workgroups) w: vec3<u32>) {
    let i = linear(g, w);
    if i >= P.n { return; }
    let at = plan[P.k + i];
    var v: f32;
    if (at >> 31u) != 0u {
        v = ins[at & 0x7fffffffu];
    } else {
        v = outs[at];
    }
    io[i] = bitcast<u32>(v);
}

fn to_u8(v: f32) -> u32 {
    if non_finite(v) {
        return select(0u, 255u, v > 0.0 && v == v);
    }
    return u32(clamp(v, 0.0, 1.0) * 255.0 + 0.5);
}

@compute @workgroup_size(256)
fn frame(@builtin(global_invocation_id) g: vec3<u32>, @builtin(num_workgroups) w: vec3<u32>) {
    let i = linear(g, w);
    if i >= P.n { return; }
    let grey = ins[P.in0 + i];
    let r = to_u8(grey + ins[P.in1 + i]);
    let gr = to_u8(grey + ins[P.in2 + i]);
    let b = to_u8(grey + ins[P.in3 + i]);
    io[P.out0 + i] = r | (gr << 8u) | (b << 16u) | (255u << 24u);
}
