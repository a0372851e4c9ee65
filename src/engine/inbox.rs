//! Requests waiting for the `edits` neuron, each with the id its outcome is reported under.

use super::edits::Edit;

#[derive(Default)]
pub(super) struct Inbox {
    waiting: Vec<(u64, Edit)>,
    /// The last id handed out.
    last_id: u64,
}

impl Inbox {
    /// Queues `edit`; returns its id (1, 2, …).
    pub(super) fn push(&mut self, edit: Edit) -> u64 {
        self.last_id += 1;
        self.waiting.push((self.last_id, edit));
        self.last_id
    }

    /// Every waiting request, in arrival order; the inbox is left empty.
    pub(super) fn take(&mut self) -> Vec<(u64, Edit)> {
        std::mem::take(&mut self.waiting)
    }
}
