//! Crash recovery: every few seconds the running program (network and W as a patch), the
//! history with its head (`history_json`) and what the UI adds (the code buffer) are written
//! atomically to `NAME.recover.json`
//! next to the patch. A clean exit removes it; after a crash or `kill -9` it is still there, and
//! the next launch offers to restore it (`--restore` accepts from the command line).
//!
//! Restoring starts the engine on the saved program (a restart: neurons start from `init`, W
//! and the catalogue are exactly the saved ones) and puts the history back, head included, so
//! undo and redo go on from where the crashed run was.

use super::history::History;
use super::history_json::{history_from_json, history_json};
use super::{Live, LiveError, compatible, patch_with, settings_for_rate};
use crate::engine::machine::{Level, Message};
use crate::neurons::AssetDirs;
use crate::patch::Patch;
use serde_json::{Map, Value as Json, json};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// How often the running program is autosaved.
pub const AUTOSAVE_EVERY: Duration = Duration::from_secs(3);

/// `NAME.recover.json` beside the patch `NAME` (e.g. `sine.json.recover.json`).
pub fn recovery_path(patch: &Path) -> PathBuf {
    let mut name = patch
        .file_name()
        .map(|n| n.to_os_string())
        .unwrap_or_else(|| "patch".into());
    name.push(".recover.json");
    patch.with_file_name(name)
}

/// A recovery file read back.
#[derive(Clone, Debug)]
pub struct Recovered {
    /// The program as it ran (network and W).
    pub program: Patch,
    /// Engine tick when it was saved.
    pub tick: u64,
    /// Seconds since the Unix epoch when it was saved.
    pub saved_at: u64,
    /// The history as it was, head included (absent in files from before it was saved).
    pub history: Option<History>,
    /// What the UI attached (`set_recovery_extra`): the code buffer...
    pub extra: Map<String, Json>,
}

/// Reads `NAME.recover.json` for `patch`, if there is one. A file that does not parse is an
/// error naming it (it is left in place).
pub fn read_recovery(patch: &Path) -> Result<Option<Recovered>, LiveError> {
    let path = recovery_path(patch);
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(err) => return Err(LiveError::Io { path, err }),
    };
    let bad = |why: String| LiveError::Unsaveable {
        path: path.clone(),
        why: format!("not a recovery file: {why}"),
    };
    let v: Json = serde_json::from_str(&text).map_err(|e| bad(e.to_string()))?;
    let program = v
        .get("program")
        .ok_or_else(|| bad("no \"program\"".into()))?;
    let mut p = Patch::parse(
        &program.to_string(),
        &path.display().to_string(),
        &AssetDirs::for_patch(patch),
    )?;
    p.path = Some(patch.to_path_buf());
    let history = match v.get("history") {
        None => None,
        Some(h) => Some(history_from_json(h).map_err(|why| bad(format!("history: {why}")))?),
    };
    Ok(Some(Recovered {
        history,
        program: p,
        tick: v.get("tick").and_then(Json::as_u64).unwrap_or(0),
        saved_at: v.get("saved_at").and_then(Json::as_u64).unwrap_or(0),
        extra: v
            .get("extra")
            .and_then(Json::as_object)
            .cloned()
            .unwrap_or_default(),
    }))
}

/// Autosave state kept by `Live`.
#[derive(Default)]
pub(super) struct Autosave {
    last: Option<Instant>,
    last_tick: Option<u64>,
    extra: Map<String, Json>,
    /// Said once that autosaving fails (a read-only folder, a full disk).
    said_failing: bool,
    pub(super) enabled: bool,
}

impl Autosave {
    /// The patch moved to another file: the next poll writes its recovery file at once.
    pub(super) fn restart(&mut self) {
        self.last = None;
        self.last_tick = None;
        self.said_failing = false;
    }
}

/// Temp file in the same folder, synced, renamed over `path`: never half a file. (No `.bak`:
/// the previous autosave is worth nothing once a newer one is whole.)
fn write_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().to_string())
        .unwrap_or_default();
    let tmp = path.with_file_name(format!(".{name}.tmp"));
    {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
    }
    std::fs::rename(&tmp, path)
}

impl Live {
    /// Attaches `value` under `key` to the next autosaves (the code buffer's text: whatever the
    /// UI needs to put back after a crash).
    pub fn set_recovery_extra(&mut self, key: &str, value: Json) {
        self.autosave.extra.insert(key.to_string(), value);
    }

    /// The recovery file of this patch.
    pub fn recovery_path(&self) -> PathBuf {
        recovery_path(&self.file.path)
    }

    /// Writes the recovery file now if `AUTOSAVE_EVERY` has passed and the engine has moved.
    pub(super) fn autosave_tick(&mut self, ev: &mut Vec<super::LiveEvent>) {
        if self.no_program || !self.autosave.enabled {
            return;
        }
        if self
            .autosave
            .last
            .is_some_and(|t| t.elapsed() < AUTOSAVE_EVERY)
        {
            return;
        }
        let Some(snap) = self.engine().latest() else {
            return;
        };
        self.autosave.last = Some(Instant::now());
        if self.autosave.last_tick == Some(snap.tick) {
            return;
        }
        self.autosave.last_tick = Some(snap.tick);
        match self.autosave_now(&snap) {
            Ok(()) => self.autosave.said_failing = false,
            Err(e) if !self.autosave.said_failing => {
                self.autosave.said_failing = true;
                ev.push(super::LiveEvent::Message(Message {
                    tick: snap.tick,
                    level: Level::Error,
                    text: format!("autosave failed: {e}"),
                }));
            }
            Err(_) => {}
        }
    }

    fn autosave_now(&self, snap: &crate::engine::thread::Snapshot) -> Result<(), LiveError> {
        let p = Patch::from_running(
            &self.file.settings,
            self.file.comment.clone(),
            &snap.net,
            &snap.w,
        );
        let program: Json = serde_json::from_str(&p.to_json_string()).map_err(|e| {
            LiveError::NoEngine(format!("the running program does not serialize: {e}"))
        })?;
        let saved_at = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        let doc = json!({
            "patch": self.file.path.display().to_string(),
            "tick": snap.tick,
            "saved_at": saved_at,
            "program": program,
            "history": history_json(&self.perf.history),
            "extra": Json::Object(self.autosave.extra.clone()),
        });
        let path = self.recovery_path();
        let text = serde_json::to_string_pretty(&doc).unwrap_or_default() + "\n";
        write_atomic(&path, text.as_bytes()).map_err(|err| LiveError::Io { path, err })
    }

    /// Turns autosaving on or off (off by default: the window and `dmm-synth record` turn it on).
    pub fn set_autosave(&mut self, on: bool) {
        self.autosave.enabled = on;
    }

    /// Removes the recovery file (a clean exit, or the performer discarded it).
    pub fn discard_recovery(&self) {
        let _ = std::fs::remove_file(self.recovery_path());
    }

    /// Restarts the engine on the recovered program: W and the catalogue as saved, neurons from
    /// `init`. Returns a line for the log. The patch file is not touched (it is now unsaved).
    pub fn restore(&mut self, r: &Recovered) -> Result<String, LiveError> {
        let wanted = patch_with(
            &r.program,
            &settings_for_rate(&r.program.settings, self.audio.sample_rate()),
            &self.file.path,
        )?;
        let note = match self.engine().latest() {
            Some(s) if !compatible(&s.net.settings, &wanted.settings) => {
                " (the engine's settings changed with it)"
            }
            _ => "",
        };
        self.restart(&wanted)?;
        self.no_program = false;
        self.file
            .dirty
            .store(true, std::sync::atomic::Ordering::Relaxed);
        // The history applies to the restored program: it is the program at its head.
        self.perf.pending.clear();
        self.perf.xfade = Default::default();
        let history = match &r.history {
            Some(h) => {
                self.perf.history = h.clone();
                format!(
                    "; history: {} entries, {} done",
                    h.entries().len(),
                    h.head()
                )
            }
            None => String::new(),
        };
        Ok(format!(
            "restored the program saved at tick {} from {}{note}; neurons start from their \
             init{history}",
            r.tick,
            self.recovery_path().display()
        ))
    }
}
