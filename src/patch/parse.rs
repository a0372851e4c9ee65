//! `Patch::parse` in named steps: the top level, the settings, the neurons, the weights, the
//! matrix init values, the memory budget. Each step records every problem it finds and goes on,
//! so one run reports them all; a later step only runs when what it builds on is sound.

use super::raw::Raw;
use super::{Patch, PatchError, PatchErrors};
use super::{budget, infer};
use crate::neurons::network::{EDITS, Network, SELF};
use crate::neurons::{AssetDirs, Init, NeuronSpec};
use crate::stream::kind::Settings;
use crate::stream::wmatrix::{PortRef, WMatrix};
use serde_json::Value as Json;
use std::collections::HashSet;

/// Collects the errors of one file.
pub(super) struct Errs {
    file: String,
    list: Vec<PatchError>,
}

impl Errs {
    pub(super) fn new(file: &str) -> Self {
        Errs {
            file: file.to_string(),
            list: Vec::new(),
        }
    }

    pub(super) fn at(&mut self, place: impl Into<String>, msg: impl Into<String>) {
        self.list.push(PatchError {
            file: self.file.clone(),
            place: place.into(),
            msg: msg.into(),
        });
    }

    /// Fails with everything found so far, if anything.
    fn check(&mut self) -> Result<(), PatchErrors> {
        if self.list.is_empty() {
            Ok(())
        } else {
            Err(PatchErrors(std::mem::take(&mut self.list)))
        }
    }
}

/// JSON path of a key: plain keys joined with dots, others quoted (escaped, so one line).
pub(super) fn key_path(parent: &str, key: &str) -> String {
    let plain = !key.is_empty()
        && key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    let k = if plain {
        key.to_string()
    } else {
        format!("{key:?}")
    };
    if parent.is_empty() {
        k
    } else if plain {
        format!("{parent}.{k}")
    } else {
        format!("{parent}[{k}]")
    }
}

/// The four sections of a patch file, not yet checked against each other.
struct Sections {
    comment: Option<String>,
    settings: Settings,
    neurons: Vec<(String, Raw)>,
    weights: Vec<(String, Raw)>,
    layout: super::text::Layout,
    /// `"mappings"`: each string with its index.
    mappings: Vec<(usize, String)>,
}

pub(super) fn parse(text: &str, file: &str, assets: &AssetDirs) -> Result<Patch, PatchErrors> {
    let mut e = Errs::new(file);
    let top = parse_json(text, &mut e)?;
    let sections = split_sections(&top, &mut e);
    // Neurons depend on settings (image sizes, block length): stop here on any error.
    e.check()?;
    // Kinds the connections force on neurons that do not declare one.
    let inferred = infer::infer_json(&sections.neurons, &sections.weights, &sections.settings)
        .unwrap_or_else(|errs| {
            for (place, msg) in errs {
                e.at(place, msg);
            }
            infer::Inferred::default()
        });
    e.check()?;
    let mut net = Network::new(sections.settings.clone());
    let neurons = add_neurons(&mut net, &sections.neurons, &inferred, assets, &mut e);
    let mut weights = read_weights(&net, &sections.weights, &mut e);
    check_matrix_inits(&net, &mut e);
    let (mappings, perform_maps) = read_mappings(&net, &sections.mappings, &mut e);
    e.check()?;
    // The core weights are implicit (added by `initial_w`); drop them if the file spells them out.
    for (t, s, _) in Network::core_weights().entries() {
        weights.add_entry(t, s, -weights.get(t, s));
    }
    Ok(Patch {
        path: None,
        comment: sections.comment,
        settings: sections.settings,
        neurons,
        weights,
        network: net,
        layout: sections.layout,
        mappings,
        perform_maps,
    })
}

/// Each mapping string parsed and checked against the network; errors name `mappings[i]`.
fn read_mappings(
    net: &Network,
    maps: &[(usize, String)],
    e: &mut Errs,
) -> (
    Vec<super::mapping::MapSpec>,
    Vec<super::mapping::PerformMap>,
) {
    use super::mapping::PerformMap;
    let mut out = Vec::new();
    let mut perform = Vec::new();
    for (i, text) in maps {
        if PerformMap::is_perform(text) {
            match PerformMap::parse(text) {
                Ok(m) => perform.push(m),
                Err(msg) => e.at(format!("mappings[{i}]"), msg),
            }
            continue;
        }
        match super::mapping::MapSpec::parse(text).and_then(|m| m.check(net).map(|()| m)) {
            Ok(m) => out.push(m),
            Err(msg) => e.at(format!("mappings[{i}]"), msg),
        }
    }
    (out, perform)
}

/// The JSON text as an object (keeping duplicate keys, which are errors).
fn parse_json(text: &str, e: &mut Errs) -> Result<Vec<(String, Raw)>, PatchErrors> {
    let root: Raw = match serde_json::from_str(text) {
        Ok(r) => r,
        Err(err) => {
            e.at(
                format!("{}:{}", err.line(), err.column()),
                format!("invalid JSON: {}", json_message(&err)),
            );
            return Err(e.check().expect_err("an error was just recorded"));
        }
    };
    match root {
        Raw::Obj(top) => Ok(top),
        other => {
            e.at(
                "(top level)",
                format!(
                    "expected an object with \"settings\", \"neurons\" and \"weights\", found {}",
                    other.type_name()
                ),
            );
            Err(e.check().expect_err("an error was just recorded"))
        }
    }
}

/// serde_json's message without its ` at line L column C` tail (the place says it once).
pub fn json_message(err: &serde_json::Error) -> String {
    let full = err.to_string();
    let tail = format!(" at line {} column {}", err.line(), err.column());
    full.strip_suffix(&tail).unwrap_or(&full).to_string()
}

/// Sorts the top-level keys into their sections; checks the settings.
fn split_sections(top: &[(String, Raw)], e: &mut Errs) -> Sections {
    if let Some(k) = Raw::duplicate_key(top) {
        e.at(key_path("", k), "this key appears twice");
    }
    let mut s = Sections {
        comment: None,
        settings: Settings::default(),
        neurons: Vec::new(),
        weights: Vec::new(),
        layout: super::text::Layout::default(),
        mappings: Vec::new(),
    };
    for (k, v) in top {
        match (k.as_str(), v) {
            ("comment", Raw::Str(c)) => s.comment = Some(c.clone()),
            ("comment", other) => e.at(
                "comment",
                format!("expected a string, found {}", other.type_name()),
            ),
            ("settings", Raw::Obj(o)) => {
                if let Some(settings) = read_settings(o, v, e) {
                    s.settings = settings;
                }
            }
            ("neurons", Raw::Obj(o)) => s.neurons = o.clone(),
            ("weights", Raw::Obj(o)) => s.weights = o.clone(),
            ("layout", v) => match super::text::Layout::from_json(&v.to_json()) {
                Ok(l) => s.layout = l,
                Err((at, msg)) => e.at(format!("layout{at}"), msg),
            },
            ("mappings", Raw::Arr(items)) => {
                for (i, item) in items.iter().enumerate() {
                    match item {
                        Raw::Str(m) => s.mappings.push((i, m.clone())),
                        other => e.at(
                            format!("mappings[{i}]"),
                            format!(
                                "expected a mapping string such as \"cc 1:74 x.in <- k.out 0..1\", found {}",
                                other.type_name()
                            ),
                        ),
                    }
                }
            }
            ("mappings", other) => e.at(
                "mappings",
                format!("expected an array of strings, found {}", other.type_name()),
            ),
            ("settings" | "neurons" | "weights", other) => e.at(
                k.as_str(),
                format!("expected an object, found {}", other.type_name()),
            ),
            _ => e.at(
                key_path("", k),
                "unknown key; a patch has \"comment\", \"settings\", \"neurons\", \"weights\", \"layout\" and \"mappings\"",
            ),
        }
    }
    s
}

fn read_settings(o: &[(String, Raw)], v: &Raw, e: &mut Errs) -> Option<Settings> {
    if let Some(d) = Raw::duplicate_key(o) {
        e.at(key_path("settings", d), "this key appears twice");
    }
    match serde_json::from_value::<Settings>(v.to_json()) {
        Ok(s) => match s.check() {
            Ok(()) => Some(s),
            Err((field, msg)) => {
                e.at(key_path("settings", &field), msg);
                None
            }
        },
        Err(err) => {
            // serde names the type it expected, not the field: find the field by reading each
            // alone, so that the error says where (`settings.frame_rate`).
            let bad = o.iter().find(|(k, val)| {
                let mut one = serde_json::Map::new();
                one.insert(k.clone(), val.to_json());
                serde_json::from_value::<Settings>(serde_json::Value::Object(one)).is_err()
            });
            match bad {
                Some((k, _)) => e.at(key_path("settings", k), json_message(&err)),
                None => e.at("settings", json_message(&err)),
            }
            None
        }
    }
}

/// Adds the neurons in file order; returns them as written. The memory budget is checked on
/// their shapes first, so a patch of huge pictures is refused before any picture is loaded.
fn add_neurons(
    net: &mut Network,
    raw: &[(String, Raw)],
    inferred: &infer::Inferred,
    assets: &AssetDirs,
    e: &mut Errs,
) -> Vec<(String, NeuronSpec)> {
    let mut specs = neuron_specs(raw, e);
    for (_, name, spec) in &mut specs {
        inferred.apply(name, spec);
    }
    if let Err(msg) = budget::check(&net.settings, &specs) {
        e.at("neurons", msg);
        return Vec::new();
    }
    let mut neurons = Vec::with_capacity(specs.len());
    for (place, name, spec) in specs {
        if let Err(err) = net.add(name, &spec, assets) {
            let p = if err.field.is_empty() {
                place
            } else {
                key_path(&place, &err.field)
            };
            e.at(p, err.msg);
            continue;
        }
        neurons.push((name.to_string(), spec));
    }
    neurons
}

/// `(place, name, spec)` of every neuron entry that is well-formed and not a duplicate, in file
/// order (listing the built-in `self` and `edits` plainly is allowed and changes nothing).
fn neuron_specs<'a>(raw: &'a [(String, Raw)], e: &mut Errs) -> Vec<(String, &'a str, NeuronSpec)> {
    let mut out = Vec::with_capacity(raw.len());
    let mut seen = HashSet::with_capacity(raw.len());
    for (name, v) in raw {
        let place = key_path("neurons", name);
        if !seen.insert(name.as_str()) {
            e.at(
                &place,
                format!("duplicate neuron name {name:?}: names must be unique"),
            );
            continue;
        }
        let Some(spec) = neuron_spec(&place, v, e) else {
            continue;
        };
        if (name == SELF || name == EDITS)
            && spec.ty == name.as_str()
            && spec.settings.keys().all(|k| k == "comment")
        {
            continue;
        }
        out.push((place, name.as_str(), spec));
    }
    out
}

/// One neuron's `{"type": ..., settings...}` object as a spec.
fn neuron_spec(place: &str, v: &Raw, e: &mut Errs) -> Option<NeuronSpec> {
    let Raw::Obj(fields) = v else {
        e.at(
            place,
            format!(
                "expected an object like {{\"type\": \"sin\"}}, found {}",
                v.type_name()
            ),
        );
        return None;
    };
    if let Some(d) = Raw::duplicate_key(fields) {
        e.at(key_path(place, d), "this key appears twice");
        return None;
    }
    let Json::Object(mut m) = v.to_json() else {
        unreachable!("checked to be an object")
    };
    match m.shift_remove("type") {
        Some(Json::String(ty)) => Some(NeuronSpec { ty, settings: m }),
        Some(other) => {
            e.at(
                key_path(place, "type"),
                format!("expected a type name string, found {other}"),
            );
            None
        }
        None => {
            e.at(place, "missing \"type\"");
            None
        }
    }
}

/// The weights section, rows first, each weight checked against the network.
fn read_weights(net: &Network, raw: &[(String, Raw)], e: &mut Errs) -> WMatrix {
    let mut weights = WMatrix::new();
    let mut seen_rows = HashSet::with_capacity(raw.len());
    for (target, row) in raw {
        let place = key_path("weights", target);
        if !seen_rows.insert(target.as_str()) {
            e.at(
                &place,
                "this row appears twice; put all its sources in one object",
            );
            continue;
        }
        let t = match PortRef::parse(target) {
            Ok(t) => t,
            Err(m) => {
                e.at(&place, m);
                continue;
            }
        };
        let Raw::Obj(sources) = row else {
            e.at(
                &place,
                format!(
                    "expected an object {{\"source.port\": weight}}, found {}",
                    row.type_name()
                ),
            );
            continue;
        };
        if let Some(d) = Raw::duplicate_key(sources) {
            e.at(key_path(&place, d), "this source appears twice in the row");
            continue;
        }
        for (source, w) in sources {
            if let Some((s, w)) = read_weight(net, &t, &key_path(&place, source), source, w, e) {
                weights.add_entry(&t, &s, w);
            }
        }
    }
    weights
}

/// One `"source.port": weight` entry of row `t`, checked.
fn read_weight(
    net: &Network,
    t: &PortRef,
    place: &str,
    source: &str,
    w: &Raw,
    e: &mut Errs,
) -> Option<(PortRef, f64)> {
    let s = match PortRef::parse(source) {
        Ok(s) => s,
        Err(m) => {
            e.at(place, m);
            return None;
        }
    };
    let Some(w) = (match w {
        Raw::Num(n) => n.as_f64(),
        _ => None,
    }) else {
        e.at(
            place,
            format!("expected a finite number, found {}", w.type_name()),
        );
        return None;
    };
    if let Err(err) = net.check_value(t, &s, w) {
        e.at(place, err.to_string());
        return None;
    }
    Some((s, w))
}

/// Matrix init values name ports too: check them against the whole catalogue.
fn check_matrix_inits(net: &Network, e: &mut Errs) {
    for n in &net.neurons {
        if let Init::Matrix(m) = &n.params.init {
            for err in net.check_matrix(m) {
                e.at(
                    key_path(&key_path("neurons", &n.name), "init"),
                    err.to_string(),
                );
            }
        }
        // An image_w's block of W: its ports must exist and agree in kind (first error).
        if let Some(err) = n
            .params
            .binding
            .as_ref()
            .and_then(|b| net.check_matrix(&b.pattern()).into_iter().next())
        {
            e.at(
                key_path(&key_path("neurons", &n.name), "targets"),
                err.to_string(),
            );
        }
        // A w_image's listed ports must exist (they may be of any kind).
        if let Some(err) = n.params.view.as_ref().and_then(|v| v.check(net)) {
            e.at(
                key_path(&key_path("neurons", &n.name), "targets"),
                err.to_string(),
            );
        }
    }
}
