//! The patch file: saving what plays (atomic, with a backup), save as, opening another patch,
//! and the watcher that notices an editor's saves.

use super::{Live, LiveError, LiveEvent, read};
use crate::engine::edits::{Edit, EditOutcome};
use crate::engine::machine::{EDIT_LATENCY_TICKS, Level, Message};
use crate::engine::thread::Report;
use crate::neurons::AssetDirs;
use crate::patch::mapping::{Control, MapSpec, PerformMap};
use crate::patch::watch::PatchWatcher;
use crate::patch::{Patch, save_atomic};
use std::path::Path;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

impl Live {
    /// Waits (a little) until every edit sent so far shows in the snapshot, so a save right
    /// after an edit saves it. Reports read meanwhile are kept for `poll`.
    pub(super) fn settle(&mut self) {
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
                        let reported = self.track(id, &outcome, &mut ev);
                        self.queued.extend(ev);
                        if !reported {
                            self.queued.push(LiveEvent::Outcome { id, outcome });
                        }
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
    pub(super) fn running_text(&mut self) -> Result<(Patch, String), LiveError> {
        self.settle();
        let snap = self.settled_snapshot()?;
        let mut p = Patch::from_running(
            &self.file.settings,
            self.file.comment.clone(),
            &snap.net,
            &snap.w,
        );
        self.keep_mappings(&mut p);
        let text = p.to_json_string();
        Ok((p, text))
    }

    /// The window's MIDI mappings (`set_midi_maps`) for the running network's patch.
    pub fn set_midi_maps(&mut self, cc: Vec<MapSpec>, perform: Vec<PerformMap>) {
        self.file.midi_maps = Some((cc, perform));
    }

    /// The window's OSC mappings (`set_osc_maps`) for the running network's patch.
    pub fn set_osc_maps(&mut self, osc: Vec<MapSpec>) {
        self.file.osc_maps = Some(osc);
    }

    /// A saved patch keeps its mappings: the file's `map osc` lines, and its MIDI ones, or the
    /// window's (MIDI, OSC) when it has a mapper. A mapping whose weight's neurons are gone is left out
    /// (the file would not load with it).
    fn keep_mappings(&self, p: &mut Patch) {
        let base = &self.file.base;
        let (cc, perform) = match &self.file.midi_maps {
            Some((cc, perform)) => (cc.clone(), perform.clone()),
            None => (
                base.mappings
                    .iter()
                    .filter(|m| matches!(m.control, Control::Cc { .. } | Control::Note { .. }))
                    .cloned()
                    .collect(),
                base.perform_maps.clone(),
            ),
        };
        let osc: Vec<MapSpec> = match &self.file.osc_maps {
            Some(osc) => osc.clone(),
            None => base
                .mappings
                .iter()
                .filter(|m| matches!(m.control, Control::Osc(_)))
                .cloned()
                .collect(),
        };
        p.mappings = osc
            .into_iter()
            .chain(cc)
            .filter(|m| m.check(&p.network).is_ok())
            .collect();
        p.perform_maps = perform;
    }

    /// Saves the running network to the patch file (atomic, previous version kept as `.bak`).
    pub fn save(&mut self) -> Result<(), LiveError> {
        let path = self.file.path.clone();
        self.write(&path)
    }

    pub(super) fn write(&mut self, path: &Path) -> Result<(), LiveError> {
        if self.no_program {
            return Err(LiveError::NoProgram(self.file.path.clone()));
        }
        let (patch, _) = self.running_text()?;
        let text = patch.to_string_for(path); // the text language for .dmm, else JSON
        if let Some(why) = patch.unsaveable() {
            return Err(LiveError::Unsaveable {
                path: path.to_path_buf(),
                why,
            });
        }
        save_atomic(path, text.as_bytes()).map_err(|err| LiveError::Io {
            path: path.to_path_buf(),
            err,
        })?;
        self.file.last_text = text;
        self.file.base = patch;
        self.file.dirty.store(false, Ordering::Relaxed);
        Ok(())
    }

    /// Saves to another file, which becomes the open patch (and the watched one).
    pub fn save_as(&mut self, path: &Path) -> Result<(), LiveError> {
        self.write(path)?;
        self.follow(path)
    }

    /// The patch now lives at `path`, where the window's code pane has just written its buffer
    /// (Save As from the code pane; `written` is the file's text as written, so that our own
    /// write is not taken for an outside change). From now on everything that follows the patch
    /// file follows the new one: hot reload (when `Live` watches), `save`, the scenes' sidecar
    /// (written beside the new file), the crash-recovery file, recordings, and the assets and
    /// error places of the next whole-buffer evaluation. The running network is not touched.
    pub fn saved_elsewhere(&mut self, path: &Path, written: String) -> Result<(), LiveError> {
        self.file.last_text = written;
        self.follow(path)
    }

    /// Makes `path` the open patch's file: a new watch, the scenes written beside it, and the
    /// old file's recovery file removed (the next autosave writes the new one's).
    fn follow(&mut self, path: &Path) -> Result<(), LiveError> {
        if self.autosave.enabled && path != self.file.path {
            self.discard_recovery();
            self.autosave.restart();
        }
        self.watcher = None; // Before the new one: one watch at a time.
        self.watcher = watch(path, self.opts.watch, &mut self.queued);
        self.file.path = path.to_path_buf();
        // The scenes go with the patch (their sidecar beside the new file).
        if self.perf.scenes.filled().contains(&true) {
            self.save_scenes()?;
        }
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
        let old_path = std::mem::replace(&mut self.file.path, path.to_path_buf());
        let mut ev = Vec::new();
        let what = format!("open {}", super::file_name(path));
        if let Err(e) = self.apply(&p, &what, &mut ev) {
            self.file.path = old_path;
            return Err(e);
        }
        self.queued.extend(ev);
        self.file.last_text = text;
        // The old patch's recovery file would offer a stale program at its next launch.
        if self.autosave.enabled && old_path != self.file.path {
            let _ = std::fs::remove_file(super::autosave::recovery_path(&old_path));
            self.autosave.restart();
        }
        self.watcher = None; // Before the new one: one watch at a time.
        self.watcher = watch(path, self.opts.watch, &mut self.queued);
        self.load_scenes();
        Ok(())
    }
}

/// A watcher on `path` when `wanted`; failing to watch (the OS's limit on watches, say) is not
/// fatal: the instrument plays on without hot reload and says why.
pub(super) fn watch(
    path: &Path,
    wanted: bool,
    queued: &mut Vec<LiveEvent>,
) -> Option<PatchWatcher> {
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
