//! Evaluating lines against the running network (Ctrl+Enter, OSC `/dmm/eval`): the lines
//! become ONE edit request for Self (a batch when there are several changes: all or nothing).
//!
//! - `name : type ...` adds a neuron (an identical declaration of a running neuron changes
//!   nothing; a different one is refused: `remove` it first, or evaluate the whole buffer);
//! - `target.port <- ...` states the whole row: every source written is set, every other source
//!   of that row is set to 0 (removed), over the line's `~` morph or the default morph;
//! - `target.port += ...` adds to the row (the papers' additive update);
//! - `remove name [~2s]` removes a neuron (its connections fade out over the morph first).

use super::build::{Builder, RRow, add_terms, check_row, snapshot_kinds};
use super::parse::{Decl, Stmt, parse_line};
use super::resolve::{one_spec, unknown_type};
use super::values::decl_spec;
use super::{TIME, TextError};
use crate::engine::edits::Edit;
use crate::neurons::network::{EDITS, SELF};
use crate::neurons::{AssetDirs, Network, NeuronSpec, TypeInfo, type_info};
use crate::stream::{Kind, PortRef, WMatrix};
use serde_json::Value as Json;
use std::collections::{HashMap, HashSet};

/// Evaluates one or more lines against the running program: returns ONE edit request (a batch
/// when needed), or `Ok(None)` for lines that change nothing (blank lines, comments, a
/// declaration identical to the running neuron). `first_line` numbers the snippet's first line
/// for error positions; `default_morph` (seconds) applies to rows without `~`.
pub fn eval_snippet(
    snippet: &str,
    first_line: usize,
    net: &Network,
    w: &WMatrix,
    assets: &AssetDirs,
    default_morph: f64,
) -> Result<Option<Edit>, Vec<TextError>> {
    let lines: Vec<&str> = snippet.lines().collect();
    let mut stmts = Vec::new();
    let mut errors = Vec::new();
    for (i, text) in lines.iter().enumerate() {
        match parse_line(text, first_line + i) {
            Ok((Some(s), _)) => stmts.push((first_line + i, s)),
            Ok((None, _)) => {}
            Err(e) => errors.push(e),
        }
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    if stmts.is_empty() {
        return Ok(None);
    }
    let mut b = Builder::starting_at(&lines, first_line, assets);
    let edits = Eval {
        b: &mut b,
        net,
        w,
        default_morph,
    }
    .run(&stmts);
    if b.has_errors() {
        return Err(b.take_errors());
    }
    Ok(match edits.len() {
        0 => None,
        1 => edits.into_iter().next(),
        _ => Some(Edit::Batch { edits }),
    })
}

type Types = HashMap<String, &'static TypeInfo>;
type Specs = Vec<(String, NeuronSpec)>;

struct Eval<'b, 'a> {
    b: &'b mut Builder<'a>,
    net: &'b Network,
    w: &'b WMatrix,
    default_morph: f64,
}

/// A spec without what does not change how a neuron runs (and, when the line leaves the kind
/// to inference, without the running neuron's kind and shape).
fn essence(spec: &NeuronSpec, keep_kind: bool) -> NeuronSpec {
    let mut s = spec.clone();
    s.settings.remove("comment");
    if !keep_kind {
        for k in ["kind", "rows", "cols"] {
            s.settings.remove(k);
        }
    }
    s
}

impl Eval<'_, '_> {
    fn run(&mut self, stmts: &[(usize, Stmt)]) -> Vec<Edit> {
        let (mut types, mut specs) = self.running();
        let (decls, spec_of_decl, removes) = self.take_lines(stmts, &mut types, &mut specs);
        let uses_t = !types.contains_key(TIME) && stmts.iter().any(|(_, s)| stmt_uses(s, TIME));
        let mut new_specs: Vec<(String, NeuronSpec)> = Vec::new();
        if uses_t && let Some(info) = type_info("time") {
            types.insert(TIME.into(), info);
            specs.push((TIME.into(), NeuronSpec::new("time")));
            new_specs.push((TIME.into(), NeuronSpec::new("time")));
        }
        let doc = super::build::Doc {
            stmts: stmts.to_vec(),
            comment: None,
            items: Vec::new(),
        };
        let rows = self.b.resolve_rows(&doc, &decls, &types);
        if self.b.has_errors() {
            return Vec::new();
        }
        let settings = self.net.settings.clone();
        self.b.infer(&rows, &mut specs, &settings);
        if self.b.has_errors() {
            return Vec::new();
        }
        let ones = self.b.constants(&rows, &specs, &settings);
        for (kind, name) in &ones {
            if !self.net.contains(name) && !specs.iter().any(|(n, _)| n == name) {
                specs.push((name.clone(), one_spec(*kind, &settings)));
                new_specs.push((name.clone(), one_spec(*kind, &settings)));
            }
        }
        let one_of: HashMap<Kind, String> = ones.into_iter().collect();
        let kinds = snapshot_kinds(&rows, &specs, &settings);
        self.b
            .write_inits(&rows, &mut specs, &decls, &spec_of_decl, &one_of, &kinds);
        // The new neurons, checked on a copy of the running network.
        let mut scratch = self.net.clone();
        let mut edits = removes;
        self.check_new(&mut scratch, &new_specs, &decls, &specs, &spec_of_decl);
        for (name, spec) in new_specs
            .iter()
            .chain(spec_of_decl.iter().map(|&i| &specs[i]))
        {
            edits.push(Edit::AddNeuron {
                name: name.clone(),
                neuron: spec.clone(),
                weights: WMatrix::new(),
            });
        }
        self.rows(stmts, &rows, &scratch, &one_of, &kinds, &mut edits);
        edits
    }

    /// The running neurons' types, and their specs with their kinds spelled out (so inference
    /// treats them as fixed).
    fn running(&self) -> (Types, Specs) {
        let types: Types = self
            .net
            .neurons
            .iter()
            .map(|n| (n.name.clone(), n.info))
            .collect();
        let specs: Specs = self
            .net
            .neurons
            .iter()
            .filter(|n| n.name != SELF && n.name != EDITS)
            .map(|n| {
                let mut s = n.spec.clone();
                if n.info.kinds != crate::neurons::Kinds::None {
                    let word = match n.kind {
                        Kind::Scalar => "scalar",
                        Kind::Audio => "audio",
                        Kind::Image { .. } => "image",
                        Kind::Matrix => "matrix",
                    };
                    s.settings.insert("kind".into(), Json::String(word.into()));
                }
                (n.name.clone(), s)
            })
            .collect();
        (types, specs)
    }

    /// Sorts the evaluated lines: declarations (checked and added to `types` and `specs`),
    /// removals (returned as edits), and lines that cannot be evaluated alone (errors).
    /// Returns the declarations, the index in `specs` of each, and the removals.
    #[allow(clippy::type_complexity)]
    fn take_lines<'d>(
        &mut self,
        stmts: &'d [(usize, Stmt)],
        types: &mut Types,
        specs: &mut Specs,
    ) -> (Vec<(usize, &'d Decl)>, Vec<usize>, Vec<Edit>) {
        let mut decls: Vec<(usize, &Decl)> = Vec::new();
        let mut spec_of_decl = Vec::new();
        let mut removes = Vec::new();
        let mut seen: HashMap<&str, usize> = HashMap::new();
        for (line, s) in stmts {
            match s {
                Stmt::Settings(_) => self.b.err(*line, 0..8, "settings change only when the whole buffer is evaluated (Ctrl+Shift+Enter) or the file is reloaded"),
                Stmt::Remove { name, morph } => {
                    if name.v == SELF || name.v == EDITS {
                        self.b.err(*line, name.span.clone(), format!("`{}` is part of every network and cannot be removed", name.v));
                    } else if !self.net.contains(&name.v) {
                        self.b.err(*line, name.span.clone(), format!("there is no neuron `{}` to remove", name.v));
                    } else {
                        removes.push(Edit::RemoveNeuron { name: name.v.clone(), morph: morph.unwrap_or(self.default_morph) });
                    }
                }
                Stmt::Decl(d) => {
                    if let Some(first) = seen.insert(&d.name.v, *line) {
                        self.b.err(*line, d.name.span.clone(), format!("duplicate declaration of `{}` (first declared at line {first})", d.name.v));
                        continue;
                    }
                    self.decl(*line, d, types, specs, &mut decls, &mut spec_of_decl);
                }
                Stmt::Row(_) => {}
                Stmt::Map(m) => self.b.err(*line, m.span.clone(), "a `map` line takes effect when the patch is loaded (start, or reload the file), not when lines are evaluated"),
            }
        }
        (decls, spec_of_decl, removes)
    }

    /// Adds the new neurons (implicit ones, then declared ones) to `scratch`, the copy of the
    /// running network they are checked on; an error for each that does not fit.
    fn check_new(
        &mut self,
        scratch: &mut Network,
        new_specs: &[(String, NeuronSpec)],
        decls: &[(usize, &Decl)],
        specs: &[(String, NeuronSpec)],
        spec_of_decl: &[usize],
    ) {
        for (name, spec) in new_specs {
            if let Err(e) = scratch.add(name, spec, &AssetDirs::default()) {
                self.b
                    .err(1, 0..1, format!("implicit neuron `{name}`: {}", e.msg));
            }
        }
        for (k, (line, d)) in decls.iter().enumerate() {
            let (name, spec) = &specs[spec_of_decl[k]];
            match scratch.add(name, spec, self.b.assets()) {
                Ok(()) => {}
                Err(e) => {
                    let span = super::values::field_span(d, &e.field);
                    self.b.err(*line, span, e.msg);
                }
            }
        }
    }

    /// A declaration: new (added), identical to the running neuron (nothing) or different
    /// (refused).
    fn decl<'d>(
        &mut self,
        line: usize,
        d: &'d Decl,
        types: &mut HashMap<String, &'static TypeInfo>,
        specs: &mut Vec<(String, NeuronSpec)>,
        decls: &mut Vec<(usize, &'d Decl)>,
        spec_of_decl: &mut Vec<usize>,
    ) {
        let spec = match decl_spec(d) {
            Ok(s) => s,
            Err((span, msg)) => return self.b.err(line, span, msg),
        };
        let Some(info) = type_info(&spec.ty) else {
            return self.b.err(line, d.ty.span.clone(), unknown_type(&spec.ty));
        };
        if let Some((_, running)) = self.net.find(&d.name.v) {
            let has_matrix = d
                .settings
                .iter()
                .any(|s| matches!(s.value.v, super::parse::Value::Matrix(_)));
            let keep = d.kind.is_some();
            if !has_matrix && essence(&spec, keep) == essence(&running.spec, keep) {
                return; // already running as declared
            }
            return self.b.err(
                line,
                d.name.span.clone(),
                format!(
                    "`{}` is already running with another type or settings; `remove {}` first (its state is lost), or evaluate the whole buffer (Ctrl+Shift+Enter) to replace it",
                    d.name.v, d.name.v
                ),
            );
        }
        types.insert(d.name.v.clone(), info);
        spec_of_decl.push(specs.len());
        specs.push((d.name.v.clone(), spec));
        decls.push((line, d));
    }

    fn rows(
        &mut self,
        stmts: &[(usize, Stmt)],
        rows: &[RRow],
        scratch: &Network,
        one_of: &HashMap<Kind, String>,
        kinds: &HashMap<PortRef, Kind>,
        edits: &mut Vec<Edit>,
    ) {
        let mut stated: HashSet<&PortRef> = HashSet::new();
        for r in rows {
            let Some(i) = r.stmt else { continue };
            let Stmt::Row(row) = &stmts[i].1 else {
                continue;
            };
            let morph = row.morph.unwrap_or(self.default_morph);
            if !row.add && !stated.insert(&r.target) {
                self.b.err(
                    r.line,
                    r.target_span.clone(),
                    format!(
                        "the row `{}` is stated twice; use `+=` to add to a row",
                        r.target
                    ),
                );
                continue;
            }
            for (span, msg) in check_row(scratch, r, one_of, kinds, !row.add) {
                self.b.err(r.line, span, msg);
            }
            let mut new = WMatrix::new();
            add_terms(&mut new, r, one_of, kinds);
            let empty = Default::default();
            let new_row = new.row(&r.target).unwrap_or(&empty);
            for (src, &v) in new_row {
                edits.push(if row.add {
                    Edit::Add {
                        target: r.target.clone(),
                        source: src.clone(),
                        weight: v,
                        morph,
                    }
                } else {
                    Edit::Set {
                        target: r.target.clone(),
                        source: src.clone(),
                        weight: v,
                        morph,
                    }
                });
            }
            if row.add {
                continue;
            }
            if let Some(old) = self.w.row(&r.target) {
                for src in old.keys() {
                    let core = src.neuron == EDITS && r.target.neuron == SELF;
                    if !core && !new_row.contains_key(src) {
                        edits.push(Edit::Set {
                            target: r.target.clone(),
                            source: src.clone(),
                            weight: 0.0,
                            morph,
                        });
                    }
                }
            }
        }
    }
}

fn stmt_uses(s: &Stmt, name: &str) -> bool {
    let lin = |l: &super::expr::Lin| l.terms.iter().any(|(s, _)| s.name == name);
    match s {
        Stmt::Row(r) => r.target.name == name || lin(&r.lin),
        Stmt::Decl(d) => d.settings.iter().any(|st| match &st.value.v {
            super::parse::Value::Matrix(m) => m.iter().any(|(t, l)| t.name == name || lin(l)),
            _ => false,
        }),
        _ => false,
    }
}
