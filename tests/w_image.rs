//! `w_image`: a block of a matrix-kind stream drawn as an image (reflection). Each test reads W
//! itself (`Machine::w`) and builds the expected block here: after an edit, while Self moves W
//! every tick, for a matrix stream other than W, on the CPU and on the GPU (the engine writes
//! the image into the backend; a neuron reading it must see it on the next tick).

mod common;
use common::*;
use dmm_synth::backend::Backend;
use dmm_synth::backend::cpu::CpuBackend;
use dmm_synth::backend::gpu::{GpuBackend, GpuContext};
use dmm_synth::engine::{Edit, Machine};
use dmm_synth::neurons::Network;
use dmm_synth::patch::Patch;
use dmm_synth::stream::{PortRef, WMatrix};
use serde_json::{Value as Json, json};

/// The rows (input ports) and columns (output ports) of a view, as the test resolves them: a
/// listed port, `None` for `-`, or for `all` the catalogue's ports in order.
fn sides(net: &Network, name: &str) -> (Vec<Option<PortRef>>, Vec<Option<PortRef>>) {
    let (_, d) = net.find(name).expect("the view");
    let list = |key: &str, n: usize, inputs: bool| -> Vec<Option<PortRef>> {
        let s = d.spec.settings[key].as_str().unwrap();
        if s == "all" {
            let mut v: Vec<Option<PortRef>> = Vec::new();
            for n in &net.neurons {
                let ports = if inputs { &n.inputs } else { &n.outputs };
                for p in ports {
                    v.push(Some(PortRef::new(n.name.clone(), p.name)));
                }
            }
            v.truncate(n);
            v.resize(n, None);
            v
        } else {
            s.split(',')
                .map(|p| match p.trim() {
                    "-" => None,
                    p => Some(PortRef::parse(p).unwrap()),
                })
                .collect()
        }
    };
    (
        list("targets", d.rows, true),
        list("sources", d.cols, false),
    )
}

/// The block of `m` a view draws, computed here.
fn block(net: &Network, name: &str, m: &WMatrix, scale: f64) -> Vec<f32> {
    let (rows, cols) = sides(net, name);
    let mut v = Vec::new();
    for t in &rows {
        for s in &cols {
            v.push(match (t, s) {
                (Some(t), Some(s)) => (scale * m.get(t, s)) as f32,
                _ => 0.0,
            });
        }
    }
    v
}

/// A small network of three kinds; `d` (a matrix identity holding its init) feeds Self's delta
/// with weight `grow`, so W moves every tick; `view` draws W, `half` draws 2·d.
fn net_json(grow: f64) -> Json {
    json!({
        "settings": {"tick_rate": 50, "sample_rate": 1000, "image_size": [3, 5]},
        "neurons": {
            "a": {"type": "tanh"},
            "b": {"type": "sin"},
            "n": {"type": "noise", "seed": 3},
            "img": {"type": "relu", "kind": "image"},
            "pic": {"type": "noise", "kind": "image", "seed": 4},
            "d": {"type": "identity", "kind": "matrix", "init": {"a.x": {"b.out": 0.25}, "img.x": {"pic.out": -0.5}}},
            "view": {"type": "w_image", "rows": 4, "cols": 3,
                     "targets": "a.x, b.x, -, img.x", "sources": "b.out, n.out, pic.out"},
            "half": {"type": "w_image", "rows": 2, "cols": 2,
                     "targets": "a.x, img.x", "sources": "b.out, pic.out"},
            "whole": {"type": "w_image", "rows": 6, "cols": 7, "targets": "all", "sources": "all"},
            "seen": {"type": "tanh", "kind": "image", "rows": 4, "cols": 3}
        },
        "weights": {
            "a.x": {"b.out": 0.5, "n.out": 0.3},
            "b.x": {"n.out": 2.0},
            "b.a": {"a.out": 1.0},
            "img.x": {"pic.out": 1.5},
            "d.in": {"d.out": 1.0},
            "self.delta": {"d.out": grow},
            "view.m": {"self.out": 1.0},
            "half.m": {"d.out": 2.0},
            "whole.m": {"self.out": 1.0},
            "seen.x": {"view.out": 1.0}
        }
    })
}

fn start(p: &Patch, backend: Box<dyn Backend>) -> Machine {
    Machine::new(p.network.clone(), p.initial_w(), backend, assets(), 0)
        .unwrap_or_else(|e| panic!("{e}"))
}

/// After every tick each view shows the block of what fed it in that tick: W before the tick
/// (the W its down stroke used) or 2·d; `seen` reads the view (times its weight) one tick
/// later.
fn check_tick(m: &mut Machine, tick: u64) {
    let net = m.network().clone();
    let w = m.w().clone();
    let d = m.matrix_output("d").cloned().unwrap_or_default();
    let before = m.read("view.out").unwrap();
    m.tick(false).unwrap();
    assert_eq!(
        m.read("view.out").unwrap(),
        block(&net, "view", &w, 1.0),
        "tick {tick}: view"
    );
    assert_eq!(
        m.read("whole.out").unwrap(),
        block(&net, "whole", &w, 1.0),
        "tick {tick}: whole"
    );
    assert_eq!(
        m.read("half.out").unwrap(),
        block(&net, "half", &d, 2.0),
        "tick {tick}: half = 2·d"
    );
    let k = w.get(&PortRef::new("seen", "x"), &PortRef::new("view", "out")) as f32;
    let seen = m.read("seen.out").unwrap();
    for (i, (s, v)) in seen.iter().zip(&before).enumerate() {
        let want = (k * v).tanh();
        assert!(
            (s - want).abs() <= 1e-6,
            "tick {tick}: seen[{i}] {s} vs tanh({k}·{v})"
        );
    }
}

#[test]
fn w_image_draws_w_after_an_edit_and_while_self_moves_it() {
    let p = patch_str(&net_json(1.0).to_string());
    let mut m = start(&p, Box::new(CpuBackend::new()));
    for tick in 0..12u64 {
        if tick == 3 {
            m.submit(Edit::set("a.x", "n.out", 0.9).unwrap());
        }
        check_tick(&mut m, tick);
        let v = m.read("view.out").unwrap();
        // view[0][0] = W[a.x][b.out]: 0.5, plus d's 0.25 that Self adds in every up stroke
        // (the W of tick k's down stroke holds k of them).
        assert_eq!(v[0], 0.5 + 0.25 * tick as f32, "tick {tick}");
        // view[0][1] = W[a.x][n.out]: 0.3 until the edit's first down stroke (3 + 2).
        assert_eq!(v[1], if tick < 5 { 0.3 } else { 0.9 }, "tick {tick}");
        // view[3][2] = W[img.x][pic.out]: 1.5 − 0.5 a tick.
        assert_eq!(v[11], 1.5 - 0.5 * tick as f32, "tick {tick}");
    }
}

#[test]
fn an_edit_shows_in_the_view_when_it_lands() {
    let p = patch_str(&net_json(0.0).to_string());
    let mut m = start(&p, Box::new(CpuBackend::new()));
    for tick in 0..8u64 {
        if tick == 2 {
            m.submit(Edit::set("b.x", "n.out", -0.75).unwrap());
        }
        check_tick(&mut m, tick);
        // view[1][1] = W[b.x][n.out]: 2 until the edit's first down stroke (tick 2 + 2).
        let v = m.read("view.out").unwrap()[3 + 1];
        assert_eq!(v, if tick < 4 { 2.0 } else { -0.75 }, "tick {tick}");
    }
}

fn gpu() -> Option<GpuBackend> {
    match GpuContext::new().and_then(GpuBackend::with_context) {
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
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(1)
}

/// SplitMix64 in [-1, 1).
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> f64 {
        self.0 = self.0.wrapping_add(0x9E3779B97F4A7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58476D1CE4E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D049BB133111EB);
        z ^= z >> 31;
        (z >> 11) as f64 / (1u64 << 52) as f64 - 1.0
    }
}

/// The same network with random weights and a random delta that Self adds every tick.
fn random_net(seed: u64) -> Json {
    let mut r = Rng(seed);
    let mut j = net_json(r.next() * 0.5);
    for (t, s) in [
        ("a.x", "b.out"),
        ("a.x", "n.out"),
        ("b.x", "n.out"),
        ("b.a", "a.out"),
        ("img.x", "pic.out"),
        ("seen.x", "view.out"),
    ] {
        j["weights"][t][s] = json!(r.next() * 3.0);
    }
    j["neurons"]["d"]["init"] = json!({
        "a.x": {"b.out": r.next()},
        "b.x": {"n.out": r.next()},
        "img.x": {"pic.out": r.next()}
    });
    j
}

#[test]
fn w_image_on_the_gpu_equals_the_cpu_on_a_random_network() {
    let Some(g) = gpu() else { return };
    let seed = fresh_seed();
    eprintln!("DMM_TEST_SEED={seed}");
    let p = patch_str(&random_net(seed).to_string());
    let mut cpu = start(&p, Box::new(CpuBackend::new()));
    let mut gpu = start(&p, Box::new(g));
    for tick in 0..10 {
        check_tick(&mut cpu, tick);
        gpu.tick(false).unwrap();
        for port in ["view.out", "half.out", "whole.out"] {
            assert_eq!(
                cpu.read(port).unwrap(),
                gpu.read(port).unwrap(),
                "tick {tick} {port} (seed {seed})"
            );
        }
        // A GPU kernel reads the engine's write on the next tick.
        let (c, g) = (cpu.read("seen.out").unwrap(), gpu.read("seen.out").unwrap());
        for (i, (a, b)) in c.iter().zip(&g).enumerate() {
            assert!(
                (a - b).abs() <= 1e-5,
                "tick {tick} seen[{i}]: cpu {a} gpu {b} (seed {seed})"
            );
        }
        assert!(
            g.iter().any(|&v| v != 0.0) || tick == 0,
            "tick {tick}: seen is fed"
        );
    }
}

#[test]
fn bad_w_image_settings_are_refused_naming_the_place() {
    let cases = [
        (
            r#"v : w_image rows=2 cols=2 sources="all""#,
            "needs targets",
        ),
        (
            r#"v : w_image rows=2 cols=2 targets="v.m" sources="all""#,
            "expected 2 input ports",
        ),
        (
            r#"v : w_image rows=2 cols=2 targets="all" sources="v.out""#,
            "expected 2 output ports",
        ),
        (
            r#"v : w_image rows=2 cols=2 targets="v.m, nosuch.x" sources="all""#,
            "nosuch",
        ),
        (
            r#"v : w_image rows=1 cols=2 targets="v.out" sources="all""#,
            "no input port",
        ),
        (
            r#"v : w_image rows=1 cols=1 targets="all" sources="v.m""#,
            "no output port",
        ),
    ];
    for (text, want) in cases {
        let text = format!("settings image=2x2\n{text}\n");
        let err = match Patch::parse(&text, "bad.dmm", &assets()) {
            Ok(_) => panic!("accepted: {text}"),
            Err(e) => e.to_string(),
        };
        assert!(
            err.contains(want) && err.contains("bad.dmm"),
            "{text}: {err}"
        );
        assert_eq!(err.lines().count(), 1, "{text}: one line: {err}");
    }
}
