//! The CPU reference kernels against naive formulas, on noise inputs and non-square shapes.

mod common;
use common::*;

fn close(a: &[f32], b: &[f64], tol: f64, what: &str) {
    assert_eq!(a.len(), b.len(), "{what}: lengths");
    for (i, (&x, &y)) in a.iter().zip(b).enumerate() {
        assert!(
            (x as f64 - y).abs() <= tol * y.abs().max(1.0),
            "{what}[{i}]: {x} vs {y}"
        );
    }
}

const NET: &str = r#"{
  "settings": { "tick_rate": 100, "sample_rate": 1600, "image_size": [5, 7] },
  "neurons": {
    "n":   { "type": "noise", "kind": "image" },
    "n2":  { "type": "noise", "kind": "image", "seed": 3 },
    "na":  { "type": "noise", "kind": "audio" },
    "a":   { "type": "noise", "kind": "image", "rows": 3, "cols": 4 },
    "b":   { "type": "noise", "kind": "image", "rows": 4, "cols": 5, "seed": 9 },
    "k":   { "type": "one" },
    "ones": { "type": "one", "kind": "image" },
    "sr":  { "type": "softmax_rows", "temperature": 0.5 },
    "sc":  { "type": "softmax_cols" },
    "nm":  { "type": "normalize", "kind": "image" },
    "flat": { "type": "normalize", "kind": "image" },
    "tr":  { "type": "transpose" },
    "mm":  { "type": "matmul", "rows": 3, "inner": 4, "cols": 5 },
    "s":   { "type": "sin", "kind": "image" },
    "th":  { "type": "tanh", "kind": "image" },
    "re":  { "type": "relu", "kind": "image" },
    "mu":  { "type": "mul", "kind": "image" },
    "g":   { "type": "gate", "kind": "image" },
    "mx":  { "type": "max_norm", "kind": "image" },
    "cmp": { "type": "compare", "kind": "image" },
    "cmp2": { "type": "compare", "kind": "image" },
    "r":   { "type": "rms" },
    "h":   { "type": "hold" },
    "xy":  { "type": "coords", "rows": 2, "cols": 3 },
    "ph":  { "type": "phasor", "kind": "audio" }
  },
  "weights": {
    "sr.x": { "n.out": 3 }, "sc.x": { "n.out": -2 }, "nm.x": { "n.out": 1, "n2.out": 0.5 },
    "flat.x": { "ones.out": 2 }, "tr.x": { "n.out": 1 },
    "mm.a": { "a.out": 1 }, "mm.b": { "b.out": 1 },
    "s.x": { "n.out": 1 }, "s.a": { "n2.out": 4 }, "s.b": { "ones.out": 0.3 },
    "th.x": { "n.out": 3 }, "re.x": { "n.out": 1 }, "mu.a": { "n.out": 1 }, "mu.b": { "n2.out": 1 },
    "g.g": { "k.out": -0.5 }, "g.x": { "n.out": 1 },
    "mx.in": { "n.out": 1 }, "cmp.left": { "n.out": 1 }, "cmp.right": { "ones.out": 1 },
    "cmp2.left": { "n.out": 1 }, "cmp2.right": { "n2.out": 1 },
    "r.x": { "na.out": 1 }, "h.x": { "k.out": 2 },
    "ph.freq": { "na.out": 100 }
  }
}"#;

#[test]
fn kernels_match_naive_formulas() {
    let p = patch_str(NET);
    let mut m = machine(&p);
    for _ in 0..3 {
        m.tick(false).unwrap();
    }
    let rd = |m: &mut dmm_synth::engine::Machine, s: &str| -> Vec<f64> {
        m.read(s).unwrap().iter().map(|&v| v as f64).collect()
    };
    let (rows, cols) = (5, 7);
    // softmax rows (temperature 0.5) and columns.
    let x = rd(&mut m, "sr.x");
    assert!(x.iter().any(|v| v.abs() > 1.0), "noise inputs are varied");
    let mut want = vec![0.0; rows * cols];
    for r in 0..rows {
        let s: f64 = (0..cols).map(|c| (x[r * cols + c] / 0.5).exp()).sum();
        for c in 0..cols {
            want[r * cols + c] = (x[r * cols + c] / 0.5).exp() / s;
        }
    }
    close(&m.read("sr.out").unwrap(), &want, 1e-5, "softmax_rows");
    let x = rd(&mut m, "sc.x");
    for c in 0..cols {
        let s: f64 = (0..rows).map(|r| x[r * cols + c].exp()).sum();
        for r in 0..rows {
            want[r * cols + c] = x[r * cols + c].exp() / s;
        }
    }
    close(&m.read("sc.out").unwrap(), &want, 1e-5, "softmax_cols");
    // normalize; a constant input gives 0, not NaN.
    let x = rd(&mut m, "nm.x");
    let (lo, hi) = x
        .iter()
        .fold((f64::MAX, f64::MIN), |(a, b), &v| (a.min(v), b.max(v)));
    let want: Vec<f64> = x.iter().map(|v| (v - lo) / (hi - lo)).collect();
    close(&m.read("nm.out").unwrap(), &want, 1e-5, "normalize");
    assert!(m.read("flat.out").unwrap().iter().all(|&v| v == 0.0));
    // transpose: out is 7x5.
    let x = rd(&mut m, "tr.x");
    let t = m.read("tr.out").unwrap();
    for r in 0..rows {
        for c in 0..cols {
            assert_eq!(t[c * rows + r] as f64, x[r * cols + c]);
        }
    }
    // matmul 3x4 · 4x5.
    let (a, b) = (rd(&mut m, "mm.a"), rd(&mut m, "mm.b"));
    let mut want = vec![0.0; 15];
    for i in 0..3 {
        for j in 0..5 {
            want[i * 5 + j] = (0..4).map(|k| a[i * 4 + k] * b[k * 5 + j]).sum();
        }
    }
    close(&m.read("mm.out").unwrap(), &want, 1e-5, "matmul");
    // elementwise.
    let (sx, sa, sb) = (rd(&mut m, "s.x"), rd(&mut m, "s.a"), rd(&mut m, "s.b"));
    let want: Vec<f64> = (0..35).map(|i| (sa[i] * sx[i] + sb[i]).sin()).collect();
    close(&m.read("s.out").unwrap(), &want, 1e-5, "sin");
    let x = rd(&mut m, "th.x");
    close(
        &m.read("th.out").unwrap(),
        &x.iter().map(|v| v.tanh()).collect::<Vec<_>>(),
        1e-5,
        "tanh",
    );
    let x = rd(&mut m, "re.x");
    close(
        &m.read("re.out").unwrap(),
        &x.iter().map(|v| v.max(0.0)).collect::<Vec<_>>(),
        0.0,
        "relu",
    );
    let (ma, mb) = (rd(&mut m, "mu.a"), rd(&mut m, "mu.b"));
    close(
        &m.read("mu.out").unwrap(),
        &ma.iter().zip(&mb).map(|(a, b)| a * b).collect::<Vec<_>>(),
        1e-6,
        "mul",
    );
    let x = rd(&mut m, "g.x");
    close(
        &m.read("g.out").unwrap(),
        &x.iter().map(|v| -0.5 * v).collect::<Vec<_>>(),
        1e-6,
        "gate",
    );
    // reductions and comparisons.
    let x = rd(&mut m, "mx.in");
    let want = x.iter().fold(0.0f64, |a, v| a.max(v.abs()));
    assert_eq!(m.scalar("mx.out").unwrap() as f64, want);
    assert_eq!(
        (
            m.scalar("cmp.true").unwrap(),
            m.scalar("cmp.false").unwrap()
        ),
        (1.0, 0.0),
        "noise < 1"
    );
    assert_eq!(
        (
            m.scalar("cmp2.true").unwrap(),
            m.scalar("cmp2.false").unwrap()
        ),
        (0.0, 1.0)
    );
    let x = rd(&mut m, "r.x");
    let want = (x.iter().map(|v| v * v).sum::<f64>() / x.len() as f64).sqrt();
    assert!((m.scalar("r.out").unwrap() as f64 - want).abs() < 1e-6);
    // hold ramps from the previous value to the new one across the block (16 samples).
    let h = m.read("h.out").unwrap();
    assert_eq!(h.len(), 16);
    assert!(h.iter().all(|&v| v == 2.0), "settled: {h:?}");
    // coords.
    assert_eq!(m.read("xy.x").unwrap(), vec![0.0, 0.5, 1.0, 0.0, 0.5, 1.0]);
    assert_eq!(m.read("xy.y").unwrap(), vec![0.0, 0.0, 0.0, 1.0, 1.0, 1.0]);
    // phasor: per-sample integration of the (random) frequency, wrapped to [0, 1).
    let prev = m.read("ph.out").unwrap();
    let start = *prev.last().unwrap() as f64;
    m.tick(false).unwrap();
    let f = rd(&mut m, "ph.freq");
    let out = m.read("ph.out").unwrap();
    let mut p = start;
    for (i, fr) in f.iter().enumerate() {
        p = (p + fr / 1600.0).rem_euclid(1.0);
        let d = (out[i] as f64 - p).abs();
        assert!(
            d < 1e-5 || (1.0 - d) < 1e-5,
            "phasor[{i}]: {} vs {p}",
            out[i]
        );
        assert!((0.0..1.0).contains(&out[i]));
    }
}

#[test]
fn hold_ramps_without_zipper() {
    let mut m = machine(&patch_str(
        r#"{ "settings": { "tick_rate": 100, "sample_rate": 800 },
             "neurons": { "k": { "type": "one" }, "h": { "type": "hold" } },
             "weights": { "h.x": { "k.out": 1 } } }"#,
    ));
    m.tick(false).unwrap();
    let h = m.read("h.out").unwrap();
    let want: Vec<f32> = (1..=8).map(|i| i as f32 / 8.0).collect();
    assert_eq!(h, want, "0 → 1 in 8 equal steps");
}

#[test]
fn nan_and_inf_are_replaced_and_counted_by_neuron() {
    // 1e30 · 1e30 overflows to inf in `mul`; the guard replaces it and names the neuron.
    let mut m = machine(&patch_str(
        r#"{ "neurons": { "k": { "type": "one" }, "big": { "type": "mul" }, "after": { "type": "identity" } },
             "weights": { "big.a": { "k.out": 1e30 }, "big.b": { "k.out": 1e30 }, "after.in": { "big.out": 1 } } }"#,
    ));
    for _ in 0..3 {
        m.tick(false).unwrap();
    }
    assert_eq!(m.scalar("big.out").unwrap(), 0.0);
    assert_eq!(m.scalar("after.out").unwrap(), 0.0);
    assert_eq!(m.nonfinite_counts().get("big"), Some(&3));
    let msgs: Vec<String> = m.take_messages().into_iter().map(|m| m.text).collect();
    assert!(
        msgs.iter().any(|t| t.contains("big produced NaN/Inf")),
        "{msgs:?}"
    );
}

/// The vectorisable exp used by softmax against the standard library, over its whole range.
#[test]
fn softmax_exp_matches_std_exp() {
    use dmm_synth::backend::cpu::kernels::exp_neg;
    let mut worst = 0.0f64;
    let mut x = 0.0f32;
    while x > -87.0 {
        let (a, b) = (exp_neg(x) as f64, x.exp() as f64);
        worst = worst.max((a - b).abs() / b);
        x -= 0.000_731;
    }
    assert!(worst < 3e-7, "relative error {worst}");
    assert_eq!(exp_neg(0.0), 1.0);
    assert_eq!(exp_neg(-100.0), 0.0);
    assert_eq!(exp_neg(f32::NEG_INFINITY), 0.0);
}
