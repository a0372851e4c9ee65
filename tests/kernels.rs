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
    /// The network and the W of the last tick's down stroke (constant in this patch).
    net: &'a dmm_synth::neurons::Network,
    w: &'a dmm_synth::stream::WMatrix,
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
    // Host-fed: no MIDI reaches this machine, so each shows its value before any event
    // (tests/control_midi.rs drives them with raw bytes).
    ("midi_cc", |c| c.out(&[0.0], 0.0)),
    ("midi_note", |c| {
        let got: Vec<f64> = c.outs.iter().map(|o| o[0]).collect();
        assert_eq!(got, [0.0, 0.0, 0.0], "{}: no note yet", c.def.name);
    }),
    ("midi_clock", |c| {
        let got: Vec<f64> = c.outs.iter().map(|o| o[0]).collect();
        assert_eq!(
            got,
            [120.0, 0.0, 0.0],
            "{}: 120 BPM until measured",
            c.def.name
        );
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
    ("roll", |c| {
        // Every element is the rolled input's, or 0 where the `keep` mask dropped it.
        let want = roll_naive(c.def, &c.ins);
        let kept = c.outs[0].iter().zip(&want).filter(|(o, w)| o == w).count();
        for (i, (&o, &w)) in c.outs[0].iter().zip(&want).enumerate() {
            assert!(o == w || o == 0.0, "{}[{i}]: {o} vs {w} (or 0)", c.def.name);
        }
        assert!(kept * 2 > want.len(), "{}: most elements kept", c.def.name);
    }),
    ("warp", |c| {
        let scalars: Vec<f64> = c.ins[1..].iter().map(|v| v[0]).collect();
        c.out(&warp_naive(c.def, &c.ins[0], &scalars), 1e-3);
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
    ("w_image", |c| {
        // The example draws `all`: the first rows input ports and cols output ports of the
        // catalogue, in order; its input is W itself (self.out with weight 1).
        let ins: Vec<dmm_synth::stream::PortRef> = c
            .net
            .neurons
            .iter()
            .flat_map(|d| {
                d.inputs
                    .iter()
                    .map(|p| dmm_synth::stream::PortRef::new(d.name.clone(), p.name))
            })
            .collect();
        let outs: Vec<dmm_synth::stream::PortRef> = c
            .net
            .neurons
            .iter()
            .flat_map(|d| {
                d.outputs
                    .iter()
                    .map(|p| dmm_synth::stream::PortRef::new(d.name.clone(), p.name))
            })
            .collect();
        let (rows, cols) = (c.def.rows, c.def.cols);
        let mut want = vec![0.0; rows * cols];
        for i in 0..rows.min(ins.len()) {
            for j in 0..cols.min(outs.len()) {
                want[i * cols + j] = c.w.get(&ins[i], &outs[j]);
            }
        }
        assert!(
            want.iter().any(|&v| v != 0.0),
            "{}: W's block is not empty",
            c.def.name
        );
        c.out(&want, 0.0);
    }),
    ("svf", check_svf),
    ("delay", check_delay),
    ("adsr", check_adsr),
    ("spectrum", check_spectrum),
    ("scan", check_scan),
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
    let mut json = every_type_patch(&shape, &assets());
    // Every kernel on every tick (the frame clock has its own tests: tests/frame_clock.rs).
    json["settings"]["frame_rate"] = serde_json::json!(shape.tick_rate);
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
    let w = m.w().clone();
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
            net: &net,
            w: &w,
        };
        // (A matrix input, w_image's, is W: no dense values to read.)
        let dense = def.inputs.iter().any(|p| p.kind != Kind::Matrix);
        assert!(
            case.ins.iter().flatten().any(|v| v.abs() > 0.1) || !dense,
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

/// Every entry point's `@workgroup_size` fits the grid its table row (or the backend) dispatches
/// it on, checked when the kernels load; a kernel whose size does not fit is refused, naming the
/// entry, the file, the size and what the grid needs.
#[test]
fn wgsl_workgroup_sizes_fit_the_table_grids() {
    use dmm_synth::backend::gpu::kernels::{
        COMMON, FILES, check_workgroups, entry_points, needed_grids, workgroup_size,
    };
    use dmm_synth::neurons::table::Grid;
    let needed = needed_grids();
    check_workgroups(FILES, &needed).unwrap_or_else(|e| panic!("{e}"));
    // The sizes are really read, literal or const, for every entry.
    let file_of = |entry: &str| {
        FILES
            .iter()
            .find(|(_, src)| entry_points(src).iter().any(|e| e == entry))
            .copied()
            .unwrap_or_else(|| panic!("{entry} defined nowhere"))
    };
    let size = |entry: &str| workgroup_size(&format!("{}\n{}", COMMON.1, file_of(entry).1), entry);
    for (entry, grid, who) in &needed {
        let wg = size(entry).unwrap_or_else(|e| panic!("{entry} ({who}): {e}"));
        assert!(wg.iter().all(|&d| d >= 1), "{entry}: {wg:?}");
        if *grid == Grid::Elements {
            assert_eq!(wg, [256, 1, 1], "{entry} ({who})");
        }
    }
    assert_eq!(size("matmul_tiled"), Ok([16, 16, 1]));
    assert_eq!(size("softmax_cols"), Ok([64, 4, 1]));
    assert_eq!(
        workgroup_size(
            "const WG: u32 = 128u;\n@compute @workgroup_size(WG, 2)\nfn f() {}",
            "f"
        ),
        Ok([128, 2, 1])
    );
    // An elementwise kernel of 64 would leave three quarters of every element uncomputed.
    let (file, src) = file_of("relu");
    let bad = src.replacen(
        "@compute @workgroup_size(256)\nfn relu(",
        "@compute @workgroup_size(64)\nfn relu(",
        1,
    );
    assert_ne!(bad, src);
    let err = check_workgroups(&[(file, bad.as_str())], &needed)
        .unwrap_err()
        .to_string();
    assert!(err.contains("\"relu\"") && err.contains(file), "{err}");
    assert!(
        err.contains("@workgroup_size(64, 1, 1) does not fit"),
        "{err}"
    );
    assert!(err.contains("256 invocations to a workgroup"), "{err}");
    assert!(!err.contains('\n'), "{err}");
    // A matmul tile that is not a whole number of workgroups.
    let (file, src) = file_of("matmul_tiled");
    let bad = src.replacen("@workgroup_size(16, 16)", "@workgroup_size(24, 16)", 1);
    assert_ne!(bad, src);
    let err = check_workgroups(&[(file, bad.as_str())], &needed)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("matmul_tiled") && err.contains("64x64"),
        "{err}"
    );
    // softmax_cols gives each workgroup 64 columns.
    assert!(
        Grid::Columns { per_group: 64 }
            .check_workgroup([32, 4, 1])
            .is_err()
    );
    assert!(
        Grid::Columns { per_group: 64 }
            .check_workgroup([64, 4, 1])
            .is_ok()
    );
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

/// `roll` without the mask: out[r][c] = x[r − dy][c − dx] on the torus, dx/dy = the integer
/// setting + the integer part of the input.
fn roll_naive(def: &NeuronDef, ins: &[Vec<f64>]) -> Vec<f64> {
    let (rows, cols) = (def.rows as i64, def.cols as i64);
    let set = |k: &str| {
        def.spec
            .settings
            .get(k)
            .and_then(|v| v.as_i64())
            .unwrap_or(0)
    };
    let dx = set("dx") + ins[1][0].trunc() as i64;
    let dy = set("dy") + ins[2][0].trunc() as i64;
    (0..rows * cols)
        .map(|i| {
            let (r, c) = (i / cols, i % cols);
            ins[0][((r - dy).rem_euclid(rows) * cols + (c - dx).rem_euclid(cols)) as usize]
        })
        .collect()
}

/// Bilinear sample at column `x`, row `y`, wrapped or clamped, in f64.
fn bilinear(img: &[f64], rows: usize, cols: usize, x: f64, y: f64, wrap: bool) -> f64 {
    let idx = |i: f64, n: usize| -> usize {
        if wrap {
            i.rem_euclid(n as f64) as usize
        } else {
            i.clamp(0.0, n as f64 - 1.0) as usize
        }
    };
    let (x0, y0) = (x.floor(), y.floor());
    let (fx, fy) = (x - x0, y - y0);
    let px = |r: f64, c: f64| img[idx(r, rows) * cols + idx(c, cols)];
    px(y0, x0) * (1.0 - fx) * (1.0 - fy)
        + px(y0, x0 + 1.0) * fx * (1.0 - fy)
        + px(y0 + 1.0, x0) * (1.0 - fx) * fy
        + px(y0 + 1.0, x0 + 1.0) * fx * fy
}

/// `warp` from its definition: the parameters are setting + input (clamped), the centre and the
/// shift in fractions of the size; wave: radial resampling by 0.25·sin(dcoef·d + phase) + 0.75;
/// affine: the inverse of zoom, then turn by angle, about the centre, then move.
fn warp_naive(def: &NeuronDef, x: &[f64], scalars: &[f64]) -> Vec<f64> {
    let (rows, cols) = (def.rows, def.cols);
    let s = &def.spec.settings;
    let num = |k: &str, d: f64| s.get(k).and_then(|v| v.as_f64()).unwrap_or(d);
    let text = |k: &str, d: &str| s.get(k).and_then(|v| v.as_str()).unwrap_or(d).to_string();
    let names = ["cx", "cy", "phase", "dcoef", "zoom", "angle", "tx", "ty"];
    let defaults = [0.5, 0.5, 0.0, 0.5, 1.0, 0.0, 0.0, 0.0];
    let ranges = [16.0, 16.0, 1e4, 1e3, 1e3, 1e4, 16.0, 16.0];
    let p: Vec<f64> = (0..8)
        .map(|j| {
            let v = num(names[j], defaults[j]) + scalars[j];
            let lo = if names[j] == "zoom" { 1e-3 } else { -ranges[j] };
            v.clamp(lo, ranges[j])
        })
        .collect();
    let (w, h) = (cols as f64, rows as f64);
    let (cx, cy) = (p[0] * (w - 1.0), p[1] * (h - 1.0));
    let wrap = text("edge", "wrap") == "wrap";
    let affine = text("mode", "wave") == "affine";
    (0..rows * cols)
        .map(|i| {
            let (dx, dy) = ((i % cols) as f64 - cx, (i / cols) as f64 - cy);
            let (sx, sy) = if affine {
                let (qx, qy) = ((dx - p[6] * w) / p[4], (dy - p[7] * h) / p[4]);
                let (cs, sn) = (p[5].cos(), p[5].sin());
                (cx + cs * qx + sn * qy, cy - sn * qx + cs * qy)
            } else {
                let m = 0.25 * (p[3] * (dx * dx + dy * dy).sqrt() + p[2]).sin() + 0.75;
                (cx + dx * m, cy + dy * m)
            };
            bilinear(x, rows, cols, sx, sy, wrap)
        })
        .collect()
}

/// The `keep` mask of a roll is the 2015 randomized identity: element i survives tick t exactly
/// when the neuron's noise (global seed, `seed` setting, name) at (t, i) is below 2·keep − 1; about
/// keep of them survive, and another seed drops others.
#[test]
fn roll_keep_is_a_seeded_randomized_identity() {
    use dmm_synth::neurons::elementwise::{noise_key, noise_value};
    let make = |seed: u64| {
        machine(&patch_str(&format!(
            r#"{{ "settings": {{ "tick_rate": 30, "image_size": [24, 40] }},
                 "neurons": {{ "ones": {{ "type": "one", "kind": "image" }},
                               "r": {{ "type": "roll", "dx": 1, "keep": 0.9, "seed": {seed} }} }},
                 "weights": {{ "r.x": {{ "ones.out": 2 }} }} }}"#
        )))
    };
    let (mut a, mut b) = (make(7), make(8));
    let mut kept = 0usize;
    for t in 0..5u64 {
        a.tick(false).unwrap();
        b.tick(false).unwrap();
        let (oa, ob) = (a.read("r.out").unwrap(), b.read("r.out").unwrap());
        let key = noise_key(0, 7, "r");
        for (i, &v) in oa.iter().enumerate() {
            let survives = (noise_value(key, t, i as u32) as f64) < 2.0 * 0.9 - 1.0;
            let want = if survives { 2.0 } else { 0.0 };
            assert_eq!(v, want, "tick {t} element {i}");
        }
        kept += oa.iter().filter(|&&v| v != 0.0).count();
        assert_ne!(oa, ob, "tick {t}: seeds 7 and 8 drop the same elements");
    }
    let frac = kept as f64 / (5.0 * 24.0 * 40.0);
    assert!((0.87..0.93).contains(&frac), "kept {frac}, want about 0.9");
}

/// A patch with a noise picture through a roll driven far past its sides and a warp in every
/// mode and edge, each scalar input fed from noise scaled to its useful range.
fn feedback_patch(rows: usize, cols: usize) -> dmm_synth::patch::Patch {
    use serde_json::json;
    let mut neurons = serde_json::Map::new();
    let mut weights = serde_json::Map::new();
    neurons.insert(
        "img".into(),
        json!({ "type": "noise", "kind": "image", "seed": 1 }),
    );
    let inputs = [
        ("cx", 0.4),
        ("cy", 0.4),
        ("phase", 3.0),
        ("dcoef", 0.3),
        ("zoom", 0.6),
        ("angle", 3.0),
        ("tx", 0.7),
        ("ty", 0.7),
        ("dx", 90.0),
        ("dy", 90.0),
    ];
    for (j, (name, _)) in inputs.iter().enumerate() {
        neurons.insert(
            format!("n_{name}"),
            json!({ "type": "noise", "seed": 10 + j }),
        );
    }
    let mut add = |name: &str, spec: serde_json::Value, ports: &[&str]| {
        neurons.insert(name.into(), spec);
        let mut row = |port: &str, src: &str, w: f64| {
            weights.insert(format!("{name}.{port}"), json!({ format!("{src}.out"): w }));
        };
        row("x", "img", 1.0);
        for (port, scale) in inputs.iter().filter(|(p, _)| ports.contains(p)) {
            row(port, &format!("n_{port}"), *scale);
        }
    };
    add(
        "r",
        json!({ "type": "roll", "dx": -3, "dy": 5 }),
        &["dx", "dy"],
    );
    let all = ["cx", "cy", "phase", "dcoef", "zoom", "angle", "tx", "ty"];
    for mode in ["wave", "affine"] {
        for edge in ["wrap", "clamp"] {
            let spec =
                json!({ "type": "warp", "mode": mode, "edge": edge, "dcoef": 0.7, "zoom": 1.2 });
            add(&format!("w_{mode}_{edge}"), spec, &all);
        }
    }
    let text = json!({
        "settings": { "tick_rate": 30, "image_size": [rows, cols] },
        "neurons": neurons,
        "weights": weights,
    });
    patch_str(&text.to_string())
}

/// Roll and warp in every mode against their naive formulas, at a non-square shape, for several
/// ticks of fresh noise inputs.
#[test]
fn roll_and_warp_match_their_formulas_in_every_mode() {
    let p = feedback_patch(29, 41);
    let mut m = machine(&p);
    let net = m.network().clone();
    let as64 = |v: Vec<f32>| v.into_iter().map(f64::from).collect::<Vec<_>>();
    for _ in 0..4 {
        m.tick(false).unwrap();
        for def in net
            .neurons
            .iter()
            .filter(|d| d.name == "r" || d.name.starts_with("w_"))
        {
            let ins: Vec<Vec<f64>> = def
                .inputs
                .iter()
                .map(|port| as64(m.read(&format!("{}.{}", def.name, port.name)).unwrap()))
                .collect();
            let out = as64(m.read(&format!("{}.out", def.name)).unwrap());
            let want = if def.name == "r" {
                roll_naive(def, &ins)
            } else {
                let scalars: Vec<f64> = ins[1..].iter().map(|v| v[0]).collect();
                warp_naive(def, &ins[0], &scalars)
            };
            close(&out, &want, 1e-3, &def.name);
        }
    }
}

/// Bad values on the scalar inputs (1e30, ±Inf from an overflowing row, NaN from Inf − Inf)
/// count as 0 or are clamped: the outputs stay finite, nothing panics, and a roll moves by its
/// setting plus the clamped integer part.
#[test]
fn roll_and_warp_survive_non_finite_and_huge_inputs() {
    for w in [1.0, 1e30] {
        let text = format!(
            r#"{{ "settings": {{ "tick_rate": 30, "image_size": [9, 13] }},
                 "neurons": {{ "img": {{ "type": "noise", "kind": "image" }},
                               "h": {{ "type": "identity", "init": 1e30 }},
                               "g": {{ "type": "identity", "init": 1e30 }},
                               "r": {{ "type": "roll", "dx": 4 }},
                               "w": {{ "type": "warp", "mode": "affine" }},
                               "v": {{ "type": "warp", "edge": "clamp" }} }},
                 "weights": {{ "h.in": {{ "h.out": 1 }}, "g.in": {{ "g.out": 1 }},
                               "r.x": {{ "img.out": 1 }}, "r.dx": {{ "h.out": {w} }},
                               "r.dy": {{ "h.out": 1e30, "g.out": -1e30 }},
                               "w.x": {{ "img.out": 1 }}, "w.zoom": {{ "h.out": -{w} }},
                               "w.tx": {{ "h.out": {w} }}, "w.angle": {{ "h.out": {w} }},
                               "w.cx": {{ "h.out": 1e30, "g.out": -1e30 }},
                               "v.x": {{ "img.out": 1 }}, "v.cx": {{ "h.out": {w} }},
                               "v.dcoef": {{ "h.out": {w} }},
                               "v.phase": {{ "h.out": 1e30, "g.out": -1e30 }} }} }}"#
        );
        let mut m = machine(&patch_str(&text));
        for _ in 0..3 {
            m.tick(false).unwrap();
        }
        assert!(m.read("r.dy").unwrap()[0].is_nan(), "the test feeds a NaN");
        for n in ["r", "w", "v"] {
            let out = m.read(&format!("{n}.out")).unwrap();
            assert!(out.iter().all(|v| v.is_finite()), "weight {w}: {n}");
            assert!(out.iter().any(|&v| v != 0.0), "weight {w}: {n} is blank");
        }
        let (x, r) = (m.read("r.x").unwrap(), m.read("r.out").unwrap());
        let dx = m.read("r.dx").unwrap()[0] as f64;
        let shift = 4 + if dx.is_finite() {
            dx.min(16_777_216.0) as i64
        } else {
            0
        };
        for i in 0..9 * 13i64 {
            let (row, col) = (i / 13, i % 13);
            let src = row * 13 + (col - shift).rem_euclid(13);
            assert_eq!(r[i as usize], x[src as usize], "weight {w}: r[{i}]");
        }
    }
}

/// Bad settings are refused on load with the setting named and what was expected.
#[test]
fn roll_and_warp_refuse_bad_settings() {
    let cases = [
        (r#"{"type": "roll", "dx": 1.5}"#, "dx", "whole number"),
        (r#"{"type": "roll", "keep": 1.5}"#, "keep", "[0, 1]"),
        (
            r#"{"type": "warp", "mode": "swirl"}"#,
            "mode",
            "\"wave\", \"affine\"",
        ),
        (
            r#"{"type": "warp", "edge": 3}"#,
            "edge",
            "\"wrap\", \"clamp\"",
        ),
        (r#"{"type": "warp", "zoom": 0}"#, "zoom", "[0.001, 1000]"),
        (r#"{"type": "warp", "cx": "middle"}"#, "cx", "finite number"),
    ];
    for (spec, field, expected) in cases {
        let text = format!(r#"{{ "neurons": {{ "n": {spec} }} }}"#);
        let err = dmm_synth::patch::Patch::parse(&text, "bad.json", &assets())
            .err()
            .unwrap_or_else(|| panic!("{spec} was accepted"))
            .to_string();
        assert!(
            err.contains(field) && err.contains(expected),
            "{spec}: {err}"
        );
        assert!(!err.contains('\n'), "{err}");
    }
}

/// The GPU kernels of roll and warp against the CPU in every mode and edge, on fresh random
/// inputs (DMM_TEST_SEED replays a run), at a non-square shape. Without an adapter this is not
/// run, and says so; with REQUIRE_GPU=1 (CI) that is a failure.
#[test]
fn roll_and_warp_on_the_gpu_match_the_cpu() {
    use dmm_synth::backend::cpu::CpuBackend;
    use dmm_synth::backend::gpu::{GpuBackend, GpuContext, GpuOptions};
    let gpu = GpuContext::new()
        .and_then(|ctx| GpuBackend::with_options(ctx, GpuOptions { variant: None }));
    let gpu = match gpu {
        Ok(g) => g,
        Err(e) if std::env::var("REQUIRE_GPU").as_deref() == Ok("1") => {
            panic!("REQUIRE_GPU=1 but the GPU backend cannot start: {e}")
        }
        Err(e) => {
            eprintln!("NOT RUN: no GPU adapter ({e}); set REQUIRE_GPU=1 to make this a failure");
            return;
        }
    };
    let seed = std::env::var("DMM_TEST_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos() as u64)
                .unwrap_or(1)
        });
    eprintln!("DMM_TEST_SEED={seed}");
    let p = feedback_patch(37, 53);
    let make = |b: Box<dyn dmm_synth::backend::Backend>| {
        Machine::new(p.network.clone(), p.initial_w(), b, assets(), seed).unwrap()
    };
    let (mut c, mut g) = (make(Box::new(CpuBackend::new())), make(Box::new(gpu)));
    for tick in 0..4 {
        c.tick(false).unwrap();
        g.tick(false).unwrap();
        for n in [
            "r",
            "w_wave_wrap",
            "w_wave_clamp",
            "w_affine_wrap",
            "w_affine_clamp",
        ] {
            let port = format!("{n}.out");
            let (a, b) = (c.read(&port).unwrap(), g.read(&port).unwrap());
            let tol = if n == "r" { 0.0 } else { 1e-3 };
            for (i, (&x, &y)) in a.iter().zip(&b).enumerate() {
                assert!(
                    (x - y).abs() as f64 <= tol * (x.abs() as f64).max(1.0),
                    "tick {tick} {port}[{i}]: cpu {x} vs gpu {y} (DMM_TEST_SEED={seed})"
                );
            }
        }
    }
}

// ---- audio staples and bridges (svf, delay, adsr, spectrum, scan): what one tick shows. The
// multi-tick behaviour (frequency response, impulse timing, envelope stages, a sine's peak) is in
// tests/seed_audio.rs.

/// Simper's SVF: `high = x − k·band − low` everywhere, and from the second sample on, each sample
/// follows from the previous one (the integrator states are band + g·high and low + g·band).
fn check_svf(c: &Case) {
    let (x, fc, res) = (&c.ins[0], &c.ins[1], &c.ins[2]);
    let (low, band, high) = (&c.outs[0], &c.outs[1], &c.outs[2]);
    let sr = c.sample_rate;
    let coef = |i: usize| {
        let f = fc[i].clamp(0.0, 0.49 * sr);
        let g = (std::f64::consts::PI * f / sr).tan();
        (g, 2.0 - 1.98 * res[i].clamp(0.0, 1.0))
    };
    let mut want = [vec![], vec![], vec![]];
    for i in 1..x.len() {
        let (gp, _) = coef(i - 1);
        let ic1 = band[i - 1] + gp * high[i - 1];
        let ic2 = low[i - 1] + gp * band[i - 1];
        let (g, k) = coef(i);
        let v1 = (ic1 + g * (x[i] - ic2)) / (1.0 + g * (g + k));
        let v2 = ic2 + g * v1;
        want[0].push(v2);
        want[1].push(v1);
        want[2].push(x[i] - k * v1 - v2);
    }
    close(&low[1..], &want[0], 1e-4, "svf.low");
    close(&band[1..], &want[1], 1e-4, "svf.band");
    close(&high[1..], &want[2], 1e-4, "svf.high");
}

/// The delay line, where the delayed sample is in this block (or the delay is 0).
fn check_delay(c: &Case) {
    let (x, time, out) = (&c.ins[0], &c.ins[1], &c.outs[0]);
    let max_s: f64 = c.def.spec.settings["max_seconds"].as_f64().unwrap();
    let max = (max_s * c.sample_rate).ceil();
    let mut checked = 0;
    for i in 0..x.len() {
        let d = (time[i] * c.sample_rate).clamp(0.0, max);
        let (w, frac) = (d.floor() as usize, d - d.floor());
        let want = if d == 0.0 {
            x[i]
        } else if w < i {
            x[i - w] + (x[i - w - 1] - x[i - w]) * frac
        } else {
            continue;
        };
        close(&out[i..=i], &[want], 1e-4, &format!("{}[{i}]", c.def.name));
        checked += 1;
    }
    assert!(checked > 0, "{}: no sample checked", c.def.name);
}

/// The envelope stays in [0, 1]; with the gate off it falls at 1/release per second (or ends at
/// once), and where the gate opens it rises at 1/attack per second from where it was.
fn check_adsr(c: &Case) {
    let gate = &c.ins[0];
    let (a, r) = (c.ins[1][0], c.ins[3 + 1][0]);
    let out = &c.outs[0];
    let audio = c.def.kind == Kind::Audio;
    let dt = if audio {
        1.0 / c.sample_rate
    } else {
        1.0 / c.tick_rate
    };
    let step = |t: f64| if t > 0.0 { dt / t } else { f64::INFINITY };
    assert!(
        out.iter().all(|v| (0.0..=1.0).contains(v)),
        "{}: range",
        c.def.name
    );
    // (previous level, previous gate or None, gate, level) per step.
    let steps: Vec<(f64, Option<f64>, f64, f64)> = if audio {
        (0..out.len())
            .map(|i| {
                let prev = if i == 0 {
                    *c.prev[0].last().unwrap()
                } else {
                    out[i - 1]
                };
                (prev, (i > 0).then(|| gate[i - 1]), gate[i], out[i])
            })
            .collect()
    } else {
        (0..out.len())
            .map(|i| (c.prev[0][i], None, gate[i], out[i]))
            .collect()
    };
    let mut checked = 0;
    for (prev, pg, g, o) in steps {
        if g <= 0.0 {
            close(&[o], &[(prev - step(r)).max(0.0)], 1e-5, &c.def.name);
            checked += 1;
        } else if pg.is_some_and(|p| p <= 0.0) {
            close(&[o], &[(prev + step(a)).min(1.0)], 1e-5, &c.def.name);
            checked += 1;
        }
    }
    assert!(checked > 0, "{}: no step checked", c.def.name);
}

/// A window as long as the block (the example's size): a Hann-windowed DFT of this block, in
/// every row, and the band RMS by Parseval.
fn check_spectrum(c: &Case) {
    let x = &c.ins[0];
    let size = c.def.spec.settings["size"].as_u64().unwrap() as usize;
    assert_eq!(
        size,
        x.len(),
        "the example's window is one block of this test"
    );
    let tau = std::f64::consts::TAU;
    let bins: Vec<(f64, f64)> = (0..=size / 2)
        .map(|k| {
            let (mut re, mut im) = (0.0, 0.0);
            for (j, v) in x.iter().enumerate() {
                let w = 0.5 - 0.5 * (tau * j as f64 / size as f64).cos();
                let ang = tau * (k * j) as f64 / size as f64;
                re += v * w * ang.cos();
                im -= v * w * ang.sin();
            }
            (re * re + im * im, k as f64 * c.sample_rate / size as f64)
        })
        .collect();
    let mags: Vec<f64> = bins
        .iter()
        .map(|(p, _)| p.sqrt() * 4.0 / size as f64)
        .collect();
    let cols = c.def.cols;
    let row: Vec<f64> = (0..cols)
        .map(|col| {
            let b = col as f64 * (size / 2) as f64 / (cols - 1).max(1) as f64;
            let j = b.floor() as usize;
            let next = mags[(j + 1).min(size / 2)];
            mags[j] + (next - mags[j]) * (b - j as f64)
        })
        .collect();
    let want: Vec<f64> = (0..c.def.rows).flat_map(|_| row.clone()).collect();
    c.out(&want, 1e-4);
    let band = |lo: f64, hi: f64| {
        let e: f64 = bins
            .iter()
            .filter(|(_, f)| *f >= lo && *f < hi)
            .map(|(p, _)| p)
            .sum();
        (e * 16.0 / 3.0 / (size * size) as f64).sqrt()
    };
    close(&c.outs[1], &[band(0.0, 250.0)], 1e-4, "spectrum.low");
    close(&c.outs[2], &[band(250.0, 2500.0)], 1e-4, "spectrum.mid");
    close(
        &c.outs[3],
        &[band(2500.0, f64::INFINITY)],
        1e-4,
        "spectrum.high",
    );
}

/// Row floor(row) (clamped), resampled to the block as one wavetable cycle.
fn check_scan(c: &Case) {
    let (img, (rows, cols)) = (&c.ins[0], (c.def.rows, c.def.cols));
    let r = (c.ins[1][0].floor().max(0.0) as usize).min(rows - 1);
    let row = &img[r * cols..(r + 1) * cols];
    let n = c.outs[0].len();
    let want: Vec<f64> = (0..n)
        .map(|i| {
            let p = i as f64 * cols as f64 / n as f64;
            let j = p.floor() as usize;
            row[j] + (row[(j + 1) % cols] - row[j]) * (p - j as f64)
        })
        .collect();
    c.out(&want, 1e-5);
}

/// The CPU down stroke sums each row as a left fold in the plan's term order (what the GPU
/// does), in one pass per run of up to eight constant weights and one pass per ramping audio
/// weight: bit for bit the sum taken one term at a time. 13 noise sources into one port (runs of
/// 8, 4 and 1), two of whose weights change mid-run and ramp across a block, and one source
/// removed (its weight ramps to 0).
#[test]
fn down_stroke_sums_rows_as_a_left_fold_in_plan_order() {
    use dmm_synth::engine::{Edit, PortRef};
    use dmm_synth::neurons::network::DownPlan;
    let n = 13;
    let neurons: Vec<String> = (0..n)
        .map(|i| format!(r#""s{i}": {{"type": "noise", "kind": "audio", "seed": {i}}}"#))
        .chain([r#""out": {"type": "audio_out"}"#.to_string()])
        .collect();
    let terms: Vec<String> = (0..n)
        .map(|i| {
            let w = 0.1 * (i + 1) as f64 * if i % 2 == 0 { 1.0 } else { -1.0 };
            format!(r#""s{i}.out": {w}"#)
        })
        .collect();
    let mut m = machine(&patch_str(&format!(
        r#"{{"settings": {{"tick_rate": 375, "sample_rate": 48000}},
            "neurons": {{{}}}, "weights": {{"out.left": {{{}}}, "out.right": {{"s0.out": 0.5}}}}}}"#,
        neurons.join(", "),
        terms.join(", ")
    )));
    let set = |m: &mut Machine, src: &str, weight: f64| {
        m.submit(Edit::Set {
            target: PortRef::new("out", "left"),
            source: PortRef::new(src, "out"),
            weight,
            morph: 0.0,
        });
    };
    let mut last_w = m.w().clone();
    let mut ramped = 0;
    for tick in 0..12 {
        match tick {
            2 => {
                set(&mut m, "s3", 0.9);
                set(&mut m, "s10", -0.7);
            }
            6 => set(&mut m, "s5", 0.0),
            _ => {}
        }
        let net = m.network().clone();
        let w = m.w().clone();
        let plan = DownPlan::build(&net, &w, &last_w, 0);
        last_w = w;
        let srcs: Vec<Vec<f32>> = (0..n)
            .map(|i| m.read(&format!("s{i}.out")).unwrap())
            .collect();
        m.tick(false).unwrap();
        let (target, _, _) = net.input_port(&PortRef::new("out", "left")).unwrap();
        let row = plan
            .rows
            .iter()
            .find(|r| r.neuron == target && r.port == 0)
            .unwrap();
        let len = net.block_len();
        let mut want = vec![0.0f32; len];
        for (k, t) in row.terms.iter().enumerate() {
            let name = &net.neurons[t.neuron].name;
            let s = &srcs[name[1..].parse::<usize>().unwrap()];
            let step = (t.w1 - t.w0) / len as f32;
            ramped += usize::from(t.w0 != t.w1);
            for i in 0..len {
                let w = if t.w0 != t.w1 {
                    t.w0 + step * (i + 1) as f32
                } else {
                    t.w1
                };
                want[i] = if k == 0 { w * s[i] } else { want[i] + w * s[i] };
            }
        }
        let got = m.read("out.left").unwrap();
        for i in 0..len {
            assert_eq!(
                got[i].to_bits(),
                want[i].to_bits(),
                "tick {tick} sample {i}"
            );
        }
    }
    assert_eq!(ramped, 3, "two weights ramped to new values, one to 0");
}
