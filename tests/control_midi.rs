//! MIDI: raw byte sequences through the same parser and writer the `midir` callback uses
//! (`MidiWriter::feed`), checked on the values readers see.

use dmm_synth::control::midi::{BEND_SEMITONES, MidiEvent, MidiParser, MidiValues, MidiWriter};
use std::sync::Arc;

fn parse(bytes: &[u8]) -> Vec<MidiEvent> {
    MidiParser::default().parse(bytes)
}

fn writer() -> (MidiWriter, Arc<MidiValues>) {
    let v = Arc::new(MidiValues::default());
    (MidiWriter::new(v.clone()), v)
}

fn hz(note: f32) -> f32 {
    440.0 * ((note - 69.0) / 12.0).exp2()
}

fn close(a: f32, b: f32) -> bool {
    (a - b).abs() <= 1e-3 * b.abs().max(1.0)
}

#[test]
fn control_change_and_running_status() {
    use MidiEvent::*;
    // CC 74 = 64 on channel 3, then running status: CC 75 = 127.
    assert_eq!(
        parse(&[0xB2, 74, 64, 75, 127]),
        vec![
            Cc {
                channel: 3,
                controller: 74,
                value: 64
            },
            Cc {
                channel: 3,
                controller: 75,
                value: 127
            }
        ]
    );
    // Notes with running status; velocity 0 is a note off.
    assert_eq!(
        parse(&[0x90, 60, 100, 64, 90, 60, 0]),
        vec![
            NoteOn {
                channel: 1,
                note: 60,
                velocity: 100
            },
            NoteOn {
                channel: 1,
                note: 64,
                velocity: 90
            },
            NoteOff {
                channel: 1,
                note: 60
            }
        ]
    );
    assert_eq!(
        parse(&[0x8F, 60, 10]),
        vec![NoteOff {
            channel: 16,
            note: 60
        }]
    );
    // Data with no status yet is ignored; program change (one data byte) keeps the parser aligned.
    assert_eq!(
        parse(&[60, 100, 0xC0, 5, 0xB0, 1, 2]),
        vec![Cc {
            channel: 1,
            controller: 1,
            value: 2
        }]
    );
}

#[test]
fn pitch_bend_and_clock_in_the_middle_of_a_message() {
    use MidiEvent::*;
    assert_eq!(
        parse(&[0xE0, 0, 64]),
        vec![PitchBend {
            channel: 1,
            value: 0
        }]
    );
    assert_eq!(
        parse(&[0xE1, 0, 0]),
        vec![PitchBend {
            channel: 2,
            value: -8192
        }]
    );
    assert_eq!(
        parse(&[0xE1, 127, 127]),
        vec![PitchBend {
            channel: 2,
            value: 8191
        }]
    );
    // Real-time bytes may come between a status and its data.
    assert_eq!(
        parse(&[0x90, 0xF8, 60, 0xFA, 100, 0xFC, 0xFB]),
        vec![
            Clock,
            Start,
            NoteOn {
                channel: 1,
                note: 60,
                velocity: 100
            },
            Stop,
            Continue
        ]
    );
}

#[test]
fn sysex_and_system_common_are_skipped_with_their_data() {
    use MidiEvent::*;
    // Inside sysex, note-like data bytes mean nothing; a clock still counts.
    assert_eq!(
        parse(&[0xF0, 0x7E, 0x10, 60, 100, 0xF8, 0x01, 0xF7, 0xB0, 7, 99]),
        vec![
            Clock,
            Cc {
                channel: 1,
                controller: 7,
                value: 99
            }
        ]
    );
    // A status byte ends sysex; sysex also ends running status: data after it is ignored until a new status.
    assert_eq!(
        parse(&[0x90, 60, 1, 0xF0, 1, 0xF7, 62, 1]),
        vec![NoteOn {
            channel: 1,
            note: 60,
            velocity: 1
        }]
    );
    // Song position (two data bytes), song select (one), MTC quarter frame (one).
    assert_eq!(
        parse(&[0xF2, 0x90, 0x10, 0xF3, 5, 0xF1, 9, 0x90, 61, 2]),
        vec![NoteOn {
            channel: 1,
            note: 61,
            velocity: 2
        }]
    );
}

#[test]
fn split_messages_across_callbacks() {
    let mut p = MidiParser::default();
    assert!(p.parse(&[0xB0]).is_empty());
    assert!(p.parse(&[10]).is_empty());
    assert_eq!(
        p.parse(&[20]),
        vec![MidiEvent::Cc {
            channel: 1,
            controller: 10,
            value: 20
        }]
    );
}

#[test]
fn cc_values_are_zero_to_one_per_channel_and_any() {
    let (mut w, v) = writer();
    w.feed(0, &[0xB4, 21, 127, 0xB0, 21, 0]);
    assert_eq!(v.cc(5, 21), 1.0);
    assert_eq!(v.cc(1, 21), 0.0);
    assert_eq!(v.cc(0, 21), 0.0, "any channel: the last value");
    w.feed(1, &[0xB4, 21, 64]);
    assert!(close(v.cc(0, 21), 64.0 / 127.0));
    assert_eq!(v.cc(2, 21), 0.0, "untouched");
}

#[test]
fn notes_have_last_note_priority_and_the_bend_applied() {
    let (mut w, v) = writer();
    assert_eq!(v.note(1), (0.0, 0.0, 0.0), "nothing before the first note");
    w.feed(0, &[0x90, 69, 127]);
    assert_eq!(v.note(1), (440.0, 1.0, 1.0));
    w.feed(1, &[0x90, 72, 64]);
    let (p, vel, g) = v.note(1);
    assert!(close(p, hz(72.0)) && close(vel, 64.0 / 127.0) && g == 1.0);
    // Releasing the newest falls back to the one still held.
    w.feed(2, &[0x80, 72, 0]);
    assert_eq!(v.note(1), (440.0, 1.0, 1.0));
    // Releasing the last closes the gate; the pitch holds.
    w.feed(3, &[0x90, 69, 0]);
    assert_eq!(v.note(1).0, 440.0);
    assert_eq!(v.note(1).2, 0.0);
    // Full bend up: BEND_SEMITONES higher; on another channel, nothing moves.
    w.feed(4, &[0xE0, 127, 127]);
    assert!(close(
        v.note(1).0,
        hz(69.0 + BEND_SEMITONES * 8191.0 / 8192.0)
    ));
    assert_eq!(v.note(2).0, 0.0);
    // "any channel" follows every channel (it got channel 1's bend too).
    w.feed(5, &[0x93, 60, 100]);
    let bent = hz(60.0 + BEND_SEMITONES * 8191.0 / 8192.0);
    assert!(close(v.note(0).0, bent), "{:?}", v.note(0));
    assert!(close(v.note(4).0, hz(60.0)));
    assert_eq!(v.note(4).2, 1.0);
}

#[test]
fn clock_gives_tempo_and_beat_phase_and_holds_the_tempo_when_stopped() {
    let (mut w, v) = writer();
    // 120 BPM: 24 clocks per beat, 0.5 s per beat → 20 833 µs per clock.
    let step = 500_000 / 24;
    w.feed(0, &[0xFA]);
    let mut t = 0u64;
    for i in 0..30 {
        w.feed(t, &[0xF8]);
        t += step;
        let (_, phase) = v.clock();
        assert!((0.0..1.0).contains(&phase));
        assert!(close(phase, ((i + 1) % 24) as f32 / 24.0), "{i}: {phase}");
    }
    assert!(close(v.clock().0, 120.0), "{:?}", v.clock());
    // Faster: 140 BPM after a beat of faster clocks.
    let step140 = (60e6 / 140.0 / 24.0) as u64;
    for _ in 0..25 {
        w.feed(t, &[0xF8]);
        t += step140;
    }
    assert!((v.clock().0 - 140.0).abs() < 0.5, "{:?}", v.clock());
    // Stop: the tempo holds, the phase stops.
    w.feed(t, &[0xFC]);
    let held = v.clock();
    assert!(!v.clock_running());
    // A clock long after (the sender idles its clock): the tempo still holds.
    w.feed(t + 5_000_000, &[0xF8]);
    assert_eq!(v.clock(), held);
    // Start resets the phase.
    w.feed(t + 5_100_000, &[0xFA, 0xF8]);
    assert!(close(v.clock().1, 1.0 / 24.0));
    assert!((v.clock().0 - 140.0).abs() < 0.5);
}
