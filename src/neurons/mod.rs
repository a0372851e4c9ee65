//! The neuron catalogue: the type table and the resolution of one neuron's settings into concrete
//! ports with kinds (a `NeuronDef`).

pub mod audio;
pub mod bridges;
pub mod budget;
pub mod clock;
pub mod control;
pub mod dmm;
pub mod elementwise;
pub mod fastmath;
pub mod images;
pub mod jrandom;
pub mod matrices;
pub mod network;
pub mod outputs;
mod picture;
pub mod table;
pub mod warp;

pub use dmm::{init_outputs, state_lens};
pub use network::{EDITS, Network, SELF, WeightError};
pub use picture::{MAX_PICTURE_DECODE_BYTES, MAX_PICTURE_PIXELS, MAX_PICTURE_SIDE, load_picture};
pub use table::{Kinds, Op, PortKind, TYPES, TypeInfo, UpCtx, type_info, type_names};

use crate::stream::WMatrix;
use crate::stream::kind::{Kind, MAX_IMAGE_SIDE, Settings};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value as Json};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// A neuron as written in a patch file or an edit request: its type and static settings.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct NeuronSpec {
    #[serde(rename = "type")]
    pub ty: String,
    #[serde(flatten)]
    pub settings: Map<String, Json>,
}

impl NeuronSpec {
    pub fn new(ty: &str) -> Self {
        NeuronSpec {
            ty: ty.to_string(),
            settings: Map::new(),
        }
    }

    pub fn with(mut self, key: &str, v: impl Into<Json>) -> Self {
        self.settings.insert(key.to_string(), v.into());
        self
    }
}

/// One port of a resolved neuron.
#[derive(Clone, Debug, PartialEq)]
pub struct Port {
    pub name: &'static str,
    pub kind: Kind,
}

/// The initial output value of a stateful neuron.
#[derive(Clone, Debug, PartialEq, Default)]
pub enum Init {
    #[default]
    Zero,
    /// Every element starts at this value.
    Fill(f32),
    /// A matrix-kind neuron's initial W-shaped value.
    Matrix(WMatrix),
}

/// Parsed static settings.
#[derive(Clone, Debug, Default)]
pub struct Params {
    pub init: Init,
    pub seed: u64,
    pub temperature: f32,
    /// Grey pixels of a `picture`, rows×cols, row-major.
    pub picture: Option<Arc<Vec<f32>>>,
    /// The neuron's own `frame_rate` (image-clocked neurons; see `clock`).
    pub frame_rate: Option<f64>,
    /// Per-type variant bits the kernels get (`matrices`: how two inputs combine, squeeze).
    pub mode: u32,
    /// The block of W an `image_w` drives.
    pub binding: Option<Arc<matrices::Binding>>,
    /// The block of a matrix-kind input a `w_image` draws.
    pub view: Option<Arc<matrices::View>>,
    /// Settings resolved into numbers both backends read (the GPU gets them in `P.c`): see
    /// `warp::consts`; zero for types that have none.
    pub consts: [f32; 16],
    /// Private memory the backends keep after the outputs (`Gpu::memory`; length 0: none).
    pub memory: table::Memory,
    /// Channel, controller and bend range of a `midi_*` neuron.
    pub midi: Option<control::MidiParams>,
}

/// A neuron instance with every port's kind resolved.
#[derive(Clone, Debug)]
pub struct NeuronDef {
    pub name: String,
    pub info: &'static TypeInfo,
    /// The `kind` setting (Scalar when the type has no `Any` port).
    pub kind: Kind,
    pub rows: usize,
    pub cols: usize,
    pub inputs: Vec<Port>,
    pub outputs: Vec<Port>,
    pub params: Params,
    pub spec: NeuronSpec,
}

impl NeuronDef {
    pub fn op(&self) -> Op {
        self.info.op()
    }

    /// Runs on the engine (CPU, sparse W values) in every backend: `self`, `edits` and any neuron of
    /// kind `matrix`. Their values are sparse maps, not dense buffers.
    pub fn engine_side(&self) -> bool {
        matches!(self.op(), Op::SelfW | Op::Edits) || self.kind == Kind::Matrix
    }

    pub fn input(&self, port: &str) -> Option<(usize, Kind)> {
        self.inputs
            .iter()
            .position(|p| p.name == port)
            .map(|i| (i, self.inputs[i].kind))
    }

    pub fn output(&self, port: &str) -> Option<(usize, Kind)> {
        self.outputs
            .iter()
            .position(|p| p.name == port)
            .map(|i| (i, self.outputs[i].kind))
    }
}

/// What went wrong in one neuron's settings: the settings key (empty for the neuron itself) and
/// what was expected.
#[derive(Clone, Debug, PartialEq)]
pub struct SpecError {
    pub field: String,
    pub msg: String,
}

fn err<T>(field: &str, msg: impl Into<String>) -> Result<T, SpecError> {
    Err(SpecError {
        field: field.to_string(),
        msg: msg.into(),
    })
}

/// Names are identifiers: letters, digits, `_` and `-`, not starting with a digit.
pub fn check_name(name: &str) -> Result<(), String> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        && !name.starts_with(|c: char| c.is_ascii_digit());
    if ok {
        Ok(())
    } else {
        Err(format!(
            "neuron name {name:?} must be 1-64 letters, digits, '_' or '-', not starting with a digit"
        ))
    }
}

/// Where relative asset paths are looked up.
#[derive(Clone, Debug, Default)]
pub struct AssetDirs {
    /// The patch file's directory.
    pub base: Option<PathBuf>,
}

impl AssetDirs {
    pub fn for_patch(path: &Path) -> Self {
        AssetDirs {
            base: path.parent().map(Path::to_path_buf),
        }
    }

    /// `file` relative to the patch; a bare name is also looked for in `assets/` next to the
    /// patch folder and in `./assets/`.
    pub fn resolve(&self, file: &str) -> Vec<PathBuf> {
        let base = self.base.clone().unwrap_or_default();
        let mut c = vec![base.join(file)];
        if Path::new(file).components().count() == 1 {
            c.push(base.join("..").join("assets").join(file));
            c.push(PathBuf::from("assets").join(file));
        }
        c
    }
}

fn get_usize(spec: &NeuronSpec, key: &str, default: usize) -> Result<usize, SpecError> {
    match spec.settings.get(key) {
        None => Ok(default),
        Some(v) => match v.as_u64() {
            Some(n) if n >= 1 && n as usize <= MAX_IMAGE_SIDE => Ok(n as usize),
            _ => err(
                key,
                format!("expected an integer in 1..={MAX_IMAGE_SIDE}, found {v}"),
            ),
        },
    }
}

/// Whether `x` is finite and stays finite as an f32 (stream values are f32).
fn fits_f32(x: f64) -> bool {
    x.is_finite() && x.abs() <= f32::MAX as f64
}

fn get_f64(spec: &NeuronSpec, key: &str) -> Result<Option<f64>, SpecError> {
    match spec.settings.get(key) {
        None => Ok(None),
        Some(v) => match v.as_f64() {
            Some(x) if fits_f32(x) => Ok(Some(x)),
            _ => err(
                key,
                format!("expected a finite number within f32's range, found {v}"),
            ),
        },
    }
}

/// Resolves a spec into a neuron with concrete port kinds. Matrix `init` values are parsed here
/// but checked against the catalogue by the network (they name other neurons' ports).
pub fn resolve(
    name: &str,
    spec: &NeuronSpec,
    settings: &Settings,
    assets: &AssetDirs,
) -> Result<NeuronDef, SpecError> {
    resolve_with(name, spec, settings, Some(assets))
}

/// Like `resolve`, but a `picture` does not load its file (`params.picture` stays `None`): the
/// shapes and sizes, cheaply, for the memory budget.
pub fn resolve_shape(
    name: &str,
    spec: &NeuronSpec,
    settings: &Settings,
) -> Result<NeuronDef, SpecError> {
    resolve_with(name, spec, settings, None)
}

fn resolve_with(
    name: &str,
    spec: &NeuronSpec,
    settings: &Settings,
    assets: Option<&AssetDirs>,
) -> Result<NeuronDef, SpecError> {
    check_name(name).map_err(|m| SpecError {
        field: String::new(),
        msg: m,
    })?;
    let Some(info) = type_info(&spec.ty) else {
        return err(
            "type",
            format!(
                "unknown neuron type {:?}; known types: {}",
                spec.ty,
                type_names().join(", ")
            ),
        );
    };
    check_keys(info, spec)?;
    let [dr, dc] = settings.image_size;
    let rows = get_usize(spec, "rows", dr)?;
    let cols = get_usize(spec, "cols", dc)?;
    let inner = get_usize(spec, "inner", cols)?;
    let kind = resolve_kind(info, spec, rows, cols)?;
    let port = |(pname, pk): &(&'static str, PortKind)| Port {
        name: pname,
        kind: match pk {
            PortKind::Scalar => Kind::Scalar,
            PortKind::Audio => Kind::Audio,
            PortKind::Matrix => Kind::Matrix,
            PortKind::Any => kind,
            PortKind::Image => Kind::Image { rows, cols },
            PortKind::ImageT => Kind::Image {
                rows: cols,
                cols: rows,
            },
            PortKind::MatA => Kind::Image { rows, cols: inner },
            PortKind::MatB => Kind::Image { rows: inner, cols },
        },
    };
    let mut params = resolve_params(info, spec, kind, rows, cols)?;
    if info.op() == Op::Picture {
        params.picture = resolve_picture(spec, rows, cols, assets)?;
    }
    let (image, len) = match kind {
        _ if info.kinds == Kinds::None => (Some((rows, cols)), rows * cols),
        Kind::Image { rows, cols } => (Some((rows, cols)), rows * cols),
        k => (None, k.len(settings.block_len())),
    };
    let (mode, binding) = matrices::resolve(info, spec, image, len)?;
    params.mode = mode;
    params.binding = binding.map(Arc::new);
    params.view = matrices::view(info, spec, rows, cols)?.map(Arc::new);
    let mut def = NeuronDef {
        name: name.to_string(),
        info,
        kind,
        rows,
        cols,
        inputs: info.inputs.iter().map(port).collect(),
        outputs: info.outputs.iter().map(port).collect(),
        params,
        spec: spec.clone(),
    };
    if let Some(memory) = info.gpu.memory {
        def.params.memory = memory(&def, settings).map_err(|(field, msg)| SpecError {
            field: field.to_string(),
            msg,
        })?;
    }
    check_own_frame_rate(&def)?;
    Ok(def)
}

/// Unknown settings keys are errors: a typo must not be silently ignored.
fn check_keys(info: &TypeInfo, spec: &NeuronSpec) -> Result<(), SpecError> {
    let shape = info.has_shape();
    for key in spec.settings.keys() {
        let known = key == "comment"
            || (info.kinds != Kinds::None && key == "kind")
            || (shape && (key == "rows" || key == "cols" || key == "frame_rate"))
            || info.settings.contains(&key.as_str());
        if !known {
            let mut allowed: Vec<&str> = vec!["comment"];
            if info.kinds != Kinds::None {
                allowed.push("kind");
            }
            if shape {
                allowed.extend(["rows", "cols", "frame_rate"]);
            }
            allowed.extend(info.settings);
            return err(
                key,
                format!(
                    "unknown setting {key:?} for type {}; allowed: {}",
                    info.name,
                    allowed.join(", ")
                ),
            );
        }
    }
    Ok(())
}

/// The `kind` setting of an any-kind type (scalar when absent; matrix only where allowed).
fn resolve_kind(
    info: &TypeInfo,
    spec: &NeuronSpec,
    rows: usize,
    cols: usize,
) -> Result<Kind, SpecError> {
    Ok(match (info.kinds, spec.settings.get("kind")) {
        (Kinds::None, _) | (_, None) => Kind::Scalar,
        (ks, Some(v)) => match v.as_str() {
            Some("scalar") => Kind::Scalar,
            Some("audio") => Kind::Audio,
            Some("image") => Kind::Image { rows, cols },
            Some("matrix") if ks == Kinds::All => Kind::Matrix,
            _ => {
                let allowed = if ks == Kinds::All {
                    "\"scalar\", \"audio\", \"image\" or \"matrix\""
                } else {
                    "\"scalar\", \"audio\" or \"image\""
                };
                return err("kind", format!("expected {allowed}, found {v}"));
            }
        },
    })
}

/// The settings every type may read: `init`, `seed`, `temperature`, `warp`'s constants, the
/// MIDI bindings, `frame_rate`.
fn resolve_params(
    info: &TypeInfo,
    spec: &NeuronSpec,
    kind: Kind,
    rows: usize,
    cols: usize,
) -> Result<Params, SpecError> {
    let mut params = Params {
        temperature: 1.0,
        ..Params::default()
    };
    if let Some(v) = spec.settings.get("init") {
        params.init = resolve_init(kind, v)?;
    }
    if let Some(s) = spec.settings.get("seed") {
        params.seed = s.as_u64().ok_or_else(|| SpecError {
            field: "seed".into(),
            msg: format!("expected a non-negative integer, found {s}"),
        })?;
    }
    if let Some(t) = get_f64(spec, "temperature")? {
        if t <= 0.0 {
            return err(
                "temperature",
                format!("expected a positive number, found {t}"),
            );
        }
        params.temperature = t as f32;
    }
    params.consts = warp::consts(info, spec, rows, cols)?;
    params.midi = control::params(info.name, spec)?;
    params.frame_rate = get_f64(spec, "frame_rate")?;
    Ok(params)
}

/// The `init` setting: a W-shaped map for a matrix neuron, else a number an f32 can hold.
fn resolve_init(kind: Kind, v: &Json) -> Result<Init, SpecError> {
    match (kind, v) {
        (Kind::Matrix, Json::Object(_)) => {
            let m: WMatrix = serde_json::from_value(v.clone()).map_err(|e| SpecError {
                field: "init".into(),
                msg: format!("expected a W-shaped map {{\"n.in\": {{\"m.out\": w}}}}: {e}"),
            })?;
            if let Some((t, s, w)) = m.entries().find(|(_, _, w)| !w.is_finite()) {
                return err("init", format!("weight {t} <- {s} is not finite ({w})"));
            }
            Ok(Init::Matrix(m))
        }
        (Kind::Matrix, _) => err(
            "init",
            format!("a matrix neuron's init is a W-shaped map, found {v}"),
        ),
        (_, _) => match v.as_f64() {
            // Dense values are f32: 1e39 would start the neuron at infinity.
            Some(x) if (x as f32).is_finite() => Ok(Init::Fill(x as f32)),
            _ => err(
                "init",
                format!("expected a finite number within f32's range (|x| <= 3.4e38), found {v}"),
            ),
        },
    }
}

/// A `picture`'s `file`, loaded at rows×cols when `assets` is given (else only checked).
fn resolve_picture(
    spec: &NeuronSpec,
    rows: usize,
    cols: usize,
    assets: Option<&AssetDirs>,
) -> Result<Option<Arc<Vec<f32>>>, SpecError> {
    let Some(file) = spec.settings.get("file") else {
        return err("file", "a picture needs \"file\": the path of a PNG asset");
    };
    let Some(file) = file.as_str() else {
        return err("file", format!("expected a path string, found {file}"));
    };
    let Some(assets) = assets else {
        return Ok(None);
    };
    let pixels = load_picture(file, rows, cols, assets).map_err(|m| SpecError {
        field: "file".into(),
        msg: m,
    })?;
    Ok(Some(Arc::new(pixels)))
}

/// A neuron's own `frame_rate` is a positive rate, on a neuron that runs on frame ticks.
fn check_own_frame_rate(def: &NeuronDef) -> Result<(), SpecError> {
    let Some(f) = def.params.frame_rate else {
        return Ok(());
    };
    if let Err(m) = crate::stream::kind::check_frame_rate(f) {
        return err("frame_rate", m);
    }
    if !clock::image_clocked(def) {
        return err(
            "frame_rate",
            format!(
                "only image-clocked neurons (an image port and no audio output) run at a frame rate; this {} of kind {} runs every tick",
                def.info.name, def.kind
            ),
        );
    }
    Ok(())
}
