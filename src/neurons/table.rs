//! The one table of neuron types: name, ports, kinds, settings and a one-line doc.
//! Adding a neuron type = one row here, one CPU kernel, one WGSL kernel, one test.

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

/// Which kernel a type runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Op {
    SelfW,
    Edits,
    Accum,
    Identity,
    One,
    Time,
    Gate,
    MaxNorm,
    Compare,
    Sin,
    Tanh,
    Relu,
    Mul,
    Phasor,
    Noise,
    Matmul,
    SoftmaxRows,
    SoftmaxCols,
    Transpose,
    Normalize,
    Coords,
    Picture,
    Hold,
    Rms,
    AudioOut,
    Display,
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

#[derive(Debug)]
pub struct TypeInfo {
    pub name: &'static str,
    pub op: Op,
    pub inputs: &'static [(&'static str, PortKind)],
    pub outputs: &'static [(&'static str, PortKind)],
    pub kinds: Kinds,
    /// Settings keys beyond `type`, `comment`, and (for Any/image types) `kind`, `rows`, `cols`.
    pub settings: &'static [&'static str],
    pub doc: &'static str,
}

use PortKind::*;

pub static TYPES: &[TypeInfo] = &[
    // ---- DMM core ----
    TypeInfo {
        name: "self",
        op: Op::SelfW,
        inputs: &[("accum", Matrix), ("delta", Matrix)],
        outputs: &[("out", Matrix)],
        kinds: Kinds::None,
        settings: &[],
        doc: "The network matrix W: out = accum + delta; accum is fed from out with weight 1. Always present.",
    },
    TypeInfo {
        name: "edits",
        op: Op::Edits,
        inputs: &[],
        outputs: &[("out", Matrix)],
        kinds: Kinds::None,
        settings: &[],
        doc: "Emits the edit requests that arrived this tick as one W delta (wired to self.delta). Always present.",
    },
    TypeInfo {
        name: "accum",
        op: Op::Accum,
        inputs: &[("accum", Any), ("delta", Any)],
        outputs: &[("out", Any)],
        kinds: Kinds::All,
        settings: &["init"],
        doc: "out = accum + delta; feed out back into accum with weight 1 to integrate delta.",
    },
    TypeInfo {
        name: "identity",
        op: Op::Identity,
        inputs: &[("in", Any)],
        outputs: &[("out", Any)],
        kinds: Kinds::All,
        settings: &["init"],
        doc: "out = in (a one-tick delay); with a self-loop of weight 1 it holds its init value.",
    },
    TypeInfo {
        name: "one",
        op: Op::One,
        inputs: &[],
        outputs: &[("out", Any)],
        kinds: Kinds::Dense,
        settings: &[],
        doc: "Emits 1 everywhere; the weight on its connection is the constant.",
    },
    TypeInfo {
        name: "time",
        op: Op::Time,
        inputs: &[],
        outputs: &[("ticks", Scalar), ("seconds", Scalar)],
        kinds: Kinds::None,
        settings: &[],
        doc: "The tick count and the time in seconds (tick / tick_rate).",
    },
    TypeInfo {
        name: "gate",
        op: Op::Gate,
        inputs: &[("g", Scalar), ("x", Any)],
        outputs: &[("out", Any)],
        kinds: Kinds::All,
        settings: &[],
        doc: "out = g · x: the fuzzy conditional (0 closes, 1 passes, -1 inverts); works on W deltas too.",
    },
    TypeInfo {
        name: "max_norm",
        op: Op::MaxNorm,
        inputs: &[("in", Any)],
        outputs: &[("out", Scalar)],
        kinds: Kinds::Dense,
        settings: &[],
        doc: "out = max |in| over all elements.",
    },
    TypeInfo {
        name: "compare",
        op: Op::Compare,
        inputs: &[("left", Any), ("right", Any)],
        outputs: &[("true", Scalar), ("false", Scalar)],
        kinds: Kinds::Dense,
        settings: &[],
        doc: "true = 1, false = 0 when every element of left <= right; otherwise true = 0, false = 1.",
    },
    // ---- unit generators, elementwise on any dense kind ----
    TypeInfo {
        name: "sin",
        op: Op::Sin,
        inputs: &[("x", Any), ("a", Any), ("b", Any)],
        outputs: &[("out", Any)],
        kinds: Kinds::Dense,
        settings: &[],
        doc: "out = sin(a·x + b), elementwise.",
    },
    TypeInfo {
        name: "tanh",
        op: Op::Tanh,
        inputs: &[("x", Any)],
        outputs: &[("out", Any)],
        kinds: Kinds::Dense,
        settings: &[],
        doc: "out = tanh(x), elementwise (a soft limiter).",
    },
    TypeInfo {
        name: "relu",
        op: Op::Relu,
        inputs: &[("x", Any)],
        outputs: &[("out", Any)],
        kinds: Kinds::Dense,
        settings: &[],
        doc: "out = max(x, 0), elementwise.",
    },
    TypeInfo {
        name: "mul",
        op: Op::Mul,
        inputs: &[("a", Any), ("b", Any)],
        outputs: &[("out", Any)],
        kinds: Kinds::Dense,
        settings: &[],
        doc: "out = a · b, elementwise (ring modulation, masks).",
    },
    TypeInfo {
        name: "phasor",
        op: Op::Phasor,
        inputs: &[("freq", Any)],
        outputs: &[("out", Any)],
        kinds: Kinds::Dense,
        settings: &[],
        doc: "Integrates freq (Hz) into a phase in [0, 1) that stays continuous across ticks and edits.",
    },
    TypeInfo {
        name: "noise",
        op: Op::Noise,
        inputs: &[],
        outputs: &[("out", Any)],
        kinds: Kinds::Dense,
        settings: &["seed"],
        doc: "Uniform noise in [-1, 1), a pure function of (seed, neuron, tick, index): deterministic.",
    },
    // ---- images ----
    TypeInfo {
        name: "matmul",
        op: Op::Matmul,
        inputs: &[("a", MatA), ("b", MatB)],
        outputs: &[("out", Image)],
        kinds: Kinds::None,
        settings: &["inner"],
        doc: "out = a · b, matrix product (a: rows×inner, b: inner×cols).",
    },
    TypeInfo {
        name: "softmax_rows",
        op: Op::SoftmaxRows,
        inputs: &[("x", Image)],
        outputs: &[("out", Image)],
        kinds: Kinds::None,
        settings: &["temperature"],
        doc: "Softmax of each row of x / temperature (max subtracted: never overflows).",
    },
    TypeInfo {
        name: "softmax_cols",
        op: Op::SoftmaxCols,
        inputs: &[("x", Image)],
        outputs: &[("out", Image)],
        kinds: Kinds::None,
        settings: &["temperature"],
        doc: "Softmax of each column of x / temperature (max subtracted).",
    },
    TypeInfo {
        name: "transpose",
        op: Op::Transpose,
        inputs: &[("x", Image)],
        outputs: &[("out", ImageT)],
        kinds: Kinds::None,
        settings: &[],
        doc: "out = xᵀ (x: rows×cols, out: cols×rows).",
    },
    TypeInfo {
        name: "normalize",
        op: Op::Normalize,
        inputs: &[("x", Any)],
        outputs: &[("out", Any)],
        kinds: Kinds::Dense,
        settings: &[],
        doc: "Min-max to [0, 1]: (x - min) / (max - min); a constant input gives 0.",
    },
    TypeInfo {
        name: "coords",
        op: Op::Coords,
        inputs: &[],
        outputs: &[("x", Image), ("y", Image)],
        kinds: Kinds::None,
        settings: &[],
        doc: "Ramps from 0 to 1: x along each row (left to right), y down each column.",
    },
    TypeInfo {
        name: "picture",
        op: Op::Picture,
        inputs: &[],
        outputs: &[("out", Image)],
        kinds: Kinds::None,
        settings: &["file"],
        doc: "A PNG asset as a grey matrix in [0, 1] (BT.601 luma), resized to rows×cols.",
    },
    // ---- bridges between kinds ----
    TypeInfo {
        name: "hold",
        op: Op::Hold,
        inputs: &[("x", Scalar)],
        outputs: &[("out", Audio)],
        kinds: Kinds::None,
        settings: &[],
        doc: "Scalar to audio, ramped linearly from the last value across the block (no zipper noise).",
    },
    TypeInfo {
        name: "rms",
        op: Op::Rms,
        inputs: &[("x", Audio)],
        outputs: &[("out", Scalar)],
        kinds: Kinds::None,
        settings: &[],
        doc: "Root mean square of the audio block.",
    },
    // ---- outputs ----
    TypeInfo {
        name: "audio_out",
        op: Op::AudioOut,
        inputs: &[("left", Audio), ("right", Audio)],
        outputs: &[],
        kinds: Kinds::None,
        settings: &[],
        doc: "Sends left and right to the speakers / WAV file (all audio_out neurons are summed).",
    },
    TypeInfo {
        name: "display",
        op: Op::Display,
        inputs: &[("in", Image), ("r", Image), ("g", Image), ("b", Image)],
        outputs: &[],
        kinds: Kinds::None,
        settings: &[],
        doc: "Shows an image: grey `in` plus optional `r`, `g`, `b` channels, clamped to [0, 1].",
    },
];

/// Looks a type up by name.
pub fn type_info(name: &str) -> Option<&'static TypeInfo> {
    TYPES.iter().find(|t| t.name == name)
}

/// All type names, for error messages.
pub fn type_names() -> Vec<&'static str> {
    TYPES.iter().map(|t| t.name).collect()
}

impl TypeInfo {
    /// Does this type use the neuron's rows/cols?
    pub fn has_shape(&self) -> bool {
        self.kinds != Kinds::None
            || self
                .inputs
                .iter()
                .chain(self.outputs)
                .any(|(_, k)| matches!(k, Image | ImageT | MatA | MatB))
    }
}
