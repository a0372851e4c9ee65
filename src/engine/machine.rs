//! The tick: down stroke, up stroke, Self, and edits arriving through the `edits` neuron.
//!
//! Timing (the papers' timing, DESIGN §1): an edit request taken by `edits` in the up stroke of
//! tick t is emitted as Δ(t); the down stroke of t+1 copies it to `self.delta`; the up stroke of
//! t+1 adds it to W; the down stroke of t+2 is the first to use it. So a request taken at tick t
//! first changes the outputs of tick t+2: **latency 2 ticks**.

use super::edits::{Edit, EditOutcome, Morph};
use crate::backend::cpu::CpuBackend;
use crate::backend::{Backend, BackendError, TickCtx, TickOutputs};
use crate::neurons::network::{DownPlan, EDITS, Network, SELF};
use crate::neurons::{AssetDirs, Init, Op};
use crate::stream::kind::Kind;
use crate::stream::wmatrix::{PortRef, WMatrix};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;
use thiserror::Error;

/// Ticks from the tick at which `edits` takes a request to the first tick whose outputs show it.
pub const EDIT_LATENCY_TICKS: u64 = 2;

#[derive(Debug, Error)]
pub enum EngineError {
    #[error(transparent)]
    Backend(#[from] BackendError),
    #[error("the initial network matrix is not type-correct:\n  {}", .0.join("\n  "))]
    BadWeights(Vec<String>),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Level {
    Notice,
    Error,
}

/// Something the performer should read (the panel's log, stderr in `render`).
#[derive(Clone, Debug, PartialEq)]
pub struct Message {
    pub tick: u64,
    pub level: Level,
    pub text: String,
}

/// Staging area for one request: checked on copies, committed only if everything is right.
struct Staged {
    net: Network,
    delta: WMatrix,
    morphs: Vec<Morph>,
    /// Neurons to remove, each with the ticks its connections take to fade out first.
    removals: Vec<(String, u64)>,
    changed_catalogue: bool,
    /// Entries (and neurons) whose morphs in progress this request ends.
    cancel: Vec<(PortRef, PortRef)>,
    cancel_neurons: Vec<String>,
}

impl Staged {
    fn cancel(&mut self, t: &PortRef, s: &PortRef) {
        for m in &mut self.morphs {
            m.cancel(t, s);
        }
        self.cancel.push((t.clone(), s.clone()));
    }
}

pub struct Machine {
    net: Arc<Network>,
    backend: Box<dyn Backend>,
    assets: AssetDirs,
    /// Outputs of engine-side (matrix) neurons, by name. `self`'s is W.
    mout: HashMap<String, WMatrix>,
    tick: u64,
    seed: u64,
    plan: DownPlan,
    plan_w: WMatrix,
    plan_dirty: bool,
    out: TickOutputs,
    prev_scalars: Vec<f32>,
    inbox: Vec<(u64, Edit)>,
    next_id: u64,
    morphs: Vec<Morph>,
    removals: Vec<(u64, String)>,
    messages: Vec<Message>,
    outcomes: Vec<(u64, EditOutcome)>,
    nonfinite: BTreeMap<String, u64>,
    reported: HashSet<String>,
}

impl Machine {
    /// Starts a machine on `net` with initial W `w0` (the core weights are added if missing).
    pub fn new(
        net: Network,
        w0: WMatrix,
        mut backend: Box<dyn Backend>,
        assets: AssetDirs,
        seed: u64,
    ) -> Result<Self, EngineError> {
        let mut w = w0;
        for (t, s, v) in Network::core_weights().entries() {
            if w.get(t, s) != v {
                w.add_entry(t, s, v - w.get(t, s));
            }
        }
        let errors: Vec<String> = w
            .entries()
            .filter(|(t, s, _)| {
                !(t.neuron == SELF && t.port == "accum" && s.neuron == SELF && s.port == "out")
            })
            .filter_map(|(t, s, v)| net.check_weight(t, s, v).err().map(|e| e.to_string()))
            .collect();
        if !errors.is_empty() {
            return Err(EngineError::BadWeights(errors));
        }
        let carry = vec![None; net.neurons.len()];
        backend.set_layout(&net, &carry)?;
        let mut mout = HashMap::new();
        for n in net.neurons.iter().filter(|n| n.engine_side()) {
            let init = match &n.params.init {
                Init::Matrix(m) => m.clone(),
                _ => WMatrix::new(),
            };
            mout.insert(n.name.clone(), init);
        }
        mout.insert(SELF.to_string(), w);
        Ok(Machine {
            net: Arc::new(net),
            backend,
            assets,
            mout,
            tick: 0,
            seed,
            plan: DownPlan::default(),
            plan_w: WMatrix::new(),
            plan_dirty: true,
            out: TickOutputs::default(),
            prev_scalars: Vec::new(),
            inbox: Vec::new(),
            next_id: 0,
            morphs: Vec::new(),
            removals: Vec::new(),
            messages: Vec::new(),
            outcomes: Vec::new(),
            nonfinite: BTreeMap::new(),
            reported: HashSet::new(),
        })
    }

    pub fn network(&self) -> &Arc<Network> {
        &self.net
    }

    /// The network matrix that drives the next down stroke (Self's latest output).
    pub fn w(&self) -> &WMatrix {
        &self.mout[SELF]
    }

    /// The next tick to run (= ticks run so far).
    pub fn tick_count(&self) -> u64 {
        self.tick
    }

    /// Gives the backend back (to start a machine on another patch).
    pub fn into_backend(self) -> Box<dyn Backend> {
        self.backend
    }

    pub fn backend_name(&self) -> String {
        self.backend.name()
    }

    /// The last tick's read-back.
    pub fn outputs(&self) -> &TickOutputs {
        &self.out
    }

    /// A scalar output by `neuron.port`, from the last tick.
    pub fn scalar(&self, port: &str) -> Option<f32> {
        let p = PortRef::parse(port).ok()?;
        let (n, pi, _) = self.net.output_port(&p).ok()?;
        let k = self.net.scalar_ports.iter().position(|&x| x == (n, pi))?;
        self.out.scalars.get(k).copied()
    }

    /// Names of the scalar outputs, in the order of `outputs().scalars`.
    pub fn scalar_names(&self) -> Vec<String> {
        self.net
            .scalar_ports
            .iter()
            .map(|&(n, p)| {
                let d = &self.net.neurons[n];
                format!("{}.{}", d.name, d.outputs[p].name)
            })
            .collect()
    }

    /// Reads one dense port by `neuron.port` (output if it is one, else input).
    pub fn read(&mut self, port: &str) -> Option<Vec<f32>> {
        let p = PortRef::parse(port).ok()?;
        let (n, pi, output) = match self.net.output_port(&p) {
            Ok((n, pi, _)) => (n, pi, true),
            Err(_) => {
                let (n, pi, _) = self.net.input_port(&p).ok()?;
                (n, pi, false)
            }
        };
        self.backend.read_port(&self.net, n, pi, output).ok()
    }

    /// The matrix output of an engine-side neuron.
    pub fn matrix_output(&self, neuron: &str) -> Option<&WMatrix> {
        self.mout.get(neuron)
    }

    /// Queues an edit for the `edits` neuron; it is taken in the next tick's up stroke.
    /// Returns an id that `take_outcomes` reports on.
    pub fn submit(&mut self, edit: Edit) -> u64 {
        self.next_id += 1;
        self.inbox.push((self.next_id, edit));
        self.next_id
    }

    pub fn take_messages(&mut self) -> Vec<Message> {
        std::mem::take(&mut self.messages)
    }

    pub fn take_outcomes(&mut self) -> Vec<(u64, EditOutcome)> {
        std::mem::take(&mut self.outcomes)
    }

    /// NaN/Inf values replaced by 0 so far, by neuron.
    pub fn nonfinite_counts(&self) -> &BTreeMap<String, u64> {
        &self.nonfinite
    }

    fn say(&mut self, level: Level, text: String) {
        self.messages.push(Message {
            tick: self.tick,
            level,
            text,
        });
    }

    /// The GPU failed (device lost, driver reset, validation error): go on with the CPU reference
    /// backend. The dense states lived on the device and are gone, so neurons restart from their
    /// initial values; W, the catalogue and the engine-side neurons are untouched.
    fn fall_back_to_cpu(&mut self, e: BackendError, ctx: &TickCtx) -> Result<(), EngineError> {
        let was = self.backend.name();
        let mut cpu: Box<dyn Backend> = Box::new(CpuBackend::new());
        cpu.set_layout(&self.net, &vec![None; self.net.neurons.len()])?;
        cpu.tick(&self.net, &self.plan, ctx, &mut self.out)?;
        self.backend = cpu;
        self.say(
            Level::Error,
            format!("{was} failed ({e}); the engine goes on with the cpu backend (neuron states restarted)"),
        );
        Ok(())
    }

    /// Runs one tick: down stroke, up stroke, read-back.
    pub fn tick(&mut self, capture: bool) -> Result<&TickOutputs, EngineError> {
        self.apply_due_removals()?;
        // Down stroke plan from W(t-1); rebuilt when W changed or audio weights were ramping.
        if self.plan_dirty {
            let w = &self.mout[SELF];
            let version = self.plan.version + 1;
            self.plan = DownPlan::build(&self.net, w, &self.plan_w, version);
            self.plan_w = w.clone();
            self.plan_dirty = self
                .plan
                .rows
                .iter()
                .any(|r| r.terms.iter().any(|t| t.w0 != t.w1));
        }
        let x = self.engine_down();
        let ctx = TickCtx {
            tick: self.tick,
            seed: self.seed,
            capture,
        };
        if let Err(e) = self
            .backend
            .tick(&self.net, &self.plan, &ctx, &mut self.out)
        {
            if !self.backend.falls_back_to_cpu() {
                return Err(e.into());
            }
            self.fall_back_to_cpu(e, &ctx)?;
        }
        self.engine_up(x);
        self.count_nonfinite();
        self.prev_scalars.clone_from(&self.out.scalars);
        self.tick += 1;
        Ok(&self.out)
    }

    /// Inputs of engine-side neurons: matrix inputs from matrix outputs, scalar inputs from the
    /// previous tick's read-back scalars.
    fn engine_down(&self) -> HashMap<(usize, usize), Input> {
        let w = &self.mout[SELF];
        let mut x = HashMap::new();
        for (ni, n) in self.net.neurons.iter().enumerate() {
            if !n.engine_side() {
                continue;
            }
            for (pi, port) in n.inputs.iter().enumerate() {
                let target = PortRef::new(n.name.clone(), port.name);
                let row = w.row(&target);
                let v = match port.kind {
                    Kind::Matrix => {
                        let mut m = WMatrix::new();
                        for (src, &wt) in row.into_iter().flatten() {
                            if let Some(y) = self.mout.get(&src.neuron) {
                                m.add_scaled(y, wt);
                            }
                        }
                        Input::Matrix(m)
                    }
                    _ => {
                        let mut s = 0.0f32;
                        for (src, &wt) in row.into_iter().flatten() {
                            if let Ok((sn, sp, Kind::Scalar)) = self.net.output_port(src)
                                && let Some(k) =
                                    self.net.scalar_ports.iter().position(|&q| q == (sn, sp))
                            {
                                s += wt as f32 * self.prev_scalars.get(k).copied().unwrap_or(0.0);
                            }
                        }
                        Input::Scalar(s)
                    }
                };
                x.insert((ni, pi), v);
            }
        }
        x
    }

    /// Up stroke of engine-side neurons: Self first (W(t)), then matrix neurons, then `edits`,
    /// which takes the queued requests against the new W.
    fn engine_up(&mut self, mut x: HashMap<(usize, usize), Input>) {
        let net = Arc::clone(&self.net);
        let mut take =
            |n: usize, p: usize| x.remove(&(n, p)).unwrap_or(Input::Matrix(WMatrix::new()));
        let mut new_out: Vec<(String, WMatrix)> = Vec::new();
        for (ni, n) in net.neurons.iter().enumerate() {
            if !n.engine_side() {
                continue;
            }
            let y = match n.op() {
                Op::SelfW => {
                    let mut w = take(ni, 0).matrix();
                    let delta = take(ni, 1).matrix();
                    if !delta.is_empty() {
                        self.add_checked(&mut w, &delta);
                    }
                    w
                }
                Op::Edits => continue,
                Op::Accum => {
                    let mut a = take(ni, 0).matrix();
                    a.add_scaled(&take(ni, 1).matrix(), 1.0);
                    a
                }
                Op::Identity => take(ni, 0).matrix(),
                Op::Gate => {
                    let g = take(ni, 0).scalar();
                    take(ni, 1).matrix().scaled(g as f64)
                }
                other => {
                    self.say(
                        Level::Error,
                        format!("{}: type {other:?} cannot run on matrices", n.name),
                    );
                    WMatrix::new()
                }
            };
            new_out.push((n.name.clone(), y));
        }
        for (name, y) in new_out {
            if name == SELF && &y != self.mout.get(SELF).unwrap_or(&WMatrix::new()) {
                self.plan_dirty = true;
            }
            self.mout.insert(name, y);
        }
        let delta = self.take_requests();
        self.mout.insert(EDITS.to_string(), delta);
    }

    /// `w += delta`, skipping (and reporting once) entries that break the type rule: a
    /// self-modifying patch cannot make W ill-typed.
    fn add_checked(&mut self, w: &mut WMatrix, delta: &WMatrix) {
        for (t, s, v) in delta.entries() {
            match self.net.check_weight(t, s, v) {
                Ok(()) => w.add_entry(t, s, v),
                Err(e) => {
                    let key = format!("{t}<-{s}");
                    if self.reported.insert(key) {
                        self.say(
                            Level::Error,
                            format!("self: delta entry {t} <- {s} rejected: {e}"),
                        );
                    }
                }
            }
        }
    }

    /// The `edits` neuron: morph slices plus every queued request, each checked in full first.
    fn take_requests(&mut self) -> WMatrix {
        let mut delta = WMatrix::new();
        let w_now = &self.mout[SELF];
        for m in &mut self.morphs {
            delta.add_scaled(&m.next_slice(w_now), 1.0);
        }
        self.morphs.retain(|m| !m.finished());
        let inbox = std::mem::take(&mut self.inbox);
        for (id, edit) in inbox {
            let mut st = Staged {
                net: (*self.net).clone(),
                delta: delta.clone(),
                morphs: Vec::new(),
                removals: Vec::new(),
                changed_catalogue: false,
                cancel: Vec::new(),
                cancel_neurons: Vec::new(),
            };
            match self.stage(&mut st, &edit) {
                Ok(()) => {
                    if st.changed_catalogue
                        && let Err(e) = self.install(st.net.clone())
                    {
                        self.reject(id, vec![e.to_string()]);
                        continue;
                    }
                    delta = st.delta;
                    for m in &mut self.morphs {
                        for (t, s) in &st.cancel {
                            m.cancel(t, s);
                        }
                        for n in &st.cancel_neurons {
                            m.cancel_neuron(n);
                        }
                    }
                    self.morphs.extend(st.morphs);
                    let due = self.tick + EDIT_LATENCY_TICKS;
                    self.removals
                        .extend(st.removals.into_iter().map(|(n, fade)| (due + fade, n)));
                    self.outcomes
                        .push((id, EditOutcome::Applied { tick: self.tick }));
                }
                Err(errors) => self.reject(id, errors),
            }
        }
        delta
    }

    fn reject(&mut self, id: u64, errors: Vec<String>) {
        for e in &errors {
            self.say(Level::Error, format!("edit rejected: {e}"));
        }
        self.outcomes.push((
            id,
            EditOutcome::Rejected {
                tick: self.tick,
                errors,
            },
        ));
    }

    fn pending_removal(&self, st: &Staged, name: &str) -> bool {
        self.removals.iter().any(|(_, n)| n == name) || st.removals.iter().any(|(n, _)| n == name)
    }

    /// Checks one edit against the staged network and adds its effect to the staged delta.
    fn stage(&self, st: &mut Staged, edit: &Edit) -> Result<(), Vec<String>> {
        let w_now = &self.mout[SELF];
        let current = |st: &Staged, t: &PortRef, s: &PortRef| w_now.get(t, s) + st.delta.get(t, s);
        let one = |e: String| vec![e];
        match edit {
            Edit::Add {
                target,
                source,
                weight,
                morph,
            } => {
                self.check_live(st, target, source, *weight)?;
                self.emit(
                    st,
                    WMatrix::single(target.clone(), source.clone(), *weight),
                    *morph,
                )
            }
            Edit::Set {
                target,
                source,
                weight,
                morph,
            } => {
                self.check_live(st, target, source, *weight)?;
                // Absolute: a morph still moving this entry stops where it is.
                st.cancel(target, source);
                let d = *weight - current(st, target, source);
                self.emit(
                    st,
                    WMatrix::single(target.clone(), source.clone(), d),
                    *morph,
                )
            }
            Edit::Remove { target, source } => {
                st.cancel(target, source);
                let c = current(st, target, source);
                if c == 0.0 {
                    return Err(one(format!(
                        "there is no connection {target} <- {source} to remove"
                    )));
                }
                self.emit(st, WMatrix::single(target.clone(), source.clone(), -c), 0.0)
            }
            Edit::Delta { weights, morph } => {
                let mut errors = Vec::new();
                for (t, s, v) in weights.entries() {
                    if let Err(e) = self.check_live(st, t, s, v) {
                        errors.extend(e);
                    }
                }
                if !errors.is_empty() {
                    return Err(errors);
                }
                self.emit(st, weights.clone(), *morph)
            }
            Edit::AddNeuron {
                name,
                neuron,
                weights,
            } => {
                if self.pending_removal(st, name) {
                    return Err(one(format!(
                        "neuron {name:?} is being removed; add it again in {EDIT_LATENCY_TICKS} ticks"
                    )));
                }
                st.net.add(name, neuron, &self.assets).map_err(|e| {
                    let field = if e.field.is_empty() {
                        String::new()
                    } else {
                        format!(".{}", e.field)
                    };
                    one(format!("add_neuron {name}{field}: {}", e.msg))
                })?;
                st.changed_catalogue = true;
                if let Some((_, def)) = st.net.find(name)
                    && let Init::Matrix(m) = &def.params.init
                {
                    let errs: Vec<String> = st
                        .net
                        .check_matrix(m)
                        .into_iter()
                        .map(|e| format!("add_neuron {name}.init: {e}"))
                        .collect();
                    if !errs.is_empty() {
                        return Err(errs);
                    }
                }
                let mut errors = Vec::new();
                for (t, s, v) in weights.entries() {
                    if let Err(e) = self.check_live(st, t, s, v) {
                        errors.extend(e);
                    }
                }
                if !errors.is_empty() {
                    return Err(errors);
                }
                self.emit(st, weights.clone(), 0.0)
            }
            Edit::RemoveNeuron { name, morph } => {
                if name == SELF || name == EDITS {
                    return Err(one(format!(
                        "{name:?} is part of every network and cannot be removed"
                    )));
                }
                if !st.net.contains(name) {
                    return Err(one(format!("there is no neuron {name:?} to remove")));
                }
                if self.pending_removal(st, name) {
                    return Err(one(format!("neuron {name:?} is already being removed")));
                }
                let mut now = w_now.clone();
                now.add_scaled(&st.delta, 1.0);
                // Morphs still moving its weights end first, so the fade starts from W as it is.
                for m in &mut st.morphs {
                    m.cancel_neuron(name);
                }
                st.cancel_neurons.push(name.clone());
                let fade = self.morph_steps(*morph)?;
                self.emit(st, now.touching(name).scaled(-1.0), *morph)?;
                // The neuron goes once the last slice of the fade is in W and a down stroke has
                // used it (audio connections have ramped to 0: no click).
                st.removals
                    .push((name.clone(), if fade > 1 { fade + 1 } else { 0 }));
                Ok(())
            }
            Edit::Batch { edits } => {
                let mut errors = Vec::new();
                for e in edits {
                    if let Err(errs) = self.stage(st, e) {
                        errors.extend(errs);
                    }
                }
                if errors.is_empty() {
                    Ok(())
                } else {
                    Err(errors)
                }
            }
        }
    }

    fn check_live(
        &self,
        st: &Staged,
        target: &PortRef,
        source: &PortRef,
        w: f64,
    ) -> Result<(), Vec<String>> {
        for n in [&target.neuron, &source.neuron] {
            if self.pending_removal(st, n) {
                return Err(vec![format!(
                    "{target} <- {source}: neuron {n:?} is being removed"
                )]);
            }
        }
        st.net
            .check_weight(target, source, w)
            .map_err(|e| vec![e.to_string()])
    }

    /// Ticks a morph of `morph` seconds takes (0 or 1: at once).
    fn morph_steps(&self, morph: f64) -> Result<u64, Vec<String>> {
        if !(morph.is_finite() && morph >= 0.0) {
            return Err(vec![format!("morph must be seconds >= 0, found {morph}")]);
        }
        Ok((morph * self.net.settings.tick_rate).round() as u64)
    }

    fn emit(&self, st: &mut Staged, d: WMatrix, morph: f64) -> Result<(), Vec<String>> {
        let steps = self.morph_steps(morph)?;
        if steps <= 1 {
            st.delta.add_scaled(&d, 1.0);
        } else {
            let w_now = &self.mout[SELF];
            let target = d
                .entries()
                .map(|(t, s, v)| {
                    (
                        t.clone(),
                        s.clone(),
                        w_now.get(t, s) + st.delta.get(t, s) + v,
                    )
                })
                .collect();
            st.morphs.push(Morph {
                total: d,
                emitted: WMatrix::new(),
                target,
                steps,
                done: 0,
            });
        }
        Ok(())
    }

    /// Installs a new catalogue, carrying every surviving neuron's state by name.
    fn install(&mut self, net: Network) -> Result<(), EngineError> {
        let carry: Vec<Option<usize>> = net
            .neurons
            .iter()
            .map(|n| self.net.find(&n.name).map(|(i, _)| i))
            .collect();
        if let Err(e) = self.backend.set_layout(&net, &carry) {
            if !self.backend.falls_back_to_cpu() {
                return Err(e.into());
            }
            let was = self.backend.name();
            let mut cpu: Box<dyn Backend> = Box::new(CpuBackend::new());
            cpu.set_layout(&net, &vec![None; net.neurons.len()])?;
            self.backend = cpu;
            self.say(
                Level::Error,
                format!("{was} cannot hold the new network ({e}); the engine goes on with the cpu backend (neuron states restarted)"),
            );
        }
        for n in net.neurons.iter().filter(|n| n.engine_side()) {
            if !self.mout.contains_key(&n.name) {
                let init = match &n.params.init {
                    Init::Matrix(m) => m.clone(),
                    _ => WMatrix::new(),
                };
                self.mout.insert(n.name.clone(), init);
            }
        }
        self.mout.retain(|k, _| net.contains(k));
        // Scalars move when the catalogue changes: remap the newest read-back by port name.
        let old: HashMap<String, f32> = self
            .scalar_names()
            .into_iter()
            .zip(self.out.scalars.iter().copied())
            .collect();
        self.net = Arc::new(net);
        self.prev_scalars = self
            .scalar_names()
            .iter()
            .map(|n| old.get(n).copied().unwrap_or(0.0))
            .collect();
        self.out.scalars.clone_from(&self.prev_scalars);
        // Rebuild the plan; `plan_w` stays the W used last tick, so audio weights do not ramp
        // from zero after a catalogue change.
        self.plan_dirty = true;
        Ok(())
    }

    fn apply_due_removals(&mut self) -> Result<(), EngineError> {
        let now = self.tick;
        let due: Vec<String> = self
            .removals
            .iter()
            .filter(|(t, _)| *t <= now)
            .map(|(_, n)| n.clone())
            .collect();
        if due.is_empty() {
            return Ok(());
        }
        self.removals.retain(|(t, _)| *t > now);
        let mut net = (*self.net).clone();
        for name in &due {
            net.remove(name);
            let left = self
                .mout
                .get_mut(SELF)
                .map(|w| w.take_neuron(name))
                .unwrap_or_default();
            if !left.is_empty() {
                self.say(
                    Level::Notice,
                    format!(
                        "removed neuron {name}: {} connection(s) added to it meanwhile were dropped",
                        left.len()
                    ),
                );
            }
            self.nonfinite.remove(name);
        }
        self.install(net)
    }

    fn count_nonfinite(&mut self) {
        let mut fresh = Vec::new();
        for (i, &c) in self.out.nonfinite.iter().enumerate() {
            if c > 0
                && let Some(n) = self.net.neurons.get(i)
            {
                let e = self.nonfinite.entry(n.name.clone()).or_insert(0);
                if *e == 0 {
                    fresh.push(n.name.clone());
                }
                *e += c as u64;
            }
        }
        for name in fresh {
            self.say(
                Level::Error,
                format!("{name} produced NaN/Inf; replaced by 0 (counted in the meters)"),
            );
        }
    }
}

enum Input {
    Matrix(WMatrix),
    Scalar(f32),
}

impl Input {
    fn matrix(self) -> WMatrix {
        match self {
            Input::Matrix(m) => m,
            Input::Scalar(_) => WMatrix::new(),
        }
    }
    fn scalar(self) -> f32 {
        match self {
            Input::Scalar(s) => s,
            Input::Matrix(_) => 0.0,
        }
    }
}
