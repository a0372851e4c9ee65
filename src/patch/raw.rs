//! A JSON tree that keeps duplicate keys (serde_json's own map silently keeps the last one), so
//! that a patch with two neurons of the same name is an error, not a surprise.

use serde::de::{Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::Value as Json;
use std::fmt;

#[derive(Clone, Debug, PartialEq)]
pub enum Raw {
    Null,
    Bool(bool),
    Num(serde_json::Number),
    Str(String),
    Arr(Vec<Raw>),
    Obj(Vec<(String, Raw)>),
}

impl Raw {
    /// The first key that appears twice in this object (not recursive).
    pub fn duplicate_key(entries: &[(String, Raw)]) -> Option<&str> {
        let mut seen = std::collections::HashSet::new();
        entries
            .iter()
            .find(|(k, _)| !seen.insert(k.as_str()))
            .map(|(k, _)| k.as_str())
    }

    /// Converts to a serde_json value (the last of duplicate keys wins; check first).
    pub fn to_json(&self) -> Json {
        match self {
            Raw::Null => Json::Null,
            Raw::Bool(b) => Json::Bool(*b),
            Raw::Num(n) => Json::Number(n.clone()),
            Raw::Str(s) => Json::String(s.clone()),
            Raw::Arr(a) => Json::Array(a.iter().map(Raw::to_json).collect()),
            Raw::Obj(o) => Json::Object(o.iter().map(|(k, v)| (k.clone(), v.to_json())).collect()),
        }
    }

    pub fn type_name(&self) -> &'static str {
        match self {
            Raw::Null => "null",
            Raw::Bool(_) => "a boolean",
            Raw::Num(_) => "a number",
            Raw::Str(_) => "a string",
            Raw::Arr(_) => "an array",
            Raw::Obj(_) => "an object",
        }
    }
}

struct RawVisitor;

impl<'de> Visitor<'de> for RawVisitor {
    type Value = Raw;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_unit<E>(self) -> Result<Raw, E> {
        Ok(Raw::Null)
    }
    fn visit_bool<E>(self, v: bool) -> Result<Raw, E> {
        Ok(Raw::Bool(v))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Raw, E> {
        Ok(Raw::Num(v.into()))
    }
    fn visit_u64<E>(self, v: u64) -> Result<Raw, E> {
        Ok(Raw::Num(v.into()))
    }
    fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<Raw, E> {
        serde_json::Number::from_f64(v)
            .map(Raw::Num)
            .ok_or_else(|| E::custom("number is not finite"))
    }
    fn visit_str<E>(self, v: &str) -> Result<Raw, E> {
        Ok(Raw::Str(v.to_string()))
    }
    fn visit_string<E>(self, v: String) -> Result<Raw, E> {
        Ok(Raw::Str(v))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Raw, A::Error> {
        let mut v = Vec::new();
        while let Some(x) = seq.next_element()? {
            v.push(x);
        }
        Ok(Raw::Arr(v))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Raw, A::Error> {
        let mut v = Vec::new();
        while let Some((k, x)) = map.next_entry::<String, Raw>()? {
            v.push((k, x));
        }
        Ok(Raw::Obj(v))
    }
}

impl<'de> Deserialize<'de> for Raw {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Raw, D::Error> {
        d.deserialize_any(RawVisitor)
    }
}
