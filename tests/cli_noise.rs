//! Commands without a window print nothing a user cannot act on: no `XDG_RUNTIME_DIR is invalid`
//! from the GPU probe (Mesa's device-selection layer looking for a display), no `ALSA lib …`
//! lines from a machine without a sound card.

mod common;
use common::*;
use std::process::Command;

fn run_bare(args: &[&str]) -> (bool, String, String) {
    run_env(args, &[])
}

fn run_env(args: &[&str], env: &[(&str, &std::path::Path)]) -> (bool, String, String) {
    let mut c = Command::new(env!("CARGO_BIN_EXE_dmm-synth"));
    for (k, v) in env {
        c.env(k, v);
    }
    let out = c
        .args(args)
        .env_remove("XDG_RUNTIME_DIR")
        .env_remove("NODEVICE_SELECT")
        .env_remove("WAYLAND_DISPLAY")
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).to_string(),
        String::from_utf8_lossy(&out.stderr).to_string(),
    )
}

fn assert_quiet(what: &str, err: &str) {
    assert!(!err.contains("XDG_RUNTIME_DIR"), "{what}: {err}");
    assert!(!err.contains("ALSA lib"), "{what}: {err}");
}

#[test]
fn info_and_render_print_no_probe_noise() {
    let (ok, out, err) = run_bare(&["info"]);
    assert!(ok, "{err}");
    assert!(out.contains("Audio output devices:"), "{out}");
    assert_quiet("info", &err);
    let dir = tempfile::tempdir().unwrap();
    let (ok, _, err) = run_bare(&[
        "render",
        root().join("patches/sine.json").to_str().unwrap(),
        "--ticks",
        "3",
        "--out",
        dir.path().to_str().unwrap(),
    ]);
    assert!(ok, "{err}");
    assert_quiet("render", &err);
    assert!(err.lines().count() <= 1, "at most the backend note: {err}");
}

/// An ALSA configuration whose default device is a `dmix` on card 0: on a machine without a
/// sound card, opening it makes alsa-lib print eight `ALSA lib …` lines.
fn no_card_alsa_config(dir: &std::path::Path) -> std::path::PathBuf {
    let stock = std::fs::read_to_string("/usr/share/alsa/alsa.conf")
        .expect("alsa-lib's /usr/share/alsa/alsa.conf (package libasound2-data)");
    // Without the hooks that read the machine's own /etc/asound.conf.
    let mut conf = String::new();
    let mut in_hooks = false;
    for l in stock.lines() {
        if l.starts_with("@hooks [") {
            in_hooks = true;
        }
        if !in_hooks {
            conf.push_str(l);
            conf.push('\n');
        }
        if in_hooks && l.starts_with(']') {
            in_hooks = false;
        }
    }
    conf.push_str("pcm.!default { type plug slave.pcm \"dmix\" }\n");
    let p = dir.join("alsa.conf");
    std::fs::write(&p, conf).unwrap();
    p
}

#[test]
fn alsa_lib_complaints_become_one_line() {
    let dir = tempfile::tempdir().unwrap();
    let conf = no_card_alsa_config(dir.path());
    let (ok, out, err) = run_env(&["info"], &[("ALSA_CONFIG_PATH", &conf)]);
    assert!(ok, "{err}");
    assert_quiet("info without a card", &err);
    if !std::path::Path::new("/dev/snd").exists() {
        assert!(out.contains("messages from alsa-lib silenced"), "{out}");
    }
}
