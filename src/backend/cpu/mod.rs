//! The CPU backend: the reference semantics. It runs each type's CPU kernel from the neuron table
//! (`src/neurons/`: plain Rust, rayon threads for images, a real GEMM for matmul) and the down
//! stroke, with rayon over neurons.

use super::{Backend, BackendError, Frame, TickCtx, TickOutputs};
use crate::neurons::clock;
use crate::neurons::elementwise::{phasor_blocks, phasor_dt};
use crate::neurons::fastmath::wide;
use crate::neurons::network::{DownPlan, Network, Row, Term};
use crate::neurons::outputs::to_u8;
use crate::neurons::table::Op;
use crate::neurons::{NeuronDef, UpCtx, init_outputs, state_lens};
use crate::stream::kind::Kind;
use rayon::prelude::*;

pub struct CpuBackend {
    /// Per neuron, per input port: this tick's input values (after the down stroke).
    ins: Vec<Vec<Vec<f32>>>,
    /// Per neuron, per output port: the latest outputs (the state carried between ticks).
    outs: Vec<Vec<Vec<f32>>>,
    /// Rows of the current plan by neuron: `row_of[n][p]` indexes `plan.rows`.
    row_of: Vec<Vec<Option<usize>>>,
    /// Per row of the plan: all its sources are as long as its target (`row_lengths_match`).
    row_exact: Vec<bool>,
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
    /// The up stroke's batches of audio phasors, eight or four at a time (on the calling thread;
    /// `phasor_blocks`); `batched[n]`: neuron `n` runs in one of them, not on its own.
    phasors8: Vec<[usize; 8]>,
    phasors4: Vec<[usize; 4]>,
    batched: Vec<bool>,
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
            row_exact: Vec::new(),
            period: Vec::new(),
            in_period: Vec::new(),
            plan_version: None,
            parallel: false,
            par_work: min_elements,
            phasors8: Vec::new(),
            phasors4: Vec::new(),
            batched: Vec::new(),
            spare_frames: Vec::new(),
        }
    }
}

/// `dst = Σ w·src`, with the weight ramped from w0 to w1 across audio blocks. The sum is a left
/// fold in the plan's term order (the first term writes, each next one adds), the GPU's order.
/// Runs of up to eight constant-weight terms share one pass over `dst` (the same fold per
/// element, so the same bits as one pass per term, with a fraction of the memory traffic); a
/// ramping term takes a pass of its own. AVX2-wide where the CPU has it (`wide!`: same bits).
/// `exact`: every source is as long as `dst` (checked once per plan, `row_lengths_match`).
fn lincomb(dst: &mut [f32], row: &Row, outs: &[Vec<Vec<f32>>], exact: bool) {
    if !exact {
        // Never in a type-correct plan; kept safe (the shorter length wins, as zip would).
        return lincomb_zip(dst, row, outs);
    }
    wide!(lincomb_body(dst: &mut [f32], row: &Row, outs: &[Vec<Vec<f32>>]))
}

/// Whether every source of `row` is as long as its target input.
fn row_lengths_match(row: &Row, ins: &[Vec<Vec<f32>>], outs: &[Vec<Vec<f32>>]) -> bool {
    let len =
        |v: &[Vec<Vec<f32>>], n: usize, p: usize| v.get(n).and_then(|x| x.get(p)).map(Vec::len);
    let n = len(ins, row.neuron, row.port);
    n.is_some() && row.terms.iter().all(|t| len(outs, t.neuron, t.port) == n)
}

#[inline(always)]
fn lincomb_body(dst: &mut [f32], row: &Row, outs: &[Vec<Vec<f32>>]) {
    let src = |t: &Term| outs[t.neuron][t.port].as_slice();
    let ramps = |t: &Term| row.kind == Kind::Audio && t.w0 != t.w1;
    let mut first = true;
    let mut rest = &row.terms[..];
    while let Some(t) = rest.first() {
        if ramps(t) {
            ramp(dst, t.w0, t.w1, src(t), first);
            rest = &rest[1..];
            first = false;
            continue;
        }
        // The longest run of constant weights that fits one pass (8, 4, 2 or 1 terms).
        let run = match rest.iter().take(8).take_while(|t| !ramps(t)).count() {
            8 => 8,
            4..=7 => 4,
            2 | 3 => 2,
            _ => 1,
        };
        let terms = &rest[..run];
        match run {
            8 => fold::<8>(dst, terms, src, first),
            4 => fold::<4>(dst, terms, src, first),
            2 => fold::<2>(dst, terms, src, first),
            _ => fold::<1>(dst, terms, src, first),
        }
        rest = &rest[run..];
        first = false;
    }
    if row.terms.is_empty() {
        dst.fill(0.0);
    }
}

/// `dst = [dst] + w₀·s₀ + … + w_{N−1}·s_{N−1}` per element, added left to right (`first`: no
/// `dst` term). Every source is `dst.len()` long.
#[inline(always)]
fn fold<'a, const N: usize>(
    dst: &mut [f32],
    terms: &[Term],
    src: impl Fn(&Term) -> &'a [f32],
    first: bool,
) {
    let n = dst.len();
    let w: [f32; N] = std::array::from_fn(|k| terms[k].w1);
    // Every slice exactly n long and indexed by i < n: no bounds checks, and the whole block
    // vectorises (an enumerate over dst left a scalar tail of up to 32 samples).
    let s: [&[f32]; N] = std::array::from_fn(|k| &src(&terms[k])[..n]);
    if first {
        for i in 0..n {
            let mut acc = w[0] * s[0][i];
            for k in 1..N {
                acc += w[k] * s[k][i];
            }
            dst[i] = acc;
        }
    } else {
        for i in 0..n {
            let mut acc = dst[i];
            for k in 0..N {
                acc += w[k] * s[k][i];
            }
            dst[i] = acc;
        }
    }
}

/// One audio term whose weight ramps from `w0` to `w1` across the block (no zipper noise).
#[inline(always)]
fn ramp(dst: &mut [f32], w0: f32, w1: f32, src: &[f32], first: bool) {
    let step = (w1 - w0) / dst.len() as f32;
    for (i, (d, &s)) in dst.iter_mut().zip(src).enumerate() {
        let v = (w0 + step * (i + 1) as f32) * s;
        *d = if first { v } else { *d + v };
    }
}

/// `lincomb` one term at a time with zip's lengths: for sources of another length than `dst`.
fn lincomb_zip(dst: &mut [f32], row: &Row, outs: &[Vec<Vec<f32>>]) {
    for (k, t) in row.terms.iter().enumerate() {
        let src = &outs[t.neuron][t.port];
        let first = k == 0;
        if row.kind == Kind::Audio && t.w0 != t.w1 {
            ramp(dst, t.w0, t.w1, src, first);
        } else {
            for (d, &s) in dst.iter_mut().zip(src) {
                *d = if first { t.w1 * s } else { *d + t.w1 * s };
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

/// One neuron's up stroke: its CPU kernel, then the guard (NaN/Inf become 0, counted in `bad`).
fn run_kernel(def: &NeuronDef, ins: &[Vec<f32>], outs: &mut [Vec<f32>], up: &UpCtx, bad: &mut u32) {
    let Some(kernel) = def.info.cpu else { return };
    kernel(def, ins, outs, up);
    *bad = outs.iter_mut().map(|o| guard(o)).sum();
}

/// `K` audio phasors' up stroke in one `phasor_blocks` pass, each guarded as on its own.
fn phasor_batch<const K: usize>(
    net: &Network,
    ins: &[Vec<Vec<f32>>],
    outs: &mut [Vec<Vec<f32>>],
    idx: [usize; K],
    dt: f32,
    up: &UpCtx,
    nonfinite: &mut [u32],
) {
    match outs.get_disjoint_mut(idx) {
        Ok(o) => {
            let o = o.map(|v| v[0].as_mut_slice());
            phasor_blocks(o, idx.map(|n| ins[n][0].as_slice()), dt);
            for n in idx {
                nonfinite[n] = guard(&mut outs[n][0]);
            }
        }
        // Batches hold distinct neurons of the layout; should one not, run them one by one.
        Err(_) => {
            for n in idx {
                run_kernel(
                    &net.neurons[n],
                    &ins[n],
                    &mut outs[n],
                    up,
                    &mut nonfinite[n],
                );
            }
        }
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

/// Replaces NaN/Inf by 0; returns how many there were. Counting first is a branch-free pass
/// that vectorises (AVX2-wide where the CPU has it); the rare block with a bad value takes a
/// second pass to clean it.
pub fn guard(v: &mut [f32]) -> u32 {
    wide!(guard_body(v: &mut [f32]) -> u32)
}

#[inline(always)]
fn guard_body(v: &mut [f32]) -> u32 {
    // Wrapping: a checked add (debug builds) would keep the loop from vectorising.
    let n = v
        .iter()
        .fold(0u32, |n, x| n.wrapping_add(u32::from(!x.is_finite())));
    if n > 0 {
        for x in v.iter_mut() {
            if !x.is_finite() {
                *x = 0.0;
            }
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
        self.batch_phasors(net);
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
            self.row_exact = (plan.rows.iter())
                .map(|row| row_lengths_match(row, &self.ins, &self.outs))
                .collect();
            self.plan_version = Some(plan.version);
        }
        let outs = &self.outs;
        let row_of = &self.row_of;
        let exact = &self.row_exact;
        let in_period = &self.in_period;
        let one = |(n, ins): (usize, &mut Vec<Vec<f32>>)| {
            for (p, dst) in ins.iter_mut().enumerate() {
                if !clock::due(in_period[n][p], tick) {
                    continue;
                }
                match row_of[n][p] {
                    Some(r) => lincomb(dst, &plan.rows[r], outs, exact[r]),
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
    /// state); NaN/Inf outputs become 0 and are counted per neuron. Neurons are independent
    /// within a stroke, so the batched phasors run after the others.
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
        let batched = &self.batched;
        let one = |(n, (outs, bad)): (usize, (&mut Vec<Vec<f32>>, &mut u32))| {
            let def = &net.neurons[n];
            // Between its frame ticks an image-clocked neuron holds its outputs.
            if def.engine_side() || !clock::due(period[n], ctx.tick) {
                return;
            }
            run_kernel(def, &ins[n], outs, &up, bad);
        };
        if self.parallel {
            self.outs
                .par_iter_mut()
                .zip(nonfinite.par_iter_mut())
                .enumerate()
                .for_each(one);
            return;
        }
        self.outs
            .iter_mut()
            .zip(nonfinite.iter_mut())
            .enumerate()
            .filter(|(n, _)| !batched.get(*n).copied().unwrap_or(false))
            .for_each(one);
        let dt = phasor_dt(&up);
        for &idx in &self.phasors8 {
            phasor_batch(net, &self.ins, &mut self.outs, idx, dt, &up, nonfinite);
        }
        for &idx in &self.phasors4 {
            phasor_batch(net, &self.ins, &mut self.outs, idx, dt, &up, nonfinite);
        }
    }

    /// Groups the audio phasors of `net` into batches for the up stroke on the calling thread
    /// (a parallel layout runs every neuron on its own).
    fn batch_phasors(&mut self, net: &Network) {
        let all: Vec<usize> = net
            .neurons
            .iter()
            .enumerate()
            .filter(|(n, d)| {
                d.op() == Op::Phasor
                    && d.kind == Kind::Audio
                    && !d.engine_side()
                    && self.period[*n] == 1
                    && self.outs[*n].len() == 1
                    && self.ins[*n].len() == 1
            })
            .map(|(n, _)| n)
            .collect();
        let all = if self.parallel { &[][..] } else { &all[..] };
        let (eights, rest) = all.as_chunks::<8>();
        let (fours, _) = rest.as_chunks::<4>();
        self.phasors8 = eights.to_vec();
        self.phasors4 = fours.to_vec();
        self.batched = vec![false; net.neurons.len()];
        for &n in self
            .phasors8
            .iter()
            .flatten()
            .chain(self.phasors4.iter().flatten())
        {
            self.batched[n] = true;
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
