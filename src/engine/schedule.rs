//! What the engine has promised to do on later ticks: morphs in progress (one slice of W per
//! tick), neurons that join the catalogue once their weights are in W, and neurons that leave it
//! once their connections have faded out.

use crate::neurons::{Network, NeuronDef, SpecError};
use crate::stream::wmatrix::{PortRef, WMatrix};

/// A morph in progress: `steps` equal per-tick slices of `total`, landing on `target`. A morph
/// that `settle`s takes one more tick to absorb what rounding left (f64 cannot hold 1e30 + 0.3:
/// a `set` from a huge value to a small one lands exactly one tick later).
#[derive(Clone, Debug)]
pub(crate) struct Morph {
    pub total: WMatrix,
    pub emitted: WMatrix,
    /// `(target, source, start, end)`: each touched entry's value before the morph and W's
    /// expected value once it is done (start + total).
    pub target: Vec<(PortRef, PortRef, f64, f64)>,
    pub steps: u64,
    pub done: u64,
    pub settle: bool,
}

impl Morph {
    /// A morph of `total` over `steps` ticks, from `now` (W plus this tick's staged delta).
    pub fn new(
        total: WMatrix,
        steps: u64,
        settle: bool,
        now: impl Fn(&PortRef, &PortRef) -> f64,
    ) -> Morph {
        let target = total
            .entries()
            .map(|(t, s, v)| {
                let start = now(t, s);
                (t.clone(), s.clone(), start, start + v)
            })
            .collect();
        Morph {
            total,
            emitted: WMatrix::new(),
            target,
            steps,
            done: 0,
            settle,
        }
    }

    /// Makes every entry land on `end` (the value a `set` asked for; `start + total` may be
    /// rounded away from it).
    pub fn landing_on(mut self, end: f64) -> Morph {
        for e in &mut self.target {
            e.3 = end;
        }
        self
    }

    /// A change emitted at once (`emitted` = `total`) that only settles on the next tick.
    pub fn settling(total: WMatrix, now: impl Fn(&PortRef, &PortRef) -> f64) -> Morph {
        let mut m = Morph::new(total, 1, true, now);
        m.emitted = m.total.clone();
        m.done = 1;
        m
    }

    /// The next slice. The last slice is `total − emitted`, corrected by the rounding left in
    /// `w` (the latest W, which holds every slice emitted before this tick) so that the entry
    /// lands exactly on its target: a connection morphed to 0 disappears. The settling tick
    /// emits only what rounding still left.
    pub fn next_slice(&mut self, w: &WMatrix) -> WMatrix {
        self.done += 1;
        let slice = if self.done > self.steps {
            self.rounding(w, &WMatrix::new())
        } else if self.done == self.steps {
            let mut rest = self.total.clone();
            rest.add_scaled(&self.emitted, -1.0);
            let fix = self.rounding(w, &rest);
            rest.add_scaled(&fix, 1.0);
            rest
        } else {
            self.total.scaled(1.0 / self.steps as f64)
        };
        self.emitted.add_scaled(&slice, 1.0);
        slice
    }

    /// What W still misses of each target once `rest` is added, where that is rounding only:
    /// small beside the values moved. A larger gap is someone else's change: never undone.
    fn rounding(&self, w: &WMatrix, rest: &WMatrix) -> WMatrix {
        let mut fix = WMatrix::new();
        for (t, s, start, end) in &self.target {
            let gap = end - w.get(t, s) - rest.get(t, s);
            let scale = end.abs().max(start.abs()).max(1.0);
            if gap != 0.0 && gap.abs() <= 1e-9 * scale {
                fix.add_entry(t, s, gap);
            }
        }
        fix
    }

    pub fn finished(&self) -> bool {
        self.done >= self.steps + u64::from(self.settle)
    }

    /// What this morph has still to add to one entry.
    pub fn remaining(&self, t: &PortRef, s: &PortRef) -> f64 {
        self.total.get(t, s) - self.emitted.get(t, s)
    }

    /// Drops what is left of this morph for one entry (a later `set`/`remove` of the same
    /// entry wins: W lands on the later value, not on it plus this morph's remaining slices).
    pub fn cancel(&mut self, t: &PortRef, s: &PortRef) {
        for m in [&mut self.total, &mut self.emitted] {
            let v = m.get(t, s);
            if v != 0.0 {
                m.add_entry(t, s, -v);
            }
        }
        self.target.retain(|(a, b, _, _)| !(a == t && b == s));
    }

    /// Drops what is left of this morph for every entry touching `neuron` (being removed).
    pub fn cancel_neuron(&mut self, neuron: &str) {
        self.total.take_neuron(neuron);
        self.emitted.take_neuron(neuron);
        self.target
            .retain(|(a, b, _, _)| a.neuron != neuron && b.neuron != neuron);
    }
}

/// Morphs in progress and catalogue changes waiting for their tick.
#[derive(Debug, Default)]
pub(crate) struct Schedule {
    pub morphs: Vec<Morph>,
    /// `(tick, neuron)`: the neuron leaves the catalogue at the start of that tick.
    pub removals: Vec<(u64, String)>,
    /// `(tick, neuron)`: the neuron joins the catalogue before that tick (at the end of the one
    /// before, when Self has added its weights: W and the catalogue agree in every snapshot).
    pub additions: Vec<(u64, NeuronDef)>,
}

/// Catalogue changes due at one tick.
#[derive(Debug, Default)]
pub(crate) struct Due {
    pub additions: Vec<NeuronDef>,
    pub removals: Vec<String>,
}

impl Due {
    pub fn is_empty(&self) -> bool {
        self.additions.is_empty() && self.removals.is_empty()
    }
}

impl Schedule {
    /// This tick's slice of the first `older` morphs, those started before this tick (a morph
    /// started this tick has emitted its first slice already); finished morphs are dropped.
    pub fn next_slices(&mut self, w: &WMatrix, older: usize) -> WMatrix {
        let mut delta = WMatrix::new();
        for m in self.morphs.iter_mut().take(older) {
            delta.add_scaled(&m.next_slice(w), 1.0);
        }
        self.morphs.retain(|m| !m.finished());
        delta
    }

    /// The tick at which `name` leaves the catalogue, if it is being removed.
    pub fn removal_of(&self, name: &str) -> Option<u64> {
        self.removals
            .iter()
            .find(|(_, n)| n == name)
            .map(|&(t, _)| t)
    }

    /// The catalogue as requested: the running one plus the neurons waiting to join it.
    pub fn planned(&self, running: &Network) -> Result<Network, SpecError> {
        let mut net = running.clone();
        for (_, def) in &self.additions {
            net.insert(def.clone())?;
        }
        Ok(net)
    }

    /// Takes the additions due at (or before) `tick`.
    pub fn take_due_additions(&mut self, tick: u64) -> Due {
        let (now, later): (Vec<_>, Vec<_>) = std::mem::take(&mut self.additions)
            .into_iter()
            .partition(|(t, _)| *t <= tick);
        self.additions = later;
        Due {
            additions: now.into_iter().map(|(_, d)| d).collect(),
            removals: Vec::new(),
        }
    }

    /// Takes the catalogue changes due at (or before) `tick`.
    pub fn take_due(&mut self, tick: u64) -> Due {
        let mut due = self.take_due_additions(tick);
        let (now, later): (Vec<_>, Vec<_>) = std::mem::take(&mut self.removals)
            .into_iter()
            .partition(|(t, _)| *t <= tick);
        self.removals = later;
        due.removals = now.into_iter().map(|(_, n)| n).collect();
        due
    }
}
