//! Which weight a point of a row's text stands for: the code editor's right click → *learn* on
//! a coefficient (`show.in <- 0.8 xy.x + 0.2 ones`: the `0.8` is the weight show.in <- xy.x).

use super::lex::{Tok, lex};
use super::parse::{Stmt, parse_line};
use super::resolve::{source_port, target_port};
use crate::neurons::TypeInfo;
use crate::stream::PortRef;

/// A weight written in a row, found under a point of its line.
#[derive(Clone, Debug, PartialEq)]
pub struct WeightAt {
    pub target: PortRef,
    pub source: PortRef,
    /// The row's coefficient of that source (all its terms summed, as the row means it).
    pub weight: f64,
}

/// The weight whose coefficient (or source name) covers byte `at` of `line`, a row of W; None
/// when the line is not a row, the point is on no term, or a name does not resolve through
/// `type_of` (neuron name → its type).
pub fn weight_at(
    line: &str,
    at: usize,
    type_of: &dyn Fn(&str) -> Option<&'static TypeInfo>,
) -> Option<WeightAt> {
    let Ok((Some(Stmt::Row(row)), _)) = parse_line(line, 1) else {
        return None;
    };
    let toks = lex(line);
    // The token under the point (its end counts: a click just after `0.8` means `0.8`).
    let i = toks
        .iter()
        .position(|t| t.span.start <= at && at <= t.span.end && !matches!(t.tok, Tok::Op(_)))?;
    // A number stands for the source written after it (`0.8 xy.x`, `0.8 * xy.x`).
    let name_at = match toks[i].tok {
        Tok::Num { .. } => {
            toks[i + 1..]
                .iter()
                .find(|t| !matches!(t.tok, Tok::Op("*") | Tok::Num { .. }))
                .filter(|t| matches!(t.tok, Tok::Ident { .. }))?
                .span
                .start
        }
        Tok::Ident { .. } => toks[i].span.start,
        _ => return None,
    };
    // The term whose source is written there (a port after `.` belongs to its neuron's name).
    let (src, weight) = row
        .lin
        .terms
        .iter()
        .find(|(s, _)| s.span.start <= name_at && name_at < s.span.end.max(s.span.start + 1))?;
    let target = target_port(&row.target, type_of(&row.target.name)?).ok()?;
    let source = source_port(src, type_of(&src.name)?).ok()?;
    Some(WeightAt {
        target,
        source,
        weight: *weight,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::neurons::type_info;

    fn types(name: &str) -> Option<&'static TypeInfo> {
        match name {
            "show" => type_info("display"),
            "xy" => type_info("coords"),
            "ones" => type_info("constant"),
            _ => None,
        }
    }

    #[test]
    fn finds_the_coefficient_under_the_point() {
        let line = "show.in <- 0.8 xy.x + 0.2 ones";
        let at = |s: &str| line.find(s).unwrap() + 1;
        let w = weight_at(line, at("0.8"), &types).unwrap();
        assert_eq!(w.target.to_string(), "show.in");
        assert_eq!(w.source.to_string(), "xy.x");
        assert_eq!(w.weight, 0.8);
        let w = weight_at(line, at("0.2"), &types).unwrap();
        assert_eq!(w.source.to_string(), "ones.out");
        assert_eq!(w.weight, 0.2);
        let w = weight_at(line, at("xy.x"), &types).unwrap();
        assert_eq!(w.weight, 0.8);
        assert_eq!(weight_at(line, at("show"), &types), None);
        assert_eq!(weight_at(line, at("<-"), &types), None);
        assert_eq!(weight_at("xy : coords", 1, &types), None);
        assert_eq!(weight_at("show.in <- 0.8 nope", 12, &types), None);
        assert_eq!(weight_at(line, 10_000, &types), None);
    }
}
