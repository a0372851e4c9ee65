//! The difference between a running network and a patch file, as edit requests for Self.
//!
//! Hot reload and `open_patch` send this instead of restarting, so every neuron that stays keeps
//! its state (phases, accumulators, feedback images):
//!
//! - a neuron only in the file is added (`add_neuron`); its connections then fade in like any
//!   other weight change;
//! - a neuron only in the running network is removed (`remove_neuron`: its connections fade out
//!   through Self over the morph time, then the neuron goes);
//! - a neuron in both with a different type or settings is *replaced*: removed, and added again
//!   under the same name with its connections once the removal has landed (the engine refuses
//!   both in one request, so this is a second request, `Diff::later`). The replaced neuron
//!   starts from its `init` (its state is lost; the others keep theirs);
//! - every other weight that differs is set to the file's value (`set`, absolute, so a weight
//!   the network changed itself meanwhile still lands on the file's value), spread evenly over
//!   the morph time. A weight the file drops is set to 0 over the morph time and disappears.
//!
//! Settings (rates, image size) are not diffed: the caller checks them (see `live`).

use super::Patch;
use crate::engine::edits::Edit;
use crate::neurons::NeuronSpec;
use crate::neurons::network::SELF;
use crate::stream::wmatrix::{PortRef, WMatrix};
use std::collections::{BTreeSet, HashMap};

/// Edit requests that turn the running network into the wanted one.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Diff {
    /// Sent now, as one batch.
    pub now: Vec<Edit>,
    /// Sent once the removals in `now` have landed (replaced neurons coming back).
    pub later: Vec<Edit>,
}

impl Diff {
    /// Number of edit requests in both parts.
    pub fn len(&self) -> usize {
        self.now.len() + self.later.len()
    }

    pub fn is_empty(&self) -> bool {
        self.now.is_empty() && self.later.is_empty()
    }

    /// `now` as one request (None when empty).
    pub fn batch_now(&self) -> Option<Edit> {
        batch(&self.now)
    }

    /// `later` as one request (None when empty).
    pub fn batch_later(&self) -> Option<Edit> {
        batch(&self.later)
    }
}

fn batch(edits: &[Edit]) -> Option<Edit> {
    (!edits.is_empty()).then(|| Edit::Batch {
        edits: edits.to_vec(),
    })
}

/// A spec without its `comment`, which changes nothing in how a neuron runs.
fn essence(spec: &NeuronSpec) -> NeuronSpec {
    let mut s = spec.clone();
    s.settings.remove("comment");
    s
}

/// The edits that turn `running` into `wanted`, weight changes spread over `morph` seconds.
/// Both patches' weights exclude the core weights (as `Patch` keeps them).
pub fn diff(running: &Patch, wanted: &Patch, morph: f64) -> Diff {
    diff_with(running, wanted, None, morph)
}

/// Like `diff` for networks that write their own W (weights into `self`): the neurons follow
/// the file as in `diff`, but a weight is only set where the *text* changed it since `base` (the
/// file as last loaded or saved). Weights the network keeps rewriting (the waves' travelling
/// link, say) are left to it instead of being reset to the file's starting values, which would
/// break the network's own bookkeeping.
pub fn diff_since(base: &Patch, running: &Patch, wanted: &Patch, morph: f64) -> Diff {
    diff_with(running, wanted, Some(base), morph)
}

/// Whether a network writes its own W: it has weights into `self` (besides the core ones,
/// which `Patch` leaves out).
pub fn writes_own_w(p: &Patch) -> bool {
    p.weights.rows().any(|(t, _)| t.neuron == SELF)
}

fn diff_with(running: &Patch, wanted: &Patch, base: Option<&Patch>, morph: f64) -> Diff {
    let c = Changes::of(running, wanted);
    let mut d = Diff::default();
    c.catalogue_now(running, wanted, morph, &mut d);
    // The weights we compare the file with: the running ones, or (for a network that writes
    // its own W) the file's previous text.
    let old = base.map(|b| &b.weights).unwrap_or(&running.weights);
    let back = c.weights(running, wanted, old, morph, &mut d);
    if !c.replaced.is_empty() {
        for (name, spec) in &wanted.neurons {
            if c.replaced.contains(name.as_str()) {
                d.later.push(Edit::AddNeuron {
                    name: name.clone(),
                    neuron: spec.clone(),
                    weights: WMatrix::new(),
                });
            }
        }
        d.later.extend(back);
    }
    d
}

/// Which neurons the file removes, replaces (same name, other type or settings) and adds.
struct Changes<'a> {
    removed: BTreeSet<&'a str>,
    replaced: BTreeSet<&'a str>,
    added: BTreeSet<&'a str>,
}

fn set(t: &PortRef, s: &PortRef, w: f64, morph: f64) -> Edit {
    Edit::Set {
        target: t.clone(),
        source: s.clone(),
        weight: w,
        morph,
    }
}

fn touches(set: &BTreeSet<&str>, t: &PortRef, s: &PortRef) -> bool {
    set.contains(t.neuron.as_str()) || set.contains(s.neuron.as_str())
}

impl<'a> Changes<'a> {
    fn of(running: &'a Patch, wanted: &'a Patch) -> Changes<'a> {
        let have: HashMap<&str, &NeuronSpec> = running
            .neurons
            .iter()
            .map(|(n, s)| (n.as_str(), s))
            .collect();
        let want: HashMap<&str, &NeuronSpec> = wanted
            .neurons
            .iter()
            .map(|(n, s)| (n.as_str(), s))
            .collect();
        let removed = running
            .neurons
            .iter()
            .map(|(n, _)| n.as_str())
            .filter(|n| !want.contains_key(n))
            .collect();
        let replaced = running
            .neurons
            .iter()
            .filter(|(n, s)| {
                want.get(n.as_str())
                    .is_some_and(|w| essence(w) != essence(s))
            })
            .map(|(n, _)| n.as_str())
            .collect();
        let added = wanted
            .neurons
            .iter()
            .map(|(n, _)| n.as_str())
            .filter(|n| !have.contains_key(n))
            .collect();
        Changes {
            removed,
            replaced,
            added,
        }
    }

    /// Removals (a removed neuron's connections fade out over the morph time; a replaced one
    /// goes at once and comes back in `later`, as soon as the removal has landed) and additions.
    fn catalogue_now(&self, running: &Patch, wanted: &Patch, morph: f64, d: &mut Diff) {
        for (name, _) in &running.neurons {
            if self.removed.contains(name.as_str()) {
                d.now.push(Edit::RemoveNeuron {
                    name: name.clone(),
                    morph,
                });
            } else if self.replaced.contains(name.as_str()) {
                d.now.push(Edit::RemoveNeuron {
                    name: name.clone(),
                    morph: 0.0,
                });
            }
        }
        for (name, spec) in &wanted.neurons {
            if self.added.contains(name.as_str()) {
                d.now.push(Edit::AddNeuron {
                    name: name.clone(),
                    neuron: spec.clone(),
                    weights: WMatrix::new(),
                });
            }
        }
    }

    /// Weights that change or appear (over the morph time) and that go (removed neurons'
    /// connections go with them), into `d.now`; returns the replaced neurons' connections, which
    /// come back later, at once.
    fn weights(
        &self,
        running: &Patch,
        wanted: &Patch,
        old: &WMatrix,
        morph: f64,
        d: &mut Diff,
    ) -> Vec<Edit> {
        let mut back = Vec::new();
        for (t, s, w) in wanted.weights.entries() {
            if touches(&self.replaced, t, s) {
                back.push(set(t, s, w, 0.0));
            } else if (old.get(t, s) != w || touches(&self.added, t, s))
                && running.weights.get(t, s) != w
            {
                d.now.push(set(t, s, w, morph));
            }
        }
        for (t, s, w) in old.entries() {
            if w != 0.0
                && wanted.weights.get(t, s) == 0.0
                && running.weights.get(t, s) != 0.0
                && !touches(&self.removed, t, s)
                && !touches(&self.replaced, t, s)
            {
                d.now.push(set(t, s, 0.0, morph));
            }
        }
        back
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::neurons::AssetDirs;

    fn p(text: &str) -> Patch {
        Patch::parse(text, "t.json", &AssetDirs::default()).unwrap_or_else(|e| panic!("{e}"))
    }

    const A: &str = r#"{
      "settings": { "tick_rate": 100, "sample_rate": 1000 },
      "neurons": { "k": {"type": "one"}, "x": {"type": "identity"}, "y": {"type": "identity"},
                   "ph": {"type": "phasor"} },
      "weights": { "x.in": {"k.out": 1}, "y.in": {"k.out": 2, "x.out": 3}, "ph.freq": {"k.out": 5} }
    }"#;

    #[test]
    fn same_patch_no_edits() {
        let d = diff(&p(A), &p(A), 0.5);
        assert!(d.is_empty(), "{d:?}");
        assert_eq!(d.batch_now(), None);
    }

    #[test]
    fn changed_added_and_dropped_weights_are_sets_with_the_morph() {
        let b = A
            .replace(r#""x.in": {"k.out": 1}"#, r#""x.in": {"k.out": 4}"#)
            .replace(r#""k.out": 2, "x.out": 3"#, r#""x.out": 3, "y.out": 0.5"#);
        let d = diff(&p(A), &p(&b), 0.5);
        assert!(d.later.is_empty());
        let s = |t: &str, src: &str, w: f64| Edit::Set {
            target: PortRef::parse(t).unwrap(),
            source: PortRef::parse(src).unwrap(),
            weight: w,
            morph: 0.5,
        };
        assert_eq!(d.now.len(), 3, "{d:?}");
        assert!(d.now.contains(&s("x.in", "k.out", 4.0)));
        assert!(d.now.contains(&s("y.in", "y.out", 0.5)));
        assert!(d.now.contains(&s("y.in", "k.out", 0.0)));
        assert!(matches!(d.batch_now(), Some(Edit::Batch { edits }) if edits.len() == 3));
    }

    #[test]
    fn neurons_added_and_removed_in_one_batch() {
        let b = r#"{
          "settings": { "tick_rate": 100, "sample_rate": 1000 },
          "neurons": { "k": {"type": "one"}, "x": {"type": "identity"},
                       "ph": {"type": "phasor"}, "z": {"type": "tanh"} },
          "weights": { "x.in": {"k.out": 1}, "ph.freq": {"k.out": 5}, "z.x": {"x.out": 2} }
        }"#;
        let d = diff(&p(A), &p(b), 0.0);
        assert!(d.later.is_empty());
        assert_eq!(
            d.now,
            vec![
                Edit::RemoveNeuron {
                    name: "y".into(),
                    morph: 0.0,
                },
                Edit::AddNeuron {
                    name: "z".into(),
                    neuron: NeuronSpec::new("tanh"),
                    weights: WMatrix::new()
                },
                Edit::Set {
                    target: PortRef::parse("z.x").unwrap(),
                    source: PortRef::parse("x.out").unwrap(),
                    weight: 2.0,
                    morph: 0.0
                },
            ],
            "y's weights go with y; z's come in after z"
        );
    }

    #[test]
    fn a_network_writing_its_own_w_keeps_its_weights_unless_the_text_changed_them() {
        let file = p(A);
        // The network moved y.in <- k.out from 2 to 7 by itself (and added y.in <- y.out).
        let mut running = file.clone();
        let (yi, k, yo) = (
            PortRef::parse("y.in").unwrap(),
            PortRef::parse("k.out").unwrap(),
            PortRef::parse("y.out").unwrap(),
        );
        running.weights.add_entry(&yi, &k, 5.0);
        running.weights.add_entry(&yi, &yo, 1.0);
        // The performer changes x.in only.
        let b = p(&A.replace(r#""x.in": {"k.out": 1}"#, r#""x.in": {"k.out": 4}"#));
        let d = diff_since(&file, &running, &b, 0.0);
        assert_eq!(
            d.now,
            vec![Edit::Set {
                target: PortRef::parse("x.in").unwrap(),
                source: k.clone(),
                weight: 4.0,
                morph: 0.0
            }]
        );
        // diff would have reset both of the network's own changes.
        assert_eq!(diff(&running, &b, 0.0).now.len(), 3);
        // Text that changes a weight the network also moves: the text wins.
        let c = p(&A.replace(r#""k.out": 2, "x.out": 3"#, r#""k.out": 9, "x.out": 3"#));
        let d = diff_since(&file, &running, &c, 0.0);
        assert!(
            matches!(&d.now[..], [Edit::Set { weight, .. }] if *weight == 9.0),
            "{d:?}"
        );
        assert!(!writes_own_w(&file));
        let w = p(
            r#"{ "neurons": { "u": {"type": "identity", "kind": "matrix"} },
                       "weights": { "self.delta": {"u.out": 1} } }"#,
        );
        assert!(writes_own_w(&w));
    }

    #[test]
    fn a_neuron_whose_type_changes_is_replaced_in_two_requests() {
        let b = A
            .replace(r#""y": {"type": "identity"}"#, r#""y": {"type": "tanh"}"#)
            .replace(r#""y.in""#, r#""y.x""#);
        let d = diff(&p(A), &p(&b), 1.0);
        assert_eq!(
            d.now,
            vec![Edit::RemoveNeuron {
                name: "y".into(),
                morph: 0.0,
            }]
        );
        assert_eq!(d.later.len(), 3, "{:?}", d.later);
        assert!(matches!(&d.later[0], Edit::AddNeuron { name, neuron, .. }
            if name == "y" && neuron.ty == "tanh"));
        for e in &d.later[1..] {
            assert!(
                matches!(e, Edit::Set { target, morph, .. } if target.neuron == "y" && *morph == 0.0),
                "{e:?}"
            );
        }
        // A comment is not a change.
        let c = A.replace(
            r#""y": {"type": "identity"}"#,
            r#""y": {"type": "identity", "comment": "hi"}"#,
        );
        assert!(diff(&p(A), &p(&c), 1.0).is_empty());
    }

    #[test]
    fn a_removed_neuron_fades_out_over_the_morph_time() {
        let b = r#"{
          "settings": { "tick_rate": 100, "sample_rate": 1000 },
          "neurons": { "k": {"type": "one"}, "x": {"type": "identity"}, "ph": {"type": "phasor"} },
          "weights": { "x.in": {"k.out": 1}, "ph.freq": {"k.out": 5} }
        }"#;
        let d = diff(&p(A), &p(b), 0.5);
        assert!(
            d.now.contains(&Edit::RemoveNeuron {
                name: "y".into(),
                morph: 0.5
            }),
            "{d:?}"
        );
    }
}
