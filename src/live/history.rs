//! History, undo and redo. Every performer action (`Live::perform`, a hot reload, opening a
//! patch, recalling a scene) is one entry: a time, a one-line description and the part of the
//! program it changed, before and after. Undo sends the requests that take that part back to its
//! `before` through Self (a weight returns to its old value, a removed neuron comes back with its
//! type, settings, `init` and connections, an added one goes); redo sends those to `after`. What
//! the network changes in itself is not undone: only the entries an action touched move.
//!
//! "Before" is the program the action met: the newest snapshot with every request still on its
//! way through Self (`Pending`) followed on top, so quick successive actions chain correctly.

use super::program::{Change, Program, Steps, batch, change};
use super::{Live, LiveError, LiveEvent};
use crate::engine::edits::{Edit, EditOutcome};
use crate::engine::machine::{EDIT_LATENCY_TICKS, Level, Message};
use std::time::{SystemTime, UNIX_EPOCH};

/// A request with no outcome after this many ticks is taken as lost (an engine restart) and no
/// longer followed on top of the snapshot.
const LOST_TICKS: u64 = 10_000;

/// The most entries kept; the oldest go first.
pub const MAX_HISTORY: usize = 1000;

#[derive(Clone, Debug)]
pub struct Entry {
    pub uid: u64,
    /// Wall-clock time, `HH:MM:SS` UTC.
    pub time: String,
    pub what: String,
    pub change: Change,
}

/// The entries and the head: entries before the head are done, those after it undone.
#[derive(Clone, Debug, Default)]
pub struct History {
    entries: Vec<Entry>,
    head: usize,
    next_uid: u64,
}

impl History {
    pub fn entries(&self) -> &[Entry] {
        &self.entries
    }

    /// How many entries are done (the head sits after them).
    pub fn head(&self) -> usize {
        self.head
    }

    fn push(&mut self, what: String, change: Change) -> u64 {
        self.entries.truncate(self.head);
        self.next_uid += 1;
        self.entries.push(Entry {
            uid: self.next_uid,
            time: clock(),
            what,
            change,
        });
        if self.entries.len() > MAX_HISTORY {
            self.entries.remove(0);
        }
        self.head = self.entries.len();
        self.next_uid
    }

    fn position(&self, uid: u64) -> Option<usize> {
        self.entries.iter().position(|e| e.uid == uid)
    }

    pub fn clear(&mut self) {
        self.entries.clear();
        self.head = 0;
    }

    /// A history read back from a recovery file (`history_json`): fresh uids, `head` as given
    /// (the caller checked it is at most `entries.len()`).
    pub(super) fn restored(mut entries: Vec<Entry>, head: usize) -> History {
        for (i, e) in entries.iter_mut().enumerate() {
            e.uid = i as u64 + 1;
        }
        History {
            head: head.min(entries.len()),
            next_uid: entries.len() as u64,
            entries,
        }
    }
}

fn clock() -> String {
    let s = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
        % 86_400;
    format!("{:02}:{:02}:{:02}", s / 3600, s / 60 % 60, s % 60)
}

/// What `Live` keeps for performing: the history, requests on their way, scenes, crossfader.
#[derive(Default)]
pub(super) struct Perform {
    pub history: History,
    pub pending: Vec<Pending>,
    pub scenes: super::scenes::Scenes,
    pub xfade: super::scenes::Crossfader,
}

/// Why a request was sent, to follow its outcome.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(super) enum Why {
    Do(u64),
    Undo(u64),
    Redo(u64),
    /// Not an entry (a crossfader move).
    Other,
}

/// A request on its way: until its outcome and a snapshot at `until` show it.
#[derive(Clone, Debug)]
pub(super) struct Pending {
    pub id: u64,
    /// The newest snapshot's tick when it was sent.
    pub sent: u64,
    pub edits: Vec<Edit>,
    pub until: Option<u64>,
    pub why: Why,
}

/// Ticks the longest morph among `edits` takes (they land at the end of it).
fn morph_ticks(edits: &[Edit], tick_rate: f64) -> u64 {
    fn longest(e: &Edit) -> f64 {
        match e {
            Edit::Add { morph, .. }
            | Edit::Set { morph, .. }
            | Edit::Delta { morph, .. }
            | Edit::RemoveNeuron { morph, .. } => *morph,
            Edit::Batch { edits } => edits.iter().map(longest).fold(0.0, f64::max),
            _ => 0.0,
        }
    }
    let m = edits.iter().map(longest).fold(0.0, f64::max);
    (m * tick_rate).ceil().clamp(0.0, 1e12) as u64
}

impl Live {
    /// The history (for the panel).
    pub fn history(&self) -> &History {
        &self.perf.history
    }

    /// The program as it is once every request sent so far has landed (see the module notes).
    pub fn program(&mut self) -> Result<Program, LiveError> {
        let snap = self.settled_snapshot()?;
        let now = snap.tick;
        self.perf.pending.retain(|p| match p.until {
            Some(until) => now < until,
            None => now < p.sent.saturating_add(LOST_TICKS),
        });
        let mut prog = Program::running(&snap.net, &snap.w);
        for p in &self.perf.pending {
            p.edits.iter().for_each(|e| prog.apply(e));
        }
        Ok(prog)
    }

    /// Waits (a little) until every request sent so far shows in the snapshot (morphs aside).
    /// (A catalogue change lands one tick after the weights `settle` waits for.)
    pub fn wait_landed(&mut self) {
        self.settle();
        let Some(until) = self.engine().latest().map(|s| s.tick + 2) else {
            return;
        };
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(2);
        while self.engine().latest().is_some_and(|s| s.tick < until)
            && std::time::Instant::now() < deadline
            && !self.engine().finished()
        {
            std::thread::sleep(std::time::Duration::from_millis(1));
        }
    }

    /// One performer action: records it (time, `what`, what it changes), writes one log line
    /// and sends `edit` through Self. Returns the request's id. A request the engine rejects
    /// leaves the history as it was.
    pub fn perform(&mut self, what: &str, edit: Edit) -> Result<u64, LiveError> {
        let before = self.program()?;
        let steps = Steps {
            now: vec![edit],
            later: Vec::new(),
        };
        self.record(what, &before, steps)
    }

    /// Like `perform`, for the next step of one gesture (a knob being dragged): when the newest
    /// entry is at the head and changed exactly the same weights (no neurons), this one joins it
    /// (its `before` stays, its `after` and description become this one's), so a drag is one
    /// entry and one undo.
    pub fn perform_continued(&mut self, what: &str, edit: Edit) -> Result<u64, LiveError> {
        let before = self.program()?;
        let mut after = before.clone();
        after.apply(&edit);
        let c = change(&before, &after);
        let h = &mut self.perf.history;
        let joins = h.head == h.entries.len()
            && h.entries.last().is_some_and(|e| {
                e.change.after.neurons.is_empty()
                    && c.after.neurons.is_empty()
                    && !c.after.weights.is_empty()
                    && e.change.after.weights.keys().eq(c.after.weights.keys())
            });
        let Some(last) = h.entries.last_mut().filter(|_| joins) else {
            return self.perform(what, edit);
        };
        last.change.after = c.after;
        last.what = what.to_string();
        last.time = clock();
        let why = Why::Do(last.uid);
        let steps = Steps {
            now: vec![edit],
            later: Vec::new(),
        };
        self.send_steps(steps, why)
    }

    /// Records `steps` as one entry from `before` and sends them (`later` once `now` landed).
    pub(super) fn record(
        &mut self,
        what: &str,
        before: &Program,
        steps: Steps,
    ) -> Result<u64, LiveError> {
        let mut after = before.clone();
        steps.all().iter().for_each(|e| after.apply(e));
        let c = change(before, &after);
        let why = if c.is_empty() {
            Why::Other
        } else {
            Why::Do(self.perf.history.push(what.to_string(), c))
        };
        self.log(what.to_string());
        self.send_steps(steps, why)
    }

    /// Records requests already sent (a hot reload's, `id` the first) as one entry.
    pub(super) fn record_sent(&mut self, what: &str, before: &Program, edits: Vec<Edit>, id: u64) {
        let mut after = before.clone();
        edits.iter().for_each(|e| after.apply(e));
        let c = change(before, &after);
        let why = if c.is_empty() {
            Why::Other
        } else {
            Why::Do(self.perf.history.push(what.to_string(), c))
        };
        let sent = self.engine().latest().map_or(0, |s| s.tick);
        self.perf.pending.push(Pending {
            id,
            sent,
            edits,
            until: None,
            why,
        });
    }

    /// After a restart nothing of the history applies any more; says so.
    pub(super) fn forget_history(&mut self) {
        self.perf.pending.clear();
        self.perf.xfade = Default::default();
        if !self.perf.history.entries.is_empty() {
            self.perf.history.clear();
            self.log("the engine restarted: the history starts again".into());
        }
    }

    /// Sends `steps` and follows them; a second step waits until the first has landed.
    pub(super) fn send_steps(&mut self, steps: Steps, why: Why) -> Result<u64, LiveError> {
        let mut first = 0;
        for (i, part) in [steps.now, steps.later].into_iter().enumerate() {
            let Some(req) = batch(&part) else { continue };
            if (i == 1 && first != 0) || self.removing_any(&part) {
                self.wait_landed();
            }
            let id = self.send(req);
            first = if first == 0 { id } else { first };
            let sent = self.engine().latest().map_or(0, |s| s.tick);
            self.perf.pending.push(Pending {
                id,
                sent,
                until: None,
                why,
                edits: part,
            });
        }
        Ok(first)
    }

    /// Whether `edits` add back a neuron that a request on its way still removes (the engine
    /// refuses that until the removal has landed).
    fn removing_any(&self, edits: &[Edit]) -> bool {
        fn names<'a>(e: &'a Edit, add: bool, out: &mut Vec<&'a str>) {
            match e {
                Edit::AddNeuron { name, .. } if add => out.push(name),
                Edit::RemoveNeuron { name, .. } if !add => out.push(name),
                Edit::Batch { edits } => edits.iter().for_each(|e| names(e, add, out)),
                _ => {}
            }
        }
        let mut added = Vec::new();
        edits.iter().for_each(|e| names(e, true, &mut added));
        if added.is_empty() {
            return false;
        }
        let mut removed = Vec::new();
        for p in &self.perf.pending {
            p.edits.iter().for_each(|e| names(e, false, &mut removed));
        }
        added.iter().any(|a| removed.contains(a))
    }

    /// Undoes the entry before the head. Nothing to undo is said, not an error.
    pub fn undo(&mut self) -> Result<(), LiveError> {
        let h = &self.perf.history;
        let Some(e) = h.head.checked_sub(1).map(|i| h.entries[i].clone()) else {
            self.log("nothing to undo".into());
            return Ok(());
        };
        self.perf.history.head -= 1;
        self.log(format!("undo: {}", e.what));
        self.send_steps(e.change.undo(), Why::Undo(e.uid))
            .map(|_| ())
    }

    /// Redoes the entry at the head.
    pub fn redo(&mut self) -> Result<(), LiveError> {
        let h = &self.perf.history;
        let Some(e) = h.entries.get(h.head).cloned() else {
            self.log("nothing to redo".into());
            return Ok(());
        };
        self.perf.history.head += 1;
        self.log(format!("redo: {}", e.what));
        self.send_steps(e.change.redo(), Why::Redo(e.uid))
            .map(|_| ())
    }

    /// Undoes or redoes until `head` entries are done (a click in the history list).
    pub fn go_to(&mut self, head: usize) -> Result<(), LiveError> {
        let head = head.min(self.perf.history.entries.len());
        while self.perf.history.head > head {
            self.undo()?;
        }
        while self.perf.history.head < head {
            self.redo()?;
        }
        Ok(())
    }

    /// Follows one outcome: when it lands, or what a rejection takes back.
    pub(super) fn history_outcome(&mut self, id: u64, outcome: &EditOutcome) {
        let Some(i) = self.perf.pending.iter().position(|p| p.id == id) else {
            return;
        };
        match outcome {
            EditOutcome::Applied { tick } => {
                let rate = self
                    .engine()
                    .latest()
                    .map_or(1.0, |s| s.net.settings.tick_rate);
                let p = &mut self.perf.pending[i];
                p.until = Some(tick + EDIT_LATENCY_TICKS + 1 + morph_ticks(&p.edits, rate));
            }
            EditOutcome::Rejected { .. } => {
                let p = self.perf.pending.remove(i);
                self.taken_back(p.why);
            }
        }
    }

    /// A rejected request: its entry (or the head's move) is taken back.
    fn taken_back(&mut self, why: Why) {
        let h = &mut self.perf.history;
        match why {
            Why::Do(uid) => {
                if let Some(i) = h.position(uid) {
                    h.entries.remove(i);
                    if i < h.head {
                        h.head -= 1;
                    }
                }
            }
            Why::Undo(uid) => {
                if h.position(uid) == Some(h.head) {
                    h.head += 1;
                }
            }
            Why::Redo(uid) => {
                if h.position(uid).map(|i| i + 1) == Some(h.head) {
                    h.head -= 1;
                }
            }
            Why::Other => {}
        }
    }

    /// One log line for the panel (a notice at the current tick).
    pub(super) fn log(&mut self, text: String) {
        let tick = self.engine().latest().map_or(0, |s| s.tick);
        self.queued.push(LiveEvent::Message(Message {
            tick,
            level: Level::Notice,
            text,
        }));
    }
}
