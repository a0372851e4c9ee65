//! Where every port's values live: offsets and lengths in the two packed storage buffers (`ins`,
//! the inputs after the down stroke; `outs`, the outputs carried between ticks), and the buffers
//! themselves. A new layout carries unchanged neurons' outputs over and starts the others from
//! their birth values.

use super::context::GpuContext;
use crate::backend::BackendError;
use crate::neurons::network::Network;
use crate::neurons::{init_outputs, state_lens};

pub const STORAGE: wgpu::BufferUsages = wgpu::BufferUsages::STORAGE
    .union(wgpu::BufferUsages::COPY_SRC)
    .union(wgpu::BufferUsages::COPY_DST);

pub const UNIFORM: wgpu::BufferUsages =
    wgpu::BufferUsages::UNIFORM.union(wgpu::BufferUsages::COPY_DST);

pub const READBACK: wgpu::BufferUsages =
    wgpu::BufferUsages::MAP_READ.union(wgpu::BufferUsages::COPY_DST);

/// A buffer of at least `bytes` (rounded up to 16, at least 16).
pub fn buffer(
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

/// Offsets and lengths (in f32 elements) of every port, by neuron and port. Engine-side neurons
/// have none.
#[derive(Default)]
pub struct Layout {
    pub in_off: Vec<Vec<u32>>,
    pub out_off: Vec<Vec<u32>>,
    pub in_len: Vec<Vec<u32>>,
    pub out_len: Vec<Vec<u32>>,
    /// Total elements of `ins` and `outs`.
    pub in_total: u64,
    pub out_total: u64,
}

impl Layout {
    pub fn new(net: &Network) -> Layout {
        let bl = net.block_len();
        let mut l = Layout::default();
        for def in &net.neurons {
            let (mut io, mut il, mut oo, mut ol) = (vec![], vec![], vec![], vec![]);
            if !def.engine_side() {
                for p in &def.inputs {
                    let n = p.kind.len(bl) as u64;
                    io.push(l.in_total as u32);
                    il.push(n as u32);
                    l.in_total += n;
                }
                // The outputs, then the private memory (`Gpu::memory`) as one more entry.
                for n in state_lens(def, bl) {
                    let n = n as u64;
                    oo.push(l.out_total as u32);
                    ol.push(n as u32);
                    l.out_total += n;
                }
            }
            l.in_off.push(io);
            l.in_len.push(il);
            l.out_off.push(oo);
            l.out_len.push(ol);
        }
        l
    }

    pub fn neurons(&self) -> usize {
        self.in_off.len()
    }

    /// Offset of input/output `p` of neuron `n`, 0 when it has none (an unused parameter).
    pub fn input(&self, n: usize, p: usize) -> u32 {
        self.in_off[n].get(p).copied().unwrap_or(0)
    }

    pub fn output(&self, n: usize, p: usize) -> u32 {
        self.out_off[n].get(p).copied().unwrap_or(0)
    }

    /// `(offset, length)` of a port, if the backend holds it.
    pub fn port(&self, n: usize, p: usize, output: bool) -> Option<(u32, u32)> {
        let (offs, lens) = if output {
            (&self.out_off, &self.out_len)
        } else {
            (&self.in_off, &self.in_len)
        };
        Some((*offs.get(n)?.get(p)?, *lens.get(n)?.get(p)?))
    }

    /// Refuses a network whose values do not fit one binding of this adapter.
    pub fn check_fits(&self, ctx: &GpuContext) -> Result<(), BackendError> {
        let max = ctx.limits.max_storage_buffer_binding_size;
        let need = self.in_total.max(self.out_total) * 4;
        if need > max {
            return Err(BackendError::Failed {
                backend: "gpu".into(),
                msg: format!(
                    "the network needs {} MiB of stream values; this adapter binds at most {} MiB",
                    need >> 20,
                    max >> 20
                ),
            });
        }
        Ok(())
    }
}

/// Makes the `outs` buffer of a new layout: neuron `i` copies old neuron `carry[i]`'s outputs
/// (its state) when it has some, else starts from its birth values.
pub fn carry_outputs(
    ctx: &GpuContext,
    net: &Network,
    new: &Layout,
    old: &Layout,
    old_outs: &wgpu::Buffer,
    carry: &[Option<usize>],
) -> wgpu::Buffer {
    let d = &ctx.device;
    let outs = buffer(d, "outs", new.out_total * 4, STORAGE);
    let mut enc = d.create_command_encoder(&Default::default());
    for (i, def) in net.neurons.iter().enumerate() {
        if def.engine_side() || new.out_off[i].is_empty() {
            continue;
        }
        let old_i = carry.get(i).copied().flatten();
        // Carried when the old neuron's outputs and memory have the sizes the new one needs.
        match old_i.filter(|&j| {
            old.out_off.get(j).is_some_and(|o| !o.is_empty())
                && old.out_len.get(j) == Some(&new.out_len[i])
        }) {
            Some(j) => {
                for (p, &len) in new.out_len[i].iter().enumerate() {
                    enc.copy_buffer_to_buffer(
                        old_outs,
                        old.out_off[j][p] as u64 * 4,
                        &outs,
                        new.out_off[i][p] as u64 * 4,
                        len as u64 * 4,
                    );
                }
            }
            None => {
                for (p, v) in init_outputs(def, net.block_len()).iter().enumerate() {
                    if !v.is_empty() {
                        let at = new.out_off[i][p] as u64 * 4;
                        ctx.queue.write_buffer(&outs, at, bytemuck::cast_slice(v));
                    }
                }
            }
        }
    }
    ctx.queue.submit([enc.finish()]);
    outs
}
