//! Live recording: a performance recorded on the null sink re-renders byte for byte with
//! `render --edits`; a recording killed with SIGKILL leaves a WAV that a reader opens and that
//! holds the start of the same performance.
//!
//! No timing asserts: waits have generous deadlines and the checks are on bytes and samples.

mod common;
use common::*;
use dmm_synth::backend::cpu::CpuBackend;
use dmm_synth::engine::edits::{TimedEdit, parse_edits_jsonl};
use dmm_synth::live::LiveOptions;
use dmm_synth::live::headless::play_and_record;
use dmm_synth::live::record::RecordOptions;
use dmm_synth::patch::Patch;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Noise (seeded), an FM-ish pair, and a picture that moves with a scalar: everything a
/// recording must get exactly right (seed, ticks of edits, neuron state, frames).
const PATCH: &str = r#"{
  "comment": "recording test",
  "settings": { "tick_rate": 100, "sample_rate": 8000, "image_size": [16, 16] },
  "neurons": {
    "one": { "type": "one", "kind": "audio" },
    "k": { "type": "one" },
    "ph": { "type": "phasor", "kind": "audio" },
    "osc": { "type": "sin", "kind": "audio" },
    "hiss": { "type": "noise", "kind": "audio" },
    "lfo_ph": { "type": "phasor" },
    "xy": { "type": "coords" },
    "wave": { "type": "sin", "kind": "image" },
    "screen": { "type": "display" },
    "out": { "type": "audio_out" }
  },
  "weights": {
    "ph.freq": { "one.out": 220 },
    "osc.x": { "ph.out": 1 },
    "osc.a": { "one.out": 6.283185307179586 },
    "lfo_ph.freq": { "k.out": 0.5 },
    "wave.x": { "xy.x": 1 },
    "wave.a": { "xy.y": 3 },
    "screen.in": { "wave.out": 0.5 },
    "out.left": { "osc.out": 0.3, "hiss.out": 0.05 },
    "out.right": { "osc.out": 0.3 }
  }
}"#;

/// Scripted edits: weights at once and morphed, a neuron added and removed, a batch.
const EDITS: &str = r#"
{"tick": 50, "op": "set", "target": "out.left", "source": "hiss.out", "weight": 0.2}
{"tick": 120, "op": "add", "target": "ph.freq", "source": "one.out", "weight": 110.5, "morph": 1.5}
{"tick": 260, "op": "add_neuron", "name": "sub", "neuron": {"type": "sin", "kind": "audio"}, "weights": {"sub.x": {"ph.out": 0.5}, "sub.a": {"one.out": 6.283185307179586}, "out.right": {"sub.out": 0.25}}}
{"tick": 400, "op": "set", "target": "screen.in", "source": "wave.out", "weight": 0.9, "morph": 0.7}
{"tick": 555, "op": "batch", "edits": [{"op": "remove", "target": "out.right", "source": "osc.out"}, {"op": "set", "target": "wave.b", "source": "k.out", "weight": 0.3}]}
{"tick": 700, "op": "remove_neuron", "name": "sub", "morph": 0.5}
{"tick": 850, "op": "set", "target": "out.left", "source": "osc.out", "weight": 0.1234567}
"#;

fn write_patch(dir: &Path) -> std::path::PathBuf {
    let p = dir.join("perf.json");
    std::fs::write(&p, PATCH).unwrap();
    p
}

fn null_sink() -> LiveOptions {
    LiveOptions {
        audio: false,
        watch: false,
        capture_every: 0,
        morph: None,
        trace: None,
    }
}

/// Renders a recording folder's start.json with its edits for `ticks` ticks into `out`.
fn rerender(rec: &Path, out: &Path, ticks: u64, with_edits: bool) -> Vec<TimedEdit> {
    let start = Patch::load(&rec.join("start.json")).unwrap_or_else(|e| panic!("{e}"));
    let edits = if with_edits {
        let text = std::fs::read_to_string(rec.join("edits.jsonl")).unwrap();
        parse_edits_jsonl(&text).unwrap_or_else(|e| panic!("{e}"))
    } else {
        Vec::new()
    };
    render_to(&start, out, ticks, 1_000_000, edits.clone(), 0);
    edits
}

#[test]
fn a_ten_second_recording_rerenders_byte_for_byte() {
    let dir = tempfile::tempdir().unwrap();
    let patch = write_patch(dir.path());
    let rec = dir.path().join("rec");
    let opts = RecordOptions {
        frames_per_second: 5.0,
        // PNGs whatever the machine has on its PATH.
        video: false,
        ..RecordOptions::new(&rec)
    };
    let edits = parse_edits_jsonl(EDITS).unwrap();
    let summary = play_and_record(
        &patch,
        Box::new(CpuBackend::new()),
        null_sink(),
        &opts,
        edits,
        Some(10.0),
        |l| eprintln!("{l}"),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    assert!(summary.ticks >= 1000, "10 s at 100 ticks/s: {summary:?}");
    // Every scripted edit, plus nothing lost.
    let logged = std::fs::read_to_string(rec.join("edits.jsonl")).unwrap();
    assert_eq!(logged.lines().count(), 7, "{logged}");
    assert_eq!(summary.edits, 7);

    let out = dir.path().join("rerender");
    let replayed = rerender(&rec, &out, summary.ticks, true);
    assert_eq!(replayed.len(), 7);
    let recorded = std::fs::read(rec.join("audio.wav")).unwrap();
    let rendered = std::fs::read(out.join("audio.wav")).unwrap();
    assert_eq!(recorded.len(), rendered.len(), "same length");
    assert!(
        recorded == rendered,
        "the re-rendered WAV differs from the recording"
    );

    // The comparison means something: without the edits the performance sounds different.
    let bare = dir.path().join("bare");
    rerender(&rec, &bare, summary.ticks, false);
    assert!(std::fs::read(bare.join("audio.wav")).unwrap() != recorded);

    // Frames at 5 a second (every 20 ticks), named by display and tick.
    let frames: Vec<String> = std::fs::read_dir(rec.join("frames"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().to_string())
        .collect();
    assert_eq!(
        frames.len() as u64,
        summary.ticks.div_ceil(20),
        "{frames:?}"
    );
    assert!(
        frames.contains(&"screen_000020.png".to_string()),
        "{frames:?}"
    );
    let meta: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(rec.join("meta.json")).unwrap()).unwrap();
    assert_eq!(meta["ticks"].as_u64(), Some(summary.ticks));
    assert_eq!(meta["seed"].as_u64(), Some(0));
}

/// Waits until `wav` opens and holds at least `samples` samples per channel.
fn wait_for_wav(wav: &Path, samples: u32, child: &mut std::process::Child) {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Ok(r) = hound::WavReader::open(wav)
            && r.duration() >= samples
        {
            return;
        }
        if let Ok(Some(status)) = child.try_wait() {
            panic!("dmm-synth record ended early: {status}");
        }
        assert!(Instant::now() < deadline, "no audio in {}", wav.display());
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn a_recording_killed_with_sigkill_leaves_a_playable_wav() {
    let dir = tempfile::tempdir().unwrap();
    let patch = write_patch(dir.path());
    let edits = dir.path().join("edits.jsonl");
    std::fs::write(&edits, EDITS).unwrap();
    let rec = dir.path().join("rec");
    let mut child = Command::new(env!("CARGO_BIN_EXE_dmm-synth"))
        .arg("record")
        .arg(&patch)
        .arg("--out")
        .arg(&rec)
        .arg("--edits")
        .arg(&edits)
        .args(["--no-audio", "--backend", "cpu", "--fps", "0"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // Past the first edits: two seconds of audio at 8 kHz.
    wait_for_wav(&rec.join("audio.wav"), 16_000, &mut child);
    // `Child::kill` is SIGKILL on Unix: no destructor, no finalize.
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(
        !rec.join("meta.json").exists(),
        "the process was not killed"
    );

    let (left, right, sr) = dmm_synth::audio::wav::read_stereo(&rec.join("audio.wav"))
        .unwrap_or_else(|e| panic!("the killed recording's WAV does not open: {e}"));
    assert_eq!(sr, 8000);
    assert!(left.len() >= 16_000 && left.len() == right.len());
    // It is the start of the same performance: a re-render of what edits.jsonl had then.
    let out = dir.path().join("rerender");
    let ticks = left.len() as u64 / 80;
    rerender(&rec, &out, ticks, true);
    let (l2, r2, _) = dmm_synth::audio::wav::read_stereo(&out.join("audio.wav")).unwrap();
    assert_eq!(l2.len(), left.len());
    assert!(
        l2 == left && r2 == right,
        "the killed recording differs from its re-render"
    );
}

/// Ctrl+R in the window starts a recording in the middle of a run and stops it: the folder is a
/// replayable recording of the running program (its edits counted from the start).
#[test]
fn ctrl_r_records_from_the_middle_of_a_run() {
    use dmm_synth::engine::edits::Edit;
    use dmm_synth::live::Live;
    use dmm_synth::ui::keys::Action;
    use dmm_synth::ui::session::Session;
    let dir = tempfile::tempdir().unwrap();
    let patch = write_patch(dir.path());
    let live = Live::open(&patch, Box::new(CpuBackend::new()), null_sink())
        .unwrap_or_else(|e| panic!("{e}"));
    let mut s = Session::new(live, Vec::new(), true);
    let wait_ticks = |s: &Session, n: u64| {
        let deadline = Instant::now() + Duration::from_secs(60);
        let from = s.live().engine().latest().map(|x| x.tick).unwrap_or(0);
        while s.live().engine().latest().map(|x| x.tick).unwrap_or(0) < from + n {
            assert!(Instant::now() < deadline, "the engine does not run");
            std::thread::sleep(Duration::from_millis(5));
        }
    };
    wait_ticks(&s, 30);
    s.act(Action::ToggleRecord);
    let rec = s.live().recording().expect("recording").to_path_buf();
    assert!(rec.starts_with(dir.path().join("recordings")), "{rec:?}");
    wait_ticks(&s, 20);
    s.live()
        .send(Edit::set("out.left", "osc.out", 0.7).unwrap());
    wait_ticks(&s, 20);
    s.act(Action::ToggleRecord);
    assert!(s.live().recording().is_none());
    let line =
        s.st.log
            .iter()
            .map(|l| l.text.clone())
            .find(|t| t.starts_with("recorded "));
    let line = line.expect("a log line for the finished recording");
    assert!(line.contains("dmm-synth render"), "{line}");
    let meta: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(rec.join("meta.json")).unwrap()).unwrap();
    let ticks = meta["ticks"].as_u64().unwrap();
    assert!(meta["start_tick"].as_u64().unwrap() >= 30, "{meta}");
    let (left, _, _) = dmm_synth::audio::wav::read_stereo(&rec.join("audio.wav")).unwrap();
    assert_eq!(left.len() as u64, ticks * 80);
    let edits =
        parse_edits_jsonl(&std::fs::read_to_string(rec.join("edits.jsonl")).unwrap()).unwrap();
    assert_eq!(edits.len(), 1, "{edits:?}");
    assert!(edits[0].tick >= 20 && edits[0].tick < ticks, "{edits:?}");
    Patch::load(&rec.join("start.json")).unwrap_or_else(|e| panic!("{e}"));
    s.into_live().stop();
}

/// A performance with a MIDI controller renders offline identically: the recording writes every
/// MIDI event with the tick that took it (`midi.jsonl`), and `render --midi` feeds them at the
/// same ticks. A CC ramp sent to the live engine gives the same trace (`x.out` = 2 · `midi_cc`) in
/// the re-render as in the live machine's own trace; without the events it does not.
#[test]
fn a_recorded_cc_ramp_renders_offline_identically() {
    use dmm_synth::engine::midi_log::parse_midi_jsonl;
    use dmm_synth::live::Live;
    use dmm_synth::neurons::control::{MidiEvent, MidiIn};
    use dmm_synth::render::{RenderOptions, render};
    use std::collections::BTreeMap;
    let dir = tempfile::tempdir().unwrap();
    let patch = dir.path().join("cc.dmm");
    std::fs::write(
        &patch,
        "settings tick_rate=100 sample_rate=1600\ncc : midi_cc channel=1 controller=74\nx : identity\nx.in <- 2 cc\n",
    )
    .unwrap();
    let live_trace = dir.path().join("live-trace.jsonl");
    let opts = LiveOptions {
        trace: Some(live_trace.clone()),
        ..null_sink()
    };
    let mut live =
        Live::open(&patch, Box::new(CpuBackend::new()), opts).unwrap_or_else(|e| panic!("{e}"));
    let (tx, rx) = dmm_synth::control::midi::feed();
    live.engine().attach_midi(&rx);
    let tick = |live: &Live| live.engine().latest().map_or(0, |s| s.tick);
    let wait_ticks = |live: &mut Live, n: u64| {
        let deadline = Instant::now() + Duration::from_secs(60);
        let from = tick(live);
        while tick(live) < from + n {
            live.poll();
            assert!(Instant::now() < deadline, "the engine does not run");
            std::thread::sleep(Duration::from_millis(2));
        }
    };
    wait_ticks(&mut live, 5);
    let rec = dir.path().join("rec");
    live.start_recording(&RecordOptions {
        frames_per_second: 0.0,
        video: false,
        ..RecordOptions::new(&rec)
    })
    .unwrap();
    wait_ticks(&mut live, 3);
    // The ramp: one CC every couple of ticks (two of them within one tick at the end).
    let values: Vec<u8> = (0..=127).step_by(9).collect();
    for (i, &value) in values.iter().enumerate() {
        let ev = MidiIn {
            time_us: 10_000 * i as u64,
            event: MidiEvent::Cc {
                channel: 1,
                controller: 74,
                value,
            },
        };
        tx.send(ev).unwrap();
        if i + 2 < values.len() {
            wait_ticks(&mut live, 2);
        }
    }
    wait_ticks(&mut live, 5);
    let summary = live.stop_recording().expect("recording").unwrap();
    live.stop();
    assert_eq!(summary.midi, values.len(), "{summary:?}");
    assert!(summary.render.contains("--midi"), "{}", summary.render);
    let midi = parse_midi_jsonl(&std::fs::read_to_string(rec.join("midi.jsonl")).unwrap())
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(midi.len(), values.len());
    assert!(
        midi.windows(2).filter(|w| w[1].tick > w[0].tick).count() >= values.len() / 2,
        "the events are spread over the ticks: {midi:?}"
    );
    let meta: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(rec.join("meta.json")).unwrap()).unwrap();
    let start_tick = meta["start_tick"].as_u64().unwrap();
    let seed = meta["seed"].as_u64().unwrap();
    let start = Patch::load(&rec.join("start.json")).unwrap_or_else(|e| panic!("{e}"));
    let edits =
        parse_edits_jsonl(&std::fs::read_to_string(rec.join("edits.jsonl")).unwrap()).unwrap();
    let rerender = |midi: Vec<_>, out: &Path| {
        let o = RenderOptions {
            ticks: summary.ticks,
            out_dir: out.to_path_buf(),
            every: 1_000_000,
            edits: edits.clone(),
            midi,
            seed,
        };
        render(&start, Box::new(CpuBackend::new()), &o, |_| {}).unwrap_or_else(|e| panic!("{e}"));
        trace_series(out, "x.out")
    };
    let rendered = rerender(midi, &dir.path().join("rerender"));
    // The live machine's own trace, from the tick the recording started.
    let live_rows: BTreeMap<u64, f64> = std::fs::read_to_string(&live_trace)
        .unwrap()
        .lines()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).unwrap();
            (
                v["tick"].as_u64().unwrap(),
                v["scalars"]["x.out"].as_f64().unwrap(),
            )
        })
        .collect();
    let lived: Vec<f64> = (start_tick..start_tick + summary.ticks)
        .map(|t| {
            *live_rows
                .get(&t)
                .unwrap_or_else(|| panic!("no live tick {t}"))
        })
        .collect();
    assert_eq!(rendered.len() as u64, summary.ticks);
    assert_eq!(
        rendered, lived,
        "the re-render's x.out differs from the live one"
    );
    let top = 2.0 * f64::from(*values.last().unwrap()) / 127.0;
    assert!(
        (rendered.last().unwrap() - top).abs() < 1e-6,
        "the ramp reached its top: {rendered:?}"
    );
    // The comparison means something: without the events x.out stays at 0.
    let bare = rerender(Vec::new(), &dir.path().join("bare"));
    assert!(bare.iter().all(|&v| v == 0.0) && bare != lived);
}
