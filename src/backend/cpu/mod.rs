//! The CPU backend: the reference semantics. It runs each type's CPU kernel from the neuron table
//! (`src/neurons/`: plain Rust, rayon threads for images, a real GEMM for matmul) and the down
//! stroke, with rayon over neurons.

use super::{Backend, BackendError, Frame, TickCtx, TickOutputs};
use crate::neurons::network::{DownPlan, Network, Row};
use crate::neurons::outputs::to_u8;
use crate::neurons::{UpCtx, init_outputs, state_lens};
use crate::stream::kind::Kind;
use rayon::prelude::*;

pub struct CpuBackend {
    /// Per neuron, per input port: this tick's input values (after the down stroke).
    ins: Vec<Vec<Vec<f32>>>,
    /// Per neuron, per output port: the latest outputs (the state carried between ticks).
    outs: Vec<Vec<Vec<f32>>>,
    /// Rows of the current plan by neuron: `row_of[n][p]` indexes `plan.rows`.
    row_of: Vec<Vec<Option<usize>>>,
    plan_version: Option<u64>,
    /// Whether the strokes run over neurons on rayon's threads: only when the layout holds
    /// enough elements (`PAR_WORK`) for the hand-off to pay. Small (audio) networks run on the
    /// calling thread, which also keeps their ticks free of allocations (rayon's job queue
    /// allocates a block every few dozen jobs injected from outside the pool).
    parallel: bool,
    /// The layout size from which `parallel` is set (`PAR_WORK` unless chosen).
    par_work: usize,
}

impl Default for CpuBackend {
    fn default() -> Self {
        Self::with_par_work(PAR_WORK)
    }
}

/// Dense elements (inputs and outputs of every neuron) from which the strokes go parallel over
/// neurons. Below it a tick takes well under a millisecond on one core (default.json's 128²
/// pictures hold 400 000 elements), and spreading it costs more CPU (wake-ups, a queue) than it
/// saves in latency; the big kernels still split themselves above `PAR_MIN` elements.
pub const PAR_WORK: usize = 1 << 20;

impl CpuBackend {
    pub fn new() -> Self {
        Self::default()
    }

    /// A backend whose strokes go parallel over neurons from `min_elements` dense elements (0:
    /// always; `usize::MAX`: never). The benchmark compares thresholds with it.
    pub fn with_par_work(min_elements: usize) -> Self {
        CpuBackend {
            ins: Vec::new(),
            outs: Vec::new(),
            row_of: Vec::new(),
            plan_version: None,
            parallel: false,
            par_work: min_elements,
        }
    }
}

/// `dst = Σ w·src`, with the weight ramped from w0 to w1 across audio blocks. The first term
/// writes, the others add: one pass per term, each a plain vectorisable loop.
fn lincomb(dst: &mut [f32], row: &Row, outs: &[Vec<Vec<f32>>]) {
    let n = dst.len();
    for (k, t) in row.terms.iter().enumerate() {
        let src = &outs[t.neuron][t.port];
        let first = k == 0;
        if row.kind == Kind::Audio && t.w0 != t.w1 {
            let step = (t.w1 - t.w0) / n as f32;
            for (i, (d, &s)) in dst.iter_mut().zip(src).enumerate() {
                let v = (t.w0 + step * (i + 1) as f32) * s;
                *d = if first { v } else { *d + v };
            }
        } else if first {
            let w = t.w1;
            for (d, &s) in dst.iter_mut().zip(src) {
                *d = w * s;
            }
        } else {
            let w = t.w1;
            for (d, &s) in dst.iter_mut().zip(src) {
                *d += w * s;
            }
        }
    }
    if row.terms.is_empty() {
        dst.fill(0.0);
    }
}

/// `n` zeros, or an error naming the neuron when the memory is not there (no abort).
fn zeros(n: usize, neuron: &str) -> Result<Vec<f32>, BackendError> {
    let mut v = Vec::new();
    v.try_reserve_exact(n).map_err(|e| BackendError::Failed {
        backend: "cpu".into(),
        msg: format!(
            "cannot allocate {:.1} MiB for neuron {neuron:?}'s streams: {e}",
            (n as f64 * 4.0) / (1 << 20) as f64
        ),
    })?;
    v.resize(n, 0.0);
    Ok(v)
}

/// Replaces NaN/Inf by 0; returns how many there were.
pub fn guard(v: &mut [f32]) -> u32 {
    let mut n = 0;
    for x in v.iter_mut() {
        if !x.is_finite() {
            *x = 0.0;
            n += 1;
        }
    }
    n
}

impl Backend for CpuBackend {
    fn name(&self) -> String {
        "cpu".into()
    }

    fn set_layout(&mut self, net: &Network, carry: &[Option<usize>]) -> Result<(), BackendError> {
        let bl = net.block_len();
        let mut ins = Vec::with_capacity(net.neurons.len());
        let mut outs = Vec::with_capacity(net.neurons.len());
        for (i, def) in net.neurons.iter().enumerate() {
            if def.engine_side() {
                ins.push(Vec::new());
                outs.push(Vec::new());
                continue;
            }
            ins.push(
                def.inputs
                    .iter()
                    .map(|p| zeros(p.kind.len(bl), &def.name))
                    .collect::<Result<_, _>>()?,
            );
            // Outputs and private memory carry over when their sizes still fit the definition.
            let lens = state_lens(def, bl);
            let fits = |o: &Vec<Vec<f32>>| o.iter().map(Vec::len).eq(lens.iter().copied());
            let kept = carry
                .get(i)
                .copied()
                .flatten()
                .and_then(|j| self.outs.get_mut(j))
                .filter(|o| fits(o))
                .map(std::mem::take);
            outs.push(match kept {
                Some(o) if !o.is_empty() => o,
                _ => {
                    // Reserve first, fallibly: a memory limit becomes an error here, not an
                    // abort inside the allocation of the starting values.
                    drop(zeros(lens.iter().sum(), &def.name)?);
                    init_outputs(def, bl)
                }
            });
        }
        let work: usize = ins.iter().chain(&outs).flatten().map(Vec::len).sum();
        self.parallel = work >= self.par_work;
        self.ins = ins;
        self.outs = outs;
        self.plan_version = None;
        Ok(())
    }

    fn tick(
        &mut self,
        net: &Network,
        plan: &DownPlan,
        ctx: &TickCtx,
        out: &mut TickOutputs,
    ) -> Result<(), BackendError> {
        self.down(net, plan);
        self.up(net, ctx, &mut out.nonfinite);
        self.read_back(net, ctx, out);
        Ok(())
    }

    fn read_port(
        &mut self,
        _net: &Network,
        neuron: usize,
        port: usize,
        output: bool,
    ) -> Result<Vec<f32>, BackendError> {
        let store = if output { &self.outs } else { &self.ins };
        Ok(store
            .get(neuron)
            .and_then(|n| n.get(port))
            .cloned()
            .unwrap_or_default())
    }
}

impl CpuBackend {
    /// Down stroke: every input from the previous tick's outputs.
    fn down(&mut self, net: &Network, plan: &DownPlan) {
        if self.plan_version != Some(plan.version) {
            self.row_of = net
                .neurons
                .iter()
                .map(|n| vec![None; n.inputs.len()])
                .collect();
            for (r, row) in plan.rows.iter().enumerate() {
                self.row_of[row.neuron][row.port] = Some(r);
            }
            self.plan_version = Some(plan.version);
        }
        let outs = &self.outs;
        let row_of = &self.row_of;
        let one = |(n, ins): (usize, &mut Vec<Vec<f32>>)| {
            for (p, dst) in ins.iter_mut().enumerate() {
                match row_of[n][p] {
                    Some(r) => lincomb(dst, &plan.rows[r], outs),
                    None => dst.fill(0.0),
                }
            }
        };
        if self.parallel {
            self.ins.par_iter_mut().enumerate().for_each(one);
        } else {
            self.ins.iter_mut().enumerate().for_each(one);
        }
    }

    /// Up stroke: every neuron's CPU kernel from its inputs (and its previous outputs, its
    /// state); NaN/Inf outputs become 0 and are counted per neuron.
    fn up(&mut self, net: &Network, ctx: &TickCtx, nonfinite: &mut Vec<u32>) {
        let up = UpCtx {
            tick: ctx.tick,
            seed: ctx.seed,
            tick_rate: net.settings.tick_rate,
            sample_rate: net.settings.sample_rate as f64,
            midi: ctx.midi,
        };
        nonfinite.clear();
        nonfinite.resize(net.neurons.len(), 0);
        let ins = &self.ins;
        let one = |(n, (outs, bad)): (usize, (&mut Vec<Vec<f32>>, &mut u32))| {
            let def = &net.neurons[n];
            if def.engine_side() {
                return;
            }
            let Some(kernel) = def.info.cpu else { return };
            kernel(def, &ins[n], outs, &up);
            *bad = outs.iter_mut().map(|o| guard(o)).sum();
        };
        if self.parallel {
            self.outs
                .par_iter_mut()
                .zip(nonfinite.par_iter_mut())
                .enumerate()
                .for_each(one);
        } else {
            self.outs
                .iter_mut()
                .zip(nonfinite.iter_mut())
                .enumerate()
                .for_each(one);
        }
    }

    /// The scalars, the summed audio_out blocks and, when captured, the display frames.
    fn read_back(&mut self, net: &Network, ctx: &TickCtx, out: &mut TickOutputs) {
        out.scalars.clear();
        out.scalars
            .extend(net.scalar_ports.iter().map(|&(n, p)| self.outs[n][p][0]));
        let bl = net.block_len();
        out.left.clear();
        out.left.resize(bl, 0.0);
        out.right.clear();
        out.right.resize(bl, 0.0);
        for &n in &net.audio_outs {
            let [l, r] = &mut self.ins[n][..] else {
                continue;
            };
            // The last guard before the speakers: count against the audio_out neuron.
            out.nonfinite[n] += guard(l) + guard(r);
            for (dst, src) in [(&mut out.left, &*l), (&mut out.right, &*r)] {
                for (d, &s) in dst.iter_mut().zip(src) {
                    *d += s;
                }
            }
        }
        out.frames.clear();
        if ctx.capture {
            for &n in &net.displays {
                out.frames.extend(self.frame(net, n));
            }
        }
    }

    fn frame(&self, net: &Network, n: usize) -> Option<Frame> {
        let def = &net.neurons[n];
        let [g, r, gr, b] = &self.ins[n][..] else {
            return None;
        };
        let mut rgba = Vec::with_capacity(def.rows * def.cols * 4);
        for (((&g, &r), &gr), &b) in g.iter().zip(r).zip(gr).zip(b) {
            rgba.extend_from_slice(&[to_u8(g + r), to_u8(g + gr), to_u8(g + b), 255]);
        }
        Some(Frame {
            neuron: n,
            rows: def.rows,
            cols: def.cols,
            rgba,
        })
    }
}
