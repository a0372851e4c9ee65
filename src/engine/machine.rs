//! The tick: down stroke, up stroke, Self, and edits arriving through the `edits` neuron.
//!
//! Timing (the papers' timing, DESIGN §1): an edit request taken by `edits` in the up stroke of
//! tick t is emitted as Δ(t); the down stroke of t+1 copies it to `self.delta`; the up stroke of
//! t+1 adds it to W; the down stroke of t+2 is the first to use it. So a request taken at tick t
//! first changes the outputs of tick t+2: **latency 2 ticks**, for every request. A morph of n
//! ticks emits its first slice at t (first effect t+2) and its last at t+n−1 (lands at t+n+1).
//! Catalogue changes follow W: an added neuron joins at the end of t+1, when Self has added its
//! weights (its first up stroke, at t+2, sees them and starts from its `init` like a loaded
//! neuron); a removed one leaves at the start of t+2, or of t+2+n after a fade of n ticks.

use super::edits::{Edit, EditOutcome};
use super::inbox::Inbox;
use super::log::Log;
use super::matrix;
use super::midi_feed::MidiFeed;
use super::program::{Device, Program};
use super::schedule::{Due, Schedule};
use super::staging::{Ctx, Staged};
use crate::backend::{Backend, BackendError, TickCtx, TickOutputs};
use crate::neurons::control::{MidiIn, MidiState};
use crate::neurons::network::{EDITS, Network, SELF};
use crate::neurons::{AssetDirs, Init, clock};
use crate::stream::wmatrix::{MAX_WEIGHT, PortRef, WMatrix, weight_in_bounds};
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use thiserror::Error;

pub use super::log::{Level, Message};

/// Ticks from the tick at which `edits` takes a request to the first tick whose outputs show it.
pub const EDIT_LATENCY_TICKS: u64 = 2;

pub use super::midi_feed::MAX_MIDI_WAITING;

/// Makes the backend the engine goes on with when its own fails (a lost GPU device).
pub type Fallback = fn() -> Box<dyn Backend>;

#[derive(Debug, Error)]
pub enum EngineError {
    #[error(transparent)]
    Backend(#[from] BackendError),
    #[error("the initial network matrix is not type-correct: {}", .0.join("; "))]
    BadWeights(Vec<String>),
}

pub struct Machine {
    /// The program: catalogue, engine-side outputs (W among them), down-stroke plan.
    prog: Program,
    /// The backend running the dense neurons, and the one to go on with when it fails.
    dev: Device,
    assets: AssetDirs,
    seed: u64,
    tick: u64,
    out: TickOutputs,
    prev_scalars: Vec<f32>,
    /// Requests waiting for the next up stroke of `edits`.
    inbox: Inbox,
    schedule: Schedule,
    log: Log,
    /// MIDI input: events waiting for their tick, and what MIDI has set.
    midi: MidiFeed,
    /// The `w_image` neurons, whose images the engine computes and writes into the backend.
    views: Vec<matrix::ViewSlot>,
}

/// Checks the initial W: the type rule and the weight bound on every entry.
fn check_initial(net: &Network, w: &WMatrix) -> Result<(), EngineError> {
    let errors: Vec<String> = w
        .entries()
        .filter(|(t, s, _)| {
            !(t.neuron == SELF && t.port == "accum" && s.neuron == SELF && s.port == "out")
        })
        .filter_map(|(t, s, v)| match net.check_weight(t, s, v) {
            Err(e) => Some(e.to_string()),
            Ok(()) if !weight_in_bounds(v) => Some(format!(
                "weight {t} <- {s} is {v:e}; weights are bounded by |w| <= {MAX_WEIGHT:e}"
            )),
            Ok(()) => None,
        })
        .collect();
    if errors.is_empty() {
        Ok(())
    } else {
        Err(EngineError::BadWeights(errors))
    }
}

fn init_matrix(def: &crate::neurons::NeuronDef) -> WMatrix {
    match &def.params.init {
        Init::Matrix(m) => m.clone(),
        _ => WMatrix::new(),
    }
}

impl Machine {
    /// Starts a machine on `net` with initial W `w0` (the core weights are added if missing),
    /// falling back to the CPU reference backend if `backend` fails.
    pub fn new(
        net: Network,
        w0: WMatrix,
        backend: Box<dyn Backend>,
        assets: AssetDirs,
        seed: u64,
    ) -> Result<Self, EngineError> {
        Self::with_fallback(net, w0, backend, crate::backend::reference, assets, seed)
    }

    /// Like `new`, with the backend to go on with when `backend` fails.
    pub fn with_fallback(
        net: Network,
        w0: WMatrix,
        mut backend: Box<dyn Backend>,
        fallback: Fallback,
        assets: AssetDirs,
        seed: u64,
    ) -> Result<Self, EngineError> {
        let mut w = w0;
        for (t, s, v) in Network::core_weights().entries() {
            if w.get(t, s) != v {
                w.add_entry(t, s, v - w.get(t, s));
            }
        }
        // An image_w's block of W holds its starting image from birth.
        let bl = net.block_len();
        for n in net.neurons.iter() {
            if let Some(b) = n.params.binding.as_ref().filter(|b| !b.deltas)
                && let Some(img) = crate::neurons::init_outputs(n, bl).first()
            {
                matrix::write_binding(&mut w, &n.name, b, img, &net, &mut Log::default(), 0);
            }
        }
        let bad = matrix::check_bindings(&net);
        if !bad.is_empty() {
            return Err(EngineError::BadWeights(bad));
        }
        check_initial(&net, &w)?;
        backend.set_layout(&net, &vec![None; net.neurons.len()])?;
        let mut mout: HashMap<String, WMatrix> = net
            .neurons
            .iter()
            .filter(|n| n.engine_side())
            .map(|n| (n.name.clone(), init_matrix(n)))
            .collect();
        mout.insert(SELF.to_string(), w);
        let views = matrix::view_slots(&net);
        Ok(Machine {
            prog: Program::new(net, mout),
            dev: Device { backend, fallback },
            assets,
            seed,
            tick: 0,
            out: TickOutputs::default(),
            prev_scalars: Vec::new(),
            inbox: Inbox::default(),
            schedule: Schedule::default(),
            log: Log::default(),
            midi: MidiFeed::default(),
            views,
        })
    }

    pub fn network(&self) -> &Arc<Network> {
        &self.prog.net
    }

    /// The network matrix that drives the next down stroke (Self's latest output).
    pub fn w(&self) -> &WMatrix {
        &self.prog.mout[SELF]
    }

    /// The next tick to run (= ticks run so far).
    pub fn tick_count(&self) -> u64 {
        self.tick
    }

    /// Gives the backend back (to start a machine on another patch).
    pub fn into_backend(self) -> Box<dyn Backend> {
        self.dev.backend
    }

    /// The seed of every noise neuron.
    pub fn seed(&self) -> u64 {
        self.seed
    }

    pub fn backend_name(&self) -> String {
        self.dev.backend.name()
    }

    /// The last tick's read-back.
    pub fn outputs(&self) -> &TickOutputs {
        &self.out
    }

    /// A scalar output by `neuron.port`, from the last tick.
    pub fn scalar(&self, port: &str) -> Option<f32> {
        let p = PortRef::parse(port).ok()?;
        let (n, pi, _) = self.prog.net.output_port(&p).ok()?;
        let k = self
            .prog
            .net
            .scalar_ports
            .iter()
            .position(|&x| x == (n, pi))?;
        self.out.scalars.get(k).copied()
    }

    /// Names of the scalar outputs, in the order of `outputs().scalars`.
    pub fn scalar_names(&self) -> Vec<String> {
        scalar_names(&self.prog.net)
    }

    /// Reads one dense port by `neuron.port` (output if it is one, else input).
    pub fn read(&mut self, port: &str) -> Option<Vec<f32>> {
        let p = PortRef::parse(port).ok()?;
        let (n, pi, output) = match self.prog.net.output_port(&p) {
            Ok((n, pi, _)) => (n, pi, true),
            Err(_) => {
                let (n, pi, _) = self.prog.net.input_port(&p).ok()?;
                (n, pi, false)
            }
        };
        self.dev
            .backend
            .read_port(&self.prog.net, n, pi, output)
            .ok()
    }

    /// Reads one dense port by index (`output = false`: an input after the down stroke) into
    /// `out`, reusing its allocation; false if the backend could not. The scope's feed, which
    /// resolves the port once per catalogue.
    pub fn read_into(
        &mut self,
        neuron: usize,
        port: usize,
        output: bool,
        out: &mut Vec<f32>,
    ) -> bool {
        self.dev
            .backend
            .read_port_into(&self.prog.net, neuron, port, output, out)
            .is_ok()
    }

    /// The matrix output of an engine-side neuron.
    pub fn matrix_output(&self, neuron: &str) -> Option<&WMatrix> {
        self.prog.mout.get(neuron)
    }

    /// Queues an edit for the `edits` neuron; it is taken in the next tick's up stroke.
    /// Returns an id that `take_outcomes` reports on.
    pub fn submit(&mut self, edit: Edit) -> u64 {
        self.inbox.push(edit)
    }

    /// A MIDI event arriving now: it is taken at the start of the next tick (stamped with it).
    pub fn midi_in(&mut self, ev: MidiIn) {
        self.midi_at(self.tick, ev);
    }

    /// A MIDI event for tick `tick` (a replay of recorded events): taken at the start of that
    /// tick, or of the next one when `tick` has passed. Events for one tick keep their order.
    pub fn midi_at(&mut self, tick: u64, ev: MidiIn) {
        self.midi.push(tick, ev);
    }

    /// What MIDI has set up to the last tick.
    pub fn midi(&self) -> &MidiState {
        &self.midi.state
    }

    /// MIDI events dropped so far because too many were waiting for their tick.
    pub fn midi_dropped(&self) -> u64 {
        self.midi.dropped()
    }

    pub fn take_messages(&mut self) -> Vec<Message> {
        self.log.take_messages()
    }

    /// Every request's outcome since the last call; a rejection is reported only here.
    pub fn take_outcomes(&mut self) -> Vec<(u64, EditOutcome)> {
        self.log.take_outcomes()
    }

    /// NaN/Inf values replaced by 0 so far, by neuron.
    pub fn nonfinite_counts(&self) -> &BTreeMap<String, u64> {
        self.log.nonfinite()
    }

    /// Runs one tick: due catalogue changes, down stroke, up stroke, read-back, requests.
    pub fn tick(&mut self, capture: bool) -> Result<&TickOutputs, EngineError> {
        let due = self.schedule.take_due(self.tick);
        if !due.is_empty() {
            self.apply_due(due)?;
        }
        self.midi.take_due(self.tick);
        self.prog
            .plan
            .refresh(&self.prog.net, &self.prog.mout[SELF]);
        let x = matrix::down(
            &self.prog.net,
            &self.prog.mout,
            &self.prev_scalars,
            &self.prog.self_delta,
        );
        let midi = self.midi.state.clone();
        let ctx = TickCtx {
            tick: self.tick,
            seed: self.seed,
            capture,
            midi: &midi,
        };
        if let Err(e) =
            self.dev
                .backend
                .tick(&self.prog.net, &self.prog.plan.plan, &ctx, &mut self.out)
        {
            if !self.dev.backend.falls_back_to_cpu() {
                return Err(e.into());
            }
            self.fall_back(e, &ctx)?;
        }
        self.write_views();
        self.engine_up(x);
        for (i, &c) in self.out.nonfinite.iter().enumerate() {
            if let Some(n) = self.prog.net.neurons.get(i) {
                self.log.count_nonfinite(self.tick, &n.name, c as u64);
            }
        }
        self.prev_scalars.clone_from(&self.out.scalars);
        self.tick += 1;
        // Neurons whose weights Self has just added join now, so that W and the catalogue agree.
        let due = self.schedule.take_due_additions(self.tick);
        if !due.is_empty() {
            self.apply_due(due)?;
        }
        Ok(&self.out)
    }

    /// The backend failed (device lost, driver reset, validation error): go on with the
    /// fallback. The dense states lived on the device and are gone, so neurons restart from
    /// their initial values; W, the catalogue and the engine-side neurons are untouched.
    fn fall_back(&mut self, e: BackendError, ctx: &TickCtx) -> Result<(), EngineError> {
        let was = self.dev.backend.name();
        let mut next = (self.dev.fallback)();
        next.set_layout(&self.prog.net, &vec![None; self.prog.net.neurons.len()])?;
        next.tick(&self.prog.net, &self.prog.plan.plan, ctx, &mut self.out)?;
        let name = next.name();
        self.dev.backend = next;
        self.log.say(
            self.tick,
            Level::Error,
            format!("{was} failed ({e}); the engine goes on with the {name} backend (neuron states restarted)"),
        );
        Ok(())
    }

    /// Every `w_image` due this tick: its block of its matrix input (before Self moves W), written
    /// into the backend for the next down stroke.
    fn write_views(&mut self) {
        for v in &mut self.views {
            if !clock::due(v.period, self.tick) {
                continue;
            }
            let bad = matrix::fill_view(v, &self.prog.mout);
            let name = &self.prog.net.neurons[v.neuron].name;
            self.log.count_nonfinite(self.tick, name, bad);
            if let Err(e) = self
                .dev
                .backend
                .write_output(&self.prog.net, v.neuron, 0, &v.img)
            {
                self.log
                    .say_once(format!("w_image {name}"), self.tick, Level::Error, || {
                        format!("{name}: {e}")
                    });
            }
        }
    }

    /// Up stroke of the engine-side neurons, then `edits`, which takes the queued requests
    /// against the new W.
    fn engine_up(&mut self, x: matrix::Inputs) {
        // W may already hold the weights of neurons about to join: check against those too.
        let planned = if self.schedule.additions.is_empty() {
            None
        } else {
            self.schedule.planned(&self.prog.net).ok()
        };
        let check = planned.as_ref().unwrap_or(&self.prog.net);
        for (ni, y) in matrix::up(&self.prog.net, x.others, &mut self.log, self.tick) {
            set_output(&mut self.prog.mout, &self.prog.net.neurons[ni].name, y);
        }
        // Self: W += delta, in place; a tick with nothing on self.delta leaves W (and the plan)
        // as they are.
        if let Some(delta) = x.self_delta
            && let Some(w) = self.prog.mout.get_mut(SELF)
            && matrix::add_to_w(w, &delta, check, &mut self.log, self.tick)
        {
            self.prog.plan.dirty = true;
        }
        self.write_bindings(planned.as_ref());
        let delta = self.take_requests(planned);
        set_output(&mut self.prog.mout, EDITS, delta);
    }

    /// Every `image_w` writes its new output into its block of W (after Self's delta).
    fn write_bindings(&mut self, planned: Option<&Network>) {
        let net = Arc::clone(&self.prog.net);
        let check = planned.unwrap_or(&net);
        for (ni, n) in net.neurons.iter().enumerate() {
            let Some(b) = &n.params.binding else { continue };
            // Between its frame ticks an image_w holds its image: written again it would add a
            // `deltas` block once per tick instead of once per frame.
            if !clock::due(clock::neuron_period(n, &net.settings), self.tick) {
                continue;
            }
            let Ok(img) = self.dev.backend.read_port(&net, ni, 0, true) else {
                continue;
            };
            if let Some(w) = self.prog.mout.get_mut(SELF)
                && matrix::write_binding(w, &n.name, b, &img, check, &mut self.log, self.tick)
            {
                self.prog.plan.dirty = true;
            }
        }
    }

    /// The `edits` neuron: every queued request, each checked in full first, plus the slices
    /// of the morphs in progress. Requests go first so that a `set` stops an earlier morph of
    /// its entry where W is, before that morph's slice of this tick.
    fn take_requests(&mut self, planned: Option<Network>) -> WMatrix {
        let older = self.schedule.morphs.len();
        let mut delta = WMatrix::new();
        let inbox = self.inbox.take();
        let mut requested = match (inbox.is_empty(), planned) {
            (true, _) => None,
            (false, Some(p)) => Some(p),
            (false, None) => Some((*self.prog.net).clone()),
        };
        for (id, edit) in inbox {
            let Some(net) = requested.take() else { break };
            let mut st = Staged::new(net.clone(), delta.clone());
            let ctx = Ctx {
                w: &self.prog.mout[SELF],
                schedule: &self.schedule,
                assets: &self.assets,
                tick: self.tick,
                tick_rate: self.prog.net.settings.tick_rate,
            };
            match st.stage(&ctx, &edit) {
                Ok(()) => {
                    delta = std::mem::take(&mut st.delta);
                    requested = Some(self.commit(st));
                    self.log.applied(id, self.tick);
                }
                Err(errors) => {
                    requested = Some(net);
                    self.log.rejected(id, self.tick, errors);
                }
            }
        }
        let slices = self.schedule.next_slices(&self.prog.mout[SELF], older);
        delta.add_scaled(&slices, 1.0);
        delta
    }

    /// Makes a staged request's promises: ends the morphs it overrides, starts its own, and
    /// schedules its catalogue changes. Returns the catalogue as now requested.
    fn commit(&mut self, st: Staged) -> Network {
        for m in &mut self.schedule.morphs {
            for (t, s) in &st.cancel {
                m.cancel(t, s);
            }
            for n in &st.cancel_neurons {
                m.cancel_neuron(n);
            }
        }
        self.schedule.morphs.extend(st.morphs);
        self.schedule.removals.extend(st.removals);
        self.schedule.additions.extend(st.additions);
        st.net
    }

    /// Applies the catalogue changes due this tick, before its down stroke.
    fn apply_due(&mut self, due: Due) -> Result<(), EngineError> {
        let mut net = (*self.prog.net).clone();
        for def in due.additions {
            let name = def.name.clone();
            if let Err(e) = net.insert(def) {
                // Staging checked the name; say so rather than stop if it ever happens.
                self.log.say(
                    self.tick,
                    Level::Error,
                    format!("add_neuron {name:?}: {}", e.msg),
                );
            }
        }
        for name in &due.removals {
            net.remove(name);
            let left = self
                .prog
                .mout
                .get_mut(SELF)
                .map(|w| w.take_neuron(name))
                .unwrap_or_default();
            if !left.is_empty() {
                self.log.say(
                    self.tick,
                    Level::Notice,
                    format!(
                        "removed neuron {name}: {} connection(s) added to it meanwhile were dropped",
                        left.len()
                    ),
                );
            }
            self.log.forget(name);
        }
        self.install(net)
    }

    /// Installs a new catalogue, carrying every surviving neuron's state by name; new neurons
    /// start from their `init` (the backend's `set_layout`, and `init_matrix` here).
    fn install(&mut self, net: Network) -> Result<(), EngineError> {
        let carry: Vec<Option<usize>> = net
            .neurons
            .iter()
            .map(|n| self.prog.net.find(&n.name).map(|(i, _)| i))
            .collect();
        if let Err(e) = self.dev.backend.set_layout(&net, &carry) {
            if !self.dev.backend.falls_back_to_cpu() {
                return Err(e.into());
            }
            let was = self.dev.backend.name();
            let mut next = (self.dev.fallback)();
            next.set_layout(&net, &vec![None; net.neurons.len()])?;
            let name = next.name();
            self.dev.backend = next;
            self.log.say(
                self.tick,
                Level::Error,
                format!("{was} cannot hold the new network ({e}); the engine goes on with the {name} backend (neuron states restarted)"),
            );
        }
        for n in net.neurons.iter().filter(|n| n.engine_side()) {
            if !self.prog.mout.contains_key(&n.name) {
                self.prog.mout.insert(n.name.clone(), init_matrix(n));
            }
        }
        self.prog.mout.retain(|k, _| net.contains(k));
        self.views = matrix::view_slots(&net);
        // Scalars move when the catalogue changes: remap the newest read-back by port name.
        let old: HashMap<String, f32> = self
            .scalar_names()
            .into_iter()
            .zip(self.out.scalars.iter().copied())
            .collect();
        self.prog.net = Arc::new(net);
        // A new neuron's scalars read its init (its output before its first tick).
        let mut fresh = |k: usize| {
            let (n, p) = self.prog.net.scalar_ports[k];
            let v = self.dev.backend.read_port(&self.prog.net, n, p, true).ok();
            v.and_then(|v| v.first().copied())
                .filter(|x| x.is_finite())
                .unwrap_or(0.0)
        };
        self.prev_scalars = scalar_names(&self.prog.net)
            .iter()
            .enumerate()
            .map(|(k, n)| old.get(n).copied().unwrap_or_else(|| fresh(k)))
            .collect();
        self.out.scalars.clone_from(&self.prev_scalars);
        // Rebuild the plan; its W stays the one used last tick, so audio weights do not ramp
        // from zero after a catalogue change.
        self.prog.plan.dirty = true;
        Ok(())
    }
}

/// Replaces an engine-side neuron's output (no new key string when it is there already).
fn set_output(mout: &mut HashMap<String, WMatrix>, name: &str, y: WMatrix) {
    match mout.get_mut(name) {
        Some(m) => *m = y,
        None => {
            mout.insert(name.to_string(), y);
        }
    }
}

fn scalar_names(net: &Network) -> Vec<String> {
    net.scalar_ports
        .iter()
        .map(|&(n, p)| {
            let d = &net.neurons[n];
            format!("{}.{}", d.name, d.outputs[p].name)
        })
        .collect()
}
