//! Patch → text. Canonical: printing what was parsed from a print gives the same text.

use super::TIME;
use super::layout::Item;
use super::lex::{is_plain_name, quote};
use super::resolve::{default_output, one_name, one_order, one_spec};
use crate::neurons::network::{EDITS, SELF};
use crate::neurons::{Network, NeuronSpec, type_info};
use crate::patch::Patch;
use crate::stream::{Kind, PortRef, Settings, WMatrix};
use serde_json::Value as Json;
use std::collections::{BTreeMap, HashMap, HashSet};

/// A number as the language writes it: the shortest text that reads back to the same f64
/// (`tau` and `pi` by name, an exponent only for very small or large values).
pub fn format_number(x: f64) -> String {
    use std::f64::consts::{PI, TAU};
    for (v, name) in [(TAU, "tau"), (PI, "pi"), (-TAU, "-tau"), (-PI, "-pi")] {
        if x == v {
            return name.into();
        }
    }
    if x == 0.0 {
        return "0".into();
    }
    // Whole multiples of π read better as `10 pi` (only when that reads back exactly).
    let k = (x / PI).round();
    if k.abs() >= 2.0 && k.abs() <= 1000.0 && PI * k == x {
        return format!("{k} pi");
    }
    let a = x.abs();
    if (1e-5..1e16).contains(&a) {
        format!("{x}")
    } else {
        format!("{x:e}")
    }
}

/// The kind of an implicit constant from its name (`_one`, `_one_audio`, `_one_64x32`).
fn one_kind(name: &str) -> Option<Kind> {
    match name {
        "_one" => Some(Kind::Scalar),
        "_one_audio" => Some(Kind::Audio),
        _ => {
            let (r, c) = name.strip_prefix("_one_")?.split_once('x')?;
            Some(Kind::Image {
                rows: r.parse().ok()?,
                cols: c.parse().ok()?,
            })
        }
    }
}

/// Order of implicit neurons at the end of a parsed patch: `t`, then constants by kind.
fn implicit_key(name: &str, spec: &NeuronSpec, settings: &Settings) -> Option<(u8, usize, usize)> {
    if name == TIME && *spec == NeuronSpec::new("time") {
        return Some((0, 0, 0));
    }
    let kind = one_kind(name)?;
    if one_name(kind).as_deref() != Some(name) || *spec != one_spec(kind, settings) {
        return None;
    }
    Some(one_order(kind))
}

/// How to write sources: which neurons are implicit (constants become numbers, `t` needs no
/// declaration) and the order of terms in a row.
struct Ctx<'a> {
    net: &'a Network,
    implicit: HashSet<String>,
    order: HashMap<&'a str, usize>,
}

impl<'a> Ctx<'a> {
    fn is_const(&self, p: &PortRef) -> bool {
        self.implicit.contains(&p.neuron) && p.neuron != TIME
    }

    fn source(&self, p: &PortRef) -> String {
        let n = name(&p.neuron);
        let default = self
            .net
            .find(&p.neuron)
            .and_then(|(_, d)| default_output(d.info));
        if default == Some(p.port.as_str()) {
            n
        } else {
            format!("{n}.{}", p.port)
        }
    }

    /// The right-hand side of a row: the constant first, then sources in neuron order.
    fn rhs(&self, row: &BTreeMap<PortRef, f64>) -> String {
        let mut constant = 0.0;
        let mut terms: Vec<(&PortRef, f64)> = Vec::new();
        for (s, &w) in row {
            if s.neuron == EDITS {
                continue; // the core weight self.delta <- edits is not written
            }
            if self.is_const(s) {
                constant += w;
            } else {
                terms.push((s, w));
            }
        }
        terms.sort_by_key(|(s, _)| {
            let port = self
                .net
                .find(&s.neuron)
                .and_then(|(_, d)| d.output(&s.port))
                .map_or(0, |(i, _)| i);
            (
                self.order
                    .get(s.neuron.as_str())
                    .copied()
                    .unwrap_or(usize::MAX),
                port,
            )
        });
        let mut out = String::new();
        if constant != 0.0 {
            out.push_str(&format_number(constant));
        }
        for (s, w) in terms {
            let src = self.source(s);
            let first = out.is_empty();
            let (sign, a) = if w < 0.0 { ("-", -w) } else { ("+", w) };
            if first {
                if sign == "-" {
                    out.push('-');
                }
            } else {
                out.push_str(&format!(" {sign} "));
            }
            if a != 1.0 {
                out.push_str(&format_number(a));
                out.push(' ');
            }
            out.push_str(&src);
        }
        out
    }
}

fn name(n: &str) -> String {
    if is_plain_name(n) {
        n.to_string()
    } else {
        format!("`{n}`")
    }
}

fn ctx_for_net(net: &Network) -> Ctx<'_> {
    let implicit = net
        .neurons
        .iter()
        .filter(|n| implicit_key(&n.name, &n.spec, &net.settings).is_some())
        .map(|n| n.name.clone())
        .collect();
    let order = net
        .neurons
        .iter()
        .enumerate()
        .map(|(i, n)| (n.name.as_str(), i))
        .collect();
    Ctx {
        net,
        implicit,
        order,
    }
}

/// One row of W as the language's line (`target.port <- 0.3 osc + 440`): implicit constants
/// as numbers, the core weights left out. Used by the editor to rewrite a row after a panel edit.
pub fn print_row(net: &Network, w: &WMatrix, target: &PortRef) -> String {
    let ctx = ctx_for_net(net);
    let empty = BTreeMap::new();
    let mut row = w.row(target).unwrap_or(&empty).clone();
    if target.neuron == SELF && target.port == "accum" {
        row.remove(&PortRef::new(SELF, "out"));
    }
    row_line(&ctx, target, &row)
}

fn row_line(ctx: &Ctx, target: &PortRef, row: &BTreeMap<PortRef, f64>) -> String {
    let rhs = ctx.rhs(row);
    let t = format!("{}.{}", name(&target.neuron), target.port);
    if rhs.is_empty() {
        format!("{t} <-")
    } else {
        format!("{t} <- {rhs}")
    }
}

/// A line before alignment.
enum Line {
    Raw(String),
    /// Left part (name or target), the rest, a trailing comment.
    Decl(String, String, Option<String>),
    Row(String, String, Option<String>),
}

/// The patch in the text language. With a layout (a patch read from text, or JSON carrying
/// `"layout"`), lines come in its order; everything it does not mention follows.
pub fn print_text(p: &Patch) -> String {
    let ctx = ctx_for_patch(p);
    let mut lines: Vec<Line> = Vec::new();
    if let Some(c) = &p.comment {
        for l in c.split('\n') {
            lines.push(Line::Raw(comment_line(l)));
        }
    }
    let default_layout;
    let items = if p.layout.is_empty() {
        default_layout = default_items(p, &ctx);
        &default_layout
    } else {
        &p.layout.items
    };
    let has_settings = items.contains(&Item::Settings);
    if !has_settings {
        lines.push(Line::Raw(settings_line(&p.settings)));
    } else if p.comment.is_none() && matches!(items.first(), Some(Item::Comment(_))) {
        lines.push(Line::Raw(String::new())); // or the comment would become the patch comment
    }
    let (done_n, done_r) = placed(p, &ctx, items, &mut lines);
    let [rest, rows_rest, maps] = unplaced(p, &ctx, &done_n, &done_r);
    for block in [rest, rows_rest, maps] {
        if block.is_empty() {
            continue;
        }
        if !matches!(lines.last(), Some(Line::Raw(s)) if s.is_empty()) && !lines.is_empty() {
            lines.push(Line::Raw(String::new()));
        }
        lines.extend(block);
    }
    render(lines)
}

/// The lines of the items of the layout, in its order; returns the neurons and rows written.
fn placed<'p>(
    p: &'p Patch,
    ctx: &Ctx,
    items: &'p [Item],
    lines: &mut Vec<Line>,
) -> (HashSet<&'p str>, HashSet<&'p PortRef>) {
    let specs: HashMap<&str, &NeuronSpec> =
        p.neurons.iter().map(|(n, s)| (n.as_str(), s)).collect();
    let mut done_n: HashSet<&str> = HashSet::new();
    let mut done_r: HashSet<&PortRef> = HashSet::new();
    let mut settings_done = false;
    for it in items {
        match it {
            Item::Blank => lines.push(Line::Raw(String::new())),
            Item::Comment(c) => lines.push(Line::Raw(comment_line(c))),
            Item::Settings if !settings_done => {
                settings_done = true;
                lines.push(Line::Raw(settings_line(&p.settings)));
            }
            Item::Settings => {}
            Item::Neuron(n) => {
                if let Some((key, spec)) = specs.get_key_value(n.as_str())
                    && !ctx.implicit.contains(*key)
                    && done_n.insert(key)
                {
                    lines.push(decl_line(ctx, key, spec));
                }
            }
            Item::Row {
                target,
                comment,
                morph,
            } => {
                if let Some(row) = p.weights.row(target)
                    && done_r.insert(target)
                {
                    lines.push(row_of(ctx, target, row, *morph, comment.clone()));
                }
            }
        }
    }
    (done_n, done_r)
}

/// What the layout does not mention: declarations, rows, then the mappings (which the layout
/// does not place).
fn unplaced(
    p: &Patch,
    ctx: &Ctx,
    done_n: &HashSet<&str>,
    done_r: &HashSet<&PortRef>,
) -> [Vec<Line>; 3] {
    // What the layout does not mention.
    let mut rest = Vec::new();
    for (n, spec) in &p.neurons {
        if !ctx.implicit.contains(n) && !done_n.contains(n.as_str()) {
            rest.push(decl_line(ctx, n, spec));
        }
    }
    let mut rows_rest = Vec::new();
    for (t, row) in sorted_rows(p, ctx) {
        if !done_r.contains(t) {
            rows_rest.push(row_of(ctx, t, row, None, None));
        }
    }
    // Mappings last, in their order (the layout does not place them).
    let maps: Vec<Line> = p
        .mappings
        .iter()
        .map(|m| Line::Raw(format!("map {m}")))
        .chain(p.perform_maps.iter().map(|m| Line::Raw(format!("map {m}"))))
        .collect();
    [rest, rows_rest, maps]
}

fn comment_line(c: &str) -> String {
    if c.is_empty() {
        "#".into()
    } else {
        format!("# {c}")
    }
}

fn row_of(
    ctx: &Ctx,
    t: &PortRef,
    row: &BTreeMap<PortRef, f64>,
    morph: Option<f64>,
    comment: Option<String>,
) -> Line {
    let line = row_line(ctx, t, row);
    let (left, right) = line.split_once(" <-").unwrap_or((&line, ""));
    let mut rest = format!("<-{right}");
    if let Some(m) = morph {
        rest.push_str(&format!(" ~{}s", format_number(m)));
    }
    Line::Row(left.to_string(), rest, comment)
}

fn ctx_for_patch(p: &Patch) -> Ctx<'_> {
    let mut used: HashSet<&str> = p
        .weights
        .entries()
        .map(|(_, s, _)| s.neuron.as_str())
        .collect();
    let inits: Vec<WMatrix> = p
        .neurons
        .iter()
        .filter_map(|(_, s)| s.settings.get("init"))
        .filter(|v| v.is_object())
        .filter_map(|v| serde_json::from_value::<WMatrix>(v.clone()).ok())
        .collect();
    for m in &inits {
        used.extend(m.entries().map(|(_, s, _)| s.neuron.as_str()));
    }
    // Implicit neurons are the tail of the list in canonical order, each one used.
    let mut implicit = HashSet::new();
    let mut last: Option<(u8, usize, usize)> = None;
    for (n, spec) in p.neurons.iter().rev() {
        match implicit_key(n, spec, &p.settings) {
            Some(k) if used.contains(n.as_str()) && last.is_none_or(|l| k < l) => {
                implicit.insert(n.clone());
                last = Some(k);
            }
            _ => break,
        }
    }
    let mut order: HashMap<&str, usize> = p
        .neurons
        .iter()
        .enumerate()
        .map(|(i, (n, _))| (n.as_str(), i))
        .collect();
    order.insert(SELF, p.neurons.len());
    Ctx {
        net: &p.network,
        implicit,
        order,
    }
}

fn sorted_rows<'p>(p: &'p Patch, ctx: &Ctx) -> Vec<(&'p PortRef, &'p BTreeMap<PortRef, f64>)> {
    let mut rows: Vec<_> = p.weights.rows().collect();
    rows.sort_by_key(|(t, _)| {
        let port = p
            .network
            .find(&t.neuron)
            .and_then(|(_, d)| d.input(&t.port))
            .map_or(0, |(i, _)| i);
        (
            ctx.order
                .get(t.neuron.as_str())
                .copied()
                .unwrap_or(usize::MAX),
            port,
        )
    });
    rows
}

fn default_items(p: &Patch, ctx: &Ctx) -> Vec<Item> {
    let mut items = Vec::new();
    if p.comment.is_some() {
        items.push(Item::Blank);
    }
    items.push(Item::Settings);
    let decls: Vec<Item> = p
        .neurons
        .iter()
        .filter(|(n, _)| !ctx.implicit.contains(n))
        .map(|(n, _)| Item::Neuron(n.clone()))
        .collect();
    if !decls.is_empty() {
        items.push(Item::Blank);
        items.extend(decls);
    }
    let rows = sorted_rows(p, ctx);
    if !rows.is_empty() {
        items.push(Item::Blank);
        items.extend(rows.into_iter().map(|(t, _)| Item::Row {
            target: t.clone(),
            comment: None,
            morph: None,
        }));
    }
    items
}

fn settings_line(s: &Settings) -> String {
    let mut out = String::from("settings");
    let (Ok(Json::Object(m)), Ok(Json::Object(d))) = (
        serde_json::to_value(s),
        serde_json::to_value(Settings::default()),
    ) else {
        return out;
    };
    for (k, v) in &m {
        let always = matches!(k.as_str(), "tick_rate" | "sample_rate" | "image_size");
        if !always && d.get(k) == Some(v) {
            continue;
        }
        let text = match (k.as_str(), v) {
            ("image_size", _) => format!("image={}x{}", s.image_size[0], s.image_size[1]),
            ("morph_time", _) => format!("morph={}", json_value(v)),
            _ => format!("{k}={}", json_value(v)),
        };
        out.push(' ');
        out.push_str(&text);
    }
    out
}

fn json_value(v: &Json) -> String {
    match v {
        Json::Number(n) => match (n.as_u64(), n.as_i64(), n.as_f64()) {
            (Some(u), _, _) => u.to_string(),
            (_, Some(i), _) => i.to_string(),
            (_, _, Some(f)) => format_number(f),
            _ => n.to_string(),
        },
        Json::String(s) => quote(s),
        other => other.to_string(),
    }
}

fn decl_line(ctx: &Ctx, n: &str, spec: &NeuronSpec) -> Line {
    let mut rest = format!(": {}", spec.ty);
    let known_kind = |k: &str| matches!(k, "scalar" | "audio" | "image" | "matrix");
    if let Some(Json::String(k)) = spec.settings.get("kind")
        && known_kind(k)
    {
        rest.push(' ');
        rest.push_str(k);
    }
    let mut trailing = None;
    for (k, v) in &spec.settings {
        match (k.as_str(), v) {
            ("kind", Json::String(s)) if known_kind(s) => continue,
            ("comment", Json::String(c)) if !c.contains('\n') && c.trim_end() == c => {
                trailing = Some(c.clone());
                continue;
            }
            _ => {}
        }
        let text = match v {
            Json::Object(_) => match serde_json::from_value::<WMatrix>(v.clone()) {
                Ok(m) => matrix_value(ctx, &m),
                Err(_) => v.to_string(),
            },
            _ => json_value(v),
        };
        rest.push_str(&format!(" {k}={text}"));
    }
    if type_info(&spec.ty).is_none() {
        // Cannot happen for a checked patch; keep the text readable anyway.
        rest.push_str(" # unknown type");
    }
    Line::Decl(name(n), rest, trailing)
}

fn matrix_value(ctx: &Ctx, m: &WMatrix) -> String {
    let rows: Vec<String> = m.rows().map(|(t, row)| row_line(ctx, t, row)).collect();
    format!("{{{}}}", rows.join("; "))
}

/// Aligns runs of declarations on `:` and runs of rows on `<-`, and their trailing comments.
fn render(lines: Vec<Line>) -> String {
    let mut out = String::new();
    let mut i = 0;
    while i < lines.len() {
        let j = run_end(&lines, i);
        if j == i {
            if let Line::Raw(s) = &lines[i] {
                out.push_str(s);
            }
            out.push('\n');
            i += 1;
            continue;
        }
        let parts: Vec<(&str, &str, &Option<String>)> = lines[i..j]
            .iter()
            .map(|l| match l {
                Line::Decl(a, b, c) | Line::Row(a, b, c) => (a.as_str(), b.as_str(), c),
                Line::Raw(_) => ("", "", &None),
            })
            .collect();
        let w = parts
            .iter()
            .map(|(a, _, _)| a.chars().count())
            .max()
            .unwrap_or(0);
        let texts: Vec<String> = parts
            .iter()
            .map(|(a, b, _)| format!("{a:<w$} {b}").trim_end().to_string())
            .collect();
        let cw = texts
            .iter()
            .zip(&parts)
            .filter(|(_, p)| p.2.is_some())
            .map(|(t, _)| t.chars().count())
            .max()
            .unwrap_or(0);
        for (t, (_, _, c)) in texts.iter().zip(&parts) {
            out.push_str(t);
            if let Some(c) = c {
                let pad = cw - t.chars().count() + 2;
                out.push_str(&" ".repeat(pad));
                out.push_str(&comment_line(c));
            }
            out.push('\n');
        }
        i = j;
    }
    out
}

/// End of the run of same-shaped lines (declarations or rows) starting at `i` (== i for raw).
fn run_end(lines: &[Line], i: usize) -> usize {
    let same = |a: &Line, b: &Line| {
        matches!(
            (a, b),
            (Line::Decl(..), Line::Decl(..)) | (Line::Row(..), Line::Row(..))
        )
    };
    if matches!(lines[i], Line::Raw(_)) {
        return i;
    }
    let mut j = i + 1;
    while j < lines.len() && same(&lines[i], &lines[j]) {
        j += 1;
    }
    j
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_read_back_exactly() {
        for x in [
            0.1,
            1.0,
            -2.5,
            1e-7,
            6.02e23,
            440.0,
            1.0 / 3.0,
            std::f64::consts::TAU,
            1e15,
        ] {
            let s = format_number(x);
            let back = match s.as_str() {
                "tau" => std::f64::consts::TAU,
                other => match other.strip_suffix(" pi") {
                    Some(k) => std::f64::consts::PI * k.parse::<f64>().unwrap(),
                    None => other.parse::<f64>().unwrap(),
                },
            };
            assert_eq!(back, x, "{s}");
        }
        assert_eq!(format_number(440.0), "440");
        assert_eq!(format_number(-0.0), "0");
    }
}
