//! Patch files (DESIGN §5): human-edited JSON, checked in full before anything runs.
//!
//! ```json
//! { "comment": "what it shows",
//!   "settings": { "tick_rate": 375, "sample_rate": 48000, "image_size": [128, 128] },
//!   "neurons": { "osc": { "type": "sin", "kind": "audio" } },
//!   "weights": { "osc.x": { "ph.out": 6.283185 } } }
//! ```
//! Every error names the file, the place (line:column for syntax, the JSON path for meaning) and
//! what was expected.

pub mod diff;
mod raw;
pub mod watch;

use crate::neurons::network::{EDITS, Network, SELF};
use crate::neurons::{AssetDirs, Init, NeuronSpec};
use crate::stream::kind::Settings;
use crate::stream::wmatrix::{PortRef, WMatrix};
use raw::Raw;
use serde_json::{Map, Value as Json, json};
use std::fmt;
use std::path::{Path, PathBuf};
use thiserror::Error;

/// One problem in a patch file.
#[derive(Clone, Debug, PartialEq, Error)]
#[error("{file}: {place}: {msg}")]
pub struct PatchError {
    pub file: String,
    /// `line:column` for syntax errors, the JSON path (e.g. `neurons.osc.kind`) otherwise.
    pub place: String,
    pub msg: String,
}

/// Every problem found in a patch file.
#[derive(Clone, Debug, PartialEq, Error)]
pub struct PatchErrors(pub Vec<PatchError>);

impl fmt::Display for PatchErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, e) in self.0.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{e}")?;
        }
        Ok(())
    }
}

/// A checked patch: what a file says, ready to build a machine from.
#[derive(Clone, Debug)]
pub struct Patch {
    pub path: Option<PathBuf>,
    pub comment: Option<String>,
    pub settings: Settings,
    /// Neurons in file order (without `self` and `edits`, which every network has).
    pub neurons: Vec<(String, NeuronSpec)>,
    /// W as the file gives it (without the two core weights).
    pub weights: WMatrix,
    /// The network built and checked from the above.
    pub network: Network,
}

struct Errs {
    file: String,
    list: Vec<PatchError>,
}

impl Errs {
    fn at(&mut self, place: impl Into<String>, msg: impl Into<String>) {
        self.list.push(PatchError {
            file: self.file.clone(),
            place: place.into(),
            msg: msg.into(),
        });
    }
}

/// JSON path of a key: plain keys joined with dots, others quoted.
fn key_path(parent: &str, key: &str) -> String {
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

impl Patch {
    /// Reads and checks a patch file.
    pub fn load(path: &Path) -> Result<Patch, PatchErrors> {
        let file = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|e| {
            PatchErrors(vec![PatchError {
                file: file.clone(),
                place: "file".into(),
                msg: format!("cannot read the patch file: {e}"),
            }])
        })?;
        let mut p = Patch::parse(&text, &file, &AssetDirs::for_patch(path))?;
        p.path = Some(path.to_path_buf());
        Ok(p)
    }

    /// Parses and checks patch text. `file` names it in errors; assets resolve against `assets`.
    pub fn parse(text: &str, file: &str, assets: &AssetDirs) -> Result<Patch, PatchErrors> {
        let mut e = Errs {
            file: file.to_string(),
            list: Vec::new(),
        };
        let root: Raw = match serde_json::from_str(text) {
            Ok(r) => r,
            Err(err) => {
                e.at(
                    format!("{}:{}", err.line(), err.column()),
                    format!("invalid JSON: {err}"),
                );
                return Err(PatchErrors(e.list));
            }
        };
        let Raw::Obj(top) = root else {
            e.at(
                "(top level)",
                format!(
                    "expected an object with \"settings\", \"neurons\" and \"weights\", found {}",
                    root.type_name()
                ),
            );
            return Err(PatchErrors(e.list));
        };
        if let Some(k) = Raw::duplicate_key(&top) {
            e.at(key_path("", k), "this key appears twice");
        }
        let mut comment = None;
        let mut settings = Settings::default();
        let mut neurons_raw: Vec<(String, Raw)> = Vec::new();
        let mut weights_raw: Vec<(String, Raw)> = Vec::new();
        for (k, v) in &top {
            match (k.as_str(), v) {
                ("comment", Raw::Str(s)) => comment = Some(s.clone()),
                ("comment", other) => e.at("comment", format!("expected a string, found {}", other.type_name())),
                ("settings", Raw::Obj(o)) => {
                    if let Some(d) = Raw::duplicate_key(o) {
                        e.at(key_path("settings", d), "this key appears twice");
                    }
                    match serde_json::from_value::<Settings>(v.to_json()) {
                        Ok(s) => match s.check() {
                            Ok(()) => settings = s,
                            Err((field, msg)) => e.at(key_path("settings", &field), msg),
                        },
                        Err(err) => e.at("settings", format!("{err}")),
                    }
                }
                ("neurons", Raw::Obj(o)) => neurons_raw = o.clone(),
                ("weights", Raw::Obj(o)) => weights_raw = o.clone(),
                ("settings" | "neurons" | "weights", other) => {
                    e.at(k.as_str(), format!("expected an object, found {}", other.type_name()))
                }
                _ => e.at(
                    key_path("", k),
                    "unknown key; a patch has \"comment\", \"settings\", \"neurons\" and \"weights\"",
                ),
            }
        }
        if !e.list.is_empty() {
            // Neurons depend on settings (image sizes, block length): stop here.
            return Err(PatchErrors(e.list));
        }

        // Neurons, in file order.
        let mut net = Network::new(settings.clone());
        let mut neurons = Vec::new();
        let mut seen = std::collections::HashSet::new();
        for (name, v) in &neurons_raw {
            let place = key_path("neurons", name);
            if !seen.insert(name.clone()) {
                e.at(
                    &place,
                    format!("duplicate neuron name {name:?}: names must be unique"),
                );
                continue;
            }
            let Raw::Obj(fields) = v else {
                e.at(
                    &place,
                    format!(
                        "expected an object like {{\"type\": \"sin\"}}, found {}",
                        v.type_name()
                    ),
                );
                continue;
            };
            if let Some(d) = Raw::duplicate_key(fields) {
                e.at(key_path(&place, d), "this key appears twice");
                continue;
            }
            let spec: NeuronSpec = match v.to_json() {
                Json::Object(mut m) => match m.remove("type") {
                    Some(Json::String(ty)) => NeuronSpec { ty, settings: m },
                    Some(other) => {
                        e.at(
                            key_path(&place, "type"),
                            format!("expected a type name string, found {other}"),
                        );
                        continue;
                    }
                    None => {
                        e.at(&place, "missing \"type\"");
                        continue;
                    }
                },
                _ => unreachable!("checked to be an object"),
            };
            if (name == SELF || name == EDITS)
                && spec.ty == name.as_str()
                && spec.settings.keys().all(|k| k == "comment")
            {
                continue; // Listing the built-in neurons is allowed and changes nothing.
            }
            if let Err(err) = net.add(name, &spec, assets) {
                let p = if err.field.is_empty() {
                    place.clone()
                } else {
                    key_path(&place, &err.field)
                };
                e.at(p, err.msg);
                continue;
            }
            neurons.push((name.clone(), spec));
        }

        // Weights, rows first.
        let mut weights = WMatrix::new();
        let mut seen_rows = std::collections::HashSet::new();
        for (target, row) in &weights_raw {
            let place = key_path("weights", target);
            if !seen_rows.insert(target.clone()) {
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
                let sp = key_path(&place, source);
                let s = match PortRef::parse(source) {
                    Ok(s) => s,
                    Err(m) => {
                        e.at(&sp, m);
                        continue;
                    }
                };
                let Some(w) = (match w {
                    Raw::Num(n) => n.as_f64(),
                    _ => None,
                }) else {
                    e.at(
                        &sp,
                        format!("expected a finite number, found {}", w.type_name()),
                    );
                    continue;
                };
                if let Err(err) = net.check_weight(&t, &s, w) {
                    e.at(&sp, err.to_string());
                    continue;
                }
                weights.add_entry(&t, &s, w);
            }
        }
        // Matrix init values name ports too: check them against the whole catalogue.
        for n in &net.neurons {
            if let Init::Matrix(m) = &n.params.init {
                for err in net.check_matrix(m) {
                    e.at(
                        key_path(&key_path("neurons", &n.name), "init"),
                        err.to_string(),
                    );
                }
            }
        }
        if !e.list.is_empty() {
            return Err(PatchErrors(e.list));
        }
        // The core weights are implicit (added by `initial_w`); drop them if the file spells
        // them out.
        for (t, s, _) in Network::core_weights().entries() {
            weights.add_entry(t, s, -weights.get(t, s));
        }
        Ok(Patch {
            path: None,
            comment,
            settings,
            neurons,
            weights,
            network: net,
        })
    }

    /// The initial W: the file's weights plus Self's core weights.
    pub fn initial_w(&self) -> WMatrix {
        let mut w = self.weights.clone();
        w.add_scaled(&Network::core_weights(), 1.0);
        w
    }

    /// A patch describing a running network (for saving what is playing now).
    pub fn from_running(
        settings: &Settings,
        comment: Option<String>,
        net: &Network,
        w: &WMatrix,
    ) -> Patch {
        let neurons = net
            .neurons
            .iter()
            .filter(|n| n.name != SELF && n.name != EDITS)
            .map(|n| (n.name.clone(), n.spec.clone()))
            .collect();
        let mut weights = w.clone();
        weights.add_scaled(&Network::core_weights(), -1.0);
        Patch {
            path: None,
            comment,
            settings: settings.clone(),
            neurons,
            weights,
            network: net.clone(),
        }
    }

    /// Pretty JSON in the file format.
    pub fn to_json_string(&self) -> String {
        let mut top = Map::new();
        if let Some(c) = &self.comment {
            top.insert("comment".into(), json!(c));
        }
        top.insert(
            "settings".into(),
            serde_json::to_value(&self.settings).expect("settings serialize"),
        );
        let mut neurons = Map::new();
        for (name, spec) in &self.neurons {
            neurons.insert(
                name.clone(),
                serde_json::to_value(spec).expect("specs serialize"),
            );
        }
        top.insert("neurons".into(), Json::Object(neurons));
        top.insert(
            "weights".into(),
            serde_json::to_value(&self.weights).expect("weights serialize"),
        );
        let mut s = serde_json::to_string_pretty(&Json::Object(top)).expect("json");
        s.push('\n');
        s
    }

    /// Saves atomically: write a temp file, sync, keep the old file as `NAME.bak`, rename.
    /// A crash never leaves a half-written patch.
    pub fn save(&self, path: &Path) -> std::io::Result<()> {
        save_atomic(path, self.to_json_string().as_bytes())
    }
}

/// Writes `bytes` to `path` atomically, keeping the previous version as `path.bak`.
pub fn save_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .ok_or_else(|| std::io::Error::other("the path has no file name"))?
        .to_string_lossy()
        .to_string();
    let tmp = dir.join(format!(".{name}.tmp"));
    {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
    }
    if path.exists() {
        std::fs::copy(path, dir.join(format!("{name}.bak")))?;
    }
    std::fs::rename(&tmp, path)?;
    Ok(())
}
