//! Everything the window does except talking to the GPU and the window system: take the newest
//! snapshot, draw the panel and the pictures into an egui `Ui`, handle shortcuts and path prompts,
//! and send edit requests through Self. The winit shell (`app`) paints what this draws; tests run
//! it headless with egui_kittest on a real `Live`.

mod code;
mod preview;
pub(crate) use preview::pictures_ui;
mod recover;

use super::editor::CodeEditor;
use super::editor::script::TimedInput;
use super::keys::{Action, shortcuts};
use super::panel::{Editor, panel};
use super::perform::{
    PerformAction, PerformUi, PerformView, describe, perform_keys, perform_panel,
};
use super::scope::ScopePane;
use super::state::{AudioMeter, PanelState};
use crate::backend::Frame;
use crate::engine::edits::{Edit, EditOutcome, TimedEdit};
use crate::engine::machine::Level;
use crate::engine::thread::Snapshot;
use crate::live::{Live, LiveEvent};
use crate::patch::mapping::PerformAim;
use std::collections::VecDeque;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

/// Width of the panel, points.
const PANEL_WIDTH: f32 = 400.0;

/// What a path prompt is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PromptKind {
    Open,
    SaveAs,
}

#[derive(Clone, Debug)]
pub struct Prompt {
    pub kind: PromptKind,
    pub text: String,
}

pub struct Session {
    live: Live,
    pub st: PanelState,
    pub ed: Editor,
    /// The code pane over the picture.
    pub code: CodeEditor,
    code_ids: VecDeque<u64>,
    typed: VecDeque<TimedInput>,
    /// Snapshot tick when scripted input was last typed, or the engine tick that took its last
    /// edit if later.
    typed_at: Option<u64>,
    /// Code-pane edits sent whose outcome has not come back (a capture waits for them).
    code_waiting: Vec<u64>,
    /// One texture per display neuron, by name.
    pictures: Vec<(String, egui::TextureHandle)>,
    last_tick: Option<u64>,
    latest: Option<Arc<Snapshot>>,
    pub show_panel: bool,
    /// Whether the window should be fullscreen (the shell applies it).
    pub fullscreen: bool,
    pub prompt: Option<Prompt>,
    /// The crossfader's controls.
    pub perf: PerformUi,
    /// The last frame sent a panel edit with a pointer button down (a drag goes on).
    dragged: bool,
    pending: VecDeque<TimedEdit>,
    frames: u64,
    fps_window: (Instant, u64),
    /// Why the patch did not load at launch, shown where the picture would be until one loads.
    waiting: Vec<String>,
    /// A recovery file on offer (recover.rs).
    recovery: Option<crate::live::autosave::Recovered>,
    last_frame_at: Option<Instant>,
    frame_gap_max: f64,
    /// Ctrl+Shift+.: sound muted and picture black until pressed again.
    pub blackout: bool,
    /// Whether the output window should be open (Ctrl+Shift+O; the shell opens and closes it).
    pub output_window: bool,
    /// The code buffer as last handed to the autosave (recover.rs).
    recovery_code: Option<String>,
    /// The oscilloscope and spectrum (`audio_out` without a picture, or a clicked port).
    pub scope: ScopePane,
    /// The MIDI mapper (with --midi): learn buttons and the mappings list act on it.
    midi: Option<crate::control::learn::SharedMapper>,
}

impl Session {
    /// Gives the panel's learn buttons and mappings list the mapper (MIDI and OSC mappings).
    pub fn set_midi(&mut self, m: Option<crate::control::learn::SharedMapper>) {
        self.midi = m;
    }

    /// The mapper's mappings as the patch file's `map` lines (None without a mapper), and
    /// whether its OSC mappings are among them (OSC in is on).
    fn map_lines(&self) -> Option<(Vec<String>, bool)> {
        let m = self.midi.as_ref()?;
        Some(m.with(|m| {
            let osc_on = m.osc_on();
            let cc = m.mappings().into_iter().map(|x| x.map_line());
            let perform = m
                .perform_list()
                .into_iter()
                .filter(|p| osc_on || p.osc.is_none())
                .map(|p| format!("map {p}"));
            let osc = m.osc_mappings().into_iter().map(|x| x.map_line());
            let lines = cc.chain(perform).chain(osc.filter(|_| osc_on)).collect();
            (lines, osc_on)
        }))
    }

    /// Saves the code buffer, its `map` lines first made the mapper's (what was learned, over
    /// MIDI or OSC, is saved, and shows in the code).
    fn save_code(&mut self) -> Result<String, String> {
        self.sync_code_map_lines();
        let r = self.code.save();
        if r.is_ok() {
            self.mark_mappings_saved();
        }
        r
    }

    /// Makes the code's `map` lines the mappings in use (before a save).
    fn sync_code_map_lines(&mut self) {
        if let Some((lines, osc)) = self.map_lines()
            && self.code.sync_map_lines(&lines, osc)
        {
            self.st.push_log(
                Level::Notice,
                "the code's map lines now are the mappings in use (learned ones included)",
            );
        }
    }

    /// What was learned is now in the file: a reload keeps treating it as the file's.
    fn mark_mappings_saved(&mut self) {
        if let Some(m) = &self.midi {
            m.with(|m| m.mark_saved());
        }
    }

    /// Save As from the code pane: the buffer goes to `path` as Ctrl+S would write it, and
    /// `path` becomes the patch file for the pane (Ctrl+S, the watch on disk) and for `Live`
    /// (scenes, recovery file, recordings, whole-buffer evaluation) alike.
    fn save_code_as(&mut self, path: &std::path::Path) -> Result<(), String> {
        self.sync_code_map_lines();
        let text = self.code.text.clone();
        let Some(f) = self.code.file.as_mut() else {
            return Err("the buffer has no file".into());
        };
        if let Some(note) = f.save_as(path, &text)? {
            self.st.push_log(Level::Error, note);
        }
        let written = f.disk_text();
        self.mark_mappings_saved();
        self.live
            .saved_elsewhere(path, written)
            .map_err(|e| format!("saved {}, but {e}", path.display()))
    }

    /// `Live`, told the mapper's mappings so that a save of the running network keeps them.
    fn with_midi_maps(&mut self) -> &mut Live {
        if let Some(m) = &self.midi {
            let (cc, perform, osc) = m.with(|m| {
                let cc: Vec<_> = m.mappings().iter().map(|x| x.spec()).collect();
                let osc: Option<Vec<_>> = m
                    .osc_on()
                    .then(|| m.osc_mappings().iter().map(|x| x.spec()).collect());
                (cc, m.perform_list(), osc)
            });
            self.live.set_midi_maps(cc, perform);
            if let Some(osc) = osc {
                self.live.set_osc_maps(osc);
            }
        }
        &mut self.live
    }

    /// A session on a running instrument; `edits` are sent when the engine reaches their tick.
    pub fn new(live: Live, edits: Vec<TimedEdit>, show_panel: bool) -> Session {
        let mut st = PanelState::default();
        if let Some(note) = live.audio().note() {
            st.push_log(Level::Notice, note);
        }
        st.push_log(Level::Notice, format!("playing {}", live.path().display()));
        let mut pending: Vec<TimedEdit> = edits;
        pending.sort_by_key(|e| e.tick);
        let ed = Editor {
            reload_morph: live.morph_override(),
            ..Editor::default()
        };
        let code = code::open_code(live.path(), &mut st);
        Session {
            live,
            st,
            ed,
            code,
            code_ids: VecDeque::new(),
            typed: VecDeque::new(),
            typed_at: None,
            code_waiting: Vec::new(),
            pictures: Vec::new(),
            last_tick: None,
            latest: None,
            show_panel,
            fullscreen: false,
            prompt: None,
            perf: PerformUi::default(),
            dragged: false,
            pending: pending.into(),
            frames: 0,
            midi: None,
            fps_window: (Instant::now(), 0),
            waiting: Vec::new(),
            recovery: None,
            last_frame_at: None,
            frame_gap_max: 0.0,
            blackout: false,
            output_window: false,
            recovery_code: None,
            scope: ScopePane::default(),
        }
    }

    pub fn live(&self) -> &Live {
        &self.live
    }

    /// The patch did not load at launch: log its errors and show them over the (silent) picture
    /// until a program loads.
    pub fn start_errors(&mut self, lines: Vec<String>) {
        for l in &lines {
            self.st.push_log(Level::Error, l.clone());
        }
        self.st.push_log(
            Level::Notice,
            "nothing plays until the patch loads: fix the file and save it (it is watched), or open another",
        );
        self.waiting = lines;
    }

    /// Adds a notice to the panel's log (start-up notes such as the backend choice).
    pub fn notice(&mut self, text: impl Into<String>) {
        self.st.push_log(Level::Notice, text);
    }

    pub fn into_live(self) -> Live {
        self.live
    }

    /// The snapshot the last frame was drawn from.
    pub fn latest(&self) -> Option<&Arc<Snapshot>> {
        self.latest.as_ref()
    }

    /// Frames drawn so far.
    pub fn frames(&self) -> u64 {
        self.frames
    }

    /// The window title: patch file name, `•` while the buffer has unsaved changes.
    pub fn title(&self) -> String {
        match &self.code.file {
            Some(f) => format!(
                "{}{} - dmm-synth",
                f.name(),
                if self.code.dirty() { " •" } else { "" }
            ),
            None => format!("{} - dmm-synth", self.live.title()),
        }
    }

    /// One frame: reports, newest snapshot, scripted edits, shortcuts, panel, pictures, code
    /// pane, prompt; the panel's and the pane's requests go through Self.
    pub fn ui(&mut self, ui: &mut egui::Ui) {
        self.poll_live();
        if let Some(line) = self.code.poll_disk() {
            self.st.push_log(Level::Notice, line);
        }
        self.take_snapshot(ui.ctx());
        if let Some(t) = self.latest.as_ref().map(|s| s.tick) {
            self.replay(t);
        }
        // What the keys show or hide takes effect in this frame already.
        let (now, actions): (Vec<Action>, Vec<Action>) = shortcuts(ui.ctx())
            .into_iter()
            .partition(|a| matches!(a, Action::TogglePanel | Action::ToggleEditor));
        for a in now {
            self.act(a);
        }
        let mut played = perform_keys(ui.ctx());
        let mut edits = Vec::new();
        if let Some(m) = &self.midi {
            self.ed.learn = m.with(|m| super::learn::LearnView::of(m));
        }
        if self.show_panel {
            edits = self.side_panel(ui, &mut played);
        }
        let wanted = self.scope_wanted();
        self.scope.sync(self.live.engine(), wanted.as_ref());
        self.apply_map_actions();
        let mut requests = Vec::new();
        egui::CentralPanel::default()
            .frame(egui::Frame::NONE.fill(egui::Color32::BLACK))
            .show(ui, |ui| {
                if self.blackout {
                    // The panic: nothing drawn over the black fill.
                } else if !self.waiting.is_empty() && self.live.no_program() {
                    waiting_ui(ui, self.live.path(), &self.waiting);
                } else {
                    self.preview_ui(ui);
                }
                if self.code.visible {
                    requests = self.code_ui(ui);
                }
            });
        let confirmed = self.prompt_ui(ui.ctx());
        self.recovery_ui(ui.ctx());
        let dragging = ui.ctx().input(|i| i.pointer.any_down());
        self.send_panel_edits(edits, dragging);
        self.play(played);
        self.send_code(requests);
        self.code_to_recovery();
        if self.ed.reload_morph != self.live.morph_override()
            && let Err(e) = self.live.set_morph(self.ed.reload_morph)
        {
            self.st.push_log(Level::Error, e.to_string());
            self.ed.reload_morph = self.live.morph_override();
        }
        for a in actions {
            self.act(a);
        }
        if let Some((kind, path)) = confirmed {
            self.confirm(kind, path);
        }
        self.count_frame();
    }

    /// The right-hand panel: the perform section (its actions join `played`), then the network
    /// panel; returns the panel's edits.
    fn side_panel(&mut self, ui: &mut egui::Ui, played: &mut Vec<PerformAction>) -> Vec<Edit> {
        let mut edits = Vec::new();
        let mut view = PerformView::of(&self.live);
        if let Some(m) = &self.midi {
            view.midi = true;
            view.learning = m.with(|m| m.perform.armed());
        }
        let (st, ed, perf) = (&mut self.st, &mut self.ed, &mut self.perf);
        egui::Panel::right("panel")
            .default_size(PANEL_WIDTH)
            .resizable(true)
            .show(ui, |ui| {
                ui.heading("dmm-synth");
                played.extend(perform_panel(ui, &view, perf));
                edits = panel(ui, st, ed);
            });
        edits
    }

    /// The map changes asked for in the panel's learn section, handed to the MIDI mapper.
    fn apply_map_actions(&mut self) {
        let map_actions = std::mem::take(&mut self.ed.map_actions);
        if let Some(m) = &self.midi
            && !map_actions.is_empty()
        {
            for line in m.with(|m| super::learn::apply(m, map_actions)) {
                self.st.push_log(Level::Notice, line);
            }
        }
    }

    /// Sends the panel's edits through Self; the text follows them.
    fn send_panel_edits(&mut self, edits: Vec<Edit>, dragging: bool) {
        let mut sent = false;
        for e in edits {
            // The text follows the panel: the rows this edit touches are rewritten.
            if let Some(snap) = &self.latest {
                self.code.panel_edit(&e, &snap.net, &snap.w);
            }
            // A knob being dragged is one history entry.
            let r = if dragging && self.dragged {
                self.live.perform_continued(&describe(&e), e)
            } else {
                self.live.perform(&describe(&e), e)
            };
            if let Err(err) = r {
                self.st.push_log(Level::Error, err.to_string());
            }
            sent = true;
        }
        self.dragged = dragging && sent;
    }

    /// The perform keys' and section's actions (a learn request goes to the MIDI mapper).
    fn play(&mut self, played: Vec<PerformAction>) {
        for a in played {
            if let Some(line) = self.perform_learn(&a) {
                self.st.push_log(Level::Notice, line);
                continue;
            }
            if let Err(err) = super::perform::apply(&mut self.live, a) {
                self.st.push_log(Level::Error, err.to_string());
            }
        }
    }

    /// Counts the frame for the frames-per-second and longest-gap meters.
    fn count_frame(&mut self) {
        self.frames += 1;
        let now = Instant::now();
        if let Some(prev) = self.last_frame_at.replace(now) {
            self.frame_gap_max = self.frame_gap_max.max((now - prev).as_secs_f64());
        }
        let (t0, n0) = self.fps_window;
        let dt = t0.elapsed().as_secs_f64();
        if dt >= 1.0 {
            self.st.meters.frames_per_second = (self.frames - n0) as f64 / dt;
            self.st.meters.frame_max_seconds = std::mem::take(&mut self.frame_gap_max);
            self.fps_window = (now, self.frames);
        }
    }

    /// Takes what the instrument reports: reloads, file errors, engine messages, rejections.
    /// Hands a learn request of the Scenes section to the MIDI mapper; returns its log line
    /// (None: not a learn request, or no MIDI: `perform::apply` refuses it).
    fn perform_learn(&mut self, a: &super::perform::PerformAction) -> Option<String> {
        use super::perform::PerformAction;
        let m = self.midi.as_ref()?;
        match a {
            PerformAction::Learn(aim) => {
                m.with(|m| m.learn_perform(*aim));
                Some(match aim {
                    PerformAim::Xfade => {
                        "learn: move a MIDI CC or an OSC fader for the crossfader".into()
                    }
                    PerformAim::Scene(n) => {
                        format!("learn: strike a MIDI note or press an OSC button for scene {n}")
                    }
                })
            }
            PerformAction::CancelLearn => {
                m.with(|m| m.perform.cancel_learn());
                Some("learn: cancelled".into())
            }
            _ => None,
        }
    }

    fn poll_live(&mut self) {
        for ev in self.live.poll() {
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
                    if let Some(k) = self.code_waiting.iter().position(|&w| w == id) {
                        self.code_waiting.swap_remove(k);
                        if let EditOutcome::Applied { tick } = &outcome {
                            self.typed_at = Some(self.typed_at.map_or(*tick, |t| t.max(*tick)));
                        }
                    }
                    if let EditOutcome::Rejected { tick, .. } = &outcome {
                        if self.code_ids.contains(&id) {
                            self.code.rejected(&[outcome.reasons()]);
                        }
                        self.st.push_log(
                            Level::Error,
                            format!("edit {id} rejected at tick {tick}: {}", outcome.reasons()),
                        );
                    }
                }
            }
        }
    }

    /// Takes the newest snapshot into the panel state and the picture textures.
    fn take_snapshot(&mut self, ctx: &egui::Context) {
        let Some(snap) = self.live.engine().latest() else {
            return;
        };
        if self.last_tick == Some(snap.tick) {
            return;
        }
        self.last_tick = Some(snap.tick);
        self.st.update(&snap);
        self.st.meters.backend = snap.backend.clone();
        let stats = self.live.audio().stats();
        self.st.meters.audio = Some(AudioMeter {
            fill: stats.fill(),
            capacity: stats.capacity(),
            underruns: stats.underruns(),
            device_xruns: stats.device_xruns(),
            muted: stats.muted(),
            device: self.live.audio().device_name(),
        });
        for f in &snap.frames {
            let Some(def) = snap.net.neurons.get(f.neuron) else {
                continue;
            };
            let image = frame_image(f);
            match self.pictures.iter_mut().find(|(n, _)| n == &def.name) {
                Some((_, tex)) => tex.set(image, egui::TextureOptions::LINEAR),
                None => {
                    let tex = ctx.load_texture(
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
        self.latest = Some(snap);
    }

    /// Sends the scripted edits whose tick the engine has reached.
    fn replay(&mut self, tick: u64) {
        while let Some(e) = self.pending.pop_front() {
            if e.tick > tick {
                self.pending.push_front(e);
                break;
            }
            let id = self.live.send(e.edit);
            self.st.push_log(
                Level::Notice,
                format!(
                    "scripted edit {id} sent at tick {tick} (for tick {})",
                    e.tick
                ),
            );
        }
    }

    /// Carries out one shortcut.
    pub fn act(&mut self, a: Action) {
        match a {
            Action::ToggleFullscreen => self.fullscreen = !self.fullscreen,
            Action::ToggleOutput => self.output_window = !self.output_window,
            Action::TogglePanel => self.show_panel = !self.show_panel,
            Action::ToggleMute => {
                let stats = self.live.audio().stats();
                let m = !stats.muted();
                stats.set_muted(m);
                self.st
                    .push_log(Level::Notice, if m { "muted" } else { "unmuted" });
            }
            Action::ToggleEditor => {
                self.code.visible = !self.code.visible;
                self.code.focus = self.code.visible;
            }
            Action::Regenerate => match self.running_patch() {
                Some(p) => {
                    self.code.regenerate(&p);
                    self.st
                        .push_log(Level::Notice, "the code now shows the running network");
                }
                None => self
                    .st
                    .push_log(Level::Error, "no snapshot of the running network yet"),
            },
            Action::Save if self.code.file.is_some() => match self.save_code() {
                Ok(line) => self.st.push_log(Level::Notice, line),
                Err(e) => self.st.push_log(Level::Error, format!("save failed: {e}")),
            },
            Action::Save => match self.with_midi_maps().save() {
                Ok(()) => {
                    if let Some(m) = &self.midi {
                        m.with(|m| m.mark_saved());
                    }
                    self.st.push_log(
                        Level::Notice,
                        format!("saved {}", self.live.path().display()),
                    )
                }
                Err(e) => {
                    for line in e.lines() {
                        self.st
                            .push_log(Level::Error, format!("save failed: {line}"));
                    }
                }
            },
            Action::ToggleRecord => self.toggle_record(),
            Action::Blackout => {
                // Both at once, and both back at once.
                self.blackout = !self.blackout;
                self.live.audio().stats().set_muted(self.blackout);
                self.st.push_log(
                    Level::Notice,
                    if self.blackout {
                        "panic: muted and blacked out (Ctrl+Shift+. again to undo)"
                    } else {
                        "panic undone: sound and picture back"
                    },
                );
            }
            Action::SaveAs => {
                self.prompt = Some(Prompt {
                    kind: PromptKind::SaveAs,
                    text: self.live.path().display().to_string(),
                })
            }
            Action::Open => {
                self.prompt = Some(Prompt {
                    kind: PromptKind::Open,
                    text: self
                        .live
                        .path()
                        .parent()
                        .map(|p| format!("{}/", p.display()))
                        .unwrap_or_default(),
                })
            }
        }
    }

    /// Ctrl+R: stops the recording, or starts one in `recordings/NAME-SECONDS/` next to the patch.
    fn toggle_record(&mut self) {
        let (level, text) = match self.live.stop_recording() {
            Some(Ok(s)) => (
                Level::Notice,
                format!(
                    "recorded {} ticks into {}; replay with: {}",
                    s.ticks,
                    s.dir.display(),
                    s.render
                ),
            ),
            Some(Err(e)) => (Level::Error, e.to_string()),
            None => {
                let dir = crate::live::record::default_dir(self.live.path());
                match self
                    .live
                    .start_recording(&crate::live::record::RecordOptions::new(&dir))
                {
                    Ok(line) => (Level::Notice, line),
                    Err(e) => (Level::Error, format!("cannot record: {e}")),
                }
            }
        };
        self.st.push_log(level, text);
    }

    /// The path prompt window; returns what was confirmed.
    fn prompt_ui(&mut self, ctx: &egui::Context) -> Option<(PromptKind, PathBuf)> {
        let p = self.prompt.as_mut()?;
        let mut confirmed = None;
        let mut close = false;
        let title = match p.kind {
            PromptKind::Open => "Open patch",
            PromptKind::SaveAs => "Save patch as",
        };
        egui::Window::new(title)
            .collapsible(false)
            .resizable(false)
            .show(ctx, |ui| {
                let l = ui.label("path");
                let r = ui
                    .add(egui::TextEdit::singleline(&mut p.text).desired_width(360.0))
                    .labelled_by(l.id);
                let enter = r.lost_focus() && ui.input(|i| i.key_pressed(egui::Key::Enter));
                if !r.lost_focus() {
                    r.request_focus();
                }
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
            self.prompt = None;
        }
        confirmed
    }

    /// Carries out a confirmed path prompt.
    fn confirm(&mut self, kind: PromptKind, path: PathBuf) {
        let r = match kind {
            PromptKind::Open => self.live.open_patch(&path),
            PromptKind::SaveAs if self.code.file.is_some() => {
                if let Err(e) = self.save_code_as(&path) {
                    self.st.push_log(Level::Error, format!("save failed: {e}"));
                    return;
                }
                Ok(())
            }
            PromptKind::SaveAs => self.with_midi_maps().save_as(&path),
        };
        if kind == PromptKind::Open && r.is_ok() {
            self.reopen_code(&path);
        }
        match (kind, r) {
            (PromptKind::Open, Ok(())) => {
                self.st
                    .push_log(Level::Notice, format!("opened {}", path.display()));
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
}

/// The errors of a patch that did not load, in red where the picture would be.
fn waiting_ui(ui: &mut egui::Ui, path: &std::path::Path, errors: &[String]) {
    ui.add_space(16.0);
    ui.heading(
        egui::RichText::new(format!(
            "{} did not load: nothing plays yet",
            path.display()
        ))
        .color(egui::Color32::from_rgb(255, 90, 90)),
    );
    for e in errors {
        ui.label(
            egui::RichText::new(e)
                .monospace()
                .color(egui::Color32::from_rgb(255, 90, 90)),
        );
    }
    ui.label("Fix the file and save it (it is watched), or open another patch (Ctrl+O).");
}

/// A display frame as an egui image.
pub(crate) fn frame_image(f: &Frame) -> egui::ColorImage {
    egui::ColorImage::from_rgba_unmultiplied([f.cols, f.rows], &f.rgba)
}
