//! The output window for a projector, end to end under X: `--output-window` opens a second
//! top-level window, borderless, that the X server itself reports (looked up with x11rb by the
//! ids the app prints); its capture, taken in the same frame as the main window's, holds only the
//! picture: it equals, pixel for pixel, the main window's own capture with the panel hidden,
//! while the main window keeps its panel. F11 sent to it (focus and key events through the X
//! server) makes it cover the screen and puts it back. Closing the output window does not quit;
//! Ctrl+Shift+O opens it; the panic blacks it. With no X server in the environment the tests
//! start one with xvfb-run (`-ac`, so this process can connect too); they never pass without
//! having looked.

use std::io::BufRead;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{Receiver, RecvTimeoutError, channel};
use std::time::{Duration, Instant};
use x11rb::connection::Connection;
use x11rb::protocol::xproto::{
    AtomEnum, ClientMessageEvent, ConnectionExt, EventMask, InputFocus, KEY_PRESS_EVENT,
    KEY_RELEASE_EVENT, KeyButMask, KeyPressEvent, MapState, Window,
};
use x11rb::rust_connection::RustConnection;

const BIN: &str = env!("CARGO_BIN_EXE_dmm-synth");

/// A 32×64 left-to-right ramp from 0.2 to 1.0, as in app_e2e.
const RAMP: &str = r#"{
  "settings": { "tick_rate": 375, "sample_rate": 48000, "image_size": [32, 64] },
  "neurons": {
    "xy":   { "type": "coords" },
    "ones": { "type": "one", "kind": "image" },
    "show": { "type": "display" }
  },
  "weights": { "show.in": { "xy.x": 0.8, "ones.out": 0.2 } }
}"#;

/// A guard against a hung window, not a timing assertion.
const GUARD: Duration = Duration::from_secs(240);

fn have_display() -> bool {
    std::env::var_os("DISPLAY").is_some_and(|s| !s.is_empty())
}

/// The running app: its stdout lines as they come, and the X display it draws on.
struct App {
    child: Child,
    lines: Receiver<String>,
    seen: Vec<String>,
    display: String,
}

impl App {
    /// Starts the binary with `args` on the current X display or a fresh Xvfb; the shell in
    /// between prints the display it got before it becomes the app.
    fn start(args: &[&str]) -> App {
        let script = r#"echo "XENV $DISPLAY"; exec "$0" "$@""#;
        let mut cmd = if have_display() {
            Command::new("sh")
        } else {
            let has_xvfb = Command::new("sh")
                .args(["-c", "command -v xvfb-run"])
                .output()
                .is_ok_and(|o| o.status.success());
            assert!(
                has_xvfb,
                "no DISPLAY and no xvfb-run: this test needs an X server (install xvfb, or run \
                 scripts/test.sh which starts one)"
            );
            let mut c = Command::new("xvfb-run");
            c.args(["-a", "-s", "-screen 0 1280x800x24 -ac -noreset", "sh"]);
            c
        };
        cmd.args(["-c", script, BIN])
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
        let mut child = cmd.spawn().expect("starting dmm-synth");
        let out = child.stdout.take().expect("stdout");
        let (tx, lines) = channel();
        std::thread::spawn(move || {
            for l in std::io::BufReader::new(out).lines().map_while(Result::ok) {
                if tx.send(l).is_err() {
                    break;
                }
            }
        });
        let mut app = App {
            child,
            lines,
            seen: Vec::new(),
            display: String::new(),
        };
        let l = app.wait_for("XENV ");
        app.display = l.trim_start_matches("XENV ").trim().to_string();
        assert!(!app.display.is_empty(), "no DISPLAY in {l:?}");
        app
    }

    /// The next stdout line containing `needle` (earlier lines are kept in `seen`).
    fn wait_for(&mut self, needle: &str) -> String {
        let deadline = Instant::now() + GUARD;
        loop {
            match self.lines.recv_timeout(Duration::from_millis(200)) {
                Ok(l) => {
                    self.seen.push(l.clone());
                    if l.contains(needle) {
                        return l;
                    }
                }
                Err(RecvTimeoutError::Timeout) if Instant::now() < deadline => {}
                Err(e) => {
                    let _ = self.child.kill();
                    panic!(
                        "no line with {needle:?} ({e:?}); stdout so far:\n{}",
                        self.seen.join("\n")
                    );
                }
            }
        }
    }

    /// Waits for the app to exit by itself; its status.
    fn wait_exit(&mut self) -> std::process::ExitStatus {
        let deadline = Instant::now() + GUARD;
        loop {
            if let Some(s) = self.child.try_wait().expect("waiting") {
                return s;
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                panic!("dmm-synth did not exit:\n{}", self.seen.join("\n"));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for App {
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// The X11 id in a line such as `output window open: X11 window 0x200003, borderless, ...`.
fn window_id(line: &str) -> Window {
    let hex = line
        .split("X11 window 0x")
        .nth(1)
        .unwrap_or_else(|| panic!("no X11 window id in {line:?}"));
    let hex: String = hex.chars().take_while(|c| c.is_ascii_hexdigit()).collect();
    u32::from_str_radix(&hex, 16).unwrap_or_else(|e| panic!("{line:?}: {e}"))
}

fn atom(conn: &RustConnection, name: &str) -> u32 {
    conn.intern_atom(false, name.as_bytes())
        .expect("intern_atom")
        .reply()
        .expect("intern_atom reply")
        .atom
}

/// `_MOTIF_WM_HINTS` of a window: (flags, decorations), if set.
fn motif_decorations(conn: &RustConnection, w: Window) -> Option<(u32, u32)> {
    let a = atom(conn, "_MOTIF_WM_HINTS");
    let r = conn
        .get_property(false, w, a, AtomEnum::ANY, 0, 5)
        .expect("get_property")
        .reply()
        .expect("get_property reply");
    let v: Vec<u32> = r.value32()?.collect();
    (v.len() >= 3).then(|| (v[0], v[2]))
}

fn utf8_name(conn: &RustConnection, w: Window) -> String {
    let a = atom(conn, "_NET_WM_NAME");
    let r = conn
        .get_property(false, w, a, AtomEnum::ANY, 0, 256)
        .expect("get_property")
        .reply()
        .expect("get_property reply");
    String::from_utf8_lossy(&r.value).to_string()
}

/// Asks a window to close the way a window manager does (WM_DELETE_WINDOW).
fn close_window(conn: &RustConnection, w: Window) {
    let protocols = atom(conn, "WM_PROTOCOLS");
    let delete = atom(conn, "WM_DELETE_WINDOW");
    let ev = ClientMessageEvent::new(32, w, protocols, [delete, 0, 0, 0, 0]);
    conn.send_event(false, w, EventMask::NO_EVENT, ev)
        .expect("send_event");
    conn.flush().expect("flush");
}

/// (x, y, width, height) of a window.
fn geometry(conn: &RustConnection, w: Window) -> (i16, i16, u16, u16) {
    let g = conn
        .get_geometry(w)
        .expect("geometry")
        .reply()
        .expect("geometry reply");
    (g.x, g.y, g.width, g.height)
}

/// Gives `w` the keyboard focus and sends it an F11 press and release, as the X server would.
fn press_f11(conn: &RustConnection, root: Window, w: Window) {
    const XK_F11: u32 = 0xffc8;
    let setup = conn.setup();
    let (min, max) = (setup.min_keycode, setup.max_keycode);
    let map = conn
        .get_keyboard_mapping(min, max - min + 1)
        .expect("keyboard mapping")
        .reply()
        .expect("keyboard mapping reply");
    let per = map.keysyms_per_keycode.max(1) as usize;
    let index = map
        .keysyms
        .iter()
        .position(|k| *k == XK_F11)
        .expect("F11 in the keyboard map");
    let keycode = min + (index / per) as u8;
    conn.set_input_focus(InputFocus::PARENT, w, x11rb::CURRENT_TIME)
        .expect("set_input_focus");
    for (ty, mask) in [
        (KEY_PRESS_EVENT, EventMask::KEY_PRESS),
        (KEY_RELEASE_EVENT, EventMask::KEY_RELEASE),
    ] {
        let ev = KeyPressEvent {
            response_type: ty,
            detail: keycode,
            sequence: 0,
            time: x11rb::CURRENT_TIME,
            root,
            event: w,
            child: x11rb::NONE,
            root_x: 1,
            root_y: 1,
            event_x: 1,
            event_y: 1,
            state: KeyButMask::default(),
            same_screen: true,
        };
        conn.send_event(true, w, mask, ev).expect("send_event");
    }
    conn.flush().expect("flush");
}

struct Shot {
    w: usize,
    h: usize,
    rgb: Vec<[u8; 3]>,
}

impl Shot {
    fn load(p: &Path) -> Shot {
        let img = image::open(p)
            .unwrap_or_else(|e| panic!("{}: {e}", p.display()))
            .to_rgb8();
        Shot {
            w: img.width() as usize,
            h: img.height() as usize,
            rgb: img.pixels().map(|p| p.0).collect(),
        }
    }

    fn grey(&self, x: usize, y: usize) -> f64 {
        let [r, g, b] = self.rgb[y * self.w + x];
        (r as f64 + g as f64 + b as f64) / 3.0
    }

    fn mean(&self, x0: usize, y0: usize, x1: usize, y1: usize) -> f64 {
        let mut s = 0.0;
        for y in y0..y1 {
            for x in x0..x1 {
                s += self.grey(x, y);
            }
        }
        s / ((x1 - x0) * (y1 - y0)) as f64
    }

    /// The largest difference of one colour channel between two shots of the same size.
    fn max_diff(&self, o: &Shot) -> u8 {
        assert_eq!((self.w, self.h), (o.w, o.h), "shots of different sizes");
        self.rgb
            .iter()
            .zip(&o.rgb)
            .flat_map(|(a, b)| (0..3).map(move |c| a[c].abs_diff(b[c])))
            .max()
            .unwrap_or(0)
    }
}

fn write_ramp(dir: &Path) -> PathBuf {
    let patch = dir.join("ramp.json");
    std::fs::write(&patch, RAMP).expect("write patch");
    patch
}

fn s(p: &Path) -> &str {
    p.to_str().expect("utf-8 path")
}

/// The main window alone with its panel hidden: the picture as the window draws it.
fn picture_alone(dir: &Path, patch: &Path) -> Shot {
    let out = dir.join("alone.png");
    let mut app = App::start(&[
        s(patch),
        "--no-audio",
        "--no-watch",
        "--no-osc",
        "--size",
        "640x400",
        "--hide-panel",
        "--capture-tick",
        "120",
        "--capture-out",
        s(&out),
        "--exit-after-capture",
    ]);
    app.wait_for("captured tick");
    assert!(app.wait_exit().success(), "{}", app.seen.join("\n"));
    Shot::load(&out)
}

#[test]
fn output_window_is_a_borderless_top_level_window_with_only_the_picture() {
    let dir = tempfile::tempdir().expect("tempdir");
    let patch = write_ramp(dir.path());
    let (main_png, out_png) = (dir.path().join("main.png"), dir.path().join("out.png"));
    let mut app = App::start(&[
        s(&patch),
        "--no-audio",
        "--no-watch",
        "--no-osc",
        "--size",
        "640x400",
        "--output-window",
        "--capture-tick",
        "120",
        "--capture-out",
        s(&main_png),
        "--capture-output",
        s(&out_png),
    ]);
    let main_id = window_id(&app.wait_for("main window open: "));
    let out_line = app.wait_for("output window open: ");
    let out_id = window_id(&out_line);
    assert!(out_line.contains("borderless"), "{out_line}");
    app.wait_for("captured output window tick");
    assert_ne!(main_id, out_id, "two different windows");

    // What the X server says: both are top-level (children of the root: Xvfb runs no window
    // manager that would reparent them), both mapped; the output window asks for no
    // decorations and is titled as such; it has the size asked for.
    let (conn, screen) = x11rb::connect(Some(&app.display)).expect("connecting to X");
    let root = conn.setup().roots[screen].root;
    let tree = conn
        .query_tree(root)
        .expect("query_tree")
        .reply()
        .expect("query_tree reply");
    for (what, id) in [("main", main_id), ("output", out_id)] {
        assert!(
            tree.children.contains(&id),
            "the {what} window {id:#x} is not a top-level window of {}: {:x?}",
            app.display,
            tree.children
        );
        let attrs = conn
            .get_window_attributes(id)
            .expect("attributes")
            .reply()
            .expect("attributes reply");
        assert_eq!(attrs.map_state, MapState::VIEWABLE, "{what} window mapped");
    }
    let (flags, decorations) =
        motif_decorations(&conn, out_id).expect("the output window sets _MOTIF_WM_HINTS");
    assert!(
        flags & 2 != 0 && decorations == 0,
        "output window asks for no decorations: flags {flags:#x}, decorations {decorations}"
    );
    assert!(
        motif_decorations(&conn, main_id).is_none_or(|(f, d)| f & 2 == 0 || d != 0),
        "the main window keeps its decorations"
    );
    assert_eq!(utf8_name(&conn, out_id), "dmm-synth output");
    let (.., w, h) = geometry(&conn, out_id);
    assert_eq!((w, h), (640, 400), "output window size");

    // F11 in the output window: fullscreen over the screen's monitor, and back.
    let (sw, sh) = (
        conn.setup().roots[screen].width_in_pixels,
        conn.setup().roots[screen].height_in_pixels,
    );
    press_f11(&conn, root, out_id);
    app.wait_for("output window: fullscreen on");
    assert_eq!(geometry(&conn, out_id), (0, 0, sw, sh), "fullscreen");
    press_f11(&conn, root, out_id);
    app.wait_for("output window: fullscreen off");
    let (.., w, h) = geometry(&conn, out_id);
    assert_eq!((w, h), (640, 400), "back to its size");

    // Closing the output window does not quit: the app says so, its main window is still
    // there, and it goes on to handle the main window's close (which quits, cleanly).
    close_window(&conn, out_id);
    app.wait_for("output window closed");
    let tree = conn
        .query_tree(root)
        .expect("query_tree")
        .reply()
        .expect("query_tree reply");
    assert!(tree.children.contains(&main_id), "main window still open");
    close_window(&conn, main_id);
    app.wait_for("main window closed: quitting");
    assert!(app.wait_exit().success(), "{}", app.seen.join("\n"));

    // The pictures: the output window's capture is the picture alone (the main window drawing
    // it with the panel hidden, in a run of its own), while the main window shows its panel.
    let (main, out) = (Shot::load(&main_png), Shot::load(&out_png));
    assert_eq!(
        (out.w, out.h),
        (640, 400),
        "output capture has its window's size"
    );
    let alone = picture_alone(dir.path(), &patch);
    let d = out.max_diff(&alone);
    assert!(
        d <= 2,
        "output window differs from the picture alone by {d} in some channel"
    );
    let left = out.mean(10, 60, 60, 340);
    let right = out.mean(580, 60, 630, 340);
    assert!(
        left < right - 100.0 && out.mean(0, 0, 640, 30) < 2.0,
        "output window shows the ramp full width with black bars: left {left:.1}, right \
         {right:.1}"
    );
    assert!(
        main.max_diff(&out) > 50,
        "the main window differs from the output window: it has its panel"
    );
}

#[test]
fn ctrl_shift_o_opens_the_output_window() {
    let dir = tempfile::tempdir().expect("tempdir");
    let patch = write_ramp(dir.path());
    let typed = dir.path().join("keys.jsonl");
    std::fs::write(&typed, "{\"tick\": 20, \"key\": \"ctrl+shift+o\"}\n").expect("write");
    let (main_png, out_png) = (dir.path().join("main.png"), dir.path().join("out.png"));
    let mut app = App::start(&[
        s(&patch),
        "--no-audio",
        "--no-watch",
        "--no-osc",
        "--size",
        "640x400",
        "--hide-panel",
        "--type",
        s(&typed),
        "--capture-tick",
        "60",
        "--capture-out",
        s(&main_png),
        "--capture-output",
        s(&out_png),
        "--exit-after-capture",
    ]);
    app.wait_for("main window open: ");
    let line = app.wait_for("output window open: ");
    window_id(&line);
    app.wait_for("captured output window tick");
    assert!(app.wait_exit().success(), "{}", app.seen.join("\n"));
    // Opened by the key, it draws the same picture as the main window (panel hidden there).
    let (main, out) = (Shot::load(&main_png), Shot::load(&out_png));
    let d = out.max_diff(&main);
    assert!(d <= 2, "output window differs from the main window by {d}");
    assert!(out.mean(580, 60, 630, 340) > 100.0, "the ramp is there");
}

/// `--output-monitor N` puts the output window over monitor N (fullscreen; moved and sized by
/// the app itself, so it holds with no window manager too); a monitor that does not exist is
/// named in the log and the window opens as a window.
#[test]
fn output_monitor_covers_that_monitor_and_a_missing_one_is_named() {
    let dir = tempfile::tempdir().expect("tempdir");
    let patch = write_ramp(dir.path());
    let launch = |monitor: &str, name: &str| {
        let (main_png, out_png) = (
            dir.path().join(format!("{name}.main.png")),
            dir.path().join(format!("{name}.out.png")),
        );
        let mut app = App::start(&[
            s(&patch),
            "--no-audio",
            "--no-watch",
            "--no-osc",
            "--size",
            "640x400",
            "--output-window",
            "--output-monitor",
            monitor,
            "--capture-tick",
            "60",
            "--capture-out",
            s(&main_png),
            "--capture-output",
            s(&out_png),
            "--exit-after-capture",
        ]);
        let line = app.wait_for("output window open: ");
        app.wait_for("captured output window tick");
        assert!(app.wait_exit().success(), "{}", app.seen.join("\n"));
        (line, app.seen.join("\n"), Shot::load(&out_png))
    };

    let (line, _, out) = launch("0", "first");
    // "... fullscreen on monitor 0 (screen 1280x800 at (0, 0))": the capture has its size.
    let size = line
        .split("fullscreen on monitor 0 (")
        .nth(1)
        .and_then(|r| r.split(' ').find(|w| w.contains('x')))
        .unwrap_or_else(|| panic!("no monitor size in {line:?}"));
    let (w, h) = size.split_once('x').expect("WxH");
    let (w, h): (usize, usize) = (w.parse().expect("width"), h.parse().expect("height"));
    assert_eq!((out.w, out.h), (w, h), "the output window covers monitor 0");
    assert!(
        out.mean(out.w - 40, out.h / 2 - 10, out.w - 10, out.h / 2 + 10) > 150.0,
        "the ramp's bright end reaches the monitor's right edge"
    );

    let (line, log, out) = launch("9", "missing");
    assert!(
        log.contains("output monitor 9 does not exist (monitors: 0: "),
        "the missing monitor is named:\n{log}"
    );
    assert!(line.contains("640x400"), "{line}");
    assert_eq!((out.w, out.h), (640, 400), "a plain window instead");
}

/// Ctrl+Shift+. (panic for both) blacks the output window too, not only the main window.
#[test]
fn the_panic_blacks_the_output_window_too() {
    let dir = tempfile::tempdir().expect("tempdir");
    let patch = write_ramp(dir.path());
    let typed = dir.path().join("keys.jsonl");
    std::fs::write(&typed, "{\"tick\": 20, \"key\": \"ctrl+shift+period\"}\n").expect("write");
    let (main_png, out_png) = (dir.path().join("main.png"), dir.path().join("out.png"));
    let mut app = App::start(&[
        s(&patch),
        "--no-audio",
        "--no-watch",
        "--no-osc",
        "--size",
        "640x400",
        "--hide-panel",
        "--output-window",
        "--type",
        s(&typed),
        "--capture-tick",
        "60",
        "--capture-out",
        s(&main_png),
        "--capture-output",
        s(&out_png),
        "--exit-after-capture",
    ]);
    app.wait_for("captured output window tick");
    assert!(app.wait_exit().success(), "{}", app.seen.join("\n"));
    let (main, out) = (Shot::load(&main_png), Shot::load(&out_png));
    assert!(main.mean(0, 0, 640, 400) < 1.0, "the main window is black");
    let brightest = out.rgb.iter().flatten().copied().max().unwrap_or(0);
    assert_eq!(brightest, 0, "the output window is black");
}
