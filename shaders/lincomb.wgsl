// The down stroke: every planned input port gets Σ w · (source output), one dispatch per kind.
// plan[4r..4r+4] = (dst offset in ins, length, first term, term count | ramp << 31);
// a term is (src offset in outs, w0 bits, w1 bits). Audio weights ramp w0 → w1 across the block,
// exactly as the CPU reference computes it. Terms are summed in plan order, as on the CPU.
// Tolerance: 1e-5 relative.

// Rows run over y, then z past 65535 (the per-dimension limit); P.rows is this dispatch's count.
@compute @workgroup_size(256)
fn lincomb(@builtin(global_invocation_id) g: vec3<u32>, @builtin(num_workgroups) nw: vec3<u32>) {
    let local = g.y + g.z * nw.y;
    if local >= P.rows { return; }
    let r = P.k + local;
    let dst = plan[4u * r];
    let len = plan[4u * r + 1u];
    let first = plan[4u * r + 2u];
    let tc = plan[4u * r + 3u];
    let count = tc & 0x7fffffffu;
    let ramp = (tc >> 31u) != 0u;
    let i = g.x;
    if i >= len { return; }
    var acc = 0.0;
    for (var t = 0u; t < count; t++) {
        let at = 3u * (first + t);
        let s = outs[plan[at] + i];
        let w0 = bitcast<f32>(plan[at + 1u]);
        let w1 = bitcast<f32>(plan[at + 2u]);
        if ramp && w0 != w1 {
            let step = (w1 - w0) / f32(len);
            acc += (w0 + step * f32(i + 1u)) * s;
        } else {
            acc += w1 * s;
        }
    }
    ins[dst + i] = acc;
}
