// c (rows × cols) = a (rows × k) · b (k × cols), row-major. Two variants, chosen per adapter by
// src/backend/gpu: `matmul_tiled` for hardware GPUs (64×64 output tiles staged through workgroup
// memory, 4×4 register tile per invocation), `matmul_regs` for CPU adapters such as lavapipe,
// where workgroup barriers are expensive and neighbouring invocations are SIMD lanes (8×4 register
// tile, lanes read neighbouring columns of b, no workgroup memory).
// Tolerance: 1e-4 relative to the largest |c| of the row (summation order differs from the CPU).

const BM: u32 = 64u;
const BN: u32 = 64u;
const BK: u32 = 16u;

var<workgroup> As: array<f32, 1024>; // [kk][m]
var<workgroup> Bs: array<f32, 1024>; // [kk][n]

@compute @workgroup_size(16, 16)
fn matmul_tiled(@builtin(local_invocation_id) l: vec3<u32>, @builtin(workgroup_id) wid: vec3<u32>) {
    let M = P.rows;
    let N = P.cols;
    let K = P.k;
    let row0 = wid.y * BM;
    let col0 = wid.x * BN;
    let tid = l.y * 16u + l.x;
    var acc: array<f32, 16>;
    for (var i = 0u; i < 16u; i++) { acc[i] = 0.0; }
    for (var k0 = 0u; k0 < K; k0 += BK) {
        for (var j = 0u; j < 4u; j++) {
            let e = tid + j * 256u;
            let m = e / BK;
            let kk = e % BK;
            var v = 0.0;
            if row0 + m < M && k0 + kk < K { v = ins[P.in0 + (row0 + m) * K + k0 + kk]; }
            As[kk * BM + m] = v;
            let kb = e / BN;
            let n = e % BN;
            var u = 0.0;
            if k0 + kb < K && col0 + n < N { u = ins[P.in1 + (k0 + kb) * N + col0 + n]; }
            Bs[kb * BN + n] = u;
        }
        workgroupBarrier();
        for (var kk = 0u; kk < BK; kk++) {
            var a: array<f32, 4>;
            var b: array<f32, 4>;
            for (var i = 0u; i < 4u; i++) {
                a[i] = As[kk * BM + l.y * 4u + i];
                b[i] = Bs[kk * BN + l.x * 4u + i];
            }
            for (var i = 0u; i < 4u; i++) {
                for (var j = 0u; j < 4u; j++) {
                    acc[i * 4u + j] += a[i] * b[j];
                }
            }
        }
        workgroupBarrier();
    }
    for (var i = 0u; i < 4u; i++) {
        let r = row0 + l.y * 4u + i;
        for (var j = 0u; j < 4u; j++) {
            let c = col0 + l.x * 4u + j;
            if r < M && c < N { put(P.out0 + r * N + c, acc[i * 4u + j]); }
        }
    }
}

// 32 lanes × (8 rows × 4 columns strided by 32): a workgroup covers 8 rows × 128 columns.
// Accumulators are plain variables and every index is clamped instead of branched on, so the
// whole inner loop stays in registers on a CPU adapter.
const LANES: u32 = 32u;

@compute @workgroup_size(32, 1)
fn matmul_regs(@builtin(local_invocation_id) l: vec3<u32>, @builtin(workgroup_id) wid: vec3<u32>) {
    let M = P.rows;
    let N = P.cols;
    let K = P.k;
    let row0 = wid.y * 8u;
    let c0 = wid.x * (4u * LANES) + l.x;
    let cols = vec4<u32>(c0, c0 + LANES, c0 + 2u * LANES, c0 + 3u * LANES);
    let cc = min(cols, vec4<u32>(N - 1u));
    let last = M - 1u;
    let a0 = P.in0 + min(row0, last) * K;
    let a1 = P.in0 + min(row0 + 1u, last) * K;
    let a2 = P.in0 + min(row0 + 2u, last) * K;
    let a3 = P.in0 + min(row0 + 3u, last) * K;
    let a4 = P.in0 + min(row0 + 4u, last) * K;
    let a5 = P.in0 + min(row0 + 5u, last) * K;
    let a6 = P.in0 + min(row0 + 6u, last) * K;
    let a7 = P.in0 + min(row0 + 7u, last) * K;
    var s0 = vec4<f32>(0.0);
    var s1 = vec4<f32>(0.0);
    var s2 = vec4<f32>(0.0);
    var s3 = vec4<f32>(0.0);
    var s4 = vec4<f32>(0.0);
    var s5 = vec4<f32>(0.0);
    var s6 = vec4<f32>(0.0);
    var s7 = vec4<f32>(0.0);
    var bo = P.in1;
    for (var k = 0u; k < K; k++) {
        let b = vec4<f32>(ins[bo + cc.x], ins[bo + cc.y], ins[bo + cc.z], ins[bo + cc.w]);
        s0 += ins[a0 + k] * b;
        s1 += ins[a1 + k] * b;
        s2 += ins[a2 + k] * b;
        s3 += ins[a3 + k] * b;
        s4 += ins[a4 + k] * b;
        s5 += ins[a5 + k] * b;
        s6 += ins[a6 + k] * b;
        s7 += ins[a7 + k] * b;
        bo += N;
    }
    store_row(row0, M, N, cols, s0);
    store_row(row0 + 1u, M, N, cols, s1);
    store_row(row0 + 2u, M, N, cols, s2);
    store_row(row0 + 3u, M, N, cols, s3);
    store_row(row0 + 4u, M, N, cols, s4);
    store_row(row0 + 5u, M, N, cols, s5);
    store_row(row0 + 6u, M, N, cols, s6);
    store_row(row0 + 7u, M, N, cols, s7);
}

fn store_row(r: u32, M: u32, N: u32, cols: vec4<u32>, v: vec4<f32>) {
    if r >= M { return; }
    let o = P.out0 + r * N;
    if cols.x < N { put(o + cols.x, v.x); }
    if cols.y < N { put(o + cols.y, v.y); }
    if cols.z < N { put(o + cols.z, v.z); }
    if cols.w < N { put(o + cols.w, v.w); }
}
