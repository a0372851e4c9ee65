//! Stand-in for `live::Live` (branch `live`) with the subset of its contract the window uses, so
//! the window can run before `Live` lands. Removed when it does.

use crate::audio::AudioOutput;
use crate::backend::Backend;
use crate::engine::thread::{EngineHandle, Pace, Report, spawn};
use crate::engine::{Edit, EditOutcome, Machine, Message};
use crate::neurons::AssetDirs;
use crate::patch::Patch;
use std::path::{Path, PathBuf};

pub struct LiveOptions {
    pub audio: bool,
    pub watch: bool,
    pub capture_every: u64,
    pub morph: Option<f64>,
    pub trace: Option<PathBuf>,
}

pub enum LiveEvent {
    Reloaded { edits: usize, morph: f64 },
    FileErrors(Vec<String>),
    Message(Message),
    Outcome { id: u64, outcome: EditOutcome },
}

pub struct Live {
    engine: EngineHandle,
    audio: AudioOutput,
    path: PathBuf,
    comment: Option<String>,
    dirty: std::cell::Cell<bool>,
}

impl Live {
    pub fn open(path: &Path, backend: Box<dyn Backend>, opts: LiveOptions) -> Result<Live, String> {
        let patch = Patch::load(path).map_err(|e| e.to_string())?;
        let m = Machine::new(
            patch.network.clone(),
            patch.initial_w(),
            backend,
            AssetDirs::for_patch(path),
            0,
        )
        .map_err(|e| e.to_string())?;
        let mut audio = AudioOutput::open(opts.audio);
        let pace = match audio.feed() {
            Some(f) => Pace::Audio(f),
            None => Pace::WallClock,
        };
        Ok(Live {
            engine: spawn(m, pace, opts.capture_every),
            audio,
            path: path.to_path_buf(),
            comment: patch.comment,
            dirty: false.into(),
        })
    }
    pub fn engine(&self) -> &EngineHandle {
        &self.engine
    }
    pub fn audio(&self) -> &AudioOutput {
        &self.audio
    }
    pub fn send(&self, e: Edit) -> u64 {
        self.dirty.set(true);
        self.engine.send(e)
    }
    pub fn poll(&mut self) -> Vec<LiveEvent> {
        self.engine
            .reports
            .try_iter()
            .map(|r| match r {
                Report::Message(m) => LiveEvent::Message(m),
                Report::Outcome { id, outcome } => LiveEvent::Outcome { id, outcome },
            })
            .collect()
    }
    pub fn path(&self) -> &Path {
        &self.path
    }
    pub fn title(&self) -> String {
        let name = self
            .path
            .file_name()
            .map(|n| n.to_string_lossy().to_string())
            .unwrap_or_default();
        if self.dirty.get() {
            format!("{name} •")
        } else {
            name
        }
    }
    pub fn save(&mut self) -> Result<(), String> {
        let p = self.path.clone();
        self.save_as(&p)
    }
    pub fn save_as(&mut self, path: &Path) -> Result<(), String> {
        let s = self.engine.latest().ok_or("no snapshot yet")?;
        Patch::from_running(&s.net.settings, self.comment.clone(), &s.net, &s.w)
            .save(path)
            .map_err(|e| format!("{}: {e}", path.display()))?;
        self.path = path.to_path_buf();
        self.dirty.set(false);
        Ok(())
    }
    pub fn open_patch(&mut self, path: &Path) -> Result<(), String> {
        Patch::load(path).map_err(|e| e.to_string())?;
        Err("opening another patch needs the live branch".into())
    }
    pub fn stop(self) {
        let _ = self.engine.stop();
    }
}
