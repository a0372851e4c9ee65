// Matrix streams (src/neurons/matrices.rs): elementwise max, the fused squeeze of `squeeze` and
// `image_w`, and the toroidal pseudo-Conway rule. P.key holds the neuron's mode bits: the low two
// bits combine the inputs (0 a + b, 1 a · b, 2 max), 4 squeezes (divide by the max |v|), 8 pins
// row 0 to [1, 0, ...] before and after. Every operation is exact (no sums of more than two
// terms except conway's, done in the CPU's order), so the GPU matches the CPU bit for bit:
// tolerance 1e-5 relative for max and squeeze (the table's default), 0 for conway.

@compute @workgroup_size(256)
fn max2(@builtin(global_invocation_id) g: vec3<u32>, @builtin(num_workgroups) w: vec3<u32>) {
    let i = linear(g, w);
    if i >= P.n { return; }
    put(P.out0 + i, max(ins[P.in0 + i], ins[P.in1 + i]));
}

var<workgroup> peak: array<f32, 256>;

fn combined(i: u32, mode: u32) -> f32 {
    let a = ins[P.in0 + i];
    let b = ins[P.in1 + i];
    var v = a + b;
    if (mode & 3u) == 1u {
        v = a * b;
    } else if (mode & 3u) == 2u {
        v = max(a, b);
    }
    if (mode & 8u) != 0u && i < P.cols {
        v = select(0.0, 1.0, i == 0u);
    }
    return v;
}

// One workgroup: combine into the output, find the max |v| (a tree in workgroup memory), divide.
@compute @workgroup_size(256)
fn squeeze(@builtin(local_invocation_id) li: vec3<u32>) {
    let l = li.x;
    let mode = P.key;
    var m = 0.0;
    for (var i = l; i < P.n; i += WG) {
        let v = combined(i, mode);
        outs[P.out0 + i] = v;
        m = max(m, abs(v));
    }
    peak[l] = m;
    workgroupBarrier();
    for (var s = WG / 2u; s > 0u; s >>= 1u) {
        if l < s {
            peak[l] = max(peak[l], peak[l + s]);
        }
        workgroupBarrier();
    }
    let top = peak[0];
    for (var i = l; i < P.n; i += WG) {
        var v = outs[P.out0 + i];
        if (mode & 4u) != 0u {
            if top > 0.0 {
                v = v / top;
            } else {
                v = 0.0;
            }
        }
        if (mode & 8u) != 0u && i == 0u {
            v = 1.0;
        }
        put(P.out0 + i, v);
    }
}

// s = 2·x + the 3×3 sum (centre included) on the torus, in the CPU's order; -1 where s is in
// [-1, 1] or [4, 6], else +1.
@compute @workgroup_size(256)
fn conway(@builtin(global_invocation_id) g: vec3<u32>, @builtin(num_workgroups) w: vec3<u32>) {
    let i = linear(g, w);
    if i >= P.n { return; }
    let r = i / P.cols;
    let c = i % P.cols;
    var s = 2.0 * ins[P.in0 + i];
    for (var di = 0u; di < 3u; di++) {
        let rr = (r + P.rows + di - 1u) % P.rows;
        for (var dj = 0u; dj < 3u; dj++) {
            let cc = (c + P.cols + dj - 1u) % P.cols;
            s += ins[P.in0 + rr * P.cols + cc];
        }
    }
    let alive = (s >= -1.0 && s <= 1.0) || (s >= 4.0 && s <= 6.0);
    put(P.out0 + i, select(1.0, -1.0, alive));
}
