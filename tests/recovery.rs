//! Crash recovery: a run killed with SIGKILL leaves its autosaved program; restoring it gives
//! the same network and W the killed run had. A clean exit leaves no recovery file. The engine
//! meter (the thread CPU clock that autosave and recovery runs report beside) is checked here too.
//!
//! No timing asserts: waits have generous deadlines; the checks are on the network and W.

mod common;
use dmm_synth::backend::cpu::CpuBackend;
use dmm_synth::engine::edits::parse_edits_jsonl;
use dmm_synth::live::autosave::{read_recovery, recovery_path};
use dmm_synth::live::{Live, LiveOptions};
use dmm_synth::patch::Patch;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_dmm-synth");

const PATCH: &str = r#"{
  "settings": { "tick_rate": 100, "sample_rate": 8000 },
  "neurons": {
    "one": { "type": "one", "kind": "audio" },
    "ph": { "type": "phasor", "kind": "audio" },
    "osc": { "type": "sin", "kind": "audio" },
    "out": { "type": "audio_out" }
  },
  "weights": {
    "ph.freq": { "one.out": 220 },
    "osc.x": { "ph.out": 1 },
    "osc.a": { "one.out": 6.283185307179586 },
    "out.left": { "osc.out": 0.5 }
  }
}"#;

/// A weight changed, a neuron added with its connections, another weight set.
const EDITS: &str = r#"
{"tick": 20, "op": "set", "target": "out.left", "source": "osc.out", "weight": 0.321}
{"tick": 40, "op": "add_neuron", "name": "sub", "neuron": {"type": "sin", "kind": "audio"}, "weights": {"sub.x": {"ph.out": 0.5}, "sub.a": {"one.out": 6.283185307179586}, "out.right": {"sub.out": 0.25}}}
{"tick": 60, "op": "set", "target": "ph.freq", "source": "one.out", "weight": 330.75}
"#;

fn record_cmd(patch: &Path, out: &Path, extra: &[&str]) -> Command {
    let edits = patch.with_file_name("edits.jsonl");
    std::fs::write(&edits, EDITS).unwrap();
    let mut c = Command::new(BIN);
    c.arg("record")
        .arg(patch)
        .arg("--out")
        .arg(out)
        .arg("--edits")
        .arg(&edits)
        .args(["--no-audio", "--backend", "cpu", "--fps", "0"])
        .args(extra)
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    c
}

/// The network names/types and W the patch has after the edits (run offline).
fn expected(patch: &Patch) -> (Vec<(String, String)>, dmm_synth::engine::WMatrix) {
    let mut m = common::machine(patch);
    for e in parse_edits_jsonl(EDITS).unwrap() {
        m.submit(e.edit);
    }
    for _ in 0..20 {
        m.tick(false).unwrap();
    }
    let names = m
        .network()
        .neurons
        .iter()
        .map(|n| (n.name.clone(), format!("{:?}", n.spec)))
        .collect();
    (names, m.w().clone())
}

#[test]
fn a_run_killed_with_sigkill_is_restored_with_the_same_network_and_w() {
    let dir = tempfile::tempdir().unwrap();
    let patch = dir.path().join("perf.json");
    std::fs::write(&patch, PATCH).unwrap();
    let mut child = record_cmd(&patch, &dir.path().join("rec"), &[])
        .spawn()
        .unwrap();
    // Wait for an autosave taken after the last edit has landed.
    let rpath = recovery_path(&patch);
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        if let Ok(Some(r)) = read_recovery(&patch)
            && r.tick > 80
        {
            break;
        }
        if let Ok(Some(status)) = child.try_wait() {
            panic!("dmm-synth record ended early: {status}");
        }
        assert!(
            Instant::now() < deadline,
            "no autosave in {}",
            rpath.display()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    assert!(rpath.exists(), "the recovery file survives a kill");

    // Relaunch on the patch (which the killed run never saved) and restore.
    let opts = LiveOptions {
        audio: false,
        watch: false,
        capture_every: 0,
        morph: None,
        trace: None,
    };
    let mut live = Live::open(&patch, Box::new(CpuBackend::new()), opts).unwrap();
    let r = read_recovery(&patch).unwrap().expect("a recovery file");
    live.restore(&r).unwrap_or_else(|e| panic!("{e}"));
    let snap = loop {
        if let Some(s) = live.engine().latest()
            && s.net.neurons.iter().any(|n| n.name == "sub")
        {
            break s;
        }
        assert!(Instant::now() < deadline, "the restored engine did not run");
        std::thread::sleep(Duration::from_millis(5));
    };
    let original = Patch::parse(PATCH, "perf.json", &common::assets()).unwrap();
    let (names, w) = expected(&original);
    let got: Vec<(String, String)> = snap
        .net
        .neurons
        .iter()
        .map(|n| (n.name.clone(), format!("{:?}", n.spec)))
        .collect();
    assert_eq!(got, names, "the restored network");
    assert_eq!(snap.w, w, "the restored W");
    assert!(live.dirty(), "a restored program is unsaved");
    live.stop();
}

#[test]
fn a_clean_exit_leaves_no_recovery_file() {
    let dir = tempfile::tempdir().unwrap();
    let patch = dir.path().join("perf.json");
    std::fs::write(&patch, PATCH).unwrap();
    let mut child = record_cmd(&patch, &dir.path().join("rec"), &["--seconds", "3"])
        .spawn()
        .unwrap();
    // It autosaves while it runs (the first poll with a snapshot writes at once)...
    let deadline = Instant::now() + Duration::from_secs(120);
    let mut seen = false;
    let status = loop {
        seen |= recovery_path(&patch).exists();
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        assert!(Instant::now() < deadline, "record did not finish");
        std::thread::sleep(Duration::from_millis(10));
    };
    assert!(status.success());
    assert!(seen, "no autosave while running");
    // ...and removes the file on a clean exit.
    assert!(dir.path().join("rec").join("meta.json").exists());
    assert!(!recovery_path(&patch).exists());
}

/// The engine meter: after a second the snapshot carries the engine thread's CPU-clock figures
/// for the last second; a tick's CPU time never exceeds its wall time.
#[test]
fn the_engine_meter_uses_the_thread_cpu_clock() {
    let dir = tempfile::tempdir().unwrap();
    let patch = dir.path().join("perf.json");
    std::fs::write(&patch, PATCH).unwrap();
    let opts = LiveOptions {
        audio: false,
        watch: false,
        capture_every: 0,
        morph: None,
        trace: None,
    };
    let live = Live::open(&patch, Box::new(CpuBackend::new()), opts).unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    let load = loop {
        if let Some(s) = live.engine().latest()
            && s.load.ticks > 0
        {
            break s.load;
        }
        assert!(Instant::now() < deadline, "no meter after a second");
        std::thread::sleep(Duration::from_millis(20));
    };
    assert!(load.thread_clock, "{load:?}");
    assert!(
        load.cpu_mean > 0.0 && load.cpu_max >= load.cpu_mean,
        "{load:?}"
    );
    // Per tick CPU time <= wall time (clock granularity aside), so the means keep that order.
    assert!(load.cpu_mean <= load.wall_mean * 1.05 + 2e-6, "{load:?}");
    live.stop();
}

/// The window's offer: a recovery file found at launch is shown in a small window; *Restore*
/// puts its program (network and W) back and starts autosaving.
#[test]
fn the_window_offers_the_recovery_and_restore_puts_it_back() {
    use dmm_synth::ui::session::Session;
    use egui_kittest::Harness;
    use egui_kittest::kittest::Queryable;
    let dir = tempfile::tempdir().unwrap();
    let patch = dir.path().join("perf.json");
    std::fs::write(&patch, PATCH).unwrap();
    // A program that differs from the file: the patch after the edits, saved as a crash would.
    let original = Patch::parse(PATCH, "perf.json", &common::assets()).unwrap();
    let (names, w) = expected(&original);
    let m = {
        let mut m = common::machine(&original);
        for e in parse_edits_jsonl(EDITS).unwrap() {
            m.submit(e.edit);
        }
        for _ in 0..20 {
            m.tick(false).unwrap();
        }
        m
    };
    let program = Patch::from_running(&original.settings, None, m.network(), m.w());
    let doc = serde_json::json!({
        "tick": 20,
        "saved_at": 0,
        "program": serde_json::from_str::<serde_json::Value>(&program.to_json_string()).unwrap(),
    });
    std::fs::write(recovery_path(&patch), doc.to_string()).unwrap();

    let opts = LiveOptions {
        audio: false,
        watch: false,
        capture_every: 1,
        morph: None,
        trace: None,
    };
    let live = Live::open(&patch, Box::new(CpuBackend::new()), opts).unwrap();
    let mut s = Session::new(live, Vec::new(), true);
    s.offer_recovery(read_recovery(&patch).unwrap().expect("found"));
    let mut h = Harness::builder()
        .with_size(egui::vec2(1000.0, 700.0))
        .build_ui_state(|ui, s: &mut Session| s.ui(ui), s);
    h.run();
    assert!(h.query_by_label("Restore").is_some(), "the offer is shown");
    h.get_by_label("Restore").click();
    h.run();
    assert!(!h.state().recovery_offered());
    let deadline = Instant::now() + Duration::from_secs(60);
    let snap = loop {
        h.run();
        if let Some(s) = h.state().live().engine().latest()
            && s.net.neurons.iter().any(|n| n.name == "sub")
        {
            break s;
        }
        assert!(Instant::now() < deadline, "not restored");
        std::thread::sleep(Duration::from_millis(10));
    };
    let got: Vec<(String, String)> = snap
        .net
        .neurons
        .iter()
        .map(|n| (n.name.clone(), format!("{:?}", n.spec)))
        .collect();
    assert_eq!(got, names);
    assert_eq!(snap.w, w);
    let live = h.into_state().into_live();
    live.stop();
    // Autosave was on after the answer, and a clean stop removed the file.
    assert!(!recovery_path(&patch).exists());
}

/// The autosave carries the history with its head and the code buffer: a run with two panel
/// edits, one undone, and a changed buffer leaves a recovery file (as a crash would); restoring
/// it gives W at the head, the two entries with the head between them, the buffer, and redo
/// goes on to the undone edit through Self.
#[test]
fn the_autosave_keeps_the_history_head_and_the_code_buffer() {
    use dmm_synth::engine::PortRef;
    use dmm_synth::ui::session::Session;
    use egui::{Key, Modifiers};
    use egui_kittest::Harness;
    use egui_kittest::kittest::Queryable;
    const SMALL: &str = r#"{
  "settings": { "tick_rate": 100, "sample_rate": 1600 },
  "neurons": { "k": { "type": "one" }, "x": { "type": "identity" } },
  "weights": { "x.in": { "k.out": 1 } }
}"#;
    let p = |s: &str| PortRef::parse(s).unwrap();
    let weight = |s: &Session| s.latest().map(|l| l.w.get(&p("x.in"), &p("k.out")));
    let run_until = |h: &mut Harness<'_, Session>, what: &str, done: &dyn Fn(&Session) -> bool| {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            h.run();
            if done(h.state()) {
                return;
            }
            assert!(Instant::now() < deadline, "gave up waiting for {what}");
            std::thread::sleep(Duration::from_millis(5));
        }
    };
    let opts = || LiveOptions {
        audio: false,
        watch: false,
        capture_every: 1,
        morph: Some(0.0),
        trace: None,
    };
    let dir = tempfile::tempdir().unwrap();
    let patch = dir.path().join("small.json");
    std::fs::write(&patch, SMALL).unwrap();
    let mut live = Live::open(&patch, Box::new(CpuBackend::new()), opts()).unwrap();
    live.set_autosave(true);
    let mut h = Harness::builder()
        .with_size(egui::vec2(1000.0, 900.0))
        .build_ui_state(
            |ui, s: &mut Session| s.ui(ui),
            Session::new(live, Vec::new(), true),
        );
    run_until(&mut h, "a snapshot", &|s| weight(s).is_some());
    for w in [0.25, 0.5] {
        {
            let s = h.state_mut();
            s.ed.target = Some(p("x.in"));
            s.ed.source = Some(p("k.out"));
            s.ed.weight = w;
            s.ed.weight_text = w.to_string();
        }
        h.run();
        h.get_by_label("Set weight").click();
        run_until(&mut h, "the panel edit", &|s| weight(s) == Some(w));
    }
    h.key_press_modifiers(Modifiers::COMMAND, Key::Z);
    run_until(&mut h, "undo", &|s| weight(s) == Some(0.25));
    h.state_mut()
        .code
        .text
        .push_str("\n// typed before the crash\n");
    let code = h.state().code.text.clone();

    // Wait for an autosave with all of that in it, and keep it as a crash would leave it.
    let deadline = Instant::now() + Duration::from_secs(60);
    let saved = loop {
        h.run();
        if let Ok(Some(r)) = read_recovery(&patch)
            && r.history.as_ref().is_some_and(|h| h.head() == 1)
            && r.extra.get("code").and_then(|c| c["text"].as_str()) == Some(code.as_str())
        {
            break std::fs::read(recovery_path(&patch)).unwrap();
        }
        assert!(
            Instant::now() < deadline,
            "no autosave with the history and the code"
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    h.into_state().into_live().stop();
    std::fs::write(recovery_path(&patch), saved).unwrap();

    // The next launch restores it.
    let live = Live::open(&patch, Box::new(CpuBackend::new()), opts()).unwrap();
    let mut s = Session::new(live, Vec::new(), true);
    assert_ne!(s.code.text, code, "a fresh launch shows the file");
    s.offer_recovery(read_recovery(&patch).unwrap().expect("found"));
    s.answer_recovery(true);
    let mut h = Harness::builder()
        .with_size(egui::vec2(1000.0, 900.0))
        .build_ui_state(|ui, s: &mut Session| s.ui(ui), s);
    run_until(&mut h, "the restored W", &|s| weight(s) == Some(0.25));
    let hist = h.state().live().history();
    let whats: Vec<&str> = hist.entries().iter().map(|e| e.what.as_str()).collect();
    assert_eq!(whats, ["x.in <- 0.25 k.out", "x.in <- 0.5 k.out"]);
    assert_eq!(hist.head(), 1, "the head between the two entries");
    assert_eq!(h.state().code.text, code, "the code buffer is back");
    // Redo and undo go on from there, through Self.
    h.key_press_modifiers(Modifiers::COMMAND | Modifiers::SHIFT, Key::Z);
    run_until(&mut h, "redo after restore", &|s| weight(s) == Some(0.5));
    h.key_press_modifiers(Modifiers::COMMAND, Key::Z);
    h.key_press_modifiers(Modifiers::COMMAND, Key::Z);
    run_until(&mut h, "undo to the start", &|s| weight(s) == Some(1.0));
    assert_eq!(h.state().live().history().head(), 0);
    h.into_state().into_live().stop();
}
