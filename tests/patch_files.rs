//! Saving is atomic and keeps a backup; what is saved loads back to the same network.

mod common;
use common::*;
use dmm_synth::engine::edits::Edit;
use dmm_synth::patch::Patch;

#[test]
fn save_load_round_trip_with_backup() {
    let p = patch("fm.json");
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("fm.json");
    p.save(&path).unwrap();
    let q = Patch::load(&path).unwrap();
    assert_eq!(q.weights, p.weights);
    assert_eq!(q.neurons, p.neurons);
    assert_eq!(q.settings, p.settings);
    assert_eq!(q.comment, p.comment);
    assert!(
        !dir.path().join("fm.json.bak").exists(),
        "no backup of nothing"
    );

    // Save again over it, from a running machine after an edit: the old file becomes the .bak.
    let mut m = machine(&q);
    m.submit(Edit::set("car_ph.freq", "one.out", 110.0).unwrap());
    for _ in 0..3 {
        m.tick(false).unwrap();
    }
    let running = Patch::from_running(&q.settings, q.comment.clone(), m.network(), m.w());
    running.save(&path).unwrap();
    let bak = Patch::load(&dir.path().join("fm.json.bak")).unwrap();
    assert_eq!(bak.weights, p.weights);
    let now = Patch::load(&path).unwrap();
    assert_eq!(
        now.weights
            .get(&"car_ph.freq".parse_port(), &"one.out".parse_port()),
        110.0
    );
    // No temp file is left behind.
    let names: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().to_string())
        .collect();
    assert_eq!(names.len(), 2, "{names:?}");
}

trait ParsePort {
    fn parse_port(&self) -> dmm_synth::engine::PortRef;
}
impl ParsePort for str {
    fn parse_port(&self) -> dmm_synth::engine::PortRef {
        dmm_synth::engine::PortRef::parse(self).unwrap()
    }
}

#[test]
fn readme_neuron_table_is_the_catalogue() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_dmm-synth"))
        .arg("types")
        .output()
        .unwrap();
    let table = String::from_utf8(out.stdout).unwrap();
    assert!(table.lines().count() > 20);
    let readme = std::fs::read_to_string(root().join("README.md")).unwrap();
    assert!(
        readme.contains(&table),
        "README.md's neuron table differs from `dmm-synth types`; paste its output into the README"
    );
}
