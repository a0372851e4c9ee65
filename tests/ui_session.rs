//! The window's session (everything but the GPU and the window system), driven headless with
//! egui_kittest on a real running `Live`: panel edits reach W through Self, shortcuts mute, save,
//! open and hide, the title carries the unsaved mark, a bad file changes nothing.

use dmm_synth::backend::cpu::CpuBackend;
use dmm_synth::engine::PortRef;
use dmm_synth::live::{Live, LiveOptions};
use dmm_synth::ui::panel::HEAT_MAP_LABEL;
use dmm_synth::ui::session::Session;
use egui::{Key, Modifiers};
use egui_kittest::Harness;
use egui_kittest::kittest::Queryable;
use std::path::Path;
use std::time::{Duration, Instant};

const PATCH: &str = r#"{
  "comment": "session test",
  "settings": { "tick_rate": 375, "sample_rate": 48000, "image_size": [16, 16] },
  "neurons": {
    "xy":   { "type": "coords" },
    "ones": { "type": "one", "kind": "image" },
    "k":    { "type": "one" },
    "lfo":  { "type": "sin" },
    "show": { "type": "display" }
  },
  "weights": {
    "show.in": { "xy.x": 1 },
    "lfo.x":   { "k.out": 0.5 }
  }
}"#;

fn p(s: &str) -> PortRef {
    PortRef::parse(s).expect("port")
}

fn open(path: &Path) -> Session {
    let live = Live::open(
        path,
        Box::new(CpuBackend::new()),
        LiveOptions {
            audio: false,
            watch: false,
            capture_every: 1,
            morph: None,
            trace: None,
        },
    )
    .unwrap_or_else(|e| panic!("{e}"));
    Session::new(live, Vec::new(), true)
}

/// Runs frames until `done` holds (the engine runs on its own thread). The deadline only
/// guards against a hang; nothing is asserted about time.
fn run_until(h: &mut Harness<'_, Session>, what: &str, done: impl Fn(&Session) -> bool) {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        h.run();
        if done(h.state()) {
            return;
        }
        assert!(Instant::now() < deadline, "gave up waiting for {what}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

fn log_has(s: &Session, needle: &str) -> bool {
    s.st.log.iter().any(|l| l.text.contains(needle))
}

#[test]
fn session_edits_saves_opens_mutes_and_hides() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("s.json");
    std::fs::write(&path, PATCH).expect("write patch");
    let mut h = Harness::builder()
        .with_size(egui::vec2(1000.0, 800.0))
        .build_ui_state(|ui, s: &mut Session| s.ui(ui), open(&path));
    run_until(&mut h, "a snapshot with a frame", |s| {
        s.latest()
            .is_some_and(|l| l.tick > 3 && !l.frames.is_empty())
    });
    assert!(h.query_by_label("display show").is_some(), "picture drawn");
    assert!(h.query_by_label(HEAT_MAP_LABEL).is_some(), "panel shown");
    assert_eq!(h.state().title(), "s.json - dmm-synth");

    // A weight set in the panel reaches W through Self; the title shows the unsaved mark.
    {
        let s = h.state_mut();
        s.ed.target = Some(p("show.in"));
        s.ed.source = Some(p("ones.out"));
        s.ed.weight = 0.4;
        s.ed.weight_text = "0.4".into();
    }
    h.run();
    h.get_by_label("Set weight").click();
    h.run();
    assert_eq!(h.state().title(), "s.json • - dmm-synth");
    run_until(&mut h, "the new weight in W", |s| {
        s.latest()
            .is_some_and(|l| l.w.get(&p("show.in"), &p("ones.out")) == 0.4)
    });
    assert_eq!(h.state().st.w.get(&p("show.in"), &p("ones.out")), 0.4);

    // Ctrl+. mutes at once and un-mutes.
    let stats = h.state().live().audio().stats();
    assert!(!stats.muted());
    h.key_press_modifiers(Modifiers::COMMAND, Key::Period);
    h.run();
    assert!(stats.muted(), "Ctrl+. mutes");
    h.key_press_modifiers(Modifiers::COMMAND, Key::Period);
    h.run();
    assert!(!stats.muted(), "Ctrl+. again un-mutes");

    // Ctrl+Shift+. mutes and blacks the picture; again brings both back.
    h.key_press_modifiers(Modifiers::COMMAND | Modifiers::SHIFT, Key::Period);
    h.run();
    assert!(stats.muted(), "Ctrl+Shift+. mutes");
    assert!(h.state().blackout);
    assert!(
        h.query_by_label("display show").is_none(),
        "picture blacked out"
    );
    h.key_press_modifiers(Modifiers::COMMAND | Modifiers::SHIFT, Key::Period);
    h.run();
    assert!(!stats.muted(), "Ctrl+Shift+. again un-mutes");
    assert!(h.query_by_label("display show").is_some(), "picture back");

    // Ctrl+S saves the running network (with the new weight) and clears the mark.
    h.key_press_modifiers(Modifiers::COMMAND, Key::S);
    h.run();
    assert_eq!(h.state().title(), "s.json - dmm-synth");
    let saved: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&path).expect("read")).expect("json");
    assert_eq!(
        saved["weights"]["show.in"]["ones.out"],
        serde_json::json!(0.4)
    );
    assert!(
        dir.path().join("s.json.bak").exists(),
        "previous version kept"
    );

    // Ctrl+O on a bad file: its errors in the log, the current patch keeps playing.
    let bad = dir.path().join("bad.json");
    std::fs::write(&bad, r#"{"neurons": {"x": {"type": "nope"}}}"#).expect("write");
    h.key_press_modifiers(Modifiers::COMMAND, Key::O);
    h.run();
    assert!(
        h.query_by_label("Open patch").is_some(),
        "path prompt shown"
    );
    h.state_mut().prompt.as_mut().expect("prompt").text = bad.display().to_string();
    h.run();
    h.get_by_label("OK").click();
    h.run();
    assert!(h.state().prompt.is_none());
    assert!(
        log_has(h.state(), "bad.json"),
        "errors name the file: {:?}",
        h.state().st.log
    );
    assert!(log_has(h.state(), "nope"));
    assert_eq!(h.state().live().path(), path.as_path());
    let before = h.state().latest().map(|l| l.tick).unwrap_or(0);
    run_until(&mut h, "the engine to go on", |s| {
        s.latest().is_some_and(|l| l.tick > before)
    });
    assert!(h.query_by_label("display show").is_some());

    // Ctrl+Shift+S asks for a path; confirming writes there and it becomes the open patch.
    h.key_press_modifiers(Modifiers::COMMAND | Modifiers::SHIFT, Key::S);
    h.run();
    assert!(h.query_by_label("Save patch as").is_some());
    let other = dir.path().join("other.json");
    h.state_mut().prompt.as_mut().expect("prompt").text = other.display().to_string();
    h.run();
    h.get_by_label("OK").click();
    h.run();
    assert!(other.exists());
    assert_eq!(h.state().title(), "other.json - dmm-synth");

    // Ctrl+Shift+H hides and shows the panel; F11 asks for fullscreen.
    h.key_press_modifiers(Modifiers::COMMAND | Modifiers::SHIFT, Key::H);
    h.run();
    assert!(h.query_by_label(HEAT_MAP_LABEL).is_none(), "panel hidden");
    assert!(h.query_by_label("display show").is_some(), "picture stays");
    h.key_press_modifiers(Modifiers::COMMAND | Modifiers::SHIFT, Key::H);
    h.run();
    assert!(h.query_by_label(HEAT_MAP_LABEL).is_some(), "panel back");
    h.key_press(Key::F11);
    h.run();
    assert!(h.state().fullscreen);

    h.into_state().into_live().stop();
}

#[test]
fn several_displays_share_the_area_with_their_aspect_kept() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("two.json");
    std::fs::write(
        &path,
        r#"{
  "settings": { "tick_rate": 375, "sample_rate": 48000, "image_size": [16, 16] },
  "neurons": {
    "xy":    { "type": "coords" },
    "wide":  { "type": "coords", "rows": 8, "cols": 32 },
    "sq":    { "type": "display" },
    "strip": { "type": "display", "rows": 8, "cols": 32 }
  },
  "weights": { "sq.in": { "xy.x": 1 }, "strip.in": { "wide.y": 1 } }
}"#,
    )
    .expect("write patch");
    let mut h = Harness::builder()
        .with_size(egui::vec2(1000.0, 600.0))
        .build_ui_state(|ui, s: &mut Session| s.ui(ui), open(&path));
    // Hide the panel: the pictures get the whole window.
    h.key_press_modifiers(Modifiers::COMMAND | Modifiers::SHIFT, Key::H);
    run_until(&mut h, "frames of both displays", |s| {
        s.latest().is_some_and(|l| l.frames.len() == 2)
    });
    h.run();
    let a = h.get_by_label("display sq").rect();
    let b = h.get_by_label("display strip").rect();
    // Two cells side by side, each half the area's width; each picture fills its cell's width
    // (the cells are taller than either picture needs) and sits centred in it.
    assert!(
        (a.width() / a.height() - 1.0).abs() < 0.01,
        "square stays square: {a:?}"
    );
    assert!(
        (b.width() / b.height() - 4.0).abs() < 0.01,
        "8x32 stays 1:4: {b:?}"
    );
    let half = (b.max.x - a.min.x) / 2.0;
    assert!(
        (a.width() - half).abs() < 1.0 && (b.width() - half).abs() < 1.0,
        "{a:?} {b:?}"
    );
    assert!(
        a.max.x <= b.min.x + 0.5,
        "side by side, not overlapping: {a:?} {b:?}"
    );
    assert!(
        (a.center().y - b.center().y).abs() < 1.0,
        "both centred vertically"
    );
    h.into_state().into_live().stop();
}
