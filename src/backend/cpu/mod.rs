//! The CPU backend: the reference semantics. It runs each type's CPU kernel from the neuron table
//! (`src/neurons/`: plain Rust, rayon threads for images, a real GEMM for matmul) and the down
//! stroke, with rayon over neurons.

use super::{Backend, BackendError, Frame, TickCtx, TickOutputs};
use crate::neurons::clock;
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
    /// Ticks between up strokes, per neuron (the frame clock; 1 = every tick).
    period: Vec<u64>,
    /// Ticks between down strokes into each input, per neuron and port.
    in_period: Vec<Vec<u64>>,
    plan_version: Option<u64>,
    /// Whether the strokes run over neurons on rayon's threads: only when the layout holds
    /// enough elements (`PAR_WORK`) for the hand-off to pay. Small (audio) networks run on the
    /// calling thread, which also keeps their ticks free of allocations (rayon's job queue
    /// allocates a block every few dozen jobs injected from outside the pool).
    parallel: bool,
    /// The layout size from which `parallel` is set (`PAR_WORK` unless chosen).
    par_work: usize,
    /// Display frames handed out on earlier ticks, their buffers kept for the next capture.
    spare_frames: Vec<Frame>,
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
            period: Vec::new(),
            in_period: Vec::new(),
            plan_version: None,
            parallel: false,
            par_work: min_elements,
            spare_frames: Vec::new(),
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

/// A `write_output` to a port that is not there or of another length (a bug in the caller).
pub(crate) fn write_error(
    backend: &str,
    net: &Network,
    neuron: usize,
    port: usize,
    len: usize,
) -> BackendError {
    let name = net.neurons.get(neuron).map_or("?", |n| n.name.as_str());
    BackendError::Failed {
        backend: backend.into(),
        msg: format!("cannot write {len} values into output {port} of neuron {name:?}"),
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
            let old = carry.get(i).copied().flatten();
            // Inputs carry too: between frame ticks an image input holds its value (a display
            // shows it, an audio neuron reads it) across a catalogue change.
            let kept_ins = old
                .and_then(|j| self.ins.get_mut(j))
                .map(std::mem::take)
                .filter(|v| {
                    v.len() == def.inputs.len()
                        && v.iter()
                            .zip(&def.inputs)
                            .all(|(x, p)| x.len() == p.kind.len(bl))
                });
            ins.push(match kept_ins {
                Some(v) => v,
                None => def
                    .inputs
                    .iter()
                    .map(|p| zeros(p.kind.len(bl), &def.name))
                    .collect::<Result<_, _>>()?,
            });
            // Outputs and private memory carry over when their sizes still fit the definition.
            let lens = state_lens(def, bl);
            let fits = |o: &Vec<Vec<f32>>| o.iter().map(Vec::len).eq(lens.iter().copied());
            let kept = old
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
        self.period = net
            .neurons
            .iter()
            .map(|d| clock::neuron_period(d, &net.settings))
            .collect();
        self.in_period = net
            .neurons
            .iter()
            .map(|d| {
                (0..d.inputs.len())
                    .map(|p| clock::input_period(d, p, &net.settings))
                    .collect()
            })
            .collect();
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
        self.down(net, plan, ctx.tick);
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

    fn write_output(
        &mut self,
        net: &Network,
        neuron: usize,
        port: usize,
        values: &[f32],
    ) -> Result<(), BackendError> {
        match self.outs.get_mut(neuron).and_then(|n| n.get_mut(port)) {
            Some(o) if o.len() == values.len() => {
                o.copy_from_slice(values);
                Ok(())
            }
            _ => Err(write_error("cpu", net, neuron, port, values.len())),
        }
    }

    fn read_port_into(
        &mut self,
        _net: &Network,
        neuron: usize,
        port: usize,
        output: bool,
        out: &mut Vec<f32>,
    ) -> Result<(), BackendError> {
        let store = if output { &self.outs } else { &self.ins };
        out.clear();
        if let Some(v) = store.get(neuron).and_then(|n| n.get(port)) {
            out.extend_from_slice(v);
        }
        Ok(())
    }
}

impl CpuBackend {
    /// Down stroke: every input due this tick from the previous tick's outputs; the inputs of
    /// the frame clock hold their values between frame ticks.
    fn down(&mut self, net: &Network, plan: &DownPlan, tick: u64) {
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
        let in_period = &self.in_period;
        let one = |(n, ins): (usize, &mut Vec<Vec<f32>>)| {
            for (p, dst) in ins.iter_mut().enumerate() {
                if !clock::due(in_period[n][p], tick) {
                    continue;
                }
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
        let period = &self.period;
        let one = |(n, (outs, bad)): (usize, (&mut Vec<Vec<f32>>, &mut u32))| {
            let def = &net.neurons[n];
            // Between its frame ticks an image-clocked neuron holds its outputs.
            if def.engine_side() || !clock::due(period[n], ctx.tick) {
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
        // Frames of earlier ticks go back to the spares: a capture reuses their pixel buffers.
        self.spare_frames.append(&mut out.frames);
        if ctx.capture {
            for &n in &net.displays {
                let spare = self.spare_frames.pop();
                out.frames.extend(self.frame(net, n, spare));
            }
        }
    }

    /// Display `n`'s frame, written into `reuse`'s buffer when there is one.
    fn frame(&self, net: &Network, n: usize, reuse: Option<Frame>) -> Option<Frame> {
        let def = &net.neurons[n];
        let [g, r, gr, b] = &self.ins[n][..] else {
            return None;
        };
        let mut rgba = reuse.map(|f| f.rgba).unwrap_or_default();
        rgba.clear();
        rgba.reserve(def.rows * def.cols * 4);
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
