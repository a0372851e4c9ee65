//! Safe start: a patch that does not load at launch keeps the instrument (and the window) up,
//! silent, with its errors shown; saving cannot overwrite the file with the empty program; the
//! next good save of the file plays.
//!
//! No timing asserts: waits have generous deadlines; the checks are on state and pixels.

use dmm_synth::backend::cpu::CpuBackend;
use dmm_synth::live::{Live, LiveEvent, LiveOptions};
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_dmm-synth");

/// An unknown neuron type on line 4.
const BROKEN: &str = r#"{
  "settings": { "tick_rate": 100, "sample_rate": 8000 },
  "neurons": {
    "osc": { "type": "sine_wave_please", "kind": "audio" },
    "out": { "type": "audio_out" }
  },
  "weights": { "out.left": { "osc.out": 0.5 } }
}"#;

const GOOD: &str = r#"{
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

fn editor_save(path: &Path, text: &str) {
    let tmp = path.with_extension("json.swp");
    std::fs::write(&tmp, text).unwrap();
    std::fs::rename(&tmp, path).unwrap();
}

#[test]
fn a_broken_patch_starts_silent_and_a_good_save_plays() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("p.json");
    std::fs::write(&path, BROKEN).unwrap();
    let opts = LiveOptions {
        audio: false,
        watch: true,
        capture_every: 0,
        morph: None,
        trace: None,
    };
    let (mut live, err) = Live::open_safe(&path, Box::new(CpuBackend::new()), opts, None)
        .unwrap_or_else(|e| panic!("{e}"));
    let err = err.expect("the broken patch's errors");
    let text = err.to_string();
    assert!(text.contains("sine_wave_please"), "{text}");
    assert!(text.contains("p.json"), "{text}");
    assert!(live.no_program());
    assert_eq!(live.path(), path);
    // Saving would write the empty program over the performer's file: refused, file untouched.
    let e = live.save().expect_err("saving with no program");
    assert!(e.to_string().contains("nothing is playing yet"), "{e}");
    assert_eq!(std::fs::read_to_string(&path).unwrap(), BROKEN);
    // Silence: no neuron plays.
    let deadline = Instant::now() + Duration::from_secs(60);
    let audio = live.engine().audio.clone();
    while live.engine().latest().is_none_or(|s| s.tick < 5) {
        assert!(Instant::now() < deadline);
        std::thread::sleep(Duration::from_millis(5));
    }
    for b in audio.try_iter() {
        assert!(b.left.iter().chain(&b.right).all(|&x| x == 0.0));
    }

    editor_save(&path, GOOD);
    let mut reloaded = false;
    loop {
        for ev in live.poll() {
            if let LiveEvent::Reloaded { .. } = ev {
                reloaded = true;
            }
            if let LiveEvent::Message(m) = &ev
                && m.text.contains("restarted the engine")
            {
                reloaded = true;
            }
        }
        let playing = live
            .engine()
            .latest()
            .is_some_and(|s| s.net.neurons.iter().any(|n| n.name == "osc"));
        if reloaded && playing && !live.no_program() {
            break;
        }
        assert!(Instant::now() < deadline, "the good save did not play");
        std::thread::sleep(Duration::from_millis(10));
    }
    // Sound now: some block is not silent.
    let audio = live.engine().audio.clone();
    let loud = loop {
        if let Ok(b) = audio.recv_timeout(Duration::from_secs(5))
            && b.left.iter().any(|&x| x.abs() > 0.1)
        {
            break true;
        }
        if Instant::now() > deadline {
            break false;
        }
    };
    assert!(loud, "the loaded patch is silent");
    live.save().unwrap_or_else(|e| panic!("{e}"));
    live.stop();
}

fn have_display() -> bool {
    ["DISPLAY", "WAYLAND_DISPLAY"]
        .iter()
        .any(|v| std::env::var_os(v).is_some_and(|s| !s.is_empty()))
}

/// Runs the binary under the current display, or under a fresh Xvfb (never skips).
fn run_windowed(args: &[&str]) -> Output {
    let mut cmd = if have_display() {
        Command::new(BIN)
    } else {
        let mut c = Command::new("xvfb-run");
        c.args(["-a", "-s", "-screen 0 1280x800x24 -noreset", BIN]);
        c
    };
    cmd.args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd
        .spawn()
        .expect("starting dmm-synth (this test needs an X server or xvfb-run)");
    // A guard against a hung window, not a timing assertion.
    let deadline = Instant::now() + Duration::from_secs(240);
    while child.try_wait().expect("waiting").is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("dmm-synth did not exit after its capture");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    child.wait_with_output().expect("output")
}

#[test]
fn a_broken_patch_at_launch_opens_the_window_with_its_errors() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("broken.json");
    std::fs::write(&path, BROKEN).unwrap();
    let shot = dir.path().join("shot.png");
    let out = run_windowed(&[
        path.to_str().unwrap(),
        "--no-audio",
        "--backend",
        "cpu",
        "--size",
        "1000x600",
        "--capture-tick",
        "5",
        "--capture-out",
        shot.to_str().unwrap(),
        "--exit-after-capture",
    ]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "the window did not stay up: {stderr}");
    let img = image::open(&shot)
        .unwrap_or_else(|e| panic!("{}: {e}; {stderr}", shot.display()))
        .to_rgb8();
    // The error text is drawn in red where the picture would be (left of the 400-point panel).
    let area = img.width().saturating_sub(420);
    let red = img
        .enumerate_pixels()
        .filter(|(x, _, p)| *x < area && p.0[0] > 180 && p.0[1] < 140 && p.0[2] < 140)
        .count();
    assert!(
        red > 200,
        "no red error text in the picture area ({red} red pixels)"
    );
}
