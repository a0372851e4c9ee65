//! Coefficient expressions: every right-hand side is a linear combination of sources with
//! constant coefficients (`440 + 3 vib`, `-(a + b)/2`, `2*pi*5`). A bare constant is a weight on
//! an implicit `one`.

use super::TextError;
use super::lex::{Tok, Token};
use std::ops::Range;

/// A token cursor over one line.
pub struct Cursor<'a> {
    pub toks: &'a [Token],
    pub pos: usize,
    /// 1-based line number, for errors.
    pub line: usize,
    pub text: &'a str,
}

impl<'a> Cursor<'a> {
    pub fn new(toks: &'a [Token], line: usize, text: &'a str) -> Self {
        Cursor {
            toks,
            pos: 0,
            line,
            text,
        }
    }

    pub fn peek(&self) -> Option<&'a Tok> {
        self.toks.get(self.pos).map(|t| &t.tok)
    }

    pub fn peek_at(&self, k: usize) -> Option<&'a Tok> {
        self.toks.get(self.pos + k).map(|t| &t.tok)
    }

    pub fn is_op(&self, op: &str) -> bool {
        matches!(self.peek(), Some(Tok::Op(o)) if *o == op)
    }

    /// Takes `op` if it comes next.
    pub fn eat(&mut self, op: &str) -> bool {
        let yes = self.is_op(op);
        if yes {
            self.pos += 1;
        }
        yes
    }

    pub fn bump(&mut self) -> Option<&'a Token> {
        let t = self.toks.get(self.pos);
        self.pos += usize::from(t.is_some());
        t
    }

    /// The span of the next token, or the end of the line.
    pub fn here(&self) -> Range<usize> {
        match self.toks.get(self.pos) {
            Some(Token {
                tok: Tok::Comment(_),
                ..
            })
            | None => {
                let end = self.text.trim_end().len();
                end..end + 1
            }
            Some(t) => t.span.clone(),
        }
    }

    /// The span from token `from` to the last one taken.
    pub fn since(&self, from: usize) -> Range<usize> {
        let start = self
            .toks
            .get(from)
            .map_or(self.text.len(), |t| t.span.start);
        let end = self
            .toks
            .get(self.pos.saturating_sub(1))
            .filter(|_| self.pos > from)
            .map_or(start, |t| t.span.end);
        start..end.max(start)
    }

    pub fn err(&self, span: Range<usize>, msg: impl Into<String>) -> TextError {
        TextError::at(self.line, self.text, span, msg)
    }

    /// An error about the next token: `expected ..., found ...`.
    pub fn expected(&self, what: &str) -> TextError {
        let found = match self.toks.get(self.pos).map(|t| &t.tok) {
            None | Some(Tok::Comment(_)) => "the end of the line".to_string(),
            Some(Tok::Bad(m)) => return self.err(self.here(), m.clone()),
            Some(_) => format!("`{}`", &self.text[self.here()]),
        };
        self.err(self.here(), format!("expected {what}, found {found}"))
    }

    /// At the end of the statement (nothing but maybe a comment left)?
    pub fn at_end(&self) -> bool {
        matches!(self.peek(), None | Some(Tok::Comment(_)))
    }
}

/// A source as written: `neuron` or `neuron.port`.
#[derive(Clone, Debug, PartialEq)]
pub struct Src {
    pub name: String,
    pub port: Option<String>,
    pub span: Range<usize>,
}

/// A linear combination `constant + Σ coef·source`.
#[derive(Clone, Debug, PartialEq, Default)]
pub struct Lin {
    pub constant: f64,
    /// Where the constant part was written (for errors about it).
    pub const_span: Option<Range<usize>>,
    pub terms: Vec<(Src, f64)>,
}

impl Lin {
    fn constant(c: f64, span: Range<usize>) -> Lin {
        Lin {
            constant: c,
            const_span: Some(span),
            terms: Vec::new(),
        }
    }

    pub fn is_constant(&self) -> bool {
        self.terms.is_empty()
    }

    fn scale(mut self, k: f64) -> Lin {
        self.constant *= k;
        for (_, c) in &mut self.terms {
            *c *= k;
        }
        self
    }

    fn add(mut self, other: Lin, sign: f64) -> Lin {
        self.constant += sign * other.constant;
        if self.const_span.is_none() {
            self.const_span = other.const_span;
        }
        for (s, c) in other.terms {
            match self
                .terms
                .iter_mut()
                .find(|(t, _)| t.name == s.name && t.port == s.port)
            {
                Some((_, k)) => *k += sign * c,
                None => self.terms.push((s, sign * c)),
            }
        }
        self
    }

    fn finite(&self) -> bool {
        self.constant.is_finite() && self.terms.iter().all(|(_, c)| c.is_finite())
    }
}

/// `sum := ['+'|'-'] product (('+'|'-') product)*`. Stops at `;`, `}`, `~`, `)`, a comment or
/// the end of the line.
pub fn sum(c: &mut Cursor) -> Result<Lin, TextError> {
    let mut acc = product(c)?;
    loop {
        let sign = if c.eat("+") {
            1.0
        } else if c.eat("-") {
            -1.0
        } else {
            return Ok(acc);
        };
        let from = c.pos;
        let r = product(c)?;
        acc = acc.add(r, sign);
        check_finite(c, &acc, from)?;
    }
}

fn check_finite(c: &Cursor, l: &Lin, from: usize) -> Result<(), TextError> {
    if l.finite() {
        Ok(())
    } else {
        Err(c.err(
            c.since(from),
            "this coefficient is too large (expected a finite number)",
        ))
    }
}

/// Can the next token start a factor (juxtaposition `2 osc` multiplies)?
/// A name followed by `=` is the next setting's key (`init=2 pi rows=4`), not a factor.
fn starts_factor(c: &Cursor) -> bool {
    match c.peek() {
        Some(Tok::Num { .. }) => true,
        Some(Tok::Ident { .. }) => !matches!(c.peek_at(1), Some(Tok::Op("="))),
        _ => c.is_op("("),
    }
}

/// `product := unary (('*' | '/')? unary)*`
fn product(c: &mut Cursor) -> Result<Lin, TextError> {
    let from = c.pos;
    let mut acc = unary(c)?;
    loop {
        let op_at = c.pos;
        let div = if c.eat("*") {
            false
        } else if c.eat("/") {
            true
        } else if starts_factor(c) {
            false
        } else {
            return Ok(acc);
        };
        let r_from = c.pos;
        let r = unary(c)?;
        acc = if div {
            if !r.is_constant() {
                return Err(c.err(
                    c.since(r_from),
                    "cannot divide by a stream: a coefficient is a constant",
                ));
            }
            if r.constant == 0.0 {
                return Err(c.err(c.since(op_at), "division by zero in a coefficient"));
            }
            acc.scale(1.0 / r.constant)
        } else if acc.is_constant() {
            r.scale(acc.constant)
        } else if r.is_constant() {
            acc.scale(r.constant)
        } else {
            return Err(c.err(
                c.since(from),
                "a term multiplies two streams; a weight is a constant (use a `mul` neuron to multiply streams)",
            ));
        };
        if acc.is_constant() {
            acc.const_span = Some(c.since(from));
        }
        check_finite(c, &acc, from)?;
    }
}

fn unary(c: &mut Cursor) -> Result<Lin, TextError> {
    if c.eat("-") {
        return Ok(unary(c)?.scale(-1.0));
    }
    if c.eat("+") {
        return unary(c);
    }
    primary(c)
}

fn primary(c: &mut Cursor) -> Result<Lin, TextError> {
    let from = c.pos;
    let Some(t) = c.toks.get(c.pos) else {
        return Err(c.expected("a number, a constant or a source `neuron[.port]`"));
    };
    match &t.tok {
        Tok::Num { value, .. } => {
            c.pos += 1;
            Ok(Lin::constant(*value, t.span.clone()))
        }
        Tok::Ident { name, quoted } => {
            c.pos += 1;
            if !quoted {
                match name.as_str() {
                    "pi" => return Ok(Lin::constant(std::f64::consts::PI, t.span.clone())),
                    "tau" => return Ok(Lin::constant(std::f64::consts::TAU, t.span.clone())),
                    _ => {}
                }
            }
            let port = if c.eat(".") {
                match c.bump() {
                    Some(Token {
                        tok: Tok::Ident { name, .. },
                        ..
                    }) => Some(name.clone()),
                    _ => {
                        c.pos -= 1;
                        return Err(c.expected("a port name after `.`"));
                    }
                }
            } else {
                None
            };
            Ok(Lin {
                constant: 0.0,
                const_span: None,
                terms: vec![(
                    Src {
                        name: name.clone(),
                        port,
                        span: c.since(from),
                    },
                    1.0,
                )],
            })
        }
        Tok::Op("(") => {
            c.pos += 1;
            let inner = sum(c)?;
            if !c.eat(")") {
                return Err(c.expected("`)` to close the `(`"));
            }
            Ok(inner)
        }
        _ => Err(c.expected("a number, a constant or a source `neuron[.port]`")),
    }
}

#[cfg(test)]
mod tests {
    use super::super::lex::lex;
    use super::*;

    fn eval(s: &str) -> Result<Lin, TextError> {
        let t = lex(s);
        let mut c = Cursor::new(&t, 1, s);
        let l = sum(&mut c)?;
        if !c.at_end() {
            return Err(c.expected("the end"));
        }
        Ok(l)
    }

    #[test]
    fn linear_combinations() {
        let l = eval("440 + 3 vib").unwrap();
        assert_eq!(l.constant, 440.0);
        assert_eq!(l.terms.len(), 1);
        assert_eq!(l.terms[0].1, 3.0);
        assert_eq!(
            eval("2*pi*5").unwrap().constant,
            2.0 * std::f64::consts::PI * 5.0
        );
        let l = eval("-(a + 2 b.out)/2 - a").unwrap();
        assert_eq!(l.terms[0].1, -1.5);
        assert_eq!(l.terms[1].0.port.as_deref(), Some("out"));
        assert_eq!(l.terms[1].1, -1.0);
        assert_eq!(eval("2 osc").unwrap().terms[0].1, 2.0);
        assert_eq!(eval("2*osc").unwrap().terms[0].1, 2.0);
        assert!(eval("1/0").unwrap_err().msg.contains("division by zero"));
        assert!(eval("a b").unwrap_err().msg.contains("two streams"));
        assert!(eval("1/a").unwrap_err().msg.contains("divide by a stream"));
        assert!(eval("(1 + 2").unwrap_err().msg.contains("`)`"));
        assert!(eval("1e300*1e300").unwrap_err().msg.contains("finite"));
    }
}
