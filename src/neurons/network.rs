//! The catalogue of a running network (which neurons exist, with resolved ports) and the
//! type-correctness rule for weights. Backends receive it as their layout.

use super::{AssetDirs, NeuronDef, NeuronSpec, Op, SpecError, resolve};
use crate::stream::{Kind, MAX_WEIGHT, PortRef, Settings, WMatrix};
use std::collections::HashMap;
use thiserror::Error;

/// Why a weight may not exist.
#[derive(Debug, Clone, PartialEq, Error)]
pub enum WeightError {
    #[error("unknown neuron {neuron:?} in {port}")]
    UnknownNeuron { port: PortRef, neuron: String },
    #[error("{port}: neuron {neuron:?} ({ty}) has no input port {name:?}; its inputs are: {known}")]
    UnknownInput {
        port: PortRef,
        neuron: String,
        ty: &'static str,
        name: String,
        known: String,
    },
    #[error(
        "{port}: neuron {neuron:?} ({ty}) has no output port {name:?}; its outputs are: {known}"
    )]
    UnknownOutput {
        port: PortRef,
        neuron: String,
        ty: &'static str,
        name: String,
        known: String,
    },
    #[error(
        "kind mismatch: {target} is {target_kind} but {source_port} is {source_kind} (a weight joins ports of the same kind and shape)"
    )]
    KindMismatch {
        target: PortRef,
        target_kind: Kind,
        source_port: PortRef,
        source_kind: Kind,
    },
    #[error("weight {target} <- {source_port} is not finite ({w})")]
    NotFinite {
        target: PortRef,
        source_port: PortRef,
        w: f64,
    },
    #[error(
        "weight {target} <- {source_port} is {w:e}: beyond the largest allowed |w| ({MAX_WEIGHT:e})"
    )]
    TooLarge {
        target: PortRef,
        source_port: PortRef,
        w: f64,
    },
    #[error(
        "self.accum is Self's own accumulator (fed from self.out with weight 1); it cannot be edited"
    )]
    ProtectedRow,
}

/// The neurons of a network, in a stable order (`self` and `edits` first).
#[derive(Clone, Debug)]
pub struct Network {
    pub settings: Settings,
    pub neurons: Vec<NeuronDef>,
    index: HashMap<String, usize>,
    /// `(neuron, output port)` of every scalar output computed by the backend, in order: the
    /// trace and the engine read scalars in this order.
    pub scalar_ports: Vec<(usize, usize)>,
    pub displays: Vec<usize>,
    pub audio_outs: Vec<usize>,
}

pub const SELF: &str = "self";
pub const EDITS: &str = "edits";

// Weight errors are cold paths; their size does not matter.
#[allow(clippy::result_large_err)]
impl Network {
    /// A network holding only `self` and `edits`.
    pub fn new(settings: Settings) -> Self {
        let mut net = Network {
            settings,
            neurons: Vec::new(),
            index: HashMap::new(),
            scalar_ports: Vec::new(),
            displays: Vec::new(),
            audio_outs: Vec::new(),
        };
        let assets = AssetDirs::default();
        for (name, ty) in [(SELF, "self"), (EDITS, "edits")] {
            let def = resolve(name, &NeuronSpec::new(ty), &net.settings, &assets)
                .expect("built-in neurons resolve");
            net.push(def);
        }
        net
    }

    /// The W every network starts from: Self accumulates, edits feed Self's delta.
    pub fn core_weights() -> WMatrix {
        let mut w = WMatrix::single(PortRef::new(SELF, "accum"), PortRef::new(SELF, "out"), 1.0);
        w.add_entry(
            &PortRef::new(SELF, "delta"),
            &PortRef::new(EDITS, "out"),
            1.0,
        );
        w
    }

    pub fn block_len(&self) -> usize {
        self.settings.block_len()
    }

    pub fn find(&self, name: &str) -> Option<(usize, &NeuronDef)> {
        self.index.get(name).map(|&i| (i, &self.neurons[i]))
    }

    pub fn contains(&self, name: &str) -> bool {
        self.index.contains_key(name)
    }

    /// Resolves and adds a neuron. Errors name the setting that is wrong.
    pub fn add(
        &mut self,
        name: &str,
        spec: &NeuronSpec,
        assets: &AssetDirs,
    ) -> Result<(), SpecError> {
        if self.contains(name) {
            return Err(SpecError {
                field: String::new(),
                msg: format!("a neuron named {name:?} already exists"),
            });
        }
        if matches!(spec.ty.as_str(), "self" | "edits") {
            return Err(SpecError {
                field: "type".into(),
                msg: format!(
                    "there is exactly one {:?} neuron, named {:?}, in every network; it cannot be added",
                    spec.ty, spec.ty
                ),
            });
        }
        let def = resolve(name, spec, &self.settings, assets)?;
        self.push(def);
        Ok(())
    }

    /// Adds a neuron resolved earlier (the engine resolves an `add_neuron` when it takes the
    /// request and installs it when its weights are in W).
    pub fn insert(&mut self, def: NeuronDef) -> Result<(), SpecError> {
        if self.contains(&def.name) {
            return Err(SpecError {
                field: String::new(),
                msg: format!("a neuron named {:?} already exists", def.name),
            });
        }
        self.push(def);
        Ok(())
    }

    /// Appends a neuron, updating the indexes in place (loading n neurons is O(n), not O(n²)).
    fn push(&mut self, def: NeuronDef) {
        let i = self.neurons.len();
        self.index.insert(def.name.clone(), i);
        self.neurons.push(def);
        self.index_roles(i);
    }

    /// Removes a neuron (not `self` or `edits`). Returns whether it existed.
    pub fn remove(&mut self, name: &str) -> bool {
        if name == SELF || name == EDITS {
            return false;
        }
        let Some(i) = self.index.get(name).copied() else {
            return false;
        };
        self.neurons.remove(i);
        self.reindex();
        true
    }

    /// Rebuilds every index (after a removal shifted the positions).
    fn reindex(&mut self) {
        self.index = self
            .neurons
            .iter()
            .enumerate()
            .map(|(i, n)| (n.name.clone(), i))
            .collect();
        self.scalar_ports.clear();
        self.displays.clear();
        self.audio_outs.clear();
        for i in 0..self.neurons.len() {
            self.index_roles(i);
        }
    }

    /// Records neuron `i`'s scalar outputs, display and audio output roles (in neuron order).
    fn index_roles(&mut self, i: usize) {
        let n = &self.neurons[i];
        if n.engine_side() {
            return;
        }
        for (p, port) in n.outputs.iter().enumerate() {
            if port.kind == Kind::Scalar {
                self.scalar_ports.push((i, p));
            }
        }
        match n.op() {
            Op::Display => self.displays.push(i),
            Op::AudioOut => self.audio_outs.push(i),
            _ => {}
        }
    }

    /// `(neuron index, input index, kind)` of a target port, or why it does not exist.
    pub fn input_port(&self, port: &PortRef) -> Result<(usize, usize, Kind), WeightError> {
        let (ni, n) = self.find(&port.neuron).ok_or(WeightError::UnknownNeuron {
            port: port.clone(),
            neuron: port.neuron.clone(),
        })?;
        let (pi, kind) = n
            .input(&port.port)
            .ok_or_else(|| WeightError::UnknownInput {
                port: port.clone(),
                neuron: n.name.clone(),
                ty: n.info.name,
                name: port.port.clone(),
                known: port_list(n.inputs.iter().map(|p| (p.name, p.kind))),
            })?;
        Ok((ni, pi, kind))
    }

    /// `(neuron index, output index, kind)` of a source port, or why it does not exist.
    pub fn output_port(&self, port: &PortRef) -> Result<(usize, usize, Kind), WeightError> {
        let (ni, n) = self.find(&port.neuron).ok_or(WeightError::UnknownNeuron {
            port: port.clone(),
            neuron: port.neuron.clone(),
        })?;
        let (pi, kind) = n
            .output(&port.port)
            .ok_or_else(|| WeightError::UnknownOutput {
                port: port.clone(),
                neuron: n.name.clone(),
                ty: n.info.name,
                name: port.port.clone(),
                known: port_list(n.outputs.iter().map(|p| (p.name, p.kind))),
            })?;
        Ok((ni, pi, kind))
    }

    /// The type-correctness rule: the target is an input, the source an output, both of the same
    /// kind (and image shape), the weight finite, and Self's accumulator
    /// row untouched.
    pub fn check_weight(
        &self,
        target: &PortRef,
        source: &PortRef,
        w: f64,
    ) -> Result<(), WeightError> {
        if !w.is_finite() {
            return Err(WeightError::NotFinite {
                target: target.clone(),
                source_port: source.clone(),
                w,
            });
        }
        if target.neuron == SELF && target.port == "accum" {
            return Err(WeightError::ProtectedRow);
        }
        let (_, _, tk) = self.input_port(target)?;
        let (_, _, sk) = self.output_port(source)?;
        if tk != sk {
            return Err(WeightError::KindMismatch {
                target: target.clone(),
                target_kind: tk,
                source_port: source.clone(),
                source_kind: sk,
            });
        }
        Ok(())
    }

    /// Checks every entry of a W-shaped value; returns all problems.
    /// `check_weight` for a value W is to hold (a patch's weight, a matrix init), which must also
    /// lie within ±`MAX_WEIGHT`. Deltas are checked with `check_weight`: a change may be larger
    /// than the bound (from -1e30 to 1e30) while the value it lands on is not.
    pub fn check_value(
        &self,
        target: &PortRef,
        source: &PortRef,
        w: f64,
    ) -> Result<(), WeightError> {
        self.check_weight(target, source, w)?;
        if w.abs() > MAX_WEIGHT {
            return Err(WeightError::TooLarge {
                target: target.clone(),
                source_port: source.clone(),
                w,
            });
        }
        Ok(())
    }

    pub fn check_matrix(&self, m: &WMatrix) -> Vec<WeightError> {
        m.entries()
            .filter_map(|(t, s, w)| self.check_value(t, s, w).err())
            .collect()
    }
}

fn port_list<'a>(ports: impl Iterator<Item = (&'a str, Kind)>) -> String {
    let v: Vec<String> = ports.map(|(n, k)| format!("{n} ({k})")).collect();
    if v.is_empty() {
        "(none)".into()
    } else {
        v.join(", ")
    }
}

/// One weighted source in the down stroke. On audio ports the weight ramps from `w0` to `w1`
/// across the block (no zipper noise when a weight jumps); other kinds use `w1`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Term {
    pub neuron: usize,
    pub port: usize,
    pub w0: f32,
    pub w1: f32,
}

/// The down-stroke work for one dense input port.
#[derive(Clone, Debug, PartialEq)]
pub struct Row {
    pub neuron: usize,
    pub port: usize,
    pub kind: Kind,
    pub terms: Vec<Term>,
}

/// Every dense input port of the backend's neurons that has at least one weight; all other
/// inputs are zero. Rebuilt when W or the catalogue changes (`version` says when).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct DownPlan {
    pub version: u64,
    pub rows: Vec<Row>,
}

impl DownPlan {
    /// Builds the plan for `w`, ramping audio weights from `prev` (the W of the previous tick).
    /// Entries that fail the type rule are skipped (they cannot be in W: every path that adds a
    /// weight checks it).
    pub fn build(net: &Network, w: &WMatrix, prev: &WMatrix, version: u64) -> DownPlan {
        let mut rows: Vec<Row> = Vec::new();
        let mut targets: Vec<&PortRef> = w.rows().map(|(t, _)| t).collect();
        for (t, _) in prev.rows() {
            if w.row(t).is_none() {
                targets.push(t);
            }
        }
        for target in targets {
            let Ok((ni, pi, kind)) = net.input_port(target) else {
                continue;
            };
            if !kind.is_dense() || net.neurons[ni].engine_side() {
                continue;
            }
            let mut terms = Vec::new();
            let empty = Default::default();
            let new_row = w.row(target).unwrap_or(&empty);
            let old_row = prev.row(target).unwrap_or(&empty);
            let ramp = kind == Kind::Audio;
            let mut push = |src: &PortRef, w0: f64, w1: f64| {
                if let Ok((sn, sp, sk)) = net.output_port(src)
                    && sk == kind
                {
                    terms.push(Term {
                        neuron: sn,
                        port: sp,
                        w0: if ramp { w0 as f32 } else { w1 as f32 },
                        w1: w1 as f32,
                    });
                }
            };
            for (src, &w1) in new_row {
                push(src, old_row.get(src).copied().unwrap_or(0.0), w1);
            }
            if ramp {
                for (src, &w0) in old_row {
                    if !new_row.contains_key(src) {
                        push(src, w0, 0.0);
                    }
                }
            }
            if !terms.is_empty() {
                rows.push(Row {
                    neuron: ni,
                    port: pi,
                    kind,
                    terms,
                });
            }
        }
        rows.sort_by_key(|r| (r.neuron, r.port));
        DownPlan { version, rows }
    }
}
