//! Zero allocations per tick in steady state (issue 12): a counting global allocator counts the
//! allocations made by this thread (the engine thread of the test) while plain ticks run on the
//! CPU backend. Edits may allocate; ticks without edits, after a warm-up, may not.

mod common;

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

struct Counting;

thread_local! {
    static COUNTING: Cell<bool> = const { Cell::new(false) };
    static COUNT: Cell<u64> = const { Cell::new(0) };
}

fn note() {
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
    // The counter is live: a test that cannot fail proves nothing.
    let n = allocations(|| drop(std::hint::black_box(vec![1u8; 64])));
    assert_eq!(n, 1);
}

#[test]
fn fm_ticks_do_not_allocate() {
    assert_eq!(steady_state_allocations(&common::patch("fm.json")), 0);
}

#[test]
fn default_ticks_do_not_allocate() {
    assert_eq!(steady_state_allocations(&common::patch("default.json")), 0);
}

#[test]
fn hundred_oscillators_do_not_allocate() {
    let p = common::patch_str(&oscillators(100));
    assert_eq!(steady_state_allocations(&p), 0);
}

#[test]
fn ticks_after_an_edit_settle_to_no_allocation() {
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

/// The audio staples and bridges (svf, delay, adsr, spectrum with its FFT, scan) in the two
/// patches that show them.
#[test]
fn audio_staples_and_bridges_do_not_allocate() {
    for name in ["spectrum_picture.dmm", "scan_sound.dmm"] {
        assert_eq!(steady_state_allocations(&common::patch(name)), 0, "{name}");
    }
}
