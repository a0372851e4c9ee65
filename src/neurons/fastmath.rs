//! Branch-free polynomial `sin`, `tanh` and `exp` for the CPU kernels: the loops that call them
//! vectorise (std's versions are scalar library calls). Error bounds, checked against `std` over
//! each function's whole f32 input range by tests/fastmath.rs:
//!
//! - `sin`: |error| ≤ `SIN_MAX_ABS_ERROR` (2e-7; 1.2e-7 measured) for |x| ≤ `SIN_FAST_LIMIT`
//!   (8192); beyond it (and for NaN/±inf) it is std's `sin` exactly.
//! - `tanh`: |error| ≤ `TANH_MAX_ABS_ERROR` (3e-7; 1.8e-7 measured) everywhere; NaN stays NaN,
//!   ±inf gives ±1.
//! - `exp`: relative error ≤ `EXP_MAX_REL_ERROR` (2e-7; 1.2e-7 measured) on [-87, 88]; outside
//!   it, std's `exp`.
//!
//! These are below the CPU/GPU tolerance of the table (1e-5), so the GPU kernels (WGSL's own
//! `sin`/`tanh`) agree with them as they agreed with std.

/// `wide!(body(arg: Type, ...))` calls `body` (an `#[inline(always)]` function of plain float
/// loops) compiled for AVX2 when the CPU has it, else for the baseline. Only the vector width
/// changes: Rust never fuses a multiply and an add by itself (no FMA contraction), so both give
/// the same bits.
macro_rules! wide {
    ($body:ident($($arg:ident: $ty:ty),* $(,)?) $(-> $ret:ty)?) => {{
        #[cfg(target_arch = "x86_64")]
        {
            #[target_feature(enable = "avx2")]
            fn avx2($($arg: $ty),*) $(-> $ret)? {
                $body($($arg),*)
            }
            if std::arch::is_x86_feature_detected!("avx2") {
                // SAFETY: the CPU has AVX2 (checked just above).
                return unsafe { avx2($($arg),*) };
            }
        }
        $body($($arg),*)
    }};
}
pub(crate) use wide;

/// Largest |x| the polynomial `sin` handles; beyond it the range reduction loses bits.
pub const SIN_FAST_LIMIT: f32 = 8192.0;
pub const SIN_MAX_ABS_ERROR: f64 = 2e-7;
pub const TANH_MAX_ABS_ERROR: f64 = 3e-7;
pub const EXP_MAX_REL_ERROR: f64 = 2e-7;

/// Round to nearest by adding and removing 1.5·2^23 (valid for |x| < 2^22).
const MAGIC: f32 = 12_582_912.0;

/// sin(x) for |x| ≤ `SIN_FAST_LIMIT` (finite garbage beyond; `sin` handles that): x = k·π + r
/// with |r| ≤ π/2 (π in three parts, Cody–Waite, so k·π is exact for k < 2^12), sin(r) by its
/// Taylor series to r^13 (truncation < 7e-10 at π/2), negated for odd k.
#[inline(always)]
pub fn sin_in_range(x: f32) -> f32 {
    const INV_PI: f32 = std::f32::consts::FRAC_1_PI;
    // Written out in full: the three parts of π of Cephes' sinf (×4), split for exact k·π.
    #[allow(clippy::excessive_precision)]
    const PI_A: f32 = 3.140_625;
    #[allow(clippy::excessive_precision)]
    const PI_B: f32 = 9.675_025_939_941_406e-4;
    #[allow(clippy::excessive_precision)]
    const PI_C: f32 = 1.509_957_990_978_376_4e-7;
    let x = x.clamp(-SIN_FAST_LIMIT, SIN_FAST_LIMIT);
    // k = round(x/π); the low bit of the rounded sum's mantissa is k's parity (no float-to-int
    // conversion, which would keep the loop from vectorising).
    let kf = x * INV_PI + MAGIC;
    let k = kf - MAGIC;
    let r = ((x - k * PI_A) - k * PI_B) - k * PI_C;
    let z = r * r;
    let mut p = 1.0 / 6_227_020_800.0f32;
    p = p * z - 1.0 / 39_916_800.0;
    p = p * z + 1.0 / 362_880.0;
    p = p * z - 1.0 / 5_040.0;
    p = p * z + 1.0 / 120.0;
    p = p * z - 1.0 / 6.0;
    let s = r + r * z * p;
    f32::from_bits(s.to_bits() ^ (kf.to_bits() << 31))
}

/// sin(x) to within `SIN_MAX_ABS_ERROR`; std's `sin` outside ±`SIN_FAST_LIMIT`.
#[inline]
pub fn sin(x: f32) -> f32 {
    if x.abs() <= SIN_FAST_LIMIT {
        sin_in_range(x)
    } else {
        x.sin()
    }
}

/// `out[i] = sin(a[i]·x[i] + b[i])`: one vectorised pass, then std's `sin` for the rare
/// arguments beyond ±`SIN_FAST_LIMIT` (or NaN/±inf). On a CPU with AVX2 the same loop runs
/// eight lanes wide (`wide!`: the same operations, the same bits).
pub fn sin_affine(out: &mut [f32], x: &[f32], a: &[f32], b: &[f32]) {
    wide!(sin_affine_body(out: &mut [f32], x: &[f32], a: &[f32], b: &[f32]))
}

#[inline(always)]
fn sin_affine_body(out: &mut [f32], x: &[f32], a: &[f32], b: &[f32]) {
    // An or, not a count: no overflow check to keep the loop from vectorising.
    let mut far = false;
    for (o, ((&x, &a), &b)) in out.iter_mut().zip(x.iter().zip(a).zip(b)) {
        let y = a * x + b;
        let near = y.abs() <= SIN_FAST_LIMIT;
        far |= !near;
        *o = sin_in_range(y);
    }
    if far {
        for (o, ((&x, &a), &b)) in out.iter_mut().zip(x.iter().zip(a).zip(b)) {
            let y = a * x + b;
            let near = y.abs() <= SIN_FAST_LIMIT;
            if !near {
                *o = y.sin();
            }
        }
    }
}

/// e^x for x ≤ 0 within 2 ulp on [-87, 0], 0 below: x = n·ln2 + r with |r| ≤ ln2/2, e^r by
/// Cephes' minimax polynomial, 2^n by building the exponent bits.
#[inline(always)]
pub fn exp_neg(x: f32) -> f32 {
    let e = exp_core(x.clamp(-87.0, 0.0));
    if x >= -87.0 { e } else { 0.0 }
}

/// e^x for x in [-87, 88] (n = round(x·log2 e) in [-126, 127]: 2^n is a normal f32).
#[inline(always)]
fn exp_core(xc: f32) -> f32 {
    const LOG2E: f32 = std::f32::consts::LOG2_E;
    const LN2_HI: f32 = 0.693_359_4;
    const LN2_LO: f32 = -2.121_944_4e-4;
    let n = (xc * LOG2E + MAGIC) - MAGIC;
    let r = xc - n * LN2_HI - n * LN2_LO;
    let mut p = 1.987_569_1e-4f32;
    p = p * r + 1.398_199_9e-3;
    p = p * r + 8.333_452e-3;
    p = p * r + 4.166_579_6e-2;
    p = p * r + 0.166_666_65;
    p = p * r + 0.5;
    let e = p * r * r + r + 1.0;
    e * f32::from_bits(((n as i32 + 127) as u32) << 23)
}

/// e^x to within `EXP_MAX_REL_ERROR` on [-87, 88]; std's `exp` outside (over/underflow).
#[inline]
pub fn exp(x: f32) -> f32 {
    if (-87.0..=88.0).contains(&x) {
        exp_core(x)
    } else {
        x.exp()
    }
}

/// tanh(x): Cephes' odd polynomial below |x| = 0.625, (1 − e^{−2|x|}) / (1 + e^{−2|x|}) with
/// x's sign above. Branch-free (both are computed, one is kept), so it vectorises.
#[inline(always)]
#[allow(clippy::excessive_precision)]
pub fn tanh(x: f32) -> f32 {
    let a = x.abs();
    let z = x * x;
    let mut p = -5.704_988_7e-3f32;
    p = p * z + 2.063_908_9e-2;
    p = p * z - 5.373_971_6e-2;
    p = p * z + 0.133_314_42;
    p = p * z - 0.333_332_82;
    let small = x + x * z * p;
    let e = exp_neg(-2.0 * a);
    let big = ((1.0 - e) / (1.0 + e)).copysign(x);
    if a < 0.625 {
        small
    } else if a >= 0.625 {
        big
    } else {
        x // NaN
    }
}
