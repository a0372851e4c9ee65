//! What the machine tells the performer: messages (the panel's log, stderr in `render`), the
//! outcome of every request (each rejection reported exactly once, as a typed outcome), and the
//! NaN/Inf counts per neuron.

use super::edits::EditOutcome;
use super::staging::Rejection;
use std::collections::{BTreeMap, HashSet};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Level {
    Notice,
    Error,
}

/// Something the performer should read (the panel's log, stderr in `render`).
#[derive(Clone, Debug, PartialEq)]
pub struct Message {
    pub tick: u64,
    pub level: Level,
    pub text: String,
}

#[derive(Debug, Default)]
pub(crate) struct Log {
    messages: Vec<Message>,
    outcomes: Vec<(u64, EditOutcome)>,
    nonfinite: BTreeMap<String, u64>,
    /// Keys of problems already reported (reported once, however often they recur).
    reported: HashSet<String>,
}

impl Log {
    pub fn say(&mut self, tick: u64, level: Level, text: String) {
        self.messages.push(Message { tick, level, text });
    }

    /// Says `text` the first time `key` comes up, never again.
    pub fn say_once(
        &mut self,
        key: String,
        tick: u64,
        level: Level,
        text: impl FnOnce() -> String,
    ) {
        if self.reported.insert(key) {
            self.say(tick, level, text());
        }
    }

    pub fn applied(&mut self, id: u64, tick: u64) {
        self.outcomes.push((id, EditOutcome::Applied { tick }));
    }

    /// A rejected request is reported here only, as its outcome (not also as a message).
    pub fn rejected(&mut self, id: u64, tick: u64, errors: Vec<Rejection>) {
        self.outcomes
            .push((id, EditOutcome::Rejected { tick, errors }));
    }

    pub fn take_messages(&mut self) -> Vec<Message> {
        std::mem::take(&mut self.messages)
    }

    pub fn take_outcomes(&mut self) -> Vec<(u64, EditOutcome)> {
        std::mem::take(&mut self.outcomes)
    }

    pub fn nonfinite(&self) -> &BTreeMap<String, u64> {
        &self.nonfinite
    }

    /// Counts `n` NaN/Inf values replaced by 0 in `neuron`; the first time, says so.
    pub fn count_nonfinite(&mut self, tick: u64, neuron: &str, n: u64) {
        if n == 0 {
            return;
        }
        let e = self.nonfinite.entry(neuron.to_string()).or_insert(0);
        let fresh = *e == 0;
        *e = e.saturating_add(n);
        if fresh {
            self.say(
                tick,
                Level::Error,
                format!("{neuron} produced NaN/Inf; replaced by 0 (counted in the meters)"),
            );
        }
    }

    /// A removed neuron's counts go with it.
    pub fn forget(&mut self, neuron: &str) {
        self.nonfinite.remove(neuron);
    }
}
