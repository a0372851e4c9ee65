//! The polynomial sin / tanh / exp of the CPU kernels against std over their whole f32 input
//! range: every 97th f32 bit pattern (44 million values of each sign), plus the edges. Prints the
//! largest error found; fails above the documented bound.

use dmm_synth::neurons::fastmath::{
    EXP_MAX_REL_ERROR, SIN_FAST_LIMIT, SIN_MAX_ABS_ERROR, TANH_MAX_ABS_ERROR, exp, sin, sin_affine,
    tanh,
};

/// Every `step`-th finite f32 of both signs, then the special values.
fn sweep(step: u32) -> impl Iterator<Item = f32> {
    let pos = (0..0x7f80_0000u32)
        .step_by(step as usize)
        .map(f32::from_bits);
    let edges = [
        0.0,
        -0.0,
        f32::MIN_POSITIVE,
        f32::MAX,
        f32::MIN,
        f32::INFINITY,
        f32::NEG_INFINITY,
        f32::NAN,
        SIN_FAST_LIMIT,
        -SIN_FAST_LIMIT,
        std::f32::consts::PI,
        std::f32::consts::FRAC_PI_2,
        0.625,
        -0.625,
        87.0,
        88.0,
        -87.0,
    ];
    pos.flat_map(|x| [x, -x]).chain(edges)
}

/// Same NaN-ness, and the largest error `err(ours, std)` over finite results.
fn worst(f: fn(f32) -> f32, g: fn(f32) -> f32, err: fn(f64, f64) -> f64) -> (f64, f32) {
    let mut w = (0.0, 0.0);
    for x in sweep(97) {
        let (a, b) = (f(x), g(x));
        assert_eq!(a.is_nan(), b.is_nan(), "x = {x:e}: {a} vs std {b}");
        if b.is_nan() {
            continue;
        }
        if b.is_infinite() || a.is_infinite() {
            assert_eq!(a, b, "x = {x:e}");
            continue;
        }
        let e = err(a as f64, b as f64);
        if e > w.0 {
            w = (e, x);
        }
    }
    w
}

fn abs_err(a: f64, b: f64) -> f64 {
    (a - b).abs()
}

#[test]
fn sin_is_within_its_bound_everywhere() {
    let (e, at) = worst(sin, f32::sin, abs_err);
    println!("sin: max abs error {e:.3e} at x = {at:e} (bound {SIN_MAX_ABS_ERROR:e})");
    assert!(e <= SIN_MAX_ABS_ERROR, "sin error {e:e} at {at:e}");
    // Beyond the polynomial's range it is std's sin, bit for bit.
    for x in [8192.001f32, -1e6, 3.0e38, 123_456.79] {
        assert_eq!(sin(x).to_bits(), x.sin().to_bits(), "{x}");
    }
}

#[test]
fn sin_affine_matches_sin_of_the_argument() {
    let n = 1000;
    let x: Vec<f32> = (0..n).map(|i| i as f32 * 37.1 - 9000.0).collect();
    let a: Vec<f32> = (0..n)
        .map(|i| if i == 7 { f32::NAN } else { 1.5 })
        .collect();
    let b: Vec<f32> = (0..n).map(|i| (i % 5) as f32).collect();
    let mut out = vec![0.0; n];
    sin_affine(&mut out, &x, &a, &b);
    for i in 0..n {
        let y = a[i] * x[i] + b[i];
        let s = sin(y);
        assert!(
            out[i].to_bits() == s.to_bits() || (out[i].is_nan() && s.is_nan()),
            "i = {i}: {} vs {s}",
            out[i]
        );
    }
}

#[test]
fn tanh_is_within_its_bound_everywhere() {
    let (e, at) = worst(tanh, f32::tanh, abs_err);
    println!("tanh: max abs error {e:.3e} at x = {at:e} (bound {TANH_MAX_ABS_ERROR:e})");
    assert!(e <= TANH_MAX_ABS_ERROR, "tanh error {e:e} at {at:e}");
    assert_eq!(tanh(f32::INFINITY), 1.0);
    assert_eq!(tanh(f32::NEG_INFINITY), -1.0);
    assert_eq!(tanh(0.0), 0.0);
}

#[test]
fn exp_is_within_its_bound_everywhere() {
    let rel = |a: f64, b: f64| {
        if b == 0.0 {
            a.abs()
        } else {
            ((a - b) / b).abs()
        }
    };
    let (e, at) = worst(exp, f32::exp, rel);
    println!("exp: max relative error {e:.3e} at x = {at:e} (bound {EXP_MAX_REL_ERROR:e})");
    assert!(e <= EXP_MAX_REL_ERROR, "exp error {e:e} at {at:e}");
}

/// The phasor's fast block gives the same bits as wrapping with floor at every sample, for
/// slow, fast, negative, huge and non-finite frequencies.
#[test]
fn phasor_block_equals_the_floor_reference() {
    use dmm_synth::neurons::elementwise::phasor_block;
    let dt = (1.0f64 / 48000.0) as f32;
    let wrap = |p: f32| {
        let f = p - p.floor();
        if f >= 1.0 { 0.0 } else { f }
    };
    let freqs: [fn(usize) -> f32; 7] = [
        |_| 440.0,
        |i| 30000.0 + i as f32 * 911.0,
        |i| -220.0 - i as f32,
        |i| if i % 2 == 0 { 1e9 } else { -3e7 },
        |i| (i as f32 * 0.37).sin() * 2e5,
        |i| if i == 50 { f32::NAN } else { 100.0 },
        |i| if i == 9 { f32::INFINITY } else { 1e-3 },
    ];
    for (k, f) in freqs.iter().enumerate() {
        let freq: Vec<f32> = (0..128).map(f).collect();
        let mut fast = vec![0.25f32; 128];
        let mut p = 0.25f32;
        let slow: Vec<f32> = freq
            .iter()
            .map(|&f| {
                p = wrap(p + f * dt);
                p
            })
            .collect();
        phasor_block(&mut fast, &freq, dt);
        for i in 0..128 {
            assert!(
                fast[i].to_bits() == slow[i].to_bits() || (fast[i].is_nan() && slow[i].is_nan()),
                "case {k} sample {i}: {} vs {}",
                fast[i],
                slow[i]
            );
        }
    }
}

/// The batched phasors of the CPU backend (`phasor_blocks`: eight and four lanes interleaved)
/// give each lane the same bits as `phasor_block` run on it alone, from different starting
/// phases, with wrapping, negative, huge and non-finite frequencies in some lanes; blocks of
/// unequal lengths go one at a time, with the same result.
#[test]
fn batched_phasors_equal_one_at_a_time() {
    use dmm_synth::neurons::elementwise::{phasor_block, phasor_blocks};
    let dt = (1.0f64 / 48000.0) as f32;
    let freq = |lane: usize, i: usize| -> f32 {
        match lane {
            0 => 440.0,
            1 => 30000.0 + i as f32 * 911.0,
            2 => -220.0 - i as f32,
            3 => {
                if i.is_multiple_of(2) {
                    1e9
                } else {
                    -3e7
                }
            }
            4 => (i as f32 * 0.37).sin() * 2e5,
            5 => {
                if i == 50 {
                    f32::NAN
                } else {
                    100.0
                }
            }
            6 => {
                if i == 9 {
                    f32::INFINITY
                } else {
                    1e-3
                }
            }
            _ => 110.0 + 7.0 * lane as f32,
        }
    };
    fn check<const K: usize>(freq: impl Fn(usize, usize) -> f32, dt: f32, lens: [usize; K]) {
        let freqs: Vec<Vec<f32>> = (0..K)
            .map(|k| (0..lens[k]).map(|i| freq(k, i)).collect())
            .collect();
        let start = |k: usize| vec![0.1 * k as f32 + 0.05; lens[k]];
        let mut batched: Vec<Vec<f32>> = (0..K).map(start).collect();
        let mut alone: Vec<Vec<f32>> = (0..K).map(start).collect();
        for tick in 0..3 {
            let mut it = batched.iter_mut();
            let outs: [&mut [f32]; K] = std::array::from_fn(|_| it.next().unwrap().as_mut_slice());
            phasor_blocks(outs, std::array::from_fn(|k| freqs[k].as_slice()), dt);
            for k in 0..K {
                phasor_block(&mut alone[k], &freqs[k], dt);
                for i in 0..lens[k] {
                    let (a, b) = (batched[k][i], alone[k][i]);
                    assert!(
                        a.to_bits() == b.to_bits() || (a.is_nan() && b.is_nan()),
                        "{K} lanes, tick {tick}, lane {k}, sample {i}: {a} vs {b}"
                    );
                }
            }
        }
    }
    check::<8>(freq, dt, [128; 8]);
    check::<4>(|k, i| freq(k + 4, i), dt, [128; 4]);
    check::<8>(freq, dt, [1; 8]);
    check::<4>(freq, dt, [128, 128, 64, 128]);
}
