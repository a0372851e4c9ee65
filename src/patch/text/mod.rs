//! The text form of a patch (`.dmm`): one line per neuron, one line per row of W.
//!
//! ```text
//! # 440 Hz with a slow vibrato
//! settings tick_rate=375 sample_rate=48000 image=64x64
//! vib : sin                   # scalar LFO
//! ph  : phasor                # audio: inferred from osc
//! osc : sin audio
//! out : audio_out
//! vib.x     <- t.seconds      # t: the built-in time neuron
//! vib.a     <- 2*pi*5
//! ph.freq   <- 440 + 3 vib    # 440: a weight on an implicit constant `one`
//! osc.x     <- ph
//! osc.a     <- tau
//! out.left  <- 0.3 osc
//! out.right <- 0.3 osc ~2s    # this row's change morphs over 2 s when evaluated
//! ```
//!
//! The grammar is in the README (*The patch language*). `parse_text` reads a whole file into a
//! checked [`Patch`]; `print_text` writes one back (canonical: `print(parse(print(p))) ==
//! print(p)`); `eval_snippet` turns lines typed into the running instrument into one edit request
//! for Self; `highlight` gives syntax colours.

mod build;
mod eval;
mod expr;
pub mod layout;
mod lex;
mod parse;
pub mod pick;
mod print;
mod resolve;
mod values;

pub use build::{parse_buffer, parse_text};
pub use eval::eval_snippet;
pub use layout::{Item, Layout};
pub use print::{format_number, print_row, print_text};
pub use resolve::one_name;

use crate::neurons::type_info;
use std::fmt;
use std::ops::Range;

/// Words that mean something else in an expression: a neuron with one of these names is written
/// in backquotes (`` `pi` ``).
pub const RESERVED: [&str; 3] = ["pi", "tau", "settings"];

/// Name of the built-in time neuron, created when a patch uses it without declaring it.
pub const TIME: &str = "t";

/// One error in a piece of text: 1-based line and column (in characters), the length of the
/// offending text (at least 1) and what was expected.
#[derive(Clone, Debug, PartialEq)]
pub struct TextError {
    pub line: usize,
    pub col: usize,
    pub len: usize,
    pub msg: String,
}

impl fmt::Display for TextError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}: {}", self.line, self.col, self.msg)
    }
}

impl std::error::Error for TextError {}

impl TextError {
    /// An error on `span` (bytes) of `line_text`, which is line `line` (1-based).
    pub(crate) fn at(
        line: usize,
        line_text: &str,
        span: Range<usize>,
        msg: impl Into<String>,
    ) -> Self {
        let start = span.start.min(line_text.len());
        let end = span.end.clamp(start, line_text.len());
        let col = line_text.get(..start).map_or(start, |s| s.chars().count()) + 1;
        let len = line_text
            .get(start..end)
            .map_or(1, |s| s.chars().count())
            .max(1);
        TextError {
            line,
            col,
            len,
            msg: msg.into(),
        }
    }
}

/// What a piece of a line is, for syntax colours.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TokenClass {
    /// A neuron name (or a string value such as a file name).
    Name,
    /// A neuron type after `:`.
    Type,
    /// `scalar`, `audio`, `image` or `matrix` in a declaration.
    Kind,
    /// A port after `.`.
    Port,
    /// A number or a named constant (`pi`, `tau`).
    Number,
    /// `settings` and setting names before `=`.
    Keyword,
    /// `<-`, `+=`, `:`, `=`, arithmetic and brackets.
    Operator,
    /// `# ...`
    Comment,
    /// A morph time (`~2s`).
    Morph,
    /// Something that cannot be read (or an unknown type).
    Error,
}

const KINDS: [&str; 4] = ["scalar", "audio", "image", "matrix"];

/// Syntax colours for one line: byte ranges and what they are, in order, not overlapping.
/// Whitespace is not covered. Never fails.
pub fn highlight(line: &str) -> Vec<(Range<usize>, TokenClass)> {
    use lex::Tok;
    let toks = lex::lex(line);
    let is_op = |i: usize, op: &str| {
        toks.get(i)
            .is_some_and(|t| matches!(&t.tok, Tok::Op(o) if *o == op))
    };
    let decl = is_op(1, ":");
    let mut out: Vec<(Range<usize>, TokenClass)> = Vec::with_capacity(toks.len());
    let mut morph = false;
    for (i, t) in toks.iter().enumerate() {
        let class = match &t.tok {
            Tok::Comment(_) => TokenClass::Comment,
            Tok::Bad(_) => TokenClass::Error,
            Tok::Op("~") => {
                morph = true;
                TokenClass::Morph
            }
            _ if morph && !matches!(t.tok, Tok::Op(_)) => TokenClass::Morph,
            Tok::Num { .. } => TokenClass::Number,
            Tok::Str(_) => TokenClass::Name,
            Tok::Op(_) => TokenClass::Operator,
            Tok::Ident { name, quoted } => {
                if i > 0 && is_op(i - 1, ".") {
                    TokenClass::Port
                } else if i > 0 && is_op(i - 1, ":") {
                    if type_info(name).is_some() {
                        TokenClass::Type
                    } else {
                        TokenClass::Error
                    }
                } else if is_op(i + 1, "=") || (i == 0 && !quoted && name == "settings") {
                    TokenClass::Keyword
                } else if decl && i > 2 && KINDS.contains(&name.as_str()) {
                    TokenClass::Kind
                } else if (!quoted && (name == "pi" || name == "tau"))
                    || (i > 0 && is_op(i - 1, "=") && name.starts_with('x'))
                {
                    TokenClass::Number // a named constant, or the `x64` of `image=64x64`
                } else {
                    TokenClass::Name
                }
            }
        };
        if !matches!(t.tok, Tok::Op("~")) && !matches!(t.tok, Tok::Num { .. } | Tok::Ident { .. }) {
            morph = false;
        }
        out.push((t.span.clone(), class));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn highlight_classes() {
        let line = "osc : sin audio init=2 # tone";
        let h = highlight(line);
        let classes: Vec<(&str, TokenClass)> =
            h.iter().map(|(r, c)| (&line[r.clone()], *c)).collect();
        assert_eq!(
            classes,
            vec![
                ("osc", TokenClass::Name),
                (":", TokenClass::Operator),
                ("sin", TokenClass::Type),
                ("audio", TokenClass::Kind),
                ("init", TokenClass::Keyword),
                ("=", TokenClass::Operator),
                ("2", TokenClass::Number),
                ("# tone", TokenClass::Comment),
            ]
        );
        let line = "out.left <- 0.3 osc ~2s";
        let c: Vec<TokenClass> = highlight(line).into_iter().map(|(_, c)| c).collect();
        assert_eq!(
            c,
            vec![
                TokenClass::Name,
                TokenClass::Operator,
                TokenClass::Port,
                TokenClass::Operator,
                TokenClass::Number,
                TokenClass::Name,
                TokenClass::Morph,
                TokenClass::Morph,
                TokenClass::Morph,
            ]
        );
        assert_eq!(highlight("x : sinn")[2].1, TokenClass::Error);
        assert_eq!(highlight("a $")[1].1, TokenClass::Error);
    }
}
