//! Hot reload as a small state machine: the file's difference goes to Self as one batch
//! (`Flight::Sent`); once applied, the next batch (weights that had to wait for new neurons)
//! follows when a snapshot shows the first landed (`Flight::Landing`). A change on disk while a
//! batch is in flight waits for it.

use super::{
    Live, LiveError, LiveEvent, compatible, file_name, patch_with, read, settings_for_rate,
};
use crate::engine::edits::{Edit, EditOutcome};
use crate::engine::machine::{EDIT_LATENCY_TICKS, Level, Message};
use crate::neurons::AssetDirs;
use crate::patch::diff::{diff, diff_since, writes_own_w};
use crate::patch::{Patch, one_line};
use std::sync::atomic::Ordering;

/// A reload batch on its way through Self.
pub(super) enum Flight {
    /// Sent; waiting for its outcome. `later` follows once it has landed.
    Sent { id: u64, later: Option<Edit> },
    /// Applied at some tick; waiting for a snapshot that shows it (`until`).
    Landing { until: u64, later: Option<Edit> },
}

impl Live {
    /// Follows a reload batch's outcome. Returns true when it reported a rejection as the file's
    /// errors (then the outcome itself is not passed on: each error is reported once).
    pub(super) fn track(
        &mut self,
        id: u64,
        outcome: &EditOutcome,
        ev: &mut Vec<LiveEvent>,
    ) -> bool {
        self.history_outcome(id, outcome);
        let Some(Flight::Sent { id: fid, later }) = &mut self.reloading.flight else {
            return false;
        };
        if *fid != id {
            return false;
        }
        match outcome {
            EditOutcome::Applied { tick } => {
                self.reloading.flight = Some(Flight::Landing {
                    until: tick + EDIT_LATENCY_TICKS + 1,
                    later: later.take(),
                });
            }
            EditOutcome::Rejected { errors, .. } => {
                ev.push(LiveEvent::FileErrors(
                    errors
                        .iter()
                        .map(|e| {
                            let line = format!("{}: cannot apply: {e}", self.file.path.display());
                            one_line(&line).into_owned()
                        })
                        .collect(),
                ));
                self.reloading.flight = None;
                return true;
            }
        }
        false
    }

    pub(super) fn advance_flight(&mut self) {
        let now = self.engine().latest().map(|s| s.tick).unwrap_or(0);
        let Some(Flight::Landing { until, later }) = &mut self.reloading.flight else {
            return;
        };
        if now < *until {
            return;
        }
        let later = later.take();
        self.reloading.flight = later.map(|e| Flight::Sent {
            id: self.engine().send(e),
            later: None,
        });
    }

    /// Reads the file after a change on disk and applies it (or reports its errors).
    pub(super) fn reload(&mut self, ev: &mut Vec<LiveEvent>) {
        let text = match read(&self.file.path) {
            Ok(t) => t,
            // Mid-rename or deleted: the next change event brings it back.
            Err(e) => {
                ev.push(LiveEvent::FileErrors(e.lines()));
                return;
            }
        };
        if text == self.file.last_text {
            return; // Our own save, or a touch without a change.
        }
        let path = self.file.path.clone();
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
                self.file.last_text = text;
                let what = format!("reload {}", file_name(&path));
                match self.apply(&p, &what, ev) {
                    Ok(()) => {}
                    Err(e) => ev.push(LiveEvent::FileErrors(e.lines())),
                }
            }
        }
    }

    /// Makes the running network `p`: through Self when the settings allow, else by a restart.
    /// One history entry, `what`.
    pub(super) fn apply(
        &mut self,
        p: &Patch,
        what: &str,
        ev: &mut Vec<LiveEvent>,
    ) -> Result<(), LiveError> {
        let wanted = patch_with(
            p,
            &settings_for_rate(&p.settings, self.audio.sample_rate()),
            &self.file.path,
        )?;
        let morph = self.morph_for(p);
        let snap = self.settled_snapshot()?;
        if compatible(&snap.net.settings, &wanted.settings) {
            let running = Patch::from_running(&snap.net.settings, None, &snap.net, &snap.w);
            let mut d = if writes_own_w(&running) {
                diff_since(&self.file.base, &running, &wanted, morph)
            } else {
                diff(&running, &wanted, morph)
            };
            // A text row's own `~2s` overrides the global morph for that row.
            p.layout.apply_row_morphs(&mut d.now);
            let edits = d.len();
            let before = self.program()?;
            let mut id = None;
            if let Some(b) = d.batch_now() {
                id = Some(self.engine().send(b));
                self.reloading.flight = id.map(|id| Flight::Sent {
                    id,
                    later: d.batch_later(),
                });
            } else if let Some(b) = d.batch_later() {
                id = Some(self.engine().send(b));
                self.reloading.flight = id.map(|id| Flight::Sent { id, later: None });
            }
            if let Some(id) = id {
                self.record_sent(
                    what,
                    &before,
                    d.now.iter().chain(&d.later).cloned().collect(),
                    id,
                );
            }
            ev.push(LiveEvent::Reloaded { edits, morph });
        } else {
            self.restart(&wanted)?;
            self.forget_history();
            ev.push(LiveEvent::Message(Message {
                tick: 0,
                level: Level::Notice,
                text: format!(
                    "{}: settings changed (tick_rate {}, sample_rate {}, image_size {:?}, frame_rate {}): restarted the engine; every neuron starts from its init",
                    file_name(&self.file.path),
                    wanted.settings.tick_rate,
                    wanted.settings.sample_rate,
                    wanted.settings.image_size,
                    wanted.settings.frame_rate
                ),
            }));
        }
        self.file.comment = p.comment.clone();
        self.file.settings = p.settings.clone();
        self.file.base = p.clone();
        self.file.dirty.store(false, Ordering::Relaxed);
        self.no_program = false;
        // The new text's `map` lines replace the file's mappings in the running mappers.
        let tick = self.engine().latest().map_or(0, |s| s.tick);
        for c in &mut self.controls {
            if let Some(text) = c.patch_applied(p) {
                ev.push(LiveEvent::Message(Message {
                    tick,
                    level: Level::Notice,
                    text,
                }));
            }
        }
        Ok(())
    }
}
