//! Self, edit requests and the type-correctness rule on every path that can add a weight.

mod common;
use common::*;
use dmm_synth::engine::edits::{Edit, EditOutcome};
use dmm_synth::engine::{EDIT_LATENCY_TICKS, PortRef, WMatrix};
use dmm_synth::neurons::NeuronSpec;

fn pr(s: &str) -> PortRef {
    PortRef::parse(s).unwrap()
}

#[test]
fn waves_weight_travels_with_period_three() {
    let p = patch("waves.json");
    let dir = tempfile::tempdir().unwrap();
    render_to(&p, dir.path(), 40, 1000, vec![], 0);
    let probe = trace_series(dir.path(), "probe.out");
    // probe reads k1, k2, k3 in turn: 1, 2, 3, 1, 2, 3, ...
    for (t, v) in probe.iter().enumerate() {
        assert_eq!(*v, (t % 3 + 1) as f64, "tick {t}: {probe:?}");
    }
    // The smallest period of the sequence is 3.
    let period = (1..10)
        .find(|&d| probe.iter().zip(&probe[d..]).all(|(a, b)| a == b))
        .unwrap();
    assert_eq!(period, 3);
}

#[test]
fn waves_w_cycles_through_three_matrices() {
    let p = patch("waves.json");
    let mut m = machine(&p);
    let mut ws: Vec<WMatrix> = Vec::new();
    for _ in 0..7 {
        m.tick(false).unwrap();
        ws.push(m.w().clone());
    }
    assert_ne!(ws[0], ws[1]);
    assert_ne!(ws[1], ws[2]);
    assert_eq!(ws[0], ws[3], "W returns after 3 ticks");
    assert_eq!(ws[1], ws[4]);
    // Exactly one probe link at a time, weight 1: the subtract-me-add-next cancels exactly.
    for w in &ws {
        let row = w.row(&pr("probe.in")).unwrap();
        assert_eq!(row.len(), 1, "{row:?}");
        assert_eq!(*row.values().next().unwrap(), 1.0);
        assert_eq!(
            w.row(&pr("self.delta")).unwrap().len(),
            2,
            "edits + one update"
        );
    }
}

const COUNTER: &str = r#"{
  "settings": { "tick_rate": 100, "sample_rate": 1000 },
  "neurons": {
    "k": { "type": "one" },
    "x": { "type": "identity" },
    "acc": { "type": "accum" },
    "ph": { "type": "phasor" }
  },
  "weights": {
    "x.in": { "k.out": 1 },
    "acc.accum": { "acc.out": 1 },
    "acc.delta": { "k.out": 1 },
    "ph.freq": { "k.out": 7 }
  }
}"#;

#[test]
fn an_edit_changes_the_output_exactly_at_the_documented_tick() {
    let mut m = machine(&patch_str(COUNTER));
    let t_edit = 10;
    let mut xs = Vec::new();
    for t in 0..20 {
        if t == t_edit {
            m.submit(Edit::set("x.in", "k.out", 5.0).unwrap());
        }
        m.tick(false).unwrap();
        xs.push(m.scalar("x.out").unwrap());
    }
    let first = (t_edit + EDIT_LATENCY_TICKS) as usize;
    assert_eq!(EDIT_LATENCY_TICKS, 2);
    for (t, &v) in xs.iter().enumerate() {
        let want = if t < first { 1.0 } else { 5.0 };
        assert_eq!(v, want, "tick {t}: {xs:?}");
    }
}

#[test]
fn state_survives_an_unrelated_edit() {
    let mut m = machine(&patch_str(COUNTER));
    let mut acc = Vec::new();
    let mut ph = Vec::new();
    for t in 0..40 {
        if t == 15 {
            m.submit(Edit::set("x.in", "k.out", -3.0).unwrap());
        }
        m.tick(false).unwrap();
        acc.push(m.scalar("acc.out").unwrap());
        ph.push(m.scalar("ph.out").unwrap());
    }
    for (t, &a) in acc.iter().enumerate() {
        assert_eq!(a, (t + 1) as f32, "accumulator at tick {t}");
    }
    for t in 1..ph.len() {
        let d = (ph[t] - ph[t - 1]).rem_euclid(1.0);
        assert!((d - 0.07).abs() < 1e-5, "phase step {d} at tick {t}");
    }
}

#[test]
fn add_and_remove_a_neuron_in_one_request_each() {
    let mut m = machine(&patch_str(COUNTER));
    m.tick(false).unwrap();
    let mut w = WMatrix::new();
    w.add_entry(&pr("y.x"), &pr("x.out"), 2.0);
    let id = m.submit(Edit::AddNeuron {
        name: "y".into(),
        neuron: NeuronSpec::new("tanh"),
        weights: w,
    });
    for _ in 0..4 {
        m.tick(false).unwrap();
    }
    assert!(matches!(m.take_outcomes()[..], [(i, EditOutcome::Applied { .. })] if i == id));
    assert_eq!(m.scalar("y.out").unwrap(), 2.0f32.tanh());
    assert_eq!(m.w().get(&pr("y.x"), &pr("x.out")), 2.0);

    m.submit(Edit::RemoveNeuron {
        name: "y".into(),
        morph: 0.0,
    });
    m.tick(false).unwrap();
    assert!(
        m.network().contains("y"),
        "removed only after its weights are gone"
    );
    for _ in 0..EDIT_LATENCY_TICKS {
        m.tick(false).unwrap();
    }
    assert!(!m.network().contains("y"));
    assert!(m.w().touching("y").is_empty());
    assert!(m.scalar("y.out").is_none());
    // The rest of the network never stopped.
    assert_eq!(m.scalar("acc.out").unwrap(), m.tick_count() as f32);
}

/// `remove_neuron` with a morph: the neuron's connections fade out evenly over that time (the
/// program deforms continuously), then the neuron goes, with nothing left over.
#[test]
fn remove_neuron_with_morph_fades_its_connections_out_first() {
    let mut m = machine(&patch_str(COUNTER));
    let w = WMatrix::single(pr("y.in"), pr("k.out"), 2.0);
    m.submit(Edit::AddNeuron {
        name: "y".into(),
        neuron: NeuronSpec::new("identity"),
        weights: w,
    });
    for _ in 0..4 {
        m.tick(false).unwrap();
    }
    assert_eq!(m.scalar("y.out"), Some(2.0));
    // COUNTER runs at 100 ticks/s: 0.1 s is 10 steps of -0.2.
    m.submit(Edit::RemoveNeuron {
        name: "y".into(),
        morph: 0.1,
    });
    let mut seen = Vec::new();
    while m.network().contains("y") {
        m.tick(false).unwrap();
        if let Some(v) = m.scalar("y.out") {
            seen.push(v);
        }
        assert!(seen.len() < 40, "never removed: {seen:?}");
    }
    let steps: Vec<f32> = seen
        .windows(2)
        .map(|p| p[1] - p[0])
        .filter(|d| *d != 0.0)
        .collect();
    assert_eq!(steps.len(), 10, "ten equal steps down: {seen:?}");
    for d in &steps {
        assert!((d + 0.2).abs() < 1e-6, "{seen:?}");
    }
    assert_eq!(
        *seen.last().unwrap(),
        0.0,
        "faded to 0 before it went: {seen:?}"
    );
    assert!(m.w().touching("y").is_empty());
    assert!(
        m.take_messages()
            .iter()
            .all(|x| !x.text.contains("dropped")),
        "nothing left over to drop"
    );
    assert_eq!(m.scalar("acc.out").unwrap(), m.tick_count() as f32);
}

#[test]
fn bad_edits_are_rejected_and_change_nothing() {
    let mut m = machine(&patch_str(COUNTER));
    m.tick(false).unwrap();
    let before = m.w().clone();
    let net_before = m.network().neurons.len();
    let bad = vec![
        Edit::add("x.in", "nosuch.out", 1.0).unwrap(),
        Edit::add("x.nosuch", "k.out", 1.0).unwrap(),
        Edit::add("x.in", "k.nosuch", 1.0).unwrap(),
        Edit::add("x.in", "k.out", f64::NAN).unwrap(),
        Edit::add("self.accum", "self.out", 1.0).unwrap(),
        Edit::Remove {
            target: pr("x.in"),
            source: pr("acc.out"),
        },
        Edit::AddNeuron {
            name: "img".into(),
            neuron: NeuronSpec::new("sin").with("kind", "image"),
            // kind mismatch: a scalar into an image input
            weights: WMatrix::single(pr("img.x"), pr("k.out"), 1.0),
        },
        Edit::AddNeuron {
            name: "x".into(),
            neuron: NeuronSpec::new("tanh"),
            weights: WMatrix::new(),
        },
        Edit::RemoveNeuron {
            name: "self".into(),
            morph: 0.0,
        },
        Edit::RemoveNeuron {
            name: "x".into(),
            morph: -1.0,
        },
        Edit::Batch {
            edits: vec![
                Edit::set("x.in", "k.out", 9.0).unwrap(),
                Edit::add("x.in", "nosuch.out", 1.0).unwrap(),
            ],
        },
    ];
    let n = bad.len();
    for e in bad {
        m.submit(e);
    }
    for _ in 0..4 {
        m.tick(false).unwrap();
    }
    let outcomes = m.take_outcomes();
    assert_eq!(outcomes.len(), n);
    let mut texts = Vec::new();
    for (_, o) in &outcomes {
        match o {
            EditOutcome::Rejected { errors, .. } => {
                assert!(!errors.is_empty());
                texts.extend(errors.iter().map(|e| e.to_string()));
            }
            other => panic!("expected a rejection, got {other:?}"),
        }
    }
    assert_eq!(m.w(), &before, "W unchanged");
    assert_eq!(m.network().neurons.len(), net_before, "catalogue unchanged");
    assert_eq!(m.scalar("x.out").unwrap(), 1.0);
    // Reported once, as outcomes: no message repeats a rejection.
    let msgs = m.take_messages();
    assert!(msgs.is_empty(), "{msgs:?}");
    let all = texts.join("\n");
    for needle in [
        "unknown neuron \"nosuch\"",
        "has no input port \"nosuch\"",
        "has no output port \"nosuch\"",
        "not finite",
        "self.accum",
        "no connection x.in <- acc.out",
        "kind mismatch: img.x is image 128x128 but k.out is scalar",
        "already exists",
        "cannot be removed",
    ] {
        assert!(all.contains(needle), "missing {needle:?} in:\n{all}");
    }
}

#[test]
fn self_modification_cannot_make_w_ill_typed() {
    // `u` holds a constant update for a.x <- k.out. After `a` is replaced by an image-kind
    // neuron of the same name, feeding `u` into Self must be rejected entry by entry.
    let p = patch_str(
        r#"{
      "neurons": {
        "k": { "type": "one" },
        "a": { "type": "sin" },
        "u": { "type": "identity", "kind": "matrix", "init": { "a.x": { "k.out": 1 } } }
      },
      "weights": { "u.in": { "u.out": 1 } }
    }"#,
    );
    let mut m = machine(&p);
    m.submit(Edit::RemoveNeuron {
        name: "a".into(),
        morph: 0.0,
    });
    for _ in 0..3 {
        m.tick(false).unwrap();
    }
    assert!(!m.network().contains("a"));
    m.submit(Edit::AddNeuron {
        name: "a".into(),
        neuron: NeuronSpec::new("sin")
            .with("kind", "image")
            .with("rows", 4)
            .with("cols", 4),
        weights: WMatrix::new(),
    });
    m.submit(Edit::add("self.delta", "u.out", 1.0).unwrap());
    for _ in 0..4 {
        m.tick(false).unwrap();
    }
    assert!(
        m.take_outcomes()
            .iter()
            .all(|(_, o)| matches!(o, EditOutcome::Applied { .. }))
    );
    assert_eq!(
        m.w().get(&pr("a.x"), &pr("k.out")),
        0.0,
        "ill-typed entry never lands"
    );
    let texts: Vec<String> = m.take_messages().into_iter().map(|m| m.text).collect();
    assert!(
        texts
            .iter()
            .any(|t| t.starts_with("self: delta entry a.x <- k.out rejected")
                && t.contains("kind mismatch")),
        "{texts:?}"
    );
    // With a well-typed update the same path works: Self adds it every tick.
    let mut m = machine(&patch_str(
        r#"{
      "neurons": {
        "k": { "type": "one" }, "a": { "type": "identity" },
        "u": { "type": "identity", "kind": "matrix", "init": { "a.in": { "k.out": 1 } } }
      },
      "weights": { "u.in": { "u.out": 1 }, "self.delta": { "u.out": 1 } }
    }"#,
    ));
    for _ in 0..5 {
        m.tick(false).unwrap();
    }
    assert_eq!(m.w().get(&pr("a.in"), &pr("k.out")), 5.0);
}

#[test]
fn morphs_spread_a_change_evenly() {
    let mut m = machine(&patch_str(COUNTER));
    m.tick(false).unwrap();
    // 0.1 s at 100 ticks/s: ten equal steps from 1 to 3.
    m.submit(Edit::Set {
        target: pr("x.in"),
        source: pr("k.out"),
        weight: 3.0,
        morph: 0.1,
    });
    let mut ws = Vec::new();
    for _ in 0..14 {
        m.tick(false).unwrap();
        ws.push(m.w().get(&pr("x.in"), &pr("k.out")));
    }
    let steps: Vec<f64> = ws
        .windows(2)
        .map(|w| w[1] - w[0])
        .filter(|d| *d != 0.0)
        .collect();
    assert_eq!(steps.len(), 10, "{ws:?}");
    for d in &steps {
        assert!((d - 0.2).abs() < 1e-12, "{ws:?}");
    }
    assert_eq!(*ws.last().unwrap(), 3.0, "lands exactly");
}

#[test]
fn engine_thread_takes_edits_and_publishes_snapshots() {
    use dmm_synth::engine::thread::{Pace, spawn};
    let m = machine(&patch_str(COUNTER));
    let h = spawn(m, Pace::Free, 0);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while h.latest().is_none() {
        assert!(std::time::Instant::now() < deadline, "no snapshot");
        std::thread::yield_now();
    }
    h.send(Edit::set("x.in", "k.out", 4.0).unwrap());
    loop {
        let s = h.latest().unwrap();
        if s.scalars.iter().any(|(n, v)| n == "x.out" && *v == 4.0) {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "edit never arrived");
        std::thread::yield_now();
    }
    let m = h.stop().unwrap();
    assert!(m.tick_count() > 2);
}

#[test]
fn a_connection_morphed_to_zero_disappears() {
    let mut m = machine(&patch_str(COUNTER));
    m.tick(false).unwrap();
    m.submit(Edit::Set {
        target: pr("x.in"),
        source: pr("k.out"),
        weight: 0.0,
        morph: 0.07,
    });
    for _ in 0..12 {
        m.tick(false).unwrap();
    }
    assert!(
        m.w().row(&pr("x.in")).is_none(),
        "{:?}",
        m.w().row(&pr("x.in"))
    );
    assert_eq!(m.scalar("x.out").unwrap(), 0.0);
}

#[test]
fn scalars_stay_with_their_names_when_the_catalogue_changes() {
    let mut m = machine(&patch_str(COUNTER));
    let mut acc = Vec::new();
    for t in 0..8 {
        if t == 3 {
            // The catalogue changes in the middle of this tick: its read-back must stay current.
            m.submit(Edit::AddNeuron {
                name: "a0".into(),
                neuron: NeuronSpec::new("identity"),
                weights: WMatrix::new(),
            });
        }
        m.tick(false).unwrap();
        acc.push(m.scalar("acc.out").unwrap());
    }
    assert_eq!(acc, [1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0]);
}
