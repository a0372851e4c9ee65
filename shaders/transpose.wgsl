// out (cols × rows) = xᵀ (x: rows × cols), through a padded 16×16 tile in workgroup memory so
// both the reads and the writes are contiguous. Tolerance: exact.

var<workgroup> tile: array<array<f32, 17>, 16>;

@compute @workgroup_size(16, 16)
fn transpose(@builtin(local_invocation_id) l: vec3<u32>, @builtin(workgroup_id) w: vec3<u32>) {
    let r = w.y * 16u + l.y;
    let c = w.x * 16u + l.x;
    if r < P.rows && c < P.cols {
        tile[l.y][l.x] = ins[P.in0 + r * P.cols + c];
    }
    workgroupBarrier();
    let orow = w.x * 16u + l.y; // a column of x
    let ocol = w.y * 16u + l.x; // a row of x
    if orow < P.cols && ocol < P.rows {
        put(P.out0 + orow * P.rows + ocol, tile[l.x][l.y]);
    }
}
