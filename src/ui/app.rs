//! The live window: a winit `ApplicationHandler` that draws the `display` neurons from the newest
//! engine snapshot every frame (never waiting for the engine), the egui panel beside them, and
//! sends the panel's edit requests through Self (`Live::send`).

use super::UiError;
use super::editor::script::TimedInput;
use super::gfx::{Captured, Gfx};
use super::output::{OutputOptions, OutputWindow, window_system_id};
use super::session::Session;
use crate::backend::Backend;
use crate::engine::edits::TimedEdit;
use crate::engine::machine::Level;
use crate::live::autosave::read_recovery;
use crate::live::{Live, LiveOptions};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};
use winit::application::ApplicationHandler;
use winit::event::WindowEvent;
use winit::event_loop::{ActiveEventLoop, ControlFlow, EventLoop};
use winit::window::{Fullscreen, Window, WindowId};

/// Write the window's own picture (display and panel) at an engine tick.
#[derive(Clone, Debug)]
pub struct CaptureRequest {
    /// The first frame drawn from a snapshot of this tick or later is captured.
    pub tick: u64,
    pub out: PathBuf,
    /// Quit once the file is written.
    pub exit: bool,
}

#[derive(Clone, Debug)]
pub struct WindowOptions {
    pub patch: PathBuf,
    /// Try the sound card (false: null sink paced by the wall clock).
    pub audio: bool,
    /// Watch the patch file and hot-reload it.
    pub watch: bool,
    /// Overrides the file's morph time for hot reloads, seconds.
    pub morph: Option<f64>,
    pub capture: Option<CaptureRequest>,
    /// Timed edits sent when the engine reaches their tick (sorted by tick).
    pub edits: Vec<TimedEdit>,
    /// Text and keys typed into the code pane when the engine reaches their tick (`--type`).
    pub typed: Vec<TimedInput>,
    /// Inner size of the window, logical pixels.
    pub size: [u32; 2],
    pub panel: bool,
    /// Start-up notes for the log (for example why `--backend auto` chose the CPU).
    pub notes: Vec<String>,
    /// OSC in and out (`crate::control`).
    pub control: crate::control::ControlOptions,
    /// Record from the first tick into this folder (`--record`).
    pub record: Option<PathBuf>,
    /// Restore the recovery file a crash left, without asking (`--restore`).
    pub restore: bool,
    /// The output window for a projector (`--output-window`, `--output-monitor`).
    pub output: OutputOptions,
}

impl Default for WindowOptions {
    fn default() -> Self {
        WindowOptions {
            patch: PathBuf::from("patches/default.dmm"),
            audio: true,
            watch: true,
            morph: None,
            capture: None,
            edits: Vec::new(),
            typed: Vec::new(),
            notes: Vec::new(),
            control: crate::control::ControlOptions::default(),
            size: [1280, 800],
            panel: true,
            record: None,
            restore: false,
            output: OutputOptions::default(),
        }
    }
}

/// Window frames per second we aim for; the engine keeps its own pace.
const FRAME_RATE: f64 = 60.0;
/// Frames drawn before a capture may be taken (egui settles its layout in the first frames).
const SETTLE_FRAMES: u64 = 3;

/// Checks that a window can be opened at all, before anything else starts.
fn display_available() -> Result<(), UiError> {
    if cfg!(all(unix, not(target_os = "macos")))
        && std::env::var_os("DISPLAY").is_none_or(|v| v.is_empty())
        && std::env::var_os("WAYLAND_DISPLAY").is_none_or(|v| v.is_empty())
    {
        return Err(UiError::NoDisplay(
            "neither DISPLAY nor WAYLAND_DISPLAY is set".into(),
        ));
    }
    Ok(())
}

/// Opens the window on `opts.patch` and runs until it is closed (or a capture asked to exit).
pub fn run_window(opts: WindowOptions, backend: Box<dyn Backend>) -> Result<(), UiError> {
    display_available()?;
    let event_loop = EventLoop::new().map_err(|e| UiError::NoDisplay(e.to_string()))?;
    let session = open_session(&opts, backend)?;
    let mut app = App {
        capture: opts.capture.clone(),
        size: opts.size,
        session: Some(session),
        win: None,
        ctx: egui::Context::default(),
        fullscreen: false,
        next_frame: Instant::now(),
        title: String::new(),
        captured: false,
        error: None,
        output: None,
        output_opts: opts.output.clone(),
    };
    event_loop.set_control_flow(ControlFlow::Poll);
    event_loop
        .run_app(&mut app)
        .map_err(|e| UiError::Window(e.to_string()))?;
    let App { session, error, .. } = app;
    if let Some(s) = session {
        s.into_live().stop();
    }
    match error {
        Some(e) => Err(e),
        None => Ok(()),
    }
}

/// Starts the patch (safe start: one that does not load still opens), its controls, and the
/// session around it, with the recovery offer, notices and start-up errors in place.
fn open_session(opts: &WindowOptions, backend: Box<dyn Backend>) -> Result<Session, UiError> {
    // A frame is captured often enough for the window's frame rate, and on every tick a
    // capture request or a slow patch needs.
    // A patch that does not load still opens the window (safe start): silent until it does.
    let tick_rate = crate::patch::Patch::load(&opts.patch)
        .map(|p| p.settings.tick_rate)
        .unwrap_or(crate::stream::kind::Settings::default().tick_rate);
    let capture_every = (tick_rate / FRAME_RATE).floor().max(1.0) as u64;
    let pane_can_open = super::editor::file::PatchFile::open(&opts.patch, false).is_ok();
    let (mut live, load_error) = Live::open_safe(
        &opts.patch,
        backend,
        LiveOptions {
            audio: opts.audio,
            // The code pane watches the file: it reloads a clean buffer and evaluates it, and
            // asks first when the buffer has unsaved changes. A file the pane cannot show is
            // watched by `Live` itself, as before.
            watch: opts.watch && !pane_can_open,
            capture_every,
            morph: opts.morph,
            trace: None,
        },
        opts.record
            .as_deref()
            .map(crate::live::record::RecordOptions::new),
    )
    .map_err(|e| UiError::Live(e.to_string()))?;
    // The patch file's `map` lines join the command line's mappings; its midi_* neurons turn
    // MIDI on.
    let mut control = opts.control.clone();
    if let Ok(p) = crate::patch::Patch::load(&opts.patch) {
        control.add_patch(&p);
    }
    let (control_notes, midi) = crate::control::start_shared(&mut live, &control);
    // A recovery file left by a crash is offered (or restored with --restore); autosaving
    // starts once that is settled, so the offer is not overwritten.
    let recovered = read_recovery(&opts.patch);
    let none_found = matches!(recovered, Ok(None));
    live.set_autosave(none_found);
    let mut session = Session::new(live, opts.edits.clone(), opts.panel);
    session.output_window = opts.output.open;
    if opts.output.capture.is_some() && !opts.output.open {
        session.notice("the output capture waits for the output window (Ctrl+Shift+O opens it)");
    }
    session.set_midi(midi);
    match recovered {
        Ok(Some(r)) => {
            session.offer_recovery(r);
            if opts.restore {
                session.answer_recovery(true);
            }
        }
        Ok(None) => {}
        Err(e) => session.notice(format!("{e} (left in place; autosave is off)")),
    }
    if opts.watch && pane_can_open {
        session.watch_file();
    }
    session.type_later(opts.typed.clone());
    for n in opts.notes.iter().chain(&control_notes) {
        session.notice(n.clone());
    }
    if let Some(e) = load_error {
        session.start_errors(e.lines());
    }
    if let Some(d) = session.live().recording() {
        let line = format!(
            "recording into {} from the first tick (Ctrl+R stops)",
            d.display()
        );
        session.notice(line);
    }
    Ok(session)
}

struct Window_ {
    gfx: Gfx,
    egui: egui_winit::State,
}

/// The winit shell around a `Session`: window, GPU, frame pacing, capture.
struct App {
    capture: Option<CaptureRequest>,
    size: [u32; 2],
    session: Option<Session>,
    win: Option<Window_>,
    ctx: egui::Context,
    fullscreen: bool,
    next_frame: Instant,
    title: String,
    captured: bool,
    error: Option<UiError>,
    output: Option<OutputWindow>,
    output_opts: OutputOptions,
}

impl App {
    fn fail(&mut self, el: &ActiveEventLoop, e: UiError) {
        self.error = Some(e);
        el.exit();
    }

    /// One window frame: the session draws, the GPU paints both windows, maybe captures are
    /// written (both in the same frame, so from the same snapshot).
    fn frame(&mut self, el: &ActiveEventLoop) {
        self.sync_output(el);
        let (Some(win), Some(session)) = (self.win.as_mut(), self.session.as_mut()) else {
            return;
        };
        let mut input = win.egui.take_egui_input(&win.gfx.window);
        input.events.extend(session.scripted_events());
        if session.scripted_typing() {
            input.focused = true;
        }
        let output = self.ctx.run_ui(input, |ui| session.ui(ui));
        win.egui
            .handle_platform_output(&win.gfx.window, output.platform_output.clone());
        let snap_tick = session.latest().map(|s| s.tick);
        // An output capture waits for the output window to have settled too.
        let output_ready = match (&self.output_opts.capture, &self.output) {
            (None, _) => true,
            (Some(_), Some(o)) => o.settled(SETTLE_FRAMES),
            (Some(_), None) => false,
        };
        let capture_now = match (&self.capture, snap_tick) {
            (Some(c), Some(t)) => {
                !self.captured
                    && t >= c.tick
                    && session.frames() > SETTLE_FRAMES
                    && session.typing_settled(t)
                    && output_ready
            }
            _ => false,
        };
        let painted = win.gfx.paint(&self.ctx, output, capture_now);
        if session.fullscreen != self.fullscreen {
            self.fullscreen = session.fullscreen;
            win.gfx
                .window
                .set_fullscreen(self.fullscreen.then_some(Fullscreen::Borderless(None)));
        }
        let title = session.title();
        if title != self.title {
            win.gfx.window.set_title(&title);
            self.title = title;
        }
        let out_painted = match self.output.as_mut() {
            Some(o) => o.frame(
                session.latest(),
                session.blackout,
                capture_now && self.output_opts.capture.is_some(),
            ),
            None => Ok(None),
        };
        if let Err(e) = out_painted.as_ref() {
            // The performance goes on in the main window.
            session
                .st
                .push_log(Level::Error, format!("output window closed: {e}"));
            session.output_window = false;
            self.output = None;
        }
        if let Err(e) = self.save_shots(painted, out_painted, snap_tick) {
            return self.fail(el, e);
        }
        if self.captured && capture_now && self.capture.as_ref().is_some_and(|c| c.exit) {
            el.exit();
        }
    }

    /// Writes what the two windows captured this frame (`--capture-out`, `--capture-output`).
    /// A failed paint of the main window is an error; the output window's was handled.
    fn save_shots(
        &mut self,
        main: Result<Option<Captured>, UiError>,
        output: Result<Option<Captured>, UiError>,
        tick: Option<u64>,
    ) -> Result<(), UiError> {
        let output = output.unwrap_or(None);
        let shots = [
            ("", main?, self.capture.as_ref().map(|c| c.out.clone())),
            ("output window ", output, self.output_opts.capture.clone()),
        ];
        for (what, shot, out) in shots {
            if let (Some(shot), Some(out), Some(t)) = (shot, out, tick) {
                self.captured = true;
                shot.save_png(&out)?;
                println!(
                    "captured {what}tick {t} ({}x{}) to {}",
                    shot.width,
                    shot.height,
                    out.display()
                );
            }
        }
        Ok(())
    }

    /// Opens or closes the output window as the session wants (Ctrl+Shift+O, `--output-window`).
    fn sync_output(&mut self, el: &ActiveEventLoop) {
        let (Some(win), Some(session)) = (self.win.as_ref(), self.session.as_mut()) else {
            return;
        };
        if session.output_window && self.output.is_none() {
            match OutputWindow::open(el, &win.gfx, self.size, self.output_opts.monitor) {
                Ok((o, notes)) => {
                    for n in notes {
                        println!("{n}");
                        session.notice(n);
                    }
                    self.output = Some(o);
                }
                Err(e) => {
                    session.st.push_log(Level::Error, e.to_string());
                    session.output_window = false;
                }
            }
        } else if !session.output_window && self.output.take().is_some() {
            closed_note(session);
        }
    }

    /// An event of the output window: F11, resize, close (which does not quit).
    fn output_event(&mut self, event: &WindowEvent) {
        let Some(o) = self.output.as_mut() else {
            return;
        };
        let (close, line) = o.event(event);
        if let Some(s) = self.session.as_mut() {
            if let Some(line) = line {
                println!("{line}");
                s.notice(line);
            }
            if close {
                s.output_window = false;
            }
        }
        if close {
            self.output = None;
            if let Some(s) = self.session.as_mut() {
                closed_note(s);
            }
        }
    }
}

/// Says the output window closed (stdout too: tests and scripts watch for it).
fn closed_note(session: &mut Session) {
    let line = "output window closed (Ctrl+Shift+O opens it again)";
    println!("{line}");
    session.notice(line);
}

impl ApplicationHandler for App {
    fn resumed(&mut self, el: &ActiveEventLoop) {
        if self.win.is_some() {
            return;
        }
        let [w, h] = self.size;
        let attrs = Window::default_attributes()
            .with_title("dmm-synth")
            .with_inner_size(winit::dpi::LogicalSize::new(w, h));
        let window = match el.create_window(attrs) {
            Ok(w) => Arc::new(w),
            Err(e) => return self.fail(el, UiError::Window(e.to_string())),
        };
        let gfx = match Gfx::new(el, window.clone()) {
            Ok(g) => g,
            Err(e) => return self.fail(el, e),
        };
        let info = &gfx.adapter;
        let opened = format!("main window open: {}", window_system_id(&window));
        println!("{opened}");
        if let Some(s) = self.session.as_mut() {
            s.notice(opened);
            s.st.push_log(
                Level::Notice,
                format!("window drawn by {} ({:?})", info.name, info.backend),
            );
        }
        if info.device_type == wgpu::DeviceType::Cpu
            && let Some(s) = self.session.as_mut()
        {
            s.st.push_log(
                Level::Notice,
                "the window is drawn by a software rasterizer: expect a slow frame rate",
            );
        }
        let egui = egui_winit::State::new(
            self.ctx.clone(),
            egui::ViewportId::ROOT,
            el,
            Some(window.scale_factor() as f32),
            window.theme(),
            Some(gfx.max_texture_side()),
        );
        self.win = Some(Window_ { gfx, egui });
        window.request_redraw();
    }

    fn window_event(&mut self, el: &ActiveEventLoop, id: WindowId, event: WindowEvent) {
        if self.output.as_ref().is_some_and(|o| o.id() == id) {
            return self.output_event(&event);
        }
        let Some(win) = self.win.as_mut() else {
            return;
        };
        if win.gfx.window.id() != id {
            // A closed output window's last events.
            return;
        }
        let _ = win.egui.on_window_event(&win.gfx.window, &event);
        match event {
            WindowEvent::CloseRequested => {
                println!("main window closed: quitting");
                el.exit()
            }
            WindowEvent::Resized(size) => win.gfx.resize(size.width, size.height),
            WindowEvent::RedrawRequested => {
                self.next_frame = Instant::now() + Duration::from_secs_f64(1.0 / FRAME_RATE);
                self.frame(el);
            }
            _ => {}
        }
    }

    fn about_to_wait(&mut self, el: &ActiveEventLoop) {
        // The picture is redrawn at the frame rate whatever happens; between frames the loop
        // sleeps (the engine runs on its own thread at its own pace).
        let now = Instant::now();
        if now >= self.next_frame {
            if let Some(w) = &self.win {
                w.gfx.window.request_redraw();
            }
            el.set_control_flow(ControlFlow::WaitUntil(
                now + Duration::from_secs_f64(1.0 / FRAME_RATE),
            ));
        } else {
            el.set_control_flow(ControlFlow::WaitUntil(self.next_frame));
        }
    }
}
