//! The edit path's robustness (issue 8): added neurons start from their `init` (finding 2), W
//! stays finite and within `MAX_WEIGHT` (3), morph times are bounded (4), a rejection is a typed
//! outcome reported once (14), and the fallback backend is injected (12).

mod common;
use common::*;
use dmm_synth::backend::cpu::CpuBackend;
use dmm_synth::backend::gpu::GpuBackend;
use dmm_synth::backend::{Backend, BackendError, TickCtx, TickOutputs};
use dmm_synth::engine::edits::{Edit, EditOutcome, TimedEdit};
use dmm_synth::engine::{
    EDIT_LATENCY_TICKS, MAX_MORPH_SECONDS, MAX_WEIGHT, Machine, PortRef, Rejection, WMatrix,
};
use dmm_synth::neurons::network::DownPlan;
use dmm_synth::neurons::{Network, NeuronSpec};

fn pr(s: &str) -> PortRef {
    PortRef::parse(s).unwrap()
}

const BASE: &str = r#"{
  "settings": { "tick_rate": 100, "sample_rate": 1000 },
  "neurons": { "k": { "type": "one" }, "x": { "type": "identity" } },
  "weights": { "x.in": { "k.out": 1 } }
}"#;

/// The neurons of finding 2, as a file would load them.
const WITH_INITS: &str = r#"{
  "settings": { "tick_rate": 100, "sample_rate": 1000 },
  "neurons": {
    "k": { "type": "one" }, "x": { "type": "identity" },
    "h": { "type": "identity", "init": 5 },
    "acc": { "type": "accum", "init": 3 },
    "u": { "type": "identity", "kind": "matrix", "init": { "x.in": { "k.out": 1 } } }
  },
  "weights": {
    "x.in": { "k.out": 1 },
    "h.in": { "h.out": 1 },
    "acc.accum": { "acc.out": 1 }, "acc.delta": { "k.out": 1 },
    "u.in": { "u.out": 1 }
  }
}"#;

/// Every rejection of the outcomes so far; panics on an outcome count other than `n`.
fn rejections(m: &mut Machine, n: usize) -> Vec<Vec<Rejection>> {
    let outcomes = m.take_outcomes();
    assert_eq!(outcomes.len(), n, "{outcomes:?}");
    outcomes
        .into_iter()
        .filter_map(|(_, o)| match o {
            EditOutcome::Rejected { errors, .. } => Some(errors),
            EditOutcome::Applied { .. } => None,
        })
        .collect()
}

/// Runs finding 2 on one backend: the neurons added by request behave, from the tick they
/// join, exactly as the loaded ones do from tick 0.
fn added_neurons_start_from_init(make: &dyn Fn() -> Box<dyn Backend>) {
    let loaded = patch_str(WITH_INITS);
    let mut reference = Machine::new(
        loaded.network.clone(),
        loaded.initial_w(),
        make(),
        assets(),
        0,
    )
    .unwrap();
    let base = patch_str(BASE);
    let mut m = Machine::new(base.network.clone(), base.initial_w(), make(), assets(), 0).unwrap();
    let at = 6;
    for _ in 0..at {
        m.tick(false).unwrap();
    }
    let spec = |ty: &str| NeuronSpec::new(ty);
    let add = |name: &str, neuron: NeuronSpec, t: &str, s: &str| Edit::AddNeuron {
        name: name.into(),
        neuron,
        weights: WMatrix::single(pr(t), pr(s), 1.0),
    };
    let mut matrix_init = serde_json::Map::new();
    matrix_init.insert("x.in".into(), serde_json::json!({ "k.out": 1 }));
    m.submit(Edit::Batch {
        edits: vec![
            add("h", spec("identity").with("init", 5), "h.in", "h.out"),
            add("acc", spec("accum").with("init", 3), "acc.accum", "acc.out"),
            Edit::add("acc.delta", "k.out", 1.0).unwrap(),
            add(
                "u",
                spec("identity")
                    .with("kind", "matrix")
                    .with("init", serde_json::Value::Object(matrix_init)),
                "u.in",
                "u.out",
            ),
        ],
    });
    m.tick(false).unwrap();
    assert!(
        matches!(m.take_outcomes()[..], [(_, EditOutcome::Applied { .. })]),
        "the batch applies"
    );
    for _ in 1..EDIT_LATENCY_TICKS {
        m.tick(false).unwrap();
    }
    for t in 0..20 {
        m.tick(false).unwrap();
        reference.tick(false).unwrap();
        for port in ["h.out", "acc.out"] {
            assert_eq!(
                m.scalar(port),
                reference.scalar(port),
                "{port}, {t} ticks after joining ({})",
                m.backend_name()
            );
        }
        assert_eq!(m.matrix_output("u"), reference.matrix_output("u"));
    }
    assert_eq!(
        m.scalar("h.out"),
        Some(5.0),
        "identity init 5 with a self-loop holds 5"
    );
    assert_eq!(
        reference.scalar("acc.out"),
        Some(3.0 + 20.0),
        "accum init 3 counts on from 3"
    );
}

#[test]
fn an_added_neuron_starts_from_its_init_like_a_loaded_one_on_the_cpu() {
    added_neurons_start_from_init(&|| Box::new(CpuBackend::new()));
}

/// The same on the GPU backend (Mesa lavapipe in CI). Without an adapter this says NOT RUN,
/// and fails when REQUIRE_GPU=1.
#[test]
fn an_added_neuron_starts_from_its_init_like_a_loaded_one_on_the_gpu() {
    if let Err(e) = GpuBackend::new() {
        assert!(
            std::env::var("REQUIRE_GPU").as_deref() != Ok("1"),
            "REQUIRE_GPU=1 but the GPU backend cannot start: {e}"
        );
        eprintln!("NOT RUN: no GPU adapter ({e}); set REQUIRE_GPU=1 to make this a failure");
        return;
    }
    added_neurons_start_from_init(&|| match GpuBackend::new() {
        Ok(g) => Box::new(g),
        Err(e) => panic!("the GPU backend started once, then not: {e}"),
    });
}

/// Finding 3: two `add`s of 1e308 used to make the entry infinite, after which `set` was refused
/// and the channel stayed silent.
#[test]
fn additive_edits_cannot_make_a_weight_infinite_and_set_always_works() {
    let mut m = machine(&patch_str(BASE));
    m.tick(false).unwrap();
    for _ in 0..2 {
        m.submit(Edit::add("x.in", "k.out", 1e308).unwrap());
    }
    m.tick(false).unwrap();
    let r = rejections(&mut m, 2);
    assert_eq!(r.len(), 2);
    for errors in &r {
        assert!(
            matches!(&errors[..], [Rejection::TooLarge { target, .. }] if target == &pr("x.in")),
            "{errors:?}"
        );
        let text = errors[0].to_string();
        assert!(
            text.contains("x.in <- k.out") && text.contains("1e30"),
            "names the entry and the bound: {text}"
        );
    }
    // Up to the bound is fine; one step beyond it is not.
    m.submit(Edit::add("x.in", "k.out", 6e29).unwrap());
    m.submit(Edit::add("x.in", "k.out", 6e29).unwrap());
    m.submit(Edit::set("x.in", "k.out", -MAX_WEIGHT).unwrap());
    m.submit(Edit::set("x.in", "k.out", -MAX_WEIGHT * 1.000001).unwrap());
    for _ in 0..3 {
        m.tick(false).unwrap();
    }
    let r = rejections(&mut m, 4);
    assert_eq!(r.len(), 2, "{r:?}");
    let w = m.w().get(&pr("x.in"), &pr("k.out"));
    assert!((w + MAX_WEIGHT).abs() <= MAX_WEIGHT * 1e-12, "{w}");
    // `set` works on any entry. From -1e30, f64 cannot hold the 0.3 in the delta: the entry is
    // 0 at t+2 and lands exactly on 0.3 one tick later.
    m.submit(Edit::set("x.in", "k.out", 0.3).unwrap());
    for _ in 0..4 {
        m.tick(false).unwrap();
    }
    assert_eq!(rejections(&mut m, 1).len(), 0);
    assert_eq!(m.w().get(&pr("x.in"), &pr("k.out")), 0.3);
    assert_eq!(m.scalar("x.out"), Some(0.3));
}

/// A morph in progress counts: an instant add that the morph's remaining slices would carry
/// beyond the bound on the way is refused.
#[test]
fn morphs_in_progress_count_toward_the_weight_bound() {
    let mut m = machine(&patch_str(BASE));
    m.submit(Edit::set("x.in", "k.out", 9e29).unwrap());
    m.tick(false).unwrap();
    m.submit(Edit::Add {
        target: pr("x.in"),
        source: pr("k.out"),
        weight: -9e29,
        morph: 1.0,
    });
    m.tick(false).unwrap();
    m.submit(Edit::add("x.in", "k.out", 9e29).unwrap());
    m.tick(false).unwrap();
    let r = rejections(&mut m, 3);
    assert!(
        matches!(&r[..], [e] if matches!(e[..], [Rejection::TooLarge { .. }])),
        "{r:?}"
    );
    for _ in 0..120 {
        m.tick(false).unwrap();
        let v = m.w().get(&pr("x.in"), &pr("k.out"));
        assert!(v.abs() <= MAX_WEIGHT, "{v}");
    }
    assert_eq!(m.w().get(&pr("x.in"), &pr("k.out")), 0.0);
}

/// Self-modification: a matrix neuron that doubles every tick and feeds Self. The deltas that
/// would carry W beyond the bound are dropped and reported once; the doubling value itself turns
/// infinite and is dropped and counted like any NaN/Inf.
#[test]
fn self_modification_cannot_carry_w_beyond_the_bound() {
    let mut m = machine(&patch_str(
        r#"{
      "neurons": {
        "k": { "type": "one" }, "x": { "type": "identity" },
        "u": { "type": "identity", "kind": "matrix", "init": { "x.in": { "k.out": 1e28 } } }
      },
      "weights": { "u.in": { "u.out": 2 }, "self.delta": { "u.out": 1 } }
    }"#,
    ));
    for _ in 0..1100 {
        m.tick(false).unwrap();
        for (t, s, v) in m.w().entries() {
            assert!(v.is_finite() && v.abs() <= MAX_WEIGHT, "{t} <- {s} = {v}");
        }
    }
    let w = m.w().get(&pr("x.in"), &pr("k.out"));
    assert!(w > 1e29 && w <= MAX_WEIGHT, "{w}");
    let texts: Vec<String> = m.take_messages().into_iter().map(|m| m.text).collect();
    let about_entry = texts
        .iter()
        .filter(|t| t.starts_with("self: delta entry x.in <- k.out rejected"))
        .count();
    assert_eq!(about_entry, 1, "reported once: {texts:?}");
    assert!(texts.iter().any(|t| t.contains("|w| <= 1e30")), "{texts:?}");
    assert!(m.nonfinite_counts().get("u").is_some_and(|&c| c >= 1));
    assert!(m.scalar("x.out").is_some_and(f32::is_finite));
}

/// Finding 4: `remove_neuron` with `morph: 1e300` overflowed the fade length (a panic in debug
/// builds). Morph times are bounded by MAX_MORPH_SECONDS; beyond it, or not a number, is refused.
#[test]
fn morph_times_are_bounded_and_checked() {
    let mut m = machine(&patch_str(BASE));
    let bad = [
        1e300,
        MAX_MORPH_SECONDS * 1.0001,
        f64::NAN,
        f64::INFINITY,
        -1.0,
        -1e-300,
    ];
    for &morph in &bad {
        m.submit(Edit::RemoveNeuron {
            name: "x".into(),
            morph,
        });
        m.submit(Edit::Set {
            target: pr("x.in"),
            source: pr("k.out"),
            weight: 2.0,
            morph,
        });
    }
    m.tick(false).unwrap();
    let r = rejections(&mut m, bad.len() * 2);
    assert_eq!(r.len(), bad.len() * 2);
    for errors in &r {
        assert!(matches!(errors[..], [Rejection::BadMorph(_)]), "{errors:?}");
        assert!(errors[0].to_string().contains("0..=3600"), "{}", errors[0]);
        assert!(errors[0].to_string().len() < 80, "short: {}", errors[0]);
    }
    assert!(r[0][0].to_string().ends_with("found 1e300"), "{}", r[0][0]);
    // The longest allowed morph is taken; the removal ends the set's morph and fades from there.
    m.submit(Edit::Set {
        target: pr("x.in"),
        source: pr("k.out"),
        weight: 7.0,
        morph: MAX_MORPH_SECONDS,
    });
    m.submit(Edit::RemoveNeuron {
        name: "x".into(),
        morph: MAX_MORPH_SECONDS,
    });
    m.tick(false).unwrap();
    assert_eq!(rejections(&mut m, 2).len(), 0);
    for _ in 0..5 {
        m.tick(false).unwrap();
    }
    assert!(m.network().contains("x"), "fading out over an hour");
    let w = m.w().get(&pr("x.in"), &pr("k.out"));
    assert!(w.is_finite() && (w - 1.0).abs() < 1e-3, "{w}");
}

/// Finding 14: a rejected edit is one typed outcome, not also a message; `render` counts and
/// prints it once, from the outcome.
#[test]
fn a_rejection_is_reported_once_as_a_typed_outcome() {
    let mut m = machine(&patch_str(BASE));
    let id = m.submit(Edit::add("x.in", "nosuch.out", 1.0).unwrap());
    m.tick(false).unwrap();
    let outcomes = m.take_outcomes();
    assert!(
        matches!(&outcomes[..], [(i, EditOutcome::Rejected { errors, .. })]
            if *i == id && matches!(errors[..], [Rejection::Weight(_)])),
        "{outcomes:?}"
    );
    assert!(m.take_messages().is_empty());

    let dir = tempfile::tempdir().unwrap();
    let edits = vec![
        TimedEdit {
            tick: 2,
            edit: Edit::add("x.in", "nosuch.out", 1.0).unwrap(),
        },
        TimedEdit {
            tick: 3,
            edit: Edit::set("x.in", "k.out", 2.0).unwrap(),
        },
    ];
    let report = render_to(&patch_str(BASE), dir.path(), 10, 1000, edits, 0);
    assert_eq!(report.rejected_edits, 1);
    let lines: Vec<&str> = report
        .messages
        .iter()
        .map(|m| m.text.as_str())
        .filter(|t| t.contains("nosuch"))
        .collect();
    assert_eq!(lines.len(), 1, "{:?}", report.messages);
    assert!(
        lines[0].starts_with("edit rejected: unknown neuron \"nosuch\""),
        "{lines:?}"
    );
}

/// A backend that fails every tick and asks to be replaced.
struct Failing;

impl Backend for Failing {
    fn name(&self) -> String {
        "failing".into()
    }
    fn falls_back_to_cpu(&self) -> bool {
        true
    }
    fn set_layout(&mut self, _: &Network, _: &[Option<usize>]) -> Result<(), BackendError> {
        Ok(())
    }
    fn tick(
        &mut self,
        _: &Network,
        _: &DownPlan,
        _: &TickCtx,
        _: &mut TickOutputs,
    ) -> Result<(), BackendError> {
        Err(BackendError::DeviceLost("test".into()))
    }
    fn read_port(
        &mut self,
        _: &Network,
        _: usize,
        _: usize,
        _: bool,
    ) -> Result<Vec<f32>, BackendError> {
        Ok(Vec::new())
    }
}

/// Finding 12: the machine goes on with the backend it was given as its fallback.
#[test]
fn the_fallback_backend_is_injected() {
    let p = patch_str(BASE);
    let fallback: fn() -> Box<dyn Backend> = || Box::new(CpuBackend::new());
    let mut m = Machine::with_fallback(
        p.network.clone(),
        p.initial_w(),
        Box::new(Failing),
        fallback,
        assets(),
        0,
    )
    .unwrap();
    for _ in 0..3 {
        m.tick(false).unwrap();
    }
    assert_eq!(m.backend_name(), "cpu");
    assert_eq!(m.scalar("x.out"), Some(1.0));
    let msgs = m.take_messages();
    assert!(
        msgs.iter()
            .any(|x| x.text.contains("failing failed") && x.text.contains("cpu backend")),
        "{msgs:?}"
    );
}

/// The initial W is held to the same bound as every edit: a machine does not start on a weight
/// beyond MAX_WEIGHT, and says which one, on one line.
#[test]
fn a_machine_refuses_an_initial_weight_beyond_the_bound() {
    let p = patch_str(BASE);
    let mut w = p.initial_w();
    w.add_entry(&pr("x.in"), &pr("k.out"), 1e31);
    let err = Machine::new(
        p.network.clone(),
        w,
        Box::new(CpuBackend::new()),
        assets(),
        0,
    )
    .err()
    .map(|e| e.to_string())
    .unwrap_or_default();
    assert!(
        err.contains("x.in <- k.out") && err.contains("|w| <= 1e30") && !err.contains('\n'),
        "{err}"
    );
}

/// A neuron replaced the way hot reload replaces one (removed, then added again under the same
/// name with new settings) starts from its new `init`, not from the old neuron's state.
#[test]
fn a_replaced_neuron_starts_from_its_new_init() {
    let mut m = machine(&patch_str(BASE));
    for _ in 0..3 {
        m.tick(false).unwrap();
    }
    assert_eq!(m.scalar("x.out"), Some(1.0));
    m.submit(Edit::RemoveNeuron {
        name: "x".into(),
        morph: 0.0,
    });
    while m.network().contains("x") {
        m.tick(false).unwrap();
        assert!(m.tick_count() < 20, "never removed");
    }
    m.submit(Edit::AddNeuron {
        name: "x".into(),
        neuron: NeuronSpec::new("identity").with("init", 4),
        weights: WMatrix::single(pr("x.in"), pr("x.out"), 1.0),
    });
    for _ in 0..EDIT_LATENCY_TICKS + 5 {
        m.tick(false).unwrap();
    }
    assert!(
        m.take_outcomes()
            .iter()
            .all(|(_, o)| matches!(o, EditOutcome::Applied { .. }))
    );
    assert_eq!(m.scalar("x.out"), Some(4.0));
}

/// Found by the edit fuzz: an `init` beyond f32's range started a dense neuron at infinity.
#[test]
fn an_init_beyond_f32_is_refused() {
    let mut m = machine(&patch_str(BASE));
    m.submit(Edit::AddNeuron {
        name: "y".into(),
        neuron: NeuronSpec::new("identity").with("init", 1e39),
        weights: WMatrix::new(),
    });
    m.tick(false).unwrap();
    let r = rejections(&mut m, 1);
    assert!(
        matches!(&r[..], [e] if matches!(&e[..], [Rejection::BadNeuron { field, .. }] if field == "init")),
        "{r:?}"
    );
    assert!(r[0][0].to_string().contains("f32"), "{}", r[0][0]);
}

/// Finding 7 for requests: an `add_neuron` that would take the network's streams beyond the
/// memory budget is refused with the figures, before anything is allocated, and changes
/// nothing; a neuron that fits is then added as usual.
#[test]
fn an_added_neuron_beyond_the_memory_budget_is_refused() {
    let p = patch_str(
        r#"{
      "settings": { "tick_rate": 100, "sample_rate": 1000, "memory_budget_mb": 1 },
      "neurons": { "k": { "type": "one" }, "x": { "type": "identity" } },
      "weights": { "x.in": { "k.out": 1 } }
    }"#,
    );
    let mut m = machine(&p);
    m.tick(false).unwrap();
    let w = m.w().clone();
    let neurons = m.network().neurons.len();
    // 512² image, an input and an output: 2 MiB.
    let big = NeuronSpec::new("identity")
        .with("kind", "image")
        .with("rows", 512)
        .with("cols", 512);
    m.submit(Edit::AddNeuron {
        name: "big".into(),
        neuron: big,
        weights: WMatrix::new(),
    });
    for _ in 0..EDIT_LATENCY_TICKS + 2 {
        m.tick(false).unwrap();
    }
    let r = rejections(&mut m, 1);
    let msg = r[0][0].to_string();
    assert!(
        matches!(&r[..], [e] if matches!(&e[..], [Rejection::OverBudget { .. }])),
        "{r:?}"
    );
    assert!(
        msg.contains("add_neuron \"big\"") && msg.contains("this neuron 2.0 MiB"),
        "{msg}"
    );
    assert!(
        msg.contains("budget of 1.0 MiB (settings.memory_budget_mb)"),
        "{msg}"
    );
    assert!(!m.network().contains("big"));
    assert_eq!(m.network().neurons.len(), neurons);
    assert_eq!(m.w(), &w, "nothing changed");
    // 64² fits (32 KiB).
    m.submit(Edit::AddNeuron {
        name: "small".into(),
        neuron: NeuronSpec::new("identity")
            .with("kind", "image")
            .with("rows", 64)
            .with("cols", 64),
        weights: WMatrix::new(),
    });
    for _ in 0..EDIT_LATENCY_TICKS + 2 {
        m.tick(false).unwrap();
    }
    assert!(rejections(&mut m, 1).is_empty());
    assert!(m.network().contains("small"));
}
