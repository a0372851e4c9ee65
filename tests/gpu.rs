//! The GPU backend against the CPU reference: every neuron type on random inputs (a fresh seed per
//! run, printed on failure; set DMM_TEST_SEED to replay one), odd shapes that are not multiples of
//! any workgroup size, whole patches rendered on both backends, shader error reporting, and the
//! engine's fallback to the CPU when the device is lost.
//!
//! With REQUIRE_GPU=1 (CI, scripts/test.sh) a missing adapter fails every test here.

mod common;
#[path = "common/every_type.rs"]
mod every_type;
use common::*;
use dmm_synth::backend::gpu::{GpuBackend, GpuContext, GpuOptions, kernels};
use dmm_synth::backend::{Backend, BackendChoice, BackendError, Variant, cpu::CpuBackend, create};
use dmm_synth::engine::{Level, Machine};
use dmm_synth::neurons::TYPES;
use dmm_synth::patch::Patch;
use every_type::{Shape, engine_only, every_type_patch};
use std::path::Path;

/// The GPU backend with these kernel variants (`None`: the adapter's default). Without an adapter
/// the test is not run, and says so; with REQUIRE_GPU=1 (scripts/test.sh, CI) that is a failure.
fn gpu_with(variant: Option<Variant>) -> Option<GpuBackend> {
    let made =
        GpuContext::new().and_then(|ctx| GpuBackend::with_options(ctx, GpuOptions { variant }));
    match made {
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

fn gpu() -> Option<GpuBackend> {
    gpu_with(None)
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

/// |gpu − cpu| ≤ tol · max(1, |cpu|), on the circle for phases.
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

/// The generated all-types patch (images 37×53 and 128×100 for multi-workgroup reductions, audio
/// blocks of 300 samples), plus the edge cases noise never hits: a constant input to normalize
/// (gives 0) and a compare whose left is below its right everywhere.
fn every_type() -> Patch {
    let shape = Shape {
        tick_rate: 30.0,
        sample_rate: 9000,
        image: [37, 53],
        extra: vec![[128, 100]],
    };
    let mut json = every_type_patch(&shape, &assets());
    json["neurons"]["ones"] = serde_json::json!({ "type": "one", "kind": "image" });
    json["neurons"]["flat"] = serde_json::json!({ "type": "normalize", "kind": "image" });
    json["neurons"]["below"] = serde_json::json!({ "type": "compare", "kind": "image" });
    json["weights"]["flat.x"] = serde_json::json!({ "ones.out": 2 });
    json["weights"]["below.left"] = serde_json::json!({ "ones.out": -2 });
    json["weights"]["below.right"] = serde_json::json!({ "src_37x53_0.out": 1 });
    Patch::parse(&json.to_string(), "every_type.json", &assets()).unwrap_or_else(|e| panic!("{e}"))
}

/// Every port of every backend-side neuron, and the tick's read-back, on both machines.
fn compare_tick(cpu: &mut Machine, gpu: &mut Machine, tick: u64, capture: bool, seed: u64) {
    let c = cpu.tick(capture).unwrap().clone();
    let g = gpu.tick(capture).unwrap().clone();
    let t = |what: &str| format!("tick {tick} {what}");
    compare(&t("scalars"), &c.scalars, &g.scalars, 1e-4, false, seed);
    compare(&t("left"), &c.left, &g.left, 1e-5, false, seed);
    compare(&t("right"), &c.right, &g.right, 1e-5, false, seed);
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
    let net = cpu.network().clone();
    for def in net.neurons.iter().filter(|d| !d.engine_side()) {
        for port in &def.inputs {
            let name = format!("{}.{}", def.name, port.name);
            let (a, b) = (cpu.read(&name).unwrap(), gpu.read(&name).unwrap());
            compare(&t(&format!("input {name}")), &a, &b, 1e-5, false, seed);
        }
        let tol = def.info.gpu.tolerance;
        for port in &def.outputs {
            let name = format!("{}.{}", def.name, port.name);
            let (a, b) = (cpu.read(&name).unwrap(), gpu.read(&name).unwrap());
            assert!(!a.is_empty(), "{name} is empty");
            let what = t(&format!("{} output {name}", def.info.name));
            compare(&what, &a, &b, tol.relative, tol.circular, seed);
        }
    }
}

fn every_neuron_type_matches(variant: Variant) {
    let Some(gpu) = gpu_with(Some(variant)) else {
        return;
    };
    assert_eq!(gpu.variant(), variant);
    let seed = fresh_seed();
    eprintln!("DMM_TEST_SEED={seed}");
    let p = every_type();
    let (mut cpu, mut gpu) = machines(&p, gpu, seed);
    for tick in 0..4 {
        compare_tick(&mut cpu, &mut gpu, tick, tick % 2 == 0, seed);
    }
    // The inputs are varied (not all zeros), the edge cases hold.
    assert!(
        cpu.read("relu_image.x")
            .unwrap()
            .iter()
            .any(|v| v.abs() > 0.5)
    );
    assert!(gpu.read("flat.out").unwrap().iter().all(|&v| v == 0.0));
    assert_eq!(gpu.read("below.true").unwrap(), vec![1.0]);
    assert_eq!(gpu.read("compare_image.false").unwrap(), vec![1.0]);
    // Every type the backends run is in the generated patch.
    let net = cpu.network();
    for t in TYPES.iter().filter(|t| !engine_only(t)) {
        assert!(
            net.neurons.iter().any(|d| d.info.name == t.name),
            "type {} not covered",
            t.name
        );
    }
}

#[test]
fn every_neuron_type_matches_the_cpu_reference_with_tiled_kernels() {
    every_neuron_type_matches(Variant::Tiled);
}

#[test]
fn every_neuron_type_matches_the_cpu_reference_with_register_kernels() {
    every_neuron_type_matches(Variant::Regs);
}

/// Matmul at sizes around the tile edges, including 1×1 and long thin shapes, in both variants.
/// The frame clock on both backends (DESIGN §1): the all-types patch (37×53 images) at 300
/// ticks/s with frame_rate 100 (period 3), some image neurons at their own 60 (period 5), over
/// ticks spanning several frames; every input and output compared every tick, held values
/// included. An image weight edit and an image neuron added land between frames.
#[test]
fn the_frame_clock_matches_the_cpu_reference() {
    let Some(gpu) = gpu() else { return };
    let seed = fresh_seed();
    eprintln!("DMM_TEST_SEED={seed}");
    let shape = Shape {
        tick_rate: 300.0,
        sample_rate: 9000,
        image: [37, 53],
        extra: vec![],
    };
    let mut json = every_type_patch(&shape, &assets());
    json["settings"]["frame_rate"] = serde_json::json!(100);
    let own = ["relu_image", "accum_image", "max_norm_image", "display"];
    for name in own {
        assert!(json["neurons"][name].is_object(), "no neuron {name}");
        json["neurons"][name]["frame_rate"] = serde_json::json!(60);
    }
    let p =
        Patch::parse(&json.to_string(), "frames.json", &assets()).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(p.settings.frame_period(), 3);
    let (mut cpu, mut gpu) = machines(&p, gpu, seed);
    let source = p
        .weights
        .row(&dmm_synth::engine::PortRef::new("relu_image", "x"))
        .and_then(|r| r.keys().next().cloned())
        .expect("relu_image.x has a source");
    let mut held = Vec::new();
    for tick in 0..17 {
        if tick == 5 {
            // In W from the down stroke of tick 7: between frames of both clocks.
            let mut late = dmm_synth::engine::WMatrix::new();
            late.add_entry(&dmm_synth::engine::PortRef::new("late", "x"), &source, 0.5);
            for m in [&mut cpu, &mut gpu] {
                m.submit(dmm_synth::engine::Edit::Batch {
                    edits: vec![
                        dmm_synth::engine::Edit::set("relu_image.x", &source.to_string(), -0.75)
                            .unwrap(),
                        dmm_synth::engine::Edit::AddNeuron {
                            name: "late".into(),
                            neuron: dmm_synth::neurons::NeuronSpec::new("tanh")
                                .with("kind", "image"),
                            weights: late.clone(),
                        },
                    ],
                });
            }
        }
        compare_tick(&mut cpu, &mut gpu, tick, tick % 2 == 1, seed);
        // relu_image (period 5) holds from frame tick 5 to 9 and changes at 10.
        let relu = gpu.read("relu_image.out").unwrap();
        match tick {
            5 => held = relu,
            6..=9 => assert_eq!(relu, held, "tick {tick}: held (seed {seed})"),
            10 => assert_ne!(relu, held, "tick 10 is a frame tick (seed {seed})"),
            _ => {}
        }
    }
    assert!(
        cpu.take_outcomes()
            .iter()
            .all(|(_, o)| matches!(o, dmm_synth::engine::EditOutcome::Applied { .. }))
    );
    assert!(
        gpu.read("late.out").unwrap().iter().any(|&v| v != 0.0),
        "late joined and ran"
    );
}

#[test]
fn matmul_matches_at_awkward_shapes_in_both_variants() {
    let seed = fresh_seed();
    eprintln!("DMM_TEST_SEED={seed}");
    let shapes = [(1, 1, 1), (65, 17, 129), (3, 200, 2), (128, 128, 128)];
    for variant in [Variant::Tiled, Variant::Regs] {
        for (i, &(m, k, n)) in shapes.iter().enumerate() {
            let Some(g) = gpu_with(Some(variant)) else {
                return;
            };
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
            let what = format!("{variant:?} matmul {m}x{k}x{n}");
            compare(&what, &a, &b, 1e-4, false, seed);
        }
    }
}

/// Renders a patch on both backends and compares trace, audio and frames.
fn same_render(name: &str, ticks: u64, every: u64, size: Option<usize>) {
    same_render_with(name, ticks, every, size, None)
}

fn same_render_with(
    name: &str,
    ticks: u64,
    every: u64,
    size: Option<usize>,
    variant: Option<Variant>,
) {
    let Some(g) = gpu_with(variant) else { return };
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
            midi: Vec::new(),
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
fn poster_renders_the_same_on_both_backends_with_tiled_matmul() {
    same_render_with("poster.json", 31, 3, Some(96), Some(Variant::Tiled));
}

#[test]
fn poster_renders_the_same_on_both_backends_with_register_matmul() {
    same_render_with("poster.json", 31, 3, Some(96), Some(Variant::Regs));
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
    same_render("default.json", 19, 4, Some(64));
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
    // A row naming an entry point that shaders/ lacks stops the backend at load, naming it.
    let typo = [("relux", "neuron type relu".to_string())];
    let err = kernels::Kernels::build(&ctx.device, kernels::FILES, &typo)
        .err()
        .expect("a missing entry point must not load");
    assert!(
        matches!(&err, BackendError::Entry { entry, .. } if entry == "relux"),
        "{err}"
    );
    assert!(
        err.to_string().contains("named by neuron type relu"),
        "{err}"
    );
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
