//! The engine thread: owns the machine (and so the backend), runs ticks, takes edit requests from
//! a crossbeam channel and publishes outputs without ever waiting for a reader.

use super::edits::{Edit, EditOutcome};
use super::machine::{EngineError, Machine, Message};
use super::wmatrix::WMatrix;
use crate::backend::Frame;
use crossbeam_channel::{Receiver, Sender, TrySendError, bounded, unbounded};
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// How the engine thread paces its ticks.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Pace {
    /// As fast as it can (offline work).
    Free,
    /// `tick_rate` ticks per wall-clock second (no audio device).
    WallClock,
}

/// The newest state of the engine, for the UI.
#[derive(Clone, Debug, Default)]
pub struct Snapshot {
    pub tick: u64,
    pub w: WMatrix,
    /// `neuron.port` → value, every scalar output.
    pub scalars: Vec<(String, f32)>,
    pub frames: Vec<Frame>,
    pub nonfinite: BTreeMap<String, u64>,
    /// Wall time of the last tick, seconds.
    pub tick_seconds: f64,
}

/// What the engine thread reports besides snapshots.
#[derive(Clone, Debug)]
pub enum Report {
    Message(Message),
    Outcome { id: u64, outcome: EditOutcome },
}

pub struct EngineHandle {
    edits: Sender<(u64, Edit)>,
    next_id: AtomicU64,
    latest: Arc<Mutex<Option<Arc<Snapshot>>>>,
    pub reports: Receiver<Report>,
    /// Stereo audio blocks `(left, right)`; dropped (and counted) when nobody keeps up.
    pub audio: Receiver<(Vec<f32>, Vec<f32>)>,
    pub dropped_audio: Arc<AtomicU64>,
    stop: Arc<AtomicBool>,
    join: Option<JoinHandle<Result<Machine, EngineError>>>,
}

impl EngineHandle {
    /// Sends an edit request; never blocks. Returns its id (see `Report::Outcome`).
    pub fn send(&self, edit: Edit) -> u64 {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed) + 1;
        // The receiver lives as long as the thread; after a stop the edit has nowhere to go.
        let _ = self.edits.send((id, edit));
        id
    }

    /// The newest snapshot, if one has been published.
    pub fn latest(&self) -> Option<Arc<Snapshot>> {
        self.latest.lock().ok().and_then(|g| g.clone())
    }

    /// Stops the thread and returns the machine (or the error that stopped it).
    pub fn stop(mut self) -> Result<Machine, EngineError> {
        self.stop.store(true, Ordering::Relaxed);
        match self.join.take().map(|j| j.join()) {
            Some(Ok(r)) => r,
            Some(Err(p)) => std::panic::resume_unwind(p),
            None => unreachable!("joined once"),
        }
    }
}

impl Drop for EngineHandle {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

/// Starts the engine thread. A frame is captured every `capture_every` ticks (0: never).
pub fn spawn(mut machine: Machine, pace: Pace, capture_every: u64) -> EngineHandle {
    let (edit_tx, edit_rx) = unbounded::<(u64, Edit)>();
    let (report_tx, report_rx) = unbounded();
    let (audio_tx, audio_rx) = bounded(64);
    let latest = Arc::new(Mutex::new(None));
    let stop = Arc::new(AtomicBool::new(false));
    let dropped = Arc::new(AtomicU64::new(0));
    let (latest2, stop2, dropped2) = (latest.clone(), stop.clone(), dropped.clone());
    let join = std::thread::Builder::new()
        .name("dmm-engine".into())
        .spawn(move || {
            let tick_dt = Duration::from_secs_f64(1.0 / machine.network().settings.tick_rate);
            let start = Instant::now();
            // Our own ids for the machine's submissions map back to the sender's ids.
            let mut ids: BTreeMap<u64, u64> = BTreeMap::new();
            while !stop2.load(Ordering::Relaxed) {
                for (id, edit) in edit_rx.try_iter() {
                    ids.insert(machine.submit(edit), id);
                }
                let t0 = Instant::now();
                let capture =
                    capture_every > 0 && machine.tick_count().is_multiple_of(capture_every);
                let out = machine.tick(capture)?;
                let tick_seconds = t0.elapsed().as_secs_f64();
                match audio_tx.try_send((out.left.clone(), out.right.clone())) {
                    Ok(()) | Err(TrySendError::Disconnected(_)) => {}
                    Err(TrySendError::Full(_)) => {
                        dropped2.fetch_add(1, Ordering::Relaxed);
                    }
                }
                for m in machine.take_messages() {
                    let _ = report_tx.send(Report::Message(m));
                }
                for (mid, outcome) in machine.take_outcomes() {
                    let id = ids.remove(&mid).unwrap_or(mid);
                    let _ = report_tx.send(Report::Outcome { id, outcome });
                }
                if capture || capture_every == 0 {
                    // Never wait for a reader: skip this publication if the lock is busy.
                    if let Ok(mut slot) = latest2.try_lock() {
                        let out = machine.outputs();
                        let frames = if capture {
                            out.frames.clone()
                        } else {
                            slot.as_ref()
                                .map(|s: &Arc<Snapshot>| s.frames.clone())
                                .unwrap_or_default()
                        };
                        *slot = Some(Arc::new(Snapshot {
                            tick: machine.tick_count(),
                            w: machine.w().clone(),
                            scalars: machine
                                .scalar_names()
                                .into_iter()
                                .zip(out.scalars.iter().copied())
                                .collect(),
                            frames,
                            nonfinite: machine.nonfinite_counts().clone(),
                            tick_seconds,
                        }));
                    }
                }
                if pace == Pace::WallClock {
                    let due = start + tick_dt.mul_f64(machine.tick_count() as f64);
                    let now = Instant::now();
                    if due > now {
                        std::thread::sleep(due - now);
                    }
                }
            }
            Ok(machine)
        })
        .expect("spawning the engine thread");
    EngineHandle {
        edits: edit_tx,
        next_id: AtomicU64::new(0),
        latest,
        reports: report_rx,
        audio: audio_rx,
        dropped_audio: dropped,
        stop,
        join: Some(join),
    }
}
