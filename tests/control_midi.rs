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

mod mapped {
    use super::*;
    use dmm_synth::backend::cpu::CpuBackend;
    use dmm_synth::control::learn::{Curve, MidiMapper, Range, parse_mapping, smooth};
    use dmm_synth::engine::PortRef;
    use dmm_synth::live::{Live, LiveEvent, LiveOptions};
    use std::time::{Duration, Instant};

    const PATCH: &str = "settings tick_rate=100 sample_rate=1600 image=8x8

k : one
x : identity
y : identity

x.in <- 1 k
y.in <- 2 k
";

    fn pr(s: &str) -> PortRef {
        PortRef::parse(s).unwrap()
    }

    fn open() -> (Live, tempfile::TempDir) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("p.dmm");
        std::fs::write(&path, PATCH).unwrap();
        let opts = LiveOptions {
            audio: false,
            watch: false,
            capture_every: 0,
            morph: None,
            trace: None,
        };
        let live = Live::open(&path, Box::new(CpuBackend::new()), opts).unwrap();
        (live, dir)
    }

    fn w(live: &Live, t: &str, s: &str) -> Option<f64> {
        live.engine().latest().map(|s_| s_.w.get(&pr(t), &pr(s)))
    }

    /// Polls until W[t][s] == want; returns the events seen.
    fn until(live: &mut Live, t: &str, s: &str, want: f64) -> Vec<LiveEvent> {
        let t0 = Instant::now();
        let mut ev = Vec::new();
        loop {
            ev.extend(live.poll());
            if w(live, t, s) == Some(want) {
                return ev;
            }
            assert!(
                t0.elapsed() < Duration::from_secs(60),
                "{t} <- {s} never became {want} (now {:?}); {ev:?}",
                w(live, t, s)
            );
            std::thread::sleep(Duration::from_millis(2));
        }
    }

    fn settle(live: &mut Live, ticks: u64) {
        let until_tick = live.engine().latest().map_or(0, |s| s.tick) + ticks;
        let t0 = Instant::now();
        while live.engine().latest().is_none_or(|s| s.tick < until_tick) {
            live.poll();
            assert!(t0.elapsed() < Duration::from_secs(60));
            std::thread::sleep(Duration::from_millis(2));
        }
    }

    #[test]
    fn learn_maps_the_next_cc_to_the_chosen_weight_with_its_range() {
        let (mut live, _dir) = open();
        let (mut midi, values) = writer();
        // A controller already at 64 before learning does not count as a move.
        midi.feed(0, &[0xB0, 1, 64]);
        let mut mapper = MidiMapper::new(values.clone(), vec![]);
        let range = Range::new(pr("x.in"), pr("k.out"), (10.0, 20.0), Curve::Linear, 0.0).unwrap();
        mapper.learn(range.clone());
        live.attach(Box::new(mapper));
        settle(&mut live, 3);
        assert_eq!(w(&live, "x.in", "k.out"), Some(1.0), "nothing moved yet");
        // Channel 2, CC 7 moves to the top: learned, and the weight goes to max.
        midi.feed(1, &[0xB1, 7, 127]);
        let ev = until(&mut live, "x.in", "k.out", 20.0);
        assert!(
            ev.iter()
                .any(|e| matches!(e, LiveEvent::Message(m) if m.text.contains("channel 2 CC 7"))),
            "{ev:?}"
        );
        midi.feed(2, &[0xB1, 7, 0]);
        until(&mut live, "x.in", "k.out", 10.0);
        // Another controller, or the same number on another channel, does nothing.
        midi.feed(3, &[0xB0, 7, 127, 0xB1, 8, 127]);
        settle(&mut live, 5);
        assert_eq!(w(&live, "x.in", "k.out"), Some(10.0));
        assert_eq!(w(&live, "y.in", "k.out"), Some(2.0));
        live.stop();
    }

    #[test]
    fn a_mapping_from_the_command_line_drives_its_weight_exponentially() {
        let (mut live, _dir) = open();
        let (mut midi, values) = writer();
        let m = parse_mapping("3:74=y.in<-k.out:110..880:exp").unwrap();
        live.attach(Box::new(MidiMapper::new(values, vec![m])));
        settle(&mut live, 3);
        assert_eq!(
            w(&live, "y.in", "k.out"),
            Some(2.0),
            "untouched knob sends nothing"
        );
        midi.feed(0, &[0xB2, 74, 127]);
        until(&mut live, "y.in", "k.out", 880.0);
        midi.feed(0, &[0xB2, 74, 0]);
        until(&mut live, "y.in", "k.out", 110.0);
        live.stop();
    }

    #[test]
    fn ranges_curves_and_specs() {
        let r = Range::new(pr("a.in"), pr("b.out"), (110.0, 880.0), Curve::Exp, 0.0).unwrap();
        assert_eq!(r.value(0.0), 110.0);
        assert!((r.value(0.5) - 311.1270).abs() < 1e-3, "{}", r.value(0.5));
        assert_eq!(r.value(1.0), 880.0);
        // Clamped; NaN counts as 0.
        assert_eq!(r.value(7.0), 880.0);
        assert_eq!(r.value(f64::NAN), 110.0);
        let lin = Range::new(pr("a.in"), pr("b.out"), (1.0, -1.0), Curve::Linear, 0.0).unwrap();
        assert_eq!(lin.value(0.25), 0.5);
        // Refused: an exponential range through 0, non-finite ends, bad smoothing.
        for (lo, hi, c, s) in [
            (0.0, 1.0, Curve::Exp, 0.0),
            (-1.0, 1.0, Curve::Exp, 0.0),
            (f64::NAN, 1.0, Curve::Linear, 0.0),
            (0.0, 1e31, Curve::Linear, 0.0),
            (0.0, 1.0, Curve::Linear, -1.0),
        ] {
            assert!(Range::new(pr("a.in"), pr("b.out"), (lo, hi), c, s).is_err());
        }
        let m = parse_mapping("0:1=a.in<-b.out:-2..2:0.1").unwrap();
        assert_eq!((m.cc.channel, m.cc.controller), (0, 1));
        assert_eq!(
            (m.range.min, m.range.max, m.range.smoothing),
            (-2.0, 2.0, 0.1)
        );
        for bad in [
            "",
            "1:74",
            "17:1=a.in<-b.out:0..1",
            "1:128=a.in<-b.out:0..1",
            "1:1=a.in:0..1",
            "1:1=a.in<-b.out:0-1",
            "1:1=a.in<-b.out:0..1:fast",
            "1:1=a<-b.out:0..1",
        ] {
            let e = parse_mapping(bad).err().unwrap().to_string();
            assert!(!e.contains('\n') && e.contains("expected"), "{bad}: {e}");
        }
    }

    #[test]
    fn smoothing_moves_part_way_and_lands_exactly() {
        let mut y = 0.0;
        let mut steps = Vec::new();
        for _ in 0..2000 {
            y = smooth(y, 1.0, 0.01, 0.1);
            steps.push(y);
        }
        // One time constant (10 steps of 10 ms) covers 1 - 1/e of the way.
        assert!(
            (steps[9] - (1.0 - (-1.0f64).exp())).abs() < 1e-9,
            "{}",
            steps[9]
        );
        assert!(steps.windows(2).all(|w| w[1] >= w[0]), "monotonic");
        assert_eq!(*steps.last().unwrap(), 1.0, "lands exactly");
        assert_eq!(smooth(0.3, 0.7, 0.01, 0.0), 0.7, "no smoothing: a jump");
    }
}
