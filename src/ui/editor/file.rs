//! The buffer's file: load, save (atomic, `.bak`, byte for byte for `.dmm`), and changes on disk.
//!
//! A `.dmm` buffer *is* the file's text. A `.json` patch is shown in its text form (`print_text`)
//! and Ctrl+S keeps it JSON: the buffer is parsed and written back as the patch's JSON form (the
//! conversion is lossless), so a JSON patch stays a JSON patch; a buffer with errors is not saved.
//! Changes on disk are told from our own saves by content: the bytes we last read or wrote.

use crate::neurons::AssetDirs;
use crate::patch::text::{parse_text, print_text};
use crate::patch::watch::PatchWatcher;
use crate::patch::{Patch, save_atomic};
use std::path::{Path, PathBuf};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// The text language: the buffer is the file.
    Dmm,
    /// JSON: the buffer is its text form, saved back as JSON.
    Json,
}

impl Format {
    pub fn of(path: &Path) -> Format {
        match path.extension().and_then(|e| e.to_str()) {
            Some(e) if e.eq_ignore_ascii_case("dmm") => Format::Dmm,
            _ => Format::Json,
        }
    }
}

/// What happened on disk since the last look.
#[derive(Clone, Debug, PartialEq)]
pub enum DiskChange {
    /// The file holds new text (already turned into a buffer).
    Changed(String),
    /// The file changed but cannot be shown (unreadable, or JSON with errors).
    Unreadable(String),
}

/// The open patch file as the editor sees it.
pub struct PatchFile {
    pub path: PathBuf,
    pub format: Format,
    /// The buffer as last loaded or saved: the buffer is unsaved when it differs.
    pub clean: String,
    /// The file's bytes as last read or written (a change event with these bytes is our own).
    disk: Vec<u8>,
    watcher: Option<PatchWatcher>,
}

fn read(path: &Path) -> Result<Vec<u8>, String> {
    std::fs::read(path).map_err(|e| format!("{}: cannot read: {e}", path.display()))
}

/// The buffer for a file's bytes: the text itself, or a JSON patch's text form.
pub fn buffer_of(path: &Path, format: Format, bytes: &[u8]) -> Result<String, String> {
    let text = std::str::from_utf8(bytes)
        .map_err(|e| format!("{}: not UTF-8 text: {e}", path.display()))?;
    match format {
        Format::Dmm => Ok(text.to_string()),
        Format::Json => {
            let p = Patch::parse(
                text,
                &path.display().to_string(),
                &AssetDirs::for_patch(path),
            )
            .map_err(|e| e.to_string())?;
            Ok(print_text(&p))
        }
    }
}

/// The bytes a buffer is saved as.
pub fn bytes_of(path: &Path, format: Format, buffer: &str) -> Result<Vec<u8>, String> {
    match format {
        Format::Dmm => Ok(buffer.as_bytes().to_vec()),
        Format::Json => {
            let p = parse_text(
                buffer,
                &path.display().to_string(),
                &AssetDirs::for_patch(path),
            )
            .map_err(|e| format!("not saved as JSON: {e}"))?;
            Ok(p.to_json_string().into_bytes())
        }
    }
}

impl PatchFile {
    /// Reads `path` into a buffer; `watch` also watches it for changes on disk. A watch that
    /// cannot be set up is not fatal: the second value says why.
    pub fn open(path: &Path, watch: bool) -> Result<(PatchFile, String, Option<String>), String> {
        let format = Format::of(path);
        let disk = read(path)?;
        let buffer = buffer_of(path, format, &disk)?;
        let (watcher, note) = if watch {
            match PatchWatcher::new(path) {
                Ok(w) => (Some(w), None),
                Err(e) => (
                    None,
                    Some(format!("{e}; the editor will not see changes on disk")),
                ),
            }
        } else {
            (None, None)
        };
        let f = PatchFile {
            path: path.to_path_buf(),
            format,
            clean: buffer.clone(),
            disk,
            watcher,
        };
        Ok((f, buffer, note))
    }

    /// Starts watching the file for changes on disk.
    pub fn watch(&mut self) -> Result<(), String> {
        self.watcher = Some(PatchWatcher::new(&self.path).map_err(|e| e.to_string())?);
        Ok(())
    }

    pub fn watched(&self) -> bool {
        self.watcher.is_some()
    }

    pub fn name(&self) -> String {
        self.path
            .file_name()
            .map(|n| n.to_string_lossy().to_string())
            .unwrap_or_else(|| self.path.display().to_string())
    }

    /// Saves `buffer` (atomic, the previous file kept as `NAME.bak`).
    pub fn save(&mut self, buffer: &str) -> Result<(), String> {
        let bytes = bytes_of(&self.path, self.format, buffer)?;
        save_atomic(&self.path, &bytes)
            .map_err(|e| format!("{}: cannot save: {e}", self.path.display()))?;
        self.disk = bytes;
        self.clean = buffer.to_string();
        Ok(())
    }

    /// Saves `buffer` to another path, which becomes this file: later saves go there, and it is
    /// watched instead of the old one when the old one was. Returns a note for the log when the
    /// new file cannot be watched (the save itself went through).
    pub fn save_as(&mut self, path: &Path, buffer: &str) -> Result<Option<String>, String> {
        let format = Format::of(path);
        let bytes = bytes_of(path, format, buffer)?;
        save_atomic(path, &bytes).map_err(|e| format!("{}: cannot save: {e}", path.display()))?;
        let watched = self.watcher.is_some();
        self.watcher = None; // Before the new one: one watch at a time.
        let mut note = None;
        if watched {
            match PatchWatcher::new(path) {
                Ok(w) => self.watcher = Some(w),
                Err(e) => {
                    note = Some(format!(
                        "{e}; the editor will not see changes on disk to {}",
                        path.display()
                    ))
                }
            }
        }
        self.path = path.to_path_buf();
        self.format = format;
        self.disk = bytes;
        self.clean = buffer.to_string();
        Ok(note)
    }

    /// The file's text as last read or written (a `.json` file's JSON, not the buffer).
    pub fn disk_text(&self) -> String {
        String::from_utf8_lossy(&self.disk).into_owned()
    }

    /// A change on disk since the last call that is not our own save (never blocks).
    pub fn poll(&mut self) -> Option<DiskChange> {
        if !self.watcher.as_ref().is_some_and(|w| w.changed()) {
            return None;
        }
        self.check_disk()
    }

    /// Reads the file and compares it with what we last read or wrote.
    pub fn check_disk(&mut self) -> Option<DiskChange> {
        let bytes = match read(&self.path) {
            Ok(b) => b,
            // Mid-rename or deleted: the next change event brings it back.
            Err(e) => return Some(DiskChange::Unreadable(e)),
        };
        if bytes == self.disk {
            return None;
        }
        let change = match buffer_of(&self.path, self.format, &bytes) {
            Ok(b) => DiskChange::Changed(b),
            Err(e) => DiskChange::Unreadable(e),
        };
        self.disk = bytes;
        Some(change)
    }

    /// Takes the buffer loaded from disk as the clean state.
    pub fn mark_clean(&mut self, buffer: &str) {
        self.clean = buffer.to_string();
    }
}
