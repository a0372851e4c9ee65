//! Names → ports: what a bare `neuron` reads, which port a row targets, the implicit constants.

use super::expr::Src;
use super::parse::Target;
use crate::neurons::network::{EDITS, SELF};
use crate::neurons::{NeuronSpec, PortKind, TypeInfo, type_names};
use crate::stream::{Kind, PortRef, Settings};

/// The name of the implicit constant `one` of a kind (None for matrices: `one` has no matrix
/// kind).
pub fn one_name(kind: Kind) -> Option<String> {
    match kind {
        Kind::Scalar => Some("_one".into()),
        Kind::Audio => Some("_one_audio".into()),
        Kind::Image { rows, cols } => Some(format!("_one_{rows}x{cols}")),
        Kind::Matrix => None,
    }
}

/// Where implicit constants go at the end of a patch: scalar, audio, then images by shape.
pub fn one_order(kind: Kind) -> (u8, usize, usize) {
    match kind {
        Kind::Scalar => (1, 0, 0),
        Kind::Audio => (2, 0, 0),
        Kind::Image { rows, cols } => (3, rows, cols),
        Kind::Matrix => (4, 0, 0),
    }
}

/// The spec of the implicit constant of a kind.
pub fn one_spec(kind: Kind, settings: &Settings) -> NeuronSpec {
    let spec = NeuronSpec::new("one");
    match kind {
        Kind::Audio => spec.with("kind", "audio"),
        Kind::Image { rows, cols } => {
            let mut s = spec.with("kind", "image");
            if rows != settings.image_size[0] {
                s = s.with("rows", rows);
            }
            if cols != settings.image_size[1] {
                s = s.with("cols", cols);
            }
            s
        }
        _ => spec,
    }
}

/// The output a bare `neuron` reads: `out` when the type has one, else its only output.
pub fn default_output(info: &TypeInfo) -> Option<&'static str> {
    match info.outputs {
        [(only, _)] => Some(only),
        ports => ports.iter().find(|(n, _)| *n == "out").map(|(n, _)| *n),
    }
}

fn names_of(ports: &[(&'static str, PortKind)]) -> String {
    if ports.is_empty() {
        "none".into()
    } else {
        ports.iter().map(|(n, _)| *n).collect::<Vec<_>>().join(", ")
    }
}

/// Resolves `neuron[.port]` as a source (an output port).
pub(super) fn source_port(src: &Src, info: &TypeInfo) -> Result<PortRef, String> {
    if src.name == EDITS {
        return Err(
            "`edits` feeds self.delta with weight 1 in every network; it is not written in a patch"
                .into(),
        );
    }
    match &src.port {
        None => default_output(info)
            .map(|p| PortRef::new(&src.name, p))
            .ok_or_else(|| format!("`{}` ({}) has no outputs to read from", src.name, info.name)),
        Some(p) if info.outputs.iter().any(|(n, _)| n == p) => Ok(PortRef::new(&src.name, p)),
        Some(p) if info.inputs.iter().any(|(n, _)| n == p) => Err(format!(
            "`{}.{p}` is an input; a source is an output of {} ({}: {})",
            src.name,
            src.name,
            info.name,
            names_of(info.outputs)
        )),
        Some(p) => Err(format!(
            "`{}` ({}) has no output port `{p}`; its outputs are: {}",
            src.name,
            info.name,
            names_of(info.outputs)
        )),
    }
}

/// Resolves the target of a row (an input port; `neuron` alone when it has one input).
pub(super) fn target_port(t: &Target, info: &TypeInfo) -> Result<PortRef, String> {
    let port = match &t.port {
        Some(p) => p.clone(),
        None => match info.inputs {
            [(only, _)] => only.to_string(),
            [] => return Err(format!("`{}` ({}) has no inputs", t.name, info.name)),
            _ => {
                return Err(format!(
                    "`{}` ({}) has several inputs ({}): write `{}.PORT <- ...`",
                    t.name,
                    info.name,
                    names_of(info.inputs),
                    t.name
                ));
            }
        },
    };
    if t.name == SELF && port == "accum" {
        return Err(
            "self.accum is Self's own accumulator (fed from self.out with weight 1); it cannot be written: change W through self.delta"
                .into(),
        );
    }
    if info.inputs.iter().any(|(n, _)| *n == port) {
        return Ok(PortRef::new(&t.name, port));
    }
    if info.outputs.iter().any(|(n, _)| *n == port) {
        return Err(format!(
            "`{}.{port}` is an output port; a row states the sources of an input ({}'s inputs: {})",
            t.name,
            t.name,
            names_of(info.inputs)
        ));
    }
    Err(format!(
        "`{}` ({}) has no input port `{port}`; its inputs are: {}",
        t.name,
        info.name,
        names_of(info.inputs)
    ))
}

pub(super) fn unknown_neuron(name: &str) -> String {
    let mut m = format!("unknown neuron `{name}`: declare it with `{name} : TYPE`");
    if name.contains('-') {
        m.push_str(" (to subtract, put spaces around `-`)");
    }
    m
}

pub(super) fn unknown_type(ty: &str) -> String {
    format!(
        "unknown neuron type `{ty}`; known types: {}",
        type_names().join(", ")
    )
}
