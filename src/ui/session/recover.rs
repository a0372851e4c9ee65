//! The crash-recovery offer: a recovery file from a run that did not exit cleanly is offered for
//! restoring in a small window; autosaving starts once the performer has chosen (so the offer is
//! not overwritten by the new run). The code buffer goes into every autosave and comes back with
//! the program; the history comes back with `Live::restore`.

use super::Session;
use crate::engine::machine::Level;
use crate::live::autosave::Recovered;
use serde_json::{Value as Json, json};

impl Session {
    /// Offers `r` (found at launch) until the performer restores or discards it.
    pub fn offer_recovery(&mut self, r: Recovered) {
        self.st.push_log(
            Level::Notice,
            format!(
                "found {} from a run that did not exit cleanly (tick {}): restore it?",
                self.live.recovery_path().display(),
                r.tick
            ),
        );
        self.recovery = Some(r);
    }

    /// Whether a recovery is on offer.
    pub fn recovery_offered(&self) -> bool {
        self.recovery.is_some()
    }

    /// Restores the offered program (true) or discards it (false); autosaving starts.
    pub fn answer_recovery(&mut self, restore: bool) {
        let Some(r) = self.recovery.take() else {
            return;
        };
        if restore {
            match self.live.restore(&r) {
                Ok(line) => {
                    self.st.push_log(Level::Notice, line);
                    self.last_tick = None;
                    self.restore_code(&r);
                }
                Err(e) => {
                    for l in e.lines() {
                        self.st
                            .push_log(Level::Error, format!("restore failed: {l}"));
                    }
                }
            }
        } else {
            self.live.discard_recovery();
            self.st
                .push_log(Level::Notice, "discarded the recovery file");
        }
        self.live.set_autosave(true);
    }

    /// Hands the code buffer to the next autosaves when it changed.
    pub(super) fn code_to_recovery(&mut self) {
        if self.recovery_code.as_deref() == Some(self.code.text.as_str()) {
            return;
        }
        self.recovery_code = Some(self.code.text.clone());
        self.live
            .set_recovery_extra("code", json!({ "text": self.code.text }));
    }

    /// Puts the code buffer of the recovered run back into the code pane (unsaved).
    fn restore_code(&mut self, r: &Recovered) {
        let text = r
            .extra
            .get("code")
            .and_then(|c| c.get("text"))
            .and_then(Json::as_str);
        if let Some(text) = text
            && text != self.code.text
        {
            self.code.text = text.to_string();
            self.code.errors.clear();
            self.st.push_log(
                Level::Notice,
                "the code pane shows the buffer as it was (not saved: Ctrl+S saves it)",
            );
        }
    }

    /// The offer's window.
    pub(super) fn recovery_ui(&mut self, ctx: &egui::Context) {
        let Some(r) = &self.recovery else {
            return;
        };
        let mut answer = None;
        let age = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs().saturating_sub(r.saved_at))
            .unwrap_or(0);
        egui::Window::new("Restore after a crash?")
            .collapsible(false)
            .resizable(false)
            .show(ctx, |ui| {
                ui.label(format!(
                    "The last run on this patch did not exit cleanly. {} holds its program as it \
                     ran {age} s ago (tick {}, {} neurons).",
                    self.live.recovery_path().display(),
                    r.tick,
                    r.program.neurons.len()
                ));
                ui.horizontal(|ui| {
                    if ui.button("Restore").clicked() {
                        answer = Some(true);
                    }
                    if ui.button("Discard").clicked() {
                        answer = Some(false);
                    }
                });
            });
        if let Some(a) = answer {
            self.answer_recovery(a);
        }
    }
}
