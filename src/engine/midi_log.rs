//! MIDI events stamped with the tick that took them, as a file (`midi.jsonl`): what a live
//! recording writes beside `edits.jsonl`, and what `render --midi FILE` feeds the machine, so
//! that a performance with a controller renders offline identically.
//!
//! One event a line: `{"tick": N, "time_us": T, "midi": [STATUS, DATA...]}`. `tick` counts from
//! the start of the recording (the render's tick 0); `time_us` is when the event was received
//! (microseconds; only differences count: the MIDI clock's tempo); `midi` is the complete MIDI
//! message as a controller sends it (channels 1–16 are status low nibbles 0–15):
//! `[176, 74, 64]` CC 74 = 64 on channel 1, `[144, 60, 100]` note on, `[128, 60, 0]` note off,
//! `[224, LSB, MSB]` pitch bend, `[248]` clock, `[250]` start, `[251]` continue, `[252]` stop.
//! Blank lines and lines starting with `//` are skipped; events of one tick keep their order.

use crate::neurons::control::{MidiEvent, MidiIn};
use serde_json::{Value, json};

/// An event and the tick (from the start of the recording) that took it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StampedMidi {
    pub tick: u64,
    pub ev: MidiIn,
}

/// The complete MIDI message of `e`.
pub fn to_bytes(e: &MidiEvent) -> Vec<u8> {
    let st = |kind: u8, ch: u8| kind | (ch.clamp(1, 16) - 1);
    match *e {
        MidiEvent::Cc {
            channel,
            controller,
            value,
        } => vec![st(0xB0, channel), controller & 0x7F, value & 0x7F],
        MidiEvent::NoteOn {
            channel,
            note,
            velocity,
        } => vec![st(0x90, channel), note & 0x7F, velocity & 0x7F],
        MidiEvent::NoteOff { channel, note } => vec![st(0x80, channel), note & 0x7F, 0],
        MidiEvent::PitchBend { channel, value } => {
            let v = (i32::from(value) + 8192).clamp(0, 16383) as u16;
            vec![st(0xE0, channel), (v & 0x7F) as u8, (v >> 7) as u8]
        }
        MidiEvent::Clock => vec![0xF8],
        MidiEvent::Start => vec![0xFA],
        MidiEvent::Continue => vec![0xFB],
        MidiEvent::Stop => vec![0xFC],
    }
}

/// The event of one complete MIDI message (the ones `to_bytes` writes).
pub fn from_bytes(b: &[u8]) -> Result<MidiEvent, String> {
    let data = |i: usize| -> Result<u8, String> {
        match b.get(i) {
            Some(&d) if d < 0x80 => Ok(d),
            Some(d) => Err(format!("data byte {d} is not 0..=127")),
            None => Err("message too short".into()),
        }
    };
    let status = *b.first().ok_or("empty message")?;
    let channel = (status & 0x0F) + 1;
    let (e, len) = match status {
        0xF8 => (MidiEvent::Clock, 1),
        0xFA => (MidiEvent::Start, 1),
        0xFB => (MidiEvent::Continue, 1),
        0xFC => (MidiEvent::Stop, 1),
        s => match s & 0xF0 {
            0xB0 => (
                MidiEvent::Cc {
                    channel,
                    controller: data(1)?,
                    value: data(2)?,
                },
                3,
            ),
            0x90 if data(2)? == 0 => (
                MidiEvent::NoteOff {
                    channel,
                    note: data(1)?,
                },
                3,
            ),
            0x90 => (
                MidiEvent::NoteOn {
                    channel,
                    note: data(1)?,
                    velocity: data(2)?,
                },
                3,
            ),
            0x80 => {
                data(2)?;
                (
                    MidiEvent::NoteOff {
                        channel,
                        note: data(1)?,
                    },
                    3,
                )
            }
            0xE0 => (
                MidiEvent::PitchBend {
                    channel,
                    value: (i16::from(data(2)?) << 7 | i16::from(data(1)?)) - 8192,
                },
                3,
            ),
            _ => {
                return Err(format!(
                    "status {s}: expected a CC (176–191), note on (144–159), note off (128–143), pitch bend (224–239), clock (248), start (250), continue (251) or stop (252)"
                ));
            }
        },
    };
    if b.len() != len {
        return Err(format!("{} bytes: this message has {len}", b.len()));
    }
    Ok(e)
}

/// One line of the file.
pub fn line(s: &StampedMidi) -> String {
    json!({"tick": s.tick, "time_us": s.ev.time_us, "midi": to_bytes(&s.ev.event)}).to_string()
}

/// Reads a `midi.jsonl`; an error names the line and what was expected. Sorted by tick (a
/// stable sort: events of one tick keep their order).
pub fn parse_midi_jsonl(text: &str) -> Result<Vec<StampedMidi>, String> {
    const WANT: &str = "expected {\"tick\": N, \"time_us\": T, \"midi\": [STATUS, DATA...]}";
    let mut out = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        let l = raw.trim();
        if l.is_empty() || l.starts_with("//") {
            continue;
        }
        let bad = |why: String| format!("line {}: {why} ({WANT})", i + 1);
        let v: Value = serde_json::from_str(l).map_err(|e| bad(format!("not JSON: {e}")))?;
        let Value::Object(o) = &v else {
            return Err(bad("not an object".into()));
        };
        if let Some(k) = o
            .keys()
            .find(|k| !matches!(k.as_str(), "tick" | "time_us" | "midi"))
        {
            return Err(bad(format!("unknown key {k:?}")));
        }
        let uint = |k: &str| -> Result<u64, String> {
            o.get(k)
                .and_then(Value::as_u64)
                .ok_or_else(|| bad(format!("{k:?}: expected a whole number 0 or more")))
        };
        let tick = uint("tick")?;
        let time_us = uint("time_us")?;
        let bytes: Vec<u8> = match o.get("midi") {
            Some(Value::Array(a)) => a
                .iter()
                .map(|b| b.as_u64().filter(|b| *b <= 255).map(|b| b as u8))
                .collect::<Option<Vec<u8>>>()
                .ok_or_else(|| bad("\"midi\": expected bytes 0..=255".into()))?,
            _ => return Err(bad("\"midi\": expected an array of bytes".into())),
        };
        let event = from_bytes(&bytes).map_err(|e| bad(format!("\"midi\" {bytes:?}: {e}")))?;
        out.push(StampedMidi {
            tick,
            ev: MidiIn { time_us, event },
        });
    }
    out.sort_by_key(|s| s.tick);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_event_round_trips_through_a_line() {
        let evs = [
            MidiEvent::Cc {
                channel: 1,
                controller: 74,
                value: 64,
            },
            MidiEvent::Cc {
                channel: 16,
                controller: 0,
                value: 127,
            },
            MidiEvent::NoteOn {
                channel: 3,
                note: 60,
                velocity: 100,
            },
            MidiEvent::NoteOff {
                channel: 3,
                note: 60,
            },
            MidiEvent::PitchBend {
                channel: 2,
                value: -8192,
            },
            MidiEvent::PitchBend {
                channel: 2,
                value: 8191,
            },
            MidiEvent::PitchBend {
                channel: 2,
                value: 0,
            },
            MidiEvent::Clock,
            MidiEvent::Start,
            MidiEvent::Continue,
            MidiEvent::Stop,
        ];
        let stamped: Vec<StampedMidi> = evs
            .iter()
            .enumerate()
            .map(|(i, &event)| StampedMidi {
                tick: i as u64 / 2,
                ev: MidiIn {
                    time_us: 1000 * i as u64,
                    event,
                },
            })
            .collect();
        let text: String = stamped.iter().map(|s| line(s) + "\n").collect();
        assert_eq!(parse_midi_jsonl(&text).unwrap(), stamped);
        // The bytes are what a controller sends: the app's own MIDI parser reads them alike.
        assert_eq!(to_bytes(&evs[0]), [0xB0, 74, 64]);
        assert_eq!(
            to_bytes(&evs[4]),
            [0xE1, 0, 0],
            "channel 2, bend fully down"
        );
    }

    #[test]
    fn bad_lines_are_refused_with_the_line_and_what_was_expected() {
        for (text, why) in [
            ("{\"tick\": 1, \"time_us\": 0}", "\"midi\""),
            (
                "{\"tick\": -1, \"time_us\": 0, \"midi\": [248]}",
                "\"tick\"",
            ),
            (
                "{\"tick\": 1, \"time_us\": 0, \"midi\": [176, 74]}",
                "too short",
            ),
            (
                "{\"tick\": 1, \"time_us\": 0, \"midi\": [176, 74, 200]}",
                "0..=127",
            ),
            (
                "{\"tick\": 1, \"time_us\": 0, \"midi\": [176, 1, 2, 3]}",
                "has 3",
            ),
            (
                "{\"tick\": 1, \"time_us\": 0, \"midi\": [240]}",
                "status 240",
            ),
            ("{\"tick\": 1, \"time_us\": 0, \"midi\": [300]}", "0..=255"),
            (
                "{\"tick\": 1, \"time_us\": 0, \"midi\": [248], \"x\": 1}",
                "unknown key",
            ),
            ("[1]", "not an object"),
            ("nope", "not JSON"),
        ] {
            let e = parse_midi_jsonl(&format!("// c\n\n{text}\n")).unwrap_err();
            assert!(e.starts_with("line 3: ") && e.contains(why), "{text}: {e}");
        }
    }
}
