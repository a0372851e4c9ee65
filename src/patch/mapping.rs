//! Controller mappings saved in a patch: which outside control (a MIDI CC, an OSC address)
//! drives which weight, through which range. One grammar for both forms of the file: a `.dmm`
//! line `map SPEC`, and in JSON a string of the top-level `"mappings"` array:
//!
//! ```text
//! map cc 1:74 ph.freq <- one.out 110..880 exp smooth=0.05
//! map osc /1/fader1 x.in <- k.out 0..1
//! ```
//!
//! `cc CH:CC` (CH 0 = any channel, 1–16; CC 0–127) or `osc /address`; the weight
//! `target.port <- source.port` (it must be type-correct in the patch); `MIN..MAX` (finite
//! weights); `exp` for `MIN·(MAX/MIN)^x` (both ends non-zero, of one sign) or `lin` (the default);
//! `smooth=SECONDS` (0..=60, default 0).

use crate::neurons::Network;
use crate::stream::{PortRef, weight_in_bounds};
use std::fmt;

/// The outside control of a mapping.
#[derive(Clone, Debug, PartialEq)]
pub enum Control {
    Cc { channel: u8, controller: u8 },
    Osc(String),
}

#[derive(Clone, Debug, PartialEq)]
pub struct MapSpec {
    pub control: Control,
    pub target: PortRef,
    pub source: PortRef,
    pub min: f64,
    pub max: f64,
    pub exp: bool,
    /// Seconds (0: none).
    pub smoothing: f64,
}

const GRAMMAR: &str =
    "cc CH:CC|osc /ADDRESS target.port <- source.port MIN..MAX [exp|lin] [smooth=SECONDS]";

impl MapSpec {
    /// Parses one mapping; the error says which part is wrong and what was expected.
    pub fn parse(text: &str) -> Result<MapSpec, String> {
        let words: Vec<&str> = text.split_whitespace().collect();
        let bad = |why: String| format!("{why} (a mapping is `{GRAMMAR}`)");
        let (control, rest) = match words.as_slice() {
            ["cc", ch_cc, rest @ ..] => (cc(ch_cc).map_err(bad)?, rest),
            ["osc", addr, rest @ ..] => {
                if !addr.starts_with('/') || addr.len() < 2 || addr.starts_with("/dmm/") {
                    return Err(bad(format!(
                        "OSC address {addr:?}: expected /something outside /dmm/"
                    )));
                }
                (Control::Osc(addr.to_string()), rest)
            }
            [first, ..] => {
                return Err(bad(format!("{first:?}: expected `cc` or `osc`")));
            }
            [] => return Err(bad("empty mapping".into())),
        };
        let [target, arrow, source, range, opts @ ..] = rest else {
            return Err(bad("expected the weight and the range".into()));
        };
        if *arrow != "<-" {
            return Err(bad(format!("{arrow:?}: expected `<-`")));
        }
        let target = PortRef::parse(target).map_err(|e| bad(format!("target: {e}")))?;
        let source = PortRef::parse(source).map_err(|e| bad(format!("source: {e}")))?;
        let (lo, hi) = range
            .split_once("..")
            .ok_or_else(|| bad(format!("range {range:?}: expected MIN..MAX")))?;
        let num = |s: &str, what: &str| -> Result<f64, String> {
            match s.parse::<f64>() {
                Ok(x) if weight_in_bounds(x) => Ok(x),
                _ => Err(bad(format!("{what} {s:?}: expected a finite weight"))),
            }
        };
        let (min, max) = (num(lo, "MIN")?, num(hi, "MAX")?);
        let (mut exp, mut smoothing) = (false, 0.0);
        for o in opts {
            match *o {
                "exp" => exp = true,
                "lin" => exp = false,
                s if s.starts_with("smooth=") => {
                    smoothing = match s["smooth=".len()..].parse::<f64>() {
                        Ok(x) if (0.0..=60.0).contains(&x) => x,
                        _ => return Err(bad(format!("{s:?}: expected smooth=0..60 seconds"))),
                    }
                }
                other => return Err(bad(format!("{other:?}: expected exp, lin or smooth=S"))),
            }
        }
        if exp && min * max <= 0.0 {
            return Err(bad(format!(
                "exponential range {min}..{max}: both ends must be non-zero and of one sign"
            )));
        }
        Ok(MapSpec {
            control,
            target,
            source,
            min,
            max,
            exp,
            smoothing,
        })
    }

    /// Checks the weight against the patch's network (ports exist, kinds match).
    pub fn check(&self, net: &Network) -> Result<(), String> {
        net.check_weight(&self.target, &self.source, 1.0)
            .map_err(|e| e.to_string())
    }
}

fn cc(s: &str) -> Result<Control, String> {
    let (ch, num) = s
        .split_once(':')
        .ok_or_else(|| format!("{s:?}: expected CH:CC"))?;
    match (ch.parse::<u8>(), num.parse::<u8>()) {
        (Ok(channel), Ok(controller)) if channel <= 16 && controller <= 127 => Ok(Control::Cc {
            channel,
            controller,
        }),
        _ => Err(format!(
            "{s:?}: expected channel 0..=16 (0: any) and controller 0..=127"
        )),
    }
}

/// The canonical form (what the files hold; `parse` reads it back unchanged).
impl fmt::Display for MapSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.control {
            Control::Cc {
                channel,
                controller,
            } => write!(f, "cc {channel}:{controller}")?,
            Control::Osc(a) => write!(f, "osc {a}")?,
        }
        write!(
            f,
            " {} <- {} {:?}..{:?}",
            self.target, self.source, self.min, self.max
        )?;
        if self.exp {
            write!(f, " exp")?;
        }
        if self.smoothing > 0.0 {
            write!(f, " smooth={:?}", self.smoothing)?;
        }
        Ok(())
    }
}
