// Reductions as two passes: `partial` folds the input with up to 256 workgroups (each a strided
// loop and a tree in workgroup memory) into scratch[P.k ..]; a final kernel folds those P.rows
// partials and writes the result. Modes (P.key): 0 min and max, 1 max |x|, 2 Σx², 3 count of
// elements where !(left ≤ right). Tolerance: 1e-4 relative (summation order differs from the CPU).

var<workgroup> ra: array<f32, 256>;
var<workgroup> rb: array<f32, 256>;

fn tree(l: u32, mode: u32) {
    workgroupBarrier();
    for (var s = WG / 2u; s > 0u; s >>= 1u) {
        if l < s {
            if mode == 0u {
                ra[l] = min(ra[l], ra[l + s]);
                rb[l] = max(rb[l], rb[l + s]);
            } else if mode == 1u {
                ra[l] = max(ra[l], ra[l + s]);
            } else {
                ra[l] = ra[l] + ra[l + s];
            }
        }
        workgroupBarrier();
    }
}

@compute @workgroup_size(256)
fn partial(@builtin(local_invocation_id) li: vec3<u32>, @builtin(workgroup_id) wid: vec3<u32>,
           @builtin(num_workgroups) nw: vec3<u32>) {
    let l = li.x;
    let mode = P.key;
    let stride = nw.x * WG;
    var a = 0.0;
    var b = 0.0;
    if mode == 0u { a = 3.4028235e38; b = -3.4028235e38; }
    for (var i = wid.x * WG + l; i < P.n; i += stride) {
        let v = ins[P.in0 + i];
        if mode == 0u {
            a = min(a, v);
            b = max(b, v);
        } else if mode == 1u {
            a = max(a, abs(v));
        } else if mode == 2u {
            a += v * v;
        } else if !(v <= ins[P.in1 + i]) {
            a += 1.0;
        }
    }
    ra[l] = a;
    rb[l] = b;
    tree(l, min(mode, 2u));
    if l == 0u {
        scratch[P.k + 2u * wid.x] = ra[0];
        scratch[P.k + 2u * wid.x + 1u] = rb[0];
    }
}

// Folds the P.rows partials in every workgroup that calls it.
fn fold_partials(l: u32, mode: u32) {
    var a = 0.0;
    var b = 0.0;
    if mode == 0u { a = 3.4028235e38; b = -3.4028235e38; }
    if l < P.rows {
        a = scratch[P.k + 2u * l];
        b = scratch[P.k + 2u * l + 1u];
    }
    ra[l] = a;
    rb[l] = b;
    tree(l, min(mode, 2u));
}

// normalize: (x − min) / (max − min); a constant input (or a non-finite range) gives 0.
@compute @workgroup_size(256)
fn normalize_apply(@builtin(local_invocation_id) li: vec3<u32>, @builtin(workgroup_id) wid: vec3<u32>,
                   @builtin(num_workgroups) nw: vec3<u32>) {
    fold_partials(li.x, 0u);
    let lo = ra[0];
    let range = rb[0] - lo;
    let ok = range > 0.0 && !non_finite(range);
    let r = 1.0 / range;
    let i = (wid.x + wid.y * nw.x) * WG + li.x;
    if i >= P.n { return; }
    if ok {
        put(P.out0 + i, (ins[P.in0 + i] - lo) * r);
    } else {
        outs[P.out0 + i] = 0.0;
    }
}

@compute @workgroup_size(256)
fn max_norm(@builtin(local_invocation_id) li: vec3<u32>) {
    fold_partials(li.x, 1u);
    if li.x == 0u { put(P.out0, ra[0]); }
}

// rms: sqrt(Σx² / n).
@compute @workgroup_size(256)
fn rms(@builtin(local_invocation_id) li: vec3<u32>) {
    fold_partials(li.x, 2u);
    if li.x == 0u { put(P.out0, sqrt(ra[0] / f32(max(P.n, 1u)))); }
}

// compare: le = 1 when every left ≤ right, else gt = 1.
@compute @workgroup_size(256)
fn compare(@builtin(local_invocation_id) li: vec3<u32>) {
    fold_partials(li.x, 3u);
    if li.x == 0u {
        let le = ra[0] == 0.0;
        put(P.out0, select(0.0, 1.0, le));
        put(P.out1, select(1.0, 0.0, le));
    }
}
