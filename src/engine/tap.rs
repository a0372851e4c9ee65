//! A tap on the engine thread for recording: the network and W at the tick it starts, every edit
//! request with the tick at which the engine took it, every audio block and the display frames
//! at a chosen rate. Everything goes over an unbounded channel (the engine never waits; the
//! recorder's writer keeps up with a few hundred blocks a second easily).
//!
//! The engine takes the requests queued for tick `t` just before running tick `t`, and `render`
//! submits the `--edits` lines with `tick <= t` just before running tick `t`: so a request
//! logged here with the tick counted from the tap's start replays on the same tick.
//!
//! The UI's scope has its own lighter feed (`ScopeTap`): one signal's samples into a lock-free
//! ring (rtrb) that the window drains every frame.

use super::edits::Edit;
use super::machine::Machine;
use crate::backend::{Frame, TickOutputs};
use crate::neurons::network::Network;
use crate::stream::PortRef;
use crate::stream::wmatrix::WMatrix;
use crossbeam_channel::Sender;
use std::sync::Arc;

/// What a tap sends, in the order the engine did it.
#[derive(Clone, Debug)]
pub enum TapItem {
    /// The running program when the tap was installed, before tick `tick` ran.
    Start {
        tick: u64,
        net: Arc<Network>,
        w: WMatrix,
        seed: u64,
        backend: String,
    },
    /// A request the engine took just before running `tick`.
    Edit { tick: u64, edit: Edit },
    /// A MIDI event the engine took just before running `tick` (`midi_*` neurons read it).
    Midi {
        tick: u64,
        ev: crate::neurons::control::MidiIn,
    },
    /// The audio block of `tick`.
    Block {
        tick: u64,
        left: Vec<f32>,
        right: Vec<f32>,
    },
    /// The display frames of `tick` (one per display neuron, with its name).
    Frames {
        tick: u64,
        frames: Vec<(String, Frame)>,
    },
}

/// A tap to install on an engine thread.
#[derive(Clone, Debug)]
pub struct Tap {
    pub tx: Sender<TapItem>,
    /// Send the display frames every this many ticks from the start (0: none).
    pub frame_every: u64,
}

/// A tap while it runs on the engine thread.
pub(super) struct ActiveTap {
    tap: Tap,
    start: u64,
}

impl ActiveTap {
    /// Installs `tap` before the machine's next tick: sends the program as it runs now.
    pub(super) fn start(tap: Tap, machine: &Machine) -> Option<ActiveTap> {
        let start = machine.tick_count();
        tap.tx
            .send(TapItem::Start {
                tick: start,
                net: machine.network().clone(),
                w: machine.w().clone(),
                seed: machine.seed(),
                backend: machine.backend_name(),
            })
            .ok()?;
        Some(ActiveTap { tap, start })
    }

    /// Whether tick `tick` should capture frames for the tap.
    pub(super) fn wants_frames(&self, tick: u64) -> bool {
        let every = self.tap.frame_every;
        every > 0 && (tick - self.start).is_multiple_of(every)
    }

    /// Logs a request taken before `tick`; false when the recorder is gone.
    pub(super) fn edit(&self, tick: u64, edit: &Edit) -> bool {
        self.tap
            .tx
            .send(TapItem::Edit {
                tick,
                edit: edit.clone(),
            })
            .is_ok()
    }

    /// Logs a MIDI event taken before `tick`; false when the recorder is gone.
    pub(super) fn midi(&self, tick: u64, ev: crate::neurons::control::MidiIn) -> bool {
        self.tap.tx.send(TapItem::Midi { tick, ev }).is_ok()
    }

    /// Sends what tick `tick` played (and showed); false when the recorder is gone.
    pub(super) fn outputs(&self, tick: u64, out: &TickOutputs, net: &Network) -> bool {
        if self.wants_frames(tick) && !out.frames.is_empty() {
            let frames = out
                .frames
                .iter()
                .map(|f| {
                    let name = net
                        .neurons
                        .get(f.neuron)
                        .map(|n| n.name.clone())
                        .unwrap_or_else(|| format!("display{}", f.neuron));
                    (name, f.clone())
                })
                .collect();
            if self.tap.tx.send(TapItem::Frames { tick, frames }).is_err() {
                return false;
            }
        }
        self.tap
            .tx
            .send(TapItem::Block {
                tick,
                left: out.left.clone(),
                right: out.right.clone(),
            })
            .is_ok()
    }
}

/// Which signal the UI's scope shows.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ScopeSource {
    /// What the speakers get: the mean of `audio_out`'s left and right.
    AudioOut,
    /// One audio port: an output, or an input as the last down stroke left it.
    Port { port: PortRef, output: bool },
}

impl std::fmt::Display for ScopeSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ScopeSource::AudioOut => write!(f, "audio_out"),
            ScopeSource::Port { port, output } => {
                write!(f, "{port} ({})", if *output { "out" } else { "in" })
            }
        }
    }
}

/// A scope's feed: after every tick the engine pushes the chosen signal's block into `tx`. A
/// block that does not fit (the UI is not reading) is skipped whole, so what the ring holds is
/// always whole blocks in order; the engine never waits.
pub struct ScopeTap {
    pub source: ScopeSource,
    pub tx: rtrb::Producer<f32>,
}

impl std::fmt::Debug for ScopeTap {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ScopeTap")
            .field("source", &self.source)
            .finish()
    }
}

/// A scope feed while it runs on the engine thread.
pub(super) struct ActiveScope {
    tap: ScopeTap,
    /// The catalogue the port was resolved in, and what it resolved to (None: no such audio
    /// port there; nothing is pushed until a catalogue has it).
    resolved: Option<(Arc<Network>, Option<PortIndex>)>,
    /// The port's block, read back into the same allocation every tick.
    buf: Vec<f32>,
}

/// A port by index: (neuron, port).
type PortIndex = (usize, usize);

impl ActiveScope {
    pub(super) fn new(tap: ScopeTap) -> ActiveScope {
        ActiveScope {
            tap,
            resolved: None,
            buf: Vec::new(),
        }
    }

    /// Pushes the block the last tick made of the chosen signal.
    pub(super) fn feed(&mut self, machine: &mut Machine) {
        match &self.tap.source {
            ScopeSource::AudioOut => {
                let out = machine.outputs();
                let mix = out.left.iter().zip(&out.right).map(|(l, r)| 0.5 * (l + r));
                push_block(&mut self.tap.tx, out.left.len().min(out.right.len()), mix);
            }
            ScopeSource::Port { port, output } => {
                let net = machine.network();
                if !self
                    .resolved
                    .as_ref()
                    .is_some_and(|(n, _)| Arc::ptr_eq(n, net))
                {
                    self.resolved = Some((net.clone(), resolve(net, port, *output)));
                }
                let Some((_, Some((n, p)))) = self.resolved else {
                    return;
                };
                if machine.read_into(n, p, *output, &mut self.buf) {
                    let block = &self.buf;
                    push_block(&mut self.tap.tx, block.len(), block.iter().copied());
                }
            }
        }
    }
}

/// The indices of an audio port of `net`, if it has one by that name.
fn resolve(net: &Network, port: &PortRef, output: bool) -> Option<PortIndex> {
    let found = if output {
        net.output_port(port)
    } else {
        net.input_port(port)
    };
    match found {
        Ok((n, p, crate::stream::Kind::Audio)) => Some((n, p)),
        _ => None,
    }
}

/// Writes `len` samples into the ring if they all fit (NaN/Inf as 0), else nothing.
fn push_block(tx: &mut rtrb::Producer<f32>, len: usize, samples: impl Iterator<Item = f32>) {
    if len == 0 || tx.slots() < len {
        return;
    }
    if let Ok(chunk) = tx.write_chunk_uninit(len) {
        chunk.fill_from_iter(samples.map(|x| if x.is_finite() { x } else { 0.0 }));
    }
}
