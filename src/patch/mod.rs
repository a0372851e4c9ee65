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
pub mod infer;
pub mod mapping;
mod parse;
mod raw;
mod save;
pub mod sketches;
pub mod text;
pub mod watch;

use crate::neurons::AssetDirs;
use crate::neurons::NeuronSpec;
pub use crate::neurons::budget;
use crate::neurons::network::{EDITS, Network, SELF};
use crate::stream::kind::Settings;
use crate::stream::wmatrix::{MAX_WEIGHT, WMatrix, weight_in_bounds};
pub use parse::json_message;
pub use save::save_atomic;
use serde_json::{Map, Value as Json, json};
use std::fmt;
use std::path::{Path, PathBuf};
use thiserror::Error;

/// One problem in a patch file. Displays as one line, `file:place: message` (`file:line:column:
/// message` for text patches and syntax errors: the form Vim's quickfix and editors' problem
/// matchers jump to); control characters anywhere in it (a file name, a quoted key) are escaped.
#[derive(Clone, Debug, PartialEq, Error)]
pub struct PatchError {
    pub file: String,
    /// `line:column` for syntax errors, the JSON path (e.g. `neurons.osc.kind`) otherwise.
    pub place: String,
    pub msg: String,
}

impl fmt::Display for PatchError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}: {}",
            one_line(&self.file),
            one_line(&self.place),
            one_line(&self.msg)
        )
    }
}

/// `s` with control characters (newlines, escapes) written as Rust escapes: one line, always.
pub fn one_line(s: &str) -> std::borrow::Cow<'_, str> {
    if !s.chars().any(char::is_control) {
        return s.into();
    }
    s.chars()
        .map(|c| {
            if c.is_control() {
                c.escape_debug().to_string()
            } else {
                c.to_string()
            }
        })
        .collect::<String>()
        .into()
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
    /// The text form's blank lines, comment lines, line order, row comments and row morphs
    /// (JSON: the optional `"layout"` array). Empty for patches that never were text.
    pub layout: text::Layout,
    /// Controllers mapped onto weights (`map` lines; JSON: the `"mappings"` array).
    pub mappings: Vec<mapping::MapSpec>,
    /// Controls mapped onto the crossfader and scene recall (`map cc 1:20 xfade`, `map note 1:60
    /// scene 3`; JSON: strings of the same `"mappings"` array).
    pub perform_maps: Vec<mapping::PerformMap>,
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
        if file.ends_with(".json") || text.trim_start().starts_with('{') {
            parse::parse(text, file, assets)
        } else {
            text::parse_text(text, file, assets)
        }
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
            layout: text::Layout::default(),
            mappings: Vec::new(),
            perform_maps: Vec::new(),
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
        if !self.layout.is_empty() {
            top.insert("layout".into(), self.layout.to_json());
        }
        if !(self.mappings.is_empty() && self.perform_maps.is_empty()) {
            let maps = (self.mappings.iter().map(|m| json!(m.to_string())))
                .chain(self.perform_maps.iter().map(|m| json!(m.to_string())))
                .collect();
            top.insert("mappings".into(), Json::Array(maps));
        }
        let mut s = serde_json::to_string_pretty(&Json::Object(top)).expect("json");
        s.push('\n');
        s
    }

    /// Why this patch cannot be written: a weight that is not finite or beyond `MAX_WEIGHT`
    /// would save as text that does not load back.
    pub fn unsaveable(&self) -> Option<String> {
        let (t, s, w) = self
            .weights
            .entries()
            .find(|(_, _, w)| !weight_in_bounds(*w))?;
        Some(format!(
            "weight {t} <- {s} is {w}, which a patch cannot hold (finite, |w| <= {MAX_WEIGHT:e}); set it to a smaller value first"
        ))
    }

    /// Saves atomically: write a temp file, sync, keep the old file as `NAME.bak`, rename.
    /// A crash never leaves a half-written patch; a patch that would not load back is refused.
    pub fn save(&self, path: &Path) -> std::io::Result<()> {
        if let Some(why) = self.unsaveable() {
            return Err(std::io::Error::new(std::io::ErrorKind::InvalidData, why));
        }
        save_atomic(path, self.to_string_for(path).as_bytes())
    }

    /// The file's text for `path`: the text language for `.dmm`, else JSON.
    pub fn to_string_for(&self, path: &Path) -> String {
        if path.extension().is_some_and(|e| e == "dmm") {
            text::print_text(self)
        } else {
            self.to_json_string()
        }
    }
}
