//! The session's side of the code pane: opening it on the patch file, drawing it over the
//! picture, sending what it asks for through Self, scripted typing (`--type`).

use super::Session;
use crate::engine::machine::Level;
use crate::patch::Patch;
use crate::ui::editor::file::Format;
use crate::ui::editor::script::{TimedInput, events};
use crate::ui::editor::view::code_pane;
use crate::ui::editor::{CodeEditor, Request, Running};
use crate::ui::state::PanelState;
use std::path::Path;

/// Share of the picture area the code pane covers (from the left).
const CODE_SHARE: f32 = 0.6;
/// Ticks after scripted typing before a capture may show it: the edit's 2 ticks through Self
/// plus two snapshot periods at 60 frames/s.
const TYPED_SETTLE_TICKS: u64 = 14;
/// Ids of the pane's latest requests kept, to tie a rejection to the pane's status line.
const CODE_IDS: usize = 64;

/// The pane on the patch file: shown at once for a `.dmm`, on Ctrl+E for a JSON patch (its text
/// form). A file the pane cannot show leaves it empty and hidden, and says why.
pub(super) fn open_code(path: &Path, st: &mut PanelState) -> CodeEditor {
    match CodeEditor::open(path, false) {
        Ok((mut c, _)) => {
            c.visible = c.file.as_ref().is_some_and(|f| f.format == Format::Dmm);
            c
        }
        Err(e) => {
            st.push_log(Level::Error, format!("code editor: {e}"));
            let mut c = CodeEditor::new("");
            c.visible = false;
            c
        }
    }
}

impl Session {
    /// Watches the patch file: a change on disk reloads a clean buffer and evaluates it.
    pub fn watch_file(&mut self) {
        if let Some(f) = self.code.file.as_mut()
            && let Err(e) = f.watch()
        {
            self.st.push_log(
                Level::Error,
                format!("{e}; hot reload is off for this file"),
            );
        }
    }

    /// Text and keys to type into the code pane when the engine reaches their ticks (a test hook
    /// for the window: `--type FILE`).
    pub fn type_later(&mut self, typed: Vec<TimedInput>) {
        let mut t = typed;
        t.sort_by_key(|i| i.tick);
        self.code.scripted |= !t.is_empty();
        self.typed = t.into();
    }

    /// Whether the code pane is typed into by a script (`--type`): the shell then gives egui the
    /// window focus the OS may not (a window under Xvfb without a window manager never gets it).
    pub fn scripted_typing(&self) -> bool {
        self.code.scripted
    }

    /// The scripted input due at the newest snapshot's tick, as egui events (the shell adds them
    /// to the frame's input, so they take the keyboard's path).
    pub fn scripted_events(&mut self) -> Vec<egui::Event> {
        // The pane takes the keyboard focus in its first frame: nothing is typed before that.
        let Some(tick) = self.live.engine().latest().map(|s| s.tick) else {
            return Vec::new();
        };
        if self.frames < 2 {
            return Vec::new();
        }
        let mut out = Vec::new();
        while self.typed.front().is_some_and(|t| t.tick <= tick) {
            if let Some(t) = self.typed.pop_front() {
                out.extend(events(&t.input));
                self.typed_at = Some(tick);
            }
        }
        out
    }

    /// Whether every scripted input has been typed and what it sent can show in a snapshot of
    /// `tick` (a capture waits for this: a slow frame must not catch the text half-handled).
    pub fn typing_settled(&self, tick: u64) -> bool {
        // Pictures show an edit at the next frame tick after it lands (the frame clock).
        let frame = self
            .latest
            .as_ref()
            .map_or(1, |s| s.net.settings.frame_period());
        self.typed.is_empty()
            && self.code_waiting.is_empty()
            && self
                .typed_at
                .is_none_or(|t| tick >= t + TYPED_SETTLE_TICKS + frame)
    }

    /// The code pane over the left part of the picture area.
    pub(super) fn code_ui(&mut self, ui: &mut egui::Ui) -> Vec<Request> {
        let area = ui.max_rect();
        let w = (area.width() * CODE_SHARE).max(area.width().min(320.0));
        let rect = egui::Rect::from_min_size(area.min, egui::vec2(w, area.height()));
        let snap = self.latest.clone();
        let run = snap.as_ref().map(|s| Running {
            net: &s.net,
            w: &s.w,
            morph: self
                .live
                .morph_override()
                .or(self.code.settings_morph)
                .unwrap_or(s.net.settings.morph_time),
        });
        let (code, st) = (&mut self.code, &self.st);
        ui.scope_builder(egui::UiBuilder::new().max_rect(rect), |ui| {
            code_pane(ui, code, st, run.as_ref())
        })
        .inner
    }

    /// Sends the pane's requests: an edit through Self, a whole buffer as a diff.
    pub(super) fn send_code(&mut self, requests: Vec<Request>) {
        for r in requests {
            match r {
                Request::Edit(e) => {
                    let what = format!("evaluate: {}", super::super::perform::describe(&e));
                    let id = match self.live.perform(&what, e) {
                        Ok(id) => id,
                        Err(err) => {
                            self.st.push_log(Level::Error, err.to_string());
                            continue;
                        }
                    };
                    self.code_ids.push_back(id);
                    if !self.typed.is_empty() || self.typed_at.is_some() {
                        self.code_waiting.push(id);
                    }
                    if self.code_ids.len() > CODE_IDS {
                        self.code_ids.pop_front();
                    }
                }
                Request::Learn(w) => {
                    // As a right click on its W-map cell: select the weight, arm learn.
                    self.ed.select(&self.st, &w.target, &w.source);
                    crate::ui::learn::arm(&mut self.ed);
                    if let Some(p) = self.ed.problem.clone() {
                        self.st.push_log(Level::Error, p);
                    }
                }
                Request::Apply(p) => {
                    if let Err(e) = self.live.apply_patch(&p) {
                        let lines = e.lines();
                        self.code.rejected(&lines);
                        for l in lines {
                            self.st.push_log(Level::Error, l);
                        }
                    }
                }
            }
        }
    }

    /// The running network as a patch, with the buffer's settings and comment when it parses.
    pub(super) fn running_patch(&self) -> Option<Patch> {
        let snap = self.latest.as_ref()?;
        let (settings, comment) = match self.code.parse_all() {
            Ok(p) => (p.settings, p.comment),
            Err(_) => (snap.net.settings.clone(), None),
        };
        Some(Patch::from_running(&settings, comment, &snap.net, &snap.w))
    }

    /// The code pane on a newly opened patch (watched when the old one was).
    pub(super) fn reopen_code(&mut self, path: &Path) {
        let watched = self.code.file.as_ref().is_some_and(|f| f.watched());
        match CodeEditor::open(path, watched) {
            Ok((mut c, note)) => {
                c.visible =
                    self.code.visible || c.file.as_ref().is_some_and(|f| f.format == Format::Dmm);
                self.code = c;
                if let Some(n) = note {
                    self.st.push_log(Level::Error, n);
                }
            }
            Err(e) => self.st.push_log(Level::Error, format!("code editor: {e}")),
        }
    }
}
