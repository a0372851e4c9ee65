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

pub mod autosave;
mod buffer;
mod files;
pub mod headless;
pub mod history;
mod history_json;
pub mod program;
pub mod record;
mod recovery;
mod reload;
mod safe;
pub mod scenes;

use crate::audio::output::AudioOutput;
use crate::backend::Backend;
use crate::engine::edits::{Edit, EditOutcome};
use crate::engine::machine::{EngineError, Machine, Message};
use crate::engine::thread::{EngineHandle, Pace, Report, spawn_tapped};
use crate::neurons::AssetDirs;
use crate::patch::mapping::{MapSpec, PerformMap};
use crate::patch::watch::{PatchWatcher, WatchError};
use crate::patch::{Patch, PatchErrors, one_line};
use crate::stream::kind::Settings;
use crate::trace::TraceThread;
use files::watch;
use record::{RecordOptions, Recording};
use reload::Flight;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};
use thiserror::Error;

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
    #[error("{0}")]
    Scene(String),
    #[error("{path}: not saved: {why}")]
    Unsaveable { path: PathBuf, why: String },
    #[error(transparent)]
    Record(#[from] record::RecordError),
    #[error(
        "{0}: nothing is playing yet (the file did not load): fix its errors and save it, or open another patch"
    )]
    NoProgram(PathBuf),
}

impl LiveError {
    /// One line per problem (for the panel).
    pub fn lines(&self) -> Vec<String> {
        match self {
            LiveError::Patch(p) => p.0.iter().map(|e| e.to_string()).collect(),
            // A path or an OS message could hold a newline: escaped, so one line stays one.
            other => vec![one_line(&other.to_string()).into_owned()],
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

pub struct Live {
    file: PatchFile,
    engine: Option<EngineHandle>,
    audio: AudioOutput,
    watcher: Option<PatchWatcher>,
    opts: LiveOptions,
    reloading: Reloading,
    recovery: Recovery,
    /// Events found while doing something else (a restart, a save), for the next `poll`.
    queued: Vec<LiveEvent>,
    trace: Option<TraceThread>,
    /// The recording in progress (record.rs).
    recording: Option<Recording>,
    /// Started silent because the file did not load (safe.rs); a good reload clears it.
    no_program: bool,
    autosave: autosave::Autosave,
    /// History, requests on their way, scenes and the crossfader (`history`, `scenes`).
    perf: history::Perform,
    /// Outside inputs (OSC, MIDI) driven on every `poll` (see `crate::control`).
    controls: Vec<Box<dyn ControlSource>>,
}

/// An outside input that `Live` drives on every `poll` (OSC, MIDI: `crate::control`).
pub trait ControlSource: Send {
    /// Takes what arrived since the last call and sends it on as edit requests; returns lines
    /// for the log.
    fn pump(&mut self, live: &mut Live) -> Vec<Message>;

    /// The patch file was applied anew (a change on disk, or the whole buffer evaluated):
    /// its `map` lines replace the ones it declared before. Returns a line for the log.
    fn patch_applied(&mut self, _p: &crate::patch::Patch) -> Option<String> {
        None
    }
}

/// The open patch file, as last loaded or saved.
struct PatchFile {
    path: PathBuf,
    /// The file's comment and settings (saved back as they were).
    comment: Option<String>,
    settings: Settings,
    /// The text we last loaded or saved: a change event with this text is our own.
    last_text: String,
    /// The file as last loaded or saved (the text a network writing its own W is diffed from).
    base: Patch,
    /// Edits sent since.
    dirty: AtomicBool,
    /// The window's MIDI mappings (`map cc` and the crossfader/scene ones), when it has a
    /// mapper: a save writes these in place of the file's own (see `files.rs`).
    midi_maps: Option<(Vec<MapSpec>, Vec<PerformMap>)>,
    /// The window's OSC mappings (`set_osc_maps`), when its mapper holds them.
    osc_maps: Option<Vec<MapSpec>>,
}

/// Hot reload's state (see `reload.rs`).
#[derive(Default)]
struct Reloading {
    flight: Option<Flight>,
    /// The file changed while a batch was in flight.
    waiting: bool,
}

/// Automatic restarts after engine errors (see `recovery.rs`).
#[derive(Default)]
struct Recovery {
    count: u32,
    /// Gave up and said so.
    said_stopped: bool,
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
pub(super) fn patch_with(
    patch: &Patch,
    settings: &Settings,
    file: &Path,
) -> Result<Patch, PatchErrors> {
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

/// Whether two engine settings can run one network (the morph time does not matter; the frame
/// rate sets the clocks of the running network, so a change restarts it).
pub(super) fn compatible(a: &Settings, b: &Settings) -> bool {
    a.tick_rate == b.tick_rate
        && a.sample_rate == b.sample_rate
        && a.image_size == b.image_size
        && a.frame_rate == b.frame_rate
}

/// Reads and checks a patch file.
pub(super) fn load(path: &Path) -> Result<(String, Patch), LiveError> {
    let text = read(path)?;
    let patch = Patch::parse(
        &text,
        &path.display().to_string(),
        &AssetDirs::for_patch(path),
    )?;
    Ok((text, patch))
}

pub(super) fn read(path: &Path) -> Result<String, LiveError> {
    std::fs::read_to_string(path).map_err(|err| LiveError::Io {
        path: path.to_path_buf(),
        err,
    })
}

pub(super) fn file_name(path: &Path) -> String {
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
        Live::open_recording(path, backend, opts, None)
    }

    /// Like `open`, recording from the first tick when `record` is given (see record.rs).
    pub fn open_recording(
        path: &Path,
        backend: Box<dyn Backend>,
        opts: LiveOptions,
        record: Option<RecordOptions>,
    ) -> Result<Live, LiveError> {
        let (text, patch) = load(path)?;
        Live::start(path, text, patch, backend, opts, record)
    }

    /// Starts the instrument on `patch` (the file's `text`).
    fn start(
        path: &Path,
        text: String,
        patch: Patch,
        backend: Box<dyn Backend>,
        opts: LiveOptions,
        record: Option<RecordOptions>,
    ) -> Result<Live, LiveError> {
        let mut audio = AudioOutput::open(opts.audio);
        let run = patch_with(
            &patch,
            &settings_for_rate(&patch.settings, audio.sample_rate()),
            path,
        )?;
        let trace = match &opts.trace {
            Some(p) => Some(TraceThread::start(p).map_err(|err| LiveError::Io {
                path: p.clone(),
                err,
            })?),
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
        let (recording, tap) = match &record {
            Some(r) => {
                let (rec, tap) =
                    Recording::start(r, run.settings.tick_rate, patch.comment.clone())?;
                (Some(rec), Some(tap))
            }
            None => (None, None),
        };
        let engine = spawn_tapped(
            machine,
            pace,
            opts.capture_every,
            trace.as_ref().map(|t| t.tx.clone()),
            tap,
        );
        let mut queued = Vec::new();
        let watcher = watch(path, opts.watch, &mut queued);
        let mut live = Live {
            file: PatchFile {
                path: path.to_path_buf(),
                comment: patch.comment.clone(),
                settings: patch.settings.clone(),
                last_text: text,
                base: patch,
                dirty: AtomicBool::new(false),
                midi_maps: None,
                osc_maps: None,
            },
            engine: Some(engine),
            audio,
            watcher,
            opts,
            reloading: Reloading::default(),
            recovery: Recovery::default(),
            queued,
            trace,
            recording,
            no_program: false,
            autosave: autosave::Autosave::default(),
            perf: Default::default(),
            controls: Vec::new(),
        };
        live.load_scenes();
        Ok(live)
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
        self.file.dirty.store(true, Ordering::Relaxed);
        self.engine().send(edit)
    }

    /// Drives `c` on every `poll` from now on.
    pub fn attach(&mut self, c: Box<dyn ControlSource>) {
        self.controls.push(c);
    }

    pub fn path(&self) -> &Path {
        &self.file.path
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
        let mut t = file_name(&self.file.path);
        if self.dirty() {
            t.push_str(" •");
        }
        t
    }

    pub fn dirty(&self) -> bool {
        self.file.dirty.load(Ordering::Relaxed)
    }

    /// The morph time a reload of `p` uses.
    fn morph_for(&self, p: &Patch) -> f64 {
        self.opts.morph.unwrap_or(p.settings.morph_time)
    }

    /// Non-blocking: engine reports, reload progress and file changes since the last call.
    pub fn poll(&mut self) -> Vec<LiveEvent> {
        let mut ev = std::mem::take(&mut self.queued);
        let mut controls = std::mem::take(&mut self.controls);
        for c in &mut controls {
            ev.extend(c.pump(self).into_iter().map(LiveEvent::Message));
        }
        self.controls = controls;
        let reports: Vec<Report> = self.engine().reports.try_iter().collect();
        for r in reports {
            match r {
                Report::Message(m) => ev.push(LiveEvent::Message(m)),
                Report::Outcome { id, outcome } => {
                    if !self.track(id, &outcome, &mut ev) {
                        ev.push(LiveEvent::Outcome { id, outcome });
                    }
                }
            }
        }
        self.advance_flight();
        if let Err(e) = self.pump_crossfade() {
            ev.push(LiveEvent::FileErrors(e.lines()));
        }
        if self.watcher.as_ref().is_some_and(|w| w.changed()) {
            self.reloading.waiting = true;
        }
        if self.reloading.waiting && self.reloading.flight.is_none() {
            self.reloading.waiting = false;
            self.reload(&mut ev);
        }
        if !self.recovery.said_stopped && self.engine().finished() {
            self.recover(&mut ev);
        }
        self.poll_recording(&mut ev);
        self.autosave_tick(&mut ev);
        ev
    }

    /// The latest snapshot, waiting (up to a few seconds) for the first one.
    pub(super) fn settled_snapshot(
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

    /// Stops the engine and the sound, and finishes the trace file.
    pub fn stop(mut self) {
        if let Some(e) = self.engine.take() {
            let _ = e.stop_parts();
        }
        self.watcher = None;
        if let Some(t) = self.trace.take() {
            let _ = t.finish();
        }
        if let Some(r) = self.recording.take() {
            let _ = r.finish();
        }
        // A clean exit: nothing to recover next time.
        if self.autosave.enabled {
            self.discard_recovery();
        }
    }
}
