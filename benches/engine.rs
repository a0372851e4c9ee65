//! CPU backend benchmarks (issue: engine core): ticks/s of poster.json at 256² and 512², and the
//! real-time factor of fm.json. Run with `cargo bench --bench engine`.

use dmm_synth::backend::cpu::CpuBackend;
use dmm_synth::engine::Machine;
use dmm_synth::neurons::AssetDirs;
use dmm_synth::patch::Patch;
use std::path::PathBuf;
use std::time::{Duration, Instant};

fn load(name: &str, size: Option<usize>) -> (Patch, AssetDirs) {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("patches")
        .join(name);
    let assets = AssetDirs::for_patch(&path);
    let mut json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&path).expect("patch")).expect("json");
    if let Some(n) = size {
        json["settings"]["image_size"] = serde_json::json!([n, n]);
    }
    let p = Patch::parse(&json.to_string(), name, &assets).expect("valid patch");
    (p, assets)
}

/// Runs ticks for at least `min` wall time (after a warm-up); returns ticks per second.
fn ticks_per_second(p: &Patch, assets: &AssetDirs, min: Duration) -> f64 {
    let mut m = Machine::new(
        p.network.clone(),
        p.initial_w(),
        Box::new(CpuBackend::new()),
        assets.clone(),
        0,
    )
    .expect("machine");
    for _ in 0..5 {
        m.tick(false).expect("tick");
    }
    let start = Instant::now();
    let mut n = 0u64;
    while start.elapsed() < min || n < 10 {
        m.tick(false).expect("tick");
        n += 1;
    }
    n as f64 / start.elapsed().as_secs_f64()
}

fn main() {
    // `cargo bench` passes --bench; a filter argument, if any, is ignored.
    let min = Duration::from_secs(3);
    println!(
        "dmm-synth CPU backend benchmark ({} threads)",
        rayon::current_num_threads()
    );
    println!("{:<28} {:>12}", "case", "result");
    for n in [256, 512] {
        let (p, a) = load("poster.json", Some(n));
        let tps = ticks_per_second(&p, &a, min);
        println!(
            "{:<28} {:>9.1} ticks/s ({:.2} ms/tick)",
            format!("poster.json {n}x{n}"),
            tps,
            1e3 / tps
        );
    }
    let (p, a) = load("fm.json", None);
    let tps = ticks_per_second(&p, &a, min);
    let rtf = tps / p.settings.tick_rate;
    println!(
        "{:<28} {:>9.1}x real time ({:.0} ticks/s)",
        "fm.json", rtf, tps
    );
}
