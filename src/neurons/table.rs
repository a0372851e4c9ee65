//! The one table of neuron types. Each row says everything the rest of the program needs about a
//! type: its ports and kinds, settings, a one-line doc, its CPU reference kernel and how the GPU
//! runs it (WGSL entry point, dispatch grid, per-tick parameters, the tolerance against the CPU).
//! The rows live in one file per family, next to their CPU kernels (`dmm.rs`, `elementwise.rs`,
//! `images.rs`, `warp.rs`, `matrices.rs`, `bridges.rs`, `audio.rs`, `control.rs`, `outputs.rs`);
//! `TYPES` joins them at compile time.
//!
//! Adding a neuron type = one row and its CPU kernel in a family file, one WGSL entry point in
//! `shaders/`, one check in `tests/kernels.rs`. The GPU backend builds its pipelines from the
//! rows and refuses to start when an entry point a row names is missing from `shaders/`. A row
//! (from `elementwise.rs`; `relu` is the CPU kernel beside it, `"relu"` the WGSL function):
//!
//! ```text
//! TypeInfo {
//!     name: "relu",
//!     inputs: &[("x", Any)],
//!     outputs: &[("out", Any)],
//!     kinds: Kinds::Dense,
//!     settings: &[],
//!     doc: "out = max(x, 0), elementwise.",
//!     example: "{}",
//!     cpu: Some(relu),
//!     start: None,
//!     gpu: Gpu::elementwise("relu"),
//! },
//! ```

use super::{
    NeuronDef, audio, bridges, control, dmm, elementwise, images, matrices, outputs, warp,
};
use crate::stream::kind::Settings;

/// How a port's kind is resolved for one neuron instance.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PortKind {
    Scalar,
    Audio,
    Matrix,
    /// The neuron's `kind` setting (scalar, audio, image rows×cols, or matrix where allowed).
    Any,
    /// An image of the neuron's `rows`×`cols`.
    Image,
    /// An image of `cols`×`rows` (the transpose's output).
    ImageT,
    /// `rows`×`inner` (matmul's left factor).
    MatA,
    /// `inner`×`cols` (matmul's right factor).
    MatB,
}

/// Which values the `kind` setting may take for a type with `Any` ports.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kinds {
    /// No `Any` port: the type takes no `kind` setting.
    None,
    /// scalar, audio or image.
    Dense,
    /// scalar, audio, image or matrix.
    All,
}

/// A type's identity: its name. The constants name the types that code outside their row treats
/// specially (the engine runs matrix-kind neurons, the backends read the outputs); a new type
/// needs none.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Op(pub &'static str);

// Named like the enum variants they replaced, so that `match def.op() { Op::SelfW => .. }` reads
// as before.
#[allow(non_upper_case_globals)]
impl Op {
    pub const SelfW: Op = Op("self");
    pub const Edits: Op = Op("edits");
    pub const Accum: Op = Op("accum");
    pub const Identity: Op = Op("identity");
    pub const Gate: Op = Op("gate");
    pub const Picture: Op = Op("picture");
    /// The CPU backend runs a network's audio phasors in batches.
    pub const Phasor: Op = Op("phasor");
    pub const AudioOut: Op = Op("audio_out");
    pub const Display: Op = Op("display");
}

impl std::fmt::Debug for Op {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.0)
    }
}

/// Everything a CPU kernel may look at besides the neuron's inputs and outputs.
#[derive(Clone, Copy, Debug)]
pub struct UpCtx<'a> {
    pub tick: u64,
    /// The global seed (`--seed`), mixed into every `noise` neuron.
    pub seed: u64,
    pub tick_rate: f64,
    pub sample_rate: f64,
    /// What MIDI has set up to this tick (the `midi_*` neurons read it).
    pub midi: &'a control::MidiState,
}

/// A CPU reference kernel: one neuron's up stroke. `outs` holds the previous outputs on entry (the
/// state) and the new outputs on return; `ins` are this tick's inputs, one vector per port.
pub type UpFn = fn(def: &NeuronDef, ins: &[Vec<f32>], outs: &mut [Vec<f32>], ctx: &UpCtx);

/// The value of output `port` (of `len` elements) at birth, for types whose outputs do not start
/// from the `init` setting: the constants (`one`, `coords`, `picture`) are set here and never
/// change.
pub type StartFn = fn(def: &NeuronDef, port: usize, len: usize) -> Vec<f32>;

/// Checks a type's own settings against the machine settings and says how much private memory
/// one neuron keeps between ticks (a delay line, a filter's state): `Err((setting, what was
/// expected))` refuses the neuron at load.
pub type MemoryFn =
    fn(def: &NeuronDef, settings: &Settings) -> Result<Memory, (&'static str, String)>;

/// The workgroups of one dispatch, from the dispatch's parameters (`n` elements, `rows`×`cols`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Grid {
    /// One invocation per element, 256 to a workgroup (spread over y past 65535 workgroups).
    Elements,
    /// One workgroup.
    Single,
    /// One workgroup per row (x + 65535·y).
    Rows,
    /// One workgroup per `per_group` columns.
    Columns { per_group: u32 },
    /// Tiles of `cols`×`rows` elements over the neuron's cols×rows.
    Tiles { cols: u32, rows: u32 },
}

impl Grid {
    /// Checks a kernel's `@workgroup_size` against what this grid's workgroup counts assume
    /// (`backend::gpu::plan::groups`): `Elements` counts 256 invocations to a workgroup, in x;
    /// `Columns` gives each workgroup `per_group` columns, one x lane each; a `Tiles` tile is a
    /// whole number of workgroups in x and y (each invocation computing a few elements);
    /// `Single` and `Rows` kernels loop over their work, so any size fits them.
    pub fn check_workgroup(self, wg: [u32; 3]) -> Result<(), String> {
        let ok = match self {
            Grid::Elements => wg == [256, 1, 1],
            Grid::Single | Grid::Rows => true,
            Grid::Columns { per_group } => wg[0] == per_group && wg[2] == 1,
            Grid::Tiles { cols, rows } => {
                wg[0] > 0 && wg[1] > 0 && cols % wg[0] == 0 && rows % wg[1] == 0 && wg[2] == 1
            }
        };
        if ok {
            return Ok(());
        }
        Err(match self {
            Grid::Elements => {
                "the dispatch counts 256 invocations to a workgroup: @workgroup_size(256)".into()
            }
            Grid::Columns { per_group } => format!(
                "the dispatch gives each workgroup {per_group} columns: @workgroup_size({per_group}, N)"
            ),
            Grid::Tiles { cols, rows } => format!(
                "the dispatch covers {cols}x{rows} elements per workgroup: a workgroup size dividing {cols} in x and {rows} in y"
            ),
            Grid::Single | Grid::Rows => unreachable!("any size fits"),
        })
    }
}

/// A WGSL entry point (a function of a file in `shaders/`) and its grid.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Entry {
    pub name: &'static str,
    pub grid: Grid,
}

/// Kernels with two implementations. `Tiled` stages tiles through workgroup memory (what hardware
/// GPUs run); `Regs` keeps everything in registers with no barriers (CPU adapters such as
/// lavapipe, where a barrier costs a context switch per invocation). The GPU backend's options
/// pick one, by default per adapter.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Variant {
    Tiled,
    Regs,
}

/// What a type's GPU dispatch runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kernel {
    /// No GPU work: engine-side (`self`, `edits`), a constant uploaded at birth, or an output that
    /// the backend's own read-back kernels read (`audio_out`, `display`).
    None,
    One(Entry),
    /// One entry per `Variant`.
    Variants {
        tiled: Entry,
        regs: Entry,
    },
}

/// The first pass of a two-pass reduction: the `partial` entry of shaders/reduce.wgsl folds the
/// first input into per-workgroup partials in this mode; the type's own entry folds those.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reduce {
    MinMax = 0,
    MaxAbs = 1,
    SumSquares = 2,
    /// Elements where !(left ≤ right).
    CountGreater = 3,
}

/// The WGSL entry point of every `Reduce` pass.
pub const PARTIAL_ENTRY: &str = "partial";

/// Dispatch parameters that change from tick to tick (all others are fixed at layout time).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PerTick {
    None,
    /// `key` from the global seed, the neuron's `seed` and name; `tick_lo`/`tick_hi`.
    NoiseKey,
    /// `f0` = the tick count, `f1` = seconds (computed on the CPU: both backends agree exactly).
    TickTime,
    /// Host-fed scalars (`midi_*`): the row's CPU kernel runs on the host and its (up to three)
    /// outputs go in `f0`, `f1` and the bits of `key`.
    Host,
}

/// How far the GPU may be from the CPU reference: |gpu − cpu| ≤ relative · max(1, |cpu|), on the
/// circle for phases. Written next to each WGSL kernel too.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Tolerance {
    pub relative: f64,
    pub circular: bool,
}

/// A neuron's private memory: `len` f32s that start as `head` (its first elements: sizes and
/// positions the GPU kernel cannot learn otherwise) followed by zeros.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Memory {
    pub len: usize,
    pub head: [f32; 6],
}

/// How the GPU backend runs a type. Every dispatch gets the neuron's port offsets (`in0..in3`,
/// `out0`, `out1`), `n` = the first output's length, `rows`, `cols`, `k` = the first input's
/// length / rows, `f0` = 1/temperature and `f1` = the time step (1/sample_rate on audio, else
/// 1/tick_rate); see shaders/common.wgsl.
#[derive(Clone, Copy, Debug)]
pub struct Gpu {
    pub kernel: Kernel,
    /// Replaces `kernel` on audio-kind neurons (a block that must be computed in order).
    pub audio: Option<Kernel>,
    /// A `partial` pass first; then `n` is the first input's length, `k` the partials' offset in
    /// `scratch` and `rows` their count.
    pub reduce: Option<Reduce>,
    pub per_tick: PerTick,
    pub tolerance: Tolerance,
    /// Private memory beyond the outputs, for types that keep more state than their last outputs
    /// (`None`: the outputs are the whole state). Both backends hold it right after the neuron's
    /// outputs (on the GPU at `out0` + the outputs' total length), start it from its `head` and
    /// zeros, and carry it through edits like the outputs; the memory budget counts it; it is
    /// not a port and cannot be wired. Kernels read and write it as the last entry of `outs`.
    pub memory: Option<MemoryFn>,
}

impl Gpu {
    /// No GPU kernel.
    pub const NONE: Gpu = Gpu {
        kernel: Kernel::None,
        audio: None,
        reduce: None,
        per_tick: PerTick::None,
        tolerance: Tolerance {
            relative: 0.0,
            circular: false,
        },
        memory: None,
    };

    /// One entry point on `grid`, elementwise tolerance (1e-5).
    pub const fn run(name: &'static str, grid: Grid) -> Gpu {
        Gpu {
            kernel: Kernel::One(Entry { name, grid }),
            tolerance: Tolerance {
                relative: 1e-5,
                circular: false,
            },
            ..Gpu::NONE
        }
    }

    /// A kernel with a `Tiled` and a `Regs` implementation, reduction tolerance (1e-4).
    pub const fn variants(tiled: Entry, regs: Entry) -> Gpu {
        Gpu {
            kernel: Kernel::Variants { tiled, regs },
            tolerance: Tolerance {
                relative: 1e-4,
                circular: false,
            },
            ..Gpu::NONE
        }
    }

    /// One invocation per output element.
    pub const fn elementwise(name: &'static str) -> Gpu {
        Gpu::run(name, Grid::Elements)
    }

    pub const fn audio(mut self, name: &'static str, grid: Grid) -> Gpu {
        self.audio = Some(Kernel::One(Entry { name, grid }));
        self
    }

    pub const fn reduce(mut self, mode: Reduce) -> Gpu {
        self.reduce = Some(mode);
        self
    }

    pub const fn per_tick(mut self, p: PerTick) -> Gpu {
        self.per_tick = p;
        self
    }

    pub const fn tolerance(mut self, relative: f64) -> Gpu {
        self.tolerance.relative = relative;
        self
    }

    /// The type keeps private memory (see the field).
    pub const fn memory(mut self, f: MemoryFn) -> Gpu {
        self.memory = Some(f);
        self
    }

    pub const fn circular(mut self) -> Gpu {
        self.tolerance.circular = true;
        self
    }

    /// The kernel a neuron of this kind runs.
    pub fn kernel_for(&self, audio: bool) -> Kernel {
        match (audio, self.audio) {
            (true, Some(k)) => k,
            _ => self.kernel,
        }
    }

    /// Every entry point this row names (both variants, the audio kernel, `partial`).
    pub fn entries(&self) -> Vec<&'static str> {
        self.entry_grids().into_iter().map(|(e, _)| e).collect()
    }

    /// Every entry point this row names, each with the grid it is dispatched on. `partial` runs
    /// up to 256 workgroups of 256 (a strided loop and a 256-wide tree): `Elements`' size.
    pub fn entry_grids(&self) -> Vec<(&'static str, Grid)> {
        let mut v = Vec::new();
        for k in [Some(self.kernel), self.audio].into_iter().flatten() {
            match k {
                Kernel::None => {}
                Kernel::One(e) => v.push((e.name, e.grid)),
                Kernel::Variants { tiled, regs } => {
                    v.extend([(tiled.name, tiled.grid), (regs.name, regs.grid)])
                }
            }
        }
        if self.reduce.is_some() {
            v.push((PARTIAL_ENTRY, Grid::Elements));
        }
        v
    }
}

/// One neuron type.
#[derive(Clone, Copy, Debug)]
pub struct TypeInfo {
    pub name: &'static str,
    pub inputs: &'static [(&'static str, PortKind)],
    pub outputs: &'static [(&'static str, PortKind)],
    pub kinds: Kinds,
    /// Settings keys beyond `type`, `comment`, and (for Any/image types) `kind`, `rows`, `cols`.
    pub settings: &'static [&'static str],
    pub doc: &'static str,
    /// Settings of a working example (a JSON object), beyond `kind`: the generated all-types test
    /// patches use it (a `picture` needs a file).
    pub example: &'static str,
    /// The CPU up stroke; `None` for types that compute nothing there (engine-side, constants,
    /// outputs).
    pub cpu: Option<UpFn>,
    /// Outputs at birth when they are not the `init` setting.
    pub start: Option<StartFn>,
    pub gpu: Gpu,
}

impl TypeInfo {
    pub fn op(&self) -> Op {
        Op(self.name)
    }

    /// Does this type use the neuron's rows/cols?
    pub fn has_shape(&self) -> bool {
        self.kinds != Kinds::None
            || self.inputs.iter().chain(self.outputs).any(|(_, k)| {
                matches!(
                    k,
                    PortKind::Image | PortKind::ImageT | PortKind::MatA | PortKind::MatB
                )
            })
    }
}

/// The families, in the order `dmm-synth types` and the README list them.
const FAMILIES: &[&[TypeInfo]] = &[
    dmm::TYPES,
    elementwise::TYPES,
    images::TYPES,
    warp::TYPES,
    matrices::TYPES,
    bridges::TYPES,
    audio::TYPES,
    control::TYPES,
    outputs::TYPES,
];

const fn count(families: &[&[TypeInfo]]) -> usize {
    let (mut n, mut i) = (0, 0);
    while i < families.len() {
        n += families[i].len();
        i += 1;
    }
    n
}

const fn join<const N: usize>(families: &[&[TypeInfo]]) -> [TypeInfo; N] {
    let mut out = [families[0][0]; N];
    let (mut at, mut f) = (0, 0);
    while f < families.len() {
        let mut i = 0;
        while i < families[f].len() {
            out[at] = families[f][i];
            at += 1;
            i += 1;
        }
        f += 1;
    }
    out
}

/// Every neuron type.
pub static TYPES: &[TypeInfo] = &join::<{ count(FAMILIES) }>(FAMILIES);

/// Looks a type up by name.
pub fn type_info(name: &str) -> Option<&'static TypeInfo> {
    TYPES.iter().find(|t| t.name == name)
}

/// All type names, for error messages.
pub fn type_names() -> Vec<&'static str> {
    TYPES.iter().map(|t| t.name).collect()
}

/// Every WGSL entry point the table names, sorted, each with the first type naming it.
pub fn wgsl_entries() -> Vec<(&'static str, &'static str)> {
    let mut v: Vec<(&str, &str)> = Vec::new();
    for t in TYPES {
        for e in t.gpu.entries() {
            if !v.iter().any(|(n, _)| *n == e) {
                v.push((e, t.name));
            }
        }
    }
    v.sort();
    v
}

/// Every (WGSL entry point, grid) pair the table names, each with the first type naming it: an
/// entry two rows dispatch on different grids is listed once per grid.
pub fn wgsl_entry_grids() -> Vec<(&'static str, Grid, &'static str)> {
    let mut v: Vec<(&str, Grid, &str)> = Vec::new();
    for t in TYPES {
        for (e, g) in t.gpu.entry_grids() {
            if !v.iter().any(|&(n, h, _)| n == e && h == g) {
                v.push((e, g, t.name));
            }
        }
    }
    v
}

/// The neuron table as Markdown (what `dmm-synth types` prints and the README shows).
pub fn markdown() -> String {
    let kind = |k: &PortKind| match k {
        PortKind::Scalar => "scalar",
        PortKind::Audio => "audio",
        PortKind::Matrix => "matrix",
        PortKind::Any => "any",
        PortKind::Image => "image",
        PortKind::ImageT => "image (cols×rows)",
        PortKind::MatA => "image (rows×inner)",
        PortKind::MatB => "image (inner×cols)",
    };
    let list = |items: Vec<String>| {
        if items.is_empty() {
            "—".to_string()
        } else {
            items.join(", ")
        }
    };
    let ports = |ps: &[(&str, PortKind)]| {
        list(
            ps.iter()
                .map(|(n, k)| format!("`{n}` {}", kind(k)))
                .collect(),
        )
    };
    let mut s = String::from(
        "| type | inputs | outputs | `kind` | settings | what it does |\n|---|---|---|---|---|---|\n",
    );
    for t in TYPES {
        let kinds = match t.kinds {
            Kinds::None => "—",
            Kinds::Dense => "scalar, audio, image",
            Kinds::All => "scalar, audio, image, matrix",
        };
        let settings = list(t.settings.iter().map(|s| format!("`{s}`")).collect());
        s.push_str(&format!(
            "| `{}` | {} | {} | {} | {} | {} |\n",
            t.name,
            ports(t.inputs),
            ports(t.outputs),
            kinds,
            settings,
            t.doc
        ));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Each kernel is registered with its twin: a type computes on the CPU exactly when it has a
    /// GPU kernel. Names are unique; examples are JSON objects using only the row's settings.
    #[test]
    fn every_row_is_complete() {
        for (i, t) in TYPES.iter().enumerate() {
            assert_eq!(
                t.cpu.is_some(),
                t.gpu.kernel != Kernel::None,
                "{}: a CPU kernel and a GPU kernel go together",
                t.name
            );
            assert!(
                t.gpu.audio.is_none() || t.gpu.kernel != Kernel::None,
                "{}",
                t.name
            );
            assert!(
                !TYPES[..i].iter().any(|u| u.name == t.name),
                "{} twice",
                t.name
            );
            assert!(!t.doc.is_empty() && !t.doc.contains('|'), "{}: doc", t.name);
            let ex: serde_json::Map<String, serde_json::Value> =
                serde_json::from_str(t.example).unwrap_or_else(|e| panic!("{}: {e}", t.name));
            for key in ex.keys() {
                assert!(
                    t.settings.contains(&key.as_str()),
                    "{}: example {key}",
                    t.name
                );
            }
        }
        assert_eq!(type_info("relu").map(|t| t.op()), Some(Op("relu")));
        assert_eq!(format!("{:?}", Op::SelfW), "self");
    }
}
