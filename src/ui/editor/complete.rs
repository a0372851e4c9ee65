//! Completion and hover help for the code pane, from the running catalogue (`PanelState`):
//! after `name.` the neuron's ports with their kinds (inputs left of `<-`, outputs right of it);
//! after `<-` (or `+=`) only outputs whose kind (and image shape) matches the target port; after
//! `:` the type names, then the kinds. Hovering a type name shows its row of the neuron table.

use crate::neurons::{Kinds, PortKind, TYPES, TypeInfo, type_info};
use crate::stream::{Kind, PortRef};
use crate::ui::state::PanelState;

/// One completion: the text that replaces the word before the cursor, and what to show beside it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Item {
    pub insert: String,
    pub detail: String,
}

/// What the word before the cursor is, judged from the line up to the cursor.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Context {
    /// A type name after `name :`.
    Type { prefix: String },
    /// A kind after `name : type`.
    Kind { prefix: String },
    /// A port after `neuron.`; `output` right of the arrow.
    Port {
        neuron: String,
        prefix: String,
        output: bool,
    },
    /// A source term right of the arrow into `target`.
    Source { target: PortRef, prefix: String },
    /// A neuron name at the start of a row.
    Target { prefix: String },
    /// Nothing to offer (inside a comment or a number, after a morph, ...).
    None,
}

/// Characters of a name, `name.port` or number (the word completion replaces).
pub fn is_word_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_' || c == '.'
}

/// The word (name, `name.port` or number) that ends at byte `at` of `line`.
fn word_before(line: &str, at: usize) -> &str {
    let head = &line[..at];
    let start = head
        .char_indices()
        .rev()
        .find(|(_, c)| !is_word_char(*c))
        .map(|(i, c)| i + c.len_utf8())
        .unwrap_or(0);
    &head[start..]
}

fn is_name(s: &str) -> bool {
    let mut cs = s.chars();
    cs.next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && cs.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// The completion context at byte `at` of `line`.
pub fn context(line: &str, at: usize) -> Context {
    let at = at.min(line.len());
    if !line.is_char_boundary(at) {
        return Context::None;
    }
    let head = &line[..at];
    if head.contains('#') || head.contains('~') {
        return Context::None;
    }
    let word = word_before(line, at);
    if word.starts_with(|c: char| c.is_ascii_digit()) {
        return Context::None;
    }
    let arrow = head.find("<-").or_else(|| head.find("+="));
    if let Some(i) = arrow {
        let lhs = head[..i].trim();
        if let Some((n, p)) = word.split_once('.') {
            return Context::Port {
                neuron: n.to_string(),
                prefix: p.to_string(),
                output: true,
            };
        }
        return match PortRef::parse(lhs) {
            Ok(target) => Context::Source {
                target,
                prefix: word.to_string(),
            },
            Err(_) => Context::None,
        };
    }
    if let Some((name, rest)) = head.split_once(':') {
        if !is_name(name.trim()) {
            return Context::None;
        }
        // `name : ty` → types; `name : ty k` → kinds; later words are settings.
        let words: Vec<&str> = rest.split_whitespace().collect();
        let ends_in_space = rest.ends_with(char::is_whitespace) || rest.is_empty();
        let typed = words.len() - usize::from(!ends_in_space && !words.is_empty());
        return match typed {
            0 => Context::Type {
                prefix: word.to_string(),
            },
            1 => Context::Kind {
                prefix: word.to_string(),
            },
            _ => Context::None,
        };
    }
    if head.trim_start() != word {
        return Context::None;
    }
    match word.split_once('.') {
        Some((n, p)) => Context::Port {
            neuron: n.to_string(),
            prefix: p.to_string(),
            output: false,
        },
        None => Context::Target {
            prefix: word.to_string(),
        },
    }
}

/// What to offer in `ctx`, best first; each item's `insert` replaces the word before the cursor.
pub fn items(ctx: &Context, st: &PanelState) -> Vec<Item> {
    match ctx {
        Context::Type { prefix } => TYPES
            .iter()
            .filter(|t| !matches!(t.name, "self" | "edits") && t.name.starts_with(prefix.as_str()))
            .map(|t| Item {
                insert: t.name.to_string(),
                detail: t.doc.to_string(),
            })
            .collect(),
        Context::Kind { prefix } => ["scalar", "audio", "image", "matrix"]
            .iter()
            .filter(|k| k.starts_with(prefix.as_str()))
            .map(|k| Item {
                insert: k.to_string(),
                detail: "kind".into(),
            })
            .collect(),
        Context::Port {
            neuron,
            prefix,
            output,
        } => {
            let Some(n) = st.neurons.iter().find(|n| &n.name == neuron) else {
                return Vec::new();
            };
            let ports = if *output { &n.outputs } else { &n.inputs };
            ports
                .iter()
                .filter(|p| p.port.port.starts_with(prefix.as_str()))
                .filter(|p| *output || !(p.port.neuron == "self" && p.port.port == "accum"))
                .map(|p| Item {
                    insert: p.port.to_string(),
                    detail: p.kind.to_string(),
                })
                .collect()
        }
        Context::Source { target, prefix } => sources(st, target, prefix),
        Context::Target { prefix } => st
            .neurons
            .iter()
            .filter(|n| {
                n.name.starts_with(prefix.as_str())
                    && !n.inputs.is_empty()
                    && !n.name.starts_with('_')
            })
            .map(|n| Item {
                insert: n.name.clone(),
                detail: n.ty.to_string(),
            })
            .collect(),
        Context::None => Vec::new(),
    }
}

/// Outputs that may feed `target` (same kind, same image shape): `neuron` for a neuron's only
/// output, `neuron.port` otherwise.
fn sources(st: &PanelState, target: &PortRef, prefix: &str) -> Vec<Item> {
    let kind: Option<Kind> = st.input_kind(target);
    if kind.is_none() || (target.neuron == "self" && target.port == "accum") {
        return Vec::new();
    }
    let mut out = Vec::new();
    // Implicit constants (`_one...`) are written as bare numbers, never by name.
    for p in st
        .sources_for(target)
        .into_iter()
        .filter(|p| !p.port.neuron.starts_with('_'))
    {
        let single = st
            .neurons
            .iter()
            .find(|n| n.name == p.port.neuron)
            .is_some_and(|n| n.outputs.len() == 1);
        let insert = if single {
            p.port.neuron.clone()
        } else {
            p.port.to_string()
        };
        if insert.starts_with(prefix) || p.port.to_string().starts_with(prefix) {
            out.push(Item {
                insert,
                detail: p.kind.to_string(),
            });
        }
    }
    out
}

fn port_kind(k: &PortKind) -> &'static str {
    match k {
        PortKind::Scalar => "scalar",
        PortKind::Audio => "audio",
        PortKind::Matrix => "matrix",
        PortKind::Any => "any",
        PortKind::Image => "image",
        PortKind::ImageT => "image (cols×rows)",
        PortKind::MatA => "image (rows×inner)",
        PortKind::MatB => "image (inner×cols)",
    }
}

/// A type's row of the neuron table, as hover text.
pub fn type_row(t: &TypeInfo) -> String {
    let ports = |ps: &[(&str, PortKind)]| {
        if ps.is_empty() {
            "none".to_string()
        } else {
            ps.iter()
                .map(|(n, k)| format!("{n} {}", port_kind(k)))
                .collect::<Vec<_>>()
                .join(", ")
        }
    };
    let kinds = match t.kinds {
        Kinds::None => "fixed",
        Kinds::Dense => "scalar, audio, image",
        Kinds::All => "scalar, audio, image, matrix",
    };
    let mut s = format!(
        "{}: {}\ninputs: {}\noutputs: {}\nkind: {kinds}",
        t.name,
        t.doc,
        ports(t.inputs),
        ports(t.outputs)
    );
    if !t.settings.is_empty() {
        s.push_str(&format!("\nsettings: {}", t.settings.join(", ")));
    }
    s
}

/// The hover text for the word at byte `at` of `line`: a type name right of `name :`.
pub fn hover(line: &str, at: usize) -> Option<String> {
    let code = line.split('#').next().unwrap_or("");
    if code.contains("<-") || code.contains("+=") {
        return None;
    }
    let (name, rest) = code.split_once(':')?;
    if !is_name(name.trim()) || at < name.len() + 1 || at > code.len() {
        return None;
    }
    let start = name.len() + 1;
    let ty = rest.split_whitespace().next()?;
    let ty_at = start + rest.find(ty)?;
    (ty_at..=ty_at + ty.len())
        .contains(&at)
        .then(|| type_info(ty).map(type_row))
        .flatten()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn contexts() {
        let c = |l: &str| context(l, l.len());
        assert_eq!(c("osc : s"), Context::Type { prefix: "s".into() });
        assert_eq!(c("osc :"), Context::Type { prefix: "".into() });
        assert_eq!(c("osc : sin a"), Context::Kind { prefix: "a".into() });
        assert_eq!(c("osc : sin audio ro"), Context::None);
        assert_eq!(
            c("osc.x <- 0.5 ph"),
            Context::Source {
                target: PortRef::new("osc", "x"),
                prefix: "ph".into()
            }
        );
        assert_eq!(
            c("osc.x += ph."),
            Context::Port {
                neuron: "ph".into(),
                prefix: "".into(),
                output: true
            }
        );
        assert_eq!(
            c("  osc.f"),
            Context::Port {
                neuron: "osc".into(),
                prefix: "f".into(),
                output: false
            }
        );
        assert_eq!(
            c("os"),
            Context::Target {
                prefix: "os".into()
            }
        );
        assert_eq!(c("osc.x <- 0.5"), Context::None, "a number");
        assert_eq!(c("osc.x <- a # ph"), Context::None, "a comment");
        assert_eq!(c("osc.x <- a ~2"), Context::None, "a morph");
    }

    #[test]
    fn hover_finds_the_type() {
        let l = "osc : sin audio   # sine";
        assert!(hover(l, 7).is_some_and(|h| h.starts_with("sin: out = sin(a")));
        assert_eq!(hover(l, 1), None, "the name is not a type");
        assert_eq!(hover(l, 13), None, "the kind is not a type");
        assert_eq!(hover("a.x <- sin", 8), None);
    }
}
