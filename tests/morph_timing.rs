//! Every request's first effect is at t+2, morph or not (issue 8, finding 1): a morph of n ticks
//! taken at tick t first shows at t+2 and lands exactly at t+n+1; `remove_neuron` fades over the
//! same ticks and the neuron leaves at the start of t+2+n.

mod common;
use common::*;
use dmm_synth::engine::edits::Edit;
use dmm_synth::engine::{EDIT_LATENCY_TICKS, Machine, PortRef, WMatrix};
use dmm_synth::neurons::NeuronSpec;

fn pr(s: &str) -> PortRef {
    PortRef::parse(s).unwrap()
}

/// tick_rate 100: a morph of 0.05 s is 5 ticks.
const P: &str = r#"{
  "settings": { "tick_rate": 100, "sample_rate": 1000 },
  "neurons": { "one": { "type": "one" }, "p": { "type": "identity" }, "q": { "type": "identity" } },
  "weights": { "p.in": { "one.out": 1 }, "q.in": { "one.out": 2 } }
}"#;

/// Runs `ticks` ticks, submitting `edit` just before tick `at` runs; `port` after every tick.
fn series(m: &mut Machine, at: u64, edit: Edit, ticks: u64, port: &str) -> Vec<f32> {
    let mut out = Vec::new();
    for t in 0..ticks {
        if t == at {
            m.submit(edit.clone());
        }
        m.tick(false).unwrap();
        out.push(m.scalar(port).unwrap_or(f32::NAN));
    }
    out
}

fn set(target: &str, source: &str, weight: f64, morph: f64) -> Edit {
    Edit::Set {
        target: pr(target),
        source: pr(source),
        weight,
        morph,
    }
}

/// The issue's example: `set p.in <- one.out = 2, morph 0.05` at tick 10 gives 1 through tick
/// 11, 1.2 at tick 12 and 2 from tick 16 on.
#[test]
fn a_morphing_set_first_shows_at_t_plus_2_and_lands_at_t_plus_n_plus_1() {
    let mut m = machine(&patch_str(P));
    let p = series(&mut m, 10, set("p.in", "one.out", 2.0, 0.05), 22, "p.out");
    for (t, &v) in p.iter().enumerate().take(12) {
        assert_eq!(v, 1.0, "tick {t}: {p:?}");
    }
    for (k, t) in (12..16).enumerate() {
        let want = 1.0 + 0.2 * (k + 1) as f32;
        assert!((p[t] - want).abs() < 1e-6, "tick {t}: want {want}: {p:?}");
    }
    for (t, &v) in p.iter().enumerate().skip(16) {
        assert_eq!(v, 2.0, "lands exactly at tick 16; tick {t}: {p:?}");
    }
    assert_eq!(m.w().get(&pr("p.in"), &pr("one.out")), 2.0);
}

/// The same rule for every morph length, for `add` and `delta` as for `set`, and without a morph.
#[test]
fn first_and_last_step_ticks_for_every_morph_length_and_request() {
    let tick_rate = 100.0;
    for n in [0u64, 1, 2, 3, 7, 40] {
        let morph = n as f64 / tick_rate;
        let edits = [
            set("p.in", "one.out", 3.0, morph),
            Edit::Add {
                target: pr("p.in"),
                source: pr("one.out"),
                weight: 2.0,
                morph,
            },
            Edit::Delta {
                weights: WMatrix::single(pr("p.in"), pr("one.out"), 2.0),
                morph,
            },
        ];
        for e in edits {
            let at = 5;
            let mut m = machine(&patch_str(P));
            let p = series(&mut m, at, e.clone(), at + n + 8, "p.out");
            let first = (at + EDIT_LATENCY_TICKS) as usize;
            let land = (at + n.max(1) + 1) as usize;
            assert!(p[..first].iter().all(|&v| v == 1.0), "n {n} {e:?}: {p:?}");
            assert_ne!(p[first], 1.0, "first step at t+2; n {n} {e:?}: {p:?}");
            if land > first {
                assert_ne!(
                    p[land - 1],
                    3.0,
                    "not landed before t+n+1; n {n} {e:?}: {p:?}"
                );
            }
            assert!(
                p[land..].iter().all(|&v| v == 3.0),
                "lands exactly at t+n+1 = {land}; n {n} {e:?}: {p:?}"
            );
        }
    }
}

/// `remove_neuron` with a fade of n ticks taken at t: its connections step down from t+2, reach
/// 0 in the down stroke of t+n+1, and the neuron leaves the catalogue at the start of t+2+n
/// (t+2 without a morph).
#[test]
fn remove_neuron_leaves_at_t_plus_2_plus_n() {
    for n in [0u64, 1, 2, 5] {
        let at = 4;
        let mut m = machine(&patch_str(P));
        let mut q = Vec::new();
        let mut present = Vec::new();
        for t in 0..at + n + 6 {
            if t == at {
                m.submit(Edit::RemoveNeuron {
                    name: "q".into(),
                    morph: n as f64 / 100.0,
                });
            }
            m.tick(false).unwrap();
            present.push(m.network().contains("q"));
            q.push(m.scalar("q.out"));
        }
        let gone = (at + EDIT_LATENCY_TICKS + n) as usize;
        for (t, &p) in present.iter().enumerate() {
            assert_eq!(p, t < gone, "n {n}: tick {t}: {present:?}");
        }
        assert!(
            q[..at as usize + 2].iter().all(|&v| v == Some(2.0)),
            "n {n}: {q:?}"
        );
        if n >= 1 {
            // The last down stroke with q in the catalogue used weight 0.
            assert_eq!(q[gone - 1], Some(0.0), "n {n}: {q:?}");
            let steps = q[..gone].windows(2).filter(|w| w[0] != w[1]).count();
            assert_eq!(steps as u64, n, "n {n} equal steps: {q:?}");
        }
        assert!(m.w().touching("q").is_empty());
        assert_eq!(m.scalar("p.out"), Some(1.0), "the rest keeps running");
    }
}

/// An added neuron joins the catalogue at the end of tick t+1, when Self has added its weights
/// (W and the catalogue agree in every snapshot), reading its `init`; it first runs at t+2.
#[test]
fn add_neuron_joins_at_the_end_of_t_plus_1_and_first_runs_at_t_plus_2() {
    let mut m = machine(&patch_str(P));
    let at = 3;
    let mut seen = Vec::new();
    for t in 0..at + 5 {
        if t == at {
            m.submit(Edit::AddNeuron {
                name: "y".into(),
                neuron: NeuronSpec::new("identity").with("init", 7),
                weights: WMatrix::single(pr("y.in"), pr("one.out"), 0.5),
            });
        }
        m.tick(false).unwrap();
        seen.push(m.scalar("y.out"));
        // Every weight in W joins ports of the catalogue.
        for (t, s, _) in m.w().entries() {
            let net = m.network();
            assert!(
                net.input_port(t).is_ok() && net.output_port(s).is_ok(),
                "{t} <- {s}"
            );
        }
    }
    let first = (at + EDIT_LATENCY_TICKS) as usize;
    for (t, v) in seen.iter().enumerate() {
        let want = match t {
            t if t + 1 < first => None,
            t if t + 1 == first => Some(7.0),
            _ => Some(0.5),
        };
        assert_eq!(*v, want, "tick {t}: {seen:?}");
    }
}
