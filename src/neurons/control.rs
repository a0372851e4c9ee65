//! Host-fed neurons: MIDI in (`midi_cc`, `midi_note`, `midi_clock`). Their outputs are scalars
//! computed on the host from the MIDI events the engine has taken up to this tick (`MidiState`,
//! passed to every kernel in `UpCtx::midi`); the GPU backend computes them with the same CPU
//! kernel and uploads the values as the dispatch's per-tick parameters (`PerTick::Host`), so
//! both backends agree exactly. Given the same stamped event stream, a run gives the same values.
//!
//! Channels: 0 = any channel (omni: the last event from any channel), 1–16 the channels.

use super::table::{Gpu, Grid, Kinds, PerTick, PortKind::*, TypeInfo, UpCtx};
use super::{NeuronDef, SpecError};
use std::collections::VecDeque;

pub static TYPES: &[TypeInfo] = &[
    TypeInfo {
        name: "midi_cc",
        inputs: &[],
        outputs: &[("out", Scalar)],
        kinds: Kinds::None,
        settings: &["channel", "controller"],
        doc: "A MIDI control change, 0–1 (0 until it moves). `controller` 0–127; `channel` 1–16, or 0 (default) for any.",
        example: r#"{"channel": 1, "controller": 74}"#,
        cpu: Some(midi_cc),
        start: None,
        gpu: HOST,
    },
    TypeInfo {
        name: "midi_note",
        inputs: &[],
        outputs: &[("pitch", Scalar), ("velocity", Scalar), ("gate", Scalar)],
        kinds: Kinds::None,
        settings: &["channel", "bend"],
        doc: "The sounding MIDI note (last-note priority): pitch in Hz with the pitch bend applied (±`bend` semitones, default 2; held after release, 0 before any note), velocity 0–1, gate 0/1. `channel` 1–16 or 0 (default) for any.",
        example: r#"{"channel": 0, "bend": 2}"#,
        cpu: Some(midi_note),
        start: None,
        gpu: HOST,
    },
    TypeInfo {
        name: "midi_clock",
        inputs: &[],
        outputs: &[("bpm", Scalar), ("phase", Scalar), ("running", Scalar)],
        kinds: Kinds::None,
        settings: &[],
        doc: "MIDI clock (24 per beat): tempo in BPM over the last beat (120 until measured; held when the clock stops), beat phase in [0,1) counted from start/continue, running 0/1 (start/continue/stop).",
        example: "{}",
        cpu: Some(midi_clock),
        start: None,
        gpu: HOST,
    },
];

/// Host-computed scalars: the `host` kernel writes up to three values passed per tick.
const HOST: Gpu = Gpu::run("host", Grid::Single)
    .per_tick(PerTick::Host)
    .tolerance(0.0);

/// The settings of a host-fed neuron, checked at load.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct MidiParams {
    /// 0 = any channel, 1–16.
    pub channel: u8,
    pub controller: u8,
    /// Pitch-bend range, semitones each way.
    pub bend: f32,
}

impl Default for MidiParams {
    fn default() -> Self {
        MidiParams {
            channel: 0,
            controller: 0,
            bend: DEFAULT_BEND_SEMITONES,
        }
    }
}

/// Pitch-bend range (semitones each way) when a `midi_note` does not say.
pub const DEFAULT_BEND_SEMITONES: f32 = 2.0;

fn int_setting(
    def: &super::NeuronSpec,
    key: &str,
    max: u64,
    what: &str,
) -> Result<Option<u8>, SpecError> {
    match def.settings.get(key) {
        None => Ok(None),
        Some(v) => match v.as_u64() {
            Some(n) if n <= max => Ok(Some(n as u8)),
            _ => Err(SpecError {
                field: key.into(),
                msg: format!("expected {what} 0..={max}, found {v}"),
            }),
        },
    }
}

/// Reads and checks the MIDI settings of a `midi_*` neuron (None for other types).
pub fn params(ty: &str, spec: &super::NeuronSpec) -> Result<Option<MidiParams>, SpecError> {
    if !ty.starts_with("midi_") {
        return Ok(None);
    }
    let mut p = MidiParams {
        channel: int_setting(spec, "channel", 16, "a MIDI channel (0: any)")?.unwrap_or(0),
        ..MidiParams::default()
    };
    if ty == "midi_cc" {
        p.controller = int_setting(spec, "controller", 127, "a MIDI controller number")?
            .ok_or_else(|| SpecError {
                field: "controller".into(),
                msg: "a midi_cc needs \"controller\": a controller number 0..=127".into(),
            })?;
    }
    if let Some(v) = spec.settings.get("bend") {
        match v.as_f64() {
            Some(b) if (0.0..=48.0).contains(&b) => p.bend = b as f32,
            _ => {
                return Err(SpecError {
                    field: "bend".into(),
                    msg: format!("expected a pitch-bend range in semitones, 0..=48, found {v}"),
                });
            }
        }
    }
    Ok(Some(p))
}

fn midi_cc(def: &NeuronDef, _: &[Vec<f32>], outs: &mut [Vec<f32>], ctx: &UpCtx) {
    let p = def.params.midi.unwrap_or_default();
    outs[0][0] = ctx.midi.cc(p.channel, p.controller);
}

fn midi_note(def: &NeuronDef, _: &[Vec<f32>], outs: &mut [Vec<f32>], ctx: &UpCtx) {
    let p = def.params.midi.unwrap_or_default();
    let (pitch, vel, gate) = ctx.midi.note(p.channel, p.bend);
    outs[0][0] = pitch;
    outs[1][0] = vel;
    outs[2][0] = gate;
}

fn midi_clock(_: &NeuronDef, _: &[Vec<f32>], outs: &mut [Vec<f32>], ctx: &UpCtx) {
    let (bpm, phase, running) = ctx.midi.clock();
    outs[0][0] = bpm;
    outs[1][0] = phase;
    outs[2][0] = if running { 1.0 } else { 0.0 };
}

/// One decoded MIDI event. Channels are 1–16.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MidiEvent {
    Cc {
        channel: u8,
        controller: u8,
        value: u8,
    },
    NoteOn {
        channel: u8,
        note: u8,
        velocity: u8,
    },
    NoteOff {
        channel: u8,
        note: u8,
    },
    /// -8192..=8191, 0 at rest.
    PitchBend {
        channel: u8,
        value: i16,
    },
    Clock,
    Start,
    Continue,
    Stop,
}

/// An event as it reaches the engine: when it was received (microseconds since the input
/// started; only differences count) and what it was.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MidiIn {
    pub time_us: u64,
    pub event: MidiEvent,
}

/// Slots: 0 = any channel, 1..=16 the channels.
pub const SLOTS: usize = 17;
/// MIDI clock ticks per beat.
pub const PPQN: u64 = 24;
/// A gap between clock ticks longer than this means the clock stopped (the tempo holds).
pub const CLOCK_GAP_US: u64 = 500_000;

/// Every value MIDI has set, as a pure function of the events applied in order (no clocks,
/// no threads): what the `midi_*` kernels read.
#[derive(Clone, Debug)]
pub struct MidiState {
    /// Per slot, per controller: 0–127.
    cc: Vec<u8>,
    /// Held notes per slot, oldest first (last-note priority): (note, velocity).
    held: Vec<Vec<(u8, u8)>>,
    /// The last note to sound per slot (held after release), and its velocity.
    last: Vec<Option<(u8, u8)>>,
    /// Bend per slot, -8192..=8191.
    bend: Vec<i16>,
    bpm: f32,
    /// Clock ticks since start (counted while running).
    clocks: u64,
    running: bool,
    /// Times (µs) of the last beat's clock ticks.
    ticks: VecDeque<u64>,
}

impl Default for MidiState {
    fn default() -> Self {
        MidiState {
            cc: vec![0; SLOTS * 128],
            held: vec![Vec::new(); SLOTS],
            last: vec![None; SLOTS],
            bend: vec![0; SLOTS],
            bpm: 120.0,
            clocks: 0,
            running: false,
            ticks: VecDeque::new(),
        }
    }
}

fn slot(channel: u8) -> usize {
    (channel as usize).min(SLOTS - 1)
}

impl MidiState {
    /// Takes one event received at `time_us`.
    pub fn apply(&mut self, time_us: u64, ev: MidiEvent) {
        match ev {
            MidiEvent::Cc {
                channel,
                controller,
                value,
            } => {
                for s in [0, slot(channel)] {
                    self.cc[s * 128 + (controller & 0x7F) as usize] = value & 0x7F;
                }
            }
            MidiEvent::NoteOn {
                channel,
                note,
                velocity,
            } => {
                for s in [0, slot(channel)] {
                    self.held[s].retain(|(n, _)| *n != note);
                    self.held[s].push((note & 0x7F, velocity & 0x7F));
                    self.last[s] = self.held[s].last().copied();
                }
            }
            MidiEvent::NoteOff { channel, note } => {
                for s in [0, slot(channel)] {
                    self.held[s].retain(|(n, _)| *n != note);
                    if let Some(&top) = self.held[s].last() {
                        self.last[s] = Some(top);
                    }
                }
            }
            MidiEvent::PitchBend { channel, value } => {
                for s in [0, slot(channel)] {
                    self.bend[s] = value.clamp(-8192, 8191);
                }
            }
            MidiEvent::Clock => self.clock_tick(time_us),
            MidiEvent::Start => {
                self.clocks = 0;
                self.running = true;
            }
            MidiEvent::Continue => self.running = true,
            MidiEvent::Stop => self.running = false,
        }
    }

    fn clock_tick(&mut self, t: u64) {
        if self.running {
            self.clocks += 1;
        }
        if self
            .ticks
            .back()
            .is_some_and(|&last| t < last || t - last > CLOCK_GAP_US)
        {
            self.ticks.clear();
        }
        self.ticks.push_back(t);
        if self.ticks.len() > PPQN as usize + 1 {
            self.ticks.pop_front();
        }
        if let (Some(&a), Some(&b)) = (self.ticks.front(), self.ticks.back()) {
            let n = self.ticks.len() as u64 - 1;
            if n >= 2 && b > a {
                let per_tick_us = (b - a) as f64 / n as f64;
                let bpm = 60e6 / (per_tick_us * PPQN as f64);
                if bpm.is_finite() && (1.0..=1000.0).contains(&bpm) {
                    self.bpm = bpm as f32;
                }
            }
        }
    }

    /// Controller `controller` on `channel` (0: the last value from any channel), 0–1.
    pub fn cc(&self, channel: u8, controller: u8) -> f32 {
        self.cc_raw(channel, controller) as f32 / 127.0
    }

    /// The raw 0–127 value.
    pub fn cc_raw(&self, channel: u8, controller: u8) -> u8 {
        self.cc[slot(channel) * 128 + (controller & 0x7F) as usize]
    }

    /// (pitch in Hz with the bend applied over ±`bend_semitones`, velocity 0–1, gate 0|1) of the
    /// sounding note on `channel` (0: any); pitch and velocity hold the last note after release
    /// (0 before any note).
    pub fn note(&self, channel: u8, bend_semitones: f32) -> (f32, f32, f32) {
        let s = slot(channel);
        let Some((note, vel)) = self.last[s] else {
            return (0.0, 0.0, 0.0);
        };
        let semis = note as f32 - 69.0 + self.bend[s] as f32 / 8192.0 * bend_semitones;
        let pitch = 440.0 * (semis / 12.0).exp2();
        let gate = if self.held[s].is_empty() { 0.0 } else { 1.0 };
        (pitch, vel as f32 / 127.0, gate)
    }

    /// The last note on `channel` (held after release), its velocity 0–127, and whether a note
    /// is held.
    pub fn held_note(&self, channel: u8) -> (Option<u8>, u8, bool) {
        let s = slot(channel);
        match self.last[s] {
            Some((n, v)) => (Some(n), v, !self.held[s].is_empty()),
            None => (None, 0, false),
        }
    }

    /// The pitch bend on `channel`, -8192..=8191.
    pub fn bend(&self, channel: u8) -> i16 {
        self.bend[slot(channel)]
    }

    /// (tempo in BPM, beat phase in [0,1), running).
    pub fn clock(&self) -> (f32, f32, bool) {
        let phase = (self.clocks % PPQN) as f32 / PPQN as f32;
        (self.bpm, phase, self.running)
    }

    /// Clock ticks counted since start.
    pub fn clocks(&self) -> u64 {
        self.clocks
    }
}
