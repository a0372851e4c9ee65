//! End to end: the real binary opens a `.dmm` patch in its window under X, a row is typed into
//! the running code pane and evaluated with Ctrl+Enter (`--type`: real egui text and key events,
//! the keyboard's path), and the window's own capture shows the picture changed as the row says.
//! With no X server in the environment the test starts one with xvfb-run; it never passes
//! without having looked at a picture.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_dmm-synth");

/// A 32×64 picture: a left-to-right ramp from 0.2 to 1.0.
const RAMP: &str = "# e2e: a horizontal ramp
settings tick_rate=375 sample_rate=48000 image=32x64

xy   : coords
ones : one image
show : display

show.in <- 0.8 xy.x + 0.2 ones
";

fn have_display() -> bool {
    ["DISPLAY", "WAYLAND_DISPLAY"]
        .iter()
        .any(|v| std::env::var_os(v).is_some_and(|s| !s.is_empty()))
}

/// Runs the binary under the current display, or a fresh Xvfb; fails (never skips) without one.
fn run_windowed(args: &[&str]) -> Output {
    let mut cmd = if have_display() {
        Command::new(BIN)
    } else {
        let has_xvfb = Command::new("sh")
            .args(["-c", "command -v xvfb-run"])
            .output()
            .is_ok_and(|o| o.status.success());
        assert!(
            has_xvfb,
            "no DISPLAY/WAYLAND_DISPLAY and no xvfb-run: this test needs an X server"
        );
        let mut c = Command::new("xvfb-run");
        c.args(["-a", "-s", "-screen 0 1280x800x24 -noreset", BIN]);
        c
    };
    cmd.args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().expect("starting dmm-synth");
    // A guard against a hung window, not a timing assertion.
    let deadline = Instant::now() + Duration::from_secs(240);
    while child.try_wait().expect("waiting").is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            let out = child.wait_with_output().expect("output");
            panic!(
                "dmm-synth did not exit after its capture:\n{}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    child.wait_with_output().expect("output")
}

struct Shot {
    w: usize,
    rgb: Vec<[u8; 3]>,
}

impl Shot {
    fn load(p: &Path) -> Shot {
        let img = image::open(p)
            .unwrap_or_else(|e| panic!("{}: {e}", p.display()))
            .to_rgb8();
        Shot {
            w: img.width() as usize,
            rgb: img.pixels().map(|p| p.0).collect(),
        }
    }

    fn mean(&self, x0: usize, y0: usize, x1: usize, y1: usize) -> f64 {
        let mut s = 0.0;
        for y in y0..y1 {
            for x in x0..x1 {
                let [r, g, b] = self.rgb[y * self.w + x];
                s += (r as f64 + g as f64 + b as f64) / 3.0;
            }
        }
        s / ((x1 - x0) * (y1 - y0)) as f64
    }
}

/// Plays `patch` with `typed` as the `--type` script and captures the window at tick 240.
fn capture(dir: &Path, name: &str, patch: &Path, typed: &str, extra: &[&str]) -> PathBuf {
    let script = dir.join(format!("{name}.jsonl"));
    std::fs::write(&script, typed).expect("write script");
    let out = dir.join(format!("{name}.png"));
    let mut args = vec![
        patch.to_str().expect("utf-8"),
        "--no-audio",
        "--no-watch",
        "--capture-tick",
        "240",
        "--capture-out",
        out.to_str().expect("utf-8"),
        "--exit-after-capture",
        "--type",
        script.to_str().expect("utf-8"),
    ];
    args.extend_from_slice(extra);
    let o = run_windowed(&args);
    let stdout = String::from_utf8_lossy(&o.stdout).to_string();
    assert!(
        o.status.success() && stdout.contains("captured tick"),
        "dmm-synth failed ({}):\nstdout: {stdout}\nstderr: {}",
        o.status,
        String::from_utf8_lossy(&o.stderr)
    );
    out
}

/// Hides the code pane (Ctrl+E) at tick 200, so the capture shows the bare picture.
const HIDE: &str = "{\"tick\": 200, \"key\": \"ctrl+e\"}\n";

#[test]
fn a_row_typed_into_the_running_editor_changes_the_picture() {
    let dir = tempfile::tempdir().expect("tempdir");
    let patch = dir.path().join("ramp.dmm");
    std::fs::write(&patch, RAMP).expect("write patch");
    let size = ["--hide-panel", "--size", "640x400"];

    let before = Shot::load(&capture(dir.path(), "before", &patch, HIDE, &size));
    // The row halves both weights of the display: every pixel should halve.
    let typed = format!(
        "{{\"tick\": 30, \"key\": \"ctrl+end\"}}\n\
         {{\"tick\": 30, \"text\": \"show.in <- 0.4 xy.x + 0.1 ones\"}}\n\
         {{\"tick\": 31, \"key\": \"ctrl+enter\"}}\n{HIDE}"
    );
    let after = Shot::load(&capture(dir.path(), "after", &patch, &typed, &size));
    for (x0, x1) in [(10, 60), (300, 340), (580, 630)] {
        let (a, b) = (before.mean(x0, 60, x1, 340), after.mean(x0, 60, x1, 340));
        let ratio = b / a;
        assert!(
            (0.45..=0.55).contains(&ratio),
            "columns {x0}..{x1}: brightness {a:.1} -> {b:.1}, ratio {ratio:.3}, expected 0.5"
        );
    }
    // The file is untouched: evaluating is not saving.
    assert_eq!(std::fs::read_to_string(&patch).expect("read"), RAMP);
}

#[test]
fn the_editor_is_drawn_over_the_picture() {
    let dir = tempfile::tempdir().expect("tempdir");
    let patch = dir.path().join("ramp.dmm");
    std::fs::write(&patch, RAMP).expect("write patch");
    // Typed, not evaluated: an evaluation flashes its line for a while of wall-clock time, and
    // on a busy machine the capture could fall inside the flash (the pane then reads darker).
    let typed = "{\"tick\": 30, \"key\": \"ctrl+end\"}\n\
                 {\"tick\": 30, \"text\": \"show.in <- 0.6 xy.x + 0.1 ones\"}\n";
    let size = ["--size", "1280x720"];
    let with = capture(dir.path(), "editor", &patch, typed, &size);
    if let Ok(keep) = std::env::var("DMM_SCREENSHOT") {
        std::fs::copy(&with, keep).expect("copy screenshot");
    }
    let hidden = format!("{typed}{HIDE}");
    let without = Shot::load(&capture(dir.path(), "no-editor", &patch, &hidden, &size));
    let with = Shot::load(&with);
    // The picture (880x440 at (0,140) beside the 400-point panel) is the same in both; the pane
    // covers the left 60% of it. Above the picture the window is black: there the pane's text
    // shows as bright glyphs, which the capture without the pane does not have.
    let bright = |s: &Shot, x0: usize, y0: usize, x1: usize, y1: usize| {
        (y0..y1)
            .flat_map(|y| (x0..x1).map(move |x| (x, y)))
            .filter(|&(x, y)| {
                let [r, g, b] = s.rgb[y * s.w + x];
                r as u32 + g as u32 + b as u32 > 300
            })
            .count()
    };
    let text = bright(&with, 0, 20, 500, 135);
    assert!(
        text > 500,
        "the code is drawn above the picture ({text} bright pixels)"
    );
    assert_eq!(
        bright(&without, 0, 20, 500, 135),
        0,
        "hidden: nothing there"
    );
    // Over the picture the pane is translucent: darker than the bare picture, but not black.
    let (a, b) = (
        without.mean(100, 400, 500, 560),
        with.mean(100, 400, 500, 560),
    );
    assert!(
        b < a * 0.9 && b > a * 0.5,
        "translucent pane: picture {a:.1}, under the pane {b:.1}"
    );
    // Right of the pane the picture is untouched.
    let (a, b) = (
        without.mean(600, 400, 860, 560),
        with.mean(600, 400, 860, 560),
    );
    assert!((a - b).abs() < 1.0, "beside the pane: {a:.1} vs {b:.1}");
}
