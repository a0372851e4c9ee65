//! A whole `.dmm` file → a checked [`Patch`]: lines in any order, names used before they are
//! declared, kinds inferred, implicit constants and the built-in `t` created.

use super::expr::Lin;
use super::layout::{Item, Layout};
use super::parse::{Decl, Row, Setting, Stmt, Target, Value, parse_line};
use super::resolve::{
    one_name, one_order, one_spec, source_port, target_port, unknown_neuron, unknown_type,
};
use super::values::{decl_spec, field_span, settings_from};
use super::{TIME, TextError};
use crate::neurons::network::{EDITS, SELF};
use crate::neurons::{AssetDirs, Network, NeuronSpec, TypeInfo, WeightError, type_info};
use crate::patch::infer::{self, Link, PortKinds};
use crate::patch::mapping::{MapSpec, PerformMap};
use crate::patch::{Patch, PatchError, PatchErrors};
use crate::stream::{Kind, PortRef, Settings, WMatrix};
use serde_json::Value as Json;
use std::collections::{BTreeMap, HashMap};
use std::ops::Range;

/// Reads a whole `.dmm` file. `file` names it in errors (`file: line:col: message`).
pub fn parse_text(src: &str, file: &str, assets: &AssetDirs) -> Result<Patch, PatchErrors> {
    parse_buffer(src, assets).map_err(|errs| {
        PatchErrors(
            errs.into_iter()
                .map(|e| PatchError {
                    file: file.to_string(),
                    place: format!("{}:{}", e.line, e.col),
                    msg: e.msg,
                })
                .collect(),
        )
    })
}

/// Like `parse_text`, with the errors as positions in the text (for the editor).
pub fn parse_buffer(src: &str, assets: &AssetDirs) -> Result<Patch, Vec<TextError>> {
    let lines: Vec<&str> = src.lines().collect();
    let doc = read_lines(&lines)?;
    Builder::new(&lines, assets).build(doc)
}

/// The statements of a file with the things around them.
pub(crate) struct Doc {
    pub stmts: Vec<(usize, Stmt)>,
    pub comment: Option<String>,
    /// Layout with rows as indices into `stmts` (resolved once the targets are).
    pub items: Vec<RawItem>,
}

pub(super) enum RawItem {
    Item(Item),
    Row(usize),
}

/// Parses every line; the leading block of comment lines is the patch comment.
pub(super) fn read_lines(lines: &[&str]) -> Result<Doc, Vec<TextError>> {
    let mut doc = Doc {
        stmts: Vec::new(),
        comment: None,
        items: Vec::new(),
    };
    let mut errors = Vec::new();
    // Comment lines from the first line on form the patch comment, until anything else.
    let mut head: Option<Vec<String>> = Some(Vec::new());
    let end_head = |head: &mut Option<Vec<String>>, doc: &mut Doc| {
        if let Some(h) = head.take()
            && !h.is_empty()
        {
            doc.comment = Some(h.join("\n"));
        }
    };
    for (i, text) in lines.iter().enumerate() {
        let no = i + 1;
        let (stmt, comment) = match parse_line(text, no) {
            Ok(x) => x,
            Err(e) => {
                end_head(&mut head, &mut doc);
                errors.push(e);
                continue;
            }
        };
        match (stmt, comment) {
            (None, Some(c)) => match &mut head {
                Some(h) => h.push(c),
                None => doc.items.push(RawItem::Item(Item::Comment(c))),
            },
            (None, None) => {
                end_head(&mut head, &mut doc);
                doc.items.push(RawItem::Item(Item::Blank));
            }
            (Some(s), _) => {
                end_head(&mut head, &mut doc);
                let item = match &s {
                    Stmt::Settings(_) => Some(RawItem::Item(Item::Settings)),
                    Stmt::Decl(d) => Some(RawItem::Item(Item::Neuron(d.name.v.clone()))),
                    Stmt::Row(_) | Stmt::Remove { .. } => Some(RawItem::Row(doc.stmts.len())),
                    // Printed after everything else, in their order (the patch's `mappings`).
                    Stmt::Map(_) => None,
                };
                doc.items.extend(item);
                doc.stmts.push((no, s));
            }
        }
    }
    end_head(&mut head, &mut doc);
    if errors.is_empty() {
        Ok(doc)
    } else {
        Err(errors)
    }
}

/// A linear combination with its sources resolved.
#[derive(Clone, Debug, Default)]
pub(super) struct Terms {
    pub constant: f64,
    pub const_span: Option<Range<usize>>,
    pub terms: Vec<(PortRef, f64, Range<usize>)>,
}

/// A row (or a row of a matrix init) with its ports resolved.
pub(super) struct RRow {
    pub line: usize,
    pub target: PortRef,
    pub target_span: Range<usize>,
    pub terms: Terms,
    /// Which matrix init this row belongs to (neuron index and setting key), if any.
    pub init: Option<(usize, String)>,
    pub stmt: Option<usize>,
}

/// Builds a patch from parsed lines. Also used by `eval` on a running network.
pub struct Builder<'a> {
    lines: &'a [&'a str],
    /// Line number of `lines[0]`.
    first: usize,
    assets: &'a AssetDirs,
    errors: Vec<TextError>,
}

impl<'a> Builder<'a> {
    pub fn new(lines: &'a [&'a str], assets: &'a AssetDirs) -> Self {
        Builder::starting_at(lines, 1, assets)
    }

    /// A builder for lines numbered from `first`.
    pub fn starting_at(lines: &'a [&'a str], first: usize, assets: &'a AssetDirs) -> Self {
        Builder {
            lines,
            first,
            assets,
            errors: Vec::new(),
        }
    }

    pub fn assets(&self) -> &AssetDirs {
        self.assets
    }

    pub fn has_errors(&self) -> bool {
        !self.errors.is_empty()
    }

    /// The errors so far, sorted by position.
    pub fn take_errors(&mut self) -> Vec<TextError> {
        let mut e = std::mem::take(&mut self.errors);
        e.sort_by_key(|e| (e.line, e.col));
        e
    }

    pub fn err(&mut self, line: usize, span: Range<usize>, msg: impl Into<String>) {
        let text = self
            .lines
            .get(line.wrapping_sub(self.first))
            .copied()
            .unwrap_or("");
        self.errors.push(TextError::at(line, text, span, msg));
    }

    fn fail<T>(&mut self) -> Result<T, Vec<TextError>> {
        Err(self.take_errors())
    }

    fn settings(&mut self, doc: &Doc) -> Settings {
        let mut found: Option<(usize, &Vec<Setting>)> = None;
        for (line, s) in &doc.stmts {
            if let Stmt::Settings(list) = s {
                if let Some((first, _)) = found {
                    self.err(*line, 0..8, format!("a second settings line (the first is line {first}); put all settings on one line"));
                    continue;
                }
                found = Some((*line, list));
            }
        }
        let Some((line, list)) = found else {
            return Settings::default();
        };
        settings_from(list).unwrap_or_else(|(span, msg)| {
            self.err(line, span, msg);
            Settings::default()
        })
    }

    /// Every declaration's spec (with its statement), in file order; duplicates are errors.
    #[allow(clippy::type_complexity)]
    fn declarations<'d>(
        &mut self,
        doc: &'d Doc,
    ) -> (
        Vec<(String, NeuronSpec)>,
        Vec<(usize, &'d Decl)>,
        HashMap<&'d str, usize>,
    ) {
        let mut specs: Vec<(String, NeuronSpec)> = Vec::new();
        let mut decls: Vec<(usize, &Decl)> = Vec::new();
        let mut seen: HashMap<&str, usize> = HashMap::new();
        for (line, s) in &doc.stmts {
            match s {
                Stmt::Decl(d) => {
                    if let Some(first) = seen.insert(&d.name.v, *line) {
                        self.err(*line, d.name.span.clone(), format!("duplicate declaration of `{}` (first declared at line {first}); names must be unique", d.name.v));
                        continue;
                    }
                    match decl_spec(d) {
                        Ok(spec) => {
                            specs.push((d.name.v.clone(), spec));
                            decls.push((*line, d));
                        }
                        Err((span, msg)) => self.err(*line, span, msg),
                    }
                }
                Stmt::Remove { name, .. } => self.err(*line, name.span.clone(), "`remove` only works when evaluating lines in the running instrument; in a file, delete the neuron's line"),
                _ => {}
            }
        }
        (specs, decls, seen)
    }

    /// The type of every declared neuron (and of `self` and `edits`); unknown types are errors.
    fn types_of(
        &mut self,
        specs: &[(String, NeuronSpec)],
        decls: &[(usize, &Decl)],
    ) -> HashMap<String, &'static TypeInfo> {
        let mut types: HashMap<String, &'static TypeInfo> = HashMap::new();
        for ((name, spec), (line, d)) in specs.iter().zip(decls) {
            match type_info(&spec.ty) {
                Some(info) => {
                    types.insert(name.clone(), info);
                }
                None => self.err(*line, d.ty.span.clone(), unknown_type(&spec.ty)),
            }
        }
        for b in [SELF, EDITS] {
            if let Some(info) = type_info(b) {
                types.entry(b.to_string()).or_insert(info);
            }
        }
        types
    }

    /// Settings, declarations, rows (resolved), kinds, implicit neurons, the network, W.
    pub fn build(mut self, doc: Doc) -> Result<Patch, Vec<TextError>> {
        let settings = self.settings(&doc);
        let (mut specs, decls, seen) = self.declarations(&doc);
        let mut types = self.types_of(&specs, &decls);
        // The built-in time neuron, when used without being declared.
        let uses_t = !types.contains_key(TIME) && !seen.contains_key(TIME) && doc_uses(&doc, TIME);
        if uses_t && let Some(info) = type_info("time") {
            specs.push((TIME.to_string(), NeuronSpec::new("time")));
            types.insert(TIME.to_string(), info);
        }
        let rows = self.resolve_rows(&doc, &decls, &types);
        if !self.errors.is_empty() {
            return self.fail();
        }
        // Kinds.
        self.infer(&rows, &mut specs, &settings);
        if !self.errors.is_empty() {
            return self.fail();
        }
        let ones = self.constants(&rows, &specs, &settings);
        if !self.errors.is_empty() {
            return self.fail();
        }
        for (kind, name) in &ones {
            if !seen.contains_key(name.as_str()) {
                specs.push((name.clone(), one_spec(*kind, &settings)));
            }
        }
        let one_of: HashMap<Kind, String> = ones.into_iter().collect();
        let kinds_now = snapshot_kinds(&rows, &specs, &settings);
        let spec_of_decl: Vec<usize> = (0..decls.len()).collect();
        self.write_inits(
            &rows,
            &mut specs,
            &decls,
            &spec_of_decl,
            &one_of,
            &kinds_now,
        );
        let net = self.network(&specs, &decls, &settings);
        let weights = self.weights(&doc, &rows, &net, &one_of, &kinds_now);
        let (mappings, perform_maps) = self.mappings(&doc, &net);
        if !self.errors.is_empty() {
            return self.fail();
        }
        Ok(Patch {
            path: None,
            comment: doc.comment.clone(),
            settings,
            neurons: specs,
            weights,
            network: net,
            layout: layout_of(&doc, &rows),
            mappings,
            perform_maps,
        })
    }

    /// The `map` lines, each parsed and checked against the network.
    fn mappings(&mut self, doc: &Doc, net: &Network) -> (Vec<MapSpec>, Vec<PerformMap>) {
        let mut out = Vec::new();
        let mut perform = Vec::new();
        for (line, s) in &doc.stmts {
            if let Stmt::Map(m) = s {
                if PerformMap::is_perform(&m.v) {
                    match PerformMap::parse(&m.v) {
                        Ok(p) => perform.push(p),
                        Err(msg) => self.err(*line, m.span.clone(), format!("map: {msg}")),
                    }
                    continue;
                }
                match MapSpec::parse(&m.v).and_then(|spec| spec.check(net).map(|()| spec)) {
                    Ok(spec) => out.push(spec),
                    Err(msg) => self.err(*line, m.span.clone(), format!("map: {msg}")),
                }
            }
        }
        (out, perform)
    }

    /// Infers kinds from the rows; conflicts become errors at the later connection.
    pub fn infer(
        &mut self,
        rows: &[RRow],
        specs: &mut [(String, NeuronSpec)],
        settings: &Settings,
    ) {
        let links = links_of(rows);
        for e in infer::infer_kinds(specs, &links, settings) {
            let (line, col) = parse_place(&e.place);
            let start = col.saturating_sub(1);
            let len = rows_span_len(rows, line, start);
            self.err(line, start..start + len, e.msg);
        }
    }

    /// Resolves every row's and matrix init's ports.
    pub fn resolve_rows(
        &mut self,
        doc: &Doc,
        decls: &[(usize, &Decl)],
        types: &HashMap<String, &'static TypeInfo>,
    ) -> Vec<RRow> {
        let mut out = Vec::new();
        for (i, (line, s)) in doc.stmts.iter().enumerate() {
            if let Stmt::Row(r) = s
                && let Some(rr) = self.resolve_row(*line, &r.target, &r.lin, types)
            {
                out.push(RRow {
                    stmt: Some(i),
                    ..rr
                });
            }
        }
        for (k, (line, d)) in decls.iter().enumerate() {
            for st in &d.settings {
                if let Value::Matrix(m) = &st.value.v {
                    for (t, lin) in m {
                        if let Some(rr) = self.resolve_row(*line, t, lin, types) {
                            out.push(RRow {
                                init: Some((k, st.key.v.clone())),
                                ..rr
                            });
                        }
                    }
                }
            }
        }
        out
    }

    pub fn resolve_row(
        &mut self,
        line: usize,
        t: &Target,
        lin: &Lin,
        types: &HashMap<String, &'static TypeInfo>,
    ) -> Option<RRow> {
        let mut ok = true;
        let target = match types.get(&t.name) {
            None => {
                self.err(line, t.span.clone(), unknown_neuron(&t.name));
                ok = false;
                None
            }
            Some(info) => match target_port(t, info) {
                Ok(p) => Some(p),
                Err(m) => {
                    self.err(line, t.span.clone(), m);
                    ok = false;
                    None
                }
            },
        };
        let mut terms = Terms {
            constant: lin.constant,
            const_span: lin.const_span.clone(),
            terms: Vec::new(),
        };
        for (src, w) in &lin.terms {
            let port = match types.get(&src.name) {
                None => Err(unknown_neuron(&src.name)),
                Some(info) => source_port(src, info),
            };
            match port {
                Ok(p) => terms.terms.push((p, *w, src.span.clone())),
                Err(m) => {
                    self.err(line, src.span.clone(), m);
                    ok = false;
                }
            }
        }
        let target = target?;
        ok.then(|| RRow {
            line,
            target,
            target_span: t.span.clone(),
            terms,
            init: None,
            stmt: None,
        })
    }

    /// The implicit constants the rows need: kind → neuron name.
    pub fn constants(
        &mut self,
        rows: &[RRow],
        specs: &[(String, NeuronSpec)],
        settings: &Settings,
    ) -> Vec<(Kind, String)> {
        let kinds = PortKinds::new(specs, settings);
        let mut ones = BTreeMap::new();
        for r in rows {
            if r.terms.constant == 0.0 {
                continue;
            }
            let span = r.terms.const_span.clone().unwrap_or(r.target_span.clone());
            match kinds.input(&r.target) {
                Some(Kind::Matrix) => self.err(
                    r.line,
                    span,
                    format!("a constant cannot feed `{}`, a matrix port: a constant is a weight on `one`, which is scalar, audio or image", r.target),
                ),
                Some(k) => {
                    if let Some(n) = one_name(k) {
                        ones.insert(one_order(k), (k, n));
                    }
                }
                None => {}
            }
        }
        ones.into_values().collect()
    }

    /// Puts matrix values (`init={...}`) into their neurons' specs as W-shaped JSON.
    /// `spec_of_decl[k]`: the index in `specs` of declaration `k`.
    pub fn write_inits(
        &mut self,
        rows: &[RRow],
        specs: &mut [(String, NeuronSpec)],
        decls: &[(usize, &Decl)],
        spec_of_decl: &[usize],
        one_of: &HashMap<Kind, String>,
        kinds: &HashMap<PortRef, Kind>,
    ) {
        let mut values: BTreeMap<(usize, String), WMatrix> = BTreeMap::new();
        for (k, (_, d)) in decls.iter().enumerate() {
            for st in &d.settings {
                if matches!(st.value.v, Value::Matrix(_)) {
                    values.insert((k, st.key.v.clone()), WMatrix::new());
                }
            }
        }
        for r in rows {
            let Some(key) = &r.init else { continue };
            let m = values.entry(key.clone()).or_default();
            add_terms(m, r, one_of, kinds);
        }
        for ((k, key), m) in values {
            let v = serde_json::to_value(&m).unwrap_or(Json::Null);
            if let Some((_, spec)) = spec_of_decl.get(k).and_then(|&i| specs.get_mut(i)) {
                spec.settings.insert(key, v);
            }
        }
    }

    fn network(
        &mut self,
        specs: &[(String, NeuronSpec)],
        decls: &[(usize, &Decl)],
        settings: &Settings,
    ) -> Network {
        let mut net = Network::new(settings.clone());
        for (k, (name, spec)) in specs.iter().enumerate() {
            if let Err(e) = net.add(name, spec, self.assets) {
                match decls.get(k) {
                    Some((line, d)) => {
                        let span = field_span(d, &e.field);
                        self.err(*line, span, e.msg);
                    }
                    None => self.err(1, 0..1, format!("implicit neuron `{name}`: {}", e.msg)),
                }
            }
        }
        net
    }

    fn weights(
        &mut self,
        doc: &Doc,
        rows: &[RRow],
        net: &Network,
        one_of: &HashMap<Kind, String>,
        kinds: &HashMap<PortRef, Kind>,
    ) -> WMatrix {
        let mut w = WMatrix::new();
        let mut stated: HashMap<&PortRef, usize> = HashMap::new();
        for r in rows {
            let Some(i) = r.stmt else { continue };
            let Stmt::Row(Row { add, .. }) = &doc.stmts[i].1 else {
                continue;
            };
            if !add && let Some(first) = stated.insert(&r.target, r.line) {
                self.err(r.line, r.target_span.clone(), format!("the row `{}` is stated twice (first at line {first}); use `+=` to add to a row", r.target));
                continue;
            }
            for (span, msg) in check_row(net, r, one_of, kinds, true) {
                self.err(r.line, span, msg);
            }
            add_terms(&mut w, r, one_of, kinds);
        }
        // `+=` lines add up: their sums must be values W can hold too.
        let added: HashMap<&PortRef, &RRow> = rows
            .iter()
            .filter(|r| {
                r.stmt
                    .is_some_and(|i| matches!(&doc.stmts[i].1, Stmt::Row(Row { add: true, .. })))
            })
            .map(|r| (&r.target, r))
            .collect();
        for (t, src, v) in w.entries() {
            if let Some(r) = added.get(t)
                && let Err(e @ WeightError::TooLarge { .. }) = net.check_value(t, src, v)
            {
                self.err(r.line, r.target_span.clone(), e.to_string());
            }
        }
        for n in &net.neurons {
            if let crate::neurons::Init::Matrix(m) = &n.params.init {
                for e in net.check_matrix(m) {
                    let decl = doc.stmts.iter().find_map(|(line, s)| match s {
                        Stmt::Decl(d) if d.name.v == n.name => Some((*line, d)),
                        _ => None,
                    });
                    let (line, span) = decl.map_or((1, 0..1), |(l, d)| (l, field_span(d, "init")));
                    self.err(line, span, format!("in the init of `{}`: {e}", n.name));
                }
            }
            // An image_w's block of W: its ports must exist and agree in kind (first error).
            if let Some(e) = n
                .params
                .binding
                .as_ref()
                .and_then(|b| net.check_matrix(&b.pattern()).into_iter().next())
            {
                let (line, span) = targets_place(doc, &n.name);
                self.err(
                    line,
                    span,
                    format!("in the targets/sources of `{}`: {e}", n.name),
                );
            }
            // A w_image's listed ports must exist (they may be of any kind).
            if let Some(e) = n.params.view.as_ref().and_then(|v| v.check(net)) {
                let (line, span) = targets_place(doc, &n.name);
                self.err(
                    line,
                    span,
                    format!("in the targets/sources of `{}`: {e}", n.name),
                );
            }
        }
        w
    }
}

/// Kinds of every row's target port (for the constants), once kinds are inferred.
pub(super) fn snapshot_kinds(
    rows: &[RRow],
    specs: &[(String, NeuronSpec)],
    settings: &Settings,
) -> HashMap<PortRef, Kind> {
    let k = PortKinds::new(specs, settings);
    rows.iter()
        .filter_map(|r| k.input(&r.target).map(|kind| (r.target.clone(), kind)))
        .collect()
}

/// The type rule for every term of a row, the constant included (on its implicit `one`):
/// `(span, message)` for each problem. `value`: the terms are values W will hold (a file, a
/// `<-` row), not deltas (`+=` in the running instrument).
pub(super) fn check_row(
    net: &Network,
    r: &RRow,
    one_of: &HashMap<Kind, String>,
    kinds: &HashMap<PortRef, Kind>,
    value: bool,
) -> Vec<(Range<usize>, String)> {
    let check = |s: &PortRef, c: f64| {
        if value {
            net.check_value(&r.target, s, c).map_err(|e| e.to_string())
        } else {
            net.check_weight(&r.target, s, c).map_err(|e| e.to_string())
        }
    };
    let mut out = Vec::new();
    for (src, c, span) in &r.terms.terms {
        if let Err(e) = check(src, *c) {
            out.push((span.clone(), e));
        }
    }
    if r.terms.constant != 0.0
        && let Some(one) = kinds.get(&r.target).and_then(|k| one_of.get(k))
        && let Err(e) = check(&PortRef::new(one, "out"), r.terms.constant)
    {
        let span = r.terms.const_span.clone().unwrap_or(r.target_span.clone());
        out.push((span, e));
    }
    out
}

pub(super) fn add_terms(
    m: &mut WMatrix,
    r: &RRow,
    one_of: &HashMap<Kind, String>,
    kinds: &HashMap<PortRef, Kind>,
) {
    for (src, c, _) in &r.terms.terms {
        m.add_entry(&r.target, src, *c);
    }
    if r.terms.constant != 0.0
        && let Some(one) = kinds.get(&r.target).and_then(|k| one_of.get(k))
    {
        m.add_entry(&r.target, &PortRef::new(one, "out"), r.terms.constant);
    }
}

fn links_of(rows: &[RRow]) -> Vec<Link> {
    let mut links = Vec::new();
    for r in rows {
        for (src, _, span) in &r.terms.terms {
            links.push(Link {
                target: r.target.clone(),
                source: src.clone(),
                place: format!("{}:{}", r.line, span.start + 1),
                shown: format!("`{} <- {}` (line {})", r.target, src, r.line),
            });
        }
    }
    links
}

fn parse_place(p: &str) -> (usize, usize) {
    let mut it = p.split(':').map(|x| x.parse::<usize>().unwrap_or(1));
    (it.next().unwrap_or(1), it.next().unwrap_or(1))
}

fn rows_span_len(rows: &[RRow], line: usize, start: usize) -> usize {
    rows.iter()
        .filter(|r| r.line == line)
        .flat_map(|r| r.terms.terms.iter())
        .find(|(_, _, s)| s.start == start)
        .map_or(1, |(_, _, s)| s.len().max(1))
}

fn doc_uses(doc: &Doc, name: &str) -> bool {
    let lin_uses = |l: &Lin| l.terms.iter().any(|(s, _)| s.name == name);
    doc.stmts.iter().any(|(_, s)| match s {
        Stmt::Row(r) => r.target.name == name || lin_uses(&r.lin),
        Stmt::Decl(d) => d.settings.iter().any(|st| match &st.value.v {
            Value::Matrix(m) => m.iter().any(|(t, l)| t.name == name || lin_uses(l)),
            _ => false,
        }),
        _ => false,
    })
}

fn layout_of(doc: &Doc, rows: &[RRow]) -> Layout {
    let by_stmt: HashMap<usize, &RRow> =
        rows.iter().filter_map(|r| r.stmt.map(|i| (i, r))).collect();
    let mut items = Vec::with_capacity(doc.items.len());
    for it in &doc.items {
        match it {
            RawItem::Item(i) => items.push(i.clone()),
            RawItem::Row(si) => {
                let Some(r) = by_stmt.get(si) else {
                    continue;
                };
                let Stmt::Row(row) = &doc.stmts[*si].1 else {
                    continue;
                };
                items.push(Item::Row {
                    target: r.target.clone(),
                    comment: row.comment.clone(),
                    morph: row.morph,
                });
            }
        }
    }
    Layout { items }
}

/// Where a neuron's `targets` setting is written (its declaration line), for errors about the
/// ports it lists; line 1 when the neuron has no declaration.
fn targets_place(doc: &Doc, name: &str) -> (usize, std::ops::Range<usize>) {
    let decl = doc.stmts.iter().find_map(|(line, s)| match s {
        Stmt::Decl(d) if d.name.v == name => Some((*line, d)),
        _ => None,
    });
    decl.map_or((1, 0..1), |(l, d)| (l, field_span(d, "targets")))
}
