//! Recovery: an engine that stopped on an error restarts from the last snapshot, on the CPU
//! backend when its own cannot go on; and the restart every settings change needs.

use super::{Live, LiveError, LiveEvent};
use crate::backend::cpu::CpuBackend;
use crate::engine::machine::{EngineError, Level, Machine, Message};
use crate::engine::thread::{Pace, Report, Snapshot, spawn_traced};
use crate::neurons::AssetDirs;
use crate::patch::Patch;

/// Automatic restarts after engine errors before `Live` gives up and says so.
const MAX_RECOVERIES: u32 = 3;

impl Live {
    /// The engine stopped on an error (a backend failure): start again from the last snapshot's
    /// network and W on the CPU backend, a few times at most. Neuron state starts from `init`.
    pub(super) fn recover(&mut self, ev: &mut Vec<LiveEvent>) {
        let last = self.engine().latest();
        let tick = last.as_ref().map(|s| s.tick).unwrap_or(0);
        if self.recovery.count < MAX_RECOVERIES
            && let Some(s) = last
        {
            self.recovery.count += 1;
            let p = Patch::from_running(&s.net.settings, self.file.comment.clone(), &s.net, &s.w);
            // `restart` reports the error that stopped the engine and the switch to the CPU.
            if self.restart(&p).is_ok() {
                ev.append(&mut self.queued);
                ev.push(LiveEvent::Message(Message {
                    tick,
                    level: Level::Notice,
                    text: format!(
                        "restarted the engine from the network as it was at tick {tick}; neurons start from their init"
                    ),
                }));
                return;
            }
        }
        self.recovery.said_stopped = true;
        ev.push(LiveEvent::Message(Message {
            tick,
            level: Level::Error,
            text: "the engine stopped after an error; save your work and reopen the patch".into(),
        }));
    }

    /// Stops the engine and starts a new one on `p` (same backend, same sound card).
    pub(super) fn restart(&mut self, p: &Patch) -> Result<(), LiveError> {
        let old = self
            .engine
            .take()
            .ok_or_else(|| LiveError::NoEngine("no engine to restart".into()))?;
        // Keep the reports nobody has read yet.
        for r in old.reports.try_iter() {
            self.queued.push(match r {
                Report::Message(m) => LiveEvent::Message(m),
                Report::Outcome { id, outcome } => LiveEvent::Outcome { id, outcome },
            });
        }
        let before = old.latest();
        let (machine, pace) = old.stop_parts();
        let pace = match pace {
            Pace::Audio(f) => Pace::Audio(f),
            _ => Pace::WallClock,
        };
        let assets = AssetDirs::for_patch(&self.file.path);
        let (m, failures) = machine_that_starts(p, machine, before.as_deref(), &assets)?;
        for f in failures {
            self.queued.push(LiveEvent::Message(Message {
                tick: 0,
                level: Level::Error,
                text: format!("restart: {f}; running on the cpu backend"),
            }));
        }
        self.engine = Some(spawn_traced(
            m,
            pace,
            self.opts.capture_every,
            self.trace.as_ref().map(|t| t.tx.clone()),
        ));
        self.reloading.flight = None;
        self.recovery.said_stopped = false;
        Ok(())
    }
}

/// A machine for `p` on the old machine's backend; should that fail (a backend that cannot hold
/// the new sizes, or an engine that had stopped on an error), on the CPU backend; failing that,
/// the old network (`before`) on the CPU, so there is always an engine. Returns what failed.
fn machine_that_starts(
    p: &Patch,
    old: Result<Machine, EngineError>,
    before: Option<&Snapshot>,
    assets: &AssetDirs,
) -> Result<(Machine, Vec<String>), LiveError> {
    let mut failures = Vec::new();
    let first = old.and_then(|m| {
        Machine::new(
            p.network.clone(),
            p.initial_w(),
            m.into_backend(),
            assets.clone(),
            0,
        )
    });
    let e = match first {
        Ok(m) => return Ok((m, failures)),
        Err(e) => e,
    };
    failures.push(e.to_string());
    let cpu = Machine::new(
        p.network.clone(),
        p.initial_w(),
        Box::new(CpuBackend::new()),
        assets.clone(),
        0,
    );
    let e2 = match cpu {
        Ok(m) => return Ok((m, failures)),
        Err(e2) => e2,
    };
    failures.push(e2.to_string());
    let old = before.ok_or_else(|| LiveError::NoEngine(failures.join("; ")))?;
    let m = Machine::new(
        (*old.net).clone(),
        old.w.clone(),
        Box::new(CpuBackend::new()),
        assets.clone(),
        0,
    )?;
    Ok((m, failures))
}
