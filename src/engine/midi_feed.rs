//! The machine's MIDI input: events waiting for their tick, and what MIDI has set so far.

use crate::neurons::control::{MidiIn, MidiState};
use std::sync::Arc;

/// MIDI events waiting for their tick beyond this many are dropped (and counted): a flood or a
/// replay stamped far ahead must not grow the queue without bound.
pub const MAX_MIDI_WAITING: usize = 1 << 16;

#[derive(Default)]
pub(super) struct MidiFeed {
    /// What MIDI has set (read by the `midi_*` neurons); shared with the tick's context
    /// without a copy.
    pub(super) state: Arc<MidiState>,
    /// MIDI events with the tick they are for, in arrival order.
    waiting: Vec<(u64, MidiIn)>,
    /// MIDI events dropped because too many were waiting.
    dropped: u64,
}

impl MidiFeed {
    /// Queues an event for tick `tick`; dropped (and counted) when too many are waiting.
    pub(super) fn push(&mut self, tick: u64, ev: MidiIn) {
        if self.waiting.len() >= MAX_MIDI_WAITING {
            self.dropped += 1;
            return;
        }
        self.waiting.push((tick, ev));
    }

    /// Events dropped so far because too many were waiting.
    pub(super) fn dropped(&self) -> u64 {
        self.dropped
    }

    /// Applies the events due at `tick` (and any whose tick has passed), in arrival order.
    pub(super) fn take_due(&mut self, tick: u64) {
        if self.waiting.is_empty() {
            return;
        }
        let state = Arc::make_mut(&mut self.state);
        self.waiting.retain(|(t, ev)| {
            if *t <= tick {
                state.apply(ev.time_us, ev.event);
                false
            } else {
                true
            }
        });
    }
}
