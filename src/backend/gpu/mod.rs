//! The GPU backend: every dense stream value lives in two wgpu storage buffers (`ins`, the inputs
//! after the down stroke, and `outs`, the outputs carried between ticks); WGSL kernels from
//! `shaders/` run the down stroke (one lincomb dispatch per kind) and every neuron's up stroke, as
//! its row in the neuron table says. Once per tick one submission runs everything, and one copy
//! and one map read back the scalars, the audio_out blocks, the NaN/Inf counts and, when asked,
//! the display frames.
//!
//! Files: `context` (adapter, device, errors), `kernels` (WGSL, pipelines, the entry check),
//! `layout` (where each port lives), `plan` (what a tick dispatches), `dispatch` (encoding a
//! tick), `readback` (mapping results back).
//!
//! Neurons that run on the CPU inside this backend: `self`, `edits` and every matrix-kind neuron
//! (the engine runs them: W is a sparse map, not a buffer). Constants (`one`, `coords`,
//! `picture`) are uploaded once; `display` and `audio_out` only read their inputs.

pub mod context;
mod dispatch;
pub mod kernels;
mod layout;
mod plan;
mod readback;

use super::{Backend, BackendError, TickCtx, TickOutputs};
use crate::neurons::network::{DownPlan, Network};
use crate::neurons::table::{Entry, Kernel, Variant, type_info};
pub use context::{AdapterSummary, GpuContext, adapters, is_software};
use kernels::Kernels;
use layout::{Layout, READBACK, STORAGE, UNIFORM, buffer};
use plan::{Dispatch, Plan};

/// Choices a caller may make about the GPU backend.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct GpuOptions {
    /// Which variant of the kernels that have two (matmul). `None`: `Regs` on a CPU adapter,
    /// `Tiled` on a hardware GPU; the environment variable `DMM_MATMUL=tiled|regs` overrides
    /// that default (for benchmarking).
    pub variant: Option<Variant>,
}

impl GpuOptions {
    fn resolve(&self, software: bool) -> Variant {
        if let Some(v) = self.variant {
            return v;
        }
        match std::env::var("DMM_MATMUL").as_deref() {
            Ok("tiled") => Variant::Tiled,
            Ok("regs") => Variant::Regs,
            _ if software => Variant::Regs,
            _ => Variant::Tiled,
        }
    }
}

/// The device buffers of one layout and plan, and their bind group.
struct Buffers {
    ins: wgpu::Buffer,
    outs: wgpu::Buffer,
    params: wgpu::Buffer,
    plan: wgpu::Buffer,
    scratch: wgpu::Buffer,
    bad: wgpu::Buffer,
    io: wgpu::Buffer,
    staging: wgpu::Buffer,
    bind: Option<wgpu::BindGroup>,
}

impl Buffers {
    fn new(d: &wgpu::Device) -> Buffers {
        Buffers {
            ins: buffer(d, "ins", 16, STORAGE),
            outs: buffer(d, "outs", 16, STORAGE),
            params: buffer(d, "params", 16, UNIFORM),
            plan: buffer(d, "plan", 16, STORAGE),
            scratch: buffer(d, "scratch", 16, STORAGE),
            bad: buffer(d, "bad", 16, STORAGE),
            io: buffer(d, "io", 16, STORAGE),
            staging: buffer(d, "staging", 16, READBACK),
            bind: None,
        }
    }
}

pub struct GpuBackend {
    ctx: GpuContext,
    k: Kernels,
    variant: Variant,
    layout: Layout,
    bufs: Buffers,
    /// Up-stroke dispatches in neuron order (built with the layout).
    up: Vec<Dispatch>,
    plan: Plan,
    param_bytes: Vec<u8>,
    /// The host-fed (`midi_*`) kernels' outputs, kept between ticks: no allocation per tick.
    host_outs: Vec<Vec<f32>>,
}

impl GpuBackend {
    /// Opens the best adapter and compiles every kernel, with the default options.
    pub fn new() -> Result<GpuBackend, BackendError> {
        GpuBackend::with_options(GpuContext::new()?, GpuOptions::default())
    }

    pub fn with_context(ctx: GpuContext) -> Result<GpuBackend, BackendError> {
        GpuBackend::with_options(ctx, GpuOptions::default())
    }

    pub fn with_options(ctx: GpuContext, opts: GpuOptions) -> Result<GpuBackend, BackendError> {
        let k = Kernels::new(&ctx.device)?;
        let b = GpuBackend {
            variant: opts.resolve(ctx.software()),
            bufs: Buffers::new(&ctx.device),
            ctx,
            k,
            layout: Layout::default(),
            up: Vec::new(),
            plan: Plan::default(),
            param_bytes: Vec::new(),
            host_outs: Vec::new(),
        };
        b.ctx.check()?;
        Ok(b)
    }

    pub fn adapter(&self) -> &wgpu::AdapterInfo {
        &self.ctx.info
    }

    pub fn variant(&self) -> Variant {
        self.variant
    }

    /// The WGSL entry point of matmul in the chosen variant.
    pub fn matmul_variant(&self) -> &'static str {
        self.matmul_entry().map(|e| e.name).unwrap_or("none")
    }

    /// Matmul's entry point and grid in the chosen variant, from its table row.
    fn matmul_entry(&self) -> Result<Entry, BackendError> {
        match type_info("matmul").map(|t| t.gpu.kernel) {
            Some(Kernel::Variants { tiled, regs }) => Ok(match self.variant {
                Variant::Tiled => tiled,
                Variant::Regs => regs,
            }),
            Some(Kernel::One(e)) => Ok(e),
            _ => Err(self.fail("the neuron table has no GPU matmul".into())),
        }
    }

    /// A handle on the device (tests destroy it to check the engine's CPU fallback).
    pub fn device(&self) -> wgpu::Device {
        self.ctx.device.clone()
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
        let layout = Layout::new(net);
        layout.check_fits(&self.ctx)?;
        let outs = layout::carry_outputs(
            &self.ctx,
            net,
            &layout,
            &self.layout,
            &self.bufs.outs,
            carry,
        );
        let ins = layout::carry_inputs(&self.ctx, &layout, &self.layout, &self.bufs.ins, carry);
        let d = &self.ctx.device;
        self.bufs.ins = ins;
        self.bufs.outs = outs;
        self.bufs.bad = buffer(d, "bad", net.neurons.len() as u64 * 4, STORAGE);
        let mut up = Vec::new();
        let mut scratch = 0u32;
        for n in 0..net.neurons.len() {
            if !net.neurons[n].engine_side() {
                plan::up_dispatches(&layout, net, n, self.variant, &mut scratch, &mut up);
            }
        }
        self.bufs.scratch = buffer(d, "scratch", scratch as u64 * 4, STORAGE);
        self.bufs.bind = None;
        self.layout = layout;
        self.up = up;
        self.plan = Plan::default();
        self.ctx.check()
    }

    fn tick(
        &mut self,
        net: &Network,
        plan: &DownPlan,
        ctx: &TickCtx,
        out: &mut TickOutputs,
    ) -> Result<(), BackendError> {
        if self.plan.version != Some(plan.version) {
            self.plan = Plan::new(&self.layout, net, plan);
            self.upload_plan();
        }
        let read = self.encode_and_submit(net, ctx)?;
        self.read_tick(net, ctx, read, out)
    }

    fn write_output(
        &mut self,
        net: &Network,
        neuron: usize,
        port: usize,
        values: &[f32],
    ) -> Result<(), BackendError> {
        match self.layout.port(neuron, port, true) {
            Some((off, len)) if len as usize == values.len() => {
                self.ctx.queue.write_buffer(
                    &self.bufs.outs,
                    off as u64 * 4,
                    bytemuck::cast_slice(values),
                );
                Ok(())
            }
            _ => Err(super::cpu::write_error(
                "gpu",
                net,
                neuron,
                port,
                values.len(),
            )),
        }
    }

    fn read_port(
        &mut self,
        _net: &Network,
        neuron: usize,
        port: usize,
        output: bool,
    ) -> Result<Vec<f32>, BackendError> {
        self.read_values(neuron, port, output)
    }
}
