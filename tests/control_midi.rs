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

    /// `map note 1:60 scene 1` recalls scene 1 on each strike; `map cc 1:20 xfade` moves the
    /// crossfader between scenes 1 and 2 and the mix arrives in W.
    #[test]
    fn a_note_recalls_a_scene_and_a_cc_moves_the_crossfader() {
        use dmm_synth::engine::Edit;
        use dmm_synth::patch::mapping::PerformMap;
        let (mut live, _dir) = open();
        settle(&mut live, 2);
        live.store_scene(1).unwrap(); // x.in <- 1 k
        live.send(Edit::Set {
            target: pr("x.in"),
            source: pr("k.out"),
            weight: 5.0,
            morph: 0.0,
        });
        until(&mut live, "x.in", "k.out", 5.0);
        live.store_scene(2).unwrap(); // x.in <- 5 k
        let (mut midi, values) = writer();
        midi.feed(0, &[0xB0, 20, 127]); // Where the fader sat before: not a move.
        let mut mapper = MidiMapper::new(values.clone(), vec![]);
        for m in ["cc 1:20 xfade", "note 1:60 scene 1"] {
            mapper.add_perform(PerformMap::parse(m).unwrap());
        }
        live.attach(Box::new(mapper));
        settle(&mut live, 5);
        assert_eq!(w(&live, "x.in", "k.out"), Some(5.0), "nothing struck yet");
        // Another note, or note 60 on another channel, recalls nothing.
        midi.feed(1, &[0x90, 61, 100, 0x91, 60, 100]);
        settle(&mut live, 5);
        assert_eq!(w(&live, "x.in", "k.out"), Some(5.0));
        // Note 60 on channel 1: scene 1.
        midi.feed(2, &[0x90, 60, 100, 0x80, 60, 0]);
        until(&mut live, "x.in", "k.out", 1.0);
        // The fader part way: the mix (W holds f32); at the top all scene 2; at the bottom all 1.
        midi.feed(3, &[0xB0, 20, 32]);
        let want = 1.0 + 4.0 * 32.0 / 127.0;
        let t0 = Instant::now();
        while w(&live, "x.in", "k.out").is_none_or(|x| (x - want).abs() > 1e-5) {
            live.poll();
            assert!(t0.elapsed() < Duration::from_secs(60), "never {want}");
            std::thread::sleep(Duration::from_millis(2));
        }
        midi.feed(4, &[0xB0, 20, 127]);
        until(&mut live, "x.in", "k.out", 5.0);
        midi.feed(5, &[0xB0, 20, 0]);
        until(&mut live, "x.in", "k.out", 1.0);
        midi.feed(6, &[0xB0, 20, 127]);
        until(&mut live, "x.in", "k.out", 5.0);
        // A second strike recalls again.
        midi.feed(7, &[0x90, 60, 90]);
        until(&mut live, "x.in", "k.out", 1.0);
        assert_eq!(
            w(&live, "y.in", "k.out"),
            Some(2.0),
            "the other weight stays"
        );
        live.stop();
    }

    /// Learning the crossfader takes the next CC that moves; learning a scene the next note.
    #[test]
    fn crossfader_and_scene_are_learned_from_the_next_control() {
        use dmm_synth::control::perform::PerformAct;
        use dmm_synth::patch::mapping::PerformAim;
        let (mut midi, values) = writer();
        midi.feed(0, &[0xB0, 1, 64]);
        let mut mapper = MidiMapper::new(values, vec![]);
        mapper.learn_perform(PerformAim::Xfade);
        assert_eq!(mapper.perform_step(), (vec![], None), "nothing moved yet");
        midi.feed(1, &[0xB2, 9, 127]);
        let (acts, line) = mapper.perform_step();
        assert_eq!(
            acts,
            vec![PerformAct::Xfade(1.0)],
            "the learned CC drives at once"
        );
        assert!(line.unwrap().contains("map cc 3:9 xfade"));
        midi.feed(2, &[0xB2, 9, 0, 0xB0, 1, 0]);
        assert_eq!(mapper.perform_step().0, vec![PerformAct::Xfade(0.0)]);
        mapper.learn_perform(PerformAim::Scene(4));
        midi.feed(3, &[0xB0, 1, 99]); // A CC is no strike.
        assert_eq!(mapper.perform_step(), (vec![], None));
        midi.feed(4, &[0x95, 72, 80]);
        let (acts, line) = mapper.perform_step();
        assert!(line.unwrap().contains("map note 6:72 scene 4"));
        assert!(acts.is_empty(), "the strike that taught it recalls nothing");
        midi.feed(5, &[0x85, 72, 0, 0x95, 72, 80]);
        assert_eq!(mapper.perform_step().0, vec![PerformAct::Recall(4)]);
        let maps: Vec<String> = mapper
            .perform
            .list()
            .iter()
            .map(|m| m.to_string())
            .collect();
        assert_eq!(maps, ["cc 3:9 xfade", "note 6:72 scene 4"]);
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

    /// Issue 11: the panel lists the MIDI input ports seen, each with a checkbox. Port A drives
    /// a mapped CC onto W; unchecked in the panel (a real click through a Session), its bytes
    /// no longer reach the values the mapper reads, so W stays; port B appearing later (what the
    /// port poll's `observe` does on hot-plug) is listed, on by default, and drives W.
    #[test]
    fn unchecking_a_port_in_the_panel_ignores_it_and_a_new_port_is_on() {
        use dmm_synth::control::learn::{Cc, Mapping, SharedMapper};
        use dmm_synth::control::midi::PortChoice;
        use dmm_synth::ui::session::Session;
        use egui_kittest::Harness;
        use egui_kittest::kittest::Queryable;
        let (mut live, _dir) = open();
        let values = Arc::new(MidiValues::default());
        let choice = PortChoice::new(vec![]).shared();
        choice.lock().unwrap().observe(&["Port A".to_string()]);
        let gate_a = choice.lock().unwrap().gate("Port A").unwrap();
        let mut port_a = MidiWriter::new(values.clone()).with_gate(gate_a);
        let range = Range::new(pr("x.in"), pr("k.out"), (10.0, 20.0), Curve::Linear, 0.0).unwrap();
        let map = Mapping {
            cc: Cc {
                channel: 1,
                controller: 7,
                note: false,
            },
            range,
        };
        let mapper = SharedMapper::new(
            MidiMapper::new(values.clone(), vec![map]).with_port_choice(choice.clone()),
        );
        live.attach(Box::new(mapper.clone()));
        let mut s = Session::new(live, Vec::new(), true);
        s.set_midi(Some(mapper.clone()));
        let mut h = Harness::builder()
            .with_size(egui::vec2(1200.0, 1400.0))
            .build_ui_state(|ui, s: &mut Session| s.ui(ui), s);
        let run_until =
            |h: &mut Harness<'_, Session>, what: &str, done: &dyn Fn(&Session) -> bool| {
                let t0 = Instant::now();
                loop {
                    h.run();
                    if done(h.state()) {
                        return;
                    }
                    assert!(
                        t0.elapsed() < Duration::from_secs(60),
                        "gave up waiting for {what}"
                    );
                    std::thread::sleep(Duration::from_millis(5));
                }
            };
        let w = |s: &Session| s.latest().map(|l| l.w.get(&pr("x.in"), &pr("k.out")));
        run_until(&mut h, "a snapshot", &|s| {
            s.latest().is_some_and(|l| l.tick > 2)
        });
        h.get_by_label("Mappings (MIDI, OSC)").click();
        h.run();
        h.get_by_label(dmm_synth::ui::learn::MIDI_PORTS_LABEL);
        port_a.feed(0, &[0xB0, 7, 127]);
        run_until(&mut h, "port A drives W", &|s| w(s) == Some(20.0));
        // Uncheck port A.
        h.get_by_label("Port A").click();
        run_until(&mut h, "port A off", &|_| {
            !choice.lock().unwrap().is_on("Port A")
        });
        assert!(
            h.state()
                .st
                .log
                .iter()
                .any(|l| l.text.contains("port Port A off")),
            "the log says so"
        );
        let events = values.events.load(std::sync::atomic::Ordering::Relaxed);
        port_a.feed(1, &[0xB0, 7, 0]);
        assert_eq!(values.cc(1, 7), 1.0, "an ignored port changes no value");
        assert_eq!(
            values.events.load(std::sync::atomic::Ordering::Relaxed),
            events
        );
        let t = h.state().latest().unwrap().tick;
        run_until(&mut h, "5 more ticks", &|s| {
            s.latest().is_some_and(|l| l.tick > t + 5)
        });
        assert_eq!(w(h.state()), Some(20.0), "W stays");
        // Port B is plugged in: listed, on by default, and it drives W.
        let new = choice
            .lock()
            .unwrap()
            .observe(&["Port A".to_string(), "Port B".to_string()]);
        assert_eq!(new, vec!["Port B".to_string()]);
        h.run();
        h.run();
        h.get_by_label("Port B");
        assert!(
            mapper
                .with(|m| m.midi_ports())
                .iter()
                .any(|p| p.name == "Port B" && p.on && p.present)
        );
        let gate_b = choice.lock().unwrap().gate("Port B").unwrap();
        let mut port_b = MidiWriter::new(values.clone()).with_gate(gate_b);
        port_b.feed(2, &[0xB0, 7, 0]);
        run_until(&mut h, "port B drives W", &|s| w(s) == Some(10.0));
        // Checked again, port A counts again.
        h.get_by_label("Port A").click();
        run_until(&mut h, "port A on", &|_| {
            choice.lock().unwrap().is_on("Port A")
        });
        port_a.feed(3, &[0xB0, 7, 127]);
        run_until(&mut h, "port A drives W again", &|s| w(s) == Some(20.0));
        drop(h);
    }

    /// `--midi-in NAME` chooses the ports whose name contains NAME (any case); the others are
    /// seen, listed and off; a port unplugged and plugged again keeps its choice.
    #[test]
    fn midi_in_names_choose_the_ports_and_a_replugged_port_keeps_its_choice() {
        use dmm_synth::control::midi::PortChoice;
        let mut c = PortChoice::new(vec!["launch".into()]);
        let names = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        c.observe(&names(&["Midi Through:0", "LaunchControl XL:1"]));
        assert!(!c.is_on("Midi Through:0"));
        assert!(c.is_on("LaunchControl XL:1"));
        assert!(c.set("LaunchControl XL:1", false));
        assert!(!c.set("nobody", true), "an unknown port: nothing changes");
        c.observe(&names(&["Midi Through:0"]));
        assert!(!c.list()[1].present, "unplugged, still listed");
        c.observe(&names(&["Midi Through:0", "LaunchControl XL:1"]));
        assert!(!c.is_on("LaunchControl XL:1"), "kept off");
        assert!(c.list().iter().all(|p| p.present));
        assert!(PortChoice::new(vec![]).observe(&names(&["x"])) == names(&["x"]));
    }
}

/// The `midi_*` neurons in a running machine, on the CPU and the GPU backend: raw bytes through
/// the callback's writer and its feed, taken by the machine at the start of a tick.
mod neurons {
    use super::*;
    use crossbeam_channel::Receiver;
    use dmm_synth::backend::Backend;
    use dmm_synth::backend::cpu::CpuBackend;
    use dmm_synth::backend::gpu::GpuBackend;
    use dmm_synth::control::midi::{MidiIn, feed};
    use dmm_synth::engine::Machine;
    use dmm_synth::neurons::AssetDirs;
    use dmm_synth::patch::Patch;

    const PATCH: &str = "settings tick_rate=100 sample_rate=1600 image=8x8

cc    : midi_cc channel=1 controller=74
any   : midi_cc controller=75
ch2   : midi_cc channel=2 controller=74
note  : midi_note
wide  : midi_note channel=2 bend=12
other : midi_note channel=3
clk   : midi_clock
";

    fn machine(backend: Box<dyn Backend>) -> Machine {
        let p = Patch::parse(PATCH, "midi.dmm", &AssetDirs::default())
            .unwrap_or_else(|e| panic!("{e}"));
        Machine::new(
            p.network.clone(),
            p.initial_w(),
            backend,
            AssetDirs::default(),
            0,
        )
        .unwrap()
    }

    fn gpu() -> Option<GpuBackend> {
        match GpuBackend::new() {
            Ok(b) => Some(b),
            Err(e) if std::env::var("REQUIRE_GPU").as_deref() == Ok("1") => {
                panic!("REQUIRE_GPU=1 but the GPU backend cannot start: {e}")
            }
            Err(e) => {
                eprintln!(
                    "NOT RUN on the GPU: no adapter ({e}); REQUIRE_GPU=1 makes this a failure"
                );
                None
            }
        }
    }

    /// Feeds `bytes` at `time_us`, hands what arrived to the machine (as the engine thread
    /// does) and runs one tick.
    fn step(
        w: &mut MidiWriter,
        rx: &Receiver<MidiIn>,
        m: &mut Machine,
        time_us: u64,
        bytes: &[u8],
    ) {
        w.feed(time_us, bytes);
        for ev in rx.try_iter() {
            m.midi_in(ev);
        }
        m.tick(false).unwrap();
    }

    fn get(m: &Machine, port: &str) -> f32 {
        m.scalar(port).unwrap_or_else(|| panic!("no scalar {port}"))
    }

    fn all(m: &Machine) -> Vec<f32> {
        m.outputs().scalars.clone()
    }

    /// Runs the byte script on `backend`; checks every value; returns each tick's scalars.
    fn script(backend: Box<dyn Backend>) -> Vec<Vec<f32>> {
        let mut m = machine(backend);
        let (tx, rx) = feed();
        let (w, _values) = writer();
        let mut w = w.with_feed(tx);
        let mut trace = Vec::new();
        let name = m.backend_name();

        step(&mut w, &rx, &mut m, 0, &[]);
        assert_eq!(get(&m, "cc.out"), 0.0, "{name}");
        assert_eq!(
            (get(&m, "note.pitch"), get(&m, "note.gate")),
            (0.0, 0.0),
            "{name}: no note yet"
        );
        assert_eq!(get(&m, "clk.bpm"), 120.0, "{name}: tempo before any clock");
        trace.push(all(&m));

        // CC 74 = 127 on channel 1, then running status: CC 75 = 64.
        step(&mut w, &rx, &mut m, 1_000, &[0xB0, 74, 127, 75, 64]);
        assert_eq!(get(&m, "cc.out"), 1.0, "{name}");
        assert!(
            close(get(&m, "any.out"), 64.0 / 127.0),
            "{name}: any channel"
        );
        assert_eq!(get(&m, "ch2.out"), 0.0, "{name}: another channel");
        trace.push(all(&m));

        // System exclusive whose data look like a CC: ignored, values unchanged; running
        // status does not survive it (the stray data bytes after it are dropped too).
        step(
            &mut w,
            &rx,
            &mut m,
            2_000,
            &[0xF0, 0x7E, 74, 0, 0xF7, 74, 0],
        );
        assert_eq!(get(&m, "cc.out"), 1.0, "{name}: sysex ignored");
        trace.push(all(&m));

        // Note on C4 (velocity 100) and, in running status, A4 (127) on channel 2.
        step(&mut w, &rx, &mut m, 3_000, &[0x91, 60, 100, 69, 127]);
        assert_eq!(get(&m, "note.pitch"), 440.0, "{name}: last note wins");
        assert_eq!(get(&m, "note.velocity"), 1.0, "{name}");
        assert_eq!(get(&m, "note.gate"), 1.0, "{name}");
        assert_eq!(get(&m, "wide.pitch"), 440.0, "{name}: channel 2");
        assert_eq!(get(&m, "other.gate"), 0.0, "{name}: channel 3 is silent");
        trace.push(all(&m));

        // Running status, velocity 0: A4 off; C4 is still held and sounds again.
        step(&mut w, &rx, &mut m, 4_000, &[69, 0]);
        assert!(close(get(&m, "note.pitch"), hz(60.0)), "{name}: back to C4");
        assert!(close(get(&m, "note.velocity"), 100.0 / 127.0), "{name}");
        assert_eq!(get(&m, "note.gate"), 1.0, "{name}");
        trace.push(all(&m));

        // Note off C4: the gate closes, the pitch holds.
        step(&mut w, &rx, &mut m, 5_000, &[0x81, 60, 0]);
        assert_eq!(get(&m, "note.gate"), 0.0, "{name}");
        assert!(
            close(get(&m, "note.pitch"), hz(60.0)),
            "{name}: pitch holds"
        );
        trace.push(all(&m));

        // Pitch bend fully up on channel 2: +2 semitones by default, +12 where bend=12.
        step(&mut w, &rx, &mut m, 6_000, &[0xE1, 0x7F, 0x7F]);
        let up = 8191.0 / 8192.0;
        assert!(
            close(get(&m, "note.pitch"), hz(60.0 + 2.0 * up)),
            "{name}: {}",
            get(&m, "note.pitch")
        );
        assert!(close(get(&m, "wide.pitch"), hz(60.0 + 12.0 * up)), "{name}");
        trace.push(all(&m));

        // Start, then 30 clock ticks at 120 BPM (24 a beat, 20 833 µs apart), a few per tick.
        step(&mut w, &rx, &mut m, 7_000, &[0xFA]);
        assert_eq!(get(&m, "clk.running"), 1.0, "{name}: started");
        assert_eq!(get(&m, "clk.phase"), 0.0, "{name}");
        let t0 = 10_000u64;
        for chunk in 0..10u64 {
            for i in 0..3u64 {
                w.feed(t0 + (chunk * 3 + i) * 1_000_000 / 48, &[0xF8]);
            }
            step(&mut w, &rx, &mut m, t0 + chunk * 62_500, &[]);
            let want = (((chunk + 1) * 3) % 24) as f32 / 24.0;
            assert!(
                close(get(&m, "clk.phase"), want),
                "{name}: phase after {chunk}"
            );
            trace.push(all(&m));
        }
        assert!(
            (get(&m, "clk.bpm") - 120.0).abs() < 0.01,
            "{name}: {}",
            get(&m, "clk.bpm")
        );
        assert!(
            close(get(&m, "clk.phase"), 0.25),
            "{name}: 30 ticks = a beat and a quarter"
        );

        // Stop: not running; the clock stops coming; the tempo and phase hold.
        step(&mut w, &rx, &mut m, 700_000, &[0xFC]);
        assert_eq!(get(&m, "clk.running"), 0.0, "{name}");
        step(&mut w, &rx, &mut m, 3_000_000, &[]);
        assert!(
            (get(&m, "clk.bpm") - 120.0).abs() < 0.01,
            "{name}: tempo held"
        );
        assert!(close(get(&m, "clk.phase"), 0.25), "{name}: phase held");
        trace.push(all(&m));

        // A faster clock later (140 BPM) with continue: the tempo follows, the phase goes on.
        let t1 = 5_000_000u64;
        w.feed(t1, &[0xFB]);
        for i in 0..30u64 {
            w.feed(t1 + i * 60_000_000 / (140 * 24), &[0xF8]);
        }
        step(&mut w, &rx, &mut m, t1 + 1_000_000, &[]);
        assert!(
            (get(&m, "clk.bpm") - 140.0).abs() < 0.1,
            "{name}: {}",
            get(&m, "clk.bpm")
        );
        assert!(
            close(get(&m, "clk.phase"), ((30 + 30) % 24) as f32 / 24.0),
            "{name}"
        );
        trace.push(all(&m));
        trace
    }

    #[test]
    fn raw_bytes_drive_the_midi_neurons_on_the_cpu_and_the_gpu() {
        let cpu = script(Box::new(CpuBackend::new()));
        if let Some(g) = gpu() {
            let gpu = script(Box::new(g));
            assert_eq!(
                cpu, gpu,
                "the GPU shows exactly the CPU's values, tick by tick"
            );
        }
    }

    /// Events stamped with a tick give the same values in a replay, whenever they were queued.
    #[test]
    fn stamped_events_replay_to_the_same_values() {
        let events: Vec<(u64, MidiIn)> = {
            let mut p = MidiParser::default();
            let bytes: Vec<(u64, Vec<u8>)> = vec![
                (2, vec![0xB0, 74, 10]),
                (2, vec![74, 90]),
                (5, vec![0x90, 60, 80, 64, 90]),
                (7, vec![0x80, 64, 0]),
                (9, vec![0xE0, 0, 0]),
            ];
            bytes
                .into_iter()
                .flat_map(|(t, b)| {
                    p.parse(&b).into_iter().map(move |event| {
                        (
                            t,
                            MidiIn {
                                time_us: t * 10_000,
                                event,
                            },
                        )
                    })
                })
                .collect()
        };
        let run = |all_first: bool| {
            let mut m = machine(Box::new(CpuBackend::new()));
            if all_first {
                for (t, ev) in &events {
                    m.midi_at(*t, *ev);
                }
            }
            let mut out = Vec::new();
            for tick in 0..12 {
                if !all_first {
                    for (_, ev) in events.iter().filter(|(t, _)| *t == tick) {
                        m.midi_in(*ev);
                    }
                }
                m.tick(false).unwrap();
                out.push((
                    get(&m, "cc.out"),
                    get(&m, "note.pitch"),
                    get(&m, "note.gate"),
                ));
            }
            out
        };
        let a = run(true);
        assert_eq!(a, run(false));
        assert_eq!(a[1].0, 0.0, "not before its tick");
        assert!(
            close(a[2].0, 90.0 / 127.0),
            "the last of tick 2 wins: {:?}",
            a[2]
        );
        assert!(close(a[5].1, hz(64.0)) && a[5].2 == 1.0, "{:?}", a[5]);
        assert!(close(a[7].1, hz(60.0)) && a[7].2 == 1.0, "{:?}", a[7]);
        assert!(close(a[9].1, hz(58.0)), "bend fully down: {:?}", a[9]);
    }

    /// The engine thread takes the feed by itself (the path `--midi` uses).
    #[test]
    fn the_engine_thread_takes_the_feed() {
        use dmm_synth::engine::thread::{Pace, spawn};
        use std::time::{Duration, Instant};
        let m = machine(Box::new(CpuBackend::new()));
        let engine = spawn(m, Pace::WallClock, 0);
        let (tx, rx) = feed();
        engine.attach_midi(&rx);
        engine.attach_midi(&rx); // once per engine: the second call changes nothing
        let (w, _) = writer();
        let mut w = w.with_feed(tx);
        w.feed(0, &[0xB0, 74, 127]);
        let t0 = Instant::now();
        loop {
            let v = engine
                .latest()
                .and_then(|s| s.scalars.iter().find(|(n, _)| n == "cc.out").map(|x| x.1));
            if v == Some(1.0) {
                break;
            }
            assert!(t0.elapsed() < Duration::from_secs(30), "cc.out is {v:?}");
            std::thread::sleep(Duration::from_millis(5));
        }
        engine.stop().unwrap();
    }

    #[test]
    fn bad_midi_settings_are_refused_naming_the_setting() {
        for (line, want) in [
            ("c : midi_cc channel=17 controller=1", "channel"),
            ("c : midi_cc controller=128", "controller"),
            ("c : midi_cc", "controller"),
            ("c : midi_note bend=-1", "bend"),
            ("c : midi_clock channel=1", "channel"),
        ] {
            let text = format!("settings tick_rate=100 sample_rate=1600\n{line}\n");
            let e = Patch::parse(&text, "bad.dmm", &AssetDirs::default())
                .err()
                .unwrap_or_else(|| panic!("{line} was accepted"))
                .to_string();
            assert!(e.contains(want) && e.contains("bad.dmm"), "{line}: {e}");
        }
    }
}

/// Learn in the panel (egui_kittest): the learn button beside the weight slider arms the mapper,
/// a CC through the parser path is mapped, moving it sends `set` edits in the range, and the
/// mappings list removes it.
mod learn_ui {
    use super::*;
    use dmm_synth::control::learn::{Curve, MidiMapper, Range};
    use dmm_synth::engine::{Edit, PortRef};
    use dmm_synth::neurons::AssetDirs;
    use dmm_synth::patch::Patch;
    use dmm_synth::ui::learn::{LearnView, MapAction, apply, mappings_list};
    use dmm_synth::ui::panel::connection_editor;
    use dmm_synth::ui::{Editor, PanelState};
    use egui_kittest::Harness;
    use egui_kittest::kittest::Queryable;

    const PATCH: &str = "settings tick_rate=100 sample_rate=1600 image=8x8
k : one
x : identity
x.in <- 0.5 k
";

    fn pr(s: &str) -> PortRef {
        PortRef::parse(s).unwrap()
    }

    struct S {
        st: PanelState,
        ed: Editor,
    }

    fn state(available: bool) -> S {
        let p = Patch::parse(PATCH, "p.dmm", &AssetDirs::default()).unwrap();
        let st = PanelState::from_network(&p.network, &p.initial_w());
        let mut ed = Editor::default();
        ed.select(&st, &pr("x.in"), &pr("k.out"));
        ed.learn.available = available;
        S { st, ed }
    }

    fn set_of(e: &Edit) -> (String, String, f64) {
        match e {
            Edit::Set {
                target,
                source,
                weight,
                ..
            } => (target.to_string(), source.to_string(), *weight),
            other => panic!("expected a set, got {other:?}"),
        }
    }

    #[test]
    fn learn_button_maps_the_next_cc_and_the_list_removes_it() {
        let mut h = Harness::builder()
            .with_size(egui::vec2(600.0, 500.0))
            .build_ui_state(
                |ui, s: &mut S| {
                    let edits = connection_editor(ui, &s.st, &mut s.ed);
                    assert!(edits.is_empty(), "learning sends no edit by itself");
                },
                state(true),
            );
        h.run();
        h.get_by_label("learn").click();
        h.run();
        let actions = std::mem::take(&mut h.state_mut().ed.map_actions);
        let range = match actions.as_slice() {
            [MapAction::Learn(r)] => r.clone(),
            other => panic!("expected one learn request, got {other:?}"),
        };
        assert_eq!(
            (range.target.clone(), range.source.clone()),
            (pr("x.in"), pr("k.out"))
        );
        assert_eq!((range.min, range.max), (0.0, 0.5), "0 up to the weight");
        // While armed the button says so; the label changed.
        h.run();
        assert!(h.query_by_label("learning: move a control").is_some());

        // The mapper, and a CC through the parser path.
        let (mut midi, values) = writer();
        let mut mapper = MidiMapper::new(values.clone(), vec![]);
        apply(&mut mapper, actions);
        assert!(mapper.armed().is_some());
        assert_eq!(mapper.step(0.01), (vec![], None), "nothing moved yet");
        midi.feed(0, &[0xB2, 20, 64]);
        let (edits, line) = mapper.step(0.01);
        let line = line.expect("a log line");
        assert!(line.contains("channel 3 CC 20"), "{line}");
        // The log says how to keep it: a `map` line the patch file reads back.
        let map_line = line
            .split("to keep it in the patch: ")
            .nth(1)
            .expect("map line");
        let text = format!("{PATCH}{map_line}\n");
        let p = Patch::parse(&text, "kept.dmm", &AssetDirs::default()).unwrap();
        assert_eq!(p.mappings.len(), 1, "{map_line}");
        assert_eq!((p.mappings[0].min, p.mappings[0].max), (0.0, 0.5));
        let maps = mapper.mappings();
        assert_eq!(maps.len(), 1);
        assert_eq!((maps[0].cc.channel, maps[0].cc.controller), (3, 20));
        assert_eq!(edits.len(), 1);
        let (t, s, w) = set_of(&edits[0]);
        assert_eq!((t.as_str(), s.as_str()), ("x.in", "k.out"));
        assert!((w - 0.5 * 64.0 / 127.0).abs() < 1e-9, "{w}");
        // Running status: the top of the controller lands exactly on max, never beyond.
        midi.feed(10, &[20, 127]);
        let (edits, _) = mapper.step(0.01);
        assert_eq!(set_of(&edits[0]).2, 0.5);
        assert_eq!(mapper.step(0.01).0, vec![], "nothing new: nothing sent");
        // A new range from the list: the next step sends the weight in it.
        let exp = Range::new(pr("x.in"), pr("k.out"), (0.1, 10.0), Curve::Exp, 0.0).unwrap();
        apply(&mut mapper, vec![MapAction::Update(exp)]);
        assert_eq!(set_of(&mapper.step(0.01).0[0]).2, 10.0);
        // A NaN range is refused where it is made; nothing changes.
        assert!(Range::new(pr("x.in"), pr("k.out"), (f64::NAN, 1.0), Curve::Linear, 0.0).is_err());
        assert_eq!(mapper.mappings()[0].range.max, 10.0);

        // The list shows the mapping; remove removes it.
        let mut s = state(true);
        s.ed.learn = LearnView::of(&mapper);
        let mut list = Harness::builder()
            .with_size(egui::vec2(600.0, 300.0))
            .build_ui_state(|ui, s: &mut S| mappings_list(ui, &mut s.ed), s);
        list.run();
        assert!(list.query_by_label_contains("ch 3 CC 20").is_some());
        list.get_by_label("remove").click();
        list.run();
        let actions = std::mem::take(&mut list.state_mut().ed.map_actions);
        assert_eq!(
            actions,
            vec![MapAction::Remove {
                target: pr("x.in"),
                source: pr("k.out")
            }]
        );
        apply(&mut mapper, actions);
        assert!(mapper.mappings().is_empty());
        midi.feed(20, &[20, 0]);
        assert_eq!(
            mapper.step(0.01).0,
            vec![],
            "removed: the CC drives nothing"
        );
    }

    /// Issue 11: a learn completes with a note-on too. The weight then follows the note as a
    /// gate: struck, the velocity (0–1) through the range; released, the range's MIN. The log's
    /// `map note` line reads back; the list shows and removes it.
    #[test]
    fn learn_completes_with_a_note_and_the_weight_follows_it_as_a_gate() {
        let mut h = Harness::builder()
            .with_size(egui::vec2(600.0, 500.0))
            .build_ui_state(
                |ui, s: &mut S| {
                    connection_editor(ui, &s.st, &mut s.ed);
                },
                state(true),
            );
        h.run();
        h.get_by_label("learn").click();
        h.run();
        let actions = std::mem::take(&mut h.state_mut().ed.map_actions);
        let (mut midi, values) = writer();
        // A note held before learning is no strike.
        midi.feed(0, &[0x91, 60, 90]);
        let mut mapper = MidiMapper::new(values.clone(), vec![]);
        apply(&mut mapper, actions);
        assert!(mapper.armed().is_some());
        assert_eq!(mapper.step(0.01), (vec![], None), "nothing struck yet");
        midi.feed(1, &[0x80, 40, 0]); // A note-off is no strike either.
        assert_eq!(mapper.step(0.01), (vec![], None));
        midi.feed(2, &[0x91, 62, 100]);
        let (edits, line) = mapper.step(0.01);
        let line = line.expect("a log line");
        assert!(line.contains("channel 2 note 62"), "{line}");
        assert!(mapper.armed().is_none(), "the learn is over");
        let (t, s, w) = set_of(&edits[0]);
        assert_eq!((t.as_str(), s.as_str()), ("x.in", "k.out"));
        assert!((w - 0.5 * 100.0 / 127.0).abs() < 1e-6, "{w}");
        let map_line = line
            .split("to keep it in the patch: ")
            .nth(1)
            .expect("map line");
        assert!(
            map_line.starts_with("map note 2:62 x.in <- k.out"),
            "{map_line}"
        );
        let p = Patch::parse(
            &format!("{PATCH}{map_line}\n"),
            "kept.dmm",
            &AssetDirs::default(),
        )
        .unwrap();
        assert_eq!(p.mappings.len(), 1, "{map_line}");
        assert!(p.perform_maps.is_empty());
        // Released (note on with velocity 0 counts as off): MIN.
        midi.feed(3, &[0x91, 62, 0]);
        assert_eq!(set_of(&mapper.step(0.01).0[0]).2, 0.0);
        assert_eq!(mapper.step(0.01).0, vec![], "nothing new: nothing sent");
        // Another note, or the same on another channel, does nothing; struck again, top velocity
        // lands exactly on MAX.
        midi.feed(4, &[0x91, 61, 127, 0x92, 62, 127]);
        assert_eq!(mapper.step(0.01).0, vec![]);
        midi.feed(5, &[0x91, 62, 127]);
        assert_eq!(set_of(&mapper.step(0.01).0[0]).2, 0.5);

        let mut s = state(true);
        s.ed.learn = LearnView::of(&mapper);
        let mut list = Harness::builder()
            .with_size(egui::vec2(600.0, 300.0))
            .build_ui_state(|ui, s: &mut S| mappings_list(ui, &mut s.ed), s);
        list.run();
        assert!(list.query_by_label_contains("ch 2 note 62").is_some());
        list.get_by_label("remove").click();
        list.run();
        let actions = std::mem::take(&mut list.state_mut().ed.map_actions);
        apply(&mut mapper, actions);
        assert!(mapper.mappings().is_empty());
        midi.feed(6, &[0x81, 62, 0]);
        assert_eq!(
            mapper.step(0.01).0,
            vec![],
            "removed: the note drives nothing"
        );
    }

    /// A right click on a W-map cell selects that weight and arms learn for it.
    #[test]
    fn right_click_on_a_w_map_cell_learns_that_weight() {
        use dmm_synth::ui::panel::{HEAT_MAP_LABEL, heat_cell_center, heat_map};
        let mut s = state(true);
        s.ed = Editor::default();
        s.ed.learn.available = true;
        let st = s.st.clone();
        let mut h = Harness::builder()
            .with_size(egui::vec2(600.0, 500.0))
            .build_ui_state(|ui, s: &mut S| heat_map(ui, &s.st, &mut s.ed), s);
        h.run();
        let rect = h.get_by_label(HEAT_MAP_LABEL).rect();
        let row = st.inputs.iter().position(|q| q.port == pr("x.in")).unwrap();
        let col = st
            .outputs
            .iter()
            .position(|q| q.port == pr("k.out"))
            .unwrap();
        let at = heat_cell_center(rect, &st, row, col);
        h.hover_at(at);
        h.run();
        for pressed in [true, false] {
            h.event(egui::Event::PointerButton {
                pos: at,
                button: egui::PointerButton::Secondary,
                pressed,
                modifiers: egui::Modifiers::NONE,
            });
        }
        h.run();
        let ed = &h.state().ed;
        assert_eq!(
            (ed.target.clone(), ed.source.clone()),
            (Some(pr("x.in")), Some(pr("k.out")))
        );
        match ed.map_actions.as_slice() {
            [MapAction::Learn(r)] => {
                assert_eq!(
                    (r.target.clone(), r.source.clone()),
                    (pr("x.in"), pr("k.out"))
                );
                assert_eq!((r.min, r.max), (0.0, 0.5));
            }
            other => panic!("expected one learn request, got {other:?}"),
        }
    }

    /// The mappings list shows the crossfader and scene mappings; remove unmaps them.
    #[test]
    fn the_list_shows_and_removes_crossfader_and_scene_mappings() {
        use dmm_synth::patch::mapping::{PerformAim, PerformMap};
        let (_midi, values) = writer();
        let mut mapper = MidiMapper::new(values, vec![]);
        for m in ["cc 1:20 xfade", "note 1:60 scene 3"] {
            mapper.add_perform(PerformMap::parse(m).unwrap());
        }
        let mut s = state(true);
        s.ed.learn = LearnView::of(&mapper);
        let mut h = Harness::builder()
            .with_size(egui::vec2(600.0, 500.0))
            .build_ui_state(|ui, s: &mut S| mappings_list(ui, &mut s.ed), s);
        h.run();
        assert!(h.query_by_label("cc 1:20 xfade").is_some());
        assert!(h.query_by_label("note 1:60 scene 3").is_some());
        h.get_all_by_label("remove")
            .nth(1)
            .expect("a second row")
            .click();
        h.run();
        let actions = std::mem::take(&mut h.state_mut().ed.map_actions);
        assert_eq!(actions, [MapAction::RemovePerform(PerformAim::Scene(3))]);
        apply(&mut mapper, actions);
        let left: Vec<String> = mapper
            .perform
            .list()
            .iter()
            .map(|m| m.to_string())
            .collect();
        assert_eq!(left, ["cc 1:20 xfade"]);
    }

    #[test]
    fn without_midi_the_learn_button_is_off() {
        let mut h = Harness::builder()
            .with_size(egui::vec2(600.0, 500.0))
            .build_ui_state(
                |ui, s: &mut S| {
                    connection_editor(ui, &s.st, &mut s.ed);
                },
                state(false),
            );
        h.run();
        h.get_by_label("learn").click();
        h.run();
        assert!(h.state().ed.map_actions.is_empty());
    }
}

/// Mappings saved in the patch file: `map` lines in the text form, the `"mappings"` array in
/// JSON; both convert into each other without loss, and bad entries name their line or index.
mod saved {
    use dmm_synth::control::ControlOptions;
    use dmm_synth::control::learn::Curve;
    use dmm_synth::neurons::AssetDirs;
    use dmm_synth::patch::Patch;
    use dmm_synth::patch::mapping::{Control, MapSpec};
    use dmm_synth::patch::text::print_text;

    const TEXT: &str = "settings tick_rate=100 sample_rate=1600 image=8x8

k   : one
map : one          # a neuron may still be called map
x   : identity
ph  : phasor

x.in    <- 0.5 k + 0.25 map
ph.freq <- 220 k

map cc 1:74 ph.freq <- k.out 110..880 exp smooth=0.05   # cutoff knob
map osc /1/fader1 x.in <- k.out -1..1
map cc 0:7 x.in <- map.out 0..2
map note 2:61 ph.freq <- map.out 0..4
map cc 1:20 xfade
map note 1:60 scene 3
";

    fn parse(text: &str, file: &str) -> Result<Patch, String> {
        Patch::parse(text, file, &AssetDirs::default()).map_err(|e| e.to_string())
    }

    #[test]
    fn mappings_survive_text_json_text() {
        let p = parse(TEXT, "m.dmm").unwrap();
        assert_eq!(p.mappings.len(), 4);
        assert_eq!(
            p.mappings[3].control,
            Control::Note {
                channel: 2,
                note: 61
            }
        );
        let m = &p.mappings[0];
        assert_eq!(
            m.control,
            Control::Cc {
                channel: 1,
                controller: 74
            }
        );
        assert_eq!(
            (m.target.to_string(), m.source.to_string()),
            ("ph.freq".into(), "k.out".into())
        );
        assert_eq!(
            (m.min, m.max, m.exp, m.smoothing),
            (110.0, 880.0, true, 0.05)
        );
        assert_eq!(p.mappings[1].control, Control::Osc("/1/fader1".into()));
        assert_eq!((p.mappings[1].min, p.mappings[1].exp), (-1.0, false));
        let pr = |s: &str| dmm_synth::engine::PortRef::parse(s).unwrap();
        assert_eq!(p.weights.get(&pr("x.in"), &pr("map.out")), 0.25);

        let json = p.to_json_string();
        assert!(json.contains("\"mappings\""), "{json}");
        let from_json = parse(&json, "m.json").unwrap();
        assert_eq!(from_json.mappings, p.mappings, "text -> JSON -> patch");
        let text = print_text(&from_json);
        assert!(
            text.contains("map cc 1:74 ph.freq <- k.out 110.0..880.0 exp smooth=0.05"),
            "{text}"
        );
        assert!(
            text.contains("map note 2:61 ph.freq <- map.out 0.0..4.0"),
            "{text}"
        );
        assert!(json.contains("note 2:61 ph.freq <- map.out"), "{json}");
        let again = parse(&text, "again.dmm").unwrap();
        assert_eq!(again.mappings, p.mappings, "JSON -> text -> patch");
        assert_eq!(print_text(&again), text, "text -> text is a fixed point");
        for m in &p.mappings {
            assert_eq!(&MapSpec::parse(&m.to_string()).unwrap(), m, "{m}");
        }
        // The crossfader and scene mappings travel the same way.
        use dmm_synth::patch::mapping::{PerformAim, PerformMap};
        let perform = vec![
            PerformMap {
                channel: 1,
                number: 20,
                aim: PerformAim::Xfade,
                osc: None,
            },
            PerformMap {
                channel: 1,
                number: 60,
                aim: PerformAim::Scene(3),
                osc: None,
            },
        ];
        assert_eq!(p.perform_maps, perform);
        assert_eq!(from_json.perform_maps, perform, "text -> JSON -> patch");
        assert_eq!(again.perform_maps, perform, "JSON -> text -> patch");
        assert!(
            text.contains("map cc 1:20 xfade\nmap note 1:60 scene 3"),
            "{text}"
        );
    }

    #[test]
    fn bad_mapping_entries_name_the_line_or_the_index() {
        let base =
            "settings tick_rate=100 sample_rate=1600\nk : one\nx : identity\no : one audio\n";
        for (line, want) in [
            ("map cc 17:1 x.in <- k.out 0..1", "channel"),
            ("map cc 1:200 x.in <- k.out 0..1", "controller"),
            ("map cc 1:1 nope.in <- k.out 0..1", "nope"),
            ("map cc 1:1 x.in <- o.out 0..1", "audio"),
            ("map cc 1:1 x.in <- k.out 0..nan", "MAX"),
            ("map cc 1:1 x.in <- k.out -1..1 exp", "exponential"),
            ("map cc 1:1 x.in <- k.out 0..1 smooth=100", "smooth"),
            ("map cc 1:1 x.in k.out 0..1", "<-"),
            ("map osc /dmm/w x.in <- k.out 0..1", "/dmm/"),
            ("map knob 1 x.in <- k.out 0..1", "cc"),
            ("map note 1:60 scene 12", "slot 1..=9"),
            ("map cc 1:20 scene 2", "note"),
            ("map note 1:200 scene 2", "note 0..=127"),
            ("map note 1:200 x.in <- k.out 0..1", "note 0..=127"),
            ("map note 17:1 x.in <- k.out 0..1", "channel 0..=16"),
        ] {
            let e = parse(&format!("{base}{line}\n"), "bad.dmm")
                .err()
                .unwrap_or_else(|| panic!("{line} was accepted"));
            assert!(e.starts_with("bad.dmm:5:"), "{line}: {e}");
            assert!(e.contains(want), "{line}: {e}");
            assert!(!e.contains('\n'), "one line: {e}");
        }
        let json = |maps: &str| {
            format!(
                r#"{{"settings": {{"tick_rate": 100, "sample_rate": 1600}},
                "neurons": {{"k": {{"type": "one"}}, "x": {{"type": "identity"}}}},
                "weights": {{}}, "mappings": {maps}}}"#
            )
        };
        for (maps, want) in [
            (
                r#"["cc 1:1 x.in <- k.out 0..1", "cc 1:1 x.in <- k.out 0..nan"]"#,
                "mappings[1]",
            ),
            (r#"[3]"#, "mappings[0]"),
            (r#""cc 1:1 x.in <- k.out 0..1""#, "mappings"),
            (r#"["cc 1:1 k.out <- x.out 0..1"]"#, "mappings[0]"),
            (r#"["cc 1:20 xfade", "note 1:60 scene 0"]"#, "mappings[1]"),
        ] {
            let e = parse(&json(maps), "bad.json")
                .err()
                .unwrap_or_else(|| panic!("{maps} was accepted"));
            assert!(e.contains(want), "{maps}: {e}");
        }
        assert!(parse(&json(r#"["cc 1:1 x.in <- k.out 0..1"]"#), "ok.json").is_ok());
    }

    #[test]
    fn a_patch_s_mappings_become_the_instrument_s() {
        let p = parse(TEXT, "m.dmm").unwrap();
        let mut opts = ControlOptions::default();
        opts.add_patch_mappings(&p.mappings);
        assert_eq!(opts.midi_maps.len(), 3);
        let n = &opts.midi_maps[2];
        assert_eq!((n.cc.channel, n.cc.controller, n.cc.note), (2, 61, true));
        assert_eq!(n.range.value(1.0), 4.0);
        let m = &opts.midi_maps[0];
        assert_eq!((m.cc.channel, m.cc.controller), (1, 74));
        assert_eq!(m.range.curve, Curve::Exp);
        assert_eq!(m.range.value(1.0), 880.0);
        assert_eq!(opts.osc_maps.len(), 1);
        assert_eq!(opts.osc_maps[0].0, "/1/fader1");
        assert_eq!(opts.osc_maps[0].1.value(0.5), 0.0);
        assert!(
            !opts.midi,
            "mappings alone add MIDI maps; start turns MIDI on for them"
        );
        // A patch with a midi_* neuron turns MIDI on.
        let mut opts = ControlOptions::default();
        opts.add_patch(&parse(&format!("{TEXT}n : midi_note\n"), "n.dmm").unwrap());
        assert!(opts.midi);
        let mut opts = ControlOptions::default();
        opts.add_patch(&parse("settings tick_rate=100\nk : one\n", "k.dmm").unwrap());
        assert!(!opts.midi && opts.midi_maps.is_empty());
    }
    /// Saving the running network keeps the file's mappings; with the window's mapper told
    /// (`set_midi_maps`) its MIDI ones replace the file's and the OSC ones stay.
    #[test]
    fn saving_the_running_network_keeps_the_mappings() {
        use dmm_synth::backend::cpu::CpuBackend;
        use dmm_synth::engine::PortRef;
        use dmm_synth::live::{Live, LiveOptions};
        use dmm_synth::patch::mapping::{PerformAim, PerformMap};
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("m.dmm");
        std::fs::write(&path, TEXT).unwrap();
        let opts = LiveOptions {
            audio: false,
            watch: false,
            capture_every: 0,
            morph: None,
            trace: None,
        };
        let mut live = Live::open(&path, Box::new(CpuBackend::new()), opts).unwrap();
        let lines = |p: &Patch| -> Vec<String> {
            let mut v: Vec<String> = p.mappings.iter().map(|m| m.to_string()).collect();
            v.extend(p.perform_maps.iter().map(|m| m.to_string()));
            v.sort();
            v
        };
        let before = lines(&parse(TEXT, "m.dmm").unwrap());
        assert_eq!(before.len(), 6);
        live.save().unwrap();
        let saved = parse(&std::fs::read_to_string(&path).unwrap(), "m.dmm").unwrap();
        assert_eq!(lines(&saved), before, "a plain save keeps every mapping");

        // The performer learned one knob and removed the others; a scene note stays.
        let learned = MapSpec {
            control: Control::Cc {
                channel: 2,
                controller: 1,
            },
            target: PortRef::new("x", "in"),
            source: PortRef::new("k", "out"),
            min: 0.0,
            max: 0.5,
            exp: false,
            smoothing: 0.0,
        };
        let scene = PerformMap {
            aim: PerformAim::Scene(2),
            channel: 1,
            number: 61,
            osc: None,
        };
        live.set_midi_maps(vec![learned.clone()], vec![scene.clone()]);
        live.save().unwrap();
        let saved = parse(&std::fs::read_to_string(&path).unwrap(), "m.dmm").unwrap();
        let osc = parse(TEXT, "m.dmm")
            .unwrap()
            .mappings
            .into_iter()
            .find(|m| matches!(m.control, Control::Osc(_)))
            .unwrap();
        let mut want = vec![learned.to_string(), scene.to_string(), osc.to_string()];
        want.sort();
        assert_eq!(lines(&saved), want);
    }
}
