//! The program a performer plays, as plain data: the catalogue (name → spec, without `self` and
//! `edits`) and W (without Self's core weights). History, scenes and the crossfader compute with
//! it: what an edit request would make of it (`apply`), what two programs differ in (`change`)
//! and the edit requests that carry one into the other (`steps`).

use crate::engine::edits::Edit;
use crate::neurons::NeuronSpec;
use crate::neurons::network::Network;
use crate::patch::Patch;
use crate::stream::wmatrix::{PortRef, WMatrix};
use std::collections::{BTreeMap, BTreeSet};

#[derive(Clone, Debug, Default, PartialEq)]
pub struct Program {
    /// In catalogue order.
    pub neurons: Vec<(String, NeuronSpec)>,
    pub weights: WMatrix,
}

/// Sets one entry exactly (W's `add_entry` is additive; `x + (w − x)` need not be `w`).
pub(crate) fn set_entry(w: &mut WMatrix, t: &PortRef, s: &PortRef, v: f64) {
    let cur = w.get(t, s);
    w.add_entry(t, s, -cur);
    w.add_entry(t, s, v);
}

impl Program {
    /// The running network of a snapshot.
    pub fn running(net: &Network, w: &WMatrix) -> Program {
        let p = Patch::from_running(&net.settings, None, net, w);
        Program {
            neurons: p.neurons,
            weights: p.weights,
        }
    }

    pub fn of_patch(p: &Patch) -> Program {
        Program {
            neurons: p.neurons.clone(),
            weights: p.weights.clone(),
        }
    }

    pub fn spec(&self, name: &str) -> Option<&NeuronSpec> {
        self.neurons.iter().find(|(n, _)| n == name).map(|(_, s)| s)
    }

    /// What `edit` makes of this program if the engine accepts it (the engine checks; this
    /// only follows). Morphs count as arrived.
    pub fn apply(&mut self, edit: &Edit) {
        match edit {
            Edit::Add {
                target,
                source,
                weight,
                ..
            } => self.weights.add_entry(target, source, *weight),
            Edit::Set {
                target,
                source,
                weight,
                ..
            } => set_entry(&mut self.weights, target, source, *weight),
            Edit::Remove { target, source } => set_entry(&mut self.weights, target, source, 0.0),
            Edit::Delta { weights, .. } => self.weights.add_scaled(weights, 1.0),
            Edit::AddNeuron {
                name,
                neuron,
                weights,
            } => {
                if self.spec(name).is_none() {
                    self.neurons.push((name.clone(), neuron.clone()));
                }
                self.weights.add_scaled(weights, 1.0);
            }
            Edit::RemoveNeuron { name, .. } => {
                self.neurons.retain(|(n, _)| n != name);
                self.weights.take_neuron(name);
            }
            Edit::Batch { edits } => edits.iter().for_each(|e| self.apply(e)),
        }
    }
}

/// The part of a program one change touches: each touched neuron's spec (None: absent) and
/// each touched entry's value.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Part {
    pub neurons: BTreeMap<String, Option<NeuronSpec>>,
    pub weights: BTreeMap<(PortRef, PortRef), f64>,
}

/// What differs between two programs, on both sides.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Change {
    pub before: Part,
    pub after: Part,
}

/// Edit requests in two steps: `later` (neurons that come back under the same name with
/// another spec, and their weights) is sent once `now` has landed.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Steps {
    pub now: Vec<Edit>,
    pub later: Vec<Edit>,
}

impl Steps {
    pub fn is_empty(&self) -> bool {
        self.now.is_empty() && self.later.is_empty()
    }

    /// Every request of both steps, in order (to follow them on a `Program`).
    pub fn all(&self) -> Vec<Edit> {
        self.now.iter().chain(&self.later).cloned().collect()
    }
}

/// The touched neurons and entries between `a` and `b`.
pub fn change(a: &Program, b: &Program) -> Change {
    let mut c = Change::default();
    let names: BTreeSet<&String> = a.neurons.iter().chain(&b.neurons).map(|(n, _)| n).collect();
    for n in names {
        let (x, y) = (a.spec(n), b.spec(n));
        if x != y {
            c.before.neurons.insert(n.clone(), x.cloned());
            c.after.neurons.insert(n.clone(), y.cloned());
        }
    }
    let keys: BTreeSet<(&PortRef, &PortRef)> = a
        .weights
        .entries()
        .chain(b.weights.entries())
        .map(|(t, s, _)| (t, s))
        .collect();
    for (t, s) in keys {
        let (x, y) = (a.weights.get(t, s), b.weights.get(t, s));
        if x != y {
            let k = (t.clone(), s.clone());
            c.before.weights.insert(k.clone(), x);
            c.after.weights.insert(k, y);
        }
    }
    c
}

impl Change {
    pub fn is_empty(&self) -> bool {
        self.before.neurons.is_empty() && self.before.weights.is_empty()
    }

    /// The requests that undo it (back to `before`).
    pub fn undo(&self) -> Steps {
        steps(&self.after, &self.before, 0.0)
    }

    /// The requests that redo it (on to `after`).
    pub fn redo(&self) -> Steps {
        steps(&self.before, &self.after, 0.0)
    }
}

/// The requests that take a program showing `from` (on the touched part) to `to`, weight
/// changes spread over `morph` seconds. Removed neurons' connections go with them; a neuron
/// whose spec changes is removed now and added in `later`, with its weights.
pub fn steps(from: &Part, to: &Part, morph: f64) -> Steps {
    let mut st = Steps::default();
    let mut gone = BTreeSet::new();
    let mut replaced = BTreeSet::new();
    for (n, want) in &to.neurons {
        let have = from.neurons.get(n).cloned().flatten();
        match (have, want) {
            (Some(_), None) => {
                gone.insert(n.as_str());
                st.now.push(Edit::RemoveNeuron {
                    name: n.clone(),
                    morph,
                });
            }
            (None, Some(spec)) => st.now.push(Edit::AddNeuron {
                name: n.clone(),
                neuron: spec.clone(),
                weights: WMatrix::new(),
            }),
            (Some(_), Some(spec)) => {
                replaced.insert(n.as_str());
                st.now.push(Edit::RemoveNeuron {
                    name: n.clone(),
                    morph: 0.0,
                });
                st.later.push(Edit::AddNeuron {
                    name: n.clone(),
                    neuron: spec.clone(),
                    weights: WMatrix::new(),
                });
            }
            (None, None) => {}
        }
    }
    let hit = |set: &BTreeSet<&str>, t: &PortRef, s: &PortRef| {
        set.contains(t.neuron.as_str()) || set.contains(s.neuron.as_str())
    };
    for ((t, s), &w) in &to.weights {
        let set = |morph| Edit::Set {
            target: t.clone(),
            source: s.clone(),
            weight: w,
            morph,
        };
        if hit(&replaced, t, s) {
            if w != 0.0 {
                st.later.push(set(0.0));
            }
        } else if !hit(&gone, t, s) {
            st.now.push(set(morph));
        }
    }
    st
}

/// One request when the steps fit in one; a batch otherwise (None when empty).
pub fn batch(edits: &[Edit]) -> Option<Edit> {
    match edits {
        [] => None,
        [one] => Some(one.clone()),
        _ => Some(Edit::Batch {
            edits: edits.to_vec(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> PortRef {
        PortRef::parse(s).unwrap()
    }

    fn prog() -> Program {
        let mut w = WMatrix::new();
        w.add_entry(&p("x.in"), &p("k.out"), 0.1);
        w.add_entry(&p("y.in"), &p("x.out"), 3.0);
        Program {
            neurons: vec![
                ("k".into(), NeuronSpec::new("one")),
                ("x".into(), NeuronSpec::new("identity")),
                ("y".into(), NeuronSpec::new("identity")),
            ],
            weights: w,
        }
    }

    #[test]
    fn undo_and_redo_of_a_removal_follow_back_and_forth_exactly() {
        let a = prog();
        let mut b = a.clone();
        b.apply(&Edit::RemoveNeuron {
            name: "x".into(),
            morph: 0.0,
        });
        b.apply(&Edit::set("y.in", "k.out", 0.7).unwrap());
        assert_eq!(b.weights.len(), 1);
        let c = change(&a, &b);
        let mut back = b.clone();
        c.undo().all().iter().for_each(|e| back.apply(e));
        assert_eq!(back.weights, a.weights);
        assert_eq!(back.spec("x"), a.spec("x"));
        let mut fwd = back.clone();
        c.redo().all().iter().for_each(|e| fwd.apply(e));
        assert_eq!(fwd, b);
        // The removal's weights go with the neuron: no sets on x's ports going forward.
        assert!(c.redo().now.iter().all(|e| !matches!(e,
            Edit::Set { target, source, .. } if target.neuron == "x" || source.neuron == "x")));
    }

    #[test]
    fn a_changed_spec_comes_back_in_the_later_step() {
        let a = prog();
        let mut b = a.clone();
        b.neurons[1].1 = NeuronSpec::new("tanh");
        let c = change(&a, &b);
        let st = c.undo();
        assert_eq!(
            st.now,
            vec![Edit::RemoveNeuron {
                name: "x".into(),
                morph: 0.0
            }]
        );
        assert!(matches!(&st.later[0], Edit::AddNeuron { neuron, .. } if neuron.ty == "identity"));
    }

    #[test]
    fn set_entry_is_exact() {
        let mut w = WMatrix::new();
        w.add_entry(&p("a.x"), &p("b.out"), 0.1);
        set_entry(&mut w, &p("a.x"), &p("b.out"), 0.7);
        assert_eq!(w.get(&p("a.x"), &p("b.out")), 0.7);
        set_entry(&mut w, &p("a.x"), &p("b.out"), 0.0);
        assert!(w.is_empty());
    }
}
