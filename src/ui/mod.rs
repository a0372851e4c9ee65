//! The live window: winit + a wgpu surface showing the `display` neurons, the egui control
//! panel beside it, the code pane over them (`editor`), keyboard shortcuts and file prompts. The
//! panel is plain functions over plain state (`state`, `panel`) so tests can click it headless;
//! the window (`app`) only wires them to the running instrument and sends every edit through Self.

pub mod app;
pub mod editor;
pub mod gfx;
pub mod keys;
pub mod learn;
pub mod output;
pub mod panel;
pub mod perform;
pub mod scope;
pub mod session;
pub mod state;

pub use app::{CaptureRequest, WindowOptions, run_window};
pub use output::OutputOptions;
pub use panel::{Editor, panel};
pub use state::PanelState;

use thiserror::Error;

#[derive(Debug, Error)]
pub enum UiError {
    #[error(
        "cannot open a window: {0}. Run dmm-synth where a display is available (X11 or Wayland), \
         or render headless instead: dmm-synth render PATCH --ticks N --out DIR"
    )]
    NoDisplay(String),
    #[error("window: {0}")]
    Window(String),
    #[error("GPU: {0}")]
    Gpu(String),
    #[error("{0}")]
    Patch(String),
    #[error("{0}")]
    Live(String),
    #[error("capture: {0}")]
    Capture(String),
}
