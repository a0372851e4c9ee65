//! Scopes (issue 10 item 6): the engine feeds the chosen signal into a lock-free ring block for
//! block (checked against a recording tap of the same run); an audio-only patch shows the
//! oscilloscope and spectrum of `audio_out` where the picture would be; clicking an audio port in
//! the neuron list shows that port's scope, and the scope's buttons go back.

mod common;

use dmm_synth::backend::cpu::CpuBackend;
use dmm_synth::engine::PortRef;
use dmm_synth::engine::tap::{ScopeSource, Tap, TapItem};
use dmm_synth::engine::thread::{Pace, spawn};
use dmm_synth::live::{Live, LiveOptions};
use dmm_synth::stream::spectrum::Spectrum;
use dmm_synth::ui::scope::signal::{peak_hz, trigger};
use dmm_synth::ui::scope::{HISTORY, OSCILLOSCOPE_LABEL, SPECTRUM_LABEL, ScopeFeed};
use dmm_synth::ui::session::Session;
use egui::accesskit::Role;
use egui_kittest::Harness;
use egui_kittest::kittest::Queryable;
use std::path::Path;
use std::time::{Duration, Instant};

const SR: f32 = 48_000.0;

/// Two sines, `osc1` (220 Hz) to the speakers and `osc2` (1000 Hz) not; `display` adds a picture.
fn two_sines(display: bool) -> String {
    let (pic_n, pic_w) = if display {
        (
            r#", "xy": {"type": "coords"}, "show": {"type": "display"}"#,
            r#", "show.in": {"xy.x": 1}"#,
        )
    } else {
        ("", "")
    };
    format!(
        r#"{{
  "settings": {{ "tick_rate": 375, "sample_rate": 48000, "image_size": [16, 16] }},
  "neurons": {{
    "one": {{"type": "one", "kind": "audio"}},
    "ph1": {{"type": "phasor", "kind": "audio"}}, "osc1": {{"type": "sin", "kind": "audio"}},
    "ph2": {{"type": "phasor", "kind": "audio"}}, "osc2": {{"type": "sin", "kind": "audio"}},
    "out": {{"type": "audio_out"}}{pic_n}
  }},
  "weights": {{
    "ph1.freq": {{"one.out": 220}}, "osc1.x": {{"ph1.out": 1}}, "osc1.a": {{"one.out": 6.283185307179586}},
    "ph2.freq": {{"one.out": 1000}}, "osc2.x": {{"ph2.out": 1}}, "osc2.a": {{"one.out": 6.283185307179586}},
    "out.left": {{"osc1.out": 0.5}}, "out.right": {{"osc1.out": 0.3}}{pic_w}
  }}
}}"#
    )
}

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

/// Runs frames until `done` holds. The deadline only guards against a hang.
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

/// The loudest frequency of the scope's newest samples, Hz.
fn scope_peak(s: &Session) -> f32 {
    let mut sp = Spectrum::new(HISTORY).expect("spectrum");
    let mut mags = vec![0.0; sp.bins()];
    sp.magnitudes(s.scope.samples(), &mut mags);
    peak_hz(&mags, sp.bin_hz(1, SR)).expect("not silent").0
}

/// The scope shows `source` and has a full history of its samples.
fn showing(s: &Session, source: &ScopeSource) -> bool {
    s.scope.source() == Some(source) && s.scope.samples().len() == HISTORY
}

#[test]
fn the_engine_feeds_the_scope_the_same_blocks_it_plays() {
    let patch = common::patch_str(&two_sines(false));
    let engine = spawn(common::machine(&patch), Pace::WallClock, 0);
    let (tx, rx) = crossbeam_channel::unbounded();
    engine.set_tap(Some(Tap { tx, frame_every: 0 }));
    let (mut mix, tap) = ScopeFeed::new(ScopeSource::AudioOut);
    engine.set_scope(Some(tap));
    let mut blocks = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(60);
    while mix.samples().len() < 20 * 128 {
        mix.drain();
        for item in rx.try_iter() {
            if let TapItem::Block { left, right, .. } = item {
                blocks.push((left, right));
            }
        }
        assert!(Instant::now() < deadline, "no scope samples");
        std::thread::sleep(Duration::from_millis(5));
    }
    // The scope may have started a tick or two after the tap: find its first block there.
    let got = mix.samples().to_vec();
    let want = |k: usize| -> Vec<f32> {
        let (l, r) = &blocks[k];
        l.iter().zip(r).map(|(l, r)| 0.5 * (l + r)).collect()
    };
    let first = (0..blocks.len().min(8))
        .find(|&k| want(k) == got[..128])
        .expect("the scope's first block is one the engine played");
    for (i, chunk) in got.chunks(128).enumerate().take(10) {
        assert_eq!(chunk, want(first + i).as_slice(), "block {i}");
    }
    // A port: audio_out's left input is exactly the left channel.
    let (mut left, tap) = ScopeFeed::new(ScopeSource::Port {
        port: p("out.left"),
        output: false,
    });
    engine.set_scope(Some(tap));
    while left.samples().len() < 4 * 128 {
        left.drain();
        assert!(Instant::now() < deadline, "no port samples");
        std::thread::sleep(Duration::from_millis(5));
    }
    for item in rx.try_iter() {
        if let TapItem::Block { left, right, .. } = item {
            blocks.push((left, right));
        }
    }
    let got = &left.samples()[..128];
    assert!(
        blocks.iter().any(|(l, _)| l.as_slice() == got),
        "the port's block is a left block the engine played"
    );
    // The old feed was replaced: its ring lost its producer.
    assert!(mix.abandoned());
    drop(engine.stop());
    assert!(left.abandoned());
}

#[test]
fn an_audio_only_patch_shows_the_scope_of_audio_out() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("a.json");
    std::fs::write(&path, two_sines(false)).expect("write");
    let mut h = Harness::builder()
        .with_size(egui::vec2(1200.0, 800.0))
        .build_ui_state(|ui, s: &mut Session| s.ui(ui), open(&path));
    run_until(&mut h, "a full scope of audio_out", |s| {
        showing(s, &ScopeSource::AudioOut)
    });
    h.run();
    assert!(h.query_by_label_contains("no display neuron").is_none());
    assert!(
        h.query_by_label(&format!("{OSCILLOSCOPE_LABEL} audio_out"))
            .is_some()
    );
    assert!(
        h.query_by_label(&format!("{SPECTRUM_LABEL} audio_out"))
            .is_some()
    );
    // What it shows is what plays: osc1 at 220 Hz; a steady tone triggers.
    let peak = scope_peak(h.state());
    assert!((peak - 220.0).abs() < 3.0, "{peak}");
    assert!(trigger(h.state().scope.samples(), 1000, 0.01).is_some());
    assert!(h.query_by_label("close scope").is_none());
}

#[test]
fn clicking_an_audio_port_shows_its_scope_and_the_scope_goes_back() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("a.json");
    std::fs::write(&path, two_sines(false)).expect("write");
    let mut h = Harness::builder()
        .with_size(egui::vec2(1200.0, 900.0))
        .build_ui_state(|ui, s: &mut Session| s.ui(ui), open(&path));
    run_until(&mut h, "a scope", |s| showing(s, &ScopeSource::AudioOut));
    h.get_by_label("Neurons").click_accesskit();
    h.run();
    // The audio neurons in catalogue order: one, ph1, osc1, ph2, osc2; osc2 is the fifth.
    let osc2 = ScopeSource::Port {
        port: p("osc2.out"),
        output: true,
    };
    h.get_all_by_label("scope")
        .nth(4)
        .expect("osc2's scope toggle")
        .click_accesskit();
    run_until(&mut h, "osc2's scope", |s| showing(s, &osc2));
    h.run();
    assert!(
        h.query_by_label(&format!("{OSCILLOSCOPE_LABEL} osc2.out (out)"))
            .is_some()
    );
    let peak = scope_peak(h.state());
    assert!(
        (peak - 1000.0).abs() < 3.0,
        "osc2 is a 1 kHz sine, scope says {peak}"
    );
    // The scope's own button goes back to audio_out.
    h.get_by_role_and_label(Role::Button, "audio_out")
        .click_accesskit();
    run_until(&mut h, "back to audio_out", |s| {
        showing(s, &ScopeSource::AudioOut)
    });
    let peak = scope_peak(h.state());
    assert!((peak - 220.0).abs() < 3.0, "{peak}");
    // Clicking a port twice: shown, then hidden again (back to audio_out here).
    for _ in 0..2 {
        h.get_all_by_label("scope")
            .nth(4)
            .expect("osc2's scope toggle")
            .click_accesskit();
        h.run();
    }
    run_until(&mut h, "audio_out again", |s| {
        s.ed.scope.is_none() && showing(s, &ScopeSource::AudioOut)
    });
}

#[test]
fn with_a_picture_a_clicked_port_scope_shows_over_it_and_closes() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("v.json");
    std::fs::write(&path, two_sines(true)).expect("write");
    let mut h = Harness::builder()
        .with_size(egui::vec2(1200.0, 900.0))
        .build_ui_state(|ui, s: &mut Session| s.ui(ui), open(&path));
    run_until(&mut h, "a picture", |s| {
        s.latest().is_some_and(|l| !l.frames.is_empty())
    });
    h.run();
    // A patch with a picture shows it, and no scope until a port is clicked.
    assert!(h.query_by_label("display show").is_some());
    assert!(h.state().scope.source().is_none());
    assert!(h.query_by_label_contains(OSCILLOSCOPE_LABEL).is_none());
    h.get_by_label("Neurons").click_accesskit();
    h.run();
    let osc1 = ScopeSource::Port {
        port: p("osc1.out"),
        output: true,
    };
    h.get_all_by_label("scope")
        .nth(2)
        .expect("osc1's scope toggle")
        .click_accesskit();
    run_until(&mut h, "osc1's scope", |s| showing(s, &osc1));
    h.run();
    assert!(h.query_by_label("display show").is_some());
    assert!(
        h.query_by_label(&format!("{OSCILLOSCOPE_LABEL} osc1.out (out)"))
            .is_some()
    );
    let peak = scope_peak(h.state());
    assert!((peak - 220.0).abs() < 3.0, "{peak}");
    h.get_by_label("close scope").click_accesskit();
    run_until(&mut h, "the scope closed", |s| s.scope.source().is_none());
    h.run();
    assert!(h.query_by_label_contains(OSCILLOSCOPE_LABEL).is_none());
}
