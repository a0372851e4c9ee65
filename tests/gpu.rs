//! The GPU backend against the CPU reference: every neuron type on random inputs (a fresh seed per
//! run, printed on failure; set DMM_TEST_SEED to replay one), odd shapes that are not multiples of
//! any workgroup size, whole patches rendered on both backends, shader error reporting, and the
//! engine's fallback to the CPU when the device is lost.
//!
//! With REQUIRE_GPU=1 (CI, scripts/test.sh) a missing adapter fails every test here.

mod common;
use common::*;
use dmm_synth::backend::gpu::{GpuBackend, GpuContext, kernels};
use dmm_synth::backend::{Backend, BackendChoice, BackendError, cpu::CpuBackend, create};
use dmm_synth::engine::{Level, Machine};
use dmm_synth::neurons::Op;
use dmm_synth::patch::Patch;
use std::path::Path;

fn gpu() -> Option<GpuBackend> {
    match GpuBackend::new() {
        Ok(b) => Some(b),
        Err(e) if std::env::var("REQUIRE_GPU").as_deref() == Ok("1") => {
            panic!("REQUIRE_GPU=1 but the GPU backend cannot start: {e}")
        }
        Err(e) => {
            eprintln!("NOT RUN: no GPU adapter ({e}); set REQUIRE_GPU=1 to make this a failure");
            None
        }
    }
}

fn fresh_seed() -> u64 {
    if let Some(s) = std::env::var("DMM_TEST_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
    {
        return s;
    }
    let t = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0);
    t ^ (std::process::id() as u64).rotate_left(32)
}

fn machines(p: &Patch, gpu: GpuBackend, seed: u64) -> (Machine, Machine) {
    let make = |b: Box<dyn Backend>| {
        Machine::new(p.network.clone(), p.initial_w(), b, assets(), seed)
            .unwrap_or_else(|e| panic!("{e}"))
    };
    (make(Box::new(CpuBackend::new())), make(Box::new(gpu)))
}

/// The tolerance written next to each kernel in shaders/: |gpu − cpu| ≤ tol · max(1, |cpu|).
fn tolerance(op: Op) -> f64 {
    match op {
        Op::Matmul | Op::SoftmaxRows | Op::SoftmaxCols | Op::Normalize | Op::Rms | Op::MaxNorm => {
            1e-4
        }
        _ => 1e-5,
    }
}

fn compare(what: &str, cpu: &[f32], gpu: &[f32], tol: f64, circular: bool, seed: u64) {
    assert_eq!(cpu.len(), gpu.len(), "{what}: lengths differ (seed {seed})");
    for (i, (&c, &g)) in cpu.iter().zip(gpu).enumerate() {
        let mut d = (c as f64 - g as f64).abs();
        if circular {
            d = d.min(1.0 - d);
        }
        assert!(
            d <= tol * (c.abs() as f64).max(1.0),
            "{what}[{i}]: cpu {c} vs gpu {g} (tolerance {tol}; DMM_TEST_SEED={seed})"
        );
    }
}

/// Every dense neuron type, fed from seeded noise; images 37×53, a 128×100 image for multi-group
/// reductions, matmul 37×29·29×45, audio blocks of 300 samples.
const EVERY_TYPE: &str = r#"{
  "settings": { "tick_rate": 30, "sample_rate": 9000, "image_size": [37, 53] },
  "neurons": {
    "n":    { "type": "noise", "kind": "image" },
    "n2":   { "type": "noise", "kind": "image", "seed": 7 },
    "big":  { "type": "noise", "kind": "image", "rows": 128, "cols": 100 },
    "na":   { "type": "noise", "kind": "audio" },
    "ns":   { "type": "noise" },
    "ma":   { "type": "noise", "kind": "image", "rows": 37, "cols": 29 },
    "mb":   { "type": "noise", "kind": "image", "rows": 29, "cols": 45, "seed": 3 },
    "k":    { "type": "one" },
    "ones": { "type": "one", "kind": "image" },
    "acc":  { "type": "accum", "kind": "image" },
    "ida":  { "type": "identity", "kind": "audio" },
    "t":    { "type": "time" },
    "g":    { "type": "gate", "kind": "audio" },
    "mx":   { "type": "max_norm", "kind": "image" },
    "mxa":  { "type": "max_norm", "kind": "audio" },
    "cle":  { "type": "compare", "kind": "image" },
    "cgt":  { "type": "compare", "kind": "image" },
    "s":    { "type": "sin", "kind": "image" },
    "sa":   { "type": "sin", "kind": "audio" },
    "th":   { "type": "tanh", "kind": "image" },
    "ths":  { "type": "tanh" },
    "re":   { "type": "relu", "kind": "image" },
    "mu":   { "type": "mul", "kind": "audio" },
    "pa":   { "type": "phasor", "kind": "audio" },
    "pi":   { "type": "phasor", "kind": "image" },
    "mm":   { "type": "matmul", "rows": 37, "inner": 29, "cols": 45 },
    "sr":   { "type": "softmax_rows", "temperature": 0.7 },
    "sc":   { "type": "softmax_cols" },
    "srb":  { "type": "softmax_rows", "rows": 128, "cols": 100 },
    "scb":  { "type": "softmax_cols", "rows": 128, "cols": 100, "temperature": 2.0 },
    "tr":   { "type": "transpose" },
    "nm":   { "type": "normalize", "kind": "image" },
    "nmb":  { "type": "normalize", "kind": "image", "rows": 128, "cols": 100 },
    "flat": { "type": "normalize", "kind": "image" },
    "xy":   { "type": "coords" },
    "pic":  { "type": "picture", "file": "../assets/camera.png" },
    "h":    { "type": "hold" },
    "r":    { "type": "rms" },
    "out":  { "type": "audio_out" },
    "show": { "type": "display" }
  },
  "weights": {
    "acc.accum": { "acc.out": 1 }, "acc.delta": { "n.out": 0.5 },
    "ida.in": { "na.out": 1 },
    "g.g": { "ns.out": 1 }, "g.x": { "na.out": 1 },
    "mx.in": { "n.out": 3 }, "mxa.in": { "na.out": 1 },
    "cle.left": { "n.out": 0.5, "ones.out": -2 }, "cle.right": { "n2.out": 1 },
    "cgt.left": { "n.out": 1 }, "cgt.right": { "n2.out": 1 },
    "s.x": { "n.out": 1 }, "s.a": { "n2.out": 6 }, "s.b": { "ones.out": 0.3 },
    "sa.x": { "na.out": 2 }, "sa.a": { "ida.out": 3 }, "sa.b": { "na.out": 1 },
    "th.x": { "n.out": 4 }, "ths.x": { "ns.out": 30 },
    "re.x": { "n.out": 1 },
    "mu.a": { "na.out": 1 }, "mu.b": { "ida.out": -1 },
    "pa.freq": { "na.out": 440 }, "pi.freq": { "n.out": 17 },
    "mm.a": { "ma.out": 1 }, "mm.b": { "mb.out": 1 },
    "sr.x": { "n.out": 3 }, "sc.x": { "n2.out": -2 },
    "srb.x": { "big.out": 5 }, "scb.x": { "big.out": 4 },
    "tr.x": { "n.out": 1 },
    "nm.x": { "n.out": 1, "n2.out": 0.25 }, "nmb.x": { "big.out": 1 },
    "flat.x": { "ones.out": 2 },
    "h.x": { "ns.out": 2 },
    "r.x": { "na.out": 0.5 },
    "out.left": { "sa.out": 0.5 }, "out.right": { "na.out": 0.25, "h.out": 0.1 },
    "show.in": { "nm.out": 1 }, "show.r": { "xy.x": 0.5 }, "show.b": { "pic.out": 0.5 }
  }
}"#;

#[test]
fn every_neuron_type_matches_the_cpu_reference() {
    let Some(gpu) = gpu() else { return };
    let seed = fresh_seed();
    eprintln!("DMM_TEST_SEED={seed}");
    let p = patch_str(EVERY_TYPE);
    let (mut cpu, mut gpu) = machines(&p, gpu, seed);
    let net = cpu.network().clone();
    let mut covered = std::collections::BTreeSet::new();
    for tick in 0..5 {
        let capture = tick % 2 == 0;
        let c = cpu.tick(capture).unwrap().clone();
        let g = gpu.tick(capture).unwrap().clone();
        compare(
            &format!("tick {tick} scalars"),
            &c.scalars,
            &g.scalars,
            1e-4,
            false,
            seed,
        );
        compare(
            &format!("tick {tick} left"),
            &c.left,
            &g.left,
            1e-5,
            false,
            seed,
        );
        compare(
            &format!("tick {tick} right"),
            &c.right,
            &g.right,
            1e-5,
            false,
            seed,
        );
        assert_eq!(c.nonfinite, g.nonfinite, "NaN/Inf counts (seed {seed})");
        assert_eq!(c.frames.len(), g.frames.len());
        for (fc, fg) in c.frames.iter().zip(&g.frames) {
            assert_eq!((fc.rows, fc.cols), (fg.rows, fg.cols));
            for (i, (a, b)) in fc.rgba.iter().zip(&fg.rgba).enumerate() {
                assert!(
                    a.abs_diff(*b) <= 1,
                    "frame byte {i}: {a} vs {b} (seed {seed})"
                );
            }
        }
        for def in net.neurons.iter().filter(|d| !d.engine_side()) {
            covered.insert(def.info.name);
            let circular = def.op() == Op::Phasor;
            for port in &def.inputs {
                let name = format!("{}.{}", def.name, port.name);
                let (a, b) = (cpu.read(&name).unwrap(), gpu.read(&name).unwrap());
                compare(
                    &format!("tick {tick} input {name}"),
                    &a,
                    &b,
                    1e-5,
                    false,
                    seed,
                );
            }
            for port in &def.outputs {
                let name = format!("{}.{}", def.name, port.name);
                let (a, b) = (cpu.read(&name).unwrap(), gpu.read(&name).unwrap());
                assert!(!a.is_empty(), "{name} is empty");
                compare(
                    &format!("tick {tick} {} output {name}", def.info.name),
                    &a,
                    &b,
                    tolerance(def.op()),
                    circular,
                    seed,
                );
            }
        }
    }
    // The inputs are varied (not all zeros) and the constant normalize gives 0.
    assert!(cpu.read("nm.x").unwrap().iter().any(|v| v.abs() > 0.5));
    assert!(gpu.read("flat.out").unwrap().iter().all(|&v| v == 0.0));
    assert_eq!(gpu.read("cle.true").unwrap(), vec![1.0]);
    assert_eq!(gpu.read("cgt.false").unwrap(), vec![1.0]);
    // Every dense type of the catalogue is covered.
    for t in dmm_synth::neurons::TYPES {
        if !matches!(t.op, Op::SelfW | Op::Edits) {
            assert!(covered.contains(t.name), "type {} not covered", t.name);
        }
    }
}

/// Matmul at sizes around the tile edges, including 1×1 and long thin shapes.
#[test]
fn matmul_matches_at_awkward_shapes() {
    let Some(mut g) = gpu() else { return };
    let seed = fresh_seed();
    eprintln!("DMM_TEST_SEED={seed}");
    for (i, &(m, k, n)) in [(1, 1, 1), (65, 17, 129), (3, 200, 2), (128, 128, 128)]
        .iter()
        .enumerate()
    {
        let text = format!(
            r#"{{ "settings": {{ "image_size": [4, 4] }},
            "neurons": {{
              "a": {{ "type": "noise", "kind": "image", "rows": {m}, "cols": {k} }},
              "b": {{ "type": "noise", "kind": "image", "rows": {k}, "cols": {n}, "seed": 1 }},
              "mm": {{ "type": "matmul", "rows": {m}, "inner": {k}, "cols": {n} }} }},
            "weights": {{ "mm.a": {{ "a.out": 1 }}, "mm.b": {{ "b.out": 1 }} }} }}"#
        );
        let p = patch_str(&text);
        let (mut cpu, mut gm) = machines(&p, g, seed + i as u64);
        for _ in 0..2 {
            cpu.tick(false).unwrap();
            gm.tick(false).unwrap();
        }
        let (a, b) = (cpu.read("mm.out").unwrap(), gm.read("mm.out").unwrap());
        compare(&format!("matmul {m}x{k}x{n}"), &a, &b, 1e-4, false, seed);
        g = GpuBackend::new().unwrap();
    }
}

/// Renders a patch on both backends and compares trace, audio and frames.
fn same_render(name: &str, ticks: u64, every: u64, size: Option<usize>) {
    let Some(g) = gpu() else { return };
    let mut json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(root().join("patches").join(name)).unwrap())
            .unwrap();
    if let Some(n) = size {
        json["settings"]["image_size"] = serde_json::json!([n, n]);
    }
    let p = Patch::parse(&json.to_string(), name, &assets()).unwrap();
    let dirs = [tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap()];
    let backends: [Box<dyn Backend>; 2] = [Box::new(CpuBackend::new()), Box::new(g)];
    for (dir, b) in dirs.iter().zip(backends) {
        let opts = dmm_synth::render::RenderOptions {
            ticks,
            out_dir: dir.path().to_path_buf(),
            every,
            edits: Vec::new(),
            seed: 5,
        };
        dmm_synth::render::render(&p, b, &opts, |_| {}).unwrap();
    }
    let (c, g) = (dirs[0].path(), dirs[1].path());
    // Trace: every scalar of every tick.
    let lines = |d: &Path| std::fs::read_to_string(d.join("trace.jsonl")).unwrap();
    let (tc, tg) = (lines(c), lines(g));
    assert_eq!(tc.lines().count(), tg.lines().count());
    for (lc, lg) in tc.lines().zip(tg.lines()) {
        let (vc, vg): (serde_json::Value, serde_json::Value) = (
            serde_json::from_str(lc).unwrap(),
            serde_json::from_str(lg).unwrap(),
        );
        let (sc, sg) = (
            vc["scalars"].as_object().unwrap(),
            vg["scalars"].as_object().unwrap(),
        );
        assert_eq!(sc.len(), sg.len());
        for (k, a) in sc {
            let (a, b) = (a.as_f64().unwrap(), sg[k].as_f64().unwrap());
            assert!(
                (a - b).abs() <= 1e-4 * a.abs().max(1.0),
                "{name} tick {}: {k} cpu {a} gpu {b}",
                vc["tick"]
            );
        }
    }
    // Audio.
    let samples = |d: &Path| -> Vec<f32> {
        hound::WavReader::open(d.join("audio.wav"))
            .unwrap()
            .samples::<f32>()
            .map(|s| s.unwrap())
            .collect()
    };
    let (ac, ag) = (samples(c), samples(g));
    assert_eq!(ac.len(), ag.len());
    let worst = ac
        .iter()
        .zip(&ag)
        .map(|(a, b)| (a - b).abs())
        .fold(0.0f32, f32::max);
    assert!(worst <= 1e-4, "{name}: audio differs by up to {worst}");
    // Frames: same files, pixels within one level.
    let pngs = |d: &Path| {
        let mut v: Vec<_> = std::fs::read_dir(d)
            .unwrap()
            .filter_map(|e| e.ok())
            .map(|e| e.file_name().to_string_lossy().to_string())
            .filter(|f| f.ends_with(".png"))
            .collect();
        v.sort();
        v
    };
    assert_eq!(pngs(c), pngs(g), "{name}: frame files");
    for f in pngs(c) {
        let (a, b) = (
            image::open(c.join(&f)).unwrap().to_rgba8(),
            image::open(g.join(&f)).unwrap().to_rgba8(),
        );
        let worst = a
            .as_raw()
            .iter()
            .zip(b.as_raw())
            .map(|(x, y)| x.abs_diff(*y))
            .max()
            .unwrap_or(0);
        assert!(worst <= 1, "{name} {f}: pixels differ by {worst} levels");
    }
}

#[test]
fn poster_renders_the_same_on_both_backends() {
    same_render("poster.json", 6, 3, Some(96));
}

#[test]
fn fm_renders_the_same_on_both_backends() {
    same_render("fm.json", 120, 1000, None);
}

#[test]
fn sine_renders_the_same_on_both_backends() {
    same_render("sine.json", 60, 1000, None);
}

#[test]
fn waves_renders_the_same_on_both_backends() {
    same_render("waves.json", 30, 1000, None);
}

#[test]
fn default_renders_the_same_on_both_backends() {
    same_render("default.json", 12, 4, Some(64));
}

#[test]
fn shader_errors_name_file_line_and_column() {
    let Some(g) = gpu() else { return };
    drop(g);
    let ctx = GpuContext::new().unwrap();
    let src = "\n\nfn broken() -> f32 {\n    return 1u;\n}\n";
    let err = kernels::compile(&ctx.device, "shaders/broken.wgsl", src)
        .expect_err("a type error must not compile");
    let text = err.to_string();
    // The compiler locates the function whose body is wrong (line 3) and shows the offending
    // line with its number in the kernel file (4), not in the concatenated source.
    assert!(
        matches!(&err, BackendError::Shader { file, line: 3, col: 1, .. } if file == "shaders/broken.wgsl"),
        "{text}"
    );
    assert!(text.starts_with("shaders/broken.wgsl:3:1: "), "{text}");
    assert!(
        text.lines()
            .any(|l| l.trim_start().starts_with("4 │") && l.contains("return 1u;")),
        "{text}"
    );
    assert!(
        text.contains("does not match the declared return type"),
        "{text}"
    );
    // A syntax error: line and column of the bad token.
    let err = kernels::compile(
        &ctx.device,
        "shaders/syntax.wgsl",
        "fn f() {\n  let x = ;\n}\n",
    )
    .expect_err("a syntax error must not compile");
    assert!(
        err.to_string().starts_with("shaders/syntax.wgsl:2:"),
        "{err}"
    );
    // The real kernels compile (every entry point).
    kernels::Kernels::new(&ctx.device).unwrap();
}

#[test]
fn a_lost_device_leaves_the_engine_running_on_the_cpu() {
    let Some(g) = gpu() else { return };
    let device = g.device();
    let p = patch("sine.json");
    let mut m = Machine::new(p.network.clone(), p.initial_w(), Box::new(g), assets(), 0).unwrap();
    for _ in 0..3 {
        m.tick(false).unwrap();
    }
    assert!(m.backend_name().starts_with("gpu"));
    device.destroy();
    for _ in 0..10 {
        m.tick(false).expect("the engine goes on");
    }
    assert_eq!(m.backend_name(), "cpu");
    let msgs = m.take_messages();
    assert!(
        msgs.iter()
            .any(|x| x.level == Level::Error && x.text.contains("cpu backend")),
        "{msgs:?}"
    );
    // Sound again after the restart.
    let out = m.tick(false).unwrap();
    assert!(out.left.iter().any(|&v| v.abs() > 0.01));
}

#[test]
fn auto_prefers_the_cpu_on_a_software_adapter() {
    let Some(g) = gpu() else { return };
    let software = dmm_synth::backend::gpu::is_software(g.adapter());
    drop(g);
    let (b, note) = create(BackendChoice::Auto).unwrap();
    if software {
        assert_eq!(b.name(), "cpu");
        assert!(note.unwrap().contains("software"));
    } else {
        assert!(b.name().starts_with("gpu"));
    }
    let (b, _) = create(BackendChoice::Gpu).unwrap();
    assert!(b.name().starts_with("gpu"));
    assert!("metal".parse::<BackendChoice>().is_err());
}

#[test]
fn info_lists_adapters_and_audio_devices() {
    let Some(g) = gpu() else { return };
    let name = g.adapter().name.clone();
    drop(g);
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_dmm-synth"))
        .arg("info")
        .output()
        .unwrap();
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("GPU adapters:") && text.contains(&name),
        "{text}"
    );
    assert!(text.contains("Audio output devices:"), "{text}");
    assert!(text.contains("--backend auto picks:"), "{text}");
}
