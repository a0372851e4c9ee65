//! The engine thread: owns the machine (and so the backend), runs ticks, takes edit requests from
//! a crossbeam channel and publishes outputs without ever waiting for a reader.
//!
//! Pacing (DESIGN §2): with a sound card the audio clock paces the engine (`Pace::Audio`: keep
//! the ring at its target fill, sleeping briefly while it is full); with none, the wall clock;
//! offline, as fast as it can.

use super::edits::{Edit, EditOutcome};
use super::machine::{EngineError, Machine, Message};
use super::meter::{TickLoad, TickMeter, TickTimer};
use super::tap::{ActiveScope, ActiveTap, ScopeTap, Tap};
use crate::audio::output::AudioFeed;
use crate::backend::{BackendError, Frame};
use crate::neurons::control::MidiIn;
use crate::neurons::network::Network;
use crate::stream::wmatrix::WMatrix;
use crossbeam_channel::{Receiver, Sender, TrySendError, bounded, unbounded};
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// With `Pace::Audio`: a device silent this long after it last called back counts as stalled.
pub const DEVICE_STALL: Duration = Duration::from_millis(500);

/// How the engine thread paces its ticks.
#[derive(Debug)]
pub enum Pace {
    /// As fast as it can (offline work).
    Free,
    /// `tick_rate` ticks per wall-clock second (no audio device).
    WallClock,
    /// Paced by the sound card: each block goes into the ring, which is kept at its target fill.
    Audio(AudioFeed),
}

impl Pace {
    pub fn name(&self) -> &'static str {
        match self {
            Pace::Free => "free",
            Pace::WallClock => "wall clock",
            Pace::Audio(_) => "audio clock",
        }
    }
}

/// The newest state of the engine, for the UI.
#[derive(Clone, Debug)]
pub struct Snapshot {
    pub tick: u64,
    pub w: WMatrix,
    /// The running catalogue (settings included).
    pub net: Arc<Network>,
    /// The backend's name.
    pub backend: String,
    /// `neuron.port` → value, every scalar output.
    pub scalars: Vec<(String, f32)>,
    pub frames: Vec<Frame>,
    pub nonfinite: BTreeMap<String, u64>,
    /// Wall time of the last tick, seconds.
    pub tick_seconds: f64,
    /// Tick costs over the last second (engine thread CPU clock and wall time).
    pub load: TickLoad,
}

/// One tick's scalar outputs, for a trace writer (`spawn_traced`).
#[derive(Clone, Debug)]
pub struct TraceRow {
    pub tick: u64,
    /// Shared while the catalogue stays the same.
    pub names: Arc<Vec<String>>,
    pub values: Vec<f32>,
}

/// What the engine thread reports besides snapshots.
#[derive(Clone, Debug)]
pub enum Report {
    Message(Message),
    Outcome { id: u64, outcome: EditOutcome },
}

type Joined = (Result<Machine, EngineError>, Pace);

/// A block's two buffers, (left, right).
type Stereo = (Vec<f32>, Vec<f32>);

/// Audio blocks the channel holds before the engine drops (and counts) new ones.
const AUDIO_BLOCKS: usize = 64;

/// One tick's stereo block on `EngineHandle::audio`. Dropping it hands its two buffers back to
/// the engine thread, which fills them again: a reader that keeps up costs no allocation per
/// tick.
pub struct AudioBlock {
    pub left: Vec<f32>,
    pub right: Vec<f32>,
    home: Sender<Stereo>,
}

impl Drop for AudioBlock {
    fn drop(&mut self) {
        let bufs = (
            std::mem::take(&mut self.left),
            std::mem::take(&mut self.right),
        );
        // A full pool or a stopped engine: the buffers are simply freed.
        let _ = self.home.try_send(bufs);
    }
}

pub struct EngineHandle {
    edits: Sender<(u64, Edit)>,
    next_id: AtomicU64,
    latest: Arc<Mutex<Option<Arc<Snapshot>>>>,
    pub reports: Receiver<Report>,
    /// Stereo audio blocks; dropped (and counted) when nobody keeps up.
    pub audio: Receiver<AudioBlock>,
    pub dropped_audio: Arc<AtomicU64>,
    /// Trace rows that did not fit the trace channel (0 when the reader keeps up).
    pub dropped_trace: Arc<AtomicU64>,
    pace_name: &'static str,
    /// Installs or removes the recording tap and the scope feed before the next tick.
    ctl: Sender<Control>,
    /// Hands the thread a MIDI event feed (see `attach_midi`).
    midi: Sender<Receiver<MidiIn>>,
    midi_attached: AtomicBool,
    stop: Arc<AtomicBool>,
    join: Option<JoinHandle<Joined>>,
}

impl EngineHandle {
    /// Sends an edit request; never blocks. Returns its id (see `Report::Outcome`).
    pub fn send(&self, edit: Edit) -> u64 {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed) + 1;
        // The receiver lives as long as the thread; after a stop the edit has nowhere to go.
        let _ = self.edits.send((id, edit));
        id
    }

    /// Installs a recording tap before the next tick (replacing any), or removes it (None).
    pub fn set_tap(&self, tap: Option<Tap>) {
        let _ = self.ctl.send(Control::Tap(tap));
    }

    /// Feeds the UI's scope from the next tick on (replacing any feed), or stops (None). When
    /// the thread ends, the ring's producer is dropped (`Consumer::is_abandoned`).
    pub fn set_scope(&self, scope: Option<ScopeTap>) {
        let _ = self.ctl.send(Control::Scope(scope));
    }

    /// Has the engine thread take MIDI events from `feed` at the start of every tick (each
    /// stamped with the tick that takes it). Once per engine: later calls do nothing, so a
    /// control source may call it on every poll (a restarted engine is a new handle).
    pub fn attach_midi(&self, feed: &Receiver<MidiIn>) {
        if !self.midi_attached.swap(true, Ordering::Relaxed) {
            let _ = self.midi.send(feed.clone());
        }
    }

    /// The newest snapshot, if one has been published.
    pub fn latest(&self) -> Option<Arc<Snapshot>> {
        self.latest.lock().ok().and_then(|g| g.clone())
    }

    /// "free", "wall clock" or "audio clock".
    pub fn pace(&self) -> &'static str {
        self.pace_name
    }

    /// Whether the thread has ended (stopped, or stopped by an error).
    pub fn finished(&self) -> bool {
        self.join.as_ref().is_none_or(|j| j.is_finished())
    }

    /// Stops the thread and returns the machine (or the error that stopped it).
    pub fn stop(self) -> Result<Machine, EngineError> {
        self.stop_parts().0
    }

    /// Stops the thread and returns the machine and the pace (which holds the audio feed).
    pub fn stop_parts(mut self) -> Joined {
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
pub fn spawn(machine: Machine, pace: Pace, capture_every: u64) -> EngineHandle {
    spawn_traced(machine, pace, capture_every, None)
}

/// Like `spawn`, also sending every tick's scalars to `trace` (never blocking: rows that do
/// not fit are counted in `dropped_trace`).
pub fn spawn_traced(
    machine: Machine,
    pace: Pace,
    capture_every: u64,
    trace: Option<Sender<TraceRow>>,
) -> EngineHandle {
    spawn_tapped(machine, pace, capture_every, trace, None)
}

/// Like `spawn_traced`, with a recording tap installed before the first tick.
pub fn spawn_tapped(
    machine: Machine,
    pace: Pace,
    capture_every: u64,
    trace: Option<Sender<TraceRow>>,
    tap: Option<Tap>,
) -> EngineHandle {
    let (edit_tx, edit_rx) = unbounded::<(u64, Edit)>();
    let (ctl_tx, ctl_rx) = unbounded::<Control>();
    let (midi_tx, midi_rx) = unbounded::<Receiver<MidiIn>>();
    if tap.is_some() {
        let _ = ctl_tx.send(Control::Tap(tap));
    }
    let (report_tx, report_rx) = unbounded();
    let (audio_tx, audio_rx) = bounded(AUDIO_BLOCKS);
    let latest = Arc::new(Mutex::new(None));
    let stop = Arc::new(AtomicBool::new(false));
    let dropped = Arc::new(AtomicU64::new(0));
    let dropped_trace = Arc::new(AtomicU64::new(0));
    let pace_name = pace.name();
    let (latest2, stop2, dropped2, dtrace2) = (
        latest.clone(),
        stop.clone(),
        dropped.clone(),
        dropped_trace.clone(),
    );
    let join = std::thread::Builder::new()
        .name("dmm-engine".into())
        .spawn(move || {
            let ctx = Loop {
                edit_rx,
                ctl_rx,
                midi_rx,
                report_tx,
                audio_tx,
                audio_pool: bounded(AUDIO_BLOCKS + 2),
                latest: latest2,
                stop: stop2,
                dropped: dropped2,
                dropped_trace: dtrace2,
                trace,
                capture_every,
            };
            run_guarded(ctx, machine, pace)
        })
        .expect("spawning the engine thread");
    EngineHandle {
        edits: edit_tx,
        next_id: AtomicU64::new(0),
        latest,
        reports: report_rx,
        audio: audio_rx,
        dropped_audio: dropped,
        dropped_trace,
        pace_name,
        ctl: ctl_tx,
        midi: midi_tx,
        midi_attached: AtomicBool::new(false),
        stop,
        join: Some(join),
    }
}

/// Runs the engine loop on this thread. A panic in a kernel must not take the performance down
/// with it: it becomes an engine error (the machine is dropped; `live` restarts from the last
/// snapshot).
fn run_guarded(ctx: Loop, mut machine: Machine, mut pace: Pace) -> Joined {
    let backend = machine.backend_name();
    let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        ctx.run(&mut machine, &mut pace)
    }));
    match r {
        Ok(r) => (r.map(|()| machine), pace),
        Err(p) => {
            let msg = p
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| p.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "unknown panic".into());
            let err = EngineError::Backend(BackendError::Failed {
                backend,
                msg: format!("the engine thread panicked: {msg}"),
            });
            (Err(err), pace)
        }
    }
}

/// What the engine thread is told besides edits.
enum Control {
    Tap(Option<Tap>),
    Scope(Option<ScopeTap>),
}

struct Loop {
    edit_rx: Receiver<(u64, Edit)>,
    ctl_rx: Receiver<Control>,
    midi_rx: Receiver<Receiver<MidiIn>>,
    report_tx: Sender<Report>,
    audio_tx: Sender<AudioBlock>,
    /// Buffers of audio blocks the reader has dropped, to be filled again.
    audio_pool: (Sender<Stereo>, Receiver<Stereo>),
    latest: Arc<Mutex<Option<Arc<Snapshot>>>>,
    stop: Arc<AtomicBool>,
    dropped: Arc<AtomicU64>,
    dropped_trace: Arc<AtomicU64>,
    trace: Option<Sender<TraceRow>>,
    capture_every: u64,
}

/// What the engine loop carries from tick to tick besides the machine.
struct LoopState {
    tick_dt: Duration,
    /// While the ring is full, sleep this long (a quarter block, within 0.2..2 ms) and look again.
    nap: Duration,
    /// The wall clock's origin: `start_tick` was due at `start`.
    start: Instant,
    start_tick: u64,
    backend: String,
    /// Our own ids for the machine's submissions map back to the sender's ids.
    ids: BTreeMap<u64, u64>,
    /// The trace's column names, and the catalogue they are for.
    names: Option<(Arc<Network>, Arc<Vec<String>>)>,
    /// The device's callback count when it last changed, and when.
    last_cb: u64,
    last_cb_at: Instant,
    tap: Option<ActiveTap>,
    scope: Option<ActiveScope>,
    meter: TickMeter,
    midi_feeds: Vec<Receiver<MidiIn>>,
}

impl LoopState {
    /// On the audio clock, whether the ring wants another block. A stream that is gone hands
    /// the pace to the wall clock from here; a device that has played and then stops calling
    /// back (unplugged, suspended) must not freeze the engine: it keeps wall-clock time (the
    /// blocks are dropped) until the device calls again.
    fn due(&mut self, machine: &Machine, pace: &mut Pace) -> Due {
        let Pace::Audio(feed) = pace else {
            return Due::Tick { stalled: false };
        };
        if feed.abandoned() {
            *pace = Pace::WallClock;
            self.start = Instant::now();
            self.start_tick = machine.tick_count();
            return Due::Tick { stalled: false };
        }
        if !feed.full_enough(machine.network().block_len()) {
            return Due::Tick { stalled: false };
        }
        let cb = feed.stats().callbacks();
        if cb != self.last_cb {
            (self.last_cb, self.last_cb_at) = (cb, Instant::now());
        }
        if cb == 0 || self.last_cb_at.elapsed() < DEVICE_STALL {
            Due::Wait
        } else {
            Due::Tick { stalled: true }
        }
    }
}

/// Whether to tick now.
enum Due {
    /// The ring is full enough: look again after a nap.
    Wait,
    /// Tick; `stalled`: the device stopped calling back, so keep wall-clock time after it.
    Tick { stalled: bool },
}

impl Loop {
    fn run(&self, machine: &mut Machine, pace: &mut Pace) -> Result<(), EngineError> {
        let tick_dt = Duration::from_secs_f64(1.0 / machine.network().settings.tick_rate);
        let mut st = LoopState {
            tick_dt,
            nap: tick_dt
                .div_f64(4.0)
                .clamp(Duration::from_micros(200), Duration::from_millis(2)),
            start: Instant::now(),
            start_tick: machine.tick_count(),
            backend: machine.backend_name(),
            ids: BTreeMap::new(),
            names: None,
            last_cb: 0,
            last_cb_at: Instant::now(),
            tap: None,
            scope: None,
            meter: TickMeter::default(),
            midi_feeds: Vec::new(),
        };
        while !self.stop.load(Ordering::Relaxed) {
            let Due::Tick { stalled } = st.due(machine, pace) else {
                std::thread::sleep(st.nap);
                continue;
            };
            let tick = machine.tick_count();
            self.take_inputs(&mut st, machine, tick);
            let timer = TickTimer::start();
            let capture = (self.capture_every > 0 && tick.is_multiple_of(self.capture_every))
                || st.tap.as_ref().is_some_and(|t| t.wants_frames(tick));
            let out = machine.tick(capture)?;
            let (cpu, tick_seconds) = timer.stop();
            st.meter.add(cpu, tick_seconds);
            if let Pace::Audio(feed) = pace {
                feed.push_block(&out.left, &out.right);
            }
            self.send_audio(machine);
            self.feed_taps(&mut st, machine, tick);
            self.send_reports(&mut st, machine);
            if capture || self.capture_every == 0 {
                self.publish(machine, capture, &st.backend, tick_seconds, st.meter.load());
            }
            if stalled {
                std::thread::sleep(st.tick_dt);
            }
            if matches!(pace, Pace::WallClock) {
                let done = machine.tick_count() - st.start_tick;
                let due = st.start + st.tick_dt.mul_f64(done as f64);
                let now = Instant::now();
                if due > now {
                    std::thread::sleep(due - now);
                }
            }
        }
        Ok(())
    }

    /// Control messages (tap, scope), MIDI events and edit requests that arrived since the
    /// last tick.
    fn take_inputs(&self, st: &mut LoopState, machine: &mut Machine, tick: u64) {
        for c in self.ctl_rx.try_iter() {
            match c {
                Control::Tap(t) => st.tap = t.and_then(|t| ActiveTap::start(t, machine)),
                Control::Scope(s) => st.scope = s.map(ActiveScope::new),
            }
        }
        st.midi_feeds.extend(self.midi_rx.try_iter());
        for feed in &st.midi_feeds {
            for ev in feed.try_iter() {
                // Stamped with the tick that takes it (the recording replays it there).
                if st.tap.as_ref().is_some_and(|tp| !tp.midi(tick, ev)) {
                    st.tap = None;
                }
                machine.midi_in(ev);
            }
        }
        for (id, edit) in self.edit_rx.try_iter() {
            if st.tap.as_ref().is_some_and(|t| !t.edit(tick, &edit)) {
                st.tap = None;
            }
            st.ids.insert(machine.submit(edit), id);
        }
    }

    /// The tick's audio block to whoever listens; a full channel (nobody reading) drops the
    /// block without copying it first, else the copy goes into buffers the reader handed back.
    fn send_audio(&self, machine: &Machine) {
        if self.audio_tx.is_full() {
            self.dropped.fetch_add(1, Ordering::Relaxed);
            return;
        }
        let out = machine.outputs();
        let (mut left, mut right) = self.audio_pool.1.try_recv().unwrap_or_default();
        left.clone_from(&out.left);
        right.clone_from(&out.right);
        let block = AudioBlock {
            left,
            right,
            home: self.audio_pool.0.clone(),
        };
        match self.audio_tx.try_send(block) {
            Ok(()) | Err(TrySendError::Disconnected(_)) => {}
            Err(TrySendError::Full(_)) => {
                self.dropped.fetch_add(1, Ordering::Relaxed);
            }
        }
    }

    /// The scope, the recording tap and the trace get the tick's outputs.
    fn feed_taps(&self, st: &mut LoopState, machine: &mut Machine, tick: u64) {
        if let Some(s) = &mut st.scope {
            s.feed(machine);
        }
        if let Some(t) = &st.tap
            && !t.outputs(tick, machine.outputs(), machine.network())
        {
            st.tap = None;
        }
        let Some(tx) = &self.trace else {
            return;
        };
        let net = machine.network();
        let fresh = match &st.names {
            Some((n, _)) => !Arc::ptr_eq(n, net),
            None => true,
        };
        if fresh {
            st.names = Some((net.clone(), Arc::new(machine.scalar_names())));
        }
        let row = TraceRow {
            tick,
            names: st
                .names
                .as_ref()
                .map(|(_, n)| n.clone())
                .unwrap_or_default(),
            values: machine.outputs().scalars.clone(),
        };
        if let Err(TrySendError::Full(_)) = tx.try_send(row) {
            self.dropped_trace.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// The tick's messages and request outcomes (under the sender's ids), once each.
    fn send_reports(&self, st: &mut LoopState, machine: &mut Machine) {
        for m in machine.take_messages() {
            let _ = self.report_tx.send(Report::Message(m));
        }
        for (mid, outcome) in machine.take_outcomes() {
            let id = st.ids.remove(&mid).unwrap_or(mid);
            let _ = self.report_tx.send(Report::Outcome { id, outcome });
        }
    }

    fn publish(
        &self,
        machine: &Machine,
        capture: bool,
        backend: &str,
        tick_seconds: f64,
        load: TickLoad,
    ) {
        // Never wait for a reader: skip this publication if the lock is busy.
        let Ok(mut slot) = self.latest.try_lock() else {
            return;
        };
        // No reader holds the last snapshot: update it in place (no allocation in steady state).
        if let Some(snap) = slot.as_mut().and_then(Arc::get_mut)
            && snap.update(machine, capture, backend, tick_seconds, load)
        {
            return;
        }
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
            net: machine.network().clone(),
            backend: backend.to_string(),
            scalars: machine
                .scalar_names()
                .into_iter()
                .zip(out.scalars.iter().copied())
                .collect(),
            frames,
            nonfinite: machine.nonfinite_counts().clone(),
            tick_seconds,
            load,
        }));
    }
}

impl Snapshot {
    /// Brings the snapshot up to date in place when only values changed (same catalogue, same
    /// frame shapes); copies W and the NaN/Inf counts only when they differ. Returns false
    /// (leaving it to be replaced) otherwise.
    fn update(
        &mut self,
        machine: &Machine,
        capture: bool,
        backend: &str,
        tick_seconds: f64,
        load: TickLoad,
    ) -> bool {
        let out = machine.outputs();
        let same_frames = !capture
            || (self.frames.len() == out.frames.len()
                && self.frames.iter().zip(&out.frames).all(|(a, b)| {
                    (a.neuron, a.rows, a.cols, a.rgba.len())
                        == (b.neuron, b.rows, b.cols, b.rgba.len())
                }));
        if !Arc::ptr_eq(&self.net, machine.network())
            || self.backend != backend
            || self.scalars.len() != out.scalars.len()
            || !same_frames
        {
            return false;
        }
        if capture {
            for (a, b) in self.frames.iter_mut().zip(&out.frames) {
                a.rgba.copy_from_slice(&b.rgba);
            }
        }
        for ((_, v), &x) in self.scalars.iter_mut().zip(&out.scalars) {
            *v = x;
        }
        if self.w != *machine.w() {
            self.w.clone_from(machine.w());
        }
        if self.nonfinite != *machine.nonfinite_counts() {
            self.nonfinite.clone_from(machine.nonfinite_counts());
        }
        self.tick = machine.tick_count();
        self.tick_seconds = tick_seconds;
        self.load = load;
        true
    }
}
