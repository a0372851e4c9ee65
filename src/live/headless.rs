//! The instrument with no window (`dmm-synth record`): plays a patch on the sound card or the
//! null sink, sends scripted edits when the engine reaches their tick, and records it all.

use super::record::{RecordOptions, RecordSummary};
use super::{Live, LiveError, LiveEvent, LiveOptions};
use crate::backend::Backend;
use crate::engine::edits::{EditOutcome, TimedEdit};
use std::collections::VecDeque;
use std::path::Path;
use std::time::Duration;

/// Plays `patch` for `seconds` of engine time (None: until the process is stopped), sending
/// `edits` as the engine reaches their ticks, recording into `record.dir`. Every event is
/// passed to `on_line` as one line.
pub fn play_and_record(
    patch: &Path,
    backend: Box<dyn Backend>,
    opts: LiveOptions,
    record: &RecordOptions,
    edits: Vec<TimedEdit>,
    seconds: Option<f64>,
    mut on_line: impl FnMut(&str),
) -> Result<RecordSummary, LiveError> {
    let mut live = Live::open_recording(patch, backend, opts, Some(record.clone()))?;
    // Autosave for crash recovery, unless a crash's recovery file waits to be restored.
    match super::autosave::read_recovery(patch) {
        Ok(None) => live.set_autosave(true),
        _ => on_line(&format!(
            "{} exists (a run that did not exit cleanly): autosave is off; open the patch in the window to restore or discard it",
            live.recovery_path().display()
        )),
    }
    if let Some(r) = live.recording.as_ref() {
        on_line(&format!(
            "recording into {} ({})",
            r.dir().display(),
            r.frames_note
        ));
    }
    let tick_rate = live.settled_snapshot()?.net.settings.tick_rate;
    let end = seconds.map(|s| (s * tick_rate).ceil().max(0.0) as u64);
    let mut pending: VecDeque<TimedEdit> = edits.into();
    loop {
        for ev in live.poll() {
            match ev {
                LiveEvent::Message(m) => on_line(&format!("tick {}: {}", m.tick, m.text)),
                LiveEvent::Outcome {
                    id,
                    outcome: o @ EditOutcome::Rejected { .. },
                } => on_line(&format!("edit {id} rejected: {}", o.reasons())),
                LiveEvent::FileErrors(errs) => errs.iter().for_each(|e| on_line(e)),
                LiveEvent::Reloaded { edits, morph } => on_line(&format!(
                    "reloaded the patch file: {edits} change(s) over {morph} s"
                )),
                LiveEvent::Outcome { .. } => {}
            }
        }
        let tick = live.engine().latest().map(|s| s.tick).unwrap_or(0);
        while pending.front().is_some_and(|e| e.tick <= tick) {
            if let Some(e) = pending.pop_front() {
                live.send(e.edit);
            }
        }
        if end.is_some_and(|e| tick >= e) || live.engine().finished() {
            break;
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    let summary = live.stop_recording();
    live.stop();
    match summary {
        Some(r) => Ok(r?),
        None => Err(LiveError::NoEngine(
            "the recording ended early (see the lines above)".into(),
        )),
    }
}
