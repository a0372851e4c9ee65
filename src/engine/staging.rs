//! Staging one request: every part is checked on copies (the catalogue as requested, the delta
//! of this tick) and the request is committed only if all of it is right. A rejection says why,
//! as a typed reason, and changes nothing.

use super::EDIT_LATENCY_TICKS;
use super::edits::{Edit, MAX_MORPH_SECONDS};
use super::schedule::{Morph, Schedule};
use crate::neurons::{
    AssetDirs, EDITS, Init, Network, NeuronDef, NeuronSpec, SELF, WeightError, budget,
    resolve_shape,
};
use crate::stream::wmatrix::{MAX_WEIGHT, PortRef, WMatrix, weight_in_bounds};
use std::collections::HashSet;
use thiserror::Error;

/// Why a request was refused. Every variant names what is wrong and what was expected.
#[derive(Clone, Debug, PartialEq, Error)]
pub enum Rejection {
    /// The type-correctness rule, an unknown port, a non-finite weight, Self's own row.
    #[error(transparent)]
    Weight(#[from] WeightError),
    #[error(
        "{target} <- {source_port}: the weight could reach {value:e}; weights are bounded by |w| <= {MAX_WEIGHT:e}"
    )]
    TooLarge {
        target: PortRef,
        source_port: PortRef,
        value: f64,
    },
    #[error("there is no connection {target} <- {source_port} to remove")]
    NoConnection {
        target: PortRef,
        source_port: PortRef,
    },
    #[error("morph must be seconds in 0..={MAX_MORPH_SECONDS}, found {}", short(*.0))]
    BadMorph(f64),
    #[error("add_neuron {name:?}{}: {msg}", if .field.is_empty() { String::new() } else { format!(" setting {:?}", .field) })]
    BadNeuron {
        name: String,
        field: String,
        msg: String,
    },
    #[error("add_neuron {name:?} init: {err}")]
    BadInit { name: String, err: WeightError },
    #[error(
        "add_neuron {name:?}: the network's streams would need {total} of memory (this neuron {needs}), beyond the budget of {limit} ({source_of})"
    )]
    OverBudget {
        name: String,
        /// This neuron's stream memory, in MiB (or KiB), as printed.
        needs: String,
        /// The whole network's with it.
        total: String,
        limit: String,
        /// Where the budget comes from (the setting or the default).
        source_of: String,
    },
    #[error("{target} <- {source_port}: neuron {neuron:?} is being removed")]
    TouchesRemoved {
        target: PortRef,
        source_port: PortRef,
        neuron: String,
    },
    #[error("neuron {name:?} is being removed (gone at tick {gone}); add it again from then on")]
    StillRemoving { name: String, gone: u64 },
    #[error("{0:?} is part of every network and cannot be removed")]
    CoreNeuron(String),
    #[error("there is no neuron {0:?} to remove")]
    NoSuchNeuron(String),
    #[error("neuron {0:?} is already being removed")]
    AlreadyRemoving(String),
    #[error(
        "a morph of {ticks} ticks from tick {tick} ends beyond the last tick the engine counts"
    )]
    TickOverflow { tick: u64, ticks: u64 },
}

/// A number as it reads best on one line: `1e300`, not its 301 digits.
fn short(v: f64) -> String {
    if v != 0.0 && (v.abs() >= 1e6 || v.abs() < 1e-4) {
        format!("{v:e}")
    } else {
        format!("{v}")
    }
}

/// What the staging of one request may look at: the machine as it is this tick.
pub(crate) struct Ctx<'a> {
    pub w: &'a WMatrix,
    pub schedule: &'a Schedule,
    pub assets: &'a AssetDirs,
    pub tick: u64,
    pub tick_rate: f64,
}

/// One request's effect, built on copies.
pub(crate) struct Staged {
    /// The catalogue as requested (running neurons plus those waiting to join).
    pub net: Network,
    /// This tick's delta so far (morph slices, earlier requests) plus this request.
    pub delta: WMatrix,
    pub morphs: Vec<Morph>,
    /// `(tick, neuron)` to remove at the start of that tick.
    pub removals: Vec<(u64, String)>,
    /// `(tick, neuron)` to add at the start of that tick.
    pub additions: Vec<(u64, NeuronDef)>,
    /// Entries (and neurons) whose morphs in progress this request ends.
    pub cancel: HashSet<(PortRef, PortRef)>,
    pub cancel_neurons: HashSet<String>,
}

type Result<T> = std::result::Result<T, Vec<Rejection>>;

fn one<T>(r: Rejection) -> Result<T> {
    Err(vec![r])
}

impl Staged {
    pub fn new(net: Network, delta: WMatrix) -> Self {
        Staged {
            net,
            delta,
            morphs: Vec::new(),
            removals: Vec::new(),
            additions: Vec::new(),
            cancel: HashSet::new(),
            cancel_neurons: HashSet::new(),
        }
    }

    fn cancel(&mut self, t: &PortRef, s: &PortRef) {
        for m in &mut self.morphs {
            m.cancel(t, s);
        }
        self.cancel.insert((t.clone(), s.clone()));
    }

    fn cancelled(&self, t: &PortRef, s: &PortRef) -> bool {
        self.cancel_neurons.contains(&t.neuron)
            || self.cancel_neurons.contains(&s.neuron)
            || self.cancel.contains(&(t.clone(), s.clone()))
    }

    /// When `name` leaves the catalogue, if it is being removed (by this request or earlier).
    fn removal_of(&self, ctx: &Ctx, name: &str) -> Option<u64> {
        ctx.schedule.removal_of(name).or_else(|| {
            self.removals
                .iter()
                .find(|(_, n)| n == name)
                .map(|&(t, _)| t)
        })
    }

    /// W's value for one entry once everything emitted so far (this tick included) is in.
    fn current(&self, ctx: &Ctx, t: &PortRef, s: &PortRef) -> f64 {
        ctx.w.get(t, s) + self.delta.get(t, s)
    }

    /// The lowest and highest value one entry can pass through while every morph still moving
    /// it runs (each moves it monotonically, but they may move it in opposite directions).
    fn envelope(&self, ctx: &Ctx, t: &PortRef, s: &PortRef) -> (f64, f64) {
        let now = self.current(ctx, t, s);
        let (mut lo, mut hi) = (now, now);
        // Morphs in progress that this request cancels for the entry no longer move it.
        let old: &[Morph] = if self.cancelled(t, s) {
            &[]
        } else {
            &ctx.schedule.morphs
        };
        for m in old.iter().chain(&self.morphs) {
            let r = m.remaining(t, s);
            if r < 0.0 {
                lo += r;
            } else {
                hi += r;
            }
        }
        (lo, hi)
    }

    /// Refuses a change of `v` (at once or morphed) to an entry that could carry it beyond
    /// `MAX_WEIGHT` (or to infinity) on the way.
    fn check_bound(&self, ctx: &Ctx, t: &PortRef, s: &PortRef, v: f64) -> Result<()> {
        let (lo, hi) = self.envelope(ctx, t, s);
        let (lo, hi) = (lo + v.min(0.0), hi + v.max(0.0));
        for value in [lo, hi] {
            if !weight_in_bounds(value) {
                return one(Rejection::TooLarge {
                    target: t.clone(),
                    source_port: s.clone(),
                    value,
                });
            }
        }
        Ok(())
    }

    /// The type rule against the catalogue as requested, and no neuron on its way out.
    fn check_live(&self, ctx: &Ctx, t: &PortRef, s: &PortRef, w: f64) -> Result<()> {
        for n in [&t.neuron, &s.neuron] {
            if self.removal_of(ctx, n).is_some() {
                return one(Rejection::TouchesRemoved {
                    target: t.clone(),
                    source_port: s.clone(),
                    neuron: n.clone(),
                });
            }
        }
        self.net.check_weight(t, s, w).map_err(|e| vec![e.into()])
    }

    /// Checks every entry of an additive fragment (type rule and bound); all problems at once.
    fn check_additive(&self, ctx: &Ctx, weights: &WMatrix) -> Result<()> {
        let mut errors = Vec::new();
        for (t, s, v) in weights.entries() {
            if let Err(e) = self
                .check_live(ctx, t, s, v)
                .and_then(|()| self.check_bound(ctx, t, s, v))
            {
                errors.extend(e);
            }
        }
        if errors.is_empty() {
            Ok(())
        } else {
            Err(errors)
        }
    }

    /// Adds `d` to the delta at once, or starts a morph of it whose first slice goes out now:
    /// every request's first effect is at t+2, morph or not. An absolute change (`set`,
    /// `remove`: `land` is the value asked for) settles: what rounding leaves is absorbed one
    /// tick after its last slice.
    fn emit(&mut self, ctx: &Ctx, d: WMatrix, steps: u64, land: Option<f64>) {
        let now = |t: &PortRef, s: &PortRef| self.current(ctx, t, s);
        if steps <= 1 {
            if let Some(end) = land {
                self.morphs
                    .push(Morph::settling(d.clone(), now).landing_on(end));
            }
            self.delta.add_scaled(&d, 1.0);
            return;
        }
        let mut m = Morph::new(d, steps, land.is_some(), now);
        if let Some(end) = land {
            m = m.landing_on(end);
        }
        let first = m.next_slice(ctx.w);
        self.delta.add_scaled(&first, 1.0);
        self.morphs.push(m);
    }

    /// Checks one edit against the staged catalogue and adds its effect to the staged delta.
    pub fn stage(&mut self, ctx: &Ctx, edit: &Edit) -> Result<()> {
        match edit {
            Edit::Add {
                target,
                source,
                weight,
                morph,
            } => {
                let steps = morph_steps(ctx, *morph)?;
                self.check_live(ctx, target, source, *weight)?;
                self.check_bound(ctx, target, source, *weight)?;
                let d = WMatrix::single(target.clone(), source.clone(), *weight);
                self.emit(ctx, d, steps, None);
                Ok(())
            }
            Edit::Set {
                target,
                source,
                weight,
                morph,
            } => self.stage_set(ctx, target, source, *weight, *morph),
            Edit::Remove { target, source } => {
                self.cancel(target, source);
                let c = self.current(ctx, target, source);
                if c == 0.0 {
                    return one(Rejection::NoConnection {
                        target: target.clone(),
                        source_port: source.clone(),
                    });
                }
                let d = WMatrix::single(target.clone(), source.clone(), -c);
                self.emit(ctx, d, 0, Some(0.0));
                Ok(())
            }
            Edit::Delta { weights, morph } => {
                let steps = morph_steps(ctx, *morph)?;
                self.check_additive(ctx, weights)?;
                self.emit(ctx, weights.clone(), steps, None);
                Ok(())
            }
            Edit::AddNeuron {
                name,
                neuron,
                weights,
            } => self.stage_add_neuron(ctx, name, neuron, weights),
            Edit::RemoveNeuron { name, morph } => self.stage_remove_neuron(ctx, name, *morph),
            Edit::Batch { edits } => {
                let mut errors = Vec::new();
                for e in edits {
                    if let Err(errs) = self.stage(ctx, e) {
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

    /// `set` works on any entry: the value it lands on is checked, not the way there (a morph
    /// moves the entry in a straight line from where it is).
    fn stage_set(
        &mut self,
        ctx: &Ctx,
        target: &PortRef,
        source: &PortRef,
        weight: f64,
        morph: f64,
    ) -> Result<()> {
        let steps = morph_steps(ctx, morph)?;
        self.check_live(ctx, target, source, weight)?;
        if !weight_in_bounds(weight) {
            return one(Rejection::TooLarge {
                target: target.clone(),
                source_port: source.clone(),
                value: weight,
            });
        }
        // Absolute: a morph still moving this entry stops where it is.
        self.cancel(target, source);
        let d = weight - self.current(ctx, target, source);
        let d = WMatrix::single(target.clone(), source.clone(), d);
        self.emit(ctx, d, steps, Some(weight));
        Ok(())
    }

    /// The neuron is resolved now and joins the catalogue at the end of t+1, when its weights are
    /// in W: its first up stroke (t+2) sees them and starts from its `init`, like a neuron
    /// loaded from a file.
    fn stage_add_neuron(
        &mut self,
        ctx: &Ctx,
        name: &str,
        neuron: &NeuronSpec,
        weights: &WMatrix,
    ) -> Result<()> {
        if let Some(gone) = self.removal_of(ctx, name) {
            return one(Rejection::StillRemoving {
                name: name.to_string(),
                gone,
            });
        }
        self.check_budget(name, neuron)?;
        self.net.add(name, neuron, ctx.assets).map_err(|e| {
            vec![Rejection::BadNeuron {
                name: name.to_string(),
                field: e.field,
                msg: e.msg,
            }]
        })?;
        let Some((_, def)) = self.net.find(name) else {
            return Ok(());
        };
        let def = def.clone();
        if let Init::Matrix(m) = &def.params.init {
            let errs: Vec<Rejection> = self
                .net
                .check_matrix(m)
                .into_iter()
                .map(|err| Rejection::BadInit {
                    name: name.to_string(),
                    err,
                })
                .collect();
            if !errs.is_empty() {
                return Err(errs);
            }
        }
        self.check_additive(ctx, weights)?;
        let due = ctx.tick.checked_add(EDIT_LATENCY_TICKS).ok_or_else(|| {
            vec![Rejection::TickOverflow {
                tick: ctx.tick,
                ticks: 0,
            }]
        })?;
        self.additions.push((due, def));
        self.emit(ctx, weights.clone(), 0, None);
        Ok(())
    }

    /// The memory budget (`neurons::budget`), on the neuron's shape before anything is loaded or
    /// allocated: the catalogue as requested (neurons running, joining or on their way out) plus
    /// this one. A spec that does not resolve is left to `Network::add`, which says why.
    fn check_budget(&self, name: &str, neuron: &NeuronSpec) -> Result<()> {
        let Ok(def) = resolve_shape(name, neuron, &self.net.settings) else {
            return Ok(());
        };
        let needs = budget::neuron_bytes(&def, self.net.block_len());
        let total = budget::network_bytes(&self.net).saturating_add(needs);
        let (limit, source_of) = budget::budget(&self.net.settings);
        if total <= limit {
            return Ok(());
        }
        one(Rejection::OverBudget {
            name: name.to_string(),
            needs: budget::mib(needs),
            total: budget::mib(total),
            limit: budget::mib(limit),
            source_of,
        })
    }

    /// The neuron's connections go through Self (fading out over `morph`), then the neuron
    /// leaves the catalogue: at t+2 at once, or at t+2+n after a fade of n ticks (its last
    /// slice is in W at t+n and used by the down stroke of t+n+1, so audio ramps to 0).
    fn stage_remove_neuron(&mut self, ctx: &Ctx, name: &str, morph: f64) -> Result<()> {
        if name == SELF || name == EDITS {
            return one(Rejection::CoreNeuron(name.to_string()));
        }
        if !self.net.contains(name) {
            return one(Rejection::NoSuchNeuron(name.to_string()));
        }
        if self.removal_of(ctx, name).is_some() {
            return one(Rejection::AlreadyRemoving(name.to_string()));
        }
        let steps = morph_steps(ctx, morph)?;
        let gone = ctx
            .tick
            .checked_add(EDIT_LATENCY_TICKS)
            .and_then(|t| t.checked_add(steps))
            .ok_or_else(|| {
                vec![Rejection::TickOverflow {
                    tick: ctx.tick,
                    ticks: steps,
                }]
            })?;
        let mut now = ctx.w.clone();
        now.add_scaled(&self.delta, 1.0);
        // Morphs still moving its weights end first, so the fade starts from W as it is.
        for m in &mut self.morphs {
            m.cancel_neuron(name);
        }
        self.cancel_neurons.insert(name.to_string());
        self.emit(ctx, now.touching(name).scaled(-1.0), steps, None);
        self.removals.push((gone, name.to_string()));
        Ok(())
    }
}

/// Ticks a morph of `morph` seconds takes (0 or 1: at once). Bounded by `MAX_MORPH_SECONDS`.
fn morph_steps(ctx: &Ctx, morph: f64) -> Result<u64> {
    if !(morph.is_finite() && (0.0..=MAX_MORPH_SECONDS).contains(&morph)) {
        return one(Rejection::BadMorph(morph));
    }
    let ticks = (morph * ctx.tick_rate).round();
    // tick_rate is at most the sample rate (a u32), so this holds; checked all the same.
    if !(0.0..9.0e15).contains(&ticks) {
        return one(Rejection::BadMorph(morph));
    }
    let steps = ticks as u64;
    match ctx.tick.checked_add(EDIT_LATENCY_TICKS + steps) {
        Some(_) => Ok(steps),
        None => one(Rejection::TickOverflow {
            tick: ctx.tick,
            ticks: steps,
        }),
    }
}
