//! The backend interface. A backend owns the dense stream values (scalars, audio blocks, images)
//! of every neuron that is not engine-side, and runs the down and up strokes over them. The engine
//! keeps the sparse matrix values (W, deltas) and the neurons that work on them (`self`, `edits`,
//! matrix-kind `accum`/`identity`/`gate`) on the CPU in every backend: W is a sparse map.
//!
//! Values may live in device memory; only the backend touches them. Once per tick the backend
//! hands back what the CPU needs (`TickOutputs`).

pub mod cpu;
pub mod gpu;

use crate::neurons::network::{DownPlan, Network};
use thiserror::Error;

#[derive(Debug, Error)]
pub enum BackendError {
    #[error("backend {backend}: {msg}")]
    Failed { backend: String, msg: String },
    #[error("{file}:{line}:{col}: {msg}")]
    Shader {
        file: String,
        line: u32,
        col: u32,
        msg: String,
    },
    #[error("WGSL entry point {entry:?}: {msg}")]
    Entry { entry: String, msg: String },
    #[error("no usable GPU adapter: {0}")]
    NoAdapter(String),
    #[error("the GPU device was lost ({0})")]
    DeviceLost(String),
    #[error("unknown backend {0:?}; expected auto, gpu or cpu")]
    UnknownChoice(String),
}

/// Which backend to run (`--backend`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum BackendChoice {
    /// The GPU on a hardware adapter; the CPU (with a note) on a software one or none.
    #[default]
    Auto,
    Gpu,
    Cpu,
}

impl std::str::FromStr for BackendChoice {
    type Err = BackendError;
    fn from_str(s: &str) -> Result<Self, BackendError> {
        match s {
            "auto" => Ok(BackendChoice::Auto),
            "gpu" => Ok(BackendChoice::Gpu),
            "cpu" => Ok(BackendChoice::Cpu),
            _ => Err(BackendError::UnknownChoice(s.to_string())),
        }
    }
}

pub use crate::neurons::table::Variant;

/// Makes the chosen backend. The note (one line) says why `auto` did not pick the GPU.
pub fn create(choice: BackendChoice) -> Result<(Box<dyn Backend>, Option<String>), BackendError> {
    match choice {
        BackendChoice::Cpu => Ok((Box::new(cpu::CpuBackend::new()), None)),
        BackendChoice::Gpu => Ok((Box::new(gpu::GpuBackend::new()?), None)),
        BackendChoice::Auto => match gpu::GpuContext::new() {
            Ok(ctx) if ctx.software() => Ok((
                Box::new(cpu::CpuBackend::new()),
                Some(format!(
                    "note: the only GPU adapter is {} (software rendering); using the cpu backend (--backend gpu to use it anyway)",
                    ctx.info.name
                )),
            )),
            Ok(ctx) => match gpu::GpuBackend::with_context(ctx) {
                Ok(b) => Ok((Box::new(b), None)),
                Err(e) => Ok((
                    Box::new(cpu::CpuBackend::new()),
                    Some(format!(
                        "note: the GPU backend failed to start ({e}); using the cpu backend"
                    )),
                )),
            },
            Err(e) => Ok((
                Box::new(cpu::CpuBackend::new()),
                Some(format!("note: {e}; using the cpu backend")),
            )),
        },
    }
}

/// The CPU reference backend, boxed: what the engine falls back to when a GPU fails.
pub fn reference() -> Box<dyn Backend> {
    Box::new(cpu::CpuBackend::new())
}

/// Per-tick facts every kernel may use.
#[derive(Clone, Copy, Debug)]
pub struct TickCtx<'a> {
    pub tick: u64,
    /// Global seed (from `--seed`), mixed into every `noise` neuron.
    pub seed: u64,
    /// Produce display frames this tick.
    pub capture: bool,
    /// What MIDI has set up to this tick (read by the host-fed `midi_*` neurons).
    pub midi: &'a crate::neurons::control::MidiState,
}

/// A display frame, RGBA8, row-major, rows×cols.
#[derive(Clone, Debug, PartialEq)]
pub struct Frame {
    pub neuron: usize,
    pub rows: usize,
    pub cols: usize,
    pub rgba: Vec<u8>,
}

/// What the backend reads back once per tick.
#[derive(Clone, Debug, Default)]
pub struct TickOutputs {
    /// One value per `Network::scalar_ports`, after this tick's up stroke.
    pub scalars: Vec<f32>,
    /// Sum of every `audio_out` neuron's inputs (this tick's down stroke); NaN/Inf replaced by 0.
    pub left: Vec<f32>,
    pub right: Vec<f32>,
    /// One frame per `Network::displays`, only when `TickCtx::capture`.
    pub frames: Vec<Frame>,
    /// Non-finite values replaced by 0 this tick, per neuron index.
    pub nonfinite: Vec<u32>,
}

pub trait Backend: Send {
    fn name(&self) -> String;

    /// When a tick fails, the engine may go on with the CPU backend (a lost GPU device).
    fn falls_back_to_cpu(&self) -> bool {
        false
    }

    /// Installs a new catalogue. `carry[i] = Some(j)` means new neuron `i` is old neuron `j`
    /// unchanged: its outputs (its state) must carry over. New neurons start from their `init`.
    fn set_layout(&mut self, net: &Network, carry: &[Option<usize>]) -> Result<(), BackendError>;

    /// One tick: the down stroke described by `plan`, then every neuron's up stroke, then the
    /// read-back into `out`.
    fn tick(
        &mut self,
        net: &Network,
        plan: &DownPlan,
        ctx: &TickCtx,
        out: &mut TickOutputs,
    ) -> Result<(), BackendError>;

    /// The current value of one port (`output = false` reads an input after the last down
    /// stroke). The slow path, for tests and thumbnails; empty for engine-side neurons.
    fn read_port(
        &mut self,
        net: &Network,
        neuron: usize,
        port: usize,
        output: bool,
    ) -> Result<Vec<f32>, BackendError>;

    /// Sets output `port` of a neuron whose values the engine computes (a `w_image`: no kernel
    /// runs it), after this tick's strokes: the next down stroke reads them. `values` has the
    /// port's length. The CPU backend copies; the GPU backend queues one buffer write, which
    /// lands before the next tick's submission.
    /// A backend that cannot (the default) fails, naming the neuron.
    fn write_output(
        &mut self,
        net: &Network,
        neuron: usize,
        port: usize,
        values: &[f32],
    ) -> Result<(), BackendError> {
        Err(cpu::write_error(
            &self.name(),
            net,
            neuron,
            port,
            values.len(),
        ))
    }

    /// Like `read_port`, into `out` (replacing its contents, reusing its allocation): the
    /// scope reads one port every tick this way. The CPU backend copies without allocating.
    fn read_port_into(
        &mut self,
        net: &Network,
        neuron: usize,
        port: usize,
        output: bool,
        out: &mut Vec<f32>,
    ) -> Result<(), BackendError> {
        *out = self.read_port(net, neuron, port, output)?;
        Ok(())
    }
}
