//! Performing: history (undo/redo through Self), scenes (stored, recalled, saved beside the
//! patch), the A/B crossfader, opening another patch as a morph. Headless, null sink, CPU.
//!
//! No timing asserts: every wait has a generous deadline and the checks are on values.

use dmm_synth::backend::cpu::CpuBackend;
use dmm_synth::engine::PortRef;
use dmm_synth::engine::edits::Edit;
use dmm_synth::live::program::Program;
use dmm_synth::live::scenes::scenes_path;
use dmm_synth::live::{Live, LiveEvent, LiveOptions};
use dmm_synth::neurons::NeuronSpec;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

const DEADLINE: Duration = Duration::from_secs(60);

/// k=1; x, y, z identities; acc counts ticks; ph is a phasor at 7 Hz (scalar).
const BASE: &str = r#"{
  "settings": { "tick_rate": 100, "sample_rate": 1600 },
  "neurons": {
    "k": { "type": "one" },
    "x": { "type": "identity" },
    "y": { "type": "identity" },
    "z": { "type": "tanh" },
    "acc": { "type": "accum" },
    "ph": { "type": "phasor" }
  },
  "weights": {
    "x.in": { "k.out": 1 },
    "y.in": { "x.out": 0.5, "k.out": 0.25 },
    "z.x": { "y.out": 2 },
    "acc.accum": { "acc.out": 1 },
    "acc.delta": { "k.out": 1 },
    "ph.freq": { "k.out": 7 }
  }
}"#;

fn pr(s: &str) -> PortRef {
    PortRef::parse(s).unwrap()
}

fn temp_patch(text: &str) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("base.json");
    std::fs::write(&p, text).unwrap();
    (dir, p)
}

fn open(path: &Path) -> Live {
    let o = LiveOptions {
        audio: false,
        watch: false,
        capture_every: 0,
        morph: Some(0.0),
        trace: None,
    };
    Live::open(path, Box::new(CpuBackend::new()), o).unwrap_or_else(|e| panic!("{e}"))
}

/// The running program once everything sent has landed: catalogue (as a map: an undone
/// removal puts the neuron back at the end) and W.
fn running(live: &mut Live) -> (BTreeMap<String, NeuronSpec>, Program) {
    live.wait_landed();
    for e in live.poll() {
        if let LiveEvent::Outcome { outcome, .. } = &e {
            assert!(outcome.reasons().is_empty(), "{e:?}");
        }
    }
    let s = live.engine().latest().unwrap();
    let p = Program::running(&s.net, &s.w);
    (p.neurons.iter().cloned().collect(), p)
}

fn scalar(live: &Live, name: &str) -> Option<(u64, f32)> {
    let s = live.engine().latest()?;
    let v = s.scalars.iter().find(|(n, _)| n == name).map(|(_, v)| *v)?;
    Some((s.tick, v))
}

fn wait_ticks(live: &mut Live, n: u64) {
    let t0 = Instant::now();
    let until = live.engine().latest().map_or(0, |s| s.tick) + n;
    while live.engine().latest().map_or(0, |s| s.tick) < until {
        live.poll();
        assert!(t0.elapsed() < DEADLINE, "the engine stopped ticking");
        std::thread::sleep(Duration::from_millis(2));
    }
}

/// A small deterministic generator (no dependency, same run every time).
struct Lcg(u64);
impl Lcg {
    fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        self.0 >> 33
    }
    fn pick<'a, T>(&mut self, xs: &'a [T]) -> &'a T {
        &xs[self.next() as usize % xs.len()]
    }
    fn weight(&mut self) -> f64 {
        (self.next() % 2001) as f64 / 1000.0 - 1.0
    }
}

/// One random performer action on the identities (weights, added and removed neurons).
fn random_edit(rng: &mut Lcg, i: usize, names: &mut Vec<String>) -> (String, Edit) {
    let src = |rng: &mut Lcg, names: &[String]| pr(&format!("{}.out", rng.pick(names)));
    // `k` (a constant) has no input and stays.
    let dst = |rng: &mut Lcg, names: &[String]| pr(&format!("{}.in", rng.pick(&names[1..])));
    match rng.next() % 5 {
        0 if names.len() > 3 => {
            let n = names.remove(1 + rng.next() as usize % (names.len() - 1));
            (
                format!("remove {n}"),
                Edit::RemoveNeuron {
                    name: n,
                    morph: 0.0,
                },
            )
        }
        1 => {
            let n = format!("n{i}");
            let mut w = dmm_synth::stream::wmatrix::WMatrix::new();
            w.add_entry(&pr(&format!("{n}.in")), &src(rng, names), rng.weight());
            w.add_entry(&dst(rng, names), &pr(&format!("{n}.out")), rng.weight());
            let mut spec = NeuronSpec::new("identity");
            spec.settings
                .insert("init".into(), serde_json::json!(rng.weight()));
            names.push(n.clone());
            (
                format!("add {n}"),
                Edit::AddNeuron {
                    name: n,
                    neuron: spec,
                    weights: w,
                },
            )
        }
        2 => {
            let (t, s) = (dst(rng, names), src(rng, names));
            let w = rng.weight();
            (
                format!("{t} += {w}"),
                Edit::Add {
                    target: t,
                    source: s,
                    weight: w,
                    morph: 0.0,
                },
            )
        }
        _ => {
            let (t, s) = (dst(rng, names), src(rng, names));
            let w = rng.weight();
            (
                format!("{t} <- {w} {s}"),
                Edit::Set {
                    target: t,
                    source: s,
                    weight: w,
                    morph: 0.0,
                },
            )
        }
    }
}

/// A row typed in the code pane and evaluated (`eval_snippet`) against what runs now: the
/// whole row is set, entries it does not name go.
fn evaluated_line(live: &mut Live, rng: &mut Lcg, names: &[String]) -> (String, Edit) {
    live.wait_landed();
    let s = live.engine().latest().unwrap();
    let t = rng.pick(&names[1..]).clone();
    let (a, b) = (rng.pick(names).clone(), rng.pick(names).clone());
    let line = format!(
        "{t}.in <- {} {a}.out + {} {b}.out",
        rng.weight(),
        rng.weight()
    );
    let assets = dmm_synth::neurons::AssetDirs::default();
    let e = dmm_synth::patch::text::eval_snippet(&line, 1, &s.net, &s.w, &assets, 0.0)
        .unwrap_or_else(|e| panic!("{line}: {e:?}"))
        .unwrap_or_else(|| panic!("{line} changes something"));
    (format!("eval {line}"), e)
}

#[test]
fn twenty_random_edits_undone_give_the_start_and_redone_give_the_end() {
    let (_dir, path) = temp_patch(BASE);
    let mut live = open(&path);
    wait_ticks(&mut live, 3);
    let start = running(&mut live);
    let mut rng = Lcg(0x5eed);
    let mut names: Vec<String> = ["k", "x", "y"].iter().map(|s| s.to_string()).collect();
    // Sent back to back: each action's "before" includes the ones still on their way.
    for i in 0..20 {
        let (what, e) = if i % 4 == 3 {
            evaluated_line(&mut live, &mut rng, &names)
        } else {
            random_edit(&mut rng, i, &mut names)
        };
        live.perform(&what, e).unwrap();
    }
    let end = running(&mut live);
    assert_eq!(live.history().entries().len(), 20, "one entry per action");
    let whats: Vec<&str> = live
        .history()
        .entries()
        .iter()
        .map(|e| e.what.as_str())
        .collect();
    for kind in ["remove ", "add ", "+=", "<-", "eval "] {
        assert!(
            whats.iter().any(|w| w.contains(kind)),
            "no {kind} in {whats:?}"
        );
    }
    assert_eq!(live.history().head(), 20);
    assert_ne!(start, end, "the edits changed something");

    for _ in 0..20 {
        live.undo().unwrap();
    }
    assert_eq!(live.history().head(), 0);
    let back = running(&mut live);
    assert_eq!(back.0, start.0, "the start's catalogue");
    assert_eq!(back.1.weights, start.1.weights, "the start's W, exactly");

    live.go_to(20).unwrap();
    let fwd = running(&mut live);
    assert_eq!(fwd.0, end.0, "the end's catalogue");
    assert_eq!(fwd.1.weights, end.1.weights, "the end's W, exactly");

    // Half way back by a click in the list, then a new action drops what was undone.
    live.go_to(10).unwrap();
    live.perform(
        "x.in <- 0.125 k.out",
        Edit::set("x.in", "k.out", 0.125).unwrap(),
    )
    .unwrap();
    assert_eq!(live.history().entries().len(), 11);
    let ev = live.poll();
    live.redo().unwrap();
    let ev2 = live.poll();
    assert!(
        ev.iter()
            .chain(&ev2)
            .any(|e| matches!(e, LiveEvent::Message(m) if m.text == "nothing to redo")),
        "{ev:?} {ev2:?}"
    );
    live.stop();
}

#[test]
fn a_removed_neuron_comes_back_with_its_settings_init_and_connections() {
    let (_dir, path) = temp_patch(&BASE.replace(
        r#""y": { "type": "identity" }"#,
        r#""y": { "type": "identity", "init": 0.75, "comment": "kept" }"#,
    ));
    let mut live = open(&path);
    wait_ticks(&mut live, 3);
    let start = running(&mut live);
    live.perform(
        "remove y",
        Edit::RemoveNeuron {
            name: "y".into(),
            morph: 0.0,
        },
    )
    .unwrap();
    let gone = running(&mut live);
    assert!(
        !gone.0.contains_key("y"),
        "{:?} {:?}",
        gone.0.keys(),
        live.poll()
    );
    assert_eq!(gone.1.weights.get(&pr("z.x"), &pr("y.out")), 0.0);
    live.undo().unwrap();
    let back = running(&mut live);
    assert_eq!(back.0["y"], start.0["y"], "type, settings, init");
    assert_eq!(back.1.weights, start.1.weights, "connections");
    let msgs: Vec<String> = live
        .poll()
        .into_iter()
        .filter_map(|e| match e {
            LiveEvent::Message(m) => Some(m.text),
            _ => None,
        })
        .collect();
    let _ = msgs;
    live.stop();
}

#[test]
fn a_rejected_action_leaves_no_history_entry() {
    let (_dir, path) = temp_patch(BASE);
    let mut live = open(&path);
    wait_ticks(&mut live, 3);
    live.perform("x.in <- 2 k.out", Edit::set("x.in", "k.out", 2.0).unwrap())
        .unwrap();
    // An image-free patch has no `nope` neuron: the engine rejects it.
    live.perform(
        "nope.in <- 1 k.out",
        Edit::set("nope.in", "k.out", 1.0).unwrap(),
    )
    .unwrap();
    live.wait_landed();
    let t0 = Instant::now();
    while live.history().entries().len() != 1 {
        live.poll();
        assert!(
            t0.elapsed() < DEADLINE,
            "the rejection never took the entry back"
        );
        std::thread::sleep(Duration::from_millis(2));
    }
    assert_eq!(live.history().entries()[0].what, "x.in <- 2 k.out");
    live.stop();
}

/// (tick − acc) and (phase − 0.07·tick) mod 1: constant while the accumulator and the phasor
/// keep their state.
fn state_marks(live: &mut Live) -> (f64, f64) {
    wait_ticks(live, 2);
    let s = live.engine().latest().unwrap();
    let get = |n: &str| s.scalars.iter().find(|(k, _)| k == n).unwrap().1 as f64;
    let t = s.tick as f64;
    (
        t - get("acc.out"),
        (get("ph.out") - 0.07 * t).rem_euclid(1.0),
    )
}

fn assert_same_state(a: (f64, f64), b: (f64, f64)) {
    assert_eq!(a.0, b.0, "the accumulator kept counting");
    let d = (a.1 - b.1).rem_euclid(1.0);
    assert!(d.min(1.0 - d) < 1e-3, "the phase is unbroken: {a:?} {b:?}");
}

#[test]
fn crossfader_gives_a_the_mean_and_b_and_fades_one_sided_neurons() {
    let (_dir, path) = temp_patch(BASE);
    let mut live = open(&path);
    wait_ticks(&mut live, 3);
    let marks = state_marks(&mut live);
    live.store_scene(1).unwrap();
    let wa = running(&mut live).1.weights;
    live.perform("x.in <- 5 k.out", Edit::set("x.in", "k.out", 5.0).unwrap())
        .unwrap();
    live.perform(
        "y.in <- -1 x.out",
        Edit::set("y.in", "x.out", -1.0).unwrap(),
    )
    .unwrap();
    let mut w = dmm_synth::stream::wmatrix::WMatrix::new();
    w.add_entry(&pr("b.in"), &pr("k.out"), 2.0);
    live.perform(
        "add b",
        Edit::AddNeuron {
            name: "b".into(),
            neuron: NeuronSpec::new("identity"),
            weights: w,
        },
    )
    .unwrap();
    live.perform(
        "remove z",
        Edit::RemoveNeuron {
            name: "z".into(),
            morph: 0.0,
        },
    )
    .unwrap();
    live.store_scene(2).unwrap();
    let wb = running(&mut live).1.weights;

    let at = |live: &mut Live, alpha: f64| {
        live.crossfade(1, 2, alpha).unwrap();
        let t0 = Instant::now();
        loop {
            live.poll();
            let r = running(live);
            if r.1.weights
                == dmm_synth::live::scenes::mix(
                    live.scenes().get(1).unwrap(),
                    live.scenes().get(2).unwrap(),
                    alpha,
                )
                .weights
            {
                return r;
            }
            assert!(
                t0.elapsed() < DEADLINE,
                "the crossfader never reached {alpha}"
            );
        }
    };
    let a = at(&mut live, 0.0);
    assert_eq!(a.1.weights, wa, "α = 0 gives W_A exactly");
    assert!(!a.0.contains_key("b") && a.0.contains_key("z"));
    let m = at(&mut live, 0.5);
    assert!(
        m.0.contains_key("b") && m.0.contains_key("z"),
        "both sides present"
    );
    let keys: std::collections::BTreeSet<_> = wa
        .entries()
        .chain(wb.entries())
        .map(|(t, s, _)| (t.clone(), s.clone()))
        .collect();
    for (t, s) in &keys {
        let mean = (wa.get(t, s) + wb.get(t, s)) / 2.0;
        assert_eq!(m.1.weights.get(t, s), mean, "α = 0.5 at {t} <- {s}");
    }
    assert_eq!(
        m.1.weights.get(&pr("b.in"), &pr("k.out")),
        1.0,
        "b fades in"
    );
    let b = at(&mut live, 1.0);
    assert_eq!(b.1.weights, wb, "α = 1 gives W_B exactly");
    assert!(b.0.contains_key("b") && !b.0.contains_key("z"));
    let back = at(&mut live, 0.0);
    assert!(
        !back.0.contains_key("b"),
        "b is removed when α returns to 0"
    );
    assert_eq!(back.1.weights, wa);
    assert_same_state(marks, state_marks(&mut live));
    live.stop();
}

#[test]
fn scenes_recall_as_a_morph_and_live_beside_the_patch_file() {
    let (dir, path) = temp_patch(BASE);
    let mut live = open(&path);
    wait_ticks(&mut live, 3);
    let marks = state_marks(&mut live);
    live.store_scene(3).unwrap();
    let start = running(&mut live);
    live.perform("x.in <- 4 k.out", Edit::set("x.in", "k.out", 4.0).unwrap())
        .unwrap();
    live.perform(
        "remove y",
        Edit::RemoveNeuron {
            name: "y".into(),
            morph: 0.0,
        },
    )
    .unwrap();
    live.store_scene(4).unwrap();
    live.recall_scene(3).unwrap();
    let back = running(&mut live);
    assert_eq!(back.0, start.0);
    assert_eq!(back.1.weights, start.1.weights);
    assert_eq!(
        live.history().entries().last().unwrap().what,
        "recall scene 3 over 0 s"
    );
    // The recall is one entry: undo goes back to scene 4's program.
    live.undo().unwrap();
    assert!(!running(&mut live).0.contains_key("y"));
    assert_same_state(marks, state_marks(&mut live));
    assert!(live.recall_scene(7).is_err(), "an empty slot says so");
    assert!(live.store_scene(10).is_err());
    // Save as: the scenes go beside the new file too.
    let other = dir.path().join("other.json");
    live.save_as(&other).unwrap();
    assert!(dir.path().join("other.scenes.json").exists());
    live.stop();

    // Saved next to the patch; a new run on the patch has them.
    let side = scenes_path(&path);
    assert_eq!(side, dir.path().join("base.scenes.json"));
    let mut again = open(&path);
    assert_eq!(again.scenes().filled()[2..4], [true, true]);
    assert_eq!(again.scenes().get(3).unwrap().weights, start.1.weights);
    again.recall_scene(4).unwrap();
    assert!(!running(&mut again).0.contains_key("y"));
    again.stop();

    // A bad sidecar: one line naming the file and the scene; no scenes, the patch plays.
    let text = std::fs::read_to_string(&side).unwrap();
    std::fs::write(&side, text.replacen("\"identity\"", "\"identiti\"", 1)).unwrap();
    let mut bad = open(&path);
    let ev = bad.poll();
    assert!(
        ev.iter().any(|e| matches!(e, LiveEvent::FileErrors(l)
            if l.iter().any(|l| l.contains("base.scenes.json: scene") && l.contains("identiti")))),
        "{ev:?}"
    );
    assert_eq!(bad.scenes().filled(), [false; 9]);
    bad.stop();
}

#[test]
fn opening_a_compatible_patch_morphs_keeping_the_tick_and_common_state() {
    let (dir, path) = temp_patch(BASE);
    let mut live = open(&path);
    wait_ticks(&mut live, 3);
    let marks = state_marks(&mut live);
    let (t_before, _) = scalar(&live, "acc.out").unwrap();
    let next = dir.path().join("next.json");
    std::fs::write(
        &next,
        BASE.replace(r#""x.in": { "k.out": 1 }"#, r#""x.in": { "k.out": 9 }"#)
            .replace(r#""z": { "type": "tanh" },"#, r#""w": { "type": "relu" },"#)
            .replace(r#""z.x": { "y.out": 2 },"#, r#""w.x": { "y.out": 2 },"#),
    )
    .unwrap();
    live.open_patch(&next).unwrap();
    let r = running(&mut live);
    assert!(r.0.contains_key("w") && !r.0.contains_key("z"));
    assert_eq!(r.1.weights.get(&pr("x.in"), &pr("k.out")), 9.0);
    let (t_after, _) = scalar(&live, "acc.out").unwrap();
    assert!(t_after > t_before, "the tick goes on counting");
    assert_same_state(marks, state_marks(&mut live));
    assert_eq!(
        live.history().entries().last().unwrap().what,
        "open next.json"
    );
    live.undo().unwrap();
    let u = running(&mut live);
    assert!(
        u.0.contains_key("z") && !u.0.contains_key("w"),
        "opening is undoable"
    );
    live.stop();
}

#[test]
fn a_dragged_knob_is_one_entry_and_one_undo() {
    let (_dir, path) = temp_patch(BASE);
    let mut live = open(&path);
    wait_ticks(&mut live, 3);
    for w in [0.5, 0.6, 0.7] {
        live.perform_continued(
            &format!("x.in <- {w} k.out"),
            Edit::set("x.in", "k.out", w).unwrap(),
        )
        .unwrap();
    }
    assert_eq!(live.history().entries().len(), 1);
    assert_eq!(live.history().entries()[0].what, "x.in <- 0.7 k.out");
    // Another weight starts a new entry.
    live.perform_continued("y.in <- 3 k.out", Edit::set("y.in", "k.out", 3.0).unwrap())
        .unwrap();
    assert_eq!(live.history().entries().len(), 2);
    assert_eq!(
        running(&mut live).1.weights.get(&pr("x.in"), &pr("k.out")),
        0.7
    );
    live.undo().unwrap();
    live.undo().unwrap();
    let r = running(&mut live).1.weights;
    assert_eq!(
        r.get(&pr("x.in"), &pr("k.out")),
        1.0,
        "back to before the drag"
    );
    assert_eq!(r.get(&pr("y.in"), &pr("k.out")), 0.25);
    live.stop();
}

#[test]
fn a_hot_reload_is_one_entry_and_undo_goes_back_to_the_running_program() {
    let (_dir, path) = temp_patch(BASE);
    let o = LiveOptions {
        audio: false,
        watch: true,
        capture_every: 0,
        morph: Some(0.0),
        trace: None,
    };
    let mut live =
        Live::open(&path, Box::new(CpuBackend::new()), o).unwrap_or_else(|e| panic!("{e}"));
    wait_ticks(&mut live, 3);
    let start = running(&mut live);
    // An editor saves by renaming a temp file over the patch.
    let tmp = path.with_extension("json.swp");
    std::fs::write(
        &tmp,
        BASE.replace(r#""x.in": { "k.out": 1 }"#, r#""x.in": { "k.out": 3 }"#)
            .replace(r#""z": { "type": "tanh" },"#, "")
            .replace(r#""z.x": { "y.out": 2 },"#, ""),
    )
    .unwrap();
    std::fs::rename(&tmp, &path).unwrap();
    let t0 = Instant::now();
    while live.history().entries().is_empty() {
        live.poll();
        assert!(t0.elapsed() < DEADLINE, "the reload never came");
        std::thread::sleep(Duration::from_millis(5));
    }
    assert_eq!(live.history().entries()[0].what, "reload base.json");
    let r = running(&mut live);
    assert!(!r.0.contains_key("z"));
    assert_eq!(r.1.weights.get(&pr("x.in"), &pr("k.out")), 3.0);
    live.undo().unwrap();
    let back = running(&mut live);
    assert_eq!(back.0, start.0, "z is back");
    assert_eq!(back.1.weights, start.1.weights);
    live.stop();
}
