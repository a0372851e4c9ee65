//! The network matrix W: a sparse, row-first map `target neuron.port → source neuron.port → weight`.
//!
//! W is also a stream value (kind `matrix`): Self emits it, update neurons emit W-shaped deltas.
//! Arithmetic keeps the reference invariant: no stored zeros, no empty rows, so adding `-w` to an
//! entry holding `w` deletes it (exact cancellation).

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt;

/// The largest weight magnitude W may hold, `|w| <= MAX_WEIGHT`: far inside f32's range (about
/// 3.4e38), so a weight times a bounded signal stays finite, and no sum of edits reaches infinity.
pub const MAX_WEIGHT: f64 = 1e30;

/// Whether `w` may be a weight of W: finite and `|w| <= MAX_WEIGHT`.
pub fn weight_in_bounds(w: f64) -> bool {
    w.is_finite() && w.abs() <= MAX_WEIGHT
}

/// `neuron.port`, the address of one port.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct PortRef {
    pub neuron: String,
    pub port: String,
}

impl PortRef {
    pub fn new(neuron: impl Into<String>, port: impl Into<String>) -> Self {
        PortRef {
            neuron: neuron.into(),
            port: port.into(),
        }
    }

    /// Parses `neuron.port`. The neuron name may not contain a dot; the port name may not be empty;
    /// neither may hold control characters (messages quote ports and must stay one line).
    pub fn parse(s: &str) -> Result<Self, String> {
        if s.chars().any(char::is_control) {
            return Err(format!(
                "expected \"neuron.port\" without control characters, found {s:?}"
            ));
        }
        match s.split_once('.') {
            Some((n, p)) if !n.is_empty() && !p.is_empty() && !p.contains('.') => {
                Ok(PortRef::new(n, p))
            }
            _ => Err(format!("expected \"neuron.port\", found {s:?}")),
        }
    }
}

impl TryFrom<String> for PortRef {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        PortRef::parse(&s)
    }
}

impl From<PortRef> for String {
    fn from(p: PortRef) -> String {
        p.to_string()
    }
}

impl fmt::Display for PortRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.neuron, self.port)
    }
}

/// Sparse network matrix, rows first. Weights are f64 so that long runs of additive edits and
/// self-modification cancel exactly where the papers expect them to.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct WMatrix {
    rows: BTreeMap<PortRef, BTreeMap<PortRef, f64>>,
}

impl WMatrix {
    pub fn new() -> Self {
        Self::default()
    }

    /// A single-entry matrix: `W[target][source] = w` (zero gives the empty matrix).
    pub fn single(target: PortRef, source: PortRef, w: f64) -> Self {
        let mut m = WMatrix::new();
        m.add_entry(&target, &source, w);
        m
    }

    pub fn get(&self, target: &PortRef, source: &PortRef) -> f64 {
        self.rows
            .get(target)
            .and_then(|r| r.get(source))
            .copied()
            .unwrap_or(0.0)
    }

    pub fn row(&self, target: &PortRef) -> Option<&BTreeMap<PortRef, f64>> {
        self.rows.get(target)
    }

    pub fn rows(&self) -> impl Iterator<Item = (&PortRef, &BTreeMap<PortRef, f64>)> {
        self.rows.iter()
    }

    /// Every non-zero entry as `(target, source, weight)`, rows in order.
    pub fn entries(&self) -> impl Iterator<Item = (&PortRef, &PortRef, f64)> {
        self.rows
            .iter()
            .flat_map(|(t, r)| r.iter().map(move |(s, w)| (t, s, *w)))
    }

    pub fn len(&self) -> usize {
        self.rows.values().map(|r| r.len()).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    /// Adds `w` to one entry; an entry that sums to exactly 0 disappears.
    pub fn add_entry(&mut self, target: &PortRef, source: &PortRef, w: f64) {
        if w == 0.0 {
            return;
        }
        let row = self.rows.entry(target.clone()).or_default();
        let v = row.get(source).copied().unwrap_or(0.0) + w;
        if v == 0.0 {
            row.remove(source);
            if row.is_empty() {
                self.rows.remove(target);
            }
        } else {
            row.insert(source.clone(), v);
        }
    }

    /// Sets one entry to exactly `w`; 0 removes it.
    pub fn set_entry(&mut self, target: &PortRef, source: &PortRef, w: f64) {
        if w == 0.0 {
            if let Some(row) = self.rows.get_mut(target) {
                row.remove(source);
                if row.is_empty() {
                    self.rows.remove(target);
                }
            }
            return;
        }
        self.rows
            .entry(target.clone())
            .or_default()
            .insert(source.clone(), w);
    }

    /// `self += scale · other`.
    pub fn add_scaled(&mut self, other: &WMatrix, scale: f64) {
        if scale == 0.0 {
            return;
        }
        for (t, s, w) in other.entries() {
            self.add_entry(t, s, scale * w);
        }
    }

    /// `scale · self` (scaling by 0 gives the empty matrix).
    pub fn scaled(&self, scale: f64) -> WMatrix {
        let mut m = WMatrix::new();
        m.add_scaled(self, scale);
        m
    }

    /// Largest |w| over all entries (0 for the empty matrix).
    pub fn max_norm(&self) -> f64 {
        self.entries().map(|(_, _, w)| w.abs()).fold(0.0, f64::max)
    }

    /// Removes every entry whose target or source is on `neuron`; returns them.
    pub fn take_neuron(&mut self, neuron: &str) -> WMatrix {
        let mut taken = WMatrix::new();
        for (t, s, w) in self.entries() {
            if t.neuron == neuron || s.neuron == neuron {
                taken.add_entry(t, s, w);
            }
        }
        self.add_scaled(&taken, -1.0);
        taken
    }

    /// Entries that touch `neuron` (as target or source).
    pub fn touching(&self, neuron: &str) -> WMatrix {
        let mut m = WMatrix::new();
        for (t, s, w) in self.entries() {
            if t.neuron == neuron || s.neuron == neuron {
                m.add_entry(t, s, w);
            }
        }
        m
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> PortRef {
        PortRef::parse(s).unwrap()
    }

    #[test]
    fn add_scale_cancel() {
        let mut w = WMatrix::single(p("a.x"), p("b.out"), 2.0);
        w.add_entry(&p("a.x"), &p("c.out"), 0.5);
        assert_eq!(w.len(), 2);
        let d = w.scaled(-1.0);
        assert_eq!(d.get(&p("a.x"), &p("b.out")), -2.0);
        let mut z = w.clone();
        z.add_scaled(&d, 1.0);
        assert!(
            z.is_empty(),
            "exact cancellation must delete entries and rows"
        );
        w.add_scaled(&w.clone(), 2.0);
        assert_eq!(w.get(&p("a.x"), &p("b.out")), 6.0);
        assert_eq!(w.max_norm(), 6.0);
        assert!(w.scaled(0.0).is_empty());
    }

    #[test]
    fn port_ref_parse() {
        assert!(PortRef::parse("a.b").is_ok());
        for bad in [
            "ab",
            ".b",
            "a.",
            "a.b.c",
            "",
            "a\n.b",
            "a.b\r",
            "a.\u{1b}[31m",
        ] {
            assert!(PortRef::parse(bad).is_err(), "{bad}");
        }
    }
}
