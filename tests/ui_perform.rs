//! The performing keys and panel on a real running `Live`, headless with egui_kittest: a panel
//! edit is one history entry with a log line, Ctrl+Z / Ctrl+Shift+Z undo and redo it through
//! Self, a click in the history list goes there, Ctrl+Shift+N / Ctrl+N store and recall scenes.

use dmm_synth::backend::cpu::CpuBackend;
use dmm_synth::engine::PortRef;
use dmm_synth::live::{Live, LiveOptions};
use dmm_synth::ui::session::Session;
use egui::{Key, Modifiers};
use egui_kittest::Harness;
use egui_kittest::kittest::Queryable;
use std::path::Path;
use std::time::{Duration, Instant};

const PATCH: &str = r#"{
  "settings": { "tick_rate": 100, "sample_rate": 1600 },
  "neurons": { "k": { "type": "one" }, "x": { "type": "identity" } },
  "weights": { "x.in": { "k.out": 1 } }
}"#;

fn p(s: &str) -> PortRef {
    PortRef::parse(s).expect("port")
}

fn open(path: &Path) -> Session {
    let o = LiveOptions {
        audio: false,
        watch: false,
        capture_every: 1,
        morph: Some(0.0),
        trace: None,
    };
    let live = Live::open(path, Box::new(CpuBackend::new()), o).unwrap_or_else(|e| panic!("{e}"));
    Session::new(live, Vec::new(), true)
}

fn run_until(h: &mut Harness<'_, Session>, what: &str, done: impl Fn(&Session) -> bool) {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        h.run();
        if done(h.state()) {
            return;
        }
        assert!(Instant::now() < deadline, "gave up waiting for {what}");
        std::thread::sleep(Duration::from_millis(5));
    }
}

fn weight(s: &Session) -> Option<f64> {
    s.latest().map(|l| l.w.get(&p("x.in"), &p("k.out")))
}

fn log_has(s: &Session, needle: &str) -> bool {
    s.st.log.iter().any(|l| l.text.contains(needle))
}

#[test]
fn panel_edits_undo_redo_history_clicks_and_scene_keys() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("p.json");
    std::fs::write(&path, PATCH).expect("write");
    let mut h = Harness::builder()
        .with_size(egui::vec2(1000.0, 900.0))
        .build_ui_state(|ui, s: &mut Session| s.ui(ui), open(&path));
    run_until(&mut h, "a snapshot", |s| {
        s.latest().is_some_and(|l| l.tick > 2)
    });

    // Scene 1 is the start.
    h.key_press_modifiers(Modifiers::COMMAND | Modifiers::SHIFT, Key::Num1);
    run_until(&mut h, "scene stored", |s| log_has(s, "stored scene 1"));
    assert!(dir.path().join("p.scenes.json").exists());

    // A panel edit: one entry, one log line.
    {
        let s = h.state_mut();
        s.ed.target = Some(p("x.in"));
        s.ed.source = Some(p("k.out"));
        s.ed.weight = 0.25;
        s.ed.weight_text = "0.25".into();
    }
    h.run();
    h.get_by_label("Set weight").click();
    run_until(&mut h, "the edit", |s| weight(s) == Some(0.25));
    assert_eq!(h.state().live().history().entries().len(), 1);
    assert!(log_has(h.state(), "x.in <- 0.25 k.out"));

    h.key_press_modifiers(Modifiers::COMMAND, Key::Z);
    run_until(&mut h, "undo", |s| weight(s) == Some(1.0));
    assert!(log_has(h.state(), "undo: x.in <- 0.25 k.out"));
    h.key_press_modifiers(Modifiers::COMMAND | Modifiers::SHIFT, Key::Z);
    run_until(&mut h, "redo", |s| weight(s) == Some(0.25));
    assert_eq!(h.state().live().history().head(), 1);

    // A click on "start" in the history list goes back there.
    h.get_by_label("  start").click();
    run_until(&mut h, "history click", |s| weight(s) == Some(1.0));
    assert_eq!(h.state().live().history().head(), 0);
    h.key_press_modifiers(Modifiers::COMMAND | Modifiers::SHIFT, Key::Z);
    run_until(&mut h, "redo again", |s| weight(s) == Some(0.25));

    // Ctrl+1 recalls scene 1 (the start) as one more entry.
    h.key_press_modifiers(Modifiers::COMMAND, Key::Num1);
    run_until(&mut h, "recall", |s| weight(s) == Some(1.0));
    assert_eq!(h.state().live().history().entries().len(), 2);
    assert!(log_has(h.state(), "recall scene 1"));
    // An empty slot says so in the log and changes nothing.
    h.key_press_modifiers(Modifiers::COMMAND, Key::Num5);
    h.run();
    assert!(log_has(h.state(), "scene 5 is empty"));
    h.state_mut();
    let s = h.into_state();
    s.into_live().stop();
}

/// Two weights at once, so the mix is checked on a whole W and not one number.
const XFADE_PATCH: &str = r#"{
  "settings": { "tick_rate": 100, "sample_rate": 1600 },
  "neurons": { "k": { "type": "one" }, "x": { "type": "identity" }, "y": { "type": "identity" } },
  "weights": { "x.in": { "k.out": 1 }, "y.in": { "k.out": 0.5 } }
}"#;

fn weights(s: &Session) -> Option<(f64, f64)> {
    s.latest().map(|l| {
        (
            l.w.get(&p("x.in"), &p("k.out")),
            l.w.get(&p("y.in"), &p("k.out")),
        )
    })
}

/// Sets `target <- k.out` to `w` with the panel's *Set weight* and waits for it in W.
fn panel_set(h: &mut Harness<'_, Session>, target: &str, w: f64) {
    {
        let s = h.state_mut();
        s.ed.target = Some(p(target));
        s.ed.source = Some(p("k.out"));
        s.ed.weight = w;
        s.ed.weight_text = w.to_string();
    }
    h.run();
    h.get_by_label("Set weight").click();
    run_until(h, "the panel edit", |s| {
        s.latest()
            .is_some_and(|l| l.w.get(&p(target), &p("k.out")) == w)
    });
}

#[test]
fn the_crossfader_slider_sends_the_mix_of_scenes_a_and_b() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("x.json");
    std::fs::write(&path, XFADE_PATCH).expect("write");
    let mut h = Harness::builder()
        .with_size(egui::vec2(1000.0, 900.0))
        .build_ui_state(|ui, s: &mut Session| s.ui(ui), open(&path));
    run_until(&mut h, "a snapshot", |s| {
        s.latest().is_some_and(|l| l.tick > 2)
    });
    // Scene 1 (A) is the start; scene 2 (B) has both weights changed by the panel.
    let a = (1.0, 0.5);
    let b = (0.25, -2.0);
    h.key_press_modifiers(Modifiers::COMMAND | Modifiers::SHIFT, Key::Num1);
    run_until(&mut h, "scene 1 stored", |s| log_has(s, "stored scene 1"));
    panel_set(&mut h, "x.in", b.0);
    panel_set(&mut h, "y.in", b.1);
    h.key_press_modifiers(Modifiers::COMMAND | Modifiers::SHIFT, Key::Num2);
    run_until(&mut h, "scene 2 stored", |s| log_has(s, "stored scene 2"));
    assert_eq!((h.state().perf.a, h.state().perf.b), (1, 2), "A and B");

    // The slider, moved as a screen reader or a drag would, sends (1−α)·W_A + α·W_B.
    for alpha in [0.5, 0.3, 1.0, 0.0, 0.75] {
        h.get_by_role_and_label(egui::accesskit::Role::Slider, "alpha")
            .set_value_accesskit(alpha);
        let want = (
            (1.0 - alpha) * a.0 + alpha * b.0,
            (1.0 - alpha) * a.1 + alpha * b.1,
        );
        run_until(&mut h, &format!("W at alpha {alpha}"), |s| {
            weights(s)
                .is_some_and(|(x, y)| (x - want.0).abs() <= 1e-12 && (y - want.1).abs() <= 1e-12)
        });
        assert_eq!(h.state().perf.alpha, alpha, "the slider's position");
        assert_eq!(h.state().live().crossfader().alpha, alpha);
    }
    // The ends are the scenes exactly.
    h.get_by_role_and_label(egui::accesskit::Role::Slider, "alpha")
        .set_value_accesskit(1.0);
    run_until(&mut h, "W_B", |s| weights(s) == Some(b));
    h.get_by_role_and_label(egui::accesskit::Role::Slider, "alpha")
        .set_value_accesskit(0.0);
    run_until(&mut h, "W_A", |s| weights(s) == Some(a));
    // Crossfader moves are not history entries (the two panel edits are).
    assert_eq!(h.state().live().history().entries().len(), 2);
    let s = h.into_state();
    s.into_live().stop();
}

#[test]
fn the_readme_lists_every_performing_key() {
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).expect("README");
    for (keys, _) in dmm_synth::ui::perform::PERFORM_KEYS {
        assert!(
            readme.contains(&format!("| {keys} |")),
            "README's shortcut table lacks {keys}"
        );
    }
    assert!(
        readme.contains("## Performing"),
        "README has a Performing section"
    );
}

/// The Scenes section's learn requests: the button beside the crossfader, a right click on a
/// (filled) recall button; the same again while it waits cancels.
#[test]
fn crossfader_and_scene_buttons_ask_to_learn() {
    use dmm_synth::patch::mapping::PerformAim;
    use dmm_synth::ui::perform::{PerformAction, PerformUi, PerformView, perform_panel};
    struct S {
        v: PerformView,
        ui: PerformUi,
        out: Vec<PerformAction>,
    }
    let mut v = PerformView {
        midi: true,
        ..PerformView::default()
    };
    v.filled[2] = true; // Scene 3.
    let mut h = Harness::builder()
        .with_size(egui::vec2(600.0, 600.0))
        .build_ui_state(
            |ui, s: &mut S| {
                let out = perform_panel(ui, &s.v, &mut s.ui);
                s.out.extend(out);
            },
            S {
                v,
                ui: PerformUi::default(),
                out: Vec::new(),
            },
        );
    h.run();
    let take = |h: &mut Harness<'_, S>| {
        h.run();
        std::mem::take(&mut h.state_mut().out)
    };
    h.get_by_label("learn").click();
    assert_eq!(take(&mut h), [PerformAction::Learn(PerformAim::Xfade)]);
    h.state_mut().v.learning = Some(PerformAim::Xfade);
    h.run();
    h.get_by_label("learning: move a CC").click();
    assert_eq!(take(&mut h), [PerformAction::CancelLearn]);
    h.state_mut().v.learning = None;
    h.run();
    // The recall buttons come first (then the store buttons, with the same labels).
    let recall3 = h.get_all_by_label("3").next().expect("recall 3");
    recall3.click_secondary();
    assert_eq!(take(&mut h), [PerformAction::Learn(PerformAim::Scene(3))]);
    h.state_mut().v.learning = Some(PerformAim::Scene(3));
    h.run();
    h.get_all_by_label("3")
        .next()
        .expect("recall 3")
        .click_secondary();
    assert_eq!(take(&mut h), [PerformAction::CancelLearn]);
    // A left click still recalls.
    h.get_all_by_label("3").next().expect("recall 3").click();
    assert_eq!(take(&mut h), [PerformAction::Recall(3)]);
}

/// In the window, a right click on a row's coefficient arms the MIDI mapper for that weight, and
/// the crossfader's learn button arms it for the crossfader.
#[test]
fn the_window_hands_learn_requests_to_the_midi_mapper() {
    use dmm_synth::control::learn::{MidiMapper, SharedMapper};
    use dmm_synth::control::midi::MidiValues;
    use dmm_synth::patch::mapping::PerformAim;
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("p.dmm");
    let text = "settings tick_rate=100 sample_rate=1600\nk : one\nx : identity\nx.in <- 0.5 k\n";
    std::fs::write(&path, text).expect("write");
    let mapper = SharedMapper::new(MidiMapper::new(
        std::sync::Arc::new(MidiValues::default()),
        vec![],
    ));
    let mut s = open(&path);
    s.set_midi(Some(mapper.clone()));
    let mut h = Harness::builder()
        .with_size(egui::vec2(1200.0, 900.0))
        .build_ui_state(|ui, s: &mut Session| s.ui(ui), s);
    run_until(&mut h, "a snapshot", |s| {
        s.latest().is_some_and(|l| l.tick > 2)
    });
    let c = h
        .state()
        .code
        .text
        .find("0.5")
        .expect("the row's coefficient")
        + 1;
    let at = h.state().code.point_of_char(c).expect("drawn");
    h.hover_at(at);
    h.run();
    for pressed in [true, false] {
        h.event(egui::Event::PointerButton {
            pos: at,
            button: egui::PointerButton::Secondary,
            pressed,
            modifiers: Modifiers::NONE,
        });
    }
    run_until(&mut h, "learn armed", |_| {
        mapper.with(|m| m.armed().is_some())
    });
    let r = mapper.with(|m| m.armed().cloned()).expect("armed");
    assert_eq!((r.target, r.source), (p("x.in"), p("k.out")));
    assert_eq!((r.min, r.max), (0.0, 0.5), "0 up to the weight");
    h.get_by_label("learn").click();
    run_until(&mut h, "crossfader learn armed", |_| {
        mapper.with(|m| m.perform.armed()) == Some(PerformAim::Xfade)
    });
    let s = h.into_state();
    s.into_live().stop();
}

/// A note is learned onto an EMPTY scene slot (right click on its recall button); striking it
/// while the slot is empty is refused with a log line and changes nothing (nor does a click on
/// the empty button); once the scene is stored, the note recalls it. The notes come through the
/// MIDI parser path (`MidiWriter::feed`, what the `midir` callback calls).
#[test]
fn a_note_learned_on_an_empty_scene_recalls_it_once_stored() {
    use dmm_synth::control::learn::{MidiMapper, SharedMapper};
    use dmm_synth::control::midi::{MidiValues, MidiWriter};
    use dmm_synth::engine::edits::Edit;
    use dmm_synth::patch::mapping::PerformAim;
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("p.json");
    std::fs::write(&path, PATCH).expect("write");
    let values = std::sync::Arc::new(MidiValues::default());
    let mut midi = MidiWriter::new(values.clone());
    let mapper = SharedMapper::new(MidiMapper::new(values, vec![]));
    // As `control::start_shared` does: `Live` drives the mapper, the window arms it.
    let o = LiveOptions {
        audio: false,
        watch: false,
        capture_every: 1,
        morph: Some(0.0),
        trace: None,
    };
    let mut live =
        Live::open(&path, Box::new(CpuBackend::new()), o).unwrap_or_else(|e| panic!("{e}"));
    live.attach(Box::new(mapper.clone()));
    let mut s = Session::new(live, Vec::new(), true);
    s.set_midi(Some(mapper.clone()));
    let mut h = Harness::builder()
        .with_size(egui::vec2(1000.0, 900.0))
        .build_ui_state(|ui, s: &mut Session| s.ui(ui), s);
    run_until(&mut h, "a snapshot", |s| {
        s.latest().is_some_and(|l| l.tick > 2)
    });
    assert!(
        !h.state().live().scenes().filled()[2],
        "scene 3 starts empty"
    );
    // The recall buttons come first (then the store buttons, with the same labels).
    h.get_all_by_label("3")
        .next()
        .expect("recall 3")
        .click_secondary();
    run_until(&mut h, "scene learn armed", |_| {
        mapper.with(|m| m.perform.armed()) == Some(PerformAim::Scene(3))
    });
    midi.feed(0, &[0x90, 60, 100]);
    run_until(&mut h, "the note learned", |_| {
        mapper.with(|m| m.perform.list().len()) == 1
    });
    let m = mapper.with(|m| m.perform.list())[0].clone();
    assert_eq!(m.to_string(), "note 1:60 scene 3");
    assert!(log_has(h.state(), "learned: note 1:60 scene 3"));

    // Struck while the slot is empty: refused in the log, nothing changes.
    let entries = h.state().live().history().entries().len();
    midi.feed(10, &[0x80, 60, 0, 0x90, 60, 90]);
    run_until(&mut h, "the refusal", |s| log_has(s, "scene 3 is empty"));
    // A click on the empty button: refused too.
    let refusals = |s: &Session| {
        s.st.log
            .iter()
            .filter(|l| l.text.contains("scene 3 is empty"))
            .count()
    };
    let before = refusals(h.state());
    h.get_all_by_label("3").next().expect("recall 3").click();
    run_until(&mut h, "the click's refusal", |s| refusals(s) > before);
    assert_eq!(h.state().live().history().entries().len(), entries);
    assert_eq!(weight(h.state()), Some(1.0));

    // Stored (x.in <- k = 1), then moved to 5; the note recalls 1.
    h.key_press_modifiers(Modifiers::COMMAND | Modifiers::SHIFT, Key::Num3);
    run_until(&mut h, "scene stored", |s| log_has(s, "stored scene 3"));
    h.state()
        .live()
        .send(Edit::set("x.in", "k.out", 5.0).unwrap());
    run_until(&mut h, "x at 5", |s| weight(s) == Some(5.0));
    midi.feed(20, &[0x80, 60, 0, 0x90, 60, 90]);
    run_until(&mut h, "the note recalls scene 3", |s| {
        weight(s) == Some(1.0)
    });
    assert!(log_has(h.state(), "recall scene 3"));
    let s = h.into_state();
    s.into_live().stop();
}
