//! The live window: winit + a wgpu surface showing the `display` neurons, the egui control
//! panel beside it, keyboard shortcuts and file prompts. The panel is plain functions over plain
//! state (`state`, `panel`) so tests can click it headless; the window (`app`) only wires them to
//! the running instrument and sends every edit through Self.

pub mod panel;
pub mod state;

pub use panel::{Editor, panel};
pub use state::PanelState;
