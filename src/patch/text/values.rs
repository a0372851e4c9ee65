//! Values written in the text → the JSON a patch holds: numbers, settings, declarations.

use super::parse::{Decl, Setting, Value};
use crate::neurons::NeuronSpec;
use crate::stream::Settings;
use serde_json::{Map, Value as Json};
use std::collections::HashMap;
use std::ops::Range;

/// Turns `Json` numbers written in the text into the JSON a file holds: integers as integers.
pub(super) fn number_json(value: f64, int: Option<u64>) -> Json {
    if let Some(i) = int {
        return Json::from(i);
    }
    if value.fract() == 0.0 && value.abs() <= 9_007_199_254_740_992.0 {
        if value >= 0.0 {
            return Json::from(value as u64);
        }
        return Json::from(value as i64);
    }
    serde_json::Number::from_f64(value).map_or(Json::Null, Json::Number)
}

/// Where a setting is written in a declaration (for errors from resolving the neuron).
pub(super) fn field_span(d: &Decl, field: &str) -> Range<usize> {
    match field {
        "" => d.name.span.clone(),
        "type" => d.ty.span.clone(),
        "kind" => d
            .kind
            .as_ref()
            .map_or(d.ty.span.clone(), |k| k.span.clone()),
        f => d
            .settings
            .iter()
            .find(|s| s.key.v == f)
            .map_or(d.name.span.clone(), |s| s.key.span.start..s.value.span.end),
    }
}

/// A declaration's spec (matrix values are filled in later, once ports are resolved).
pub(super) fn decl_spec(d: &Decl) -> Result<NeuronSpec, (Range<usize>, String)> {
    let mut spec = NeuronSpec::new(&d.ty.v);
    if let Some(k) = &d.kind {
        spec.settings
            .insert("kind".into(), Json::String(k.v.clone()));
    }
    for st in &d.settings {
        let key = st.key.v.as_str();
        if key == "kind" || key == "type" {
            return Err((
                st.key.span.clone(),
                format!("write the {key} as a word after `:` (`osc : sin audio`), not as {key}="),
            ));
        }
        let v = match &st.value.v {
            Value::Num { value, int } => number_json(*value, *int),
            Value::Str(s) => Json::String(s.clone()),
            Value::Shape(..) => {
                return Err((
                    st.value.span.clone(),
                    format!(
                        "`{key}` takes a number or a \"string\", not a shape (rows=R cols=C set an image's shape)"
                    ),
                ));
            }
            Value::Matrix(_) => Json::Object(Map::new()),
        };
        spec.settings.insert(key.to_string(), v);
    }
    if let Some(c) = &d.comment
        && !spec.settings.contains_key("comment")
    {
        spec.settings
            .insert("comment".into(), Json::String(c.clone()));
    }
    Ok(spec)
}

/// Text setting names ↔ the JSON fields of `Settings`.
pub(super) const SETTING_ALIASES: [(&str, &str); 2] =
    [("image", "image_size"), ("morph", "morph_time")];

pub(super) fn settings_from(list: &[Setting]) -> Result<Settings, (Range<usize>, String)> {
    let defaults = serde_json::to_value(Settings::default()).unwrap_or(Json::Null);
    let Json::Object(mut known) = defaults else {
        return Ok(Settings::default());
    };
    // Optional settings have no default to list them (the JSON form takes them, so must this).
    known.entry("memory_budget_mb").or_insert(Json::Null);
    let mut obj = Map::new();
    let mut spans: HashMap<String, Range<usize>> = HashMap::new();
    for st in list {
        let key = SETTING_ALIASES
            .iter()
            .find(|(t, _)| *t == st.key.v)
            .map_or(st.key.v.as_str(), |(_, j)| j);
        if !known.contains_key(key) || SETTING_ALIASES.iter().any(|(_, j)| *j == st.key.v) {
            let names: Vec<&str> = known
                .keys()
                .map(|k| {
                    SETTING_ALIASES
                        .iter()
                        .find(|(_, j)| j == k)
                        .map_or(k.as_str(), |(t, _)| t)
                })
                .collect();
            return Err((
                st.key.span.clone(),
                format!(
                    "unknown setting `{}`; settings are: {}",
                    st.key.v,
                    names.join(", ")
                ),
            ));
        }
        let v = match (&st.value.v, key) {
            (Value::Shape(r, c), "image_size") => serde_json::json!([r, c]),
            (_, "image_size") => {
                return Err((
                    st.value.span.clone(),
                    "expected an image shape ROWSxCOLS, such as image=128x128".into(),
                ));
            }
            (Value::Num { value, int }, _) => number_json(*value, *int),
            (Value::Str(s), _) => Json::String(s.clone()),
            _ => {
                return Err((
                    st.value.span.clone(),
                    format!("`{}` takes a number", st.key.v),
                ));
            }
        };
        spans.insert(key.to_string(), st.key.span.start..st.value.span.end);
        obj.insert(key.to_string(), v);
    }
    let s: Settings = serde_json::from_value(Json::Object(obj)).map_err(|e| {
        let span = list
            .first()
            .map_or(0..1, |s| s.key.span.start..s.value.span.end);
        (span, format!("bad settings: {e}"))
    })?;
    s.check()
        .map_err(|(field, msg)| (spans.get(&field).cloned().unwrap_or(0..8), msg))?;
    Ok(s)
}
