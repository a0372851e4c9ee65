//! n sine oscillators summed into a stereo output, in dmm-synth (a `phasor` and a `sin` neuron
//! each, weighted into `audio_out`, CPU backend, whole ticks) and in fundsp (`sine_hz` each, in
//! its dynamic `Net` and in a static graph, `busi`), side by side: ns per oscillator per sample,
//! the median of 5 alternating rounds, by the thread's CPU time (what one core spends, robust to
//! a machine shared with other jobs) and by wall time.

use dmm_synth::backend::cpu::CpuBackend;
use dmm_synth::engine::Machine;
use dmm_synth::engine::meter::thread_cpu_time;
use dmm_synth::neurons::AssetDirs;
use dmm_synth::patch::Patch;
use fundsp::prelude32::*;
use std::time::{Duration, Instant};

const SAMPLE_RATE: f64 = 48000.0;
const ROUNDS: usize = 5;
const ROUND: Duration = Duration::from_millis(300);

fn freq(i: u64) -> f32 {
    110.0 + 7.0 * i as f32
}

/// The dmm-synth patch: `n` oscillators (a phasor and a sin each) summed into audio_out.
fn patch(n: usize) -> Patch {
    let mut neurons = vec![
        r#""one": {"type": "one", "kind": "audio"}"#.to_string(),
        r#""out": {"type": "audio_out"}"#.to_string(),
    ];
    let mut w = Vec::new();
    for i in 0..n {
        neurons.push(format!(r#""ph{i}": {{"type": "phasor", "kind": "audio"}}"#));
        neurons.push(format!(r#""osc{i}": {{"type": "sin", "kind": "audio"}}"#));
        w.push(format!(
            r#""ph{i}.freq": {{"one.out": {}}}"#,
            freq(i as u64)
        ));
        w.push(format!(
            r#""osc{i}.x": {{"ph{i}.out": 1}}, "osc{i}.a": {{"one.out": 6.283185307179586}}"#
        ));
    }
    let sum: Vec<String> = (0..n).map(|i| format!(r#""osc{i}.out": 0.01"#)).collect();
    w.push(format!(r#""out.left": {{{}}}"#, sum.join(", ")));
    w.push(format!(r#""out.right": {{{}}}"#, sum.join(", ")));
    let text = format!(
        r#"{{"settings": {{"tick_rate": 375, "sample_rate": {SAMPLE_RATE}}}, "neurons": {{{}}}, "weights": {{{}}}}}"#,
        neurons.join(", "),
        w.join(", ")
    );
    Patch::parse(&text, "oscillators.json", &AssetDirs::default()).expect("valid patch")
}

/// Runs `step` (which renders `samples` samples) for one round; returns ns per sample of this
/// thread's CPU time and of wall time.
fn ns_per_sample(samples: usize, mut step: impl FnMut()) -> [f64; 2] {
    let (start, cpu0) = (Instant::now(), thread_cpu_time());
    let mut n = 0usize;
    while start.elapsed() < ROUND || n < 3 {
        step();
        n += 1;
    }
    let wall = start.elapsed().as_secs_f64();
    let cpu = cpu0
        .zip(thread_cpu_time())
        .map_or(wall, |(a, b)| (b - a).as_secs_f64());
    [cpu, wall].map(|t| t * 1e9 / (n * samples) as f64)
}

/// ns per sample of a fundsp unit rendering 64-sample blocks of stereo.
fn fundsp_round(unit: &mut dyn AudioUnit) -> [f64; 2] {
    let input = BufferVec::new(0);
    let mut output = BufferVec::new(2);
    ns_per_sample(MAX_BUFFER_SIZE, || {
        unit.process(
            MAX_BUFFER_SIZE,
            &input.buffer_ref(),
            &mut output.buffer_mut(),
        );
        std::hint::black_box(output.channel_f32(0)[0]);
    })
}

fn net(n: usize) -> Net {
    let mut sum = Net::wrap(Box::new(sine_hz(freq(0)) * 0.01));
    for i in 1..n as u64 {
        sum = sum + Net::wrap(Box::new(sine_hz(freq(i)) * 0.01));
    }
    sum >> Net::wrap(Box::new(split::<U2>()))
}

fn static_graph(n: usize) -> Box<dyn AudioUnit> {
    let osc = |i: u64| sine_hz(freq(i)) * 0.01;
    match n {
        10 => Box::new(busi::<U10, _, _>(osc) >> split::<U2>()),
        100 => Box::new(busi::<U100, _, _>(osc) >> split::<U2>()),
        // Ten buses of 100 (fundsp's prelude names sizes up to 128).
        _ => Box::new(
            busi::<U10, _, _>(|j| busi::<U100, _, _>(move |i| osc(j * 100 + i))) >> split::<U2>(),
        ),
    }
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// [dmm-synth, fundsp Net, fundsp static] ns per oscillator per sample for `n` oscillators, by
/// CPU time and by wall time.
fn measure(n: usize) -> [[f64; 3]; 2] {
    let p = patch(n);
    let mut m = Machine::new(
        p.network.clone(),
        p.initial_w(),
        Box::new(CpuBackend::new()),
        AssetDirs::default(),
        0,
    )
    .expect("machine");
    let block = p.network.block_len();
    for _ in 0..20 {
        m.tick(false).expect("tick");
    }
    let mut dyn_net = net(n);
    let mut st = static_graph(n);
    for u in [&mut dyn_net as &mut dyn AudioUnit, st.as_mut()] {
        u.set_sample_rate(SAMPLE_RATE);
        u.allocate();
    }
    let mut r: [[Vec<f64>; 3]; 2] = Default::default();
    for _ in 0..ROUNDS {
        let rounds = [
            ns_per_sample(block, || {
                m.tick(false).expect("tick");
            }),
            fundsp_round(&mut dyn_net),
            fundsp_round(st.as_mut()),
        ];
        for (who, [cpu, wall]) in rounds.into_iter().enumerate() {
            r[0][who].push(cpu);
            r[1][who].push(wall);
        }
    }
    r.map(|by| by.map(|v| median(v) / n as f64))
}

pub fn section() {
    let all: Vec<[[f64; 3]; 2]> = [10, 100, 1000].into_iter().map(measure).collect();
    for (clock, by) in [("thread CPU time", 0), ("wall time", 1)] {
        println!();
        println!("sine oscillators, ns per oscillator per sample (median of {ROUNDS}), by {clock}");
        println!("{:<32}{:>9} {:>9} {:>9}", "oscillators", 10, 100, 1000);
        let m: Vec<[f64; 3]> = all.iter().map(|a| a[by]).collect();
        let row = |name: &str, f: &dyn Fn(&[f64; 3]) -> String| {
            println!("{name:<32}{:>9} {:>9} {:>9}", f(&m[0]), f(&m[1]), f(&m[2]))
        };
        row("dmm-synth cpu", &|v| format!("{:.2}", v[0]));
        row("fundsp Net", &|v| format!("{:.2}", v[1]));
        row("fundsp static (busi)", &|v| format!("{:.2}", v[2]));
        row("Net / dmm-synth (>1: faster)", &|v| {
            format!("{:.2}x", v[1] / v[0])
        });
        row("static / dmm-synth", &|v| format!("{:.2}x", v[2] / v[0]));
        let ns = [10.0, 100.0, 1000.0];
        println!(
            "{:<32}{:>9} {:>9} {:>9}",
            "dmm-synth x real time (1 core)",
            format!("{:.1}", 1e9 / (m[0][0] * ns[0] * SAMPLE_RATE)),
            format!("{:.1}", 1e9 / (m[1][0] * ns[1] * SAMPLE_RATE)),
            format!("{:.1}", 1e9 / (m[2][0] * ns[2] * SAMPLE_RATE))
        );
    }
}
