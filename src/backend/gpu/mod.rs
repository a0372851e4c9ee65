//! The GPU backend: every dense stream value lives in two wgpu storage buffers (`ins`, the inputs
//! after the down stroke, and `outs`, the outputs carried between ticks); WGSL kernels from
//! `shaders/` run the down stroke (one lincomb dispatch per kind) and every neuron's up stroke.
//! Once per tick one submission runs everything, and one copy and one map read back the scalars,
//! the audio_out blocks, the NaN/Inf counts and, when asked, the display frames.
//!
//! Neurons that run on the CPU inside this backend: `self`, `edits` and every matrix-kind neuron
//! (the engine runs them: W is a sparse map, not a buffer). `one`, `coords` and `picture` are
//! constants uploaded once; `display` and `audio_out` only read their inputs (the `frame` and
//! `gather` kernels).

pub mod context;
pub mod kernels;

use super::{Backend, BackendError, Frame, TickCtx, TickOutputs, noise_key};
use crate::backend::cpu::{guard, kernels::init_outputs};
use crate::neurons::Op;
use crate::neurons::network::{DownPlan, Network};
use crate::stream::kind::Kind;
pub use context::{AdapterSummary, GpuContext, adapters, is_software};
use kernels::{Kernels, PARAM_SLOT};

/// Per-dispatch parameters; the same layout as `Params` in shaders/common.wgsl.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, bytemuck::Pod, bytemuck::Zeroable)]
struct Params {
    in0: u32,
    in1: u32,
    in2: u32,
    in3: u32,
    out0: u32,
    out1: u32,
    n: u32,
    rows: u32,
    cols: u32,
    k: u32,
    neuron: u32,
    key: u32,
    tick_lo: u32,
    tick_hi: u32,
    f0: f32,
    f1: f32,
}

/// What changes in a dispatch's parameters from tick to tick.
#[derive(Clone, Copy, Debug, PartialEq)]
enum PerTick {
    None,
    /// `noise`: the key (from the global seed) and the tick.
    Noise {
        own_seed: u64,
    },
    /// `time`: tick count and seconds.
    Time,
}

#[derive(Clone, Debug)]
struct Dispatch {
    entry: &'static str,
    params: Params,
    groups: (u32, u32, u32),
    per_tick: PerTick,
    name: String,
}

/// Workgroups for `n` invocations of 256, spread over y when x would pass 65535.
fn groups_1d(n: usize) -> (u32, u32, u32) {
    let g = n.div_ceil(256).max(1) as u32;
    let x = g.min(65535);
    (x, g.div_ceil(x), 1)
}

/// Workgroups of the first reduction pass (at most 256, each a strided loop).
fn partial_groups(n: usize) -> u32 {
    n.div_ceil(256).clamp(1, 256) as u32
}

fn buffer(
    device: &wgpu::Device,
    label: &str,
    bytes: u64,
    usage: wgpu::BufferUsages,
) -> wgpu::Buffer {
    device.create_buffer(&wgpu::BufferDescriptor {
        label: Some(label),
        size: bytes.max(16).next_multiple_of(16),
        usage,
        mapped_at_creation: false,
    })
}

const STORAGE: wgpu::BufferUsages = wgpu::BufferUsages::STORAGE
    .union(wgpu::BufferUsages::COPY_SRC)
    .union(wgpu::BufferUsages::COPY_DST);

pub struct GpuBackend {
    ctx: GpuContext,
    k: Kernels,
    matmul_entry: &'static str,
    /// Offsets (in f32 elements) of every port, by neuron and port.
    in_off: Vec<Vec<u32>>,
    out_off: Vec<Vec<u32>>,
    in_len: Vec<Vec<u32>>,
    out_len: Vec<Vec<u32>>,
    ins: wgpu::Buffer,
    outs: wgpu::Buffer,
    params: wgpu::Buffer,
    plan_buf: wgpu::Buffer,
    scratch: wgpu::Buffer,
    bad: wgpu::Buffer,
    io: wgpu::Buffer,
    staging: wgpu::Buffer,
    bind: Option<wgpu::BindGroup>,
    /// Up-stroke dispatches in neuron order (built at layout time).
    up: Vec<Dispatch>,
    /// Down-stroke dispatches (one per kind) and read-back dispatches (built with the plan).
    down: Vec<Dispatch>,
    tail: Vec<Dispatch>,
    frames: Vec<Dispatch>,
    /// Display neuron, rows, cols, offset in `io` (u32 words).
    frame_slots: Vec<(usize, usize, usize, u32)>,
    gather_len: u32,
    plan_version: Option<u64>,
    neurons: usize,
    param_bytes: Vec<u8>,
}

impl GpuBackend {
    /// Opens the best adapter and compiles every kernel.
    pub fn new() -> Result<GpuBackend, BackendError> {
        GpuBackend::with_context(GpuContext::new()?)
    }

    pub fn with_context(ctx: GpuContext) -> Result<GpuBackend, BackendError> {
        let k = Kernels::new(&ctx.device)?;
        // CPU adapters: barriers cost a context switch per invocation there; use registers only.
        // DMM_MATMUL=tiled|regs overrides the choice (for benchmarking the other variant).
        let matmul_entry = match std::env::var("DMM_MATMUL").as_deref() {
            Ok("tiled") => "matmul_tiled",
            Ok("regs") => "matmul_regs",
            _ if ctx.software() => "matmul_regs",
            _ => "matmul_tiled",
        };
        let d = &ctx.device;
        let make = |label, usage| buffer(d, label, 16, usage);
        let b = GpuBackend {
            ins: make("ins", STORAGE),
            outs: make("outs", STORAGE),
            params: make(
                "params",
                wgpu::BufferUsages::UNIFORM | wgpu::BufferUsages::COPY_DST,
            ),
            plan_buf: make("plan", STORAGE),
            scratch: make("scratch", STORAGE),
            bad: make("bad", STORAGE),
            io: make("io", STORAGE),
            staging: make(
                "staging",
                wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST,
            ),
            ctx,
            k,
            matmul_entry,
            in_off: Vec::new(),
            out_off: Vec::new(),
            in_len: Vec::new(),
            out_len: Vec::new(),
            bind: None,
            up: Vec::new(),
            down: Vec::new(),
            tail: Vec::new(),
            frames: Vec::new(),
            frame_slots: Vec::new(),
            gather_len: 0,
            plan_version: None,
            neurons: 0,
            param_bytes: Vec::new(),
        };
        b.ctx.check()?;
        Ok(b)
    }

    pub fn adapter(&self) -> &wgpu::AdapterInfo {
        &self.ctx.info
    }

    pub fn matmul_variant(&self) -> &'static str {
        self.matmul_entry
    }

    /// A handle on the device (tests destroy it to check the engine's CPU fallback).
    pub fn device(&self) -> wgpu::Device {
        self.ctx.device.clone()
    }

    /// Times `reps` n×n·n×n products of the matmul kernel this adapter uses, in one submission
    /// (after one warm-up run); returns seconds per product. For the benchmark.
    pub fn matmul_seconds(&self, n: usize, reps: u32) -> Result<f64, BackendError> {
        let d = &self.ctx.device;
        let nn = (n * n) as u64;
        let ins = buffer(d, "bench a, b", 2 * nn * 4, STORAGE);
        let outs = buffer(d, "bench c", nn * 4, STORAGE);
        let a: Vec<f32> = (0..2 * nn).map(|i| ((i % 7) as f32 - 3.0) * 0.1).collect();
        self.ctx
            .queue
            .write_buffer(&ins, 0, bytemuck::cast_slice(&a));
        let small = |l| buffer(d, l, 1024, STORAGE);
        let (plan, scratch, bad, io) = (small("plan"), small("scratch"), small("bad"), small("io"));
        let params = buffer(
            d,
            "params",
            PARAM_SLOT,
            wgpu::BufferUsages::UNIFORM | wgpu::BufferUsages::COPY_DST,
        );
        let n32 = n as u32;
        let p = Params {
            in1: nn as u32,
            rows: n32,
            cols: n32,
            k: n32,
            n: nn as u32,
            ..Default::default()
        };
        self.ctx
            .queue
            .write_buffer(&params, 0, bytemuck::bytes_of(&p));
        let bind = self.bind_group([&ins, &outs, &params, &plan, &scratch, &bad, &io]);
        let groups = if self.matmul_entry == "matmul_regs" {
            (n32.div_ceil(128), n32.div_ceil(8))
        } else {
            (n32.div_ceil(64), n32.div_ceil(64))
        };
        let run = |reps: u32| -> Result<f64, BackendError> {
            let t = std::time::Instant::now();
            let mut enc = d.create_command_encoder(&Default::default());
            {
                let mut pass = enc.begin_compute_pass(&Default::default());
                pass.set_pipeline(self.k.get(self.matmul_entry));
                pass.set_bind_group(0, &bind, &[0]);
                for _ in 0..reps {
                    pass.dispatch_workgroups(groups.0, groups.1, 1);
                }
            }
            self.ctx.queue.submit([enc.finish()]);
            d.poll(wgpu::PollType::wait_indefinitely())
                .map_err(|e| self.fail(e.to_string()))?;
            self.ctx.check()?;
            Ok(t.elapsed().as_secs_f64())
        };
        run(1)?;
        Ok(run(reps)? / reps as f64)
    }

    /// A bind group over the seven buffers of the kernels' one layout (shaders/common.wgsl).
    fn bind_group(&self, buffers: [&wgpu::Buffer; 7]) -> wgpu::BindGroup {
        let entries: Vec<wgpu::BindGroupEntry> = buffers
            .iter()
            .enumerate()
            .map(|(i, b)| wgpu::BindGroupEntry {
                binding: i as u32,
                resource: if i == 2 {
                    wgpu::BindingResource::Buffer(wgpu::BufferBinding {
                        buffer: b,
                        offset: 0,
                        size: wgpu::BufferSize::new(64),
                    })
                } else {
                    b.as_entire_binding()
                },
            })
            .collect();
        self.ctx
            .device
            .create_bind_group(&wgpu::BindGroupDescriptor {
                label: Some("dmm state"),
                layout: &self.k.layout,
                entries: &entries,
            })
    }

    fn rebind(&mut self) {
        self.bind = Some(self.bind_group([
            &self.ins,
            &self.outs,
            &self.params,
            &self.plan_buf,
            &self.scratch,
            &self.bad,
            &self.io,
        ]));
    }

    /// The up-stroke dispatches of one neuron.
    fn up_dispatches(&self, net: &Network, n: usize, scratch: &mut u32, out: &mut Vec<Dispatch>) {
        let def = &net.neurons[n];
        let io = &self.in_off[n];
        let oo = &self.out_off[n];
        let i = |p: usize| io.get(p).copied().unwrap_or(0);
        let o = |p: usize| oo.get(p).copied().unwrap_or(0);
        let len_in0 = self.in_len[n].first().copied().unwrap_or(1);
        let len_out0 = self.out_len[n].first().copied().unwrap_or(1);
        let base = Params {
            in0: i(0),
            in1: i(1),
            in2: i(2),
            in3: i(3),
            out0: o(0),
            out1: o(1),
            n: len_out0,
            rows: def.rows as u32,
            cols: def.cols as u32,
            neuron: n as u32,
            ..Default::default()
        };
        let mut push = |entry: &'static str, params: Params, groups, per_tick| {
            out.push(Dispatch {
                entry,
                params,
                groups,
                per_tick,
                name: def.name.clone(),
            })
        };
        let ew = groups_1d(len_out0 as usize);
        let mut reduce =
            |mode: u32,
             n_in: u32,
             push: &mut dyn FnMut(&'static str, Params, (u32, u32, u32), PerTick)| {
                let g = partial_groups(n_in as usize);
                let k = *scratch;
                *scratch += 2 * 256;
                let p = Params {
                    n: n_in,
                    key: mode,
                    k,
                    ..base
                };
                push("partial", p, (g, 1, 1), PerTick::None);
                Params { rows: g, ..p }
            };
        match def.op() {
            Op::SelfW | Op::Edits | Op::One | Op::Coords | Op::Picture => {}
            Op::AudioOut | Op::Display => {}
            Op::Accum => push("accum", base, ew, PerTick::None),
            Op::Identity => push("identity", base, ew, PerTick::None),
            Op::Gate => push("gate", base, ew, PerTick::None),
            Op::Sin => push("sine", base, ew, PerTick::None),
            Op::Tanh => push("tanh_", base, ew, PerTick::None),
            Op::Relu => push("relu", base, ew, PerTick::None),
            Op::Mul => push("mul", base, ew, PerTick::None),
            Op::Time => push("time", base, (1, 1, 1), PerTick::Time),
            Op::Noise => push(
                "noise",
                base,
                ew,
                PerTick::Noise {
                    own_seed: def.params.seed,
                },
            ),
            Op::Phasor if def.kind == Kind::Audio => {
                let f0 = (1.0 / net.settings.sample_rate as f64) as f32;
                push(
                    "phasor_audio",
                    Params { f0, ..base },
                    (1, 1, 1),
                    PerTick::None,
                )
            }
            Op::Phasor => {
                let f0 = (1.0 / net.settings.tick_rate) as f32;
                push("phasor_tick", Params { f0, ..base }, ew, PerTick::None)
            }
            Op::Hold => push("hold", base, (1, 1, 1), PerTick::None),
            Op::Matmul => {
                let (m, nn) = (def.rows as u32, def.cols as u32);
                let k = len_in0 / m.max(1);
                let p = Params { k, ..base };
                let groups = if self.matmul_entry == "matmul_regs" {
                    (nn.div_ceil(128), m.div_ceil(8), 1)
                } else {
                    (nn.div_ceil(64), m.div_ceil(64), 1)
                };
                push(self.matmul_entry, p, groups, PerTick::None)
            }
            Op::SoftmaxRows | Op::SoftmaxCols => {
                let f0 = 1.0 / def.params.temperature;
                let p = Params { f0, ..base };
                if def.op() == Op::SoftmaxRows {
                    let r = def.rows as u32;
                    let x = r.clamp(1, 65535);
                    push(
                        "softmax_rows",
                        p,
                        (x, r.div_ceil(x).max(1), 1),
                        PerTick::None,
                    )
                } else {
                    push(
                        "softmax_cols",
                        p,
                        ((def.cols as u32).div_ceil(64).max(1), 1, 1),
                        PerTick::None,
                    )
                }
            }
            Op::Transpose => {
                // The input is rows×cols; the output cols×rows.
                let (r, c) = match def.inputs[0].kind {
                    Kind::Image { rows, cols } => (rows as u32, cols as u32),
                    _ => (1, len_in0),
                };
                let p = Params {
                    rows: r,
                    cols: c,
                    ..base
                };
                push(
                    "transpose",
                    p,
                    (c.div_ceil(16), r.div_ceil(16), 1),
                    PerTick::None,
                )
            }
            Op::Normalize => {
                let p = reduce(0, len_in0, &mut push);
                push(
                    "normalize_apply",
                    Params { n: len_in0, ..p },
                    groups_1d(len_in0 as usize),
                    PerTick::None,
                )
            }
            Op::MaxNorm => {
                let p = reduce(1, len_in0, &mut push);
                push("max_norm", p, (1, 1, 1), PerTick::None)
            }
            Op::Rms => {
                let p = reduce(2, len_in0, &mut push);
                push("rms", Params { n: len_in0, ..p }, (1, 1, 1), PerTick::None)
            }
            Op::Compare => {
                let p = reduce(3, len_in0, &mut push);
                push("compare", p, (1, 1, 1), PerTick::None)
            }
        }
    }

    /// Rebuilds the plan buffer (rows, terms, gather list) and the down-stroke and read-back
    /// dispatches.
    fn upload_plan(&mut self, net: &Network, plan: &DownPlan) {
        let mut words: Vec<u32> = Vec::new();
        let mut kinds: Vec<(u8, Vec<usize>)> = Vec::new();
        let kind_order = |k: Kind| match k {
            Kind::Scalar => 0u8,
            Kind::Audio => 1,
            _ => 2,
        };
        for (r, row) in plan.rows.iter().enumerate() {
            let ko = kind_order(row.kind);
            match kinds.iter_mut().find(|(k, _)| *k == ko) {
                Some((_, v)) => v.push(r),
                None => kinds.push((ko, vec![r])),
            }
        }
        kinds.sort_by_key(|(k, _)| *k);
        // Rows, grouped by kind.
        let order: Vec<usize> = kinds.iter().flat_map(|(_, v)| v.iter().copied()).collect();
        let n_rows = order.len();
        words.resize(4 * n_rows, 0);
        let mut terms: Vec<u32> = Vec::new();
        let mut term_count = 0u32;
        for (slot, &r) in order.iter().enumerate() {
            let row = &plan.rows[r];
            let dst = self.in_off[row.neuron][row.port];
            let len = self.in_len[row.neuron][row.port];
            let ramp = (row.kind == Kind::Audio) as u32;
            words[4 * slot] = dst;
            words[4 * slot + 1] = len;
            words[4 * slot + 2] = term_count;
            words[4 * slot + 3] = row.terms.len() as u32 | (ramp << 31);
            for t in &row.terms {
                terms.extend_from_slice(&[
                    self.out_off[t.neuron][t.port],
                    t.w0.to_bits(),
                    t.w1.to_bits(),
                ]);
                term_count += 1;
            }
        }
        // Terms start right after the rows: term indices are relative to that start, so shift.
        let term_base = (4 * n_rows) as u32;
        // Terms are addressed as 3·(first + t): put them at an index divisible by 3.
        let pad = (3 - term_base % 3) % 3;
        words.resize(words.len() + pad as usize, 0);
        let first_term = (term_base + pad) / 3;
        for slot in 0..n_rows {
            words[4 * slot + 2] += first_term;
        }
        words.extend_from_slice(&terms);
        // Gather list: every scalar output, then each audio_out's left and right inputs.
        let gather_at = words.len() as u32;
        for &(n, p) in &net.scalar_ports {
            words.push(self.out_off[n][p]);
        }
        for &n in &net.audio_outs {
            for p in 0..2 {
                let (off, len) = (self.in_off[n][p], self.in_len[n][p]);
                words.extend((off..off + len).map(|i| i | 1 << 31));
            }
        }
        self.gather_len = words.len() as u32 - gather_at;
        let bytes: &[u8] = bytemuck::cast_slice(&words);
        if self.plan_buf.size() < bytes.len() as u64 {
            self.plan_buf = buffer(&self.ctx.device, "plan", bytes.len() as u64 * 2, STORAGE);
            self.bind = None;
        }
        self.ctx.queue.write_buffer(&self.plan_buf, 0, bytes);
        // One lincomb dispatch per kind.
        self.down.clear();
        let mut first = 0u32;
        for (_, rows) in &kinds {
            let max_len = rows
                .iter()
                .map(|&r| {
                    let row = &plan.rows[r];
                    self.in_len[row.neuron][row.port]
                })
                .max()
                .unwrap_or(1);
            let nr = rows.len() as u32;
            self.down.push(Dispatch {
                entry: "lincomb",
                params: Params {
                    k: first,
                    rows: nr,
                    ..Default::default()
                },
                groups: (max_len.div_ceil(256), nr, 1),
                per_tick: PerTick::None,
                name: "down stroke".into(),
            });
            first += nr;
        }
        self.tail.clear();
        if self.gather_len > 0 {
            self.tail.push(Dispatch {
                entry: "gather",
                params: Params {
                    k: gather_at,
                    n: self.gather_len,
                    ..Default::default()
                },
                groups: groups_1d(self.gather_len as usize),
                per_tick: PerTick::None,
                name: "read-back".into(),
            });
        }
        self.frames.clear();
        self.frame_slots.clear();
        let mut at = self.gather_len;
        for &n in &net.displays {
            let def = &net.neurons[n];
            let px = (def.rows * def.cols) as u32;
            let io = &self.in_off[n];
            self.frames.push(Dispatch {
                entry: "frame",
                params: Params {
                    in0: io[0],
                    in1: io[1],
                    in2: io[2],
                    in3: io[3],
                    out0: at,
                    n: px,
                    ..Default::default()
                },
                groups: groups_1d(px as usize),
                per_tick: PerTick::None,
                name: def.name.clone(),
            });
            self.frame_slots.push((n, def.rows, def.cols, at));
            at += px;
        }
        let io_bytes = at as u64 * 4;
        if self.io.size() < io_bytes {
            self.io = buffer(&self.ctx.device, "io", io_bytes, STORAGE);
            self.bind = None;
        }
        let staging_bytes = io_bytes + self.neurons as u64 * 4;
        if self.staging.size() < staging_bytes {
            self.staging = buffer(
                &self.ctx.device,
                "staging",
                staging_bytes,
                wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST,
            );
        }
        let slots = (self.down.len() + self.up.len() + self.tail.len() + self.frames.len()) as u64;
        if self.params.size() < slots * PARAM_SLOT {
            self.params = buffer(
                &self.ctx.device,
                "params",
                (slots * 2).max(8) * PARAM_SLOT,
                wgpu::BufferUsages::UNIFORM | wgpu::BufferUsages::COPY_DST,
            );
            self.bind = None;
        }
    }

    /// Submits `enc`, then maps the first `bytes` of `buf` for reading and waits for it.
    fn submit_and_map(
        &self,
        enc: wgpu::CommandEncoder,
        buf: &wgpu::Buffer,
        bytes: u64,
    ) -> Result<(), BackendError> {
        self.ctx.queue.submit([enc.finish()]);
        let (tx, rx) = std::sync::mpsc::channel();
        buf.slice(..bytes).map_async(wgpu::MapMode::Read, move |r| {
            let _ = tx.send(r);
        });
        self.ctx
            .device
            .poll(wgpu::PollType::wait_indefinitely())
            .map_err(|e| self.fail(e.to_string()))?;
        self.ctx.check()?;
        match rx.recv() {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => Err(self.fail(e.to_string())),
            Err(e) => Err(self.fail(e.to_string())),
        }
    }

    fn fail(&self, msg: String) -> BackendError {
        match self.ctx.check() {
            Err(e) => e,
            Ok(()) => BackendError::Failed {
                backend: "gpu".into(),
                msg,
            },
        }
    }
}

impl Backend for GpuBackend {
    fn name(&self) -> String {
        format!("gpu ({})", self.ctx.info.name)
    }

    fn falls_back_to_cpu(&self) -> bool {
        true
    }

    fn set_layout(&mut self, net: &Network, carry: &[Option<usize>]) -> Result<(), BackendError> {
        let bl = net.block_len();
        let (mut in_off, mut out_off, mut in_len, mut out_len) = (vec![], vec![], vec![], vec![]);
        let (mut ni, mut no) = (0u64, 0u64);
        for def in &net.neurons {
            let (mut io, mut il, mut oo, mut ol) = (vec![], vec![], vec![], vec![]);
            if !def.engine_side() {
                for p in &def.inputs {
                    let l = p.kind.len(bl) as u64;
                    io.push(ni as u32);
                    il.push(l as u32);
                    ni += l;
                }
                for p in &def.outputs {
                    let l = p.kind.len(bl) as u64;
                    oo.push(no as u32);
                    ol.push(l as u32);
                    no += l;
                }
            }
            in_off.push(io);
            in_len.push(il);
            out_off.push(oo);
            out_len.push(ol);
        }
        let max = self.ctx.limits.max_storage_buffer_binding_size;
        if ni * 4 > max || no * 4 > max {
            return Err(BackendError::Failed {
                backend: "gpu".into(),
                msg: format!(
                    "the network needs {} MiB of stream values; this adapter binds at most {} MiB",
                    (ni.max(no) * 4) >> 20,
                    max >> 20
                ),
            });
        }
        let d = &self.ctx.device;
        let ins = buffer(d, "ins", ni * 4, STORAGE);
        let outs = buffer(d, "outs", no * 4, STORAGE);
        let mut enc = d.create_command_encoder(&Default::default());
        for (i, def) in net.neurons.iter().enumerate() {
            if def.engine_side() || out_off[i].is_empty() {
                continue;
            }
            let old = carry.get(i).copied().flatten();
            match old.filter(|&j| self.out_off.get(j).is_some_and(|o| !o.is_empty())) {
                Some(j) => {
                    for (p, &l) in out_len[i].iter().enumerate() {
                        enc.copy_buffer_to_buffer(
                            &self.outs,
                            self.out_off[j][p] as u64 * 4,
                            &outs,
                            out_off[i][p] as u64 * 4,
                            l as u64 * 4,
                        );
                    }
                }
                None => {
                    for (p, v) in init_outputs(def, bl).iter().enumerate() {
                        if !v.is_empty() {
                            self.ctx.queue.write_buffer(
                                &outs,
                                out_off[i][p] as u64 * 4,
                                bytemuck::cast_slice(v),
                            );
                        }
                    }
                }
            }
        }
        self.ctx.queue.submit([enc.finish()]);
        self.ins = ins;
        self.outs = outs;
        self.in_off = in_off;
        self.out_off = out_off;
        self.in_len = in_len;
        self.out_len = out_len;
        self.neurons = net.neurons.len();
        self.bad = buffer(d, "bad", self.neurons as u64 * 4, STORAGE);
        let mut up = Vec::new();
        let mut scratch = 0u32;
        for n in 0..net.neurons.len() {
            if !net.neurons[n].engine_side() {
                self.up_dispatches(net, n, &mut scratch, &mut up);
            }
        }
        self.up = up;
        self.scratch = buffer(d, "scratch", scratch as u64 * 4, STORAGE);
        self.bind = None;
        self.plan_version = None;
        self.ctx.check()
    }

    fn tick(
        &mut self,
        net: &Network,
        plan: &DownPlan,
        ctx: &TickCtx,
        out: &mut TickOutputs,
    ) -> Result<(), BackendError> {
        if self.plan_version != Some(plan.version) {
            self.upload_plan(net, plan);
            self.plan_version = Some(plan.version);
        }
        if self.bind.is_none() {
            self.rebind();
        }
        // Parameters of every dispatch, this tick's values patched in.
        let frames = if ctx.capture { self.frames.len() } else { 0 };
        let all: Vec<&Dispatch> = self
            .down
            .iter()
            .chain(&self.up)
            .chain(&self.tail)
            .chain(&self.frames[..frames])
            .collect();
        self.param_bytes.clear();
        self.param_bytes.resize(all.len() * PARAM_SLOT as usize, 0);
        let seconds = (ctx.tick as f64 / net.settings.tick_rate) as f32;
        for (slot, d) in all.iter().enumerate() {
            let mut p = d.params;
            match d.per_tick {
                PerTick::None => {}
                PerTick::Noise { own_seed } => {
                    p.key = noise_key(ctx.seed, own_seed, &d.name);
                    p.tick_lo = ctx.tick as u32;
                    p.tick_hi = (ctx.tick >> 32) as u32;
                }
                PerTick::Time => {
                    p.f0 = ctx.tick as f32;
                    p.f1 = seconds;
                }
            }
            let at = slot * PARAM_SLOT as usize;
            self.param_bytes[at..at + 64].copy_from_slice(bytemuck::bytes_of(&p));
        }
        self.ctx
            .queue
            .write_buffer(&self.params, 0, &self.param_bytes);
        let Some(bind) = self.bind.as_ref() else {
            return Err(self.fail("no bind group".into()));
        };
        let mut enc = self.ctx.device.create_command_encoder(&Default::default());
        enc.clear_buffer(&self.ins, 0, None);
        enc.clear_buffer(&self.bad, 0, None);
        {
            let mut pass = enc.begin_compute_pass(&wgpu::ComputePassDescriptor {
                label: Some("tick"),
                timestamp_writes: None,
            });
            for (slot, d) in all.iter().enumerate() {
                pass.set_pipeline(self.k.get(d.entry));
                pass.set_bind_group(0, bind, &[(slot as u64 * PARAM_SLOT) as u32]);
                pass.dispatch_workgroups(d.groups.0, d.groups.1, d.groups.2);
            }
        }
        let frame_words: u32 = if ctx.capture {
            self.frame_slots.iter().map(|f| (f.1 * f.2) as u32).sum()
        } else {
            0
        };
        let io_words = (self.gather_len + frame_words) as u64;
        if io_words > 0 {
            enc.copy_buffer_to_buffer(&self.io, 0, &self.staging, 0, io_words * 4);
        }
        let bad_at = io_words * 4;
        enc.copy_buffer_to_buffer(&self.bad, 0, &self.staging, bad_at, self.neurons as u64 * 4);
        let read = bad_at + self.neurons as u64 * 4;
        self.submit_and_map(enc, &self.staging, read)?;
        {
            let view = self.staging.slice(..read).get_mapped_range().map_err(|e| {
                BackendError::Failed {
                    backend: "gpu".into(),
                    msg: e.to_string(),
                }
            })?;
            let words: &[u32] = bytemuck::cast_slice(&view);
            let vals = |r: std::ops::Range<usize>| words[r].iter().map(|&w| f32::from_bits(w));
            let ns = net.scalar_ports.len();
            out.scalars.clear();
            out.scalars.extend(vals(0..ns));
            out.nonfinite.clear();
            out.nonfinite
                .extend_from_slice(&words[io_words as usize..io_words as usize + self.neurons]);
            let bl = net.block_len();
            out.left.clear();
            out.left.resize(bl, 0.0);
            out.right.clear();
            out.right.resize(bl, 0.0);
            let mut at = ns;
            let mut block = vec![0.0f32; bl];
            for &n in &net.audio_outs {
                for side in 0..2 {
                    block.clear();
                    block.extend(vals(at..at + bl));
                    at += bl;
                    out.nonfinite[n] += guard(&mut block);
                    let dst = if side == 0 {
                        &mut out.left
                    } else {
                        &mut out.right
                    };
                    for (d, s) in dst.iter_mut().zip(&block) {
                        *d += s;
                    }
                }
            }
            out.frames.clear();
            if ctx.capture {
                for &(n, rows, cols, at) in &self.frame_slots {
                    let px = &words[at as usize..at as usize + rows * cols];
                    out.frames.push(Frame {
                        neuron: n,
                        rows,
                        cols,
                        rgba: bytemuck::cast_slice(px).to_vec(),
                    });
                }
            }
        }
        self.staging.unmap();
        Ok(())
    }

    fn read_port(
        &mut self,
        _net: &Network,
        neuron: usize,
        port: usize,
        output: bool,
    ) -> Result<Vec<f32>, BackendError> {
        let (offs, lens, src) = if output {
            (&self.out_off, &self.out_len, &self.outs)
        } else {
            (&self.in_off, &self.in_len, &self.ins)
        };
        let (Some(&off), Some(&len)) = (
            offs.get(neuron).and_then(|o| o.get(port)),
            lens.get(neuron).and_then(|o| o.get(port)),
        ) else {
            return Ok(Vec::new());
        };
        let bytes = len as u64 * 4;
        let staging = buffer(
            &self.ctx.device,
            "read_port",
            bytes,
            wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST,
        );
        let mut enc = self.ctx.device.create_command_encoder(&Default::default());
        enc.copy_buffer_to_buffer(src, off as u64 * 4, &staging, 0, bytes);
        self.submit_and_map(enc, &staging, bytes)?;
        let v = {
            let view = staging
                .slice(..bytes)
                .get_mapped_range()
                .map_err(|e| self.fail(e.to_string()))?;
            bytemuck::cast_slice::<u8, f32>(&view).to_vec()
        };
        staging.unmap();
        Ok(v)
    }
}
