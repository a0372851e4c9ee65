//! Edit requests: what a performer, a file watcher or a script asks of the running network.
//! Every request becomes a W delta emitted by the `edits` neuron and added by Self (plus, for
//! neurons, a catalogue change). One JSON object each; `--edits` files add a `tick` field.

use super::staging::Rejection;
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

/// The longest `morph` a request may ask for, in seconds (an hour). Longer ones are rejected.
pub const MAX_MORPH_SECONDS: f64 = 3600.0;

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
            // serde_json ends its message with its own " at line 1 column C": say it once.
            let full = e.to_string();
            let tail = format!(" at line {} column {}", e.line(), e.column());
            let msg = full.strip_suffix(&tail).unwrap_or(&full);
            format!(
                "line {}:{}: {msg} (expected {{\"tick\": N, \"op\": \"add|set|remove|delta|add_neuron|remove_neuron|batch\", ...}})",
                i + 1,
                e.column() + (line.len() - line.trim_start().len())
            )
        })?;
        out.push(e);
    }
    out.sort_by_key(|e| e.tick);
    Ok(out)
}

/// The outcome of a request, reported back to whoever sent it. A rejection is reported here
/// and nowhere else (not also as a message): whoever shows outcomes logs it once.
#[derive(Clone, Debug, PartialEq)]
pub enum EditOutcome {
    Applied { tick: u64 },
    Rejected { tick: u64, errors: Vec<Rejection> },
}

impl EditOutcome {
    /// The reasons of a rejection joined into one line (empty when applied).
    pub fn reasons(&self) -> String {
        match self {
            EditOutcome::Applied { .. } => String::new(),
            EditOutcome::Rejected { errors, .. } => errors
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join("; "),
        }
    }
}
