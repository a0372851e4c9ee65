//! Kind inference, for text and JSON patches alike: a neuron of an any-kind type (`sin`,
//! `phasor`, `accum`, ...) that does not declare its `kind` takes the kind its connections force,
//! propagated through the graph (union-find over undeclared neurons, so line order does not
//! matter). A neuron nothing forces stays scalar (the default). Two connections that force
//! different kinds are an error naming both and suggesting the declaration that settles it.
//!
//! The inferred kind is written into the neuron's spec (`"kind"`, and `"rows"`/`"cols"` for an
//! image of another shape than the default), so the network, the saved file and the running
//! engine agree on it. Scalar is never written: an undeclared kind is scalar.

use super::raw::Raw;
use crate::neurons::{Kinds, NeuronSpec, PortKind, TypeInfo, type_info};
use crate::stream::{Kind, PortRef, Settings};
use serde_json::{Map, Value as Json};
use std::collections::HashMap;

/// One connection the inference looks at: `W[target][source]`, where it was written (`line:col`
/// or a JSON path) and how to show it in a message (`` `osc.x <- ph` ``).
#[derive(Clone, Debug)]
pub struct Link {
    pub target: PortRef,
    pub source: PortRef,
    pub place: String,
    pub shown: String,
}

/// A conflict: where (the later connection) and the message.
#[derive(Clone, Debug, PartialEq)]
pub struct InferError {
    pub place: String,
    pub msg: String,
}

/// What a port's kind is before the neurons are resolved.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Pk {
    Fixed(Kind),
    /// Follows the kind of the undeclared neuron with this index.
    Var(usize),
    /// Unknown neuron, type, port or bad setting: the checks after inference report it.
    Unknown,
}

struct Node<'a> {
    /// None for an unknown type (reported by the loader).
    info: Option<&'static TypeInfo>,
    spec: &'a NeuronSpec,
    rows: Option<usize>,
    cols: Option<usize>,
    inner: Option<usize>,
    /// Undeclared any-kind neuron.
    var: bool,
}

fn dim(spec: &NeuronSpec, key: &str, default: usize) -> Option<usize> {
    match spec.settings.get(key) {
        None => Some(default),
        Some(v) => v.as_u64().map(|n| n as usize).filter(|n| *n >= 1),
    }
}

fn declared_kind(node: &Node, v: &Json) -> Option<Kind> {
    match v.as_str()? {
        "scalar" => Some(Kind::Scalar),
        "audio" => Some(Kind::Audio),
        "image" => Some(Kind::Image {
            rows: node.rows?,
            cols: node.cols?,
        }),
        "matrix" => Some(Kind::Matrix),
        _ => None,
    }
}

fn port_kind(nodes: &[Node], index: &HashMap<&str, usize>, p: &PortRef, input: bool) -> Pk {
    let Some(&i) = index.get(p.neuron.as_str()) else {
        return Pk::Unknown;
    };
    let n = &nodes[i];
    let Some(info) = n.info else {
        return Pk::Unknown;
    };
    let ports = if input { info.inputs } else { info.outputs };
    let Some((_, pk)) = ports.iter().find(|(name, _)| *name == p.port) else {
        return Pk::Unknown;
    };
    let img = |r: Option<usize>, c: Option<usize>| match (r, c) {
        (Some(rows), Some(cols)) => Pk::Fixed(Kind::Image { rows, cols }),
        _ => Pk::Unknown,
    };
    match pk {
        PortKind::Scalar => Pk::Fixed(Kind::Scalar),
        PortKind::Audio => Pk::Fixed(Kind::Audio),
        PortKind::Matrix => Pk::Fixed(Kind::Matrix),
        PortKind::Image => img(n.rows, n.cols),
        PortKind::ImageT => img(n.cols, n.rows),
        PortKind::MatA => img(n.rows, n.inner),
        PortKind::MatB => img(n.inner, n.cols),
        PortKind::Any if n.var => Pk::Var(i),
        PortKind::Any => match n.spec.settings.get("kind") {
            None => Pk::Fixed(Kind::Scalar),
            Some(v) => declared_kind(n, v).map_or(Pk::Unknown, Pk::Fixed),
        },
    }
}

struct Solver {
    parent: Vec<usize>,
    /// Per root: the forced kind and the link that forced it.
    forced: Vec<Option<(Kind, usize)>>,
}

impl Solver {
    fn root(&mut self, mut i: usize) -> usize {
        while self.parent[i] != i {
            self.parent[i] = self.parent[self.parent[i]];
            i = self.parent[i];
        }
        i
    }
}

static BUILTINS: std::sync::LazyLock<[(String, NeuronSpec); 2]> = std::sync::LazyLock::new(|| {
    [
        ("self".to_string(), NeuronSpec::new("self")),
        ("edits".to_string(), NeuronSpec::new("edits")),
    ]
});

/// Port kinds of neurons not yet resolved (an undeclared any-kind neuron counts as a variable).
struct Table<'a> {
    nodes: Vec<Node<'a>>,
    names: Vec<&'a str>,
    index: HashMap<&'a str, usize>,
}

impl<'a> Table<'a> {
    fn new(neurons: &'a [(String, NeuronSpec)], settings: &Settings) -> Table<'a> {
        let [dr, dc] = settings.image_size;
        let mut nodes = Vec::with_capacity(neurons.len() + 2);
        let mut names = Vec::with_capacity(neurons.len() + 2);
        for (name, spec) in neurons.iter().chain(BUILTINS.iter()) {
            let info = type_info(&spec.ty);
            let rows = dim(spec, "rows", dr);
            let cols = dim(spec, "cols", dc);
            nodes.push(Node {
                info,
                spec,
                rows,
                cols,
                inner: dim(spec, "inner", cols.unwrap_or(dc)),
                var: info.is_some_and(|i| i.kinds != Kinds::None)
                    && !spec.settings.contains_key("kind"),
            });
            names.push(name.as_str());
        }
        let mut index: HashMap<&str, usize> = HashMap::with_capacity(names.len());
        for (i, n) in names.iter().enumerate() {
            index.entry(n).or_insert(i); // duplicates are reported by the loader
        }
        Table {
            nodes,
            names,
            index,
        }
    }

    fn port(&self, p: &PortRef, input: bool) -> Pk {
        port_kind(&self.nodes, &self.index, p, input)
    }
}

/// The kind of a port of not-yet-resolved neurons (an undeclared kind counts as scalar), or
/// None when the neuron, type or port is unknown.
pub struct PortKinds<'a>(Table<'a>);

impl<'a> PortKinds<'a> {
    pub fn new(neurons: &'a [(String, NeuronSpec)], settings: &Settings) -> Self {
        PortKinds(Table::new(neurons, settings))
    }

    pub fn input(&self, p: &PortRef) -> Option<Kind> {
        match self.0.port(p, true) {
            Pk::Fixed(k) => Some(k),
            Pk::Var(_) => Some(Kind::Scalar),
            Pk::Unknown => None,
        }
    }
}

/// Infers the kinds of undeclared any-kind neurons in `neurons` from `links` and writes them
/// into their specs. `self` and `edits` are known without being listed. Returns every conflict.
pub fn infer_kinds(
    neurons: &mut [(String, NeuronSpec)],
    links: &[Link],
    settings: &Settings,
) -> Vec<InferError> {
    let table = Table::new(neurons, settings);
    let (nodes, names) = (&table.nodes, &table.names);
    let mut s = Solver {
        parent: (0..nodes.len()).collect(),
        forced: vec![None; nodes.len()],
    };
    let mut errors = Vec::new();
    for (li, l) in links.iter().enumerate() {
        let t = table.port(&l.target, true);
        let src = table.port(&l.source, false);
        let conflict = match (t, src) {
            (Pk::Var(a), Pk::Fixed(k)) | (Pk::Fixed(k), Pk::Var(a)) => force(&mut s, a, k, li),
            (Pk::Var(a), Pk::Var(b)) => union(&mut s, a, b),
            _ => None,
        };
        if let Some((var, k0, l0, k1)) = conflict {
            errors.push(conflict_error(nodes, names, links, var, (k0, l0), (k1, li)));
        }
    }
    // Write the forced kinds into the specs.
    let mut updates: Vec<(usize, Kind, usize)> = Vec::new();
    for (i, node) in nodes.iter().enumerate().take(neurons.len()) {
        let r = s.root(i);
        if node.var
            && let Some((k, li)) = s.forced[r]
        {
            updates.push((i, k, li));
        }
    }
    drop(table);
    for (i, k, li) in updates {
        if let Err(msg) = write_kind(&mut neurons[i], k, settings) {
            errors.push(InferError {
                place: links[li].place.clone(),
                msg: format!("{msg} (forced by {})", links[li].shown),
            });
        }
    }
    errors
}

/// `Some((neuron, old kind, old link, new kind))` when `a` was already forced to another kind.
fn force(s: &mut Solver, a: usize, k: Kind, li: usize) -> Option<(usize, Kind, usize, Kind)> {
    let r = s.root(a);
    match s.forced[r] {
        None => {
            s.forced[r] = Some((k, li));
            None
        }
        Some((k0, _)) if k0 == k => None,
        Some((k0, l0)) => Some((a, k0, l0, k)),
    }
}

fn union(s: &mut Solver, a: usize, b: usize) -> Option<(usize, Kind, usize, Kind)> {
    let (ra, rb) = (s.root(a), s.root(b));
    if ra == rb {
        return None;
    }
    match (s.forced[ra], s.forced[rb]) {
        (Some((ka, la)), Some((kb, _))) if ka != kb => Some((b, ka, la, kb)),
        (fa, fb) => {
            s.parent[rb] = ra;
            s.forced[ra] = fa.or(fb);
            None
        }
    }
}

fn kind_word(k: Kind) -> &'static str {
    match k {
        Kind::Scalar => "scalar",
        Kind::Audio => "audio",
        Kind::Image { .. } => "image",
        Kind::Matrix => "matrix",
    }
}

fn conflict_error(
    nodes: &[Node],
    names: &[&str],
    links: &[Link],
    var: usize,
    (k0, l0): (Kind, usize),
    (k1, l1): (Kind, usize),
) -> InferError {
    let name = names[var];
    let ty = nodes[var].info.map_or("?", |i| i.name);
    let (a, b) = (&links[l0], &links[l1]);
    let bridge = match (kind_word(k0), kind_word(k1)) {
        ("scalar", "audio") | ("audio", "scalar") => {
            " (a scalar reaches an audio port through a `hold`; audio becomes scalar through `rms`)"
        }
        _ => "",
    };
    InferError {
        place: b.place.clone(),
        msg: format!(
            "kind conflict: {} makes `{name}` {k1}, but {} makes it {k0}; declare the kind you mean, e.g. `{name} : {ty} {}`, and change the other connection{bridge}",
            b.shown,
            a.shown,
            kind_word(k1)
        ),
    }
}

fn write_kind(n: &mut (String, NeuronSpec), k: Kind, settings: &Settings) -> Result<(), String> {
    let info = type_info(&n.1.ty).ok_or("unknown type")?;
    let (name, spec) = (&n.0, &mut n.1);
    match k {
        Kind::Scalar => {}
        Kind::Audio => {
            spec.settings.insert("kind".into(), "audio".into());
        }
        Kind::Matrix => {
            if info.kinds != Kinds::All {
                return Err(format!(
                    "`{name}` ({}) cannot carry matrix values; only accum, identity and gate can",
                    info.name
                ));
            }
            spec.settings.insert("kind".into(), "matrix".into());
        }
        Kind::Image { rows, cols } => {
            let [dr, dc] = settings.image_size;
            for (key, want, default) in [("rows", rows, dr), ("cols", cols, dc)] {
                match spec.settings.get(key).and_then(Json::as_u64) {
                    Some(have) if have as usize != want => {
                        return Err(format!(
                            "shape conflict: `{name}` declares {key}={have} but is connected to a {rows}x{cols} image"
                        ));
                    }
                    Some(_) => {}
                    None if want != default => {
                        spec.settings.insert(key.into(), want.into());
                    }
                    None => {}
                }
            }
            spec.settings.insert("kind".into(), "image".into());
        }
    }
    Ok(())
}

/// The settings inference adds to neurons of a JSON patch, by name.
#[derive(Debug, Default)]
pub struct Inferred(HashMap<String, Map<String, Json>>);

impl Inferred {
    /// Adds the inferred settings to `spec` (the spec of neuron `name`).
    pub fn apply(&self, name: &str, spec: &mut NeuronSpec) {
        if let Some(add) = self.0.get(name) {
            for (k, v) in add {
                spec.settings.insert(k.clone(), v.clone());
            }
        }
    }
}

/// Inference for a JSON patch, read from its raw `neurons` and `weights` objects before they
/// are checked (entries that do not parse are skipped: the checks report them). Errors are
/// `(JSON path, message)`.
pub fn infer_json(
    neurons_raw: &[(String, Raw)],
    weights_raw: &[(String, Raw)],
    settings: &Settings,
) -> Result<Inferred, Vec<(String, String)>> {
    let mut neurons: Vec<(String, NeuronSpec)> = Vec::new();
    for (name, v) in neurons_raw {
        if let Json::Object(mut m) = v.to_json()
            && let Some(Json::String(ty)) = m.shift_remove("type")
        {
            neurons.push((name.clone(), NeuronSpec { ty, settings: m }));
        }
    }
    let mut links = Vec::new();
    for (target, row) in weights_raw {
        let (Ok(t), Raw::Obj(sources)) = (PortRef::parse(target), row) else {
            continue;
        };
        for (source, _) in sources {
            if let Ok(s) = PortRef::parse(source) {
                let place =
                    super::parse::key_path(&super::parse::key_path("weights", target), source);
                links.push(Link {
                    shown: format!("`{t} <- {s}` (at {place})"),
                    place,
                    target: t.clone(),
                    source: s,
                });
            }
        }
    }
    for (name, spec) in &neurons {
        links.extend(init_links(
            name,
            spec,
            &super::parse::key_path(&super::parse::key_path("neurons", name), "init"),
        ));
    }
    let before: Vec<NeuronSpec> = neurons.iter().map(|(_, s)| s.clone()).collect();
    let errors = infer_kinds(&mut neurons, &links, settings);
    if !errors.is_empty() {
        return Err(errors.into_iter().map(|e| (e.place, e.msg)).collect());
    }
    let mut out = HashMap::new();
    for ((name, after), before) in neurons.into_iter().zip(before) {
        let added: Map<String, Json> = after
            .settings
            .into_iter()
            .filter(|(k, _)| !before.settings.contains_key(k))
            .collect();
        if !added.is_empty() {
            out.insert(name, added);
        }
    }
    Ok(Inferred(out))
}

/// The connections named by a matrix neuron's `init` (a W-shaped map): they must obey the
/// type rule like any weight, so they take part in inference.
pub fn init_links(name: &str, spec: &NeuronSpec, place: &str) -> Vec<Link> {
    let mut links = Vec::new();
    if let Some(Json::Object(rows)) = spec.settings.get("init") {
        for (target, row) in rows {
            let (Ok(t), Json::Object(sources)) = (PortRef::parse(target), row) else {
                continue;
            };
            for source in sources.keys() {
                if let Ok(s) = PortRef::parse(source) {
                    links.push(Link {
                        place: place.to_string(),
                        shown: format!("`{t} <- {s}` in the init of `{name}` (at {place})"),
                        target: t.clone(),
                        source: s,
                    });
                }
            }
        }
    }
    links
}
