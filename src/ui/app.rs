//! The live window: a winit `ApplicationHandler` that draws the `display` neurons from the newest
//! engine snapshot every frame (never waiting for the engine), the egui panel beside them, and
//! sends the panel's edit requests through Self (`Live::send`).

use super::UiError;
use super::gfx::Gfx;
use super::keys::{Action, shortcuts};
use super::panel::{Editor, panel};
use super::state::{AudioMeter, PanelState};
use crate::backend::{Backend, Frame};
use crate::engine::edits::{EditOutcome, TimedEdit};
use crate::engine::machine::Level;
use crate::engine::thread::Snapshot;
use crate::live::{Live, LiveEvent, LiveOptions};
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
    /// Inner size of the window, logical pixels.
    pub size: [u32; 2],
    pub panel: bool,
}

impl Default for WindowOptions {
    fn default() -> Self {
        WindowOptions {
            patch: PathBuf::from("patches/default.json"),
            audio: true,
            watch: true,
            morph: None,
            capture: None,
            edits: Vec::new(),
            size: [1280, 800],
            panel: true,
        }
    }
}

/// Window frames per second we aim for; the engine keeps its own pace.
const FRAME_RATE: f64 = 60.0;
/// Width of the panel, points.
const PANEL_WIDTH: f32 = 400.0;
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
    // A frame is captured often enough for the window's frame rate, and on every tick a
    // capture request or a slow patch needs.
    let tick_rate = crate::patch::Patch::load(&opts.patch)
        .map(|p| p.settings.tick_rate)
        .map_err(|e| UiError::Patch(e.to_string()))?;
    let capture_every = (tick_rate / FRAME_RATE).floor().max(1.0) as u64;
    let live = Live::open(
        &opts.patch,
        backend,
        LiveOptions {
            audio: opts.audio,
            watch: opts.watch,
            capture_every,
            morph: opts.morph,
            trace: None,
        },
    )
    .map_err(|e| UiError::Live(e.to_string()))?;
    let mut app = App::new(opts, live);
    event_loop.set_control_flow(ControlFlow::Poll);
    event_loop
        .run_app(&mut app)
        .map_err(|e| UiError::Window(e.to_string()))?;
    let App { live, error, .. } = app;
    if let Some(live) = live {
        live.stop();
    }
    match error {
        Some(e) => Err(e),
        None => Ok(()),
    }
}

/// What a path prompt is for.
#[derive(Clone, Copy, Debug, PartialEq)]
enum PromptKind {
    Open,
    SaveAs,
}

struct Prompt {
    kind: PromptKind,
    text: String,
}

struct Window_ {
    gfx: Gfx,
    egui: egui_winit::State,
}

struct App {
    opts: WindowOptions,
    live: Option<Live>,
    win: Option<Window_>,
    ctx: egui::Context,
    st: PanelState,
    ed: Editor,
    /// One texture per display neuron, by name.
    pictures: Vec<(String, egui::TextureHandle)>,
    last_tick: Option<u64>,
    show_panel: bool,
    fullscreen: bool,
    prompt: Option<Prompt>,
    pending: std::collections::VecDeque<TimedEdit>,
    frames: u64,
    fps_window: (Instant, u64),
    next_frame: Instant,
    title: String,
    captured: bool,
    error: Option<UiError>,
}

impl App {
    fn new(opts: WindowOptions, live: Live) -> App {
        let mut st = PanelState::default();
        if let Some(note) = live.audio().note() {
            st.push_log(Level::Notice, note);
        }
        st.push_log(Level::Notice, format!("playing {}", live.path().display()));
        App {
            pending: opts.edits.iter().cloned().collect(),
            show_panel: opts.panel,
            opts,
            live: Some(live),
            win: None,
            ctx: egui::Context::default(),
            st,
            ed: Editor::default(),
            pictures: Vec::new(),
            last_tick: None,
            fullscreen: false,
            prompt: None,
            frames: 0,
            fps_window: (Instant::now(), 0),
            next_frame: Instant::now(),
            title: String::new(),
            captured: false,
            error: None,
        }
    }

    fn fail(&mut self, el: &ActiveEventLoop, e: UiError) {
        self.error = Some(e);
        el.exit();
    }

    /// Takes what the instrument reports: reloads, file errors, engine messages, rejections.
    fn poll_live(&mut self) {
        let Some(live) = self.live.as_mut() else {
            return;
        };
        for ev in live.poll() {
            match ev {
                LiveEvent::Reloaded { edits, morph } => self.st.push_log(
                    Level::Notice,
                    format!("reloaded the patch file: {edits} change(s) over {morph} s"),
                ),
                LiveEvent::FileErrors(errs) => {
                    for e in errs {
                        self.st.push_log(Level::Error, e);
                    }
                }
                LiveEvent::Message(m) => self
                    .st
                    .push_log(m.level, format!("tick {}: {}", m.tick, m.text)),
                LiveEvent::Outcome { id, outcome } => {
                    if let EditOutcome::Rejected { tick, errors } = outcome {
                        self.st.push_log(
                            Level::Error,
                            format!("edit {id} rejected at tick {tick}: {}", errors.join("; ")),
                        );
                    }
                }
            }
        }
    }

    /// Takes the newest snapshot into the panel state and the picture textures.
    fn take_snapshot(&mut self) -> Option<Arc<Snapshot>> {
        let live = self.live.as_ref()?;
        let snap = live.engine().latest()?;
        if self.last_tick == Some(snap.tick) {
            return Some(snap);
        }
        self.last_tick = Some(snap.tick);
        self.st.update(&snap, &snap.net);
        self.st.meters.backend = snap.backend.clone();
        let stats = live.audio().stats();
        self.st.meters.audio = Some(AudioMeter {
            fill: stats.fill(),
            capacity: stats.capacity(),
            underruns: stats.underruns(),
            muted: stats.muted(),
        });
        for f in &snap.frames {
            let Some(def) = snap.net.neurons.get(f.neuron) else {
                continue;
            };
            let image = frame_image(f);
            match self.pictures.iter_mut().find(|(n, _)| n == &def.name) {
                Some((_, tex)) => tex.set(image, egui::TextureOptions::LINEAR),
                None => {
                    let tex = self.ctx.load_texture(
                        format!("display {}", def.name),
                        image,
                        egui::TextureOptions::LINEAR,
                    );
                    self.pictures.push((def.name.clone(), tex));
                }
            }
        }
        // Displays that were removed stop being drawn.
        let displays: Vec<&str> = snap
            .net
            .displays
            .iter()
            .filter_map(|&i| snap.net.neurons.get(i).map(|n| n.name.as_str()))
            .collect();
        self.pictures
            .retain(|(n, _)| displays.contains(&n.as_str()));
        self.st.thumbnails = self
            .pictures
            .iter()
            .map(|(n, t)| (n.clone(), t.id()))
            .collect();
        Some(snap)
    }

    /// Sends the scripted edits whose tick the engine has reached.
    fn replay(&mut self, tick: u64) {
        let Some(live) = self.live.as_ref() else {
            return;
        };
        while self.pending.front().is_some_and(|e| e.tick <= tick) {
            if let Some(e) = self.pending.pop_front() {
                let id = live.send(e.edit);
                self.st.push_log(
                    Level::Notice,
                    format!(
                        "scripted edit {id} sent at tick {tick} (for tick {})",
                        e.tick
                    ),
                );
            }
        }
    }

    fn act(&mut self, a: Action) {
        let Some(live) = self.live.as_mut() else {
            return;
        };
        match a {
            Action::ToggleFullscreen => {
                self.fullscreen = !self.fullscreen;
                if let Some(w) = &self.win {
                    w.gfx
                        .window
                        .set_fullscreen(self.fullscreen.then_some(Fullscreen::Borderless(None)));
                }
            }
            Action::TogglePanel => self.show_panel = !self.show_panel,
            Action::ToggleMute => {
                let stats = live.audio().stats();
                let m = !stats.muted();
                stats.set_muted(m);
                self.st
                    .push_log(Level::Notice, if m { "muted" } else { "unmuted" });
            }
            Action::Save => match live.save() {
                Ok(()) => self
                    .st
                    .push_log(Level::Notice, format!("saved {}", live.path().display())),
                Err(e) => {
                    for line in e.lines() {
                        self.st
                            .push_log(Level::Error, format!("save failed: {line}"));
                    }
                }
            },
            Action::SaveAs => {
                self.prompt = Some(Prompt {
                    kind: PromptKind::SaveAs,
                    text: live.path().display().to_string(),
                })
            }
            Action::Open => {
                self.prompt = Some(Prompt {
                    kind: PromptKind::Open,
                    text: live
                        .path()
                        .parent()
                        .map(|p| format!("{}/", p.display()))
                        .unwrap_or_default(),
                })
            }
        }
    }

    /// Carries out a confirmed path prompt.
    fn confirm(&mut self, kind: PromptKind, path: PathBuf) {
        let Some(live) = self.live.as_mut() else {
            return;
        };
        let r = match kind {
            PromptKind::Open => live.open_patch(&path),
            PromptKind::SaveAs => live.save_as(&path),
        };
        match (kind, r) {
            (PromptKind::Open, Ok(())) => {
                self.st
                    .push_log(Level::Notice, format!("opened {}", path.display()));
                // A new catalogue may follow; selections on ports that vanish are dropped.
                self.last_tick = None;
            }
            (PromptKind::SaveAs, Ok(())) => self
                .st
                .push_log(Level::Notice, format!("saved as {}", path.display())),
            // A bad file shows its errors and keeps the current patch.
            (_, Err(e)) => {
                for line in e.lines() {
                    self.st.push_log(Level::Error, line);
                }
            }
        }
    }

    /// One window frame: input, snapshot, panel, picture, paint, maybe capture.
    fn frame(&mut self, el: &ActiveEventLoop) {
        self.poll_live();
        let snap = self.take_snapshot();
        if let Some(s) = &snap {
            self.replay(s.tick);
        }
        let Some(win) = self.win.as_mut() else {
            return;
        };
        let input = win.egui.take_egui_input(&win.gfx.window);
        let mut actions = Vec::new();
        let mut edits = Vec::new();
        let mut confirmed: Option<(PromptKind, PathBuf)> = None;
        let (st, ed, pictures, show_panel, prompt) = (
            &mut self.st,
            &mut self.ed,
            &self.pictures,
            self.show_panel,
            &mut self.prompt,
        );
        let output = self.ctx.run_ui(input, |ui| {
            actions = shortcuts(ui.ctx());
            if show_panel {
                egui::Panel::right("panel")
                    .default_size(PANEL_WIDTH)
                    .resizable(true)
                    .show(ui, |ui| {
                        ui.heading("dmm-synth");
                        edits = panel(ui, st, ed);
                    });
            }
            egui::CentralPanel::default()
                .frame(egui::Frame::NONE.fill(egui::Color32::BLACK))
                .show(ui, |ui| pictures_ui(ui, pictures));
            if let Some(p) = prompt.as_mut() {
                let mut close = false;
                let title = match p.kind {
                    PromptKind::Open => "Open patch",
                    PromptKind::SaveAs => "Save patch as",
                };
                egui::Window::new(title)
                    .collapsible(false)
                    .resizable(false)
                    .show(ui.ctx(), |ui| {
                        let l = ui.label("path");
                        let r = ui
                            .add(egui::TextEdit::singleline(&mut p.text).desired_width(360.0))
                            .labelled_by(l.id);
                        r.request_focus();
                        let enter = r.lost_focus() && ui.input(|i| i.key_pressed(egui::Key::Enter));
                        ui.horizontal(|ui| {
                            if ui.button("OK").clicked() || enter {
                                confirmed = Some((p.kind, PathBuf::from(p.text.trim())));
                                close = true;
                            }
                            if ui.button("Cancel").clicked()
                                || ui.input(|i| i.key_pressed(egui::Key::Escape))
                            {
                                close = true;
                            }
                        });
                    });
                if close {
                    *prompt = None;
                }
            }
        });
        win.egui
            .handle_platform_output(&win.gfx.window, output.platform_output.clone());
        self.frames += 1;
        let capture_now = match (&self.opts.capture, &snap) {
            (Some(c), Some(s)) => !self.captured && s.tick >= c.tick && self.frames > SETTLE_FRAMES,
            _ => false,
        };
        let painted = win.gfx.paint(&self.ctx, output, capture_now);
        // Frames per second over the last second.
        let (t0, n0) = self.fps_window;
        let dt = t0.elapsed().as_secs_f64();
        if dt >= 1.0 {
            self.st.meters.frames_per_second = (self.frames - n0) as f64 / dt;
            self.fps_window = (Instant::now(), self.frames);
        }
        if let Some(live) = self.live.as_ref() {
            for e in edits {
                live.send(e);
            }
            let title = format!("{} - dmm-synth", live.title());
            if title != self.title {
                win.gfx.window.set_title(&title);
                self.title = title;
            }
        }
        for a in actions {
            self.act(a);
        }
        if let Some((kind, path)) = confirmed {
            self.confirm(kind, path);
        }
        match painted {
            Err(e) => self.fail(el, e),
            Ok(Some(shot)) => {
                self.captured = true;
                if let (Some(c), Some(s)) = (self.opts.capture.clone(), snap) {
                    match shot.save_png(&c.out) {
                        Ok(()) => {
                            println!(
                                "captured tick {} ({}x{}) to {}",
                                s.tick,
                                shot.width,
                                shot.height,
                                c.out.display()
                            );
                            if c.exit {
                                el.exit();
                            }
                        }
                        Err(e) => self.fail(el, e),
                    }
                }
            }
            Ok(None) => {}
        }
    }
}

/// A display frame as an egui image.
fn frame_image(f: &Frame) -> egui::ColorImage {
    egui::ColorImage::from_rgba_unmultiplied([f.cols, f.rows], &f.rgba)
}

/// Every display neuron's picture, scaled to fit its share of the area, aspect kept, centred.
fn pictures_ui(ui: &mut egui::Ui, pictures: &[(String, egui::TextureHandle)]) {
    let area = ui.max_rect();
    if pictures.is_empty() {
        ui.centered_and_justified(|ui| {
            ui.label("no display neuron (add one of type \"display\")");
        });
        return;
    }
    let n = pictures.len();
    let cols = (n as f32).sqrt().ceil() as usize;
    let rows = n.div_ceil(cols);
    let cell = egui::vec2(area.width() / cols as f32, area.height() / rows as f32);
    for (i, (_, tex)) in pictures.iter().enumerate() {
        let origin = area.min + egui::vec2((i % cols) as f32 * cell.x, (i / cols) as f32 * cell.y);
        let [w, h] = tex.size();
        let scale = (cell.x / w.max(1) as f32).min(cell.y / h.max(1) as f32);
        let size = egui::vec2(w as f32 * scale, h as f32 * scale);
        let rect = egui::Rect::from_center_size(origin + cell / 2.0, size);
        ui.painter().image(
            tex.id(),
            rect,
            egui::Rect::from_min_max(egui::pos2(0.0, 0.0), egui::pos2(1.0, 1.0)),
            egui::Color32::WHITE,
        );
    }
}

impl ApplicationHandler for App {
    fn resumed(&mut self, el: &ActiveEventLoop) {
        if self.win.is_some() {
            return;
        }
        let [w, h] = self.opts.size;
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
        self.st.push_log(
            Level::Notice,
            format!("window drawn by {} ({:?})", info.name, info.backend),
        );
        if info.device_type == wgpu::DeviceType::Cpu {
            self.st.push_log(
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

    fn window_event(&mut self, el: &ActiveEventLoop, _id: WindowId, event: WindowEvent) {
        let Some(win) = self.win.as_mut() else {
            return;
        };
        let _ = win.egui.on_window_event(&win.gfx.window, &event);
        match event {
            WindowEvent::CloseRequested => el.exit(),
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
