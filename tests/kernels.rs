//! The CPU reference kernels against naive formulas, on the all-types patch generated from the
//! neuron table (noise inputs, non-square shapes); the WGSL entry list against the table; the
//! README's neuron table against `dmm-synth types`.

mod common;
#[path = "common/every_type.rs"]
mod every_type;
use common::*;
use dmm_synth::backend::TickOutputs;
use dmm_synth::engine::Machine;
use dmm_synth::neurons::{NeuronDef, Port, TYPES};
use dmm_synth::stream::Kind;
use every_type::{Shape, engine_only, every_type_patch};

/// One instance of the generated all-types patch after its last tick: its inputs, its outputs
/// before and after that tick's up stroke, and what the tick read back.
struct Case<'a> {
    def: &'a NeuronDef,
    index: usize,
    ins: Vec<Vec<f64>>,
    prev: Vec<Vec<f64>>,
    outs: Vec<Vec<f64>>,
    tick_rate: f64,
    sample_rate: f64,
    read_back: &'a TickOutputs,
}

impl Case<'_> {
    fn out(&self, want: &[f64], tol: f64) {
        close(&self.outs[0], want, tol, &self.def.name);
    }
    /// Elementwise: `f` of every input's element i (a scalar input, like gate's `g`, is the same
    /// for every i).
    fn map(&self, tol: f64, f: impl Fn(&[f64]) -> f64) {
        let n = self.outs[0].len();
        let at = |v: &Vec<f64>, i: usize| if v.len() == 1 { v[0] } else { v[i] };
        let want: Vec<f64> = (0..n)
            .map(|i| f(&self.ins.iter().map(|v| at(v, i)).collect::<Vec<_>>()))
            .collect();
        self.out(&want, tol);
    }
}

fn close(a: &[f64], b: &[f64], tol: f64, what: &str) {
    assert_eq!(a.len(), b.len(), "{what}: lengths");
    for (i, (&x, &y)) in a.iter().zip(b).enumerate() {
        assert!(
            (x - y).abs() <= tol * y.abs().max(1.0),
            "{what}[{i}]: {x} vs {y}"
        );
    }
}

fn wrap(p: f64) -> f64 {
    p.rem_euclid(1.0)
}

fn phase_close(a: &[f64], b: &[f64], what: &str) {
    for (i, (&x, &y)) in a.iter().zip(b).enumerate() {
        let d = (x - y).abs();
        assert!(d < 1e-5 || 1.0 - d < 1e-5, "{what}[{i}]: {x} vs {y}");
        assert!((0.0..1.0).contains(&x), "{what}[{i}] = {x} not in [0, 1)");
    }
}

fn softmax(x: &[f64], rows: usize, cols: usize, t: f64, by_rows: bool) -> Vec<f64> {
    let at = |r: usize, c: usize| x[r * cols + c] / t;
    let mut out = vec![0.0; rows * cols];
    let (outer, inner) = if by_rows { (rows, cols) } else { (cols, rows) };
    for o in 0..outer {
        let idx = |i: usize| if by_rows { (o, i) } else { (i, o) };
        let m = (0..inner)
            .map(|i| {
                let (r, c) = idx(i);
                at(r, c)
            })
            .fold(f64::MIN, f64::max);
        let s: f64 = (0..inner)
            .map(|i| {
                let (r, c) = idx(i);
                (at(r, c) - m).exp()
            })
            .sum();
        for i in 0..inner {
            let (r, c) = idx(i);
            out[r * cols + c] = (at(r, c) - m).exp() / s;
        }
    }
    out
}

/// The naive formula of every type, by name; a type without one fails
/// `every_type_matches_its_naive_formula`.
type Check = fn(&Case);

const CHECKS: &[(&str, Check)] = &[
    ("accum", |c| c.map(1e-6, |x| x[0] + x[1])),
    ("identity", |c| c.map(0.0, |x| x[0])),
    ("one", |c| c.map(0.0, |_| 1.0)),
    ("time", |c| {
        assert_eq!(c.outs[0][0], c.prev[0][0] + 1.0, "ticks count up");
        close(
            &c.outs[1],
            &[c.outs[0][0] / c.tick_rate],
            1e-6,
            "time.seconds",
        );
    }),
    ("gate", |c| c.map(1e-6, |x| x[0] * x[1])),
    ("max_norm", |c| {
        let want = c.ins[0].iter().fold(0.0f64, |m, v| m.max(v.abs()));
        c.out(&[want], 0.0);
    }),
    ("compare", |c| {
        let le = c.ins[0].iter().zip(&c.ins[1]).all(|(l, r)| l <= r);
        let (t, f) = if le { (1.0, 0.0) } else { (0.0, 1.0) };
        assert_eq!((c.outs[0][0], c.outs[1][0]), (t, f), "{}", c.def.name);
    }),
    ("sin", |c| c.map(1e-5, |x| (x[1] * x[0] + x[2]).sin())),
    ("tanh", |c| c.map(1e-5, |x| x[0].tanh())),
    ("relu", |c| c.map(0.0, |x| x[0].max(0.0))),
    ("mul", |c| c.map(1e-6, |x| x[0] * x[1])),
    ("phasor", |c| {
        let (f, prev) = (&c.ins[0], &c.prev[0]);
        let want: Vec<f64> = if c.def.kind == Kind::Audio {
            let mut p = *prev.last().unwrap();
            f.iter()
                .map(|fr| {
                    p = wrap(p + fr / c.sample_rate);
                    p
                })
                .collect()
        } else {
            f.iter()
                .zip(prev)
                .map(|(fr, p)| wrap(p + fr / c.tick_rate))
                .collect()
        };
        phase_close(&c.outs[0], &want, &c.def.name);
    }),
    ("noise", |c| {
        let (o, p) = (&c.outs[0], &c.prev[0]);
        assert!(
            o.iter().all(|v| (-1.0..1.0).contains(v)),
            "{}: range",
            c.def.name
        );
        assert!(
            o.iter().zip(p).any(|(a, b)| a != b),
            "{}: new values every tick",
            c.def.name
        );
        if o.len() > 1 {
            assert!(
                o.iter().any(|&v| v != o[0]),
                "{}: varies across elements",
                c.def.name
            );
        }
    }),
    ("matmul", |c| {
        let (a, b) = (&c.ins[0], &c.ins[1]);
        let (m, n) = (c.def.rows, c.def.cols);
        let k = a.len() / m;
        let want: Vec<f64> = (0..m * n)
            .map(|ij| {
                (0..k)
                    .map(|kk| a[ij / n * k + kk] * b[kk * n + ij % n])
                    .sum()
            })
            .collect();
        c.out(&want, 1e-5);
    }),
    ("softmax_rows", |c| {
        let t = c.def.params.temperature as f64;
        c.out(&softmax(&c.ins[0], c.def.rows, c.def.cols, t, true), 1e-5);
    }),
    ("softmax_cols", |c| {
        let t = c.def.params.temperature as f64;
        c.out(&softmax(&c.ins[0], c.def.rows, c.def.cols, t, false), 1e-5);
    }),
    ("transpose", |c| {
        let (r, cols) = (c.def.rows, c.def.cols);
        let want: Vec<f64> = (0..r * cols)
            .map(|i| c.ins[0][(i % r) * cols + i / r])
            .collect();
        c.out(&want, 0.0);
    }),
    ("normalize", |c| {
        let x = &c.ins[0];
        let (lo, hi) = x
            .iter()
            .fold((f64::MAX, f64::MIN), |(a, b), &v| (a.min(v), b.max(v)));
        let want: Vec<f64> = if hi > lo {
            x.iter().map(|v| (v - lo) / (hi - lo)).collect()
        } else {
            vec![0.0; x.len()]
        };
        c.out(&want, 1e-5);
    }),
    ("coords", |c| {
        let (r, cols) = (c.def.rows, c.def.cols);
        let step = |n: usize| if n > 1 { 1.0 / (n - 1) as f64 } else { 0.0 };
        let x: Vec<f64> = (0..r * cols)
            .map(|i| (i % cols) as f64 * step(cols))
            .collect();
        let y: Vec<f64> = (0..r * cols).map(|i| (i / cols) as f64 * step(r)).collect();
        close(&c.outs[0], &x, 1e-6, "coords.x");
        close(&c.outs[1], &y, 1e-6, "coords.y");
    }),
    ("picture", |c| {
        let o = &c.outs[0];
        assert_eq!(o, &c.prev[0], "a picture is constant");
        assert_eq!(o.len(), c.def.rows * c.def.cols);
        assert!(o.iter().all(|v| (0.0..=1.0).contains(v)), "grey in [0, 1]");
        assert!(o.iter().any(|&v| v != o[0]), "the picture is not blank");
    }),
    ("hold", |c| {
        let (p, x, n) = (*c.prev[0].last().unwrap(), c.ins[0][0], c.outs[0].len());
        let want: Vec<f64> = (0..n)
            .map(|i| p + (x - p) * (i + 1) as f64 / n as f64)
            .collect();
        c.out(&want, 1e-6);
    }),
    ("rms", |c| {
        let x = &c.ins[0];
        let want = (x.iter().map(|v| v * v).sum::<f64>() / x.len() as f64).sqrt();
        c.out(&[want], 1e-6);
    }),
    ("audio_out", |c| {
        let rb = c.read_back;
        let as64 = |v: &[f32]| v.iter().map(|&x| x as f64).collect::<Vec<_>>();
        close(&as64(&rb.left), &c.ins[0], 0.0, "left");
        close(&as64(&rb.right), &c.ins[1], 0.0, "right");
    }),
    ("display", |c| {
        let f = c
            .read_back
            .frames
            .iter()
            .find(|f| f.neuron == c.index)
            .expect("a frame");
        assert_eq!((f.rows, f.cols), (c.def.rows, c.def.cols));
        let byte = |v: f64| (v.clamp(0.0, 1.0) * 255.0 + 0.5) as u8;
        for (i, px) in f.rgba.chunks(4).enumerate() {
            let g = c.ins[0][i];
            let want = [
                byte(g + c.ins[1][i]),
                byte(g + c.ins[2][i]),
                byte(g + c.ins[3][i]),
                255,
            ];
            assert_eq!(px, want, "{} pixel {i}", c.def.name);
        }
    }),
    ("constant", |c| {
        // The example: every 3rd value of Processing's random(2)-1 after randomSeed(7), from 2.
        let all = dmm_synth::neurons::jrandom::sketch_values(7, 3 * c.outs[0].len());
        let want: Vec<f64> = all.iter().skip(2).step_by(3).map(|&v| v as f64).collect();
        c.out(&want, 0.0);
        assert_eq!(c.outs[0], c.prev[0], "{} is constant", c.def.name);
    }),
    ("max", |c| c.map(0.0, |x| x[0].max(x[1]))),
    ("squeeze", |c| {
        let of = c.def.spec.settings.get("of").and_then(|v| v.as_str());
        let f = match of.unwrap_or("sum") {
            "mul" => |a: f64, b: f64| a * b,
            "max" => |a: f64, b: f64| a.max(b),
            _ => |a: f64, b: f64| a + b,
        };
        let v: Vec<f64> = c.ins[0]
            .iter()
            .zip(&c.ins[1])
            .map(|(&a, &b)| f(a, b))
            .collect();
        c.out(&squeezed(v, None), 1e-6);
    }),
    ("conway", |c| {
        let (rows, cols) = (c.def.rows as i64, c.def.cols as i64);
        let x =
            |i: i64, j: i64| c.ins[0][(i.rem_euclid(rows) * cols + j.rem_euclid(cols)) as usize];
        let mut want = Vec::new();
        for i in 0..rows {
            for j in 0..cols {
                // In f32 and in the sketch's order: s lands exactly where the original's did.
                let mut s = 2.0 * x(i, j) as f32;
                for (di, dj) in (-1..=1).flat_map(|a| (-1..=1).map(move |b| (a, b))) {
                    s += x(i + di, j + dj) as f32;
                }
                let alive = (-1.0..=1.0).contains(&s) || (4.0..=6.0).contains(&s);
                want.push(if alive { -1.0 } else { 1.0 });
            }
        }
        c.out(&want, 0.0);
    }),
    ("image_w", |c| {
        // The example squeezes and pins row 0 (Processing's set_to_plus_constraint0).
        let v: Vec<f64> = c.ins[0].iter().zip(&c.ins[1]).map(|(a, b)| a + b).collect();
        c.out(&squeezed(v, Some(c.def.cols)), 1e-6);
    }),
];

/// v divided by its largest |v| (0 when all zero); with `pin`, row 0 (of `pin` columns) is
/// [1, 0, ...] before and after.
fn squeezed(mut v: Vec<f64>, pin: Option<usize>) -> Vec<f64> {
    if let Some(cols) = pin {
        for (j, x) in v.iter_mut().take(cols).enumerate() {
            *x = if j == 0 { 1.0 } else { 0.0 };
        }
    }
    let m = v.iter().fold(0.0f64, |m, x| m.max(x.abs()));
    let mut out: Vec<f64> = v
        .iter()
        .map(|x| if m > 0.0 { x / m } else { 0.0 })
        .collect();
    if pin.is_some() {
        out[0] = 1.0;
    }
    out
}

#[test]
fn every_type_matches_its_naive_formula() {
    let shape = Shape {
        tick_rate: 100.0,
        sample_rate: 1600,
        image: [5, 7],
        extra: vec![[3, 4]],
    };
    let json = every_type_patch(&shape, &assets());
    let p = patch_str(&json.to_string());
    let mut m = machine(&p);
    for _ in 0..3 {
        m.tick(false).unwrap();
    }
    let net = m.network().clone();
    let read_all = |m: &mut Machine, ports: &[Port], name: &str| -> Vec<Vec<f64>> {
        ports
            .iter()
            .map(|p| {
                let v = m.read(&format!("{name}.{}", p.name)).unwrap();
                v.iter().map(|&x| x as f64).collect()
            })
            .collect()
    };
    let backend: Vec<(usize, &NeuronDef)> = net
        .neurons
        .iter()
        .enumerate()
        .filter(|(_, d)| !d.engine_side())
        .collect();
    let prev: Vec<_> = backend
        .iter()
        .map(|(_, d)| read_all(&mut m, &d.outputs, &d.name))
        .collect();
    let read_back = m.tick(true).unwrap().clone();
    for ((index, def), prev) in backend.into_iter().zip(prev) {
        let Some((_, check)) = CHECKS.iter().find(|(t, _)| *t == def.info.name) else {
            panic!(
                "type {} has no naive-formula check in tests/kernels.rs",
                def.info.name
            );
        };
        let case = Case {
            def,
            index,
            ins: read_all(&mut m, &def.inputs, &def.name),
            prev,
            outs: read_all(&mut m, &def.outputs, &def.name),
            tick_rate: shape.tick_rate,
            sample_rate: shape.sample_rate as f64,
            read_back: &read_back,
        };
        assert!(
            case.ins.iter().flatten().any(|v| v.abs() > 0.1) || def.inputs.is_empty(),
            "{}: the inputs are varied",
            def.name
        );
        check(&case);
    }
    // Every type the backends run has a check, and is in the generated patch.
    for t in TYPES.iter().filter(|t| !engine_only(t)) {
        assert!(
            CHECKS.iter().any(|(n, _)| *n == t.name),
            "no check for {}",
            t.name
        );
        assert!(
            net.neurons.iter().any(|d| d.info.name == t.name),
            "{} not generated",
            t.name
        );
    }
}

/// The WGSL entry points in shaders/ are exactly the ones the neuron table and the GPU backend
/// name; every .wgsl file is compiled; a misspelt entry is refused at load, naming it.
#[test]
fn wgsl_entry_list_equals_the_table() {
    use dmm_synth::backend::gpu::kernels::{FILES, entry_points, locate, needed_entries};
    let mut defined: Vec<String> = FILES
        .iter()
        .flat_map(|(_, src)| entry_points(src))
        .collect();
    defined.sort();
    let mut needed: Vec<String> = needed_entries()
        .into_iter()
        .map(|(e, _)| e.to_string())
        .collect();
    needed.sort();
    assert_eq!(
        defined, needed,
        "WGSL entry points vs the neuron table and the backend's own"
    );
    assert!(defined.contains(&"matmul_tiled".to_string()) && defined.contains(&"relu".to_string()));
    // Every kernel file in shaders/ is one the backend compiles.
    let mut on_disk: Vec<String> = std::fs::read_dir(root().join("shaders"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().to_string())
        .filter(|f| f.ends_with(".wgsl") && f != "common.wgsl")
        .map(|f| format!("shaders/{f}"))
        .collect();
    on_disk.sort();
    let mut listed: Vec<String> = FILES.iter().map(|(f, _)| f.to_string()).collect();
    listed.sort();
    assert_eq!(on_disk, listed);
    // A typo in a row is a load-time error that names the entry and the type.
    let err = locate(FILES, &[("relux", "neuron type relu".into())]).unwrap_err();
    let msg = err.to_string();
    assert!(
        msg.starts_with("WGSL entry point \"relux\": named by neuron type relu"),
        "{msg}"
    );
    assert!(!msg.contains('\n'), "{msg}");
    // So is an entry defined in two files.
    let twice = [FILES[0], ("shaders/copy.wgsl", FILES[0].1)];
    let err = locate(&twice, &[("relu", "neuron type relu".into())]).unwrap_err();
    assert!(err.to_string().contains("defined twice"), "{err}");
    // Comments do not define entry points.
    let src = "// @compute fn not_me() {}\n/* @compute\n fn nor_me() {} */\n@compute @workgroup_size(1)\nfn me() {}";
    assert_eq!(entry_points(src), vec!["me".to_string()]);
}

/// `dmm-synth types` prints the table, and the README shows the same table.
#[test]
fn readme_neuron_table_is_the_types_output() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_dmm-synth"))
        .arg("types")
        .output()
        .unwrap();
    assert!(out.status.success());
    let table = String::from_utf8(out.stdout).unwrap();
    assert_eq!(table, dmm_synth::neurons::table::markdown());
    for t in TYPES {
        assert!(table.contains(&format!("| `{}` |", t.name)), "{}", t.name);
    }
    let readme = std::fs::read_to_string(root().join("README.md")).unwrap();
    assert!(
        readme.contains(&table),
        "the README's neuron table differs from `dmm-synth types` (paste its output under ## Neurons)"
    );
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
    use dmm_synth::neurons::images::exp_neg;
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
