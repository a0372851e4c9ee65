//! The panel's plain state: everything the panel shows, built from the newest engine snapshot and
//! the running catalogue. No egui, no engine handles: tests build one by hand or from a machine.

use crate::engine::machine::Level;
use crate::engine::thread::Snapshot;
use crate::neurons::network::{EDITS, Network, SELF};
use crate::stream::{Kind, PortRef, WMatrix};
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::Arc;

/// One port of the catalogue, as the panel lists it.
#[derive(Clone, Debug, PartialEq)]
pub struct PortInfo {
    pub port: PortRef,
    pub kind: Kind,
}

/// One neuron of the catalogue.
#[derive(Clone, Debug, PartialEq)]
pub struct NeuronInfo {
    pub name: String,
    pub ty: &'static str,
    pub inputs: Vec<PortInfo>,
    pub outputs: Vec<PortInfo>,
    /// `self` and `edits` are part of every network and cannot be removed.
    pub core: bool,
    pub is_display: bool,
}

/// Audio ring buffer figures (absent with no audio output).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct AudioMeter {
    pub fill: usize,
    pub capacity: usize,
    pub underruns: u64,
    /// Over- and underruns the device itself reported.
    pub device_xruns: u64,
    pub muted: bool,
    pub device: String,
}

/// Numbers for the meters section.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Meters {
    /// Engine tick reached.
    pub tick: u64,
    /// Wall time of the last engine tick, seconds.
    pub tick_seconds: f64,
    /// Seconds one tick may take to keep up (1 / tick_rate).
    pub tick_budget: f64,
    /// Window frames drawn per second.
    pub frames_per_second: f64,
    /// The longest gap between two window frames in the last second, seconds.
    pub frame_max_seconds: f64,
    /// Engine tick costs over the last second (CPU clock of the engine thread).
    pub load: crate::engine::meter::TickLoad,
    pub audio: Option<AudioMeter>,
    /// NaN/Inf values replaced by 0 so far, by neuron.
    pub nonfinite: Vec<(String, u64)>,
    pub backend: String,
}

/// One line of the message log.
#[derive(Clone, Debug, PartialEq)]
pub struct LogLine {
    pub level: Level,
    pub text: String,
}

/// Longest log kept; older lines are dropped.
pub const LOG_LINES: usize = 500;

/// Everything the panel shows. Rebuilt (`update`) when a new snapshot arrives.
#[derive(Clone, Debug, Default)]
pub struct PanelState {
    pub tick: u64,
    pub neurons: Vec<NeuronInfo>,
    /// Every input port: the heat map's rows, the editor's targets.
    pub inputs: Vec<PortInfo>,
    /// Every output port: the heat map's columns, the editor's sources.
    pub outputs: Vec<PortInfo>,
    pub w: WMatrix,
    /// `neuron.port` → the newest value of every scalar output.
    pub scalars: HashMap<String, f32>,
    pub meters: Meters,
    pub log: VecDeque<LogLine>,
    /// Display neuron name → texture showing its newest frame (filled in by the window).
    pub thumbnails: BTreeMap<String, egui::TextureId>,
    /// The catalogue these ports were built from. Holding it keeps its address unique, so a new
    /// catalogue is never mistaken for this one.
    catalogue: Option<Arc<Network>>,
}

impl PanelState {
    /// A state showing `net` with W `w` and no live values.
    pub fn from_network(net: &Network, w: &WMatrix) -> Self {
        let mut st = PanelState::default();
        st.set_network(net);
        st.w = w.clone();
        st
    }

    /// Takes the newest snapshot (and the catalogue it ran with).
    pub fn update(&mut self, snap: &Snapshot) {
        let net = &snap.net;
        if !self.catalogue.as_ref().is_some_and(|c| Arc::ptr_eq(c, net)) {
            self.set_network(net);
            self.catalogue = Some(net.clone());
        }
        self.tick = snap.tick;
        self.w.clone_from(&snap.w);
        self.scalars.clear();
        self.scalars
            .extend(snap.scalars.iter().map(|(k, v)| (k.clone(), *v)));
        self.meters.tick = snap.tick;
        self.meters.tick_seconds = snap.tick_seconds;
        self.meters.load = snap.load;
        self.meters.tick_budget = 1.0 / net.settings.tick_rate;
        self.meters.nonfinite = snap
            .nonfinite
            .iter()
            .filter(|(_, n)| **n > 0)
            .map(|(k, n)| (k.clone(), *n))
            .collect();
    }

    /// Rebuilds the neuron and port lists from a catalogue.
    pub fn set_network(&mut self, net: &Network) {
        self.neurons.clear();
        self.inputs.clear();
        self.outputs.clear();
        for n in &net.neurons {
            let ports = |ps: &[crate::neurons::Port]| -> Vec<PortInfo> {
                ps.iter()
                    .map(|p| PortInfo {
                        port: PortRef::new(n.name.clone(), p.name),
                        kind: p.kind,
                    })
                    .collect()
            };
            let info = NeuronInfo {
                name: n.name.clone(),
                ty: n.info.name,
                inputs: ports(&n.inputs),
                outputs: ports(&n.outputs),
                core: n.name == SELF || n.name == EDITS,
                is_display: n.op() == crate::neurons::Op::Display,
            };
            self.inputs.extend(info.inputs.iter().cloned());
            self.outputs.extend(info.outputs.iter().cloned());
            self.neurons.push(info);
        }
        self.meters.tick_budget = 1.0 / net.settings.tick_rate;
    }

    pub fn push_log(&mut self, level: Level, text: impl Into<String>) {
        self.log.push_back(LogLine {
            level,
            text: text.into(),
        });
        while self.log.len() > LOG_LINES {
            self.log.pop_front();
        }
    }

    pub fn input_kind(&self, port: &PortRef) -> Option<Kind> {
        self.inputs.iter().find(|p| &p.port == port).map(|p| p.kind)
    }

    pub fn output_kind(&self, port: &PortRef) -> Option<Kind> {
        self.outputs
            .iter()
            .find(|p| &p.port == port)
            .map(|p| p.kind)
    }

    /// Input ports a connection may be made to (Self's accumulator row is Self's own).
    pub fn targets(&self) -> impl Iterator<Item = &PortInfo> {
        self.inputs
            .iter()
            .filter(|p| !(p.port.neuron == SELF && p.port.port == "accum"))
    }

    /// Output ports that may feed `target`: same kind and, for images, same shape. Everything
    /// else is never offered (the type-correctness rule, DESIGN §1).
    pub fn sources_for(&self, target: &PortRef) -> Vec<&PortInfo> {
        match self.input_kind(target) {
            Some(k) => self.outputs.iter().filter(|p| p.kind == k).collect(),
            None => Vec::new(),
        }
    }

    /// Whether a weight may join `target` and `source`.
    pub fn compatible(&self, target: &PortRef, source: &PortRef) -> bool {
        match (self.input_kind(target), self.output_kind(source)) {
            (Some(a), Some(b)) => a == b && !(target.neuron == SELF && target.port == "accum"),
            _ => false,
        }
    }
}
