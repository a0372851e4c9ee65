// Row and column softmax of x / temperature (f0 = 1/temperature), numerically stable: the max is
// subtracted before exp. Tolerance: 1e-4 relative (a reduction).

var<workgroup> red: array<f32, 256>;

fn reduce_max(l: u32, v: f32) -> f32 {
    red[l] = v;
    workgroupBarrier();
    for (var s = WG / 2u; s > 0u; s >>= 1u) {
        if l < s { red[l] = max(red[l], red[l + s]); }
        workgroupBarrier();
    }
    let r = red[0];
    workgroupBarrier();
    return r;
}

fn reduce_sum(l: u32, v: f32) -> f32 {
    red[l] = v;
    workgroupBarrier();
    for (var s = WG / 2u; s > 0u; s >>= 1u) {
        if l < s { red[l] = red[l] + red[l + s]; }
        workgroupBarrier();
    }
    let r = red[0];
    workgroupBarrier();
    return r;
}

// One workgroup per row (workgroup id x + y·65535).
@compute @workgroup_size(256)
fn softmax_rows(@builtin(local_invocation_id) li: vec3<u32>, @builtin(workgroup_id) wid: vec3<u32>) {
    let row = wid.x + wid.y * 65535u;
    if row >= P.rows { return; }
    let l = li.x;
    let base_in = P.in0 + row * P.cols;
    let base_out = P.out0 + row * P.cols;
    var m = -3.4028235e38;
    for (var c = l; c < P.cols; c += WG) { m = max(m, ins[base_in + c] * P.f0); }
    m = reduce_max(l, m);
    var s = 0.0;
    for (var c = l; c < P.cols; c += WG) {
        let e = exp(ins[base_in + c] * P.f0 - m);
        outs[base_out + c] = e;
        s += e;
    }
    s = reduce_sum(l, s);
    let inv = 1.0 / s;
    for (var c = l; c < P.cols; c += WG) { put(base_out + c, outs[base_out + c] * inv); }
}

// Columns: a workgroup is 64 columns × 4 row lanes; lanes stride down the rows (reads along x are
// contiguous), then the 4 lanes of each column combine through workgroup memory.
var<workgroup> colred: array<f32, 256>;

@compute @workgroup_size(64, 4)
fn softmax_cols(@builtin(local_invocation_id) li: vec3<u32>, @builtin(workgroup_id) wid: vec3<u32>) {
    let c = wid.x * 64u + li.x;
    let lane = li.y;
    let slot = lane * 64u + li.x;
    let live = c < P.cols;
    var m = -3.4028235e38;
    if live {
        for (var r = lane; r < P.rows; r += 4u) { m = max(m, ins[P.in0 + r * P.cols + c] * P.f0); }
    }
    colred[slot] = m;
    workgroupBarrier();
    m = max(max(colred[li.x], colred[64u + li.x]), max(colred[128u + li.x], colred[192u + li.x]));
    workgroupBarrier();
    var s = 0.0;
    if live {
        for (var r = lane; r < P.rows; r += 4u) {
            let e = exp(ins[P.in0 + r * P.cols + c] * P.f0 - m);
            outs[P.out0 + r * P.cols + c] = e;
            s += e;
        }
    }
    colred[slot] = s;
    workgroupBarrier();
    s = (colred[li.x] + colred[64u + li.x]) + (colred[128u + li.x] + colred[192u + li.x]);
    let inv = 1.0 / s;
    if live {
        for (var r = lane; r < P.rows; r += 4u) {
            let i = P.out0 + r * P.cols + c;
            put(i, outs[i] * inv);
        }
    }
}
