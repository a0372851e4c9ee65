//! Reading results back: the per-tick staging buffer (gathered scalars and audio, NaN/Inf counts,
//! frames) decoded into `TickOutputs`, and the slow path for one port (tests, thumbnails).

use super::GpuBackend;
use super::layout::{READBACK, buffer};
use crate::backend::cpu::guard;
use crate::backend::{BackendError, Frame, TickCtx, TickOutputs};
use crate::neurons::network::Network;

impl GpuBackend {
    /// Submits `enc`, then maps the first `bytes` of `buf` for reading and waits for it.
    pub(super) fn submit_and_map(
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

    /// Decodes the mapped staging buffer (`read` bytes: the io words, then one NaN/Inf count per
    /// neuron) into `out`, and unmaps it.
    pub(super) fn read_tick(
        &self,
        net: &Network,
        ctx: &TickCtx,
        read: u64,
        out: &mut TickOutputs,
    ) -> Result<(), BackendError> {
        let staging = &self.bufs.staging;
        {
            let view = staging
                .slice(..read)
                .get_mapped_range()
                .map_err(|e| self.fail(e.to_string()))?;
            let words: &[u32] = bytemuck::cast_slice(&view);
            let io_words = self.io_words(ctx.capture) as usize;
            let ns = net.scalar_ports.len();
            out.scalars.clear();
            out.scalars
                .extend(words[..ns].iter().map(|&w| f32::from_bits(w)));
            out.nonfinite.clear();
            out.nonfinite
                .extend_from_slice(&words[io_words..io_words + self.layout.neurons()]);
            sum_audio(net, &words[ns..], out);
            out.frames.clear();
            if ctx.capture {
                for &(n, rows, cols, at) in &self.plan.frame_slots {
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
        staging.unmap();
        Ok(())
    }

    /// The values of one port, copied out through a staging buffer of its own.
    pub(super) fn read_values(
        &self,
        neuron: usize,
        port: usize,
        output: bool,
    ) -> Result<Vec<f32>, BackendError> {
        // A matrix-kind input (a w_image's) has no values here.
        let Some((off, len)) = self.layout.port(neuron, port, output).filter(|p| p.1 > 0) else {
            return Ok(Vec::new());
        };
        let src = if output {
            &self.bufs.outs
        } else {
            &self.bufs.ins
        };
        let bytes = len as u64 * 4;
        let staging = buffer(&self.ctx.device, "read_port", bytes, READBACK);
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

/// Sums every audio_out's gathered left and right blocks (after the scalars) into `out`; NaN/Inf
/// become 0 and count against that audio_out neuron.
fn sum_audio(net: &Network, words: &[u32], out: &mut TickOutputs) {
    let bl = net.block_len();
    out.left.clear();
    out.left.resize(bl, 0.0);
    out.right.clear();
    out.right.resize(bl, 0.0);
    let mut block = vec![0.0f32; bl];
    for (i, &n) in net.audio_outs.iter().enumerate() {
        for side in 0..2 {
            let at = (2 * i + side) * bl;
            block.clear();
            block.extend(words[at..at + bl].iter().map(|&w| f32::from_bits(w)));
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
}
