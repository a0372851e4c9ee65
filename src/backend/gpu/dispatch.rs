//! Encoding a tick: the plan's buffers sized and uploaded, this tick's parameters patched into
//! one uniform slot per dispatch, every dispatch in one compute pass, and the copies into the
//! staging buffer that `readback` maps.

use super::layout::{READBACK, STORAGE, UNIFORM, buffer};
use super::plan::{self, Dispatch, Params};
use super::{GpuBackend, kernels::PARAM_SLOT};
use crate::backend::{BackendError, TickCtx};
use crate::neurons::elementwise::noise_key;
use crate::neurons::network::Network;
use crate::neurons::table::{PerTick, UpCtx};

impl GpuBackend {
    /// Writes the plan words and grows the buffers the plan needs (which drops the bind group).
    pub(super) fn upload_plan(&mut self) {
        let d = &self.ctx.device;
        let b = &mut self.bufs;
        let bytes: &[u8] = bytemuck::cast_slice(&self.plan.words);
        if b.plan.size() < bytes.len() as u64 {
            b.plan = buffer(d, "plan", bytes.len() as u64 * 2, STORAGE);
            b.bind = None;
        }
        self.ctx.queue.write_buffer(&b.plan, 0, bytes);
        let io_bytes = self.plan.io_words as u64 * 4;
        if b.io.size() < io_bytes {
            b.io = buffer(d, "io", io_bytes, STORAGE);
            b.bind = None;
        }
        let staging_bytes = io_bytes + self.layout.neurons() as u64 * 4;
        if b.staging.size() < staging_bytes {
            b.staging = buffer(d, "staging", staging_bytes, READBACK);
        }
        let p = &self.plan;
        let slots = (p.down.len() + self.up.len() + p.tail.len() + p.frames.len()) as u64;
        if b.params.size() < slots * PARAM_SLOT {
            b.params = buffer(d, "params", (slots * 2).max(8) * PARAM_SLOT, UNIFORM);
            b.bind = None;
        }
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
                        size: wgpu::BufferSize::new(plan::PARAMS_BYTES),
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

    /// Runs one tick's dispatches and copies what the CPU needs into `staging`, mapped on
    /// return. Returns the number of bytes mapped.
    pub(super) fn encode_and_submit(
        &mut self,
        net: &Network,
        ctx: &TickCtx,
    ) -> Result<u64, BackendError> {
        if self.bufs.bind.is_none() {
            let b = &self.bufs;
            let bind = self.bind_group([
                &b.ins, &b.outs, &b.params, &b.plan, &b.scratch, &b.bad, &b.io,
            ]);
            self.bufs.bind = Some(bind);
        }
        let frames = if ctx.capture {
            self.plan.frames.len()
        } else {
            0
        };
        // The frame clock: dispatches of neurons (and inputs) not due this tick are left out,
        // and their buffers hold. `tail` and `frames` read the held values every tick.
        let all: Vec<&Dispatch> = (self.plan.down.iter())
            .chain(&self.up)
            .filter(|d| d.due(ctx.tick))
            .chain(&self.plan.tail)
            .chain(&self.plan.frames[..frames])
            .collect();
        patch_params(&mut self.param_bytes, &mut self.host_outs, &all, net, ctx);
        let b = &self.bufs;
        self.ctx.queue.write_buffer(&b.params, 0, &self.param_bytes);
        let Some(bind) = b.bind.as_ref() else {
            return Err(self.fail("no bind group".into()));
        };
        let mut enc = self.ctx.device.create_command_encoder(&Default::default());
        enc.clear_buffer(&b.bad, 0, None);
        {
            let mut pass = enc.begin_compute_pass(&wgpu::ComputePassDescriptor {
                label: Some("tick"),
                timestamp_writes: None,
            });
            for (slot, d) in all.iter().enumerate() {
                pass.set_pipeline(self.k.get(d.entry)?);
                pass.set_bind_group(0, bind, &[(slot as u64 * PARAM_SLOT) as u32]);
                pass.dispatch_workgroups(d.groups.0, d.groups.1, d.groups.2);
            }
        }
        let io_words = self.io_words(ctx.capture) as u64;
        if io_words > 0 {
            enc.copy_buffer_to_buffer(&b.io, 0, &b.staging, 0, io_words * 4);
        }
        let neurons = self.layout.neurons() as u64;
        enc.copy_buffer_to_buffer(&b.bad, 0, &b.staging, io_words * 4, neurons * 4);
        let read = (io_words + neurons) * 4;
        self.submit_and_map(enc, &b.staging, read)?;
        Ok(read)
    }

    /// Words of `io` read back this tick: the gathered values, and the frames when captured.
    pub(super) fn io_words(&self, capture: bool) -> u32 {
        if capture {
            self.plan.io_words
        } else {
            self.plan.gather_len
        }
    }

    /// Times `reps` n×n·n×n products of the matmul kernel in the chosen variant, in one
    /// submission (after one warm-up run); returns seconds per product. For the benchmark.
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
        let params = buffer(d, "params", PARAM_SLOT, UNIFORM);
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
        let entry = self.matmul_entry()?;
        let groups = plan::groups(entry.grid, &p);
        let pipeline = self.k.get(entry.name)?;
        let run = |reps: u32| -> Result<f64, BackendError> {
            let t = std::time::Instant::now();
            let mut enc = d.create_command_encoder(&Default::default());
            {
                let mut pass = enc.begin_compute_pass(&Default::default());
                pass.set_pipeline(pipeline);
                pass.set_bind_group(0, &bind, &[0]);
                for _ in 0..reps {
                    pass.dispatch_workgroups(groups.0, groups.1, groups.2);
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
}

/// A host-fed neuron's (up to three scalar) outputs this tick, from its row's CPU kernel: the
/// GPU shows exactly what the CPU backend computes.
/// Host-fed neurons have no inputs and scalar outputs only (packed: port i at `out0 + i`).
/// `outs` is the kernel's output buffers, reused from tick to tick (zeroed first, as new).
fn host_values(
    net: &Network,
    n: usize,
    ctx: &TickCtx,
    outs: &mut Vec<Vec<f32>>,
) -> ([f32; 3], u32) {
    let mut v = [0.0f32; 3];
    let Some(def) = net.neurons.get(n) else {
        return (v, 0);
    };
    let Some(kernel) = def.info.cpu else {
        return (v, 0);
    };
    let k = def.outputs.len();
    if outs.len() < k {
        outs.resize(k, Vec::new());
    }
    let outs = &mut outs[..k];
    for o in outs.iter_mut() {
        o.clear();
        o.push(0.0);
    }
    let up = UpCtx {
        tick: ctx.tick,
        seed: ctx.seed,
        tick_rate: net.settings.tick_rate,
        sample_rate: net.settings.sample_rate as f64,
        midi: ctx.midi,
    };
    kernel(def, &[], outs, &up);
    for (d, o) in v.iter_mut().zip(outs.iter()) {
        *d = o.first().copied().unwrap_or(0.0);
    }
    (v, def.outputs.len().min(3) as u32)
}

/// Every dispatch's parameters for this tick, one uniform slot each.
fn patch_params(
    bytes: &mut Vec<u8>,
    host: &mut Vec<Vec<f32>>,
    all: &[&Dispatch],
    net: &Network,
    ctx: &TickCtx,
) {
    bytes.clear();
    bytes.resize(all.len() * PARAM_SLOT as usize, 0);
    let seconds = (ctx.tick as f64 / net.settings.tick_rate) as f32;
    for (slot, d) in all.iter().enumerate() {
        let mut p = d.params;
        match d.per_tick {
            PerTick::None => {}
            PerTick::NoiseKey => {
                p.key = noise_key(ctx.seed, d.own_seed, &d.name);
                p.tick_lo = ctx.tick as u32;
                p.tick_hi = (ctx.tick >> 32) as u32;
            }
            PerTick::TickTime => {
                p.f0 = ctx.tick as f32;
                p.f1 = seconds;
            }
            PerTick::Host => {
                let ([a, b, c], count) = host_values(net, p.neuron as usize, ctx, host);
                p.f0 = a;
                p.f1 = b;
                p.key = c.to_bits();
                p.tick_lo = count;
            }
        }
        let at = slot * PARAM_SLOT as usize;
        bytes[at..at + plan::PARAMS_BYTES as usize].copy_from_slice(bytemuck::bytes_of(&p));
    }
}
