//! Controller mappings saved in a patch: which outside control (a MIDI CC, an OSC address)
//! drives which weight, through which range. One grammar for both forms of the file: a `.dmm`
//! line `map SPEC`, and in JSON a string of the top-level `"mappings"` array:
//!
//! ```text
//! map cc 1:74 ph.freq <- one.out 110..880 exp smooth=0.05
//! map osc /1/fader1 x.in <- k.out 0..1
//! ```
//!
//! `cc CH:CC` (CH 0 = any channel, 1–16; CC 0–127), `note CH:NOTE` (gate: the velocity 0–1
//! while held, 0 once released) or `osc /address`; the weight
//! `target.port <- source.port` (it must be type-correct in the patch); `MIN..MAX` (finite
//! weights); `exp` for `MIN·(MAX/MIN)^x` (both ends non-zero, of one sign) or `lin` (the default);
//! `smooth=SECONDS` (0..=60, default 0).

use crate::neurons::Network;
use crate::stream::{PortRef, weight_in_bounds};
use std::fmt;

/// The outside control of a mapping.
#[derive(Clone, Debug, PartialEq)]
pub enum Control {
    Cc {
        channel: u8,
        controller: u8,
    },
    /// A note: its velocity (0–1) while held, 0 once released.
    Note {
        channel: u8,
        note: u8,
    },
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

const GRAMMAR: &str = "cc CH:CC|note CH:NOTE|osc /ADDRESS target.port <- source.port MIN..MAX [exp|lin] [smooth=SECONDS]";

impl MapSpec {
    /// Parses one mapping; the error says which part is wrong and what was expected.
    pub fn parse(text: &str) -> Result<MapSpec, String> {
        let words: Vec<&str> = text.split_whitespace().collect();
        let bad = |why: String| format!("{why} (a mapping is `{GRAMMAR}`)");
        let (control, rest) = match words.as_slice() {
            ["cc", ch_cc, rest @ ..] => (cc(ch_cc).map_err(bad)?, rest),
            ["note", ch_note, rest @ ..] => match cc(ch_note) {
                Ok(Control::Cc {
                    channel,
                    controller,
                }) => (
                    Control::Note {
                        channel,
                        note: controller,
                    },
                    rest,
                ),
                _ => {
                    return Err(bad(format!(
                        "{ch_note:?}: expected CH:NOTE, channel 0..=16 (0: any) and note 0..=127"
                    )));
                }
            },
            ["osc", addr, rest @ ..] => {
                if !addr.starts_with('/') || addr.len() < 2 || addr.starts_with("/dmm/") {
                    return Err(bad(format!(
                        "OSC address {addr:?}: expected /something outside /dmm/"
                    )));
                }
                (Control::Osc(addr.to_string()), rest)
            }
            [first, ..] => {
                return Err(bad(format!("{first:?}: expected `cc`, `note` or `osc`")));
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
            Control::Note { channel, note } => write!(f, "note {channel}:{note}")?,
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

/// What a performance mapping drives: the crossfader's α, or the recall of a scene.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PerformAim {
    /// A CC's 0–1 is the crossfader's position α.
    Xfade,
    /// A note-on recalls scene N (1–9).
    Scene(u8),
}

/// A control mapped onto the crossfader or a scene recall: `cc CH:CC xfade`,
/// `note CH:NOTE scene N` (CH 0 = any channel), or an OSC address: `osc /ADDRESS xfade` (its
/// number 0–1 is α), `osc /ADDRESS scene N` (a number above 0, a button's press, recalls).
#[derive(Clone, Debug, PartialEq)]
pub struct PerformMap {
    /// MIDI channel (0: any; 0 for an OSC address).
    pub channel: u8,
    /// The controller (xfade) or the note number (scene), 0–127 (0 for an OSC address).
    pub number: u8,
    pub aim: PerformAim,
    /// The OSC address that drives it, in place of a MIDI control.
    pub osc: Option<String>,
}

const PERFORM_GRAMMAR: &str =
    "cc CH:CC xfade | note CH:NOTE scene N | osc /ADDRESS xfade | osc /ADDRESS scene N";

/// An OSC address a mapping may use: `/something` outside `/dmm/`.
fn osc_address(addr: &str) -> Result<String, String> {
    if !addr.starts_with('/') || addr.len() < 2 || addr.starts_with("/dmm/") {
        return Err(format!(
            "OSC address {addr:?}: expected /something outside /dmm/"
        ));
    }
    Ok(addr.to_string())
}

impl PerformMap {
    /// Whether `text` is meant as a performance mapping (its third word is `xfade` or `scene`).
    pub fn is_perform(text: &str) -> bool {
        matches!(text.split_whitespace().nth(2), Some("xfade" | "scene"))
            || (text.starts_with("note") && text.split_whitespace().nth(3) != Some("<-"))
    }

    /// Parses one performance mapping; the error says which part is wrong and what was expected.
    pub fn parse(text: &str) -> Result<PerformMap, String> {
        let bad = |why: String| format!("{why} (expected `{PERFORM_GRAMMAR}`)");
        let words: Vec<&str> = text.split_whitespace().collect();
        let slot = |n: &str| match n.parse::<u8>() {
            Ok(n) if (1..=9).contains(&n) => Ok(n),
            _ => Err(bad(format!("scene {n:?}: expected a slot 1..=9"))),
        };
        match words.as_slice() {
            ["osc", addr, "xfade"] => {
                return Ok(PerformMap {
                    channel: 0,
                    number: 0,
                    aim: PerformAim::Xfade,
                    osc: Some(osc_address(addr).map_err(bad)?),
                });
            }
            ["osc", addr, "scene", n] => {
                return Ok(PerformMap {
                    channel: 0,
                    number: 0,
                    aim: PerformAim::Scene(slot(n)?),
                    osc: Some(osc_address(addr).map_err(bad)?),
                });
            }
            _ => {}
        }
        let (channel, number, aim) = match words.as_slice() {
            ["cc", ch_cc, "xfade"] => {
                let (c, n) = ch_num(ch_cc, "controller").map_err(bad)?;
                (c, n, PerformAim::Xfade)
            }
            ["note", ch_note, "scene", n] => {
                let (c, k) = ch_num(ch_note, "note").map_err(bad)?;
                (c, k, PerformAim::Scene(slot(n)?))
            }
            ["cc", _, "scene", ..] => {
                return Err(bad("a scene is recalled by a note, not a CC".into()));
            }
            ["note", _, "xfade", ..] => {
                return Err(bad("the crossfader is moved by a CC, not a note".into()));
            }
            _ => return Err(bad(format!("{text:?}: not a crossfader or scene mapping"))),
        };
        Ok(PerformMap {
            channel,
            number,
            aim,
            osc: None,
        })
    }
}

/// `CH:N` with channel 0..=16 and N 0..=127.
fn ch_num(s: &str, what: &str) -> Result<(u8, u8), String> {
    let (ch, num) = s
        .split_once(':')
        .ok_or_else(|| format!("{s:?}: expected CH:{}", what.to_uppercase()))?;
    match (ch.parse::<u8>(), num.parse::<u8>()) {
        (Ok(c), Ok(n)) if c <= 16 && n <= 127 => Ok((c, n)),
        _ => Err(format!(
            "{s:?}: expected channel 0..=16 (0: any) and {what} 0..=127"
        )),
    }
}

/// The canonical form (what the files hold; `parse` reads it back unchanged).
impl fmt::Display for PerformMap {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(a) = &self.osc {
            return match self.aim {
                PerformAim::Xfade => write!(f, "osc {a} xfade"),
                PerformAim::Scene(n) => write!(f, "osc {a} scene {n}"),
            };
        }
        match self.aim {
            PerformAim::Xfade => write!(f, "cc {}:{} xfade", self.channel, self.number),
            PerformAim::Scene(n) => {
                write!(f, "note {}:{} scene {n}", self.channel, self.number)
            }
        }
    }
}

#[cfg(test)]
mod perform_tests {
    use super::*;

    #[test]
    fn perform_maps_round_trip_and_refuse_with_reasons() {
        for text in [
            "cc 1:20 xfade",
            "note 1:60 scene 3",
            "note 0:127 scene 9",
            "osc /1/fader5 xfade",
            "osc /1/push1 scene 2",
        ] {
            assert!(PerformMap::is_perform(text), "{text}");
            let m = PerformMap::parse(text).unwrap();
            assert_eq!(m.to_string(), text);
            assert_eq!(PerformMap::parse(&m.to_string()).unwrap(), m);
        }
        let m = PerformMap::parse("note 2:61 scene 4").unwrap();
        assert_eq!((m.channel, m.number, m.aim), (2, 61, PerformAim::Scene(4)));
        for (text, why) in [
            ("note 1:60 scene 0", "slot 1..=9"),
            ("note 1:60 scene 10", "slot 1..=9"),
            ("note 17:60 scene 1", "channel 0..=16"),
            ("cc 1:128 xfade", "controller 0..=127"),
            ("cc 1:20 scene 2", "by a note"),
            ("note 1:60 xfade", "by a CC"),
            ("note 1 scene 2", "CH:NOTE"),
            ("cc 1:20 xfade extra", "not a crossfader"),
            ("osc /dmm/x xfade", "outside /dmm/"),
            ("osc fader scene 1", "outside /dmm/"),
            ("osc /b scene 0", "slot 1..=9"),
        ] {
            let e = PerformMap::parse(text).unwrap_err();
            assert!(e.contains(why), "{text}: {e}");
        }
        assert!(!PerformMap::is_perform("cc 1:74 a.in <- b.out 0..1"));
    }
}
