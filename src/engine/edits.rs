//! Edit requests: what a performer, a file watcher or a script asks of the running network.
//! Every request becomes a W delta emitted by the `edits` neuron and added by Self (plus, for
//! neurons, a catalogue change). One JSON object each; `--edits` files add a `tick` field.

use crate::neurons::NeuronSpec;
use crate::stream::wmatrix::{PortRef, WMatrix};
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case", deny_unknown_fields)]
pub enum Edit {
    /// `W[target][source] += weight` (additive, as in the papers).
    Add {
        target: PortRef,
        source: PortRef,
        weight: f64,
        /// Spread the change evenly over this many seconds (0 or absent: at once).
        #[serde(default, skip_serializing_if = "is_zero")]
        morph: f64,
    },
    /// `W[target][source] = weight`: sugar for adding `weight − current`.
    Set {
        target: PortRef,
        source: PortRef,
        weight: f64,
        #[serde(default, skip_serializing_if = "is_zero")]
        morph: f64,
    },
    /// Removes one connection (sets it to 0).
    Remove { target: PortRef, source: PortRef },
    /// Adds a whole W-shaped fragment.
    Delta {
        weights: WMatrix,
        #[serde(default, skip_serializing_if = "is_zero")]
        morph: f64,
    },
    /// Adds a neuron and its connections in one request.
    AddNeuron {
        name: String,
        neuron: NeuronSpec,
        #[serde(default, skip_serializing_if = "WMatrix::is_empty")]
        weights: WMatrix,
    },
    /// Removes a neuron: all its connections go (through Self), then the neuron. With `morph`
    /// (seconds) the connections fade out evenly over that time first.
    RemoveNeuron {
        name: String,
        #[serde(default, skip_serializing_if = "is_zero")]
        morph: f64,
    },
    /// Several edits that succeed or fail together (hot reload sends one of these).
    Batch { edits: Vec<Edit> },
}

fn is_zero(x: &f64) -> bool {
    *x == 0.0
}

/// An edit with the tick at which the `edits` neuron takes it (render `--edits` files).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TimedEdit {
    pub tick: u64,
    #[serde(flatten)]
    pub edit: Edit,
}

impl Edit {
    pub fn set(target: &str, source: &str, weight: f64) -> Result<Edit, String> {
        Ok(Edit::Set {
            target: PortRef::parse(target)?,
            source: PortRef::parse(source)?,
            weight,
            morph: 0.0,
        })
    }

    pub fn add(target: &str, source: &str, weight: f64) -> Result<Edit, String> {
        Ok(Edit::Add {
            target: PortRef::parse(target)?,
            source: PortRef::parse(source)?,
            weight,
            morph: 0.0,
        })
    }
}

/// Parses an `--edits` file: one JSON object per line (blank lines and lines starting with `//`
/// are skipped). Errors give the line number.
pub fn parse_edits_jsonl(text: &str) -> Result<Vec<TimedEdit>, String> {
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let l = line.trim();
        if l.is_empty() || l.starts_with("//") {
            continue;
        }
        let e: TimedEdit = serde_json::from_str(l).map_err(|e| {
            format!(
                "line {}:{}: {e} (expected {{\"tick\": N, \"op\": \"add|set|remove|delta|add_neuron|remove_neuron|batch\", ...}})",
                i + 1,
                e.column()
            )
        })?;
        out.push(e);
    }
    out.sort_by_key(|e| e.tick);
    Ok(out)
}

/// The outcome of a request, reported back to whoever sent it.
#[derive(Clone, Debug, PartialEq)]
pub enum EditOutcome {
    Applied { tick: u64 },
    Rejected { tick: u64, errors: Vec<String> },
}

/// A morph in progress: `steps` equal per-tick slices of `total`, landing on `target`.
#[derive(Clone, Debug)]
pub(crate) struct Morph {
    pub total: WMatrix,
    pub emitted: WMatrix,
    /// W's expected value for every touched entry once the morph is done (start + total).
    pub target: Vec<(PortRef, PortRef, f64)>,
    pub steps: u64,
    pub done: u64,
}

impl Morph {
    /// The next slice. The last slice is `total − emitted`, corrected by the rounding left in
    /// `w` (the latest W, which holds every slice emitted before this tick) so that the entry
    /// lands exactly on its target: a connection morphed to 0 disappears.
    pub fn next_slice(&mut self, w: &WMatrix) -> WMatrix {
        self.done += 1;
        let slice = if self.done >= self.steps {
            let mut rest = self.total.clone();
            rest.add_scaled(&self.emitted, -1.0);
            for (t, s, target) in &self.target {
                let exact = target - w.get(t, s);
                let plain = rest.get(t, s);
                // Only absorb rounding, never undo someone else's change to the same entry.
                if (exact - plain).abs() <= 1e-9 * target.abs().max(1.0) {
                    rest.add_entry(t, s, exact - plain);
                }
            }
            rest
        } else {
            self.total.scaled(1.0 / self.steps as f64)
        };
        self.emitted.add_scaled(&slice, 1.0);
        slice
    }

    pub fn finished(&self) -> bool {
        self.done >= self.steps
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
        self.target.retain(|(a, b, _)| !(a == t && b == s));
    }

    /// Drops what is left of this morph for every entry touching `neuron` (being removed).
    pub fn cancel_neuron(&mut self, neuron: &str) {
        self.total.take_neuron(neuron);
        self.emitted.take_neuron(neuron);
        self.target
            .retain(|(a, b, _)| a.neuron != neuron && b.neuron != neuron);
    }
}
