//! Saving is atomic and keeps a backup; what is saved loads back to the same network.

mod common;
use common::*;
use dmm_synth::engine::edits::Edit;
use dmm_synth::patch::Patch;
use std::path::Path;

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

#[cfg(unix)]
#[test]
fn saving_keeps_a_symlink_a_symlink_and_the_file_mode() {
    use std::os::unix::fs::{PermissionsExt, symlink};
    let p = patch("sine.json");
    let dir = tempfile::tempdir().unwrap();
    let real_dir = dir.path().join("real");
    std::fs::create_dir(&real_dir).unwrap();
    let target = real_dir.join("sine.json");
    p.save(&target).unwrap();
    std::fs::set_permissions(&target, std::fs::Permissions::from_mode(0o640)).unwrap();
    let link = dir.path().join("link.json");
    symlink("real/sine.json", &link).unwrap();

    let mut q = Patch::load(&link).unwrap();
    q.comment = Some("saved through the link".into());
    q.save(&link).unwrap();

    let meta = std::fs::symlink_metadata(&link).unwrap();
    assert!(meta.file_type().is_symlink(), "the link is still a link");
    assert_eq!(
        std::fs::read_link(&link).unwrap(),
        Path::new("real/sine.json")
    );
    let now = Patch::load(&target).unwrap();
    assert_eq!(now.comment.as_deref(), Some("saved through the link"));
    let mode = std::fs::metadata(&target).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o640, "the file's mode is kept");
    // The backup sits beside the file it backs up, with the old text.
    let bak = Patch::load(&real_dir.join("sine.json.bak")).unwrap();
    assert_eq!(bak.comment, p.comment);
    assert!(!dir.path().join("link.json.bak").exists());
}

#[cfg(unix)]
#[test]
fn the_backup_is_renamed_into_place_not_copied_over() {
    // A copy writes into whatever the old `.bak` is (here a hard link shared with another
    // file, which a copy would overwrite); a rename replaces the name only.
    let p = patch("sine.json");
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("sine.json");
    p.save(&path).unwrap();
    let other = dir.path().join("other.txt");
    std::fs::write(&other, "keep me").unwrap();
    std::fs::hard_link(&other, dir.path().join("sine.json.bak")).unwrap();
    p.save(&path).unwrap();
    assert_eq!(std::fs::read_to_string(&other).unwrap(), "keep me");
    let bak = Patch::load(&dir.path().join("sine.json.bak")).unwrap();
    assert_eq!(bak.weights, p.weights);
    let names: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().to_string())
        .collect();
    assert_eq!(names.len(), 3, "no temp files left: {names:?}");
}

#[test]
fn a_patch_that_would_not_load_back_is_not_saved() {
    let mut p = patch("sine.json");
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("sine.json");
    p.save(&path).unwrap();
    let before = std::fs::read_to_string(&path).unwrap();
    for bad in [f64::INFINITY, f64::NAN, 1e39] {
        let (t, s, _) = p
            .weights
            .entries()
            .map(|(t, s, w)| (t.clone(), s.clone(), w))
            .next()
            .unwrap();
        let mut q = p.clone();
        q.weights.add_entry(&t, &s, -q.weights.get(&t, &s));
        q.weights.add_entry(&t, &s, bad);
        let err = q.save(&path).unwrap_err();
        assert!(err.to_string().contains("cannot hold"), "{err}");
        assert_eq!(std::fs::read_to_string(&path).unwrap(), before);
    }
    p.comment = None;
    p.save(&path).unwrap();
}
