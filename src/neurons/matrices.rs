//! Matrix streams (the Processing "Lightweight Pure DMMs" and "game of afterlife", DMM-REFERENCE
//! §3.3, §5.1–5.2): elementwise `max`, `squeeze` (divide by the max |x|, fused with the sum,
//! product or max of two inputs: "all activation functions look like squeeze ∘ f"), the
//! toroidal pseudo-Conway rule, `image_w`, an image that drives a block of W, and its reverse
//! `w_image`, a block of a matrix-kind stream (W itself when fed from `self`) drawn as an image.
//!
//! These types can start from Processing's random numbers (`random_seed`, `random_every`,
//! `random_at`) or from listed cells (`cells`), so that a patch starts where a sketch did.

use super::elementwise::map2;
use super::jrandom::sketch_values;
use super::network::{Network, WeightError};
use super::table::{Gpu, Grid, Kinds, PortKind::*, TypeInfo, UpCtx};
use super::{Init, NeuronDef, NeuronSpec, SpecError};
use crate::stream::wmatrix::PortRef;
use serde_json::Value as Json;

/// `Params::mode` bits, shared with shaders/matrices.wgsl (`P.key`): the low two bits pick how
/// the two inputs combine (sum, product, max), then squeeze, then the accumulator row.
pub const OF_SUM: u32 = 0;
pub const OF_MUL: u32 = 1;
pub const OF_MAX: u32 = 2;
pub const SQUEEZE: u32 = 4;
pub const ACCUMULATOR: u32 = 8;

pub static TYPES: &[TypeInfo] = &[
    TypeInfo {
        name: "constant",
        inputs: &[],
        outputs: &[("out", Any)],
        kinds: Kinds::Dense,
        settings: &["random_seed", "random_every", "random_at", "cells", "init"],
        doc: "A constant: `init` everywhere, or Processing's random(2)-1 after randomSeed(`random_seed`) (every `random_every`-th draw from `random_at`); then the listed image `cells` (\"r,c=v; ...\").",
        example: r#"{"random_seed": 7, "random_every": 3, "random_at": 2}"#,
        cpu: None,
        start: Some(matrix_start),
        gpu: Gpu::NONE,
    },
    TypeInfo {
        name: "max",
        inputs: &[("a", Any), ("b", Any)],
        outputs: &[("out", Any)],
        kinds: Kinds::Dense,
        settings: &["random_seed", "random_every", "random_at", "cells", "init"],
        doc: "out = max(a, b), elementwise (Processing's set_to_max; a tropical sum).",
        example: "{}",
        cpu: Some(max_up),
        start: Some(matrix_start),
        gpu: Gpu::elementwise("max2"),
    },
    TypeInfo {
        name: "squeeze",
        inputs: &[("a", Any), ("b", Any)],
        outputs: &[("out", Any)],
        kinds: Kinds::Dense,
        settings: &[
            "of",
            "random_seed",
            "random_every",
            "random_at",
            "cells",
            "init",
        ],
        doc: "out = v divided by its largest absolute value, with v = a + b (`of` \"sum\", the default), a · b (\"mul\") or max(a, b) (\"max\"); all-zero v gives 0. Starts from `init`, listed `cells` (\"r,c=v; ...\") or Processing's random(2)-1 (`random_seed`, every `random_every`-th draw from `random_at`).",
        example: r#"{"of": "mul", "random_seed": 746484, "random_every": 11, "random_at": 4}"#,
        cpu: Some(squeeze_up),
        start: Some(matrix_start),
        gpu: Gpu::run("squeeze", Grid::Single),
    },
    TypeInfo {
        name: "conway",
        inputs: &[("x", Image)],
        outputs: &[("out", Image)],
        kinds: Kinds::None,
        settings: &["random_seed", "random_every", "random_at", "cells"],
        doc: "Toroidal pseudo-Conway of the afterlife experiments: s = 2·x + the 3×3 sum around each cell (centre included); out = -1 where s is in [-1, 1] or [4, 6], else +1.",
        example: r#"{"cells": "0,0=1; 1,2=-0.5"}"#,
        cpu: Some(conway_up),
        start: Some(matrix_start),
        gpu: Gpu::run("conway", Grid::Elements).tolerance(0.0),
    },
    TypeInfo {
        name: "image_w",
        inputs: &[("a", Image), ("b", Image)],
        outputs: &[("out", Image)],
        kinds: Kinds::None,
        settings: &[
            "targets",
            "sources",
            "write",
            "squeeze",
            "accumulator",
            "random_seed",
            "random_every",
            "random_at",
            "cells",
        ],
        doc: "An image that drives a block of W, like Self: out = a + b (then squeezed if `squeeze`=1; `accumulator`=1 pins row 0 to [1,0,...] before and after, Processing's set_to_plus_constraint0); after each up stroke (and at birth) W[targets[i]][sources[j]] is set to out[i][j] (`write` \"values\") or has it added (\"deltas\"). `targets`: rows groups of input ports (\"x.a, y.b; z.a; ...\"), `sources`: cols output ports (\"o.out, p.out, ...\"), `-` for none.",
        example: r#"{"targets": "-", "sources": "-", "squeeze": 1, "accumulator": 1}"#,
        cpu: Some(image_w_up),
        start: Some(matrix_start),
        gpu: Gpu::run("squeeze", Grid::Single),
    },
    TypeInfo {
        name: "w_image",
        inputs: &[("m", Matrix)],
        outputs: &[("out", Image)],
        kinds: Kinds::None,
        settings: &["targets", "sources"],
        doc: "Reflection: a block of the matrix-kind input m drawn as an image (feed it from `self` with weight 1 to see W): out[i][j] = m[targets[i]][sources[j]], rows = input ports, columns = output ports. `targets`: rows input ports (\"x.a, y.b, ...\", `-` for an empty row) or `all` (every input port of the network in catalogue order, the first rows of them); `sources`: cols output ports, or `all`. Runs on the frame clock; the engine computes the block and writes it into the backend after the up stroke (no kernel: a host write), so out at tick t shows m of tick t.",
        example: r#"{"targets": "all", "sources": "all"}"#,
        cpu: None,
        start: None,
        gpu: Gpu::NONE,
    },
];

/// Which input ports each image row writes to and which output port each column reads from.
#[derive(Clone, Debug, PartialEq)]
pub struct Binding {
    /// `rows` groups of target (input) ports.
    pub targets: Vec<Vec<PortRef>>,
    /// `cols` source (output) ports, `None` for a column that writes nothing.
    pub sources: Vec<Option<PortRef>>,
    /// Add the image to W instead of setting W to it.
    pub deltas: bool,
}

impl Binding {
    /// Every (target, source) pair the binding may write, with weight 1: what a patch checks
    /// against the catalogue before it runs.
    pub fn pattern(&self) -> crate::stream::WMatrix {
        let mut m = crate::stream::WMatrix::new();
        for t in self.targets.iter().flatten() {
            for s in self.sources.iter().flatten() {
                m.set_entry(t, s, 1.0);
            }
        }
        m
    }

    /// Every (target, source, value) an output image writes, in row-major order.
    pub fn cells<'a>(
        &'a self,
        img: &'a [f32],
    ) -> impl Iterator<Item = (&'a PortRef, &'a PortRef, f32)> + 'a {
        let cols = self.sources.len();
        self.targets.iter().enumerate().flat_map(move |(i, ts)| {
            ts.iter().flat_map(move |t| {
                self.sources.iter().enumerate().filter_map(move |(j, s)| {
                    let s = s.as_ref()?;
                    Some((t, s, img.get(i * cols + j).copied().unwrap_or(0.0)))
                })
            })
        })
    }
}

/// The ports along one side of a `w_image`: listed (`None` for an empty row or column) or every
/// port of that side of the network, in catalogue order.
#[derive(Clone, Debug, PartialEq)]
pub enum Ports {
    All,
    List(Vec<Option<PortRef>>),
}

/// The block of a matrix-kind stream a `w_image` draws: rows are input (target) ports, columns
/// output (source) ports, as in W.
#[derive(Clone, Debug, PartialEq)]
pub struct View {
    pub rows: Ports,
    pub cols: Ports,
}

impl View {
    /// The `rows` target ports and `cols` source ports in `net` (`all`: the first of the
    /// catalogue's, `None` past its end).
    pub fn ports(
        &self,
        net: &Network,
        rows: usize,
        cols: usize,
    ) -> (Vec<Option<PortRef>>, Vec<Option<PortRef>>) {
        let side = |p: &Ports, n: usize, inputs: bool| -> Vec<Option<PortRef>> {
            match p {
                Ports::List(v) => v.clone(),
                Ports::All => {
                    let mut v: Vec<Option<PortRef>> = net
                        .neurons
                        .iter()
                        .flat_map(|d| {
                            let ports = if inputs { &d.inputs } else { &d.outputs };
                            ports
                                .iter()
                                .map(|p| Some(PortRef::new(d.name.clone(), p.name)))
                        })
                        .take(n)
                        .collect();
                    v.resize(n, None);
                    v
                }
            }
        };
        (side(&self.rows, rows, true), side(&self.cols, cols, false))
    }

    /// The first listed port that is not an input (rows) or output (columns) of `net`.
    pub fn check(&self, net: &Network) -> Option<WeightError> {
        let list = |p: &Ports| match p {
            Ports::All => Vec::new(),
            Ports::List(v) => v.iter().flatten().cloned().collect(),
        };
        list(&self.rows)
            .iter()
            .find_map(|t| net.input_port(t).err())
            .or_else(|| {
                list(&self.cols)
                    .iter()
                    .find_map(|s| net.output_port(s).err())
            })
    }
}

fn max_up(_: &NeuronDef, ins: &[Vec<f32>], outs: &mut [Vec<f32>], _: &UpCtx) {
    map2(&mut outs[0], &ins[0], &ins[1], f32::max)
}

fn squeeze_up(def: &NeuronDef, ins: &[Vec<f32>], outs: &mut [Vec<f32>], _: &UpCtx) {
    squeeze_into(&mut outs[0], &ins[0], &ins[1], def.params.mode, def.cols);
}

fn image_w_up(def: &NeuronDef, ins: &[Vec<f32>], outs: &mut [Vec<f32>], _: &UpCtx) {
    squeeze_into(&mut outs[0], &ins[0], &ins[1], def.params.mode, def.cols);
}

fn conway_up(def: &NeuronDef, ins: &[Vec<f32>], outs: &mut [Vec<f32>], _: &UpCtx) {
    conway(&ins[0], &mut outs[0], def.rows, def.cols);
}

/// `out = pin(squeeze(pin(a ∘ b)))` as `mode` says (see the bit constants). The maximum is
/// exact in any order, so the GPU gets the same bits.
pub fn squeeze_into(out: &mut [f32], a: &[f32], b: &[f32], mode: u32, cols: usize) {
    match mode & 3 {
        OF_MUL => map2(out, a, b, |x, y| x * y),
        OF_MAX => map2(out, a, b, f32::max),
        _ => map2(out, a, b, |x, y| x + y),
    }
    let pin = mode & ACCUMULATOR != 0;
    if pin {
        for (j, v) in out.iter_mut().take(cols).enumerate() {
            *v = if j == 0 { 1.0 } else { 0.0 };
        }
    }
    if mode & SQUEEZE != 0 {
        let m = out.iter().fold(0.0f32, |m, v| m.max(v.abs()));
        if m > 0.0 {
            out.iter_mut().for_each(|v| *v /= m);
        } else {
            // All zero (Processing would divide 0 by 0): 0.
            out.fill(0.0);
        }
    }
    if pin && let Some(v) = out.first_mut() {
        *v = 1.0;
    }
}

/// The pseudo-Conway rule on a rows×cols torus, summing in the sketch's order (2·x, then the
/// 3×3 block row by row), so the thresholds fall exactly where the original's did.
pub fn conway(x: &[f32], out: &mut [f32], rows: usize, cols: usize) {
    for i in 0..rows {
        for j in 0..cols {
            let mut s = 2.0 * x[i * cols + j];
            for di in 0..3 {
                let r = (i + rows + di - 1) % rows;
                for dj in 0..3 {
                    let c = (j + cols + dj - 1) % cols;
                    s += x[r * cols + c];
                }
            }
            let alive = (-1.0..=1.0).contains(&s) || (4.0..=6.0).contains(&s);
            out[i * cols + j] = if alive { -1.0 } else { 1.0 };
        }
    }
}

/// Starting values: Processing's random numbers or the `init` fill, then the listed cells.
fn matrix_start(def: &NeuronDef, _port: usize, len: usize) -> Vec<f32> {
    let mut v = match java_start(&def.spec, len) {
        Ok(Some(v)) => v,
        _ => match def.params.init {
            Init::Fill(x) => vec![x; len],
            _ => vec![0.0; len],
        },
    };
    if let Ok(cells) = cells(&def.spec, def.rows, def.cols) {
        for (i, j, x) in cells {
            if let Some(slot) = v.get_mut(i * def.cols + j) {
                *slot = x;
            }
        }
    }
    v
}

/// Most draws a start may take (rows·cols·random_every): a few tenths of a second at most.
const MAX_DRAWS: u64 = 1 << 24;

fn spec_err<T>(field: &str, msg: impl Into<String>) -> Result<T, SpecError> {
    Err(SpecError {
        field: field.to_string(),
        msg: msg.into(),
    })
}

fn int_setting(spec: &NeuronSpec, key: &str) -> Result<Option<i64>, SpecError> {
    match spec.settings.get(key) {
        None => Ok(None),
        Some(v) => match v.as_i64() {
            Some(n) => Ok(Some(n)),
            None => spec_err(key, format!("expected an integer, found {v}")),
        },
    }
}

/// `random_seed`, `random_every` (default 1) and `random_at` (default 0), checked; `None` when
/// the neuron does not start from random numbers.
fn java_params(spec: &NeuronSpec, len: usize) -> Result<Option<(i64, usize, usize)>, SpecError> {
    let Some(seed) = int_setting(spec, "random_seed")? else {
        if let Some(k) = ["random_every", "random_at"]
            .into_iter()
            .find(|k| spec.settings.contains_key(*k))
        {
            return spec_err(k, "needs random_seed");
        }
        return Ok(None);
    };
    let every = int_setting(spec, "random_every")?.unwrap_or(1);
    if !(1..=1024).contains(&every) {
        return spec_err(
            "random_every",
            format!("expected an integer in 1..=1024, found {every}"),
        );
    }
    let at = int_setting(spec, "random_at")?.unwrap_or(0);
    if !(0..every).contains(&at) {
        return spec_err(
            "random_at",
            format!("expected an integer in 0..{every} (below random_every), found {at}"),
        );
    }
    let draws = len as u64 * every as u64;
    if draws > MAX_DRAWS {
        return spec_err(
            "random_every",
            format!("rows·cols·random_every = {draws} draws; at most {MAX_DRAWS}"),
        );
    }
    Ok(Some((seed, every as usize, at as usize)))
}

/// `len` values of Processing's `random(2) - 1` after `randomSeed(random_seed)`: element k is
/// draw `k·random_every + random_at` (a sketch filling several matrices in one loop).
fn java_start(spec: &NeuronSpec, len: usize) -> Result<Option<Vec<f32>>, SpecError> {
    let Some((seed, every, at)) = java_params(spec, len)? else {
        return Ok(None);
    };
    let all = sketch_values(seed, len * every);
    Ok(Some((0..len).map(|k| all[k * every + at]).collect()))
}

/// `cells = "r,c=v; r,c=v"`: listed starting values (0-based row and column).
fn cells(
    spec: &NeuronSpec,
    rows: usize,
    cols: usize,
) -> Result<Vec<(usize, usize, f32)>, SpecError> {
    let Some(v) = spec.settings.get("cells") else {
        return Ok(Vec::new());
    };
    let Some(s) = v.as_str() else {
        return spec_err(
            "cells",
            format!("expected a string \"r,c=v; ...\", found {v}"),
        );
    };
    let mut out = Vec::new();
    for item in s.split(';').map(str::trim).filter(|t| !t.is_empty()) {
        let parsed = item.split_once('=').and_then(|(rc, val)| {
            let (r, c) = rc.split_once(',')?;
            Some((
                r.trim().parse::<usize>().ok()?,
                c.trim().parse::<usize>().ok()?,
                val.trim().parse::<f32>().ok()?,
            ))
        });
        match parsed {
            Some((r, c, x)) if r < rows && c < cols && x.is_finite() => out.push((r, c, x)),
            Some((r, c, x)) if x.is_finite() => {
                return spec_err(
                    "cells",
                    format!("cell {r},{c} is outside the {rows}x{cols} image"),
                );
            }
            _ => {
                return spec_err(
                    "cells",
                    format!("expected \"row,col=value\" with a finite value, found {item:?}"),
                );
            }
        }
    }
    Ok(out)
}

fn flag(spec: &NeuronSpec, key: &str) -> Result<bool, SpecError> {
    match spec.settings.get(key) {
        None => Ok(false),
        Some(Json::Bool(b)) => Ok(*b),
        Some(v) if v.as_u64() == Some(0) => Ok(false),
        Some(v) if v.as_u64() == Some(1) => Ok(true),
        Some(v) => spec_err(key, format!("expected 0 or 1, found {v}")),
    }
}

fn str_setting<'a>(spec: &'a NeuronSpec, key: &str) -> Result<Option<&'a str>, SpecError> {
    match spec.settings.get(key) {
        None => Ok(None),
        Some(v) => match v.as_str() {
            Some(s) => Ok(Some(s)),
            None => spec_err(key, format!("expected a string, found {v}")),
        },
    }
}

/// A list of ports separated by commas; `-` (or nothing) for none.
fn port_list(key: &str, s: &str) -> Result<Vec<Option<PortRef>>, SpecError> {
    s.split(',')
        .map(str::trim)
        .map(|p| match p {
            "-" | "" => Ok(None),
            p => PortRef::parse(p).map(Some).map_err(|m| SpecError {
                field: key.to_string(),
                msg: m,
            }),
        })
        .collect()
}

fn binding(spec: &NeuronSpec, rows: usize, cols: usize) -> Result<Binding, SpecError> {
    let targets = str_setting(spec, "targets")?.unwrap_or("-");
    let groups: Vec<&str> = targets.split(';').collect();
    let targets: Vec<Vec<PortRef>> = if targets.trim() == "-" {
        vec![Vec::new(); rows]
    } else if groups.len() == rows {
        groups
            .iter()
            .map(|g| port_list("targets", g).map(|v| v.into_iter().flatten().collect()))
            .collect::<Result<_, _>>()?
    } else {
        return spec_err(
            "targets",
            format!(
                "expected {rows} groups of input ports separated by ';' (one per row), found {}",
                groups.len()
            ),
        );
    };
    let sources = str_setting(spec, "sources")?.unwrap_or("-");
    let sources = if sources.trim() == "-" {
        vec![None; cols]
    } else {
        let v = port_list("sources", sources)?;
        if v.len() != cols {
            return spec_err(
                "sources",
                format!(
                    "expected {cols} output ports separated by ',' (one per column), found {}",
                    v.len()
                ),
            );
        }
        v
    };
    let deltas = match str_setting(spec, "write")? {
        None | Some("values") => false,
        Some("deltas") => true,
        Some(w) => {
            return spec_err(
                "write",
                format!("expected \"values\" or \"deltas\", found {w:?}"),
            );
        }
    };
    Ok(Binding {
        targets,
        sources,
        deltas,
    })
}

/// `all`, or exactly `n` ports separated by commas (`-` for none).
fn view_side(spec: &NeuronSpec, key: &str, n: usize, what: &str) -> Result<Ports, SpecError> {
    let Some(s) = str_setting(spec, key)? else {
        return spec_err(
            key,
            format!("a w_image needs {key}: {n} {what} ports separated by ',', or \"all\""),
        );
    };
    if s.trim() == "all" {
        return Ok(Ports::All);
    }
    let v = port_list(key, s)?;
    if v.len() != n {
        return spec_err(
            key,
            format!(
                "expected {n} {what} ports separated by ',' (one per {}), or \"all\"; found {}",
                if key == "targets" { "row" } else { "column" },
                v.len()
            ),
        );
    }
    Ok(Ports::List(v))
}

/// A `w_image`'s block (`None` for other types).
pub fn view(
    info: &TypeInfo,
    spec: &NeuronSpec,
    rows: usize,
    cols: usize,
) -> Result<Option<View>, SpecError> {
    if info.name != "w_image" {
        return Ok(None);
    }
    Ok(Some(View {
        rows: view_side(spec, "targets", rows, "input")?,
        cols: view_side(spec, "sources", cols, "output")?,
    }))
}

/// Checks this family's settings for one neuron and returns its `mode` bits and, for `image_w`,
/// its binding. Other types get `(0, None)`.
/// `image` is the neuron's rows×cols when its outputs are images; `len` its output length.
pub fn resolve(
    info: &TypeInfo,
    spec: &NeuronSpec,
    image: Option<(usize, usize)>,
    len: usize,
) -> Result<(u32, Option<Binding>), SpecError> {
    if !TYPES.iter().any(|t| t.name == info.name) {
        return Ok((0, None));
    }
    java_params(spec, len)?;
    let (rows, cols) = match image {
        Some(shape) => shape,
        None if spec.settings.contains_key("cells") => {
            return spec_err(
                "cells",
                "cells are for image-kind neurons (write kind image)",
            );
        }
        None => (0, 0),
    };
    cells(spec, rows, cols)?;
    match info.name {
        "squeeze" => {
            let of = match str_setting(spec, "of")? {
                None | Some("sum") => OF_SUM,
                Some("mul") => OF_MUL,
                Some("max") => OF_MAX,
                Some(o) => {
                    return spec_err(
                        "of",
                        format!("expected \"sum\", \"mul\" or \"max\", found {o:?}"),
                    );
                }
            };
            Ok((of | SQUEEZE, None))
        }
        "image_w" => {
            let mut mode = OF_SUM;
            if flag(spec, "squeeze")? {
                mode |= SQUEEZE;
            }
            if flag(spec, "accumulator")? {
                mode |= ACCUMULATOR;
            }
            Ok((mode, Some(binding(spec, rows, cols)?)))
        }
        _ => Ok((0, None)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn squeeze_pins_and_scales() {
        let a = [3.0, -2.0, 0.5, -4.0, 2.0, 1.0];
        let b = [0.0; 6];
        let mut o = [0.0; 6];
        squeeze_into(&mut o, &a, &b, SQUEEZE | ACCUMULATOR, 3);
        // Row 0 pinned to [1, 0, 0] before the squeeze (max |x| = 4) and after.
        assert_eq!(o, [1.0, 0.0, 0.0, -1.0, 0.5, 0.25]);
        squeeze_into(&mut o, &[0.0; 6], &b, SQUEEZE, 3);
        assert_eq!(o, [0.0; 6]);
    }

    #[test]
    fn conway_counts_the_centre_three_times() {
        // A 3×3 torus: every 3×3 block is the whole board.
        let mut x = [0.0f32; 9];
        x[4] = 0.5; // s = 2·0.5 + 0.5 = 1.5 at the centre, 0.5 elsewhere
        let mut o = [0.0; 9];
        conway(&x, &mut o, 3, 3);
        assert_eq!(o[4], 1.0);
        assert!(o.iter().enumerate().all(|(i, &v)| i == 4 || v == -1.0));
    }
}
