//! Keeping the text and the network in agreement (issue 9): a panel edit rewrites the rows it
//! touched (the caller prints each row with `print_row` from the W the edit leads to); weights
//! the network moves by itself are never written. Also finds neuron declaration lines, whose
//! live scalar values the pane shows dimmed at the line's end.

use crate::engine::Edit;
use crate::stream::{PortRef, WMatrix};
use crate::ui::state::PanelState;

/// The buffer's lines without the empty one a trailing newline makes, and whether it had one.
fn lines(buffer: &str) -> (Vec<&str>, bool) {
    let body = buffer.strip_suffix('\n');
    (body.unwrap_or(buffer).split('\n').collect(), body.is_some())
}

/// A line's code, without its trailing `# comment`.
fn code(line: &str) -> &str {
    line.split('#').next().unwrap_or("")
}

/// The trailing `# comment` of a line (with its leading spaces), or "".
fn comment(line: &str) -> &str {
    match line.find('#') {
        Some(i) => {
            let start = line[..i].trim_end().len();
            &line[start..]
        }
        None => "",
    }
}

/// The target of a row line (`target.port <- ...` or `target.port += ...`).
pub fn row_target(line: &str) -> Option<PortRef> {
    let c = code(line);
    let i = c.find("<-").or_else(|| c.find("+="))?;
    PortRef::parse(c[..i].trim()).ok()
}

/// The neuron a declaration line (`name : type ...`) declares.
pub fn decl_name(line: &str) -> Option<&str> {
    let c = code(line);
    if c.contains("<-") || c.contains("+=") {
        return None;
    }
    let (name, _) = c.split_once(':')?;
    let name = name.trim();
    let ok = name
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    ok.then_some(name)
}

/// The buffer with `target`'s row stated by `row` (a line of the language, as `print_row` gives
/// it): the first line of that row is replaced (keeping its indentation and comment), later `+=`
/// lines for it go (the row is stated whole); with no such line, `row` is appended. `None` (the
/// row is now empty) removes the row's lines.
pub fn rewrite_row(buffer: &str, target: &PortRef, row: Option<&str>) -> String {
    let mut out: Vec<String> = Vec::new();
    let mut done = false;
    let (all, newline) = lines(buffer);
    for l in all {
        if row_target(l).as_ref() != Some(target) {
            out.push(l.to_string());
            continue;
        }
        if let (Some(r), false) = (row, done) {
            let indent = &l[..l.len() - l.trim_start().len()];
            out.push(format!("{indent}{}{}", r.trim(), comment(l)));
        }
        done = true;
    }
    if !done && let Some(r) = row {
        if out.last().is_some_and(|l| l.is_empty()) && out.len() == 1 {
            out.clear();
        }
        out.push(r.trim().to_string());
    }
    let mut s = out.join("\n");
    if newline || !done {
        s.push('\n');
    }
    s
}

/// The buffer with declaration `decl` after its last declaration line (at the end if none).
pub fn insert_decl(buffer: &str, decl: &str) -> String {
    let (mut all, newline) = lines(buffer);
    let at = all
        .iter()
        .rposition(|l| decl_name(l).is_some())
        .map(|i| i + 1)
        .unwrap_or(all.len());
    if all == [""] {
        all.clear();
    }
    all.insert(at.min(all.len()), decl.trim());
    let mut s = all.join("\n");
    if newline || at >= all.len() - 1 {
        s.push('\n');
    }
    s
}

/// The buffer without the declaration of `name` and without the rows into its ports.
pub fn remove_neuron(buffer: &str, name: &str) -> String {
    let (all, newline) = lines(buffer);
    let kept: Vec<&str> = all
        .into_iter()
        .filter(|l| decl_name(l) != Some(name) && row_target(l).is_none_or(|t| t.neuron != name))
        .collect();
    let mut s = kept.join("\n");
    if newline {
        s.push('\n');
    }
    s
}

/// W once `edit` has fully landed (morphs finished), from `w` now: what the rows will say.
pub fn w_after(w: &WMatrix, edit: &Edit) -> WMatrix {
    let mut w = w.clone();
    apply(&mut w, edit);
    w
}

fn apply(w: &mut WMatrix, edit: &Edit) {
    match edit {
        Edit::Add {
            target,
            source,
            weight,
            ..
        } => w.add_entry(target, source, *weight),
        Edit::Set {
            target,
            source,
            weight,
            ..
        } => {
            let now = w.get(target, source);
            w.add_entry(target, source, weight - now);
        }
        Edit::Remove { target, source } => {
            let now = w.get(target, source);
            w.add_entry(target, source, -now);
        }
        Edit::Delta { weights, .. } => w.add_scaled(weights, 1.0),
        Edit::AddNeuron { weights, .. } => w.add_scaled(weights, 1.0),
        Edit::RemoveNeuron { name, .. } => {
            w.take_neuron(name);
        }
        Edit::Batch { edits } => {
            for e in edits {
                apply(w, e);
            }
        }
    }
}

/// The rows an edit changes, in order, each once.
pub fn touched_rows(edit: &Edit, w_before: &WMatrix) -> Vec<PortRef> {
    let mut out: Vec<PortRef> = Vec::new();
    let mut push = |t: &PortRef| {
        if !out.contains(t) {
            out.push(t.clone());
        }
    };
    match edit {
        Edit::Add { target, .. } | Edit::Set { target, .. } | Edit::Remove { target, .. } => {
            push(target)
        }
        Edit::Delta { weights, .. } | Edit::AddNeuron { weights, .. } => {
            for (t, _) in weights.rows() {
                push(t);
            }
        }
        Edit::RemoveNeuron { name, .. } => {
            // Rows that lose a source from it (its own rows go with its declaration).
            for (t, s, _) in w_before.entries() {
                if s.neuron == *name && t.neuron != *name {
                    push(t);
                }
            }
        }
        Edit::Batch { edits } => {
            for e in edits {
                for t in touched_rows(e, w_before) {
                    push(&t);
                }
            }
        }
    }
    out
}

/// The live scalar values of `name`'s outputs, as the pane shows them (`0.123`, or
/// `ticks 120  seconds 0.32` for several); None when it has no scalar output.
pub fn live_values(st: &PanelState, name: &str) -> Option<String> {
    let n = st.neurons.iter().find(|n| n.name == name)?;
    let vals: Vec<(String, f32)> = n
        .outputs
        .iter()
        .filter_map(|p| {
            st.scalars
                .get(&p.port.to_string())
                .map(|v| (p.port.port.clone(), *v))
        })
        .collect();
    match vals.as_slice() {
        [] => None,
        [(_, v)] => Some(fmt_value(*v)),
        many => Some(
            many.iter()
                .map(|(p, v)| format!("{p} {}", fmt_value(*v)))
                .collect::<Vec<_>>()
                .join("  "),
        ),
    }
}

fn fmt_value(v: f32) -> String {
    if !v.is_finite() {
        "nan".into()
    } else if v != 0.0 && (v.abs() >= 1e5 || v.abs() < 1e-3) {
        format!("{v:.2e}")
    } else {
        format!("{v:.3}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> PortRef {
        PortRef::parse(s).expect("port")
    }

    const B: &str =
        "osc : sin audio  # tone\nosc.x <- ph  # phase\nosc.x += 0.5 lfo\nout.left <- 0.3 osc\n";

    #[test]
    fn a_row_is_replaced_in_place_keeping_its_comment() {
        let b = rewrite_row(B, &p("osc.x"), Some("osc.x <- 2 ph"));
        assert_eq!(
            b,
            "osc : sin audio  # tone\nosc.x <- 2 ph  # phase\nout.left <- 0.3 osc\n"
        );
    }

    #[test]
    fn a_new_row_is_appended_and_an_empty_one_removed() {
        let b = rewrite_row(B, &p("out.right"), Some("out.right <- 0.3 osc"));
        assert!(
            b.ends_with("out.left <- 0.3 osc\nout.right <- 0.3 osc\n"),
            "{b}"
        );
        let b = rewrite_row(B, &p("osc.x"), None);
        assert_eq!(b, "osc : sin audio  # tone\nout.left <- 0.3 osc\n");
        assert_eq!(rewrite_row("", &p("a.x"), Some("a.x <- b")), "a.x <- b\n");
    }

    #[test]
    fn declarations_and_rows_are_told_apart() {
        assert_eq!(decl_name("  osc : sin audio # a: b"), Some("osc"));
        assert_eq!(decl_name("osc.x <- a # x : y"), None);
        assert_eq!(decl_name("# a : b"), None);
        assert_eq!(row_target("osc.x += 1"), Some(p("osc.x")));
        assert_eq!(row_target("# osc.x <- 1"), None);
        let b = remove_neuron(B, "osc");
        assert_eq!(b, "out.left <- 0.3 osc\n");
    }

    #[test]
    fn a_declaration_goes_after_the_others() {
        let b = insert_decl(B, "lfo : sin");
        assert_eq!(
            b,
            "osc : sin audio  # tone\nlfo : sin\nosc.x <- ph  # phase\nosc.x += 0.5 lfo\nout.left <- 0.3 osc\n"
        );
        assert_eq!(insert_decl("", "a : sin"), "a : sin\n");
        assert_eq!(insert_decl("x.a <- 1", "a : sin"), "x.a <- 1\na : sin\n");
    }

    #[test]
    fn live_values_of_scalar_outputs() {
        use crate::stream::Kind;
        use crate::ui::state::{NeuronInfo, PortInfo};
        let out = |n: &str, port: &str, kind| PortInfo {
            port: p(&format!("{n}.{port}")),
            kind,
        };
        let mut st = PanelState::default();
        for (name, outs) in [
            ("lfo", vec![out("lfo", "out", Kind::Scalar)]),
            (
                "t",
                vec![
                    out("t", "ticks", Kind::Scalar),
                    out("t", "seconds", Kind::Scalar),
                ],
            ),
            ("osc", vec![out("osc", "out", Kind::Audio)]),
        ] {
            st.neurons.push(NeuronInfo {
                name: name.into(),
                ty: "sin",
                inputs: Vec::new(),
                outputs: outs,
                core: false,
                is_display: false,
            });
        }
        st.scalars.insert("lfo.out".into(), 0.25);
        st.scalars.insert("t.ticks".into(), 120.0);
        st.scalars.insert("t.seconds".into(), 0.32);
        assert_eq!(live_values(&st, "lfo").as_deref(), Some("0.250"));
        assert_eq!(
            live_values(&st, "t").as_deref(),
            Some("ticks 120.000  seconds 0.320")
        );
        assert_eq!(live_values(&st, "osc"), None, "no scalar output");
        assert_eq!(live_values(&st, "nobody"), None);
    }

    #[test]
    fn the_w_an_edit_leads_to() {
        let mut w = WMatrix::new();
        w.add_entry(&p("a.x"), &p("b.out"), 1.0);
        let e = Edit::Batch {
            edits: vec![
                Edit::set("a.x", "b.out", 0.25).expect("edit"),
                Edit::add("c.y", "b.out", 2.0).expect("edit"),
            ],
        };
        let w2 = w_after(&w, &e);
        assert_eq!(w2.get(&p("a.x"), &p("b.out")), 0.25);
        assert_eq!(w2.get(&p("c.y"), &p("b.out")), 2.0);
        assert_eq!(touched_rows(&e, &w), vec![p("a.x"), p("c.y")]);
        let rm = Edit::RemoveNeuron {
            name: "b".into(),
            morph: 0.0,
        };
        assert!(w_after(&w2, &rm).is_empty());
        assert_eq!(touched_rows(&rm, &w2), vec![p("a.x"), p("c.y")]);
    }
}
