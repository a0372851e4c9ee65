//! Zero allocations per tick in steady state (issue 12): a counting global allocator counts the
//! allocations made by this thread (the engine thread of the test) while plain ticks run on the
//! CPU backend. Edits may allocate; ticks without edits, after a warm-up, may not.

mod common;

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

struct Counting;

thread_local! {
    static COUNTING: Cell<bool> = const { Cell::new(false) };
    static COUNT: Cell<u64> = const { Cell::new(0) };
}

/// Counting on every thread of the process (the engine thread is not ours to flag), for
/// `the_engine_thread_loop_does_not_allocate`; the tests of this file run one at a time (SERIAL).
static EVERY_THREAD: AtomicBool = AtomicBool::new(false);
static EVERY_COUNT: AtomicU64 = AtomicU64::new(0);
static SERIAL: Mutex<()> = Mutex::new(());

fn serial() -> std::sync::MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|e| e.into_inner())
}

fn note() {
    if EVERY_THREAD.load(Ordering::Relaxed) {
        EVERY_COUNT.fetch_add(1, Ordering::Relaxed);
    }
    // `try_with`: the allocator also runs while thread-locals are torn down.
    let on = COUNTING.try_with(Cell::get).unwrap_or(false);
    if on {
        let _ = COUNT.try_with(|c| c.set(c.get() + 1));
    }
}

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        note();
        unsafe { System.alloc(l) }
    }
    unsafe fn alloc_zeroed(&self, l: Layout) -> *mut u8 {
        note();
        unsafe { System.alloc_zeroed(l) }
    }
    unsafe fn realloc(&self, p: *mut u8, l: Layout, n: usize) -> *mut u8 {
        note();
        unsafe { System.realloc(p, l, n) }
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        unsafe { System.dealloc(p, l) }
    }
}

#[global_allocator]
static ALLOC: Counting = Counting;

/// Allocations made by this thread while `f` runs.
fn allocations(f: impl FnOnce()) -> u64 {
    COUNT.with(|c| c.set(0));
    COUNTING.with(|c| c.set(true));
    f();
    COUNTING.with(|c| c.set(false));
    COUNT.with(Cell::get)
}

fn steady_state_allocations(p: &dmm_synth::patch::Patch) -> u64 {
    let mut m = common::machine(p);
    for _ in 0..20 {
        m.tick(false).expect("tick");
    }
    allocations(|| {
        for _ in 0..1000 {
            m.tick(false).expect("tick");
        }
    })
}

/// `n` oscillators (a phasor and a sin each) summed into audio_out.
pub fn oscillators(n: usize) -> String {
    let mut neurons = vec![
        r#""one": {"type": "one", "kind": "audio"}"#.to_string(),
        r#""out": {"type": "audio_out"}"#.to_string(),
    ];
    let mut w = Vec::new();
    for i in 0..n {
        neurons.push(format!(r#""ph{i}": {{"type": "phasor", "kind": "audio"}}"#));
        neurons.push(format!(r#""osc{i}": {{"type": "sin", "kind": "audio"}}"#));
        let f = 110.0 + 7.0 * i as f64;
        w.push(format!(r#""ph{i}.freq": {{"one.out": {f}}}"#));
        w.push(format!(
            r#""osc{i}.x": {{"ph{i}.out": 1}}, "osc{i}.a": {{"one.out": 6.283185307179586}}"#
        ));
    }
    let sum: Vec<String> = (0..n).map(|i| format!(r#""osc{i}.out": 0.01"#)).collect();
    w.push(format!(r#""out.left": {{{}}}"#, sum.join(", ")));
    w.push(format!(r#""out.right": {{{}}}"#, sum.join(", ")));
    format!(
        r#"{{"settings": {{"tick_rate": 375, "sample_rate": 48000}}, "neurons": {{{}}}, "weights": {{{}}}}}"#,
        neurons.join(", "),
        w.join(", ")
    )
}

#[test]
fn counter_sees_allocations() {
    let _one_at_a_time = serial();
    // The counter is live: a test that cannot fail proves nothing.
    let n = allocations(|| drop(std::hint::black_box(vec![1u8; 64])));
    assert_eq!(n, 1);
}

#[test]
fn fm_ticks_do_not_allocate() {
    let _one_at_a_time = serial();
    assert_eq!(steady_state_allocations(&common::patch("fm.json")), 0);
}

#[test]
fn default_ticks_do_not_allocate() {
    let _one_at_a_time = serial();
    assert_eq!(steady_state_allocations(&common::patch("default.json")), 0);
}

#[test]
fn hundred_oscillators_do_not_allocate() {
    let _one_at_a_time = serial();
    let p = common::patch_str(&oscillators(100));
    assert_eq!(steady_state_allocations(&p), 0);
}

#[test]
fn ticks_after_an_edit_settle_to_no_allocation() {
    let _one_at_a_time = serial();
    use dmm_synth::engine::{Edit, PortRef};
    let mut m = common::machine(&common::patch("fm.json"));
    for _ in 0..20 {
        m.tick(false).expect("tick");
    }
    m.submit(Edit::Set {
        target: PortRef::new("out", "left"),
        source: PortRef::new("car", "out"),
        weight: 0.1,
        morph: 0.0,
    });
    for _ in 0..10 {
        m.tick(false).expect("tick");
    }
    let n = allocations(|| {
        for _ in 0..1000 {
            m.tick(false).expect("tick");
        }
    });
    assert_eq!(n, 0);
    assert_eq!(
        m.w()
            .get(&PortRef::new("out", "left"), &PortRef::new("car", "out")),
        0.1
    );
}

#[test]
fn reading_a_port_for_the_scope_does_not_allocate() {
    // The scope's feed reads one audio port back every tick into a buffer it keeps.
    use dmm_synth::engine::PortRef;
    let mut m = common::machine(&common::patch("fm.json"));
    let (n, p, _) = m
        .network()
        .output_port(&PortRef::new("car", "out"))
        .expect("car.out");
    let mut buf = Vec::new();
    for _ in 0..20 {
        m.tick(false).expect("tick");
        assert!(m.read_into(n, p, true, &mut buf));
    }
    let count = allocations(|| {
        for _ in 0..1000 {
            m.tick(false).expect("tick");
            assert!(m.read_into(n, p, true, &mut buf));
        }
    });
    assert_eq!(count, 0);
    assert_eq!(buf.len(), m.network().block_len());
    assert!(buf.iter().any(|&x| x != 0.0), "the carrier is not silent");
}

/// The audio staples and bridges (svf, delay, adsr, spectrum with its FFT, scan) in the two
/// patches that show them.
#[test]
fn audio_staples_and_bridges_do_not_allocate() {
    for name in ["spectrum_picture.dmm", "scan_sound.dmm"] {
        assert_eq!(steady_state_allocations(&common::patch(name)), 0, "{name}");
    }
}

/// The engine thread's whole loop (tick, audio hand-off, snapshot publication with display
/// frames every 6th tick), not only `Machine::tick`: no allocation in steady state. Progress is
/// read from the dropped-audio counter (nobody reads the audio channel here, so each tick past
/// the first 64 counts one), which the engine updates without allocating.
#[test]
fn the_engine_thread_loop_does_not_allocate() {
    use dmm_synth::engine::thread::{Pace, spawn};
    let _one_at_a_time = serial();
    for name in ["default.json", "fm.json"] {
        let h = spawn(common::machine(&common::patch(name)), Pace::Free, 6);
        let ticks = || h.dropped_audio.load(Ordering::Relaxed);
        let wait_for = |n: u64| {
            while ticks() < n {
                assert!(!h.finished(), "{name}: the engine thread stopped");
                std::thread::sleep(std::time::Duration::from_millis(1));
            }
        };
        wait_for(200);
        let from = ticks();
        EVERY_COUNT.store(0, Ordering::Relaxed);
        EVERY_THREAD.store(true, Ordering::Relaxed);
        wait_for(from + 1000);
        EVERY_THREAD.store(false, Ordering::Relaxed);
        let n = EVERY_COUNT.load(Ordering::Relaxed);
        let published = h.latest().map(|s| s.tick).unwrap_or(0);
        h.stop().expect("engine stops cleanly");
        assert!(
            published > from,
            "{name}: snapshots kept coming ({published})"
        );
        assert_eq!(n, 0, "{name}: allocations in 1000 ticks of the engine loop");
    }
}

/// A patch with every MIDI neuron (omni and per channel) driving an oscillator, fed a stream of
/// events on every tick: notes on and off, controllers, pitch bend and a running clock. Taking
/// the events, the state they set and the kernels that read it allocate nothing per tick.
#[test]
fn midi_neurons_fed_events_do_not_allocate() {
    use dmm_synth::control::midi::{MidiEvent, MidiIn};
    let _one_at_a_time = serial();
    let p = common::patch_str(
        r#"{"settings": {"tick_rate": 375, "sample_rate": 48000},
            "neurons": {
              "note": {"type": "midi_note"},
              "note2": {"type": "midi_note", "channel": 2, "bend": 12},
              "cc": {"type": "midi_cc", "controller": 74},
              "cc1": {"type": "midi_cc", "channel": 1, "controller": 1},
              "clock": {"type": "midi_clock"},
              "one": {"type": "one", "kind": "audio"},
              "freq": {"type": "hold"},
              "ph": {"type": "phasor", "kind": "audio"},
              "osc": {"type": "sin", "kind": "audio"},
              "out": {"type": "audio_out"}},
            "weights": {
              "freq.x": {"note.pitch": 1, "note2.pitch": 0.5, "clock.bpm": 0.1},
              "ph.freq": {"freq.out": 1},
              "osc.x": {"ph.out": 1}, "osc.a": {"one.out": 6.283185307179586},
              "out.left": {"osc.out": 0.1}, "out.right": {"osc.out": 0.1}}}"#,
    );
    let mut m = common::machine(&p);
    // One tick's events (about 2.7 ms of MIDI at 375 ticks/s).
    let mut us = 0u64;
    let mut feed = |m: &mut dmm_synth::engine::Machine, t: u64| {
        let channel = 1 + (t % 3) as u8;
        let note = 40 + (t % 24) as u8;
        let events = [
            MidiEvent::NoteOn {
                channel,
                note,
                velocity: 100,
            },
            MidiEvent::Cc {
                channel,
                controller: if t.is_multiple_of(2) { 74 } else { 1 },
                value: (t % 128) as u8,
            },
            MidiEvent::PitchBend {
                channel,
                value: (t as i16 % 200) * 40 - 4000,
            },
            MidiEvent::Clock,
            MidiEvent::NoteOff {
                channel,
                note: note.wrapping_sub(5),
            },
        ];
        if t == 0 {
            m.midi_in(MidiIn {
                time_us: us,
                event: MidiEvent::Start,
            });
        }
        for event in events {
            us += 500;
            m.midi_in(MidiIn { time_us: us, event });
        }
    };
    for t in 0..200 {
        feed(&mut m, t);
        m.tick(false).expect("tick");
    }
    let n = allocations(|| {
        for t in 200..1200 {
            feed(&mut m, t);
            m.tick(false).expect("tick");
        }
    });
    assert_eq!(n, 0);
    // The events arrived: a note is sounding with a bend, the controller moved, the clock runs.
    assert!(m.scalar("note.pitch").is_some_and(|f| f > 20.0));
    assert!(m.scalar("note.gate") == Some(1.0));
    assert!(m.scalar("clock.running") == Some(1.0));
    assert!(
        m.scalar("cc.out").is_some_and(|v| v > 0.0) || m.scalar("cc1.out").is_some_and(|v| v > 0.0)
    );
}

/// A reader of the engine's audio channel (a recorder, a test) that keeps up: the blocks it
/// drops go back to the engine thread and are filled again, so the engine loop and the reader
/// together allocate nothing per tick.
#[test]
fn reading_the_audio_channel_does_not_allocate() {
    use dmm_synth::engine::thread::{Pace, spawn};
    let _one_at_a_time = serial();
    let p = common::patch("fm.json");
    let block = p.network.block_len();
    let h = spawn(common::machine(&p), Pace::Free, 6);
    let mut read = 0u64;
    let mut loud = false;
    let mut drain = |n: u64| {
        let until = read + n;
        while read < until {
            assert!(!h.finished(), "the engine thread stopped");
            match h.audio.try_recv() {
                Ok(b) => {
                    assert_eq!((b.left.len(), b.right.len()), (block, block));
                    loud |= b.left.iter().any(|&x| x != 0.0);
                    read += 1;
                }
                Err(_) => std::thread::yield_now(),
            }
        }
    };
    drain(200);
    EVERY_COUNT.store(0, Ordering::Relaxed);
    EVERY_THREAD.store(true, Ordering::Relaxed);
    drain(1000);
    EVERY_THREAD.store(false, Ordering::Relaxed);
    let n = EVERY_COUNT.load(Ordering::Relaxed);
    h.stop().expect("engine stops cleanly");
    assert!(loud, "fm.json is not silent");
    assert_eq!(
        n, 0,
        "allocations in 1000 blocks read from the audio channel"
    );
}
