//! MIDI onto the performance controls: a CC moves the crossfader's α, a struck note recalls a
//! scene (`map cc 1:20 xfade`, `map note 1:60 scene 3`), and learning them (the next CC that
//! moves, or the next note struck, is mapped).

use super::midi::MidiValues;
use crate::live::Live;
use crate::patch::mapping::{PerformAim, PerformMap};

/// What a performance mapping asks of the instrument now.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum PerformAct {
    /// Move the crossfader to α (0–1).
    Xfade(f64),
    /// Recall scene N.
    Recall(u8),
}

/// A mapping with what its control was when last looked at.
struct Watched {
    map: PerformMap,
    /// The CC's value (xfade: nothing is sent until it moves) or the note's strike count.
    cc: f32,
    ons: u64,
    /// Learned since the patch file was last loaded or saved (a reload keeps it).
    learned: bool,
}

/// The performance mappings, and the one being learned.
#[derive(Default)]
pub struct PerformMaps {
    maps: Vec<Watched>,
    /// Learning: the aim, with every CC and every note's strike count when it was armed.
    armed: Option<(PerformAim, Vec<f32>, Vec<u64>)>,
}

fn snapshot(v: &MidiValues) -> (Vec<f32>, Vec<u64>) {
    let keys = || (1..=16u8).flat_map(|ch| (0..128u8).map(move |n| (ch, n)));
    (
        keys().map(|(c, n)| v.cc(c, n)).collect(),
        keys().map(|(c, n)| v.note_ons(c, n)).collect(),
    )
}

impl PerformMaps {
    /// Maps `m` (replacing the mapping of the same aim).
    pub fn add(&mut self, m: PerformMap, v: &MidiValues) {
        self.add_as(m, v, false);
    }

    fn add_as(&mut self, m: PerformMap, v: &MidiValues, learned: bool) {
        self.maps.retain(|w| w.map.aim != m.aim);
        self.maps.push(Watched {
            cc: v.cc(m.channel, m.number),
            ons: v.note_ons(m.channel, m.number),
            map: m,
            learned,
        });
    }

    pub fn has_learned(&self) -> bool {
        self.maps.iter().any(|w| w.learned)
    }

    pub fn mark_saved(&mut self) {
        self.maps.iter_mut().for_each(|w| w.learned = false);
    }

    /// The patch file's mappings replace the ones it declared; learned ones stay unless the
    /// file maps the same aim or the same control. An unchanged mapping keeps its state.
    pub fn replace_file(&mut self, file: &[PerformMap], v: &MidiValues) {
        let same_control = |a: &PerformMap, b: &PerformMap| {
            a.channel == b.channel
                && a.number == b.number
                && matches!(a.aim, PerformAim::Xfade) == matches!(b.aim, PerformAim::Xfade)
        };
        self.maps.retain(|w| {
            file.contains(&w.map)
                || (w.learned
                    && !file
                        .iter()
                        .any(|f| f.aim == w.map.aim || same_control(f, &w.map)))
        });
        for w in &mut self.maps {
            if file.contains(&w.map) {
                w.learned = false;
            }
        }
        for f in file {
            if !self.maps.iter().any(|w| w.map == *f) {
                self.add_as(f.clone(), v, false);
            }
        }
    }

    pub fn list(&self) -> Vec<PerformMap> {
        self.maps.iter().map(|w| w.map.clone()).collect()
    }

    /// Removes the mapping of `aim`; false when there is none.
    pub fn remove(&mut self, aim: PerformAim) -> bool {
        let before = self.maps.len();
        self.maps.retain(|w| w.map.aim != aim);
        before != self.maps.len()
    }

    /// The next CC that moves (xfade) or note struck (scene) is mapped to `aim`.
    pub fn learn(&mut self, aim: PerformAim, v: &MidiValues) {
        let (cc, ons) = snapshot(v);
        self.armed = Some((aim, cc, ons));
    }

    pub fn armed(&self) -> Option<PerformAim> {
        self.armed.as_ref().map(|(a, _, _)| *a)
    }

    pub fn cancel_learn(&mut self) {
        self.armed = None;
    }

    /// Maps the control that moved since learning was armed; returns a line for the log.
    pub fn try_learn(&mut self, v: &MidiValues) -> Option<String> {
        let (aim, cc0, ons0) = self.armed.as_ref()?;
        let (cc, ons) = snapshot(v);
        let i = match aim {
            PerformAim::Xfade => cc.iter().zip(cc0).position(|(a, b)| a != b)?,
            PerformAim::Scene(_) => ons.iter().zip(ons0).position(|(a, b)| a != b)?,
        };
        let map = PerformMap {
            channel: (i / 128) as u8 + 1,
            number: (i % 128) as u8,
            aim: *aim,
            osc: None,
        };
        self.armed = None;
        let line = format!("learned: {map}; to keep it in the patch: map {map}");
        self.add_as(map, v, true);
        // A learned CC has moved already: it drives α from now on.
        if let Some(w) = self.maps.last_mut()
            && w.map.aim == PerformAim::Xfade
        {
            w.cc = f32::NAN;
        }
        Some(line)
    }

    /// What the mapped controls ask for since the last call: α when its CC moved, a recall for
    /// each mapped note struck (once however often it was struck in between).
    pub fn due(&mut self, v: &MidiValues) -> Vec<PerformAct> {
        let mut out = Vec::new();
        for w in &mut self.maps {
            let (ch, n) = (w.map.channel, w.map.number);
            match w.map.aim {
                PerformAim::Xfade => {
                    let x = v.cc(ch, n);
                    if x != w.cc {
                        w.cc = x;
                        out.push(PerformAct::Xfade(f64::from(x).clamp(0.0, 1.0)));
                    }
                }
                PerformAim::Scene(s) => {
                    let ons = v.note_ons(ch, n);
                    if ons != w.ons {
                        w.ons = ons;
                        out.push(PerformAct::Recall(s));
                    }
                }
            }
        }
        out
    }
}

/// Carries out `acts` on the instrument; returns a line for the log for each refusal.
pub fn apply(live: &mut Live, acts: &[PerformAct]) -> Vec<String> {
    let mut log = Vec::new();
    for act in acts {
        let r = match *act {
            PerformAct::Xfade(alpha) => {
                // Between the sides chosen in the panel; scenes 1 and 2 until then.
                let x = live.crossfader();
                let (a, b) = if x.a == 0 { (1, 2) } else { (x.a, x.b) };
                live.crossfade(a, b, alpha)
            }
            PerformAct::Recall(n) => live.recall_scene(n as usize),
        };
        if let Err(e) = r {
            log.push(format!("midi mapping refused: {e}"));
        }
    }
    log
}
