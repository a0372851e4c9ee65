//! What the text form has beyond the network: blank lines, free comment lines, the order of
//! lines, row comments and row morphs. A patch keeps it so that text → JSON → text loses
//! nothing; in JSON it is the optional top-level `"layout"` array of strings:
//!
//! | string | line |
//! |---|---|
//! | `""` | a blank line |
//! | `"# text"` | a comment line |
//! | `"settings"` | the settings line |
//! | `"neuron NAME"` | NAME's declaration (its trailing comment is the neuron's `comment`) |
//! | `"row T.P [~SECONDS] [# comment]"` | the row of input port T.P, its morph and comment |
//!
//! Neurons and rows that the layout does not mention are printed after it; entries naming
//! neurons or rows that do not exist are skipped.

use crate::engine::edits::Edit;
use crate::stream::PortRef;
use serde_json::Value as Json;

#[derive(Clone, Debug, PartialEq)]
pub enum Item {
    Blank,
    Comment(String),
    Settings,
    Neuron(String),
    Row {
        target: PortRef,
        comment: Option<String>,
        /// Seconds over which this row's change is spread when the text is evaluated.
        morph: Option<f64>,
    },
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct Layout {
    pub items: Vec<Item>,
}

impl Layout {
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// The morph time a row states with `~`, if any.
    pub fn row_morph(&self, target: &PortRef) -> Option<f64> {
        self.items.iter().find_map(|i| match i {
            Item::Row {
                target: t, morph, ..
            } if t == target => *morph,
            _ => None,
        })
    }

    /// Gives each `set` of a row with its own `~` morph that morph (the rest keep the global
    /// morph time): use on a hot-reload diff of a text patch.
    pub fn apply_row_morphs(&self, edits: &mut [Edit]) {
        for e in edits {
            match e {
                Edit::Set { target, morph, .. } => {
                    if let Some(m) = self.row_morph(target) {
                        *morph = m;
                    }
                }
                Edit::Batch { edits } => self.apply_row_morphs(edits),
                _ => {}
            }
        }
    }

    pub fn to_json(&self) -> Json {
        Json::Array(
            self.items
                .iter()
                .map(|i| Json::String(item_string(i)))
                .collect(),
        )
    }

    /// Reads the `"layout"` array; the error names the entry and what was expected.
    pub fn from_json(v: &Json) -> Result<Layout, (String, String)> {
        let Json::Array(a) = v else {
            return Err((
                String::new(),
                format!("expected an array of strings, found {v}"),
            ));
        };
        let mut items = Vec::with_capacity(a.len());
        for (k, e) in a.iter().enumerate() {
            let bad = |m: String| (format!("[{k}]"), m);
            let Json::String(s) = e else {
                return Err(bad(format!("expected a string, found {e}")));
            };
            items.push(parse_item(s).map_err(bad)?);
        }
        Ok(Layout { items })
    }
}

fn item_string(i: &Item) -> String {
    match i {
        Item::Blank => String::new(),
        Item::Comment(c) => format!("# {c}"),
        Item::Settings => "settings".into(),
        Item::Neuron(n) => format!("neuron {n}"),
        Item::Row {
            target,
            comment,
            morph,
        } => {
            let mut s = format!("row {target}");
            if let Some(m) = morph {
                s.push_str(&format!(" ~{}", super::format_number(*m)));
            }
            if let Some(c) = comment {
                s.push_str(&format!(" # {c}"));
            }
            s
        }
    }
}

fn parse_item(s: &str) -> Result<Item, String> {
    let expected = || {
        format!(
            "expected \"\", \"# comment\", \"settings\", \"neuron NAME\" or \"row N.PORT [~SECONDS] [# comment]\", found {s:?}"
        )
    };
    if s.is_empty() {
        return Ok(Item::Blank);
    }
    if let Some(c) = s.strip_prefix('#') {
        return Ok(Item::Comment(c.strip_prefix(' ').unwrap_or(c).to_string()));
    }
    if s == "settings" {
        return Ok(Item::Settings);
    }
    if let Some(n) = s.strip_prefix("neuron ") {
        return Ok(Item::Neuron(n.to_string()));
    }
    let Some(rest) = s.strip_prefix("row ") else {
        return Err(expected());
    };
    let (main, comment) = match rest.split_once('#') {
        Some((m, c)) => (m, Some(c.strip_prefix(' ').unwrap_or(c).to_string())),
        None => (rest, None),
    };
    let mut words = main.split_whitespace();
    let target = PortRef::parse(words.next().ok_or_else(expected)?)?;
    let morph = match words.next() {
        None => None,
        Some(w) => match w.strip_prefix('~').and_then(|n| n.parse::<f64>().ok()) {
            Some(m) if m.is_finite() && m >= 0.0 => Some(m),
            _ => return Err(format!("expected a morph ~SECONDS (>= 0), found {w:?}")),
        },
    };
    if words.next().is_some() {
        return Err(expected());
    }
    Ok(Item::Row {
        target,
        comment,
        morph,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layout_json_round_trip() {
        let l = Layout {
            items: vec![
                Item::Comment("oscillators".into()),
                Item::Blank,
                Item::Settings,
                Item::Neuron("osc".into()),
                Item::Row {
                    target: PortRef::new("osc", "x"),
                    comment: Some("the phase # twice".into()),
                    morph: Some(2.5),
                },
                Item::Row {
                    target: PortRef::new("osc", "a"),
                    comment: None,
                    morph: None,
                },
            ],
        };
        assert_eq!(Layout::from_json(&l.to_json()), Ok(l));
        assert!(Layout::from_json(&serde_json::json!(["rows x"])).is_err());
        assert!(Layout::from_json(&serde_json::json!(["row x.y ~-1"])).is_err());
        assert!(Layout::from_json(&serde_json::json!([1])).is_err());
    }
}
