//! Scenes and the A/B crossfader. A scene is the running program (neurons + W) kept in slot
//! 1–9; recalling one sends the difference running → scene through Self, weights morphing over
//! the morph time (the hot-reload mechanism). Scenes are saved in a sidecar next to the patch,
//! `NAME.scenes.json` (atomic, like the patch): the patch file stays exactly what the performer
//! typed, and a `.dmm` and its `.json` twin share their scenes.
//!
//! The crossfader sends `W = (1−α)·W_A + α·W_B`: a set for each entry that changes, at most one
//! request in flight (so at most one per tick); the newest α waits for the previous request's
//! outcome. A neuron on one side only is present with its weights scaled by its side's share; it
//! is added when α leaves the end where it is absent and removed when α returns there. A neuron
//! on both sides is never re-created (its phase and accumulators survive); where the two sides
//! give it different settings, A's are used.

use super::history::Why;
use super::program::{Program, change, set_entry, steps};
use super::{Live, LiveError, LiveEvent};
use crate::neurons::AssetDirs;
use crate::neurons::network::{EDITS, SELF};
use crate::patch::{Patch, save_atomic};
use serde_json::{Map, Value, json};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

pub const SLOTS: usize = 9;

#[derive(Clone, Debug, Default)]
pub struct Scenes {
    slots: [Option<Program>; SLOTS],
}

impl Scenes {
    /// Slot `n` (1–9), if stored.
    pub fn get(&self, n: usize) -> Option<&Program> {
        n.checked_sub(1)
            .and_then(|i| self.slots.get(i))
            .and_then(Option::as_ref)
    }

    /// Which of slots 1–9 hold a scene.
    pub fn filled(&self) -> [bool; SLOTS] {
        std::array::from_fn(|i| self.slots[i].is_some())
    }
}

/// The crossfader's sides, its position and what was last sent.
#[derive(Clone, Debug, Default)]
pub struct Crossfader {
    pub a: usize,
    pub b: usize,
    pub alpha: f64,
    sent: Option<(usize, usize, f64)>,
    in_flight: Option<u64>,
}

/// The sidecar that holds a patch's scenes.
pub fn scenes_path(patch: &Path) -> PathBuf {
    patch.with_extension("scenes.json")
}

fn check_slot(n: usize) -> Result<usize, LiveError> {
    if (1..=SLOTS).contains(&n) {
        Ok(n - 1)
    } else {
        Err(LiveError::Scene(format!(
            "scene slot {n}: expected 1 to {SLOTS}"
        )))
    }
}

/// `(1−α)·A + α·B`, with one-sided neurons present except at the end where they are absent.
pub fn mix(a: &Program, b: &Program, alpha: f64) -> Program {
    let mut out = Program::default();
    for (n, s) in &a.neurons {
        if alpha < 1.0 || b.spec(n).is_some() {
            out.neurons.push((n.clone(), s.clone()));
        }
    }
    for (n, s) in &b.neurons {
        if alpha > 0.0 && a.spec(n).is_none() {
            out.neurons.push((n.clone(), s.clone()));
        }
    }
    let present: BTreeSet<&str> = out
        .neurons
        .iter()
        .map(|(n, _)| n.as_str())
        .chain([SELF, EDITS])
        .collect();
    let keys: BTreeSet<_> = a
        .weights
        .entries()
        .chain(b.weights.entries())
        .map(|(t, s, _)| (t.clone(), s.clone()))
        .collect();
    for (t, s) in keys {
        if present.contains(t.neuron.as_str()) && present.contains(s.neuron.as_str()) {
            let v = (1.0 - alpha) * a.weights.get(&t, &s) + alpha * b.weights.get(&t, &s);
            set_entry(&mut out.weights, &t, &s, v);
        }
    }
    out
}

impl Live {
    pub fn scenes(&self) -> &Scenes {
        &self.perf.scenes
    }

    pub fn crossfader(&self) -> &Crossfader {
        &self.perf.xfade
    }

    /// Stores the running program in slot `n` (1–9) and saves the scenes' sidecar.
    pub fn store_scene(&mut self, n: usize) -> Result<(), LiveError> {
        let i = check_slot(n)?;
        let prog = self.program()?;
        let what = format!(
            "stored scene {n} ({} neurons, {} weights)",
            prog.neurons.len(),
            prog.weights.len()
        );
        self.perf.scenes.slots[i] = Some(prog);
        self.save_scenes()?;
        self.log(what);
        Ok(())
    }

    /// Morphs to the scene in slot `n` over the morph time (one history entry).
    pub fn recall_scene(&mut self, n: usize) -> Result<(), LiveError> {
        let i = check_slot(n)?;
        let Some(scene) = self.perf.scenes.slots[i].clone() else {
            return Err(LiveError::Scene(format!("scene {n} is empty")));
        };
        let morph = self.opts.morph.unwrap_or(self.file.settings.morph_time);
        let before = self.program()?;
        let c = change(&before, &scene);
        let st = steps(&c.before, &c.after, morph);
        self.record(&format!("recall scene {n} over {morph} s"), &before, st)?;
        Ok(())
    }

    /// Moves the crossfader: scene `a` at α = 0, scene `b` at α = 1. The request goes now or,
    /// while the previous one is on its way, once it has landed (`poll`).
    pub fn crossfade(&mut self, a: usize, b: usize, alpha: f64) -> Result<(), LiveError> {
        for n in [a, b] {
            let i = check_slot(n)?;
            if self.perf.scenes.slots[i].is_none() {
                return Err(LiveError::Scene(format!("scene {n} is empty")));
            }
        }
        if !(alpha.is_finite() && (0.0..=1.0).contains(&alpha)) {
            return Err(LiveError::Scene(format!(
                "crossfader position {alpha}: expected a number from 0 to 1"
            )));
        }
        let x = &mut self.perf.xfade;
        if (x.a, x.b) != (a, b) {
            self.log(format!("crossfader: scene {a} <-> scene {b}"));
        }
        let x = &mut self.perf.xfade;
        (x.a, x.b, x.alpha) = (a, b, alpha);
        self.pump_crossfade()
    }

    /// Sends the crossfader's newest position when nothing of it is on its way.
    pub(super) fn pump_crossfade(&mut self) -> Result<(), LiveError> {
        let x = &self.perf.xfade;
        if x.a == 0 || x.sent == Some((x.a, x.b, x.alpha)) {
            return Ok(());
        }
        if let Some(id) = x.in_flight
            && self
                .perf
                .pending
                .iter()
                .any(|p| p.id == id && p.until.is_none())
        {
            return Ok(());
        }
        let (a, b, alpha) = (x.a, x.b, x.alpha);
        let (Some(sa), Some(sb)) = (self.perf.scenes.get(a), self.perf.scenes.get(b)) else {
            return Ok(());
        };
        let target = mix(sa, sb, alpha);
        let before = self.program()?;
        let c = change(&before, &target);
        let id = self.send_steps(steps(&c.before, &c.after, 0.0), Why::Other)?;
        let x = &mut self.perf.xfade;
        x.in_flight = (id != 0).then_some(id);
        x.sent = Some((a, b, alpha));
        Ok(())
    }

    /// Writes the scenes' sidecar (atomic).
    pub(super) fn save_scenes(&mut self) -> Result<(), LiveError> {
        let mut scenes = Map::new();
        for (i, s) in self.perf.scenes.slots.iter().enumerate() {
            if let Some(p) = s {
                scenes.insert((i + 1).to_string(), scene_json(p));
            }
        }
        let text = serde_json::to_string_pretty(&json!({ "scenes": scenes }))
            .unwrap_or_else(|_| "{}".into());
        let path = scenes_path(&self.file.path);
        save_atomic(&path, text.as_bytes()).map_err(|err| LiveError::Io { path, err })
    }

    /// Reads the sidecar of the open patch, if there is one. Every scene is checked like a patch
    /// (with the patch's settings); a bad sidecar changes nothing and says why.
    pub(super) fn load_scenes(&mut self) {
        let path = scenes_path(&self.file.path);
        let Ok(text) = std::fs::read_to_string(&path) else {
            self.perf.scenes = Scenes::default();
            return;
        };
        match parse_scenes(&text, &path, &self.file.base) {
            Ok(s) => {
                let n = s.filled().iter().filter(|f| **f).count();
                self.perf.scenes = s;
                self.log(format!("{}: {n} scene(s)", path.display()));
            }
            Err(lines) => self.queued.push(LiveEvent::FileErrors(lines)),
        }
    }
}

fn scene_json(p: &Program) -> Value {
    let neurons: Map<String, Value> = p
        .neurons
        .iter()
        .map(|(n, s)| (n.clone(), serde_json::to_value(s).unwrap_or(Value::Null)))
        .collect();
    json!({ "neurons": neurons, "weights": serde_json::to_value(&p.weights).unwrap_or(Value::Null) })
}

/// The scenes of a sidecar; errors one line each, naming the file and the slot.
pub fn parse_scenes(text: &str, path: &Path, base: &Patch) -> Result<Scenes, Vec<String>> {
    let file = path.display().to_string();
    let top: Value = serde_json::from_str(text).map_err(|e| vec![format!("{file}: {e}")])?;
    let Some(map) = top.get("scenes").and_then(Value::as_object) else {
        return Err(vec![format!(
            "{file}: expected {{\"scenes\": {{\"1\": {{\"neurons\": ..., \"weights\": ...}}, ...}}}}"
        )]);
    };
    let settings: Value = serde_json::from_str::<Value>(&base.to_json_string())
        .ok()
        .and_then(|v| v.get("settings").cloned())
        .unwrap_or(Value::Null);
    let mut out = Scenes::default();
    let mut errors = Vec::new();
    for (k, v) in map {
        let slot = k.parse::<usize>().ok().filter(|n| (1..=SLOTS).contains(n));
        let Some(n) = slot else {
            errors.push(format!(
                "{file}: scenes[\"{k}\"]: expected a slot 1 to {SLOTS}"
            ));
            continue;
        };
        let doc = json!({
            "settings": settings,
            "neurons": v.get("neurons").cloned().unwrap_or(json!({})),
            "weights": v.get("weights").cloned().unwrap_or(json!({})),
        });
        let label = format!("{file}: scene {n}");
        let assets = AssetDirs::for_patch(path);
        match Patch::parse(&doc.to_string(), &label, &assets) {
            Ok(p) => out.slots[n - 1] = Some(Program::of_patch(&p)),
            Err(e) => errors.extend(e.0.iter().map(ToString::to_string)),
        }
    }
    if errors.is_empty() {
        Ok(out)
    } else {
        Err(errors)
    }
}
