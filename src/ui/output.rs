//! The output window, for a projector: a second, borderless window that shows only the display
//! neurons' pictures (no panel, no code pane, no text), painted by the main window's GPU device
//! from the same engine snapshot. F11 there toggles fullscreen on the monitor it is on;
//! `--output-monitor N` opens it fullscreen on monitor N. Closing it does not quit: Ctrl+Shift+O
//! in the main window opens it again.

use super::UiError;
use super::gfx::{Captured, Gfx};
use super::session::{frame_image, pictures_ui};
use crate::engine::thread::Snapshot;
use std::path::PathBuf;
use std::sync::Arc;
use winit::event::{ElementState, WindowEvent};
use winit::event_loop::ActiveEventLoop;
use winit::keyboard::{Key, NamedKey};
use winit::window::{Fullscreen, Window, WindowId};

/// The output window's part of the command line.
#[derive(Clone, Debug, Default)]
pub struct OutputOptions {
    /// Open it at launch (`--output-window`; Ctrl+Shift+O toggles it).
    pub open: bool,
    /// Open it fullscreen on this monitor, counted from 0 in winit's order (the log lists them).
    pub monitor: Option<usize>,
    /// Write its picture in the same frame as the main window's capture (`--capture-output`).
    pub capture: Option<PathBuf>,
}

/// Which monitor `wanted` names among `names`, or why none: the index, or a log line.
pub fn pick_monitor(wanted: usize, names: &[String]) -> Result<usize, String> {
    if wanted < names.len() {
        return Ok(wanted);
    }
    let list = if names.is_empty() {
        "none is reported".to_string()
    } else {
        names
            .iter()
            .enumerate()
            .map(|(i, n)| format!("{i}: {n}"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    Err(format!(
        "output monitor {wanted} does not exist (monitors: {list}); the output window opens \
         as a window instead (F11 there: fullscreen on the monitor it is on)"
    ))
}

/// One line naming a monitor: `NAME WxH at (X, Y)`.
fn describe_monitor(m: &winit::monitor::MonitorHandle) -> String {
    let (s, p) = (m.size(), m.position());
    format!(
        "{} {}x{} at ({}, {})",
        m.name().unwrap_or_else(|| "unnamed".into()),
        s.width,
        s.height,
        p.x,
        p.y
    )
}

/// How the window system knows `w`: `X11 window 0x…` (what a test looks up), or its kind.
pub fn window_system_id(w: &Window) -> String {
    use winit::raw_window_handle::{HasWindowHandle, RawWindowHandle};
    match w.window_handle().map(|h| h.as_raw()) {
        Ok(RawWindowHandle::Xlib(h)) => format!("X11 window {:#x}", h.window),
        Ok(RawWindowHandle::Xcb(h)) => format!("X11 window {:#x}", h.window.get()),
        Ok(RawWindowHandle::Wayland(_)) => "Wayland surface".into(),
        Ok(other) => format!("{other:?}"),
        Err(e) => format!("no window handle ({e})"),
    }
}

pub struct OutputWindow {
    gfx: Gfx,
    /// Its own egui context: its textures live in its own renderer.
    ctx: egui::Context,
    egui: egui_winit::State,
    /// One texture per display neuron, by name (as in the main window).
    pictures: Vec<(String, egui::TextureHandle)>,
    last_tick: Option<u64>,
    fullscreen: bool,
    frames: u64,
}

impl OutputWindow {
    /// Opens the window beside `main` (same device), `size` logical pixels, or fullscreen on
    /// monitor `monitor`. Returns it with the lines to log (which window, which monitor).
    pub fn open(
        el: &ActiveEventLoop,
        main: &Gfx,
        size: [u32; 2],
        monitor: Option<usize>,
    ) -> Result<(OutputWindow, Vec<String>), UiError> {
        let monitors: Vec<_> = el.available_monitors().collect();
        let names: Vec<String> = monitors.iter().map(describe_monitor).collect();
        let mut notes = Vec::new();
        let mut attrs = Window::default_attributes()
            .with_title("dmm-synth output")
            .with_decorations(false)
            .with_inner_size(winit::dpi::LogicalSize::new(size[0], size[1]));
        let mut on = None;
        if let Some(wanted) = monitor {
            match pick_monitor(wanted, &names) {
                Ok(i) => {
                    let m = monitors[i].clone();
                    attrs = attrs
                        .with_position(m.position())
                        .with_fullscreen(Some(Fullscreen::Borderless(Some(m))));
                    on = Some(i);
                }
                Err(line) => notes.push(line),
            }
        }
        let window = el
            .create_window(attrs)
            .map(Arc::new)
            .map_err(|e| UiError::Window(format!("opening the output window: {e}")))?;
        let gfx = main.sibling(window.clone())?;
        let ctx = egui::Context::default();
        let egui = egui_winit::State::new(
            ctx.clone(),
            egui::ViewportId::ROOT,
            el,
            Some(window.scale_factor() as f32),
            window.theme(),
            Some(gfx.max_texture_side()),
        );
        let inner = window.inner_size();
        notes.push(match on {
            Some(i) => format!(
                "output window open: {}, borderless, fullscreen on monitor {i} ({})",
                window_system_id(&window),
                names[i]
            ),
            None => format!(
                "output window open: {}, borderless, {}x{} (F11 there: fullscreen; monitors: {})",
                window_system_id(&window),
                inner.width,
                inner.height,
                names.len()
            ),
        });
        window.request_redraw();
        Ok((
            OutputWindow {
                gfx,
                ctx,
                egui,
                pictures: Vec::new(),
                last_tick: None,
                fullscreen: on.is_some(),
                frames: 0,
            },
            notes,
        ))
    }

    pub fn id(&self) -> WindowId {
        self.gfx.window.id()
    }

    /// Frames painted so far.
    pub fn frames(&self) -> u64 {
        self.frames
    }

    /// Handles one of its window events. Returns true when it asks to be closed; a line for the
    /// log when something changed (fullscreen).
    pub fn event(&mut self, event: &WindowEvent) -> (bool, Option<String>) {
        let _ = self.egui.on_window_event(&self.gfx.window, event);
        match event {
            WindowEvent::CloseRequested | WindowEvent::Destroyed => (true, None),
            WindowEvent::Resized(s) => {
                self.gfx.resize(s.width, s.height);
                (false, None)
            }
            WindowEvent::KeyboardInput { event: k, .. }
                if k.state == ElementState::Pressed
                    && !k.repeat
                    && k.logical_key == Key::Named(NamedKey::F11) =>
            {
                (false, Some(self.toggle_fullscreen()))
            }
            _ => (false, None),
        }
    }

    /// F11: fullscreen (borderless) on the monitor the window is on, or back to a window.
    fn toggle_fullscreen(&mut self) -> String {
        self.fullscreen = !self.fullscreen;
        let w = &self.gfx.window;
        if !self.fullscreen {
            w.set_fullscreen(None);
            return "output window: fullscreen off".into();
        }
        let m = w.current_monitor();
        let line = match &m {
            Some(m) => format!("output window: fullscreen on {}", describe_monitor(m)),
            None => "output window: fullscreen (the window system names no monitor)".into(),
        };
        w.set_fullscreen(Some(Fullscreen::Borderless(m)));
        line
    }

    /// Paints the pictures of `snap` (black when `black`: the panic, or nothing to show) and,
    /// when `capture`, reads the frame back.
    pub fn frame(
        &mut self,
        snap: Option<&Arc<Snapshot>>,
        black: bool,
        capture: bool,
    ) -> Result<Option<Captured>, UiError> {
        if let Some(s) = snap {
            self.take(s);
        }
        let input = self.egui.take_egui_input(&self.gfx.window);
        let pictures = &self.pictures;
        let output = self.ctx.run_ui(input, |ui| {
            egui::CentralPanel::default()
                .frame(egui::Frame::NONE.fill(egui::Color32::BLACK))
                .show(ui, |ui| {
                    // Only the picture: no "no display neuron" line, no errors, no panel.
                    if !black && !pictures.is_empty() {
                        pictures_ui(ui, pictures);
                    }
                });
        });
        self.egui
            .handle_platform_output(&self.gfx.window, output.platform_output.clone());
        self.frames += 1;
        self.gfx.paint(&self.ctx, output, capture)
    }

    /// Takes a new snapshot's display frames into this window's textures.
    fn take(&mut self, snap: &Snapshot) {
        if self.last_tick == Some(snap.tick) {
            return;
        }
        self.last_tick = Some(snap.tick);
        for f in &snap.frames {
            let Some(def) = snap.net.neurons.get(f.neuron) else {
                continue;
            };
            let image = frame_image(f);
            match self.pictures.iter_mut().find(|(n, _)| n == &def.name) {
                Some((_, tex)) => tex.set(image, egui::TextureOptions::LINEAR),
                None => {
                    let tex = self.ctx.load_texture(
                        format!("output {}", def.name),
                        image,
                        egui::TextureOptions::LINEAR,
                    );
                    self.pictures.push((def.name.clone(), tex));
                }
            }
        }
        // The same order and set of displays as the main window: removed ones go.
        let displays: Vec<&str> = snap
            .net
            .displays
            .iter()
            .filter_map(|&i| snap.net.neurons.get(i).map(|n| n.name.as_str()))
            .collect();
        self.pictures
            .retain(|(n, _)| displays.contains(&n.as_str()));
    }
}

#[cfg(test)]
mod tests {
    use super::pick_monitor;

    #[test]
    fn a_monitor_that_exists_is_picked_and_one_that_does_not_is_named() {
        let names = vec!["A 1920x1080 at (0, 0)".to_string(), "B".to_string()];
        assert_eq!(pick_monitor(1, &names), Ok(1));
        assert_eq!(pick_monitor(0, &names), Ok(0));
        let e = pick_monitor(2, &names).unwrap_err();
        assert!(
            e.contains("output monitor 2 does not exist") && e.contains("1: B"),
            "{e}"
        );
        let e = pick_monitor(0, &[]).unwrap_err();
        assert!(e.contains("none is reported"), "{e}");
    }
}
