//! Helpers shared by the integration tests.
#![allow(dead_code)]

use dmm_synth::backend::cpu::CpuBackend;
use dmm_synth::engine::edits::TimedEdit;
use dmm_synth::engine::{Machine, Settings};
use dmm_synth::neurons::AssetDirs;
use dmm_synth::patch::Patch;
use dmm_synth::render::{RenderOptions, RenderReport, render};
use std::path::{Path, PathBuf};

pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

pub fn patch(name: &str) -> Patch {
    let p = root().join("patches").join(name);
    Patch::load(&p).unwrap_or_else(|e| panic!("{e}"))
}

/// A patch from JSON text; assets resolve against patches/.
pub fn patch_str(text: &str) -> Patch {
    Patch::parse(text, "test.json", &assets()).unwrap_or_else(|e| panic!("{e}"))
}

pub fn assets() -> AssetDirs {
    AssetDirs::for_patch(&root().join("patches").join("x.json"))
}

pub fn machine(p: &Patch) -> Machine {
    Machine::new(
        p.network.clone(),
        p.initial_w(),
        Box::new(CpuBackend::new()),
        assets(),
        0,
    )
    .unwrap_or_else(|e| panic!("{e}"))
}

pub fn render_to(
    p: &Patch,
    dir: &Path,
    ticks: u64,
    every: u64,
    edits: Vec<TimedEdit>,
    seed: u64,
) -> RenderReport {
    let opts = RenderOptions {
        ticks,
        out_dir: dir.to_path_buf(),
        every,
        edits,
        midi: Vec::new(),
        seed,
    };
    render(p, Box::new(CpuBackend::new()), &opts, |_| {}).unwrap_or_else(|e| panic!("{e}"))
}

/// `scalar name` → one value per tick, from a trace.jsonl.
pub fn trace_series(dir: &Path, name: &str) -> Vec<f64> {
    let text = std::fs::read_to_string(dir.join("trace.jsonl")).expect("trace.jsonl");
    text.lines()
        .enumerate()
        .map(|(i, l)| {
            let v: serde_json::Value = serde_json::from_str(l).expect("json line");
            assert_eq!(v["tick"].as_u64(), Some(i as u64), "ticks in order");
            v["scalars"][name]
                .as_f64()
                .unwrap_or_else(|| panic!("no scalar {name} in {l}"))
        })
        .collect()
}

pub fn settings_with(f: impl FnOnce(&mut Settings)) -> Settings {
    let mut s = Settings::default();
    f(&mut s);
    s
}
