//! The live instrument without a window: null sink, audio-clock pacing, hot reload through Self,
//! state kept through edits, files (save, save as, open), mute.
//!
//! No timing asserts: every wait has a generous deadline and the checks are on values and order.

mod common;
use common::*;
use dmm_synth::audio::output::{AudioOutput, guard, ring};
use dmm_synth::backend::cpu::CpuBackend;
use dmm_synth::engine::edits::{Edit, EditOutcome};
use dmm_synth::engine::thread::{Pace, spawn};
use dmm_synth::engine::{Level, PortRef};
use dmm_synth::live::{Live, LiveEvent, LiveOptions, settings_for_rate};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

const DEADLINE: Duration = Duration::from_secs(60);

/// k=1, x = k·w (one tick late), acc counts ticks, ph is a phasor at 7 Hz (scalar).
const COUNTER: &str = r#"{
  "comment": "counter",
  "settings": { "tick_rate": 100, "sample_rate": 1600 },
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

fn pr(s: &str) -> PortRef {
    PortRef::parse(s).unwrap()
}

/// Writes `text` the way many editors save: a temp file renamed over the patch.
fn editor_save(path: &Path, text: &str) {
    let tmp = path.with_extension("json.swp");
    std::fs::write(&tmp, text).unwrap();
    std::fs::rename(&tmp, path).unwrap();
}

fn opts(watch: bool, trace: Option<PathBuf>) -> LiveOptions {
    LiveOptions {
        audio: false,
        watch,
        capture_every: 0,
        morph: None,
        trace,
    }
}

fn open(path: &Path, o: LiveOptions) -> Live {
    Live::open(path, Box::new(CpuBackend::new()), o).unwrap_or_else(|e| panic!("{e}"))
}

/// Polls until `done` says so, collecting every event; panics after the deadline.
fn poll_until(
    live: &mut Live,
    what: &str,
    mut done: impl FnMut(&Live, &[LiveEvent]) -> bool,
) -> Vec<LiveEvent> {
    let t0 = Instant::now();
    let mut all = Vec::new();
    loop {
        all.extend(live.poll());
        if done(live, &all) {
            return all;
        }
        assert!(t0.elapsed() < DEADLINE, "{what}: gave up; events {all:?}");
        std::thread::sleep(Duration::from_millis(3));
    }
}

fn scalar(live: &Live, name: &str) -> Option<f32> {
    let s = live.engine().latest()?;
    s.scalars.iter().find(|(n, _)| n == name).map(|(_, v)| *v)
}

fn tick(live: &Live) -> u64 {
    live.engine().latest().map(|s| s.tick).unwrap_or(0)
}

fn wait_ticks(live: &mut Live, n: u64) {
    let until = tick(live) + n;
    poll_until(live, "ticks", |l, _| tick(l) >= until);
}

/// (ticks, series) of scalar `name` from a trace file; ticks must be consecutive.
fn trace(path: &Path, name: &str) -> Vec<f64> {
    let text = std::fs::read_to_string(path).unwrap();
    let mut out = Vec::new();
    let mut last: Option<u64> = None;
    for l in text.lines() {
        let v: serde_json::Value = serde_json::from_str(l).unwrap();
        let t = v["tick"].as_u64().unwrap();
        if let Some(p) = last {
            assert_eq!(t, p + 1, "trace is lossless and in order");
        }
        last = Some(t);
        out.push(v["scalars"][name].as_f64().unwrap());
    }
    out
}

/// Accumulator: +1 every tick; phasor: the same step (mod 1) every tick.
fn assert_state_unbroken(acc: &[f64], ph: &[f64]) {
    for w in acc.windows(2) {
        assert_eq!(w[1] - w[0], 1.0, "accumulator lost its count: {w:?}");
    }
    let step = (ph[1] - ph[0]).rem_euclid(1.0);
    assert!((step - 0.07).abs() < 1e-4, "{step}");
    for (i, w) in ph.windows(2).enumerate() {
        let d = (w[1] - w[0]).rem_euclid(1.0);
        assert!((d - step).abs() < 1e-4, "phase jumped at {i}: {w:?}");
    }
}

fn temp_patch(text: &str) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("counter.json");
    std::fs::write(&p, text).unwrap();
    (dir, p)
}

#[test]
fn without_a_device_the_null_sink_says_why_and_the_engine_keeps_wall_clock_time() {
    // Asked for a device: either one plays, or a null sink says why.
    let out = AudioOutput::open(true);
    if out.has_device() {
        assert!(out.sample_rate() > 0 && out.stats().capacity() > 0);
        assert!(out.note().is_none());
    } else {
        assert!(
            out.note().unwrap().contains("null sink"),
            "{:?}",
            out.note()
        );
        assert_eq!(out.sample_rate(), 0);
    }
    drop(out);
    let null = AudioOutput::open(false);
    assert!(!null.has_device());
    assert_eq!(null.device_name(), "null sink");
    assert!(null.note().unwrap().contains("null sink"));
    assert_eq!(null.stats().capacity(), 0);

    let (_dir, path) = temp_patch(COUNTER);
    let t0 = Instant::now();
    let mut live = open(&path, opts(false, None));
    assert!(!live.audio().has_device());
    assert_eq!(live.engine().pace(), "wall clock");
    wait_ticks(&mut live, 30);
    let s = live.engine().latest().unwrap();
    // Paced, not free-running: never more ticks than the wall clock allows (a slow machine
    // only runs fewer).
    let allowed = t0.elapsed().as_secs_f64() * 100.0 + 2.0;
    assert!(
        (s.tick as f64) <= allowed,
        "{} ticks in {:?}",
        s.tick,
        t0.elapsed()
    );
    assert_eq!(s.backend, "cpu");
    assert_eq!(
        s.net.settings.tick_rate, 100.0,
        "the patch's own rate on a null sink"
    );
    assert!(s.net.contains("acc"));
    live.stop();
}

#[test]
fn the_engine_keeps_the_ring_at_its_target_fill_and_the_audio_is_unbroken() {
    // A 100 Hz ramp (phasor) into the left channel, ×0.5: each sample is 1/32 above the last.
    let p = patch_str(
        r#"{
      "settings": { "tick_rate": 100, "sample_rate": 1600 },
      "neurons": { "one": { "type": "one", "kind": "audio" },
                   "ph": { "type": "phasor", "kind": "audio" },
                   "out": { "type": "audio_out" } },
      "weights": { "ph.freq": { "one.out": 100 }, "out.left": { "ph.out": 0.5 } }
    }"#,
    );
    let block = p.network.block_len();
    assert_eq!(block, 16);
    let (feed, mut reader) = ring(1024);
    let stats = feed.stats().clone();
    let h = spawn(machine(&p), Pace::Audio(feed), 0);
    assert_eq!(h.pace(), "audio clock");
    // Nobody reads yet: the engine fills the ring to its target (3 blocks) and waits there.
    let t0 = Instant::now();
    while stats.fill() < 3 * block {
        assert!(t0.elapsed() < DEADLINE, "ring never filled");
        std::thread::sleep(Duration::from_millis(2));
    }
    // The tick that filled it shows in a snapshot; an engine that did not stop there would be
    // seen below too, as a first read far above the target.
    while h.latest().is_none_or(|s| s.tick < 3) {
        assert!(t0.elapsed() < DEADLINE, "no snapshot of the filling ticks");
        std::thread::sleep(Duration::from_millis(2));
    }
    assert_eq!(stats.fill(), 3 * block, "the engine stops at its target");
    assert_eq!(
        h.latest().unwrap().tick,
        3,
        "exactly the ticks the ring needed"
    );
    // Now a device asking for 64 frames at a time: the target becomes 64 + 2 blocks.
    let mut left = Vec::new();
    let mut max_fill = 0;
    let mut buf = vec![0.0f32; 64 * 2];
    while left.len() < 64 * 40 {
        assert!(t0.elapsed() < DEADLINE, "audio stalled");
        // Like a device: the first callback comes whatever the fill (and underruns, which
        // raises the target); then one whenever a buffer's worth is there.
        if stats.callbacks() == 0 || reader.available() >= 64 {
            let got = reader.fill(&mut buf, 2);
            left.extend(buf.iter().step_by(2).take(got).copied());
        } else {
            std::thread::sleep(Duration::from_millis(1));
        }
        max_fill = max_fill.max(reader.available());
    }
    assert!(
        max_fill <= 64 + 3 * block,
        "never much above the target: {max_fill}"
    );
    assert!(stats.callbacks() >= 40);
    // Every block arrived once, in order: the ramp never skips or repeats (after the first
    // blocks, where the phasor starts and the weights ramp in from 0).
    let start = 3 * block;
    for (i, w) in left[start..].windows(2).enumerate() {
        let d = (w[1] - w[0]).rem_euclid(0.5);
        assert!((d - 1.0 / 32.0).abs() < 1e-4, "sample {i}: {w:?}");
    }
    // The device stops calling back (unplugged, say): the engine does not freeze but keeps
    // wall-clock time, far beyond what the ring could hold.
    let t = h.latest().unwrap().tick;
    let cap_ticks = (1024 / block) as u64;
    while h.latest().unwrap().tick < t + cap_ticks + 20 {
        assert!(t0.elapsed() < DEADLINE, "the engine froze with the device");
        std::thread::sleep(Duration::from_millis(5));
    }
    h.stop().unwrap();
}

#[test]
fn a_jumped_audio_weight_ramps_across_the_block() {
    let p = patch_str(
        r#"{
      "settings": { "tick_rate": 100, "sample_rate": 1600 },
      "neurons": { "one": { "type": "one", "kind": "audio" }, "out": { "type": "audio_out" } },
      "weights": { "out.left": { "one.out": 0.25 } }
    }"#,
    );
    let mut m = machine(&p);
    let mut left = Vec::new();
    for t in 0..12 {
        if t == 4 {
            m.submit(Edit::set("out.left", "one.out", 1.0).unwrap());
        }
        if t == 8 {
            m.submit(Edit::Remove {
                target: pr("out.left"),
                source: pr("one.out"),
            });
        }
        m.tick(false).unwrap();
        left.extend_from_slice(&m.outputs().left);
    }
    // Steps of 0.75 and 1.0 spread over 16 samples: no sample-to-sample step above 1/16.
    let biggest = left
        .windows(2)
        .map(|w| (w[1] - w[0]).abs())
        .fold(0.0f32, f32::max);
    assert!(biggest <= 1.0 / 16.0 + 1e-6, "zipper step {biggest}");
    assert!(left.contains(&1.0) && left.ends_with(&[0.0]), "{left:?}");
    assert!(
        left.iter().any(|&v| v > 0.3 && v < 0.95),
        "the change ramps through the block"
    );
    // What leaves for the device is guarded: within ±1, never NaN.
    assert!(left.iter().all(|&v| guard(v).abs() <= 1.0));
}

#[test]
fn the_engine_runs_at_the_device_rate_with_a_whole_block() {
    let s = settings_with(|s| s.sample_rate = 48_000); // tick_rate 375: 128 samples
    assert_eq!(settings_for_rate(&s, 48_000), s);
    assert_eq!(settings_for_rate(&s, 0), s, "null sink: the patch's rate");
    let t = settings_for_rate(&s, 44_100);
    assert_eq!(t.sample_rate, 44_100);
    assert_eq!(t.block_len(), 118);
    assert!((t.tick_rate - 44_100.0 / 118.0).abs() < 1e-9);
    assert!(t.check().is_ok(), "{:?}", t.check());
    let u = settings_for_rate(&s, 96_000);
    assert_eq!((u.block_len(), u.tick_rate), (256, 375.0));
}

#[test]
fn hot_reload_morphs_a_changed_weight_linearly_and_keeps_state() {
    let (dir, path) = temp_patch(COUNTER);
    let tr = dir.path().join("trace.jsonl");
    let mut live = open(&path, opts(true, Some(tr.clone())));
    wait_ticks(&mut live, 10);
    assert_eq!(scalar(&live, "x.out"), Some(1.0));
    // The performer changes one weight in the editor and asks for a half-second morph.
    let changed = COUNTER
        .replace(r#""x.in": { "k.out": 1 }"#, r#""x.in": { "k.out": 3 }"#)
        .replace(
            r#""sample_rate": 1600 }"#,
            r#""sample_rate": 1600, "morph_time": 0.5 }"#,
        );
    assert_ne!(changed, COUNTER);
    editor_save(&path, &changed);
    let ev = poll_until(&mut live, "reload", |_, ev| {
        ev.iter().any(|e| matches!(e, LiveEvent::Reloaded { .. }))
    });
    assert!(
        ev.contains(&LiveEvent::Reloaded {
            edits: 1,
            morph: 0.5
        }),
        "{ev:?}"
    );
    poll_until(&mut live, "morph done", |l, _| {
        scalar(l, "x.out") == Some(3.0)
    });
    wait_ticks(&mut live, 5);
    assert!(!live.dirty(), "the file and the running patch agree");
    live.stop();

    let x = trace(&tr, "x.out");
    let first = x.iter().position(|&v| v != 1.0).unwrap();
    let last = x.iter().position(|&v| v == 3.0).unwrap();
    assert!(x[..first].iter().all(|&v| v == 1.0));
    assert!(x[last..].iter().all(|&v| v == 3.0), "lands and stays");
    // 0.5 s at 100 ticks/s: 50 equal steps of 2/50, one per tick.
    assert_eq!(
        last - first + 1,
        50,
        "{:?}",
        &x[first.saturating_sub(2)..last + 2]
    );
    for w in x[first - 1..=last].windows(2) {
        assert!((w[1] - w[0] - 0.04).abs() < 1e-5, "{w:?}");
    }
    // The accumulator and the oscillator never noticed.
    assert_state_unbroken(&trace(&tr, "acc.out"), &trace(&tr, "ph.out"));
}

#[test]
fn a_file_with_errors_changes_nothing_and_says_what_is_wrong() {
    let (_dir, path) = temp_patch(COUNTER);
    let mut live = open(&path, opts(true, None));
    wait_ticks(&mut live, 5);
    let w_before = live.engine().latest().unwrap().w.clone();
    // A typo in a port name, then broken JSON.
    editor_save(&path, &COUNTER.replace(r#""x.in""#, r#""x.inn""#));
    let ev = poll_until(&mut live, "errors", |_, ev| {
        ev.iter().any(|e| matches!(e, LiveEvent::FileErrors(_)))
    });
    let errs: Vec<&String> = ev
        .iter()
        .filter_map(|e| match e {
            LiveEvent::FileErrors(v) => Some(v),
            _ => None,
        })
        .flatten()
        .collect();
    assert!(
        errs.iter()
            .any(|e| e.contains("counter.json") && e.contains("x.inn")),
        "{errs:?}"
    );
    assert!(!ev.iter().any(|e| matches!(e, LiveEvent::Reloaded { .. })));
    editor_save(&path, "{ \"neurons\": ");
    poll_until(&mut live, "json errors", |_, ev| {
        ev.iter().any(|e| matches!(e, LiveEvent::FileErrors(v) if v.iter().any(|s| s.contains("invalid JSON"))))
    });
    wait_ticks(&mut live, 5);
    let s = live.engine().latest().unwrap();
    assert_eq!(s.w, w_before, "the running network is untouched");
    assert!(s.net.contains("acc"));
    // Fixing the file applies it.
    editor_save(
        &path,
        &COUNTER.replace(r#""x.in": { "k.out": 1 }"#, r#""x.in": { "k.out": 2 }"#),
    );
    poll_until(&mut live, "fixed", |l, _| scalar(l, "x.out") == Some(2.0));
    live.stop();
}

#[test]
fn an_unrelated_edit_keeps_phase_and_accumulator_unbroken() {
    // COUNTER plus an audio oscillator (a 100 Hz phasor ×0.5, 1/32 a sample) on the left.
    let text = COUNTER
        .replace(
            r#""ph": { "type": "phasor" }"#,
            r#""ph": { "type": "phasor" },
    "one": { "type": "one", "kind": "audio" },
    "aph": { "type": "phasor", "kind": "audio" },
    "out": { "type": "audio_out" }"#,
        )
        .replace(
            r#""ph.freq": { "k.out": 7 }"#,
            r#""ph.freq": { "k.out": 7 },
    "aph.freq": { "one.out": 100 },
    "out.left": { "aph.out": 0.5 }"#,
        );
    let (dir, path) = temp_patch(&text);
    let tr = dir.path().join("trace.jsonl");
    let mut live = open(&path, opts(false, Some(tr.clone())));
    let audio = std::cell::RefCell::new(Vec::new());
    let drain = |l: &Live| {
        for block in l.engine().audio.try_iter() {
            audio.borrow_mut().extend_from_slice(&block.left);
        }
    };
    let until = 10;
    poll_until(&mut live, "start", |l, _| {
        drain(l);
        tick(l) >= until
    });
    assert!(!live.dirty());
    assert_eq!(live.title(), "counter.json");
    let id = live.send(Edit::set("x.in", "k.out", 5.0).unwrap());
    assert!(live.dirty());
    assert_eq!(live.title(), "counter.json •");
    let ev = poll_until(&mut live, "edit", |l, _| {
        drain(l);
        scalar(l, "x.out") == Some(5.0)
    });
    let ev2 = poll_until(&mut live, "outcome", |_, e| {
        ev.iter()
            .chain(e)
            .any(|e| matches!(e, LiveEvent::Outcome { id: i, outcome: EditOutcome::Applied { .. } } if *i == id))
    });
    drop(ev2);
    // A rejected edit (unknown neuron) comes back as an outcome that says why, and only as
    // that (reported once, not also as a message); nothing changes.
    let bad = live.send(Edit::set("acc.delta", "nope.out", 1.0).unwrap());
    let ev = poll_until(&mut live, "rejection", |_, e| {
        e.iter().any(|e| {
            matches!(e, LiveEvent::Outcome { id, outcome: EditOutcome::Rejected { .. } } if *id == bad)
        })
    });
    assert!(ev.iter().any(
        |e| matches!(e, LiveEvent::Outcome { id, outcome } if *id == bad && outcome.reasons().contains("nope"))
    ));
    assert!(!ev.iter().any(
        |e| matches!(e, LiveEvent::Message(m) if m.level == Level::Error && m.text.contains("nope"))
    ));
    let until = tick(&live) + 10;
    poll_until(&mut live, "after", |l, _| {
        drain(l);
        tick(l) >= until
    });
    assert_eq!(
        live.engine()
            .dropped_audio
            .load(std::sync::atomic::Ordering::Relaxed),
        0
    );
    live.stop();
    // The oscillator's phase ran on through the edit: every sample 1/32 above the last.
    let audio = audio.into_inner();
    assert!(audio.len() > 16 * 20);
    for (i, w) in audio[3 * 16..].windows(2).enumerate() {
        let d = (w[1] - w[0]).rem_euclid(0.5);
        assert!((d - 1.0 / 32.0).abs() < 1e-4, "sample {i}: {w:?}");
    }
    let x = trace(&tr, "x.out");
    assert_eq!(x.first(), Some(&1.0));
    assert_eq!(x.last(), Some(&5.0));
    assert_state_unbroken(&trace(&tr, "acc.out"), &trace(&tr, "ph.out"));
}

#[test]
fn hot_reload_adds_removes_and_replaces_neurons() {
    let (_dir, path) = temp_patch(COUNTER);
    let mut live = open(&path, opts(true, None));
    wait_ticks(&mut live, 5);
    // x becomes a tanh (replaced: removed, then added back with its connections); a new
    // neuron y reads acc; ph goes.
    let text = r#"{
      "comment": "counter",
      "settings": { "tick_rate": 100, "sample_rate": 1600 },
      "neurons": {
        "k": { "type": "one" },
        "x": { "type": "tanh" },
        "acc": { "type": "accum" },
        "y": { "type": "identity" }
      },
      "weights": {
        "x.x": { "k.out": 0.5 },
        "acc.accum": { "acc.out": 1 },
        "acc.delta": { "k.out": 1 },
        "y.in": { "acc.out": -1 }
      }
    }"#;
    editor_save(&path, text);
    let ev = poll_until(&mut live, "replaced", |l, _| {
        scalar(l, "x.out").is_some_and(|v| (v - 0.5f32.tanh()).abs() < 1e-6)
    });
    assert!(
        ev.iter()
            .any(|e| matches!(e, LiveEvent::Reloaded { edits, .. } if *edits == 6)),
        "remove ph, remove x, add y, set y.in; then add x, set x.x: {ev:?}"
    );
    let s = live.engine().latest().unwrap();
    assert!(!s.net.contains("ph") && s.net.contains("y"));
    assert_eq!(s.net.find("x").unwrap().1.spec.ty, "tanh");
    // acc kept counting through all of it: y = -acc one tick late, far from a fresh start.
    let acc = scalar(&live, "acc.out").unwrap();
    assert!(acc > 5.0, "{acc}");
    poll_until(&mut live, "y", |l, _| {
        match (scalar(l, "y.out"), scalar(l, "acc.out")) {
            (Some(y), Some(a)) => y < -5.0 && (y + a).abs() <= 1.0,
            _ => false,
        }
    });
    live.stop();
}

#[test]
fn save_save_as_and_open_patch() {
    let (dir, path) = temp_patch(COUNTER);
    let mut live = open(&path, opts(true, None));
    wait_ticks(&mut live, 3);
    live.send(Edit::set("x.in", "k.out", 4.0).unwrap());
    assert!(live.dirty());
    live.save().unwrap();
    assert!(!live.dirty());
    let saved = dmm_synth::patch::Patch::load(&path).unwrap();
    assert_eq!(
        saved.weights.get(&pr("x.in"), &pr("k.out")),
        4.0,
        "the edit is saved"
    );
    assert_eq!(saved.comment.as_deref(), Some("counter"));
    assert_eq!(saved.settings.tick_rate, 100.0);
    let bak = std::fs::read_to_string(dir.path().join("counter.json.bak")).unwrap();
    assert_eq!(bak, COUNTER, "the previous version is kept");
    // Our own save is not a reload.
    let until = tick(&live) + 40;
    let ev = poll_until(&mut live, "quiet", |l, _| tick(l) >= until);
    assert!(
        !ev.iter()
            .any(|e| matches!(e, LiveEvent::Reloaded { .. } | LiveEvent::FileErrors(_))),
        "{ev:?}"
    );

    // Save as: the new file becomes the open (and watched) one.
    let other = dir.path().join("sub.json");
    live.send(Edit::set("x.in", "k.out", 6.0).unwrap());
    assert_eq!(live.title(), "counter.json •");
    live.save_as(&other).unwrap();
    assert_eq!(live.path(), other.as_path());
    assert_eq!(live.title(), "sub.json");
    let p = dmm_synth::patch::Patch::load(&other).unwrap();
    assert_eq!(p.weights.get(&pr("x.in"), &pr("k.out")), 6.0);
    editor_save(
        &other,
        &std::fs::read_to_string(&other)
            .unwrap()
            .replace("6.0", "7.0"),
    );
    poll_until(&mut live, "watching the new file", |l, _| {
        scalar(l, "x.out") == Some(7.0)
    });

    // A bad file: its errors come back and nothing changes.
    let bad = dir.path().join("bad.json");
    std::fs::write(
        &bad,
        COUNTER.replace(r#""type": "accum""#, r#""type": "acumm""#),
    )
    .unwrap();
    let err = live.open_patch(&bad).unwrap_err();
    assert!(err.lines().iter().any(|l| l.contains("acumm")), "{err}");
    assert_eq!(live.path(), other.as_path());
    let missing = live
        .open_patch(&dir.path().join("missing.json"))
        .unwrap_err();
    assert!(missing.to_string().contains("missing.json"));
    wait_ticks(&mut live, 3);
    assert_eq!(scalar(&live, "x.out"), Some(7.0));

    // A compatible patch: through Self, the accumulator keeps counting.
    let acc_before = scalar(&live, "acc.out").unwrap();
    let next = dir.path().join("next.json");
    std::fs::write(
        &next,
        COUNTER.replace(r#""x.in": { "k.out": 1 }"#, r#""x.in": { "k.out": 9 }"#),
    )
    .unwrap();
    live.open_patch(&next).unwrap();
    assert_eq!(live.title(), "next.json");
    poll_until(&mut live, "opened", |l, _| scalar(l, "x.out") == Some(9.0));
    assert!(scalar(&live, "acc.out").unwrap() > acc_before, "state kept");

    // Incompatible settings: the engine restarts on the new patch and says so.
    let slow = dir.path().join("slow.json");
    std::fs::write(
        &slow,
        COUNTER.replace(r#""tick_rate": 100"#, r#""tick_rate": 50"#),
    )
    .unwrap();
    live.open_patch(&slow).unwrap();
    let ev = poll_until(&mut live, "restart", |l, _| {
        l.engine()
            .latest()
            .is_some_and(|s| s.net.settings.tick_rate == 50.0)
    });
    assert!(
        ev.iter()
            .any(|e| matches!(e, LiveEvent::Message(m) if m.text.contains("restarted"))),
        "{ev:?}"
    );
    live.stop();
}

/// The code pane's Save As (`saved_elsewhere`): the instrument takes the new file as its own.
/// Its watch moves (a change to the old file is not taken, one to the new file is), `save`
/// writes the new file, and the text written there is not reloaded as an outside change.
#[test]
fn saved_elsewhere_moves_the_watch_and_the_saves_to_the_new_file() {
    let (dir, path) = temp_patch(COUNTER);
    let mut live = open(&path, opts(true, None));
    wait_ticks(&mut live, 3);
    let other = dir.path().join("other.json");
    let written = COUNTER.replace(r#""x.in": { "k.out": 1 }"#, r#""x.in": { "k.out": 2 }"#);
    std::fs::write(&other, &written).unwrap(); // as the pane wrote it
    live.saved_elsewhere(&other, written.clone()).unwrap();
    assert_eq!(live.path(), other.as_path());
    assert_eq!(live.title(), "other.json");
    // The old file changes, then the new one: only the new one's weight arrives.
    editor_save(
        &path,
        &COUNTER.replace(r#""x.in": { "k.out": 1 }"#, r#""x.in": { "k.out": 3 }"#),
    );
    editor_save(
        &other,
        &COUNTER.replace(r#""x.in": { "k.out": 1 }"#, r#""x.in": { "k.out": 5 }"#),
    );
    let ev = poll_until(&mut live, "the new file's reload", |l, _| {
        scalar(l, "x.out") == Some(5.0)
    });
    let reloads = ev
        .iter()
        .filter(|e| matches!(e, LiveEvent::Reloaded { .. }))
        .count();
    assert_eq!(reloads, 1, "one reload, of the new file: {ev:?}");
    let until = tick(&live) + 40;
    let ev = poll_until(&mut live, "quiet", |l, _| tick(l) >= until);
    assert!(
        !ev.iter()
            .any(|e| matches!(e, LiveEvent::Reloaded { .. } | LiveEvent::FileErrors(_))),
        "{ev:?}"
    );
    assert_eq!(scalar(&live, "x.out"), Some(5.0));
    // Saving the running network writes the new file.
    live.send(Edit::set("x.in", "k.out", 6.0).unwrap());
    live.save().unwrap();
    let p = dmm_synth::patch::Patch::load(&other).unwrap();
    assert_eq!(p.weights.get(&pr("x.in"), &pr("k.out")), 6.0);
    let p = dmm_synth::patch::Patch::load(&path).unwrap();
    assert_eq!(p.weights.get(&pr("x.in"), &pr("k.out")), 3.0, "untouched");
    live.stop();
}

#[test]
fn mute_is_a_flag_the_callback_reads() {
    let (_dir, path) = temp_patch(COUNTER);
    let live = open(&path, opts(false, None));
    let stats = live.audio().stats();
    assert!(!stats.muted());
    stats.set_muted(true);
    assert!(
        live.audio().stats().muted(),
        "the UI and the callback share it"
    );
    stats.set_muted(false);
    assert!(!stats.muted());
    live.stop();

    // The callback side: muted output is silence while the ring keeps draining.
    let (mut feed, mut reader) = ring(64);
    feed.push_block(&[0.5; 8], &[0.5; 8]);
    feed.stats().set_muted(true);
    let mut out = [1.0f32; 16];
    reader.fill(&mut out, 2);
    assert_eq!(out, [0.0; 16]);
    assert_eq!(feed.fill(), 0);
    assert_eq!(feed.stats().underruns(), 0);
    reader.fill(&mut out, 2);
    assert_eq!(feed.stats().underruns(), 1, "an empty ring is an underrun");
}

/// The CPU backend, failing once at a given tick (a lost GPU, say).
struct Failing {
    inner: CpuBackend,
    fail_at: u64,
    panic: bool,
}

impl dmm_synth::backend::Backend for Failing {
    fn name(&self) -> String {
        "failing".into()
    }
    fn set_layout(
        &mut self,
        net: &dmm_synth::engine::Network,
        carry: &[Option<usize>],
    ) -> Result<(), dmm_synth::backend::BackendError> {
        self.inner.set_layout(net, carry)
    }
    fn tick(
        &mut self,
        net: &dmm_synth::engine::Network,
        plan: &dmm_synth::neurons::network::DownPlan,
        ctx: &dmm_synth::backend::TickCtx,
        out: &mut dmm_synth::backend::TickOutputs,
    ) -> Result<(), dmm_synth::backend::BackendError> {
        if ctx.tick == self.fail_at && self.panic {
            panic!("kernel bug");
        }
        if ctx.tick == self.fail_at {
            return Err(dmm_synth::backend::BackendError::Failed {
                backend: "failing".into(),
                msg: "device lost".into(),
            });
        }
        self.inner.tick(net, plan, ctx, out)
    }
    fn read_port(
        &mut self,
        net: &dmm_synth::engine::Network,
        neuron: usize,
        port: usize,
        output: bool,
    ) -> Result<Vec<f32>, dmm_synth::backend::BackendError> {
        self.inner.read_port(net, neuron, port, output)
    }
}

#[test]
fn a_backend_failure_restarts_on_the_cpu_with_the_running_network() {
    recovers(false, "device lost");
}

#[test]
fn a_panicking_kernel_restarts_on_the_cpu_with_the_running_network() {
    recovers(true, "kernel bug");
}

fn recovers(panic: bool, cause: &str) {
    let (dir, path) = temp_patch(COUNTER);
    let tr = dir.path().join("trace.jsonl");
    let backend = Failing {
        inner: CpuBackend::new(),
        fail_at: 30,
        panic,
    };
    let mut live = Live::open(&path, Box::new(backend), opts(false, Some(tr.clone())))
        .unwrap_or_else(|e| panic!("{e}"));
    wait_ticks(&mut live, 5);
    live.send(Edit::set("x.in", "k.out", 8.0).unwrap());
    let ev = poll_until(&mut live, "recovery", |_, ev| {
        ev.iter()
            .any(|e| matches!(e, LiveEvent::Message(m) if m.text.contains("restarted the engine")))
    });
    assert!(
        ev.iter().any(|e| matches!(e, LiveEvent::Message(m)
            if m.level == Level::Error && m.text.contains(cause))),
        "the cause is reported: {ev:?}"
    );
    poll_until(&mut live, "running again", |l, _| {
        l.engine()
            .latest()
            .is_some_and(|s| s.backend == "cpu" && s.tick > 5)
    });
    assert_eq!(
        scalar(&live, "x.out"),
        Some(8.0),
        "the edited W carried over"
    );
    live.stop();
    // The trace counts on through the restart (`trace` checks the ticks are consecutive).
    let x = trace(&tr, "x.out");
    assert!(x.len() > 35 && x.last() == Some(&8.0), "{x:?}");
}

#[test]
fn a_later_set_of_the_same_weight_wins_over_a_morph_in_progress() {
    // Two saves in a row during a long morph: W must land on the second value, not on it plus
    // the rest of the first morph.
    let mut m = machine(&patch_str(COUNTER));
    let w = |m: &dmm_synth::engine::Machine| m.w().get(&pr("x.in"), &pr("k.out"));
    let set = |weight: f64, morph: f64| Edit::Set {
        target: pr("x.in"),
        source: pr("k.out"),
        weight,
        morph,
    };
    m.submit(set(3.0, 0.5)); // 50 ticks
    let mut ws = Vec::new();
    for t in 0..100 {
        if t == 12 {
            m.submit(set(0.5, 0.2)); // 20 ticks, from wherever the first morph is
        }
        m.tick(false).unwrap();
        ws.push(w(&m));
    }
    assert_eq!(*ws.last().unwrap(), 0.5, "{ws:?}");
    let peak = ws.iter().cloned().fold(f64::MIN, f64::max);
    assert!(peak < 1.5, "the first morph stopped where it was: {ws:?}");
    // From the turn on, equal steps down to 0.5, then still.
    let turn = ws.iter().position(|&v| v == peak).unwrap();
    let steps: Vec<f64> = ws[turn..].windows(2).map(|p| p[1] - p[0]).collect();
    let moving: Vec<f64> = steps.iter().copied().filter(|d| *d != 0.0).collect();
    assert_eq!(moving.len(), 20, "{ws:?}");
    for d in &moving {
        assert!((d - moving[0]).abs() < 1e-9, "{steps:?}");
    }

    // remove during a morph: stays removed; remove_neuron during a morph into it: no
    // rejected slices afterwards.
    m.submit(set(2.0, 0.3));
    for _ in 0..5 {
        m.tick(false).unwrap();
    }
    m.submit(Edit::Remove {
        target: pr("x.in"),
        source: pr("k.out"),
    });
    m.submit(Edit::Set {
        target: pr("acc.delta"),
        source: pr("k.out"),
        weight: 4.0,
        morph: 0.3,
    });
    for _ in 0..3 {
        m.tick(false).unwrap();
    }
    m.submit(Edit::RemoveNeuron {
        name: "acc".into(),
        morph: 0.0,
    });
    for _ in 0..60 {
        m.tick(false).unwrap();
    }
    assert!(
        m.w().row(&pr("x.in")).is_none(),
        "{:?}",
        m.w().row(&pr("x.in"))
    );
    assert!(!m.network().contains("acc"));
    let msgs = m.take_messages();
    assert!(
        msgs.iter().all(|m| m.level != Level::Error),
        "no slices into a removed neuron: {msgs:?}"
    );
}

#[test]
fn the_morph_option_overrides_the_file() {
    morph_override(false);
}

/// The panel's hot-reload control: `set_morph` while playing, a bad value refused.
#[test]
fn set_morph_overrides_the_file_while_playing() {
    morph_override(true);
}

fn morph_override(via_setter: bool) {
    let (dir, path) = temp_patch(COUNTER);
    let tr = dir.path().join("trace.jsonl");
    let mut o = opts(true, Some(tr.clone()));
    if !via_setter {
        o.morph = Some(0.2);
    }
    let mut live = open(&path, o);
    if via_setter {
        assert_eq!(live.morph_override(), None);
        live.set_morph(Some(0.2)).unwrap();
        assert!(live.set_morph(Some(-1.0)).is_err());
        assert!(live.set_morph(Some(f64::NAN)).is_err());
    }
    assert_eq!(live.morph_override(), Some(0.2));
    wait_ticks(&mut live, 5);
    let changed = COUNTER
        .replace(r#""x.in": { "k.out": 1 }"#, r#""x.in": { "k.out": -1 }"#)
        .replace(
            r#""sample_rate": 1600 }"#,
            r#""sample_rate": 1600, "morph_time": 3 }"#,
        );
    editor_save(&path, &changed);
    let ev = poll_until(&mut live, "done", |l, _| scalar(l, "x.out") == Some(-1.0));
    assert!(
        ev.contains(&LiveEvent::Reloaded {
            edits: 1,
            morph: 0.2
        }),
        "{ev:?}"
    );
    live.stop();
    let x = trace(&tr, "x.out");
    let moving = x.windows(2).filter(|w| w[1] != w[0]).count();
    assert_eq!(moving, 20, "0.2 s at 100 ticks/s: {x:?}");
}

#[test]
fn hot_reload_leaves_a_self_modifying_network_its_own_weights() {
    // waves.json: the network moves probe.in's link k1 -> k2 -> k3 itself, every tick. Editing
    // an unrelated weight in the text must not reset the travelling link (which would break the
    // network's "subtract me, add the next" bookkeeping).
    let text = std::fs::read_to_string(root().join("patches/waves.json"))
        .unwrap()
        .replace(r#""tick_rate": 8"#, r#""tick_rate": 100"#);
    let (dir, path) = temp_patch(&text);
    let tr = dir.path().join("trace.jsonl");
    let mut live = open(&path, opts(true, Some(tr.clone())));
    wait_ticks(&mut live, 5);
    for (i, gain) in ["0.2", "0.25", "0.35"].iter().enumerate() {
        editor_save(
            &path,
            &text.replace(
                r#""out.left": { "osc.out": 0.3 }"#,
                &format!(r#""out.left": {{ "osc.out": {gain} }}"#),
            ),
        );
        let ev = poll_until(&mut live, "reload", |_, ev| {
            ev.iter().any(|e| matches!(e, LiveEvent::Reloaded { .. }))
        });
        assert!(
            ev.contains(&LiveEvent::Reloaded {
                edits: 1,
                morph: 0.0
            }),
            "reload {i}: only the gain changes: {ev:?}"
        );
        wait_ticks(&mut live, 7);
    }
    let s = live.engine().latest().unwrap();
    assert_eq!(s.w.get(&pr("out.left"), &pr("osc.out")), 0.35);
    live.stop();
    let probe = trace(&tr, "probe.out");
    for w in probe.windows(2) {
        assert_eq!(
            w[1],
            w[0] % 3.0 + 1.0,
            "the link keeps travelling: {probe:?}"
        );
    }
}
