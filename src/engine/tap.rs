//! A tap on the engine thread for recording: the network and W at the tick it starts, every edit
//! request with the tick at which the engine took it, every audio block and the display frames
//! at a chosen rate. Everything goes over an unbounded channel (the engine never waits; the
//! recorder's writer keeps up with a few hundred blocks a second easily).
//!
//! The engine takes the requests queued for tick `t` just before running tick `t`, and `render`
//! submits the `--edits` lines with `tick <= t` just before running tick `t`: so a request
//! logged here with the tick counted from the tap's start replays on the same tick.

use super::edits::Edit;
use super::machine::Machine;
use crate::backend::{Frame, TickOutputs};
use crate::neurons::network::Network;
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
