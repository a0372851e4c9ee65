//! The code pane: the patch's text over the picture, evaluated line by line through Self.
//!
//! Plain state and plain functions (testable without a window); `view` draws it with egui and
//! returns what the performer asked for, which the session sends (DESIGN §7):
//! - **Ctrl+Enter** the cursor's line or the selection's lines, **Alt+Enter** the paragraph,
//!   each as one edit request from `eval_snippet` with the line's or the settings' morph;
//!   **Ctrl+Shift+Enter** the whole buffer as a diff against the running network (hot reload);
//! - errors stay underlined at their lines and in the status line until the next good evaluation;
//! - a panel edit rewrites the rows it touched (`sync`); Ctrl+Shift+R regenerates the text;
//! - a right click on a row's coefficient (`0.8` in `show.in <- 0.8 xy.x`) asks to MIDI-learn
//!   that weight (`Request::Learn`);
//! - Ctrl+S saves the buffer byte for byte (`file`); a change on disk reloads a clean buffer and
//!   evaluates it, and asks first when the buffer has unsaved changes.

pub mod complete;
pub mod file;
mod overlay;
pub mod popup;
pub mod region;
pub mod script;
pub mod sync;
pub mod view;

use crate::engine::Edit;
use crate::neurons::{AssetDirs, Network};
use crate::patch::Patch;
use crate::patch::text::{TextError, eval_snippet, parse_buffer, print_row, print_text};
use crate::stream::WMatrix;
use file::{DiskChange, PatchFile};
use region::Region;
use std::path::Path;

/// Seconds an evaluated line stays highlighted.
pub const FLASH_SECONDS: f64 = 0.6;

/// What an evaluation covers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scope {
    /// The cursor's line, or the lines of the selection (Ctrl+Enter).
    Line,
    /// The block between blank lines around the cursor (Alt+Enter).
    Paragraph,
    /// Everything, as a diff against the running network (Ctrl+Shift+Enter).
    All,
}

/// What the pane asks the instrument to do.
#[derive(Clone, Debug)]
pub enum Request {
    /// One edit request through Self.
    Edit(Edit),
    /// Make the running network this patch (the hot-reload path: a diff through Self).
    Apply(Box<Patch>),
    /// Arm MIDI learn for this weight (a right click on its coefficient).
    Learn(crate::patch::text::pick::WeightAt),
}

/// The line under the pane: the last evaluation's outcome. An error stays until a good one.
#[derive(Clone, Debug, PartialEq)]
pub struct Status {
    pub ok: bool,
    pub text: String,
}

/// Lines that were just evaluated, drawn highlighted for `FLASH_SECONDS`.
#[derive(Clone, Debug, PartialEq)]
pub struct Flash {
    pub first_line: usize,
    pub last_line: usize,
    /// egui time when it started.
    pub since: f64,
}

/// The running network an evaluation is made against.
pub struct Running<'a> {
    pub net: &'a Network,
    pub w: &'a WMatrix,
    /// Morph time for rows without their own `~`: the override, or the settings' `morph`.
    pub morph: f64,
}

/// The pane's state.
pub struct CodeEditor {
    pub text: String,
    pub visible: bool,
    pub file: Option<PatchFile>,
    /// Errors of the last evaluation, at their lines (1-based).
    pub errors: Vec<TextError>,
    pub status: Option<Status>,
    pub flashes: Vec<Flash>,
    /// The last lines sent (what flashed last), for the performer's eye and for tests.
    pub last_sent: Option<Flash>,
    /// A change on disk waiting for the performer (the buffer had unsaved changes): its text.
    pub disk_notice: Option<String>,
    /// The settings' morph time of the last whole buffer that parsed (None: not known yet).
    pub settings_morph: Option<f64>,
    /// Give the text keyboard focus on the next frame.
    pub focus: bool,
    /// Typing comes from a script (`--type`): the window acts as focused whether or not the OS
    /// gave it focus, so the cursor, the completion popup and captures show what a performer sees.
    pub scripted: bool,
    /// Requests made outside a frame (disk reloads), taken by the next `view`.
    pub queued: Vec<Request>,
    /// Wall time the pane took to lay out and draw last frame, seconds (for the perf figure).
    pub frame_seconds: f64,
    /// Last frame's laid-out text and where it was drawn (to find the text under a point).
    placed: Option<(std::sync::Arc<egui::Galley>, egui::Pos2)>,
    /// Last frame's text cursor glyph on screen, and whether the completion popup was open there.
    pub cursor_at: Option<(egui::Rect, bool)>,
    /// Last frame's visible part of the text (the scroll area's viewport on screen).
    pub view: Option<egui::Rect>,
    /// Last frame's cursor (char index) and text length: a change scrolls the cursor into view.
    last_cursor: Option<(usize, usize)>,
}

impl CodeEditor {
    /// A pane on `text` (no file: nothing to save).
    pub fn new(text: impl Into<String>) -> CodeEditor {
        CodeEditor {
            text: text.into(),
            visible: true,
            file: None,
            errors: Vec::new(),
            status: None,
            flashes: Vec::new(),
            last_sent: None,
            disk_notice: None,
            settings_morph: None,
            focus: true,
            scripted: false,
            queued: Vec::new(),
            frame_seconds: 0.0,
            placed: None,
            cursor_at: None,
            view: None,
            last_cursor: None,
        }
    }

    /// A pane on a patch file (watched for changes on disk when `watch`); the second value is a
    /// note for the log when the watch could not be set up.
    pub fn open(path: &Path, watch: bool) -> Result<(CodeEditor, Option<String>), String> {
        let (f, text, note) = PatchFile::open(path, watch)?;
        let mut ed = CodeEditor::new(text);
        ed.file = Some(f);
        ed.settings_morph = ed.parse_all().ok().map(|p| p.settings.morph_time);
        Ok((ed, note))
    }

    /// Where char `c` of the buffer was drawn last frame (the middle of its glyph), if it was.
    pub fn point_of_char(&self, c: usize) -> Option<egui::Pos2> {
        let (galley, origin) = self.placed.as_ref()?;
        let r = galley.pos_from_cursor(egui::text::CCursor::new(c));
        let next = galley.pos_from_cursor(egui::text::CCursor::new(c + 1));
        let x = if next.min.y == r.min.y && next.min.x > r.min.x {
            (r.min.x + next.min.x) / 2.0
        } else {
            r.min.x + 1.0
        };
        Some(*origin + egui::vec2(x, r.center().y))
    }

    /// Whether the buffer differs from the file as last loaded or saved.
    pub fn dirty(&self) -> bool {
        self.file.as_ref().is_some_and(|f| f.clean != self.text)
    }

    fn assets(&self) -> AssetDirs {
        match &self.file {
            Some(f) => AssetDirs::for_patch(&f.path),
            None => AssetDirs::default(),
        }
    }

    /// The whole buffer as a patch.
    pub fn parse_all(&self) -> Result<Patch, Vec<TextError>> {
        let mut p = parse_buffer(&self.text, &self.assets())?;
        p.path = self.file.as_ref().map(|f| f.path.clone());
        Ok(p)
    }

    /// Evaluates `scope` with the selection `sel` (char indices; equal for a plain cursor) against
    /// the running network. Returns the request to send, or None (nothing to send, or errors,
    /// which are now shown). `now` is egui's time, for the flash.
    pub fn evaluate(
        &mut self,
        scope: Scope,
        sel: (usize, usize),
        run: &Running<'_>,
        now: f64,
    ) -> Option<Request> {
        let r: Region = match scope {
            Scope::Line => region::line_or_selection(&self.text, sel.0, sel.1),
            Scope::Paragraph => region::paragraph(&self.text, sel.1),
            Scope::All => region::whole(&self.text),
        };
        if scope == Scope::All {
            return match self.parse_all() {
                Ok(p) => {
                    self.settings_morph = Some(p.settings.morph_time);
                    self.succeed(&r, now, "the whole buffer: sent as a diff");
                    Some(Request::Apply(Box::new(p)))
                }
                Err(e) => {
                    self.fail(e);
                    None
                }
            };
        }
        match eval_snippet(
            &r.text,
            r.first_line,
            run.net,
            run.w,
            &self.assets(),
            run.morph,
        ) {
            Ok(Some(edit)) => {
                let what = if r.first_line == r.last_line {
                    format!("line {}", r.first_line)
                } else {
                    format!("lines {}-{}", r.first_line, r.last_line)
                };
                self.succeed(&r, now, &format!("{what}: sent"));
                Some(Request::Edit(edit))
            }
            Ok(None) => {
                self.status = Some(Status {
                    ok: true,
                    text: format!("line {}: nothing to evaluate", r.first_line),
                });
                self.errors.clear();
                None
            }
            Err(errs) => {
                self.fail(errs);
                None
            }
        }
    }

    fn succeed(&mut self, r: &Region, now: f64, text: &str) {
        self.errors.clear();
        self.status = Some(Status {
            ok: true,
            text: text.to_string(),
        });
        let f = Flash {
            first_line: r.first_line,
            last_line: r.last_line,
            since: now,
        };
        self.last_sent = Some(f.clone());
        self.flashes.push(f);
    }

    /// Shows `errs` at their lines and in the status line (first error, and how many more).
    pub fn fail(&mut self, errs: Vec<TextError>) {
        let text = match errs.first() {
            Some(e) if errs.len() > 1 => format!("{e} (and {} more)", errs.len() - 1),
            Some(e) => e.to_string(),
            None => "error".into(),
        };
        self.errors = errs;
        self.status = Some(Status { ok: false, text });
    }

    /// The instrument refused a request the pane sent (the engine's own check).
    pub fn rejected(&mut self, errors: &[String]) {
        self.status = Some(Status {
            ok: false,
            text: format!("not applied: {}", errors.join("; ")),
        });
    }

    /// Flashes still running at `now`.
    pub fn live_flashes(&mut self, now: f64) -> &[Flash] {
        self.flashes.retain(|f| now - f.since < FLASH_SECONDS);
        &self.flashes
    }

    /// A panel edit made at W `w_before` on `net`: the rows it touches are rewritten with the W
    /// it leads to; an added neuron's declaration goes in, a removed one's (and its rows) go.
    pub fn panel_edit(&mut self, edit: &Edit, net: &Network, w_before: &WMatrix) {
        let w = sync::w_after(w_before, edit);
        let mut net = net.clone();
        let mut text = std::mem::take(&mut self.text);
        for_each_added(edit, &mut |name, spec| {
            if net.add(name, spec, &self.assets()).is_ok()
                && let Some(line) = decl_of(&net, &w, name)
            {
                text = sync::insert_decl(&text, &line);
            }
        });
        for_each_removed(edit, &mut |name| text = sync::remove_neuron(&text, name));
        for t in sync::touched_rows(edit, w_before) {
            if removed(edit, &t.neuron) || !net.contains(&t.neuron) {
                continue;
            }
            let row = w.row(&t).is_some_and(|r| !r.is_empty());
            let line = row.then(|| print_row(&net, &w, &t));
            text = sync::rewrite_row(&text, &t, line.as_deref());
        }
        self.text = text;
    }

    /// Replaces the buffer with the running network's text form.
    pub fn regenerate(&mut self, p: &Patch) {
        self.text = print_text(p);
        self.errors.clear();
        self.status = Some(Status {
            ok: true,
            text: "the buffer now shows the running network".into(),
        });
    }

    /// Makes the buffer's MIDI `map` lines (`map cc` and `map note`) the given ones, so that
    /// saving the buffer saves what the performer learned: lines no longer wanted go, missing
    /// ones are added at the end; `map osc` lines and everything else stay as typed. Returns
    /// whether the buffer changed.
    pub fn sync_midi_map_lines(&mut self, wanted: &[String]) -> bool {
        self.sync_map_lines(wanted, false)
    }

    /// Like `sync_midi_map_lines`; with `osc`, the `map osc` lines are made the given ones too.
    pub fn sync_map_lines(&mut self, wanted: &[String], osc: bool) -> bool {
        let is_midi_map = |l: &str| {
            let t = l.trim_start();
            t.starts_with("map cc ")
                || t.starts_with("map note ")
                || (osc && t.starts_with("map osc "))
        };
        let have: Vec<&str> = self
            .text
            .lines()
            .filter(|l| is_midi_map(l))
            .map(str::trim)
            .collect();
        if have.len() == wanted.len() && wanted.iter().all(|w| have.contains(&w.trim())) {
            return false;
        }
        let mut text: String = self
            .text
            .lines()
            .filter(|l| !is_midi_map(l) || wanted.iter().any(|w| w.trim() == l.trim()))
            .flat_map(|l| [l, "\n"])
            .collect();
        for w in wanted {
            if !text.lines().any(|l| l.trim() == w.trim()) {
                text.push_str(w.trim());
                text.push('\n');
            }
        }
        self.text = text;
        true
    }

    /// Saves the buffer to its file.
    pub fn save(&mut self) -> Result<String, String> {
        let Some(f) = self.file.as_mut() else {
            return Err("the buffer has no file".into());
        };
        f.save(&self.text)?;
        Ok(format!("saved {}", f.path.display()))
    }

    /// Looks for a change on disk: a clean buffer takes the new text and evaluates it whole
    /// (queued as a request); an unsaved buffer gets a notice (`reload_from_disk` / `keep`).
    /// Returns a line for the log when something happened.
    pub fn poll_disk(&mut self) -> Option<String> {
        let change = self.file.as_mut()?.poll()?;
        match change {
            DiskChange::Unreadable(e) => Some(e),
            DiskChange::Changed(text) if self.dirty() => {
                self.disk_notice = Some(text);
                Some("the file changed on disk; the buffer has unsaved changes".into())
            }
            DiskChange::Changed(text) => Some(self.take_disk_text(text)),
        }
    }

    /// The performer chose to reload the file over the unsaved buffer.
    pub fn reload_from_disk(&mut self) -> Option<String> {
        let text = self.disk_notice.take()?;
        Some(self.take_disk_text(text))
    }

    /// The performer chose to keep the buffer (the file on disk stays as it is).
    pub fn keep_buffer(&mut self) {
        self.disk_notice = None;
    }

    fn take_disk_text(&mut self, text: String) -> String {
        self.text = text;
        if let Some(f) = self.file.as_mut() {
            f.mark_clean(&self.text);
        }
        self.disk_notice = None;
        match self.parse_all() {
            Ok(p) => {
                self.settings_morph = Some(p.settings.morph_time);
                let r = region::whole(&self.text);
                self.succeed(&r, f64::NEG_INFINITY, "reloaded from disk: sent as a diff");
                self.queued.push(Request::Apply(Box::new(p)));
                "the file changed on disk: reloaded and evaluated".into()
            }
            Err(e) => {
                self.fail(e);
                "the file changed on disk and has errors: nothing changed".into()
            }
        }
    }
}

/// `name`'s declaration line as the language prints it.
fn decl_of(net: &Network, w: &WMatrix, name: &str) -> Option<String> {
    let p = Patch::from_running(&net.settings, None, net, w);
    print_text(&p)
        .lines()
        .find(|l| sync::decl_name(l) == Some(name))
        .map(|l| l.trim_end().to_string())
}

/// The neurons an edit adds, with their specs.
fn for_each_added(edit: &Edit, f: &mut dyn FnMut(&str, &crate::neurons::NeuronSpec)) {
    match edit {
        Edit::AddNeuron { name, neuron, .. } => f(name, neuron),
        Edit::Batch { edits } => edits.iter().for_each(|e| for_each_added(e, f)),
        _ => {}
    }
}

/// The neurons an edit removes.
fn for_each_removed(edit: &Edit, f: &mut dyn FnMut(&str)) {
    match edit {
        Edit::RemoveNeuron { name, .. } => f(name),
        Edit::Batch { edits } => edits.iter().for_each(|e| for_each_removed(e, f)),
        _ => {}
    }
}

fn removed(edit: &Edit, neuron: &str) -> bool {
    let mut hit = false;
    for_each_removed(edit, &mut |n| hit |= n == neuron);
    hit
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stream::PortRef;
    use crate::ui::state::PanelState;

    /// The buffer's `map cc`/`map note` lines become the learned set; `map osc` lines, a
    /// neuron named `map` and everything else stay where they were; an equal set is no change.
    #[test]
    fn midi_map_lines_follow_the_learned_mappings() {
        let text = "k : one\nmap : one\nmap cc 1:7 k.in <- k.out 0..1\nmap osc /a k.in <- k.out 0..1\nmap note 1:60 scene 3\n";
        let mut ed = CodeEditor::new(text);
        let same = [
            "map note 1:60 scene 3".to_string(),
            "map cc 1:7 k.in <- k.out 0..1".into(),
        ];
        assert!(!ed.sync_midi_map_lines(&same));
        assert_eq!(ed.text, text);
        let learned = [
            "map cc 1:7 k.in <- k.out 0..1".to_string(),
            "map cc 2:1 k.in <- k.out 0..0.5".into(),
        ];
        assert!(ed.sync_midi_map_lines(&learned));
        assert_eq!(
            ed.text,
            "k : one\nmap : one\nmap cc 1:7 k.in <- k.out 0..1\nmap osc /a k.in <- k.out 0..1\nmap cc 2:1 k.in <- k.out 0..0.5\n"
        );
        assert!(ed.sync_midi_map_lines(&[]));
        assert_eq!(
            ed.text,
            "k : one\nmap : one\nmap osc /a k.in <- k.out 0..1\n"
        );
    }

    /// Random text built from the language's pieces and awkward characters, and random cursor
    /// positions: the plain functions never panic (no slicing inside a char, no line 0).
    #[test]
    fn no_text_or_cursor_panics() {
        let pieces = [
            "a",
            "osc",
            ".",
            ":",
            " ",
            "<-",
            "+=",
            "#",
            "~",
            "2s",
            "\n",
            "é",
            "€",
            "0.5",
            "-",
            "\t",
            "`",
            "self.accum",
            "sin",
            "image",
            "\r\n",
            "",
            "x.y.z",
            "_one",
        ];
        let st = PanelState::default();
        let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut next = |n: usize| {
            seed = seed
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            (seed >> 33) as usize % n.max(1)
        };
        for _ in 0..2000 {
            let len = next(12);
            let text: String = (0..len).map(|_| pieces[next(pieces.len())]).collect();
            let chars = text.chars().count();
            let (a, b) = (next(chars + 2), next(chars + 2));
            let _ = region::line_or_selection(&text, a, b);
            let _ = region::paragraph(&text, a);
            let _ = region::whole(&text);
            for line in text.split('\n') {
                let at = next(line.len() + 2);
                let _ = complete::items(&complete::context(line, at), &st);
                let _ = complete::hover(line, at);
                let _ = sync::decl_name(line);
                let _ = sync::row_target(line);
            }
            let t = PortRef::new("osc", "x");
            let _ = sync::rewrite_row(&text, &t, Some("osc.x <- 1"));
            let _ = sync::rewrite_row(&text, &t, None);
            let _ = sync::remove_neuron(&text, "osc");
            let _ = sync::insert_decl(&text, "osc : sin");
        }
    }
}
