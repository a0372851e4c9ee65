//! The history in the recovery file: every entry (time, description, the part of the program
//! it changed before and after) and the head, so that after a crash the restored program can
//! still be undone and redone step by step.
//!
//! ```json
//! {"head": 1, "entries": [{"time": "12:00:01", "what": "x.in <- 0.25 k.out",
//!   "before": {"neurons": {}, "weights": [["x.in", "k.out", 1.0]]},
//!   "after":  {"neurons": {}, "weights": [["x.in", "k.out", 0.25]]}}]}
//! ```
//! A neuron that was absent on one side is `null` there.

use super::history::{Entry, History, MAX_HISTORY};
use super::program::{Change, Part};
use crate::neurons::NeuronSpec;
use crate::stream::wmatrix::PortRef;
use serde_json::{Map, Value as Json, json};

/// The history as JSON (`history_from_json` reads it back).
pub fn history_json(h: &History) -> Json {
    let entries: Vec<Json> = h
        .entries()
        .iter()
        .map(|e| {
            json!({
                "time": e.time,
                "what": e.what,
                "before": part_json(&e.change.before),
                "after": part_json(&e.change.after),
            })
        })
        .collect();
    json!({ "head": h.head(), "entries": entries })
}

fn part_json(p: &Part) -> Json {
    let neurons: Map<String, Json> = p
        .neurons
        .iter()
        .map(|(n, s)| (n.clone(), serde_json::to_value(s).unwrap_or(Json::Null)))
        .collect();
    let weights: Vec<Json> = p
        .weights
        .iter()
        .map(|((t, s), w)| json!([t.to_string(), s.to_string(), w]))
        .collect();
    json!({ "neurons": neurons, "weights": weights })
}

/// Reads `history_json`'s form; an error says which entry and what was expected.
pub fn history_from_json(v: &Json) -> Result<History, String> {
    let entries = v
        .get("entries")
        .and_then(Json::as_array)
        .ok_or("expected \"entries\": [...]")?;
    if entries.len() > MAX_HISTORY {
        return Err(format!(
            "{} entries, expected at most {MAX_HISTORY}",
            entries.len()
        ));
    }
    let head = v
        .get("head")
        .and_then(Json::as_u64)
        .ok_or("expected \"head\": a whole number")?;
    let head = usize::try_from(head)
        .ok()
        .filter(|h| *h <= entries.len())
        .ok_or_else(|| format!("head {head} is past the {} entries", entries.len()))?;
    let entries = entries
        .iter()
        .enumerate()
        .map(|(i, e)| entry(e).map_err(|why| format!("entry {}: {why}", i + 1)))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(History::restored(entries, head))
}

fn entry(e: &Json) -> Result<Entry, String> {
    let text = |k: &str| {
        e.get(k)
            .and_then(Json::as_str)
            .map(str::to_string)
            .ok_or_else(|| format!("expected \"{k}\": a string"))
    };
    let side = |k: &str| {
        e.get(k)
            .ok_or_else(|| format!("expected \"{k}\""))
            .and_then(part)
            .map_err(|why| format!("{k}: {why}"))
    };
    Ok(Entry {
        uid: 0,
        time: text("time")?,
        what: text("what")?,
        change: Change {
            before: side("before")?,
            after: side("after")?,
        },
    })
}

fn part(v: &Json) -> Result<Part, String> {
    let mut p = Part::default();
    let neurons = v
        .get("neurons")
        .and_then(Json::as_object)
        .ok_or("expected \"neurons\": {...}")?;
    for (name, spec) in neurons {
        let spec = match spec {
            Json::Null => None,
            s => Some(
                serde_json::from_value::<NeuronSpec>(s.clone())
                    .map_err(|e| format!("neuron {name}: {e}"))?,
            ),
        };
        p.neurons.insert(name.clone(), spec);
    }
    let weights = v
        .get("weights")
        .and_then(Json::as_array)
        .ok_or("expected \"weights\": [[target, source, weight], ...]")?;
    for w in weights {
        let bad = || format!("weight {w}: expected [\"neuron.port\", \"neuron.port\", number]");
        let [t, s, x] = w.as_array().map(Vec::as_slice).ok_or_else(bad)? else {
            return Err(bad());
        };
        let port = |j: &Json| {
            j.as_str()
                .ok_or_else(bad)
                .and_then(|s| PortRef::parse(s).map_err(|e| format!("weight {w}: {e}")))
        };
        let x = x.as_f64().filter(|x| x.is_finite()).ok_or_else(bad)?;
        p.weights.insert((port(t)?, port(s)?), x);
    }
    Ok(p)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_history_reads_back_as_it_was_written() {
        let spec: NeuronSpec =
            serde_json::from_value(json!({"type": "sin", "kind": "audio"})).expect("a spec");
        let mut before = Part::default();
        before.neurons.insert("lfo".into(), None);
        let mut after = before.clone();
        after.neurons.insert("lfo".into(), Some(spec));
        let k = (
            PortRef::parse("lfo.x").expect("port"),
            PortRef::parse("k.out").expect("port"),
        );
        before.weights.insert(k.clone(), 0.0);
        after.weights.insert(k, -0.1 + 0.2);
        let e = Entry {
            uid: 7,
            time: "01:02:03".into(),
            what: "add neuron lfo (sin)".into(),
            change: Change { before, after },
        };
        let h = History::restored(vec![e.clone(), e], 1);
        let j = history_json(&h);
        let back = history_from_json(&j).expect("reads back");
        assert_eq!(back.head(), 1);
        assert_eq!(back.entries()[1].change, h.entries()[1].change);
        assert_eq!(history_json(&back), j);
    }

    #[test]
    fn bad_history_says_where() {
        let e = history_from_json(&json!({"head": 3, "entries": []})).unwrap_err();
        assert!(e.contains("head 3 is past the 0 entries"), "{e}");
        let v = json!({"head": 0, "entries": [{"time": "t", "what": "w",
            "before": {"neurons": {}, "weights": [["x.in", "k.out", "NaN"]]},
            "after": {"neurons": {}, "weights": []}}]});
        let e = history_from_json(&v).unwrap_err();
        assert!(e.starts_with("entry 1: before: weight"), "{e}");
        let v = json!({"head": 0, "entries": [{"time": "t", "what": "w",
            "before": {"neurons": {}, "weights": [["x", "k.out", 1.0]]},
            "after": {"neurons": {}, "weights": []}}]});
        assert!(history_from_json(&v).is_err());
    }
}
