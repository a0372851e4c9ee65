//! MIDI in: a pure parser of raw MIDI bytes, the values it keeps (lock-free, for readers on
//! other threads), and a thin `midir` shell that feeds it from every input port.
//!
//! - **Parser** (`MidiParser`): channel messages with running status, note on with velocity 0 as
//!   note off, pitch bend, real-time bytes anywhere (clock 0xF8, start 0xFA, continue 0xFB,
//!   stop 0xFC), system exclusive and system common messages skipped with their data.
//! - **State** (`MidiState`, in `neurons::control`): what the events set, a pure function of
//!   the events in order; the engine keeps one (the `midi_*` neurons read it), fed through a
//!   bounded lock-free channel (`feed`: `try_send` from the callback, drained by the engine
//!   thread before each tick, each event stamped with the tick that takes it).
//! - **Values** (`MidiValues`): plain atomics written by one MIDI thread and read by anyone
//!   (the panel, learn) without locks or waits: every CC per channel (0–1), the sounding
//!   note per channel with last-note priority (pitch in Hz with the bend applied, velocity 0–1,
//!   gate), and the clock (BPM from the last beat of ticks, holding the last tempo when the clock
//!   stops; beat phase in [0,1)). Channel index 0 is "any channel" (omni), 1–16 the channels.
//! - **Writer** (`MidiWriter`): parser plus a `MidiState`, owned by the MIDI callback;
//!   `feed(time_us, bytes)` is what the callback calls, and what the tests call.
//! - **Ports** (`MidiPorts`): polls the port list once a second and connects to every input port
//!   that appears and is chosen (hot-plug); a port that vanishes is dropped.
//! - **Choice** (`PortChoice`): the input ports seen so far, each on or off (the panel's
//!   checkboxes; default on, or only the ones `--midi-in NAME` names). Each port's writer holds
//!   its on/off flag (an atomic): bytes from a port turned off are ignored at once, and the poll
//!   closes its connection; turned on again, it is reconnected at the next poll. A port that
//!   vanishes and comes back keeps its choice.

use super::ControlError;
use crate::neurons::control::{DEFAULT_BEND_SEMITONES, PPQN, SLOTS};
pub use crate::neurons::control::{MidiEvent, MidiIn, MidiState};
use crossbeam_channel::{Receiver, Sender, TrySendError};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU8, AtomicU32, AtomicU64, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

/// Bytes → events, one byte at a time (a message may be split across callbacks).
#[derive(Debug, Default)]
pub struct MidiParser {
    /// The channel status in force (running status).
    status: Option<u8>,
    data: [u8; 2],
    len: usize,
    /// Data bytes still to skip (system common), or inside sysex.
    skip: usize,
    in_sysex: bool,
}

/// Data bytes a channel message takes.
fn data_len(status: u8) -> usize {
    match status & 0xF0 {
        0xC0 | 0xD0 => 1,
        _ => 2,
    }
}

impl MidiParser {
    pub fn feed(&mut self, byte: u8, out: &mut Vec<MidiEvent>) {
        match byte {
            // Real-time: anywhere, even inside other messages; running status untouched.
            0xF8 => out.push(MidiEvent::Clock),
            0xFA => out.push(MidiEvent::Start),
            0xFB => out.push(MidiEvent::Continue),
            0xFC => out.push(MidiEvent::Stop),
            0xF9..=0xFF => {}
            0xF0 => {
                self.in_sysex = true;
                self.status = None;
            }
            0xF1..=0xF7 => {
                self.in_sysex = false;
                self.status = None;
                self.len = 0;
                self.skip = match byte {
                    0xF1 | 0xF3 => 1,
                    0xF2 => 2,
                    _ => 0,
                };
            }
            0x80..=0xEF => {
                self.in_sysex = false;
                self.skip = 0;
                self.status = Some(byte);
                self.len = 0;
            }
            data => {
                if self.in_sysex {
                    return;
                }
                if self.skip > 0 {
                    self.skip -= 1;
                    return;
                }
                let Some(status) = self.status else {
                    return;
                };
                self.data[self.len] = data;
                self.len += 1;
                if self.len == data_len(status) {
                    self.len = 0;
                    out.extend(event(status, self.data));
                }
            }
        }
    }

    pub fn parse(&mut self, bytes: &[u8]) -> Vec<MidiEvent> {
        let mut out = Vec::new();
        for &b in bytes {
            self.feed(b, &mut out);
        }
        out
    }
}

fn event(status: u8, d: [u8; 2]) -> Option<MidiEvent> {
    let channel = (status & 0x0F) + 1;
    match status & 0xF0 {
        0x80 => Some(MidiEvent::NoteOff {
            channel,
            note: d[0],
        }),
        0x90 if d[1] == 0 => Some(MidiEvent::NoteOff {
            channel,
            note: d[0],
        }),
        0x90 => Some(MidiEvent::NoteOn {
            channel,
            note: d[0],
            velocity: d[1],
        }),
        0xB0 => Some(MidiEvent::Cc {
            channel,
            controller: d[0],
            value: d[1],
        }),
        0xE0 => Some(MidiEvent::PitchBend {
            channel,
            value: ((d[1] as i16) << 7 | d[0] as i16) - 8192,
        }),
        _ => None,
    }
}

/// Pitch bend range of the panel's values, semitones each way (a `midi_note` has its own).
pub const BEND_SEMITONES: f32 = DEFAULT_BEND_SEMITONES;
const NO_NOTE: u8 = 255;

/// The values MIDI has set, as atomics (one writer, any readers; never blocks): what the panel
/// and the learn mapper read. The engine keeps its own `MidiState` from the same events.
#[derive(Debug)]
pub struct MidiValues {
    cc: Vec<AtomicU8>,
    note: Vec<AtomicU8>,
    velocity: Vec<AtomicU8>,
    gate: Vec<AtomicBool>,
    /// Bend + 8192 (0..=16383).
    bend: Vec<AtomicU32>,
    /// Note-ons (velocity > 0) so far, per channel slot and note: what scene mappings watch.
    ons: Vec<AtomicU64>,
    /// Velocity of each note while held (0: released), per channel slot and note.
    held: Vec<AtomicU8>,
    bpm_bits: AtomicU32,
    clocks: AtomicU64,
    running: AtomicBool,
    /// Events taken so far (for the panel: is anything arriving?).
    pub events: AtomicU64,
    /// Events the engine's feed had no room for.
    pub dropped: AtomicU64,
}

impl Default for MidiValues {
    fn default() -> Self {
        let v = |n: usize, x: u8| (0..n).map(|_| AtomicU8::new(x)).collect();
        MidiValues {
            cc: v(SLOTS * 128, 0),
            note: v(SLOTS, NO_NOTE),
            velocity: v(SLOTS, 0),
            gate: (0..SLOTS).map(|_| AtomicBool::new(false)).collect(),
            bend: (0..SLOTS).map(|_| AtomicU32::new(8192)).collect(),
            ons: (0..SLOTS * 128).map(|_| AtomicU64::new(0)).collect(),
            held: v(SLOTS * 128, 0),
            bpm_bits: AtomicU32::new(120f32.to_bits()),
            clocks: AtomicU64::new(0),
            running: AtomicBool::new(false),
            events: AtomicU64::new(0),
            dropped: AtomicU64::new(0),
        }
    }
}

fn slot(channel: u8) -> usize {
    (channel as usize).min(16)
}

impl MidiValues {
    /// Controller `controller` on `channel` (0: the last value from any channel), 0–1.
    pub fn cc(&self, channel: u8, controller: u8) -> f32 {
        let i = slot(channel) * 128 + (controller & 0x7F) as usize;
        self.cc[i].load(Ordering::Relaxed) as f32 / 127.0
    }

    /// (pitch in Hz with the bend applied, velocity 0–1, gate 0|1) of the sounding note on
    /// `channel` (0: any); the pitch holds the last note after release (0 before any note).
    pub fn note(&self, channel: u8) -> (f32, f32, f32) {
        let s = slot(channel);
        let note = self.note[s].load(Ordering::Relaxed);
        let bend = self.bend[s].load(Ordering::Relaxed) as f32 - 8192.0;
        let pitch = if note == NO_NOTE {
            0.0
        } else {
            let semis = note as f32 - 69.0 + bend / 8192.0 * BEND_SEMITONES;
            440.0 * (semis / 12.0).exp2()
        };
        let vel = self.velocity[s].load(Ordering::Relaxed) as f32 / 127.0;
        let gate = if self.gate[s].load(Ordering::Relaxed) {
            1.0
        } else {
            0.0
        };
        (pitch, vel, gate)
    }

    /// How many times note `note` was struck on `channel` (0: any channel).
    pub fn note_ons(&self, channel: u8, note: u8) -> u64 {
        self.ons[slot(channel) * 128 + (note & 0x7F) as usize].load(Ordering::Relaxed)
    }

    /// Velocity 0–1 of note `note` on `channel` (0: any) while it is held; 0 once released.
    pub fn note_velocity(&self, channel: u8, note: u8) -> f32 {
        let i = slot(channel) * 128 + (note & 0x7F) as usize;
        self.held[i].load(Ordering::Relaxed) as f32 / 127.0
    }

    /// (tempo in BPM, beat phase in [0,1)); the tempo holds when the clock stops.
    pub fn clock(&self) -> (f32, f32) {
        let bpm = f32::from_bits(self.bpm_bits.load(Ordering::Relaxed));
        let c = self.clocks.load(Ordering::Relaxed);
        (bpm, (c % PPQN) as f32 / PPQN as f32)
    }

    /// Whether the clock is running (between start/continue and stop).
    pub fn clock_running(&self) -> bool {
        self.running.load(Ordering::Relaxed)
    }

    /// Copies what `ev` changed in `state` into the atomics.
    fn publish(&self, state: &MidiState, ev: MidiEvent) {
        let channel = match ev {
            MidiEvent::Cc {
                channel,
                controller,
                ..
            } => {
                for s in [0, slot(channel)] {
                    let v = state.cc_raw(s as u8, controller);
                    self.cc[s * 128 + (controller & 0x7F) as usize].store(v, Ordering::Relaxed);
                }
                return;
            }
            MidiEvent::NoteOn {
                channel,
                note,
                velocity,
            } => {
                for s in [0, slot(channel)] {
                    let i = s * 128 + (note & 0x7F) as usize;
                    if velocity > 0 {
                        self.ons[i].fetch_add(1, Ordering::Relaxed);
                    }
                    self.held[i].store(velocity, Ordering::Relaxed);
                }
                channel
            }
            MidiEvent::NoteOff { channel, note } => {
                for s in [0, slot(channel)] {
                    self.held[s * 128 + (note & 0x7F) as usize].store(0, Ordering::Relaxed);
                }
                channel
            }
            MidiEvent::PitchBend { channel, .. } => channel,
            MidiEvent::Clock | MidiEvent::Start | MidiEvent::Continue | MidiEvent::Stop => {
                let (bpm, _, running) = state.clock();
                self.bpm_bits.store(bpm.to_bits(), Ordering::Relaxed);
                self.clocks.store(state.clocks(), Ordering::Relaxed);
                self.running.store(running, Ordering::Relaxed);
                return;
            }
        };
        for s in [0, slot(channel)] {
            let (note, vel, gate) = state.held_note(s as u8);
            if let Some(n) = note {
                self.note[s].store(n, Ordering::Relaxed);
            }
            self.velocity[s].store(vel, Ordering::Relaxed);
            self.gate[s].store(gate, Ordering::Relaxed);
            let bend = state.bend(s as u8) as i32 + 8192;
            self.bend[s].store(bend as u32, Ordering::Relaxed);
        }
    }
}

/// The MIDI callback's side: parser and state; publishes to `MidiValues` and hands every event
/// to the engine's feed (a bounded lock-free channel: `try_send`, never a wait).
#[derive(Debug)]
pub struct MidiWriter {
    parser: MidiParser,
    state: MidiState,
    values: Arc<MidiValues>,
    feed: Option<Sender<MidiIn>>,
    events: Vec<MidiEvent>,
    /// The port's on/off flag (`PortChoice`): while off, its bytes are ignored.
    gate: Option<Arc<AtomicBool>>,
}

/// Room for events between two engine ticks (a tick takes all that waits).
pub const FEED_CAPACITY: usize = 4096;

/// A feed for `MidiWriter::with_feed` and `EngineHandle::attach_midi`.
pub fn feed() -> (Sender<MidiIn>, Receiver<MidiIn>) {
    crossbeam_channel::bounded(FEED_CAPACITY)
}

impl MidiWriter {
    pub fn new(values: Arc<MidiValues>) -> MidiWriter {
        MidiWriter {
            parser: MidiParser::default(),
            state: MidiState::default(),
            values,
            feed: None,
            events: Vec::with_capacity(16),
            gate: None,
        }
    }

    /// Ignores every byte while `on` is false (the port's checkbox in the panel).
    pub fn with_gate(mut self, on: Arc<AtomicBool>) -> MidiWriter {
        self.gate = Some(on);
        self
    }

    /// Also sends every event to `feed` (the engine's).
    pub fn with_feed(mut self, feed: Sender<MidiIn>) -> MidiWriter {
        self.feed = Some(feed);
        self
    }

    /// Takes raw bytes received at `time_us` (microseconds, any origin; only differences count).
    pub fn feed(&mut self, time_us: u64, bytes: &[u8]) {
        if self
            .gate
            .as_ref()
            .is_some_and(|g| !g.load(Ordering::Relaxed))
        {
            // Turned off: nothing of it counts, and no half message is kept for later.
            self.parser = MidiParser::default();
            return;
        }
        let mut events = std::mem::take(&mut self.events);
        events.clear();
        for &b in bytes {
            self.parser.feed(b, &mut events);
        }
        for &ev in &events {
            self.values.events.fetch_add(1, Ordering::Relaxed);
            self.state.apply(time_us, ev);
            self.values.publish(&self.state, ev);
            if let Some(tx) = &self.feed
                && let Err(TrySendError::Full(_)) = tx.try_send(MidiIn { time_us, event: ev })
            {
                self.values.dropped.fetch_add(1, Ordering::Relaxed);
            }
        }
        self.events = events;
    }
}

/// One input port as the panel lists it.
#[derive(Clone, Debug, PartialEq)]
pub struct PortView {
    pub name: String,
    /// Chosen: its events are taken.
    pub on: bool,
    /// Plugged in now (a port seen earlier may have gone).
    pub present: bool,
}

#[derive(Debug)]
struct SeenPort {
    name: String,
    on: Arc<AtomicBool>,
    present: bool,
}

/// The input ports seen so far and which of them are chosen. Shared (behind a mutex) by the
/// port poll and the panel; the MIDI callbacks only read each port's atomic flag.
#[derive(Debug, Default)]
pub struct PortChoice {
    ports: Vec<SeenPort>,
    /// `--midi-in` names: when any, only ports whose name contains one (any case) start on.
    only: Vec<String>,
}

/// The choice as the port poll and the panel share it.
pub type SharedChoice = Arc<std::sync::Mutex<PortChoice>>;

impl PortChoice {
    /// Every port on by default, or, when `only` names any, the ports whose name contains one
    /// of them (case-insensitive).
    pub fn new(only: Vec<String>) -> PortChoice {
        PortChoice {
            ports: Vec::new(),
            only: only.into_iter().map(|n| n.to_lowercase()).collect(),
        }
    }

    pub fn shared(self) -> SharedChoice {
        Arc::new(std::sync::Mutex::new(self))
    }

    fn default_on(&self, name: &str) -> bool {
        let lower = name.to_lowercase();
        self.only.is_empty() || self.only.iter().any(|o| lower.contains(o.as_str()))
    }

    /// Takes the port names present now: new ones are added (on or off by the default rule),
    /// known ones keep their choice. Returns the names seen for the first time.
    pub fn observe(&mut self, present: &[String]) -> Vec<String> {
        for p in &mut self.ports {
            p.present = present.contains(&p.name);
        }
        let mut new = Vec::new();
        for name in present {
            if self.ports.iter().any(|p| p.name == *name) {
                continue;
            }
            let on = self.default_on(name);
            self.ports.push(SeenPort {
                name: name.clone(),
                on: Arc::new(AtomicBool::new(on)),
                present: true,
            });
            new.push(name.clone());
        }
        new
    }

    /// The flag a port's writer watches (`MidiWriter::with_gate`); `None` for a port never seen.
    pub fn gate(&self, name: &str) -> Option<Arc<AtomicBool>> {
        self.ports
            .iter()
            .find(|p| p.name == name)
            .map(|p| p.on.clone())
    }

    pub fn is_on(&self, name: &str) -> bool {
        self.ports
            .iter()
            .any(|p| p.name == name && p.on.load(Ordering::Relaxed))
    }

    /// Turns a port on or off; false (nothing changes) for a port never seen.
    pub fn set(&mut self, name: &str, on: bool) -> bool {
        match self.ports.iter().find(|p| p.name == name) {
            Some(p) => {
                p.on.store(on, Ordering::Relaxed);
                true
            }
            None => false,
        }
    }

    /// Every port seen, in the order they appeared.
    pub fn list(&self) -> Vec<PortView> {
        self.ports
            .iter()
            .map(|p| PortView {
                name: p.name.clone(),
                on: p.on.load(Ordering::Relaxed),
                present: p.present,
            })
            .collect()
    }
}

/// Every chosen MIDI input port, connected as it appears (polled once a second).
pub struct MidiPorts {
    stop: Arc<AtomicBool>,
    join: Option<JoinHandle<()>>,
    /// Names of the ports connected now.
    pub connected: Arc<std::sync::Mutex<Vec<String>>>,
    /// The ports seen and which are chosen (the panel's checkboxes).
    pub choice: SharedChoice,
}

impl MidiPorts {
    /// Listens on every port `choice` has on, publishing to `values` and, when given, to the
    /// engine's `feed`.
    pub fn start(
        values: Arc<MidiValues>,
        feed: Option<Sender<MidiIn>>,
        choice: SharedChoice,
    ) -> Result<MidiPorts, ControlError> {
        let stop = Arc::new(AtomicBool::new(false));
        let connected = Arc::new(std::sync::Mutex::new(Vec::new()));
        let (stop2, conn2, choice2) = (stop.clone(), connected.clone(), choice.clone());
        let join = std::thread::Builder::new()
            .name("dmm-midi-ports".into())
            .spawn(move || poll_ports(values, feed, stop2, conn2, choice2))
            .map_err(|e| ControlError::Midi(e.to_string()))?;
        Ok(MidiPorts {
            stop,
            join: Some(join),
            connected,
            choice,
        })
    }
}

impl Drop for MidiPorts {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(j) = self.join.take() {
            let _ = j.join();
        }
    }
}

fn poll_ports(
    values: Arc<MidiValues>,
    feed: Option<Sender<MidiIn>>,
    stop: Arc<AtomicBool>,
    names: Arc<std::sync::Mutex<Vec<String>>>,
    choice: SharedChoice,
) {
    // alsa-lib would print a line each second on a machine without a sequencer.
    let _quiet = crate::audio::quiet::Quiet::new();
    let mut conns: Vec<(String, midir::MidiInputConnection<MidiWriter>)> = Vec::new();
    // One time origin for every port (midir's stamps start anew per connection), so that the
    // engine's clock sees one time line.
    let epoch = std::time::Instant::now();
    while !stop.load(Ordering::Relaxed) {
        if let Ok(probe) = midir::MidiInput::new("dmm-synth probe") {
            let ports: Vec<(String, midir::MidiInputPort)> = probe
                .ports()
                .into_iter()
                .filter_map(|p| probe.port_name(&p).ok().map(|n| (n, p)))
                .collect();
            let present: Vec<String> = ports.iter().map(|(n, _)| n.clone()).collect();
            let gates: Vec<Option<Arc<AtomicBool>>> = {
                let mut c = match choice.lock() {
                    Ok(g) => g,
                    Err(p) => p.into_inner(),
                };
                c.observe(&present);
                present.iter().map(|n| c.gate(n)).collect()
            };
            let on =
                |g: &Option<Arc<AtomicBool>>| g.as_ref().is_some_and(|g| g.load(Ordering::Relaxed));
            // Vanished ports and ports turned off go; new chosen ones are connected.
            conns.retain(|(n, _)| present.iter().zip(&gates).any(|(m, g)| m == n && on(g)));
            for ((name, port), gate) in ports.into_iter().zip(gates) {
                if !on(&gate) || conns.iter().any(|(n, _)| *n == name) {
                    continue;
                }
                let Ok(input) = midir::MidiInput::new("dmm-synth") else {
                    continue;
                };
                let mut writer = MidiWriter::new(values.clone());
                if let Some(f) = &feed {
                    writer = writer.with_feed(f.clone());
                }
                if let Some(g) = gate {
                    writer = writer.with_gate(g);
                }
                if let Ok(c) = input.connect(
                    &port,
                    "dmm-synth-in",
                    move |_, bytes, w: &mut MidiWriter| {
                        w.feed(epoch.elapsed().as_micros() as u64, bytes)
                    },
                    writer,
                ) {
                    conns.push((name, c));
                }
            }
            if let Ok(mut g) = names.lock() {
                *g = conns.iter().map(|(n, _)| n.clone()).collect();
            }
        }
        for _ in 0..10 {
            if stop.load(Ordering::Relaxed) {
                break;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}
