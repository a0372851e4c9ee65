//! The lexer of the text language: one line at a time (every statement is one line), tokens
//! with byte ranges so errors and syntax colours point at the exact text.

use std::ops::Range;

/// One token of a line.
#[derive(Clone, Debug, PartialEq)]
pub enum Tok {
    /// A name; `quoted` when written in backquotes (`` `pi` ``): always a neuron, never a constant.
    Ident { name: String, quoted: bool },
    /// A number literal (finite). `int` holds the literal when it is a plain integer, so that
    /// large seeds survive without going through f64.
    Num { value: f64, int: Option<u64> },
    /// A double-quoted string (escapes `\"`, `\\`, `\n`, `\t`).
    Str(String),
    /// Punctuation and operators: `:` `.` `=` `<-` `+=` `+` `-` `*` `/` `(` `)` `{` `}` `;` `~` `,`
    Op(&'static str),
    /// `# ...` to the end of the line; the text after `#` with one leading space removed.
    Comment(String),
    /// Something that is not a token; the message says why.
    Bad(String),
}

#[derive(Clone, Debug, PartialEq)]
pub struct Token {
    pub tok: Tok,
    /// Byte range in the line.
    pub span: Range<usize>,
}

const OPS: [&str; 15] = [
    "<-", "+=", ":", ".", "=", "+", "-", "*", "/", "(", ")", "{", "}", ";", "~",
];

fn ident_start(c: char) -> bool {
    c.is_ascii_alphabetic() || c == '_'
}

fn ident_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

/// Splits a line into tokens. Never fails: what cannot be read becomes a `Bad` token.
pub fn lex(line: &str) -> Vec<Token> {
    let b = line.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        let c = line[i..].chars().next().unwrap_or(' ');
        if c.is_whitespace() {
            i += c.len_utf8();
            continue;
        }
        let start = i;
        let tok = if c == '#' {
            let text = &line[i + 1..];
            i = line.len();
            Tok::Comment(
                text.strip_prefix(' ')
                    .unwrap_or(text)
                    .trim_end()
                    .to_string(),
            )
        } else if ident_start(c) {
            i = ident_end(line, i);
            Tok::Ident {
                name: line[start..i].to_string(),
                quoted: false,
            }
        } else if c.is_ascii_digit() || (c == '.' && b.get(i + 1).is_some_and(u8::is_ascii_digit)) {
            let (tok, end) = number(line, i);
            i = end;
            tok
        } else if c == '`' {
            match line[i + 1..].find('`') {
                Some(n) => {
                    i += n + 2;
                    let name = &line[start + 1..i - 1];
                    if name.is_empty() {
                        Tok::Bad("empty name in backquotes".into())
                    } else {
                        Tok::Ident {
                            name: name.to_string(),
                            quoted: true,
                        }
                    }
                }
                None => {
                    i = line.len();
                    Tok::Bad("unterminated `name`: expected a closing backquote".into())
                }
            }
        } else if c == '"' {
            let (tok, end) = string(line, i);
            i = end;
            tok
        } else if let Some(op) = OPS.iter().find(|op| line[i..].starts_with(**op)) {
            i += op.len();
            Tok::Op(op)
        } else {
            i += c.len_utf8();
            Tok::Bad(format!("unexpected character {c:?}"))
        };
        out.push(Token {
            tok,
            span: start..i,
        });
    }
    out
}

/// A name runs over letters, digits and `_`; a `-` joins two parts of one name when it is
/// directly between name characters and followed by a letter (`left-hand`), so `a - b` and
/// `pi-1` still subtract.
fn ident_end(line: &str, mut i: usize) -> usize {
    let b = line.as_bytes();
    loop {
        while i < b.len() && ident_char(b[i] as char) {
            i += 1;
        }
        if i + 1 < b.len() && b[i] == b'-' && ident_start(b[i + 1] as char) {
            i += 1;
            continue;
        }
        return i;
    }
}

fn number(line: &str, start: usize) -> (Tok, usize) {
    let b = line.as_bytes();
    let mut i = start;
    let digits = |i: &mut usize| {
        while *i < b.len() && b[*i].is_ascii_digit() {
            *i += 1;
        }
    };
    digits(&mut i);
    let mut plain = true;
    if i < b.len() && b[i] == b'.' && !b.get(i + 1).is_some_and(|c| ident_start(*c as char)) {
        plain = false;
        i += 1;
        digits(&mut i);
    }
    // An exponent only when digits follow (`2e` is 2 times a neuron `e`).
    if i < b.len() && (b[i] == b'e' || b[i] == b'E') {
        let mut j = i + 1;
        if j < b.len() && (b[j] == b'+' || b[j] == b'-') {
            j += 1;
        }
        if j < b.len() && b[j].is_ascii_digit() {
            plain = false;
            i = j;
            digits(&mut i);
        }
    }
    let text = &line[start..i];
    let tok = match text.parse::<f64>() {
        Ok(v) if v.is_finite() => Tok::Num {
            value: v,
            int: if plain {
                text.parse::<u64>().ok()
            } else {
                None
            },
        },
        _ => Tok::Bad(format!(
            "number {text} is out of range (expected a finite number)"
        )),
    };
    (tok, i)
}

fn string(line: &str, start: usize) -> (Tok, usize) {
    let mut s = String::new();
    let mut chars = line[start + 1..].char_indices();
    while let Some((k, c)) = chars.next() {
        match c {
            '"' => return (Tok::Str(s), start + 1 + k + 1),
            '\\' => match chars.next() {
                Some((_, 'n')) => s.push('\n'),
                Some((_, 't')) => s.push('\t'),
                Some((_, c @ ('"' | '\\'))) => s.push(c),
                Some((_, c)) => {
                    return (
                        Tok::Bad(format!(
                            "unknown escape \\{c} in a string (expected \\\", \\\\, \\n or \\t)"
                        )),
                        line.len(),
                    );
                }
                None => break,
            },
            c => s.push(c),
        }
    }
    (
        Tok::Bad("unterminated string: expected a closing \"".into()),
        line.len(),
    )
}

/// Writes a string literal the lexer reads back to the same string.
pub fn quote(s: &str) -> String {
    let mut q = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => q.push_str("\\\""),
            '\\' => q.push_str("\\\\"),
            '\n' => q.push_str("\\n"),
            '\t' => q.push_str("\\t"),
            c => q.push(c),
        }
    }
    q.push('"');
    q
}

/// Whether `name` reads back as one plain name token (otherwise it is written in backquotes).
pub fn is_plain_name(name: &str) -> bool {
    name.starts_with(ident_start)
        && ident_end(name, 0) == name.len()
        && !name.contains('-')
        && !super::RESERVED.contains(&name)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn toks(line: &str) -> Vec<Tok> {
        lex(line).into_iter().map(|t| t.tok).collect()
    }

    fn id(s: &str) -> Tok {
        Tok::Ident {
            name: s.into(),
            quoted: false,
        }
    }

    #[test]
    fn numbers_names_and_operators() {
        assert_eq!(
            toks("ph.freq <- 440 + 3e-1 vib # hi"),
            vec![
                id("ph"),
                Tok::Op("."),
                id("freq"),
                Tok::Op("<-"),
                Tok::Num {
                    value: 440.0,
                    int: Some(440)
                },
                Tok::Op("+"),
                Tok::Num {
                    value: 0.3,
                    int: None
                },
                id("vib"),
                Tok::Comment("hi".into()),
            ]
        );
        assert_eq!(toks("pi-1")[0], id("pi"));
        assert_eq!(toks("left-hand")[0], id("left-hand"));
        assert_eq!(toks("2e")[1], id("e"));
        assert!(matches!(toks("1e999")[0], Tok::Bad(_)));
        assert!(matches!(toks("\"abc")[0], Tok::Bad(_)));
        assert_eq!(toks(r#""a\"b""#)[0], Tok::Str("a\"b".into()));
        assert_eq!(
            toks("`pi`")[0],
            Tok::Ident {
                name: "pi".into(),
                quoted: true
            }
        );
        assert!(matches!(toks("a $ b")[1], Tok::Bad(_)));
        assert_eq!(lex("  osc")[0].span, 2..5);
    }
}
