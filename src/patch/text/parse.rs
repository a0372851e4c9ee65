//! One line → one statement. Every statement is one line: a declaration, a row of W, the
//! settings line or (when evaluating) a removal. Comments and blank lines are not statements.

use super::TextError;
use super::expr::{Cursor, Lin, sum};
use super::lex::{Tok, Token, lex};
use std::ops::Range;

/// A name with where it was written.
#[derive(Clone, Debug, PartialEq)]
pub struct Spanned<T> {
    pub v: T,
    pub span: Range<usize>,
}

/// `neuron` or `neuron.port` on the left of `<-`.
#[derive(Clone, Debug, PartialEq)]
pub struct Target {
    pub name: String,
    pub port: Option<String>,
    pub span: Range<usize>,
}

#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    Num {
        value: f64,
        int: Option<u64>,
    },
    Str(String),
    /// `64x32`: rows × cols.
    Shape(usize, usize),
    /// `{t.p <- 1 a - b; ...}`: a W-shaped value (a matrix neuron's init).
    Matrix(Vec<(Target, Lin)>),
}

#[derive(Clone, Debug, PartialEq)]
pub struct Setting {
    pub key: Spanned<String>,
    pub value: Spanned<Value>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Decl {
    pub name: Spanned<String>,
    pub ty: Spanned<String>,
    pub kind: Option<Spanned<String>>,
    pub settings: Vec<Setting>,
    pub comment: Option<String>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Row {
    pub target: Target,
    /// `+=` (add to the row) rather than `<-` (the whole row).
    pub add: bool,
    pub lin: Lin,
    /// `~2s`: seconds.
    pub morph: Option<f64>,
    pub comment: Option<String>,
}

#[derive(Clone, Debug, PartialEq)]
pub enum Stmt {
    Settings(Vec<Setting>),
    Decl(Decl),
    Row(Row),
    Remove {
        name: Spanned<String>,
        morph: Option<f64>,
    },
    /// `map SPEC`: a controller mapped onto a weight (`patch::mapping`); the span is SPEC's.
    Map(Spanned<String>),
}

const KINDS: [&str; 4] = ["scalar", "audio", "image", "matrix"];

/// What a line is: `Ok(None)` for blank and comment-only lines (the comment, if any, in the
/// second field).
pub fn parse_line(text: &str, line: usize) -> Result<(Option<Stmt>, Option<String>), TextError> {
    if let Some(m) = map_line(text) {
        return Ok(m);
    }
    let toks = lex(text);
    if let Some(t) = toks.iter().find(|t| matches!(t.tok, Tok::Bad(_))) {
        let Tok::Bad(m) = &t.tok else { unreachable!() };
        return Err(TextError::at(line, text, t.span.clone(), m.clone()));
    }
    let comment = match toks.last() {
        Some(Token {
            tok: Tok::Comment(c),
            ..
        }) => Some(c.clone()),
        _ => None,
    };
    let mut c = Cursor::new(&toks, line, text);
    if c.at_end() {
        return Ok((None, comment));
    }
    let ident = |k: usize| match c.peek_at(k) {
        Some(Tok::Ident { name, quoted }) => Some((name.as_str(), *quoted)),
        _ => None,
    };
    let second_is = |op: &str| matches!(c.peek_at(1), Some(Tok::Op(o)) if *o == op);
    let stmt = match ident(0) {
        Some(("settings", false)) if !second_is(":") && !second_is(".") => {
            c.pos += 1;
            Stmt::Settings(settings(&mut c, false)?)
        }
        Some(("remove", false)) if ident(1).is_some() => {
            c.pos += 1;
            let name = name(&mut c)?;
            let morph = morph(&mut c)?;
            end(&c, "`~MORPH` or the end of the line")?;
            Stmt::Remove { name, morph }
        }
        Some(_) if second_is(":") => Stmt::Decl(decl(&mut c, comment.clone())?),
        Some(_) => Stmt::Row(row(&mut c, comment.clone())?),
        None => {
            return Err(c.expected(
                "a declaration `name : type`, a row `neuron.port <- ...`, `settings ...` or a `# comment`",
            ));
        }
    };
    Ok((Some(stmt), comment))
}

/// `map SPEC [# comment]`, read as words (an OSC address is not a token of the language);
/// `map : type` and `map.port <- ...` stay a declaration and a row of a neuron named `map`.
fn map_line(text: &str) -> Option<(Option<Stmt>, Option<String>)> {
    let start = text.len() - text.trim_start().len();
    let rest = text[start..].strip_prefix("map")?;
    if !rest.starts_with([' ', '\t']) {
        return None;
    }
    let after = rest.trim_start();
    if after.is_empty() || after.starts_with([':', '.', '<', '+']) {
        return None;
    }
    let (body, comment) = match text.find('#') {
        Some(i) => {
            let c = &text[i + 1..];
            let c = c.strip_prefix(' ').unwrap_or(c).trim_end();
            (&text[..i], Some(c.to_string()))
        }
        None => (text, None),
    };
    let spec_start = start + 3 + (rest.len() - after.len());
    let spec = body.get(spec_start..)?.trim_end().to_string();
    let span = spec_start..spec_start + spec.len();
    Some((Some(Stmt::Map(Spanned { v: spec, span })), comment))
}

fn end(c: &Cursor, what: &str) -> Result<(), TextError> {
    if c.at_end() {
        Ok(())
    } else {
        Err(c.expected(what))
    }
}

fn name(c: &mut Cursor) -> Result<Spanned<String>, TextError> {
    match c.toks.get(c.pos) {
        Some(Token {
            tok: Tok::Ident { name, .. },
            span,
        }) => {
            c.pos += 1;
            Ok(Spanned {
                v: name.clone(),
                span: span.clone(),
            })
        }
        _ => Err(c.expected("a name")),
    }
}

fn decl(c: &mut Cursor, comment: Option<String>) -> Result<Decl, TextError> {
    let name = name(c)?;
    c.eat(":");
    let ty = match c.toks.get(c.pos) {
        Some(Token {
            tok: Tok::Ident {
                name,
                quoted: false,
            },
            span,
        }) => {
            c.pos += 1;
            Spanned {
                v: name.clone(),
                span: span.clone(),
            }
        }
        _ => return Err(c.expected("a neuron type after `:` (see `dmm-synth types`)")),
    };
    let mut kind = None;
    if let Some(Tok::Ident {
        name,
        quoted: false,
    }) = c.peek()
        && KINDS.contains(&name.as_str())
        && !matches!(c.peek_at(1), Some(Tok::Op("=")))
    {
        kind = Some(Spanned {
            v: name.clone(),
            span: c.here(),
        });
        c.pos += 1;
    }
    let settings = settings(c, true)?;
    Ok(Decl {
        name,
        ty,
        kind,
        settings,
        comment,
    })
}

/// `key=value ...` to the end of the line.
fn settings(c: &mut Cursor, neuron: bool) -> Result<Vec<Setting>, TextError> {
    let mut out: Vec<Setting> = Vec::new();
    while !c.at_end() {
        let key = match c.toks.get(c.pos) {
            Some(Token {
                tok:
                    Tok::Ident {
                        name,
                        quoted: false,
                    },
                span,
            }) if matches!(c.peek_at(1), Some(Tok::Op("="))) => Spanned {
                v: name.clone(),
                span: span.clone(),
            },
            _ if neuron => {
                return Err(c.expected(
                    "`key=value` (a setting such as init=1) or a `# comment` after the type and kind",
                ));
            }
            _ => return Err(c.expected("`key=value` (tick_rate=375, image=64x64, ...)")),
        };
        if neuron && (key.v == "kind" || key.v == "type") {
            return Err(c.err(
                key.span.clone(),
                format!(
                    "write the {} as a word after `:` (`osc : sin audio`), not as {}=",
                    key.v, key.v
                ),
            ));
        }
        if let Some(first) = out.iter().find(|s| s.key.v == key.v) {
            return Err(c.err(
                key.span.clone(),
                format!(
                    "setting `{}` appears twice on this line (first at column {})",
                    key.v,
                    first.key.span.start + 1
                ),
            ));
        }
        c.pos += 2;
        let from = c.pos;
        let value = value(c, &key.v)?;
        out.push(Setting {
            key,
            value: Spanned {
                v: value,
                span: c.since(from),
            },
        });
    }
    Ok(out)
}

fn value(c: &mut Cursor, key: &str) -> Result<Value, TextError> {
    match c.peek() {
        Some(Tok::Str(s)) => {
            c.pos += 1;
            return Ok(Value::Str(s.clone()));
        }
        Some(Tok::Op("{")) => {
            c.pos += 1;
            return matrix(c).map(Value::Matrix);
        }
        _ => {}
    }
    if key == "file" {
        return Ok(Value::Str(bare_word(c)));
    }
    // `64x32`: a number followed directly by a name `x32`.
    if let (Some(Tok::Num { int: Some(r), .. }), Some(t)) = (c.peek(), c.toks.get(c.pos + 1))
        && let Tok::Ident {
            name,
            quoted: false,
        } = &t.tok
        && t.span.start == c.toks[c.pos].span.end
        && let Some(cols) = name.strip_prefix('x').and_then(|d| d.parse::<u64>().ok())
    {
        c.pos += 2;
        return Ok(Value::Shape(*r as usize, cols as usize));
    }
    if let Some(Tok::Num { value, int }) = c.peek()
        && next_ends_value(c, 1)
    {
        c.pos += 1;
        return Ok(Value::Num {
            value: *value,
            int: *int,
        });
    }
    let from = c.pos;
    let lin = sum(c)?;
    if !lin.is_constant() {
        return Err(c.err(
            c.since(from),
            format!("`{key}` takes a number, a \"string\" or a {{matrix}}, not a stream"),
        ));
    }
    Ok(Value::Num {
        value: lin.constant,
        int: None,
    })
}

/// Whether the token `k` ahead ends a value (another setting, a comment or the end).
fn next_ends_value(c: &Cursor, k: usize) -> bool {
    match c.peek_at(k) {
        None | Some(Tok::Comment(_)) => true,
        Some(Tok::Ident { .. }) => matches!(c.peek_at(k + 1), Some(Tok::Op("="))),
        _ => false,
    }
}

/// A bare file name (`file=astronaut.png`): the text up to the next space.
fn bare_word(c: &mut Cursor) -> String {
    let start = c.here().start.min(c.text.len());
    let rest = &c.text[start..];
    let len = rest
        .find(|ch: char| ch.is_whitespace() || ch == '#')
        .unwrap_or(rest.len());
    while c
        .toks
        .get(c.pos)
        .is_some_and(|t| t.span.start < start + len)
    {
        c.pos += 1;
    }
    rest[..len].to_string()
}

/// `{ target <- expr ; ... }` (the `{` taken).
fn matrix(c: &mut Cursor) -> Result<Vec<(Target, Lin)>, TextError> {
    let mut rows = Vec::new();
    loop {
        if c.eat("}") {
            return Ok(rows);
        }
        if c.at_end() {
            return Err(c.expected("`}` to close the matrix"));
        }
        let t = target(c)?;
        if !c.eat("<-") {
            return Err(c.expected("`<-` after the row's port"));
        }
        let lin = if c.is_op(";") || c.is_op("}") {
            Lin::default()
        } else {
            sum(c)?
        };
        rows.push((t, lin));
        if !c.eat(";") && !c.is_op("}") {
            return Err(c.expected("`;` between rows or `}` to close the matrix"));
        }
    }
}

fn target(c: &mut Cursor) -> Result<Target, TextError> {
    let from = c.pos;
    let n = name(c)?;
    let port = if c.eat(".") {
        Some(name(c).map_err(|_| c.expected("a port name after `.`"))?.v)
    } else {
        None
    };
    Ok(Target {
        name: n.v,
        port,
        span: c.since(from),
    })
}

fn row(c: &mut Cursor, comment: Option<String>) -> Result<Row, TextError> {
    let target = target(c)?;
    let add = if c.eat("<-") {
        false
    } else if c.eat("+=") {
        true
    } else if c.is_op("=") {
        return Err(c.expected("`<-` (a row of W is written `target.port <- 0.5 source`)"));
    } else {
        return Err(c.expected("`:` (a declaration) or `<-` / `+=` (a row of W)"));
    };
    let lin = if c.at_end() || c.is_op("~") {
        Lin::default()
    } else {
        sum(c)?
    };
    let morph = morph(c)?;
    end(c, "`+`, `-`, `~MORPH` or the end of the line")?;
    Ok(Row {
        target,
        add,
        lin,
        morph,
        comment,
    })
}

/// `~2s`, `~300ms`, `~0.5` (seconds).
fn morph(c: &mut Cursor) -> Result<Option<f64>, TextError> {
    if !c.eat("~") {
        return Ok(None);
    }
    let Some(Tok::Num { value, .. }) = c.peek() else {
        return Err(c.expected("a morph time after `~`, such as ~2s or ~300ms"));
    };
    c.pos += 1;
    let scale = match c.peek() {
        Some(Tok::Ident {
            name,
            quoted: false,
        }) if name == "s" => 1.0,
        Some(Tok::Ident {
            name,
            quoted: false,
        }) if name == "ms" => 1e-3,
        Some(Tok::Ident { .. }) => return Err(c.expected("the unit `s` or `ms`")),
        _ => return Ok(Some(*value)),
    };
    c.pos += 1;
    Ok(Some(value * scale))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stmt(s: &str) -> Stmt {
        parse_line(s, 1).unwrap().0.unwrap()
    }

    #[test]
    fn statements() {
        let Stmt::Decl(d) = stmt("osc : sin audio init=2 # tone") else {
            panic!()
        };
        assert_eq!((d.name.v.as_str(), d.ty.v.as_str()), ("osc", "sin"));
        assert_eq!(d.kind.unwrap().v, "audio");
        assert_eq!(d.comment.as_deref(), Some("tone"));
        assert_eq!(
            d.settings[0].value.v,
            Value::Num {
                value: 2.0,
                int: Some(2)
            }
        );
        let Stmt::Settings(s) = stmt("settings tick_rate=375 image=64x32 morph=0.5") else {
            panic!()
        };
        assert_eq!(s[1].value.v, Value::Shape(64, 32));
        let Stmt::Row(r) = stmt("out.right += 0.3 osc ~300ms") else {
            panic!()
        };
        assert!(r.add);
        assert_eq!(r.morph, Some(0.3));
        let Stmt::Decl(d) = stmt("p : picture file=../assets/a.png") else {
            panic!()
        };
        assert_eq!(d.settings[0].value.v, Value::Str("../assets/a.png".into()));
        let Stmt::Decl(d) = stmt("u : identity matrix init={a.in <- -k1 + k2; self.delta <- u}")
        else {
            panic!()
        };
        let Value::Matrix(m) = &d.settings[0].value.v else {
            panic!()
        };
        assert_eq!(m.len(), 2);
        assert_eq!(
            parse_line("  # only", 3).unwrap(),
            (None, Some("only".into()))
        );
        assert!(matches!(
            stmt("remove osc ~2s"),
            Stmt::Remove {
                morph: Some(2.0),
                ..
            }
        ));
    }
}
