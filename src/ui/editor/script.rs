//! Scripted typing (`--type FILE`): what a performer types into the code pane, at engine ticks,
//! fed to egui as real input events (text and key presses), so a test drives the whole chain the
//! keyboard drives. One JSON object per line:
//!
//! ```text
//! {"tick": 100, "text": "show.in <- 0.4 xy.x"}
//! {"tick": 100, "key": "ctrl+enter"}
//! ```
//! Keys are egui key names (`enter`, `tab`, `escape`, `a`, `f11`, `end`, ...) with any of the
//! modifiers `ctrl`, `shift`, `alt` joined by `+`. Blank lines and lines starting with `//` are
//! skipped.

use egui::{Event, Key, Modifiers};
use serde::Deserialize;

/// One scripted input.
#[derive(Clone, Debug, PartialEq)]
pub enum Input {
    Text(String),
    Key { key: Key, modifiers: Modifiers },
}

#[derive(Clone, Debug, PartialEq)]
pub struct TimedInput {
    pub tick: u64,
    pub input: Input,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Line {
    tick: u64,
    #[serde(default)]
    text: Option<String>,
    #[serde(default)]
    key: Option<String>,
}

/// Parses `ctrl+shift+enter`.
pub fn parse_key(s: &str) -> Result<(Key, Modifiers), String> {
    let mut modifiers = Modifiers::NONE;
    let parts: Vec<&str> = s.split('+').map(str::trim).collect();
    let (last, mods) = parts
        .split_last()
        .ok_or_else(|| format!("empty key {s:?}"))?;
    for m in mods {
        match m.to_ascii_lowercase().as_str() {
            // Ctrl as Linux and Windows send it: egui's Ctrl+Home/End look at `ctrl`, its
            // shortcuts at `command`.
            "ctrl" => modifiers |= Modifiers::CTRL | Modifiers::COMMAND,
            "cmd" | "command" => modifiers |= Modifiers::COMMAND,
            "shift" => modifiers |= Modifiers::SHIFT,
            "alt" => modifiers |= Modifiers::ALT,
            other => {
                return Err(format!(
                    "unknown modifier {other:?} in {s:?} (expected ctrl, shift or alt)"
                ));
            }
        }
    }
    let mut name = last.to_string();
    if let Some(first) = name.get(..1) {
        name = first.to_ascii_uppercase() + &name[1..];
    }
    let key = Key::from_name(&name)
        .or_else(|| Key::from_name(last))
        .ok_or_else(|| {
            format!("unknown key {last:?} in {s:?} (expected a name such as enter, tab, a, f11)")
        })?;
    Ok((key, modifiers))
}

/// Parses a `--type` file; errors give the line and what was expected.
pub fn parse_script(text: &str) -> Result<Vec<TimedInput>, String> {
    let mut out = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        let l = raw.trim();
        if l.is_empty() || l.starts_with("//") {
            continue;
        }
        let at = |m: String| format!("line {}: {m}", i + 1);
        let line: Line = serde_json::from_str(l).map_err(|e| {
            at(format!(
                "{e} (expected {{\"tick\": N, \"text\": \"...\"}} or {{\"tick\": N, \"key\": \"ctrl+enter\"}})"
            ))
        })?;
        let input = match (line.text, line.key) {
            (Some(t), None) => Input::Text(t),
            (None, Some(k)) => {
                let (key, modifiers) = parse_key(&k).map_err(at)?;
                Input::Key { key, modifiers }
            }
            _ => return Err(at("expected exactly one of \"text\" and \"key\"".into())),
        };
        out.push(TimedInput {
            tick: line.tick,
            input,
        });
    }
    // Stable: inputs of one tick keep their order.
    out.sort_by_key(|t| t.tick);
    Ok(out)
}

/// The egui events one input makes (a key is pressed and released).
pub fn events(input: &Input) -> Vec<Event> {
    match input {
        Input::Text(t) => vec![Event::Text(t.clone())],
        Input::Key { key, modifiers } => [true, false]
            .iter()
            .map(|&pressed| Event::Key {
                key: *key,
                physical_key: None,
                pressed,
                repeat: false,
                modifiers: *modifiers,
            })
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_and_lines_parse() {
        assert_eq!(
            parse_key("ctrl+shift+enter"),
            Ok((
                Key::Enter,
                Modifiers::CTRL | Modifiers::COMMAND | Modifiers::SHIFT
            ))
        );
        assert_eq!(parse_key("alt+Enter"), Ok((Key::Enter, Modifiers::ALT)));
        assert_eq!(parse_key("e"), Ok((Key::E, Modifiers::NONE)));
        assert!(parse_key("hyper+x").is_err());
        assert!(parse_key("ctrl+nokey").is_err());
        let s = parse_script(
            "// a comment\n{\"tick\": 5, \"key\": \"ctrl+enter\"}\n\n{\"tick\": 2, \"text\": \"a.x <- 1\"}\n",
        )
        .expect("script");
        assert_eq!(s.len(), 2);
        assert_eq!(s[0].input, Input::Text("a.x <- 1".into()));
        assert_eq!(events(&s[1].input).len(), 2);
    }

    #[test]
    fn bad_lines_say_where_and_what() {
        let e = parse_script("{\"tick\": 1}\n").expect_err("neither");
        assert!(e.starts_with("line 1:") && e.contains("exactly one"), "{e}");
        let e = parse_script("\n{\"tick\": 1, \"key\": \"ctrl+\"}").expect_err("bad key");
        assert!(e.starts_with("line 2:"), "{e}");
        let e = parse_script("nope").expect_err("not json");
        assert!(e.contains("expected {\"tick\""), "{e}");
    }
}
