//! Watching the open patch file for a text editor's saves (notify, debounced).
//!
//! The parent folder is watched, not the file: editors often save by writing a new file and
//! renaming it over the old one, which a watch on the file itself would lose. Events for other
//! names in the folder are ignored; a burst of events (write, rename, close) becomes one change
//! once the file has been quiet for `DEBOUNCE`. Our own saves are told apart by the reader (see
//! `live`), which compares the file's text with what it last wrote or loaded.

use crossbeam_channel::{Receiver, RecvTimeoutError, unbounded};
use notify::event::{AccessKind, AccessMode, EventKind};
use notify::{RecommendedWatcher, RecursiveMode, Watcher};
use std::ffi::{OsStr, OsString};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};
use thiserror::Error;

/// Quiet time after the last event before a change is reported.
pub const DEBOUNCE: Duration = Duration::from_millis(150);

#[derive(Debug, Error)]
#[error("cannot watch {path}: {msg}")]
pub struct WatchError {
    pub path: PathBuf,
    pub msg: String,
}

/// A watch on one file; `changes` gets one `()` per debounced burst of changes.
pub struct PatchWatcher {
    path: PathBuf,
    changes: Receiver<()>,
    _watcher: RecommendedWatcher,
}

/// Whether a raw event may be a change of the file called `name` (in the watched folder).
fn relevant(name: &OsStr, ev: &notify::Result<notify::Event>) -> bool {
    match ev {
        Ok(ev) => {
            let kind_ok = match ev.kind {
                // Our own reads open and close the file: not a change.
                EventKind::Access(AccessKind::Close(AccessMode::Write)) => true,
                EventKind::Access(_) => false,
                _ => true,
            };
            kind_ok
                && ev
                    .paths
                    .iter()
                    .any(|p| p.file_name().is_some_and(|n| n == name))
        }
        // An error from the OS (e.g. its event queue overflowed): look at the file again.
        Err(_) => true,
    }
}

impl PatchWatcher {
    pub fn new(path: &Path) -> Result<PatchWatcher, WatchError> {
        let err = |msg: String| WatchError {
            path: path.to_path_buf(),
            msg,
        };
        let name: OsString = path
            .file_name()
            .ok_or_else(|| err("the path has no file name".into()))?
            .to_os_string();
        let dir = match path.parent() {
            Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
            _ => PathBuf::from("."),
        };
        let (raw_tx, raw_rx) = unbounded::<notify::Result<notify::Event>>();
        let mut watcher = notify::recommended_watcher(move |ev: notify::Result<notify::Event>| {
            let _ = raw_tx.send(ev);
        })
        .map_err(|e| err(e.to_string()))?;
        watcher
            .watch(&dir, RecursiveMode::NonRecursive)
            .map_err(|e| err(e.to_string()))?;
        let (tx, changes) = unbounded();
        let relevant = move |ev: &notify::Result<notify::Event>| relevant(&name, ev);
        std::thread::Builder::new()
            .name("dmm-watch".into())
            .spawn(move || {
                // Ends when the watcher (and so the sender inside it) is dropped.
                while let Ok(ev) = raw_rx.recv() {
                    if !relevant(&ev) {
                        continue;
                    }
                    // Quiet means no event for our file for DEBOUNCE; other files in the
                    // folder (a trace being written, say) do not hold the change back.
                    let mut quiet_from = Instant::now();
                    loop {
                        let left = DEBOUNCE.saturating_sub(quiet_from.elapsed());
                        if left.is_zero() {
                            break;
                        }
                        match raw_rx.recv_timeout(left) {
                            Ok(ev) => {
                                if relevant(&ev) {
                                    quiet_from = Instant::now();
                                }
                            }
                            Err(RecvTimeoutError::Timeout) => break,
                            Err(RecvTimeoutError::Disconnected) => return,
                        }
                    }
                    if tx.send(()).is_err() {
                        return;
                    }
                }
            })
            .map_err(|e| err(e.to_string()))?;
        Ok(PatchWatcher {
            path: path.to_path_buf(),
            changes,
            _watcher: watcher,
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Whether the file changed since the last call (never blocks; bursts count once).
    pub fn changed(&self) -> bool {
        let mut any = false;
        while self.changes.try_recv().is_ok() {
            any = true;
        }
        any
    }

    /// Waits up to `timeout` for a change (for tests and headless runs).
    pub fn wait(&self, timeout: Duration) -> bool {
        self.changes.recv_timeout(timeout).is_ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sees_writes_and_rename_saves() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("p.json");
        std::fs::write(&f, "1").unwrap();
        let w = PatchWatcher::new(&f).unwrap();
        let long = Duration::from_secs(20);
        std::fs::write(&f, "2").unwrap();
        assert!(w.wait(long), "plain write seen");
        // An editor's save: write elsewhere, rename over.
        let tmp = dir.path().join(".p.json.swp");
        std::fs::write(&tmp, "3").unwrap();
        std::fs::rename(&tmp, &f).unwrap();
        assert!(w.wait(long), "rename-over seen");
    }

    fn event(kind: EventKind, path: &str) -> notify::Result<notify::Event> {
        Ok(notify::Event::new(kind).add_path(PathBuf::from(path)))
    }

    /// What must not count is decided per event, so it is tested on events (no waiting for
    /// something not to happen).
    #[test]
    fn reads_and_other_files_are_not_changes() {
        use notify::event::{CreateKind, ModifyKind, RenameMode};
        let name = OsStr::new("p.json");
        let yes = [
            event(EventKind::Modify(ModifyKind::Any), "/d/p.json"),
            event(
                EventKind::Access(AccessKind::Close(AccessMode::Write)),
                "/d/p.json",
            ),
            event(EventKind::Create(CreateKind::File), "/d/p.json"),
            event(
                EventKind::Modify(ModifyKind::Name(RenameMode::To)),
                "/d/p.json",
            ),
            Err(notify::Error::generic("queue overflow")),
        ];
        for ev in &yes {
            assert!(relevant(name, ev), "{ev:?}");
        }
        let no = [
            event(
                EventKind::Access(AccessKind::Open(AccessMode::Read)),
                "/d/p.json",
            ),
            event(
                EventKind::Access(AccessKind::Close(AccessMode::Read)),
                "/d/p.json",
            ),
            event(EventKind::Modify(ModifyKind::Any), "/d/other.json"),
            event(EventKind::Modify(ModifyKind::Any), "/d/p.json.swp"),
        ];
        for ev in &no {
            assert!(!relevant(name, ev), "{ev:?}");
        }
    }
}
