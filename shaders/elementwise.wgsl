// Elementwise unit generators: one invocation per element of the neuron's output.
// Tolerance against the CPU reference: 1e-5 relative (|gpu − cpu| ≤ 1e-5 · max(1, |cpu|)).

@compute @workgroup_size(256)
fn accum(@builtin(global_invocation_id) g: vec3<u32>, @builtin(num_workgroups) w: vec3<u32>) {
    let i = linear(g, w);
    if i >= P.n { return; }
    put(P.out0 + i, ins[P.in0 + i] + ins[P.in1 + i]);
}

@compute @workgroup_size(256)
fn identity(@builtin(global_invocation_id) g: vec3<u32>, @builtin(num_workgroups) w: vec3<u32>) {
    let i = linear(g, w);
    if i >= P.n { return; }
    put(P.out0 + i, ins[P.in0 + i]);
}

// gate: the scalar `g` times the signal `x`.
@compute @workgroup_size(256)
fn gate(@builtin(global_invocation_id) g: vec3<u32>, @builtin(num_workgroups) w: vec3<u32>) {
    let i = linear(g, w);
    if i >= P.n { return; }
    put(P.out0 + i, ins[P.in0] * ins[P.in1 + i]);
}

// sin(a·x + b), inputs x, a, b.
@compute @workgroup_size(256)
fn sine(@builtin(global_invocation_id) g: vec3<u32>, @builtin(num_workgroups) w: vec3<u32>) {
    let i = linear(g, w);
    if i >= P.n { return; }
    put(P.out0 + i, sin(ins[P.in1 + i] * ins[P.in0 + i] + ins[P.in2 + i]));
}

@compute @workgroup_size(256)
fn tanh_(@builtin(global_invocation_id) g: vec3<u32>, @builtin(num_workgroups) w: vec3<u32>) {
    let i = linear(g, w);
    if i >= P.n { return; }
    // tanh(±15) is ±1 in f32; clamping keeps exp-based implementations away from Inf/Inf.
    put(P.out0 + i, tanh(clamp(ins[P.in0 + i], -15.0, 15.0)));
}

@compute @workgroup_size(256)
fn relu(@builtin(global_invocation_id) g: vec3<u32>, @builtin(num_workgroups) w: vec3<u32>) {
    let i = linear(g, w);
    if i >= P.n { return; }
    put(P.out0 + i, max(ins[P.in0 + i], 0.0));
}

@compute @workgroup_size(256)
fn mul(@builtin(global_invocation_id) g: vec3<u32>, @builtin(num_workgroups) w: vec3<u32>) {
    let i = linear(g, w);
    if i >= P.n { return; }
    put(P.out0 + i, ins[P.in0 + i] * ins[P.in1 + i]);
}

// Seeded noise: a pure function of (key, tick, index), so both backends agree bit for bit.
@compute @workgroup_size(256)
fn noise(@builtin(global_invocation_id) g: vec3<u32>, @builtin(num_workgroups) w: vec3<u32>) {
    let i = linear(g, w);
    if i >= P.n { return; }
    put(P.out0 + i, noise_value(P.key, P.tick_lo, P.tick_hi, i));
}

fn wrap(p: f32) -> f32 {
    let f = p - floor(p);
    return select(f, 0.0, f >= 1.0);
}

// Phasor on scalars and images: integrates frequency per tick, elementwise (f1 = 1/tick_rate).
@compute @workgroup_size(256)
fn phasor_tick(@builtin(global_invocation_id) g: vec3<u32>, @builtin(num_workgroups) w: vec3<u32>) {
    let i = linear(g, w);
    if i >= P.n { return; }
    put(P.out0 + i, wrap(outs[P.out0 + i] + ins[P.in0 + i] * P.f1));
}

// Phasor on audio: integrates per sample from the last sample of the previous block
// (f1 = 1/sample_rate). A running sum that wraps is inherently sequential; one block is a few
// hundred samples, so one invocation does it in the same order as the CPU.
// Tolerance: phase compared on the circle, 1e-5.
@compute @workgroup_size(1)
fn phasor_audio() {
    var p = outs[P.out0 + P.n - 1u];
    for (var i = 0u; i < P.n; i++) {
        p = wrap(p + ins[P.in0 + i] * P.f1);
        put(P.out0 + i, p);
    }
}

// hold: scalar → audio, ramped across the block from the previous block's last sample.
@compute @workgroup_size(256)
fn hold(@builtin(local_invocation_id) l: vec3<u32>) {
    let prev = outs[P.out0 + P.n - 1u];
    workgroupBarrier();
    storageBarrier();
    let x = ins[P.in0];
    for (var i = l.x; i < P.n; i += WG) {
        put(P.out0 + i, prev + (x - prev) * (f32(i + 1u) / f32(P.n)));
    }
}

// time: tick count and seconds, computed on the CPU (f0, f1) so both backends agree exactly.
@compute @workgroup_size(1)
fn time() {
    put(P.out0, P.f0);
    put(P.out1, P.f1);
}

// host: the scalars of a host-fed neuron (midi_*), computed on the CPU by its row's kernel and
// passed in f0, f1 and the bits of key; tick_lo says how many. Its scalar outputs are packed,
// port i at out0 + i. Tolerance 0: both backends show the same values.
@compute @workgroup_size(1)
fn host() {
    put(P.out0, P.f0);
    if P.tick_lo > 1u {
        put(P.out0 + 1u, P.f1);
    }
    if P.tick_lo > 2u {
        put(P.out0 + 2u, bitcast<f32>(P.key));
    }
}
