//! The running instrument without a window: engine thread, sound card (or null sink), the patch
//! file and its watcher. The UI and headless tests drive it; every change goes to the engine as an
//! edit request through Self (DESIGN §1), never by touching the engine.
//!
//! - **Sample rate.** The engine runs at the device's rate. When it differs from the patch's
//!   `sample_rate`, the block length becomes `round(device_rate / tick_rate)` samples and the tick
//!   rate `device_rate / block_len` (within half a sample per block of the patch's, so per-tick
//!   dynamics and morph times barely move; oscillator pitches, which count in samples per second,
//!   do not move at all). The file keeps its own settings when saved.
//! - **Hot reload.** When the file changes on disk, the difference between the running network
//!   and the file (`patch::diff`) goes to Self as one batch request, weight changes spread over the
//!   morph time. A file with errors changes nothing and comes back as `FileErrors`. A file whose
//!   settings (rates, image size) differ restarts the engine on it, and says so. A network that
//!   writes its own W (weights into `self`) gets `patch::diff::diff_since` instead: only the
//!   weights the text changed are set, so the network's own rewriting is not undone.
//! - **Trace.** With `LiveOptions::trace`, every tick's scalar outputs are written as
//!   `{"tick":t,"scalars":{...}}` lines (the shape `render` writes) by a writer thread, so the
//!   engine never waits on the disk. After an engine restart the tick numbers go on counting.

use crate::audio::output::AudioOutput;
use crate::backend::Backend;
use crate::backend::cpu::CpuBackend;
use crate::engine::edits::{Edit, EditOutcome};
use crate::engine::machine::{EDIT_LATENCY_TICKS, EngineError, Level, Machine, Message};
use crate::engine::thread::{EngineHandle, Pace, Report, TraceRow, spawn_traced};
use crate::neurons::AssetDirs;
use crate::patch::diff::{diff, diff_since, writes_own_w};
use crate::patch::watch::{PatchWatcher, WatchError};
use crate::patch::{Patch, PatchErrors, save_atomic};
use crate::stream::kind::Settings;
use crossbeam_channel::{Sender, bounded};
use std::fmt::Write as _;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};
use thiserror::Error;

/// Automatic restarts after engine errors before `Live` gives up and says so.
const MAX_RECOVERIES: u32 = 3;

/// Rows the trace channel holds before the engine starts dropping (and counting) them.
const TRACE_ROWS: usize = 1 << 16;

#[derive(Debug, Error)]
pub enum LiveError {
    #[error("{0}")]
    Patch(#[from] PatchErrors),
    #[error(transparent)]
    Engine(#[from] EngineError),
    #[error("{path}: {err}")]
    Io { path: PathBuf, err: std::io::Error },
    #[error(transparent)]
    Watch(#[from] WatchError),
    #[error("the engine is not running: {0}")]
    NoEngine(String),
    #[error("morph time {0} s: expected a finite number of seconds, 0 or more")]
    BadMorph(f64),
}

impl LiveError {
    /// One line per problem (for the panel).
    pub fn lines(&self) -> Vec<String> {
        match self {
            LiveError::Patch(p) => p.0.iter().map(|e| e.to_string()).collect(),
            other => vec![other.to_string()],
        }
    }
}

#[derive(Clone, Debug)]
pub struct LiveOptions {
    /// Try the sound card (else a null sink).
    pub audio: bool,
    /// Watch the patch file and hot-reload it.
    pub watch: bool,
    /// Capture display frames every N ticks (0: never); snapshots are published on those ticks.
    pub capture_every: u64,
    /// Morph time for reloads in seconds; overrides the file's `morph_time`.
    pub morph: Option<f64>,
    /// Write every tick's scalars to this jsonl file.
    pub trace: Option<PathBuf>,
}

impl Default for LiveOptions {
    fn default() -> Self {
        LiveOptions {
            audio: true,
            watch: true,
            capture_every: 6,
            morph: None,
            trace: None,
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub enum LiveEvent {
    /// The file changed on disk and its difference went to Self (`edits` requests).
    Reloaded {
        edits: usize,
        morph: f64,
    },
    /// The file on disk has errors; the running patch is untouched.
    FileErrors(Vec<String>),
    Message(Message),
    Outcome {
        id: u64,
        outcome: EditOutcome,
    },
}

/// A reload batch on its way through Self.
enum Flight {
    /// Sent; waiting for its outcome. `later` follows once it has landed.
    Sent { id: u64, later: Option<Edit> },
    /// Applied at some tick; waiting for a snapshot that shows it (`until`).
    Landing { until: u64, later: Option<Edit> },
}

struct TraceWriter {
    tx: Sender<TraceRow>,
    join: JoinHandle<std::io::Result<()>>,
}

pub struct Live {
    path: PathBuf,
    /// The file's comment and settings (saved back as they were).
    comment: Option<String>,
    file_settings: Settings,
    /// The text we last loaded or saved: a change event with this text is our own.
    last_text: String,
    /// The file as last loaded or saved (the text a network writing its own W is diffed from).
    base: Patch,
    engine: Option<EngineHandle>,
    audio: AudioOutput,
    watcher: Option<PatchWatcher>,
    opts: LiveOptions,
    dirty: AtomicBool,
    flight: Option<Flight>,
    reload_waiting: bool,
    queued: Vec<LiveEvent>,
    trace: Option<TraceWriter>,
    said_stopped: bool,
    recoveries: u32,
}

/// Settings for the engine on a device running at `device_rate` (0: no device, keep them).
/// See the module notes.
pub fn settings_for_rate(s: &Settings, device_rate: u32) -> Settings {
    if device_rate == 0 || device_rate == s.sample_rate {
        return s.clone();
    }
    let block = (device_rate as f64 / s.tick_rate).round().max(1.0);
    Settings {
        sample_rate: device_rate,
        tick_rate: device_rate as f64 / block,
        ..s.clone()
    }
}

/// The patch rebuilt for `settings` (checked again in full: neuron sizes follow the settings).
fn patch_with(patch: &Patch, settings: &Settings, file: &Path) -> Result<Patch, PatchErrors> {
    if *settings == patch.settings {
        return Ok(patch.clone());
    }
    let mut p = patch.clone();
    p.settings = settings.clone();
    let mut out = Patch::parse(
        &p.to_json_string(),
        &file.display().to_string(),
        &AssetDirs::for_patch(file),
    )?;
    out.path = patch.path.clone();
    Ok(out)
}

/// Whether two engine settings can run one network (the morph time does not matter).
fn compatible(a: &Settings, b: &Settings) -> bool {
    a.tick_rate == b.tick_rate && a.sample_rate == b.sample_rate && a.image_size == b.image_size
}

fn read(path: &Path) -> Result<String, LiveError> {
    std::fs::read_to_string(path).map_err(|err| LiveError::Io {
        path: path.to_path_buf(),
        err,
    })
}

fn file_name(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().to_string())
        .unwrap_or_else(|| path.display().to_string())
}

impl Live {
    /// Loads `path`, opens the sound card (or a null sink) and starts the engine on `backend`.
    pub fn open(
        path: &Path,
        backend: Box<dyn Backend>,
        opts: LiveOptions,
    ) -> Result<Live, LiveError> {
        let text = read(path)?;
        let patch = Patch::parse(
            &text,
            &path.display().to_string(),
            &AssetDirs::for_patch(path),
        )?;
        let mut audio = AudioOutput::open(opts.audio);
        let run = patch_with(
            &patch,
            &settings_for_rate(&patch.settings, audio.sample_rate()),
            path,
        )?;
        let trace = match &opts.trace {
            Some(p) => Some(start_trace(p)?),
            None => None,
        };
        let machine = Machine::new(
            run.network.clone(),
            run.initial_w(),
            backend,
            AssetDirs::for_patch(path),
            0,
        )?;
        let pace = match audio.feed() {
            Some(f) => Pace::Audio(f),
            None => Pace::WallClock,
        };
        let engine = spawn_traced(
            machine,
            pace,
            opts.capture_every,
            trace.as_ref().map(|t| t.tx.clone()),
        );
        let mut queued = Vec::new();
        let watcher = watch(path, opts.watch, &mut queued);
        Ok(Live {
            path: path.to_path_buf(),
            comment: patch.comment.clone(),
            file_settings: patch.settings.clone(),
            last_text: text,
            base: patch,
            engine: Some(engine),
            audio,
            watcher,
            opts,
            dirty: AtomicBool::new(false),
            flight: None,
            reload_waiting: false,
            queued,
            trace,
            said_stopped: false,
            recoveries: 0,
        })
    }

    /// The engine: send edits, read the latest snapshot.
    pub fn engine(&self) -> &EngineHandle {
        // Some at all times outside `restart`, which puts one back before returning.
        self.engine
            .as_ref()
            .expect("the engine handle is always present")
    }

    pub fn audio(&self) -> &AudioOutput {
        &self.audio
    }

    /// Sends an edit request through Self; the patch is now unsaved. Returns the request's id.
    pub fn send(&self, edit: Edit) -> u64 {
        self.dirty.store(true, Ordering::Relaxed);
        self.engine().send(edit)
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The morph time that overrides the file's `morph_time` for reloads, if any.
    pub fn morph_override(&self) -> Option<f64> {
        self.opts.morph
    }

    /// Sets (or clears) the morph-time override for the next reloads; a negative or non-finite
    /// value is refused and changes nothing.
    pub fn set_morph(&mut self, morph: Option<f64>) -> Result<(), LiveError> {
        if let Some(m) = morph
            && !(m.is_finite() && m >= 0.0)
        {
            return Err(LiveError::BadMorph(m));
        }
        self.opts.morph = morph;
        Ok(())
    }

    /// `name.json`, with ` •` when there are unsaved changes.
    pub fn title(&self) -> String {
        let mut t = file_name(&self.path);
        if self.dirty() {
            t.push_str(" •");
        }
        t
    }

    pub fn dirty(&self) -> bool {
        self.dirty.load(Ordering::Relaxed)
    }

    /// The morph time a reload of `p` uses.
    fn morph_for(&self, p: &Patch) -> f64 {
        self.opts.morph.unwrap_or(p.settings.morph_time)
    }

    /// Non-blocking: engine reports, reload progress and file changes since the last call.
    pub fn poll(&mut self) -> Vec<LiveEvent> {
        let mut ev = std::mem::take(&mut self.queued);
        let reports: Vec<Report> = self.engine().reports.try_iter().collect();
        for r in reports {
            match r {
                Report::Message(m) => ev.push(LiveEvent::Message(m)),
                Report::Outcome { id, outcome } => {
                    self.track(id, &outcome, &mut ev);
                    ev.push(LiveEvent::Outcome { id, outcome });
                }
            }
        }
        self.advance_flight();
        if self.watcher.as_ref().is_some_and(|w| w.changed()) {
            self.reload_waiting = true;
        }
        if self.reload_waiting && self.flight.is_none() {
            self.reload_waiting = false;
            self.reload(&mut ev);
        }
        if !self.said_stopped && self.engine().finished() {
            self.recover(&mut ev);
        }
        ev
    }

    /// The engine stopped on an error (a backend failure): start again from the last snapshot's
    /// network and W on the CPU backend, a few times at most. Neuron state starts from `init`.
    fn recover(&mut self, ev: &mut Vec<LiveEvent>) {
        let last = self.engine().latest();
        let tick = last.as_ref().map(|s| s.tick).unwrap_or(0);
        if self.recoveries < MAX_RECOVERIES
            && let Some(s) = last
        {
            self.recoveries += 1;
            let p = Patch::from_running(&s.net.settings, self.comment.clone(), &s.net, &s.w);
            // `restart` reports the error that stopped the engine and the switch to the CPU.
            if self.restart(&p).is_ok() {
                ev.append(&mut self.queued);
                ev.push(LiveEvent::Message(Message {
                    tick,
                    level: Level::Notice,
                    text: format!(
                        "restarted the engine from the network as it was at tick {tick}; neurons start from their init"
                    ),
                }));
                return;
            }
        }
        self.said_stopped = true;
        ev.push(LiveEvent::Message(Message {
            tick,
            level: Level::Error,
            text: "the engine stopped after an error; save your work and reopen the patch".into(),
        }));
    }

    /// Follows a reload batch's outcome.
    fn track(&mut self, id: u64, outcome: &EditOutcome, ev: &mut Vec<LiveEvent>) {
        let Some(Flight::Sent { id: fid, later }) = &mut self.flight else {
            return;
        };
        if *fid != id {
            return;
        }
        match outcome {
            EditOutcome::Applied { tick } => {
                self.flight = Some(Flight::Landing {
                    until: tick + EDIT_LATENCY_TICKS + 1,
                    later: later.take(),
                });
            }
            EditOutcome::Rejected { errors, .. } => {
                ev.push(LiveEvent::FileErrors(
                    errors
                        .iter()
                        .map(|e| format!("{}: cannot apply: {e}", self.path.display()))
                        .collect(),
                ));
                self.flight = None;
            }
        }
    }

    fn advance_flight(&mut self) {
        let now = self.engine().latest().map(|s| s.tick).unwrap_or(0);
        let Some(Flight::Landing { until, later }) = &mut self.flight else {
            return;
        };
        if now < *until {
            return;
        }
        let later = later.take();
        self.flight = later.map(|e| Flight::Sent {
            id: self.engine().send(e),
            later: None,
        });
    }

    /// Reads the file after a change on disk and applies it (or reports its errors).
    fn reload(&mut self, ev: &mut Vec<LiveEvent>) {
        let text = match read(&self.path) {
            Ok(t) => t,
            // Mid-rename or deleted: the next change event brings it back.
            Err(e) => {
                ev.push(LiveEvent::FileErrors(e.lines()));
                return;
            }
        };
        if text == self.last_text {
            return; // Our own save, or a touch without a change.
        }
        let path = self.path.clone();
        match Patch::parse(
            &text,
            &path.display().to_string(),
            &AssetDirs::for_patch(&path),
        ) {
            Err(errs) => ev.push(LiveEvent::FileErrors(
                errs.0.iter().map(|e| e.to_string()).collect(),
            )),
            Ok(mut p) => {
                p.path = Some(path.clone());
                self.last_text = text;
                match self.apply(&p, ev) {
                    Ok(()) => {}
                    Err(e) => ev.push(LiveEvent::FileErrors(e.lines())),
                }
            }
        }
    }

    /// Makes the running network `p`: through Self when the settings allow, else by a restart.
    fn apply(&mut self, p: &Patch, ev: &mut Vec<LiveEvent>) -> Result<(), LiveError> {
        let wanted = patch_with(
            p,
            &settings_for_rate(&p.settings, self.audio.sample_rate()),
            &self.path,
        )?;
        let morph = self.morph_for(p);
        let snap = self.settled_snapshot()?;
        if compatible(&snap.net.settings, &wanted.settings) {
            let running = Patch::from_running(&snap.net.settings, None, &snap.net, &snap.w);
            let d = if writes_own_w(&running) {
                diff_since(&self.base, &running, &wanted, morph)
            } else {
                diff(&running, &wanted, morph)
            };
            let edits = d.len();
            if let Some(b) = d.batch_now() {
                let id = self.engine().send(b);
                self.flight = Some(Flight::Sent {
                    id,
                    later: d.batch_later(),
                });
            } else if let Some(b) = d.batch_later() {
                let id = self.engine().send(b);
                self.flight = Some(Flight::Sent { id, later: None });
            }
            ev.push(LiveEvent::Reloaded { edits, morph });
        } else {
            self.restart(&wanted)?;
            ev.push(LiveEvent::Message(Message {
                tick: 0,
                level: Level::Notice,
                text: format!(
                    "{}: settings changed (tick_rate {}, sample_rate {}, image_size {:?}): restarted the engine; every neuron starts from its init",
                    file_name(&self.path),
                    wanted.settings.tick_rate,
                    wanted.settings.sample_rate,
                    wanted.settings.image_size
                ),
            }));
        }
        self.comment = p.comment.clone();
        self.file_settings = p.settings.clone();
        self.base = p.clone();
        self.dirty.store(false, Ordering::Relaxed);
        Ok(())
    }

    /// The latest snapshot, waiting (up to a few seconds) for the first one.
    fn settled_snapshot(
        &self,
    ) -> Result<std::sync::Arc<crate::engine::thread::Snapshot>, LiveError> {
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            if let Some(s) = self.engine().latest() {
                return Ok(s);
            }
            if Instant::now() > deadline || self.engine().finished() {
                return Err(LiveError::NoEngine("no snapshot from the engine".into()));
            }
            std::thread::sleep(Duration::from_millis(2));
        }
    }

    /// Stops the engine and starts a new one on `p` (same backend, same sound card).
    fn restart(&mut self, p: &Patch) -> Result<(), LiveError> {
        let old = self
            .engine
            .take()
            .ok_or_else(|| LiveError::NoEngine("no engine to restart".into()))?;
        // Keep the reports nobody has read yet.
        for r in old.reports.try_iter() {
            self.queued.push(match r {
                Report::Message(m) => LiveEvent::Message(m),
                Report::Outcome { id, outcome } => LiveEvent::Outcome { id, outcome },
            });
        }
        let before = old.latest();
        let (machine, pace) = old.stop_parts();
        let pace = match pace {
            Pace::Audio(f) => Pace::Audio(f),
            _ => Pace::WallClock,
        };
        let assets = AssetDirs::for_patch(&self.path);
        // The backend goes to the new machine. Should that fail (a backend that cannot hold
        // the new sizes, or an engine that had stopped on an error), the CPU backend runs the
        // new patch, or failing that the old network, so there is always an engine.
        let mut failures = Vec::new();
        let first = match machine {
            Ok(m) => Machine::new(
                p.network.clone(),
                p.initial_w(),
                m.into_backend(),
                assets.clone(),
                0,
            ),
            Err(e) => Err(e),
        };
        let m = match first {
            Ok(m) => m,
            Err(e) => {
                failures.push(e.to_string());
                match Machine::new(
                    p.network.clone(),
                    p.initial_w(),
                    Box::new(CpuBackend::new()),
                    assets.clone(),
                    0,
                ) {
                    Ok(m) => m,
                    Err(e2) => {
                        failures.push(e2.to_string());
                        let old = before.ok_or_else(|| LiveError::NoEngine(failures.join("; ")))?;
                        Machine::new(
                            (*old.net).clone(),
                            old.w.clone(),
                            Box::new(CpuBackend::new()),
                            assets,
                            0,
                        )?
                    }
                }
            }
        };
        for f in failures {
            self.queued.push(LiveEvent::Message(Message {
                tick: 0,
                level: Level::Error,
                text: format!("restart: {f}; running on the cpu backend"),
            }));
        }
        self.engine = Some(spawn_traced(
            m,
            pace,
            self.opts.capture_every,
            self.trace.as_ref().map(|t| t.tx.clone()),
        ));
        self.flight = None;
        self.said_stopped = false;
        Ok(())
    }

    /// Waits (a little) until every edit sent so far shows in the snapshot, so a save right
    /// after an edit saves it. Reports read meanwhile are kept for `poll`.
    fn settle(&mut self) {
        let probe = self.engine().send(Edit::Batch { edits: Vec::new() });
        let deadline = Instant::now() + Duration::from_secs(2);
        let mut landed: Option<u64> = None;
        while Instant::now() < deadline && !self.engine().finished() {
            let reports: Vec<Report> = self.engine().reports.try_iter().collect();
            for r in reports {
                match r {
                    Report::Outcome { id, outcome } if id == probe => {
                        let (EditOutcome::Applied { tick } | EditOutcome::Rejected { tick, .. }) =
                            outcome;
                        landed = Some(tick + EDIT_LATENCY_TICKS);
                    }
                    Report::Outcome { id, outcome } => {
                        let mut ev = Vec::new();
                        self.track(id, &outcome, &mut ev);
                        self.queued.extend(ev);
                        self.queued.push(LiveEvent::Outcome { id, outcome });
                    }
                    Report::Message(m) => self.queued.push(LiveEvent::Message(m)),
                }
            }
            if let (Some(t), Some(s)) = (landed, self.engine().latest())
                && s.tick >= t
            {
                return;
            }
            std::thread::sleep(Duration::from_millis(1));
        }
    }

    /// The running network as a patch (and its text), with the file's settings and comment.
    fn running_text(&mut self) -> Result<(Patch, String), LiveError> {
        self.settle();
        let snap = self.settled_snapshot()?;
        let p = Patch::from_running(
            &self.file_settings,
            self.comment.clone(),
            &snap.net,
            &snap.w,
        );
        let text = p.to_json_string();
        Ok((p, text))
    }

    /// Saves the running network to the patch file (atomic, previous version kept as `.bak`).
    pub fn save(&mut self) -> Result<(), LiveError> {
        let path = self.path.clone();
        self.write(&path)
    }

    fn write(&mut self, path: &Path) -> Result<(), LiveError> {
        let (patch, text) = self.running_text()?;
        save_atomic(path, text.as_bytes()).map_err(|err| LiveError::Io {
            path: path.to_path_buf(),
            err,
        })?;
        self.last_text = text;
        self.base = patch;
        self.dirty.store(false, Ordering::Relaxed);
        Ok(())
    }

    /// Saves to another file, which becomes the open patch (and the watched one).
    pub fn save_as(&mut self, path: &Path) -> Result<(), LiveError> {
        self.write(path)?;
        let watcher = watch(path, self.opts.watch, &mut self.queued);
        self.path = path.to_path_buf();
        self.watcher = watcher;
        Ok(())
    }

    /// Opens another patch: its difference goes through Self when the settings allow (state
    /// kept), else the engine restarts on it. A bad file returns its errors and changes nothing.
    pub fn open_patch(&mut self, path: &Path) -> Result<(), LiveError> {
        let text = read(path)?;
        let mut p = Patch::parse(
            &text,
            &path.display().to_string(),
            &AssetDirs::for_patch(path),
        )?;
        p.path = Some(path.to_path_buf());
        let old_path = std::mem::replace(&mut self.path, path.to_path_buf());
        let mut ev = Vec::new();
        if let Err(e) = self.apply(&p, &mut ev) {
            self.path = old_path;
            return Err(e);
        }
        self.queued.extend(ev);
        self.last_text = text;
        self.watcher = None; // Before the new one: one watch at a time.
        self.watcher = watch(path, self.opts.watch, &mut self.queued);
        Ok(())
    }

    /// Stops the engine and the sound, and finishes the trace file.
    pub fn stop(mut self) {
        if let Some(e) = self.engine.take() {
            let _ = e.stop_parts();
        }
        self.watcher = None;
        if let Some(t) = self.trace.take() {
            drop(t.tx);
            let _ = t.join.join();
        }
    }
}

/// A watcher on `path` when `wanted`; failing to watch (the OS's limit on watches, say) is not
/// fatal: the instrument plays on without hot reload and says why.
fn watch(path: &Path, wanted: bool, queued: &mut Vec<LiveEvent>) -> Option<PatchWatcher> {
    if !wanted {
        return None;
    }
    match PatchWatcher::new(path) {
        Ok(w) => Some(w),
        Err(e) => {
            queued.push(LiveEvent::Message(Message {
                tick: 0,
                level: Level::Error,
                text: format!("{e}; hot reload is off for this file"),
            }));
            None
        }
    }
}

fn start_trace(path: &Path) -> Result<TraceWriter, LiveError> {
    let io = |err| LiveError::Io {
        path: path.to_path_buf(),
        err,
    };
    let file = std::fs::File::create(path).map_err(io)?;
    let (tx, rx) = bounded::<TraceRow>(TRACE_ROWS);
    let join = std::thread::Builder::new()
        .name("dmm-trace".into())
        .spawn(move || -> std::io::Result<()> {
            let mut out = std::io::BufWriter::new(file);
            let mut line = String::new();
            // A restarted engine counts from 0 again: the trace goes on counting.
            let (mut offset, mut next) = (0u64, 0u64);
            // Ends when the engine and the Live have both dropped their senders.
            while let Ok(first) = rx.recv() {
                for row in std::iter::once(first).chain(rx.try_iter()) {
                    if row.tick + offset < next {
                        offset = next - row.tick;
                    }
                    let tick = row.tick + offset;
                    next = tick + 1;
                    line.clear();
                    let _ = write!(line, "{{\"tick\":{tick},\"scalars\":{{");
                    for (i, (name, v)) in row.names.iter().zip(&row.values).enumerate() {
                        let sep = if i > 0 { "," } else { "" };
                        if v.is_finite() {
                            let _ = write!(line, "{sep}\"{name}\":{v}");
                        } else {
                            let _ = write!(line, "{sep}\"{name}\":null");
                        }
                    }
                    line.push_str("}}\n");
                    out.write_all(line.as_bytes())?;
                }
                out.flush()?;
            }
            out.flush()
        })
        .map_err(io)?;
    Ok(TraceWriter { tx, join })
}
