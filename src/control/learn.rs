//! Mapping a MIDI controller onto a weight, and learning it: arm with a weight and its range,
//! move a knob, and that CC drives the weight from then on.
//!
//! A mapping turns the controller's 0–1 into `min..max` (linear, or exponential for pitches and
//! times: `min·(max/min)^x`), smooths it over `smoothing` seconds (one pole), and sends `set`
//! edits through Self, at most one per engine tick per weight, only while the value moves. A
//! controller that has not moved since the mapping was made sends nothing (the patch's weight
//! stays until the performer touches the knob).
//!
//! Spec on the command line: `CH:CC=target.port<-source.port:MIN..MAX[:exp][:S]` (CH 0 = any
//! channel, S = smoothing seconds), e.g. `1:74=ph.freq<-one.out:110..880:exp:0.05`.

use super::ControlError;
use super::midi::MidiValues;
use super::perform::{PerformAct, PerformMaps};
use crate::engine::edits::Edit;
use crate::engine::{Level, Message};
use crate::live::{ControlSource, Live};
use crate::patch::mapping::{PerformAim, PerformMap};
use crate::stream::{PortRef, weight_in_bounds};
use std::sync::Arc;
use std::time::Instant;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Curve {
    Linear,
    Exp,
}

/// A weight with the range a controller moves it through.
#[derive(Clone, Debug, PartialEq)]
pub struct Range {
    pub target: PortRef,
    pub source: PortRef,
    pub min: f64,
    pub max: f64,
    pub curve: Curve,
    /// Seconds (0: none).
    pub smoothing: f64,
}

impl Range {
    /// The patch file's form of a mapping of `control` onto this range.
    fn spec(&self, control: crate::patch::mapping::Control) -> crate::patch::mapping::MapSpec {
        crate::patch::mapping::MapSpec {
            control,
            target: self.target.clone(),
            source: self.source.clone(),
            min: self.min,
            max: self.max,
            exp: self.curve == Curve::Exp,
            smoothing: self.smoothing,
        }
    }

    /// Checks the numbers: finite weights, an exponential range on one side of 0, smoothing 0..60 s.
    pub fn new(
        target: PortRef,
        source: PortRef,
        (min, max): (f64, f64),
        curve: Curve,
        smoothing: f64,
    ) -> Result<Range, ControlError> {
        let bad = |why: String| ControlError::Mapping(format!("{target} <- {source}: {why}"));
        if !(weight_in_bounds(min) && weight_in_bounds(max)) {
            return Err(bad(format!("range {min}..{max}: expected finite weights")));
        }
        if curve == Curve::Exp && min * max <= 0.0 {
            return Err(bad(format!(
                "exponential range {min}..{max}: both ends must be non-zero and of one sign"
            )));
        }
        if !(smoothing.is_finite() && (0.0..=60.0).contains(&smoothing)) {
            return Err(bad(format!(
                "smoothing {smoothing}: expected 0..=60 seconds"
            )));
        }
        Ok(Range {
            target,
            source,
            min,
            max,
            curve,
            smoothing,
        })
    }

    /// The weight for a control at `x` (clamped to 0–1; NaN counts as 0).
    pub fn value(&self, x: f64) -> f64 {
        let x = if x.is_nan() { 0.0 } else { x.clamp(0.0, 1.0) };
        let v = match self.curve {
            Curve::Linear => self.min + (self.max - self.min) * x,
            Curve::Exp => self.min * (self.max / self.min).powf(x),
        };
        // Clamped again: rounding must not leave the range.
        v.clamp(self.min.min(self.max), self.min.max(self.max))
    }
}

/// One step of a one-pole smoother with time constant `seconds` (0: jump), `dt` seconds long;
/// lands exactly on `want` once within a millionth of it.
pub fn smooth(y: f64, want: f64, dt: f64, seconds: f64) -> f64 {
    if seconds <= 0.0 || !dt.is_finite() {
        return want;
    }
    let y = y + (want - y) * (1.0 - (-dt.max(0.0) / seconds).exp());
    if (y - want).abs() <= 1e-6 * want.abs().max(1e-9) {
        want
    } else {
        y
    }
}

/// A MIDI control: channel (0 = any) and controller number, or, with `note`, a note number.
/// A note drives its weight with gate semantics: struck, the velocity (0–1) goes through the
/// range; released, the weight goes back to the range's start (velocity 0: MIN).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Cc {
    pub channel: u8,
    /// The controller, or the note when `note`.
    pub controller: u8,
    /// A note (`map note CH:NOTE ...`) rather than a controller.
    pub note: bool,
}

impl Cc {
    /// `cc 1:74` or `note 1:60` (how the panel and the log name it).
    pub fn name(&self) -> String {
        let kind = if self.note { "note" } else { "CC" };
        format!("ch {} {kind} {}", self.channel, self.controller)
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct Mapping {
    pub cc: Cc,
    pub range: Range,
}

impl Mapping {
    /// The patch file's line for this mapping (`patch::mapping`).
    pub fn map_line(&self) -> String {
        format!("map {}", self.spec())
    }

    /// The mapping as the patch file holds it.
    pub fn spec(&self) -> crate::patch::mapping::MapSpec {
        self.range.spec(if self.cc.note {
            crate::patch::mapping::Control::Note {
                channel: self.cc.channel,
                note: self.cc.controller,
            }
        } else {
            crate::patch::mapping::Control::Cc {
                channel: self.cc.channel,
                controller: self.cc.controller,
            }
        })
    }
}

/// Parses `CH:CC=target.port<-source.port:MIN..MAX[:exp|:lin][:SECONDS]`.
pub fn parse_mapping(spec: &str) -> Result<Mapping, ControlError> {
    let bad = |why: &str| {
        ControlError::Mapping(format!(
            "{spec:?}: {why} (expected CH:CC=target.port<-source.port:MIN..MAX[:exp][:SECONDS])"
        ))
    };
    let (cc, rest) = spec.split_once('=').ok_or_else(|| bad("no '='"))?;
    let (ch, num) = cc.split_once(':').ok_or_else(|| bad("no CH:CC"))?;
    let channel: u8 = ch.trim().parse().map_err(|_| bad("channel"))?;
    let controller: u8 = num.trim().parse().map_err(|_| bad("controller"))?;
    if channel > 16 || controller > 127 {
        return Err(bad("channel 0..=16, controller 0..=127"));
    }
    let (weight, opts) = rest.split_once(':').ok_or_else(|| bad("no range"))?;
    let (t, s) = weight.split_once("<-").ok_or_else(|| bad("no '<-'"))?;
    let target = PortRef::parse(t.trim()).map_err(|e| bad(&e))?;
    let source = PortRef::parse(s.trim()).map_err(|e| bad(&e))?;
    let mut parts = opts.split(':');
    let range = parts.next().unwrap_or_default();
    let (lo, hi) = range.split_once("..").ok_or_else(|| bad("no MIN..MAX"))?;
    let min: f64 = lo.trim().parse().map_err(|_| bad("MIN"))?;
    let max: f64 = hi.trim().parse().map_err(|_| bad("MAX"))?;
    let (mut curve, mut smoothing) = (Curve::Linear, 0.0);
    for p in parts {
        match p.trim() {
            "exp" => curve = Curve::Exp,
            "lin" => curve = Curve::Linear,
            n => smoothing = n.parse().map_err(|_| bad("smoothing seconds"))?,
        }
    }
    Ok(Mapping {
        cc: Cc {
            channel,
            controller,
            note: false,
        },
        range: Range::new(target, source, (min, max), curve, smoothing)?,
    })
}

/// An OSC address (one number, 0–1) mapped onto a weight: `map osc /addr t.p <- s.p MIN..MAX`.
#[derive(Clone, Debug, PartialEq)]
pub struct OscMapping {
    pub addr: String,
    pub range: Range,
}

impl OscMapping {
    /// The patch file's line for this mapping (`patch::mapping`).
    pub fn map_line(&self) -> String {
        format!("map {}", self.spec())
    }

    /// The mapping as the patch file holds it.
    pub fn spec(&self) -> crate::patch::mapping::MapSpec {
        self.range
            .spec(crate::patch::mapping::Control::Osc(self.addr.clone()))
    }
}

/// An OSC mapping with its running state: the address's last value (None: not moved since the
/// mapping was made), the smoothed weight and the last one sent.
struct Osc1 {
    map: OscMapping,
    x: Option<f64>,
    y: Option<f64>,
    sent: Option<f64>,
    /// From the patch file (replaced by a reload) or learned since (kept).
    learned: bool,
}

/// A mapping with its running state.
struct Live1 {
    /// From the patch file (replaced by a reload) or learned since (kept).
    learned: bool,
    map: Mapping,
    /// The controller's value when the mapping was made (nothing is sent until it moves).
    start: f32,
    /// A note's strikes when the mapping was made (nothing is sent until it is struck).
    start_ons: u64,
    moved: bool,
    /// The smoothed weight, and the last one sent.
    y: Option<f64>,
    sent: Option<f64>,
}

/// Drives the mappings of outside controls onto weights (MIDI CCs and OSC addresses), and
/// learning, on every `Live::poll`. One learn state for both sources: the first MIDI CC that
/// moves or OSC address that sends a number after `learn` is mapped, and the learn is over.
pub struct MidiMapper {
    values: Arc<MidiValues>,
    maps: Vec<Live1>,
    osc: Vec<Osc1>,
    /// OSC addresses drive this mapper (its OSC mappings are the window's to list and save).
    osc_on: bool,
    /// Armed: the next controller that moves gets this range.
    armed: Option<(Range, Vec<u8>, Vec<u64>)>,
    last_tick: Option<u64>,
    last_time: Option<Instant>,
    /// `set` requests sent so far.
    pub sent: u64,
    /// The ports feeding `values`, kept open while the mapper lives.
    ports: Option<super::midi::MidiPorts>,
    /// Which input ports are chosen (the panel's checkboxes); the ports' own when they run.
    choice: Option<super::midi::SharedChoice>,
    /// The events for the engine's `midi_*` neurons, handed to every engine that runs.
    feed: Option<crossbeam_channel::Receiver<super::midi::MidiIn>>,
    /// MIDI onto the crossfader and scene recall.
    pub perform: PerformMaps,
    /// OSC addresses onto the crossfader and scene recall (`map osc /a xfade`), with whether
    /// each was learned since the last load or save.
    osc_perform: Vec<(PerformMap, bool)>,
    /// What those addresses asked for since the last poll.
    osc_acts: Vec<PerformAct>,
}

impl MidiMapper {
    pub fn new(values: Arc<MidiValues>, maps: Vec<Mapping>) -> MidiMapper {
        let mut m = MidiMapper {
            values,
            maps: Vec::new(),
            osc: Vec::new(),
            osc_on: false,
            armed: None,
            last_tick: None,
            last_time: None,
            sent: 0,
            ports: None,
            choice: None,
            feed: None,
            perform: PerformMaps::default(),
            osc_perform: Vec::new(),
            osc_acts: Vec::new(),
        };
        for map in maps {
            m.add(map);
        }
        m
    }

    /// Keeps `ports` (which feed this mapper's values) open as long as the mapper.
    pub fn with_ports(mut self, ports: super::midi::MidiPorts) -> MidiMapper {
        self.choice = Some(ports.choice.clone());
        self.ports = Some(ports);
        self
    }

    /// Lists and changes this port choice (what `with_ports` does with the ports' own).
    pub fn with_port_choice(mut self, choice: super::midi::SharedChoice) -> MidiMapper {
        self.choice = Some(choice);
        self
    }

    /// The MIDI input ports seen so far, each on or off (empty when MIDI is off).
    pub fn midi_ports(&self) -> Vec<super::midi::PortView> {
        self.choice
            .as_ref()
            .map_or_else(Vec::new, |c| match c.lock() {
                Ok(g) => g.list(),
                Err(p) => p.into_inner().list(),
            })
    }

    /// Turns a MIDI input port on or off; false for a port never seen (nothing changes).
    pub fn set_midi_port(&mut self, name: &str, on: bool) -> bool {
        self.choice.as_ref().is_some_and(|c| match c.lock() {
            Ok(mut g) => g.set(name, on),
            Err(p) => p.into_inner().set(name, on),
        })
    }

    /// Hands `feed` (the MIDI events of the ports) to the running engine, and to the next one
    /// after a restart.
    pub fn with_feed(mut self, feed: crossbeam_channel::Receiver<super::midi::MidiIn>) -> Self {
        self.feed = Some(feed);
        self
    }

    /// Says that OSC addresses reach this mapper (`OscControl::with_mapper`): its OSC mappings
    /// are then the ones the window lists and saves.
    pub fn with_osc(mut self) -> MidiMapper {
        self.osc_on = true;
        self
    }

    pub fn osc_on(&self) -> bool {
        self.osc_on
    }

    /// Maps MIDI controller `map.cc` (replacing the mapping of the same weight), as the patch
    /// file declares it.
    pub fn add(&mut self, map: Mapping) {
        self.add_as(map, false);
    }

    fn add_as(&mut self, map: Mapping, learned: bool) {
        let start = self.values.cc(map.cc.channel, map.cc.controller);
        let start_ons = self.values.note_ons(map.cc.channel, map.cc.controller);
        self.maps.retain(|l| {
            l.map.range.target != map.range.target || l.map.range.source != map.range.source
        });
        self.maps.push(Live1 {
            learned,
            map,
            start,
            start_ons,
            moved: false,
            y: None,
            sent: None,
        });
    }

    /// Maps OSC address `addr` (a number 0–1) onto `range`, replacing the address's earlier
    /// mapping; as the patch file declares it.
    pub fn map_osc(&mut self, addr: &str, range: Range) {
        self.map_osc_as(addr, range, false);
    }

    fn map_osc_as(&mut self, addr: &str, range: Range, learned: bool) {
        self.osc.retain(|o| o.map.addr != addr);
        self.osc.push(Osc1 {
            map: OscMapping {
                addr: addr.to_string(),
                range,
            },
            x: None,
            y: None,
            sent: None,
            learned,
        });
    }

    pub fn osc_mappings(&self) -> Vec<OscMapping> {
        self.osc.iter().map(|o| o.map.clone()).collect()
    }

    /// An OSC address outside `/dmm/` sent the number `x`. When learning, the address is mapped
    /// to the armed range first (the learn is over; the line says what was learned). Then a
    /// mapped address's value drives its weight from the next engine tick (`pump`), clamped to
    /// the range; an address that is not mapped is an `Err` with the line saying so.
    pub fn osc_value(&mut self, addr: &str, x: f64) -> Result<Option<String>, String> {
        let mut line = None;
        if self.armed.is_none()
            && let Some(aim) = self.perform.armed()
        {
            self.perform.cancel_learn();
            let map = PerformMap {
                channel: 0,
                number: 0,
                aim,
                osc: Some(addr.to_string()),
            };
            line = Some(format!(
                "learned: {map}; to keep it in the patch: map {map}"
            ));
            self.add_perform_as(map, true);
        }
        // NaN counts as 0; a button's press (above 0) recalls, its release does nothing.
        let x = if x.is_finite() { x } else { 0.0 };
        let mut hit = false;
        for (m, _) in &self.osc_perform {
            if m.osc.as_deref() != Some(addr) {
                continue;
            }
            hit = true;
            match m.aim {
                PerformAim::Xfade => {
                    self.osc_acts.retain(|a| !matches!(a, PerformAct::Xfade(_)));
                    self.osc_acts.push(PerformAct::Xfade(x.clamp(0.0, 1.0)));
                }
                // The press that taught a scene its button does not also recall it.
                PerformAim::Scene(n) if x > 0.0 && line.is_none() => {
                    self.osc_acts.push(PerformAct::Recall(n))
                }
                PerformAim::Scene(_) => {}
            }
        }
        if hit && !self.osc.iter().any(|o| o.map.addr == addr) && self.armed.is_none() {
            return Ok(line);
        }
        if let Some((range, _, _)) = self.armed.take() {
            let m = OscMapping {
                addr: addr.to_string(),
                range,
            };
            line = Some(format!(
                "learned: osc {addr} -> {} <- {} ({}..{}); to keep it in the patch: {}",
                m.range.target,
                m.range.source,
                m.range.min,
                m.range.max,
                m.map_line()
            ));
            self.map_osc_as(addr, m.range, true);
        }
        match self.osc.iter_mut().find(|o| o.map.addr == addr) {
            Some(o) => {
                // NaN counts as 0 (`Range::value`); kept finite here too.
                o.x = Some(if x.is_finite() { x } else { 0.0 });
                Ok(line)
            }
            None => Err(format!(
                "refused: osc {addr}: no weight is mapped to it (learn one first)"
            )),
        }
    }

    /// Removes the mapping of OSC address `addr`; false when there is none.
    pub fn remove_osc(&mut self, addr: &str) -> bool {
        let before = self.osc.len();
        self.osc.retain(|o| o.map.addr != addr);
        before != self.osc.len()
    }

    /// Replaces the range of `addr`'s mapping (its weight included: `range`'s); false when the
    /// address is not mapped.
    pub fn update_osc(&mut self, addr: &str, range: Range) -> bool {
        let Some(o) = self.osc.iter_mut().find(|o| o.map.addr == addr) else {
            return false;
        };
        o.map.range = range;
        o.sent = None;
        o.y = None;
        true
    }

    /// Whether any mapping was learned since the patch file was last loaded or saved.
    pub fn has_learned(&self) -> bool {
        self.maps.iter().any(|l| l.learned)
            || self.osc.iter().any(|o| o.learned)
            || self.perform.has_learned()
            || self.osc_perform.iter().any(|(_, l)| *l)
    }

    /// What was learned is now in the patch file (saved): a later reload replaces it too.
    pub fn mark_saved(&mut self) {
        self.maps.iter_mut().for_each(|l| l.learned = false);
        self.osc.iter_mut().for_each(|o| o.learned = false);
        self.perform.mark_saved();
        self.osc_perform.iter_mut().for_each(|(_, l)| *l = false);
    }

    /// The crossfader and scene mappings, MIDI and OSC.
    pub fn perform_list(&self) -> Vec<PerformMap> {
        let mut v = self.perform.list();
        v.extend(self.osc_perform.iter().map(|(m, _)| m.clone()));
        v
    }

    /// Unmaps the crossfader or a scene (MIDI and OSC); false when it was not mapped.
    pub fn remove_perform(&mut self, aim: PerformAim) -> bool {
        let before = self.osc_perform.len();
        self.osc_perform.retain(|(m, _)| m.aim != aim);
        self.perform.remove(aim) || before != self.osc_perform.len()
    }

    fn add_perform_as(&mut self, m: PerformMap, learned: bool) {
        // One control per aim: the new one replaces the old, MIDI or OSC.
        self.osc_perform
            .retain(|(o, _)| o.aim != m.aim && o.osc != m.osc);
        if m.osc.is_some() {
            self.perform.remove(m.aim);
            self.osc_perform.push((m, learned));
        } else {
            self.perform.add(m, &self.values);
        }
    }

    /// The patch file was reloaded (on disk, or the whole buffer evaluated): its mappings
    /// replace the ones it declared before. Mappings learned since the last load or save and
    /// not saved are kept, unless the new file maps the same control or the same weight (the
    /// file wins). MIDI mappings keep their controller's current value as the start (nothing
    /// is sent until the control moves); OSC ones wait for the next value. Returns a line for
    /// the log.
    pub fn replace_file_maps(
        &mut self,
        specs: &[crate::patch::mapping::MapSpec],
        perform: &[PerformMap],
    ) -> String {
        use crate::patch::mapping::Control;
        let mut cc = Vec::new();
        let mut osc = Vec::new();
        for m in specs {
            let curve = if m.exp { Curve::Exp } else { Curve::Linear };
            // The patch checked the numbers with the same rules.
            let Ok(range) = Range::new(
                m.target.clone(),
                m.source.clone(),
                (m.min, m.max),
                curve,
                m.smoothing,
            ) else {
                continue;
            };
            match &m.control {
                Control::Cc {
                    channel,
                    controller,
                } => cc.push(Mapping {
                    cc: Cc {
                        channel: *channel,
                        controller: *controller,
                        note: false,
                    },
                    range,
                }),
                Control::Note { channel, note } => cc.push(Mapping {
                    cc: Cc {
                        channel: *channel,
                        controller: *note,
                        note: true,
                    },
                    range,
                }),
                Control::Osc(a) => osc.push(OscMapping {
                    addr: a.clone(),
                    range,
                }),
            }
        }
        let same_weight = |a: &Range, b: &Range| a.target == b.target && a.source == b.source;
        let before = (self.maps.len(), self.osc.len(), self.perform_list().len());
        let kept_cc: Vec<Mapping> = self
            .maps
            .iter()
            .filter(|l| l.learned)
            .map(|l| l.map.clone())
            .filter(|l| {
                !cc.iter()
                    .any(|m| m.cc == l.cc || same_weight(&m.range, &l.range))
            })
            .collect();
        let kept_osc: Vec<OscMapping> = self
            .osc
            .iter()
            .filter(|o| o.learned)
            .map(|o| o.map.clone())
            .filter(|l| {
                !osc.iter()
                    .any(|m| m.addr == l.addr || same_weight(&m.range, &l.range))
            })
            .collect();
        // Unchanged mappings keep their running state (no jump, nothing sent again).
        let old_osc: Vec<Osc1> = std::mem::take(&mut self.osc);
        self.maps
            .retain(|l| cc.contains(&l.map) || kept_cc.contains(&l.map));
        for m in cc {
            if !self.maps.iter().any(|l| l.map == m) {
                self.add_as(m, false);
            } else if let Some(l) = self.maps.iter_mut().find(|l| l.map == m) {
                l.learned = false;
            }
        }
        for o in old_osc {
            let keep_file = osc.contains(&o.map);
            if keep_file || kept_osc.contains(&o.map) {
                self.osc.push(Osc1 {
                    learned: !keep_file,
                    ..o
                });
            }
        }
        for m in osc {
            if !self.osc.iter().any(|o| o.map == m) {
                self.map_osc_as(&m.addr, m.range, false);
            }
        }
        let (osc_file, midi_file): (Vec<PerformMap>, Vec<PerformMap>) =
            perform.iter().cloned().partition(|m| m.osc.is_some());
        self.perform.replace_file(&midi_file, &self.values);
        self.osc_perform.retain(|(m, learned)| {
            osc_file.contains(m)
                || (*learned
                    && !osc_file
                        .iter()
                        .chain(&midi_file)
                        .any(|f| f.aim == m.aim || f.osc == m.osc))
        });
        for (m, learned) in &mut self.osc_perform {
            if osc_file.contains(m) {
                *learned = false;
            }
        }
        for f in osc_file {
            if !self.osc_perform.iter().any(|(m, _)| *m == f) {
                self.osc_perform.push((f, false));
            }
        }
        let after = (self.maps.len(), self.osc.len(), self.perform_list().len());
        format!(
            "mappings reloaded from the patch: {} MIDI, {} OSC, {} crossfader/scene (before: {}, {}, {}){}",
            after.0,
            after.1,
            after.2,
            before.0,
            before.1,
            before.2,
            if self.has_learned() {
                "; learned and not yet saved ones kept (Ctrl+S saves them)"
            } else {
                ""
            }
        )
    }

    /// Maps a control (a MIDI CC or note, or an OSC address) onto the crossfader or a scene
    /// recall, replacing the control mapped onto it before.
    pub fn add_perform(&mut self, m: PerformMap) {
        self.add_perform_as(m, false);
    }

    /// The next CC that moves (crossfader) or note struck (scene) is mapped to `aim`.
    pub fn learn_perform(&mut self, aim: PerformAim) {
        self.perform.learn(aim, &self.values);
    }

    /// One step of the performance mappings without an engine: learns what moved (the log line
    /// says what), then returns what the mapped controls ask for. What `pump` does each poll.
    pub fn perform_step(&mut self) -> (Vec<PerformAct>, Option<String>) {
        let line = self.perform.try_learn(&self.values);
        let mut acts = self.perform.due(&self.values);
        acts.append(&mut self.osc_acts);
        (acts, line)
    }

    /// The next controller (channels 1–16) that moves is mapped to `range`.
    pub fn learn(&mut self, range: Range) {
        let now = self.snapshot_ccs();
        let ons = self.snapshot_ons();
        self.armed = Some((range, now, ons));
    }

    pub fn mappings(&self) -> Vec<Mapping> {
        self.maps.iter().map(|l| l.map.clone()).collect()
    }

    /// The range waiting for the next controller to move, if learning.
    pub fn armed(&self) -> Option<&Range> {
        self.armed.as_ref().map(|(r, _, _)| r)
    }

    /// Stops learning (nothing is mapped).
    pub fn cancel_learn(&mut self) {
        self.armed = None;
    }

    /// Removes the MIDI mapping of weight `target <- source`; false when there is none.
    pub fn remove(&mut self, target: &PortRef, source: &PortRef) -> bool {
        let before = self.maps.len();
        self.maps
            .retain(|l| l.map.range.target != *target || l.map.range.source != *source);
        self.maps.len() != before
    }

    /// Replaces the range (min, max, curve, smoothing) of the mapping of the same weight,
    /// keeping its controller and its running state; false when that weight is not mapped.
    pub fn update(&mut self, range: Range) -> bool {
        let Some(l) = self
            .maps
            .iter_mut()
            .find(|l| l.map.range.target == range.target && l.map.range.source == range.source)
        else {
            return false;
        };
        l.map.range = range;
        // Sent again at the new range on the next step, if the controller has moved.
        l.sent = None;
        l.y = None;
        true
    }

    /// One step of `dt` seconds without an engine: learns the controller that moved (the log
    /// line says which), then returns the `set` edits due (at most one per mapping). What
    /// `pump` does once per engine tick.
    pub fn step(&mut self, dt: f64) -> (Vec<Edit>, Option<String>) {
        let line = self.try_learn();
        (self.due(dt), line)
    }

    fn snapshot_ccs(&self) -> Vec<u8> {
        (1..=16u8)
            .flat_map(|ch| (0..128u8).map(move |cc| (ch, cc)))
            .map(|(ch, cc)| (self.values.cc(ch, cc) * 127.0).round() as u8)
            .collect()
    }

    fn snapshot_ons(&self) -> Vec<u64> {
        (1..=16u8)
            .flat_map(|ch| (0..128u8).map(move |n| (ch, n)))
            .map(|(ch, n)| self.values.note_ons(ch, n))
            .collect()
    }

    /// Maps the first moved controller, or else the first note struck, to the armed range;
    /// returns a line for the log.
    fn try_learn(&mut self) -> Option<String> {
        let (_, before, ons_before) = self.armed.as_ref()?;
        let now = self.snapshot_ccs();
        let (i, note) = match now.iter().zip(before).position(|(a, b)| a != b) {
            Some(i) => (i, false),
            None => {
                let ons = self.snapshot_ons();
                (ons.iter().zip(ons_before).position(|(a, b)| a != b)?, true)
            }
        };
        let (range, _, _) = self.armed.take()?;
        let cc = Cc {
            channel: (i / 128) as u8 + 1,
            controller: (i % 128) as u8,
            note,
        };
        let map = Mapping { cc, range };
        let kind = if note { "note" } else { "CC" };
        let line = format!(
            "learned: channel {} {kind} {} -> {} <- {} ({}..{}); to keep it in the patch: {}",
            cc.channel,
            cc.controller,
            map.range.target,
            map.range.source,
            map.range.min,
            map.range.max,
            map.map_line()
        );
        self.add_as(map, true);
        // It moved already: it drives the weight from now on.
        if let Some(l) = self.maps.last_mut() {
            l.moved = true;
        }
        Some(line)
    }

    /// The edits due now (at most one per mapping), given `dt` seconds since the last call.
    fn due(&mut self, dt: f64) -> Vec<Edit> {
        let mut out = Vec::new();
        for l in &mut self.maps {
            let (ch, num) = (l.map.cc.channel, l.map.cc.controller);
            let x = if l.map.cc.note {
                if !l.moved && self.values.note_ons(ch, num) == l.start_ons {
                    continue;
                }
                // Gate: the velocity while held, 0 (the range's start) once released.
                self.values.note_velocity(ch, num)
            } else {
                let x = self.values.cc(ch, num);
                if !l.moved && x == l.start {
                    continue;
                }
                x
            };
            l.moved = true;
            let want = l.map.range.value(x as f64);
            let y = match l.y {
                Some(y) => smooth(y, want, dt, l.map.range.smoothing),
                None => want,
            };
            l.y = Some(y);
            if l.sent != Some(y) {
                l.sent = Some(y);
                out.push(Edit::Set {
                    target: l.map.range.target.clone(),
                    source: l.map.range.source.clone(),
                    weight: y,
                    morph: 0.0,
                });
            }
        }
        for o in &mut self.osc {
            let Some(x) = o.x else { continue };
            let r = &o.map.range;
            let want = r.value(x);
            let y = match o.y {
                Some(y) => smooth(y, want, dt, r.smoothing),
                None => want,
            };
            o.y = Some(y);
            if o.sent != Some(y) {
                o.sent = Some(y);
                out.push(Edit::Set {
                    target: r.target.clone(),
                    source: r.source.clone(),
                    weight: y,
                    morph: 0.0,
                });
            }
        }
        out
    }
}

/// A mapper shared between `Live` (which drives it on every poll) and the window (which arms
/// learning, lists the mappings and edits their ranges).
#[derive(Clone)]
pub struct SharedMapper(pub Arc<std::sync::Mutex<MidiMapper>>);

impl SharedMapper {
    pub fn new(m: MidiMapper) -> SharedMapper {
        SharedMapper(Arc::new(std::sync::Mutex::new(m)))
    }

    /// Runs `f` on the mapper (a panic elsewhere while it was held does not lose it).
    pub fn with<T>(&self, f: impl FnOnce(&mut MidiMapper) -> T) -> T {
        let mut g = match self.0.lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        };
        f(&mut g)
    }
}

impl ControlSource for SharedMapper {
    fn pump(&mut self, live: &mut Live) -> Vec<Message> {
        self.with(|m| m.pump(live))
    }

    fn patch_applied(&mut self, p: &crate::patch::Patch) -> Option<String> {
        self.with(|m| m.patch_applied(p))
    }
}

impl ControlSource for MidiMapper {
    fn patch_applied(&mut self, p: &crate::patch::Patch) -> Option<String> {
        Some(self.replace_file_maps(&p.mappings, &p.perform_maps))
    }

    fn pump(&mut self, live: &mut Live) -> Vec<Message> {
        if let Some(f) = &self.feed {
            live.engine().attach_midi(f);
        }
        let Some(snap) = live.engine().latest() else {
            return Vec::new();
        };
        let mut log = Vec::new();
        if let Some(line) = self.try_learn() {
            log.push(Message {
                tick: snap.tick,
                level: Level::Notice,
                text: line,
            });
        }
        let (acts, line) = self.perform_step();
        log.extend(line.map(|text| Message {
            tick: snap.tick,
            level: Level::Notice,
            text,
        }));
        log.extend(
            super::perform::apply(live, &acts)
                .into_iter()
                .map(|text| Message {
                    tick: snap.tick,
                    level: Level::Error,
                    text,
                }),
        );
        // At most one set per weight per engine tick.
        if self.last_tick.is_some_and(|t| snap.tick <= t) {
            return log;
        }
        self.last_tick = Some(snap.tick);
        let now = Instant::now();
        let dt = self
            .last_time
            .map_or(0.0, |t| now.duration_since(t).as_secs_f64());
        self.last_time = Some(now);
        for e in self.due(dt) {
            live.send(e);
            self.sent += 1;
        }
        log
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::patch::mapping::MapSpec;

    fn pr(s: &str) -> PortRef {
        PortRef::parse(s).unwrap()
    }

    fn range(t: &str, max: f64) -> Range {
        Range::new(pr(t), pr("k.out"), (0.0, max), Curve::Linear, 0.0).unwrap()
    }

    fn spec(line: &str) -> MapSpec {
        MapSpec::parse(line).unwrap()
    }

    /// One learn state for both sources: an OSC address completes a learn armed in the window,
    /// and after that a MIDI control that moves learns nothing.
    #[test]
    fn an_osc_address_completes_the_one_learn_and_is_driven_per_tick() {
        let values = Arc::new(MidiValues::default());
        let mut w = super::super::midi::MidiWriter::new(values.clone());
        let mut m = MidiMapper::new(values, vec![]);
        assert!(m.osc_value("/a", 0.5).is_err(), "not mapped: refused");
        m.learn(range("x.in", 2.0));
        let line = m.osc_value("/a", 0.5).unwrap().expect("learned");
        assert!(line.contains("map osc /a x.in <- k.out 0.0..2.0"), "{line}");
        assert!(m.armed().is_none());
        w.feed(0, &[0xB0, 7, 99]);
        assert_eq!(
            m.step(0.01).1,
            None,
            "the learn was over: the CC learns nothing"
        );
        assert!(m.mappings().is_empty());
        let (edits, _) = m.step(0.01);
        assert!(edits.is_empty(), "sent in the step before");
        assert_eq!(m.osc_value("/a", 7.0), Ok(None));
        match m.step(0.01).0.as_slice() {
            [Edit::Set { weight, .. }] => assert_eq!(*weight, 2.0, "clamped to the range"),
            other => panic!("{other:?}"),
        }
        assert_eq!(m.osc_value("/a", f64::NAN), Ok(None));
        match m.step(0.01).0.as_slice() {
            [Edit::Set { weight, .. }] => assert_eq!(*weight, 0.0, "NaN counts as 0"),
            other => panic!("{other:?}"),
        }
    }

    /// The crossfader and scene learn complete with an OSC address too: a fader's number is α,
    /// a button's press recalls (its release does not; the press that taught it does not).
    #[test]
    fn osc_addresses_learn_the_crossfader_and_scenes() {
        let values = Arc::new(MidiValues::default());
        let mut m = MidiMapper::new(values, vec![]);
        m.learn_perform(PerformAim::Scene(2));
        let line = m.osc_value("/push2", 1.0).unwrap().expect("learned");
        assert!(line.contains("map osc /push2 scene 2"), "{line}");
        assert_eq!(m.perform.armed(), None);
        assert_eq!(
            m.perform_step().0,
            vec![],
            "the teaching press recalls nothing"
        );
        assert_eq!(m.osc_value("/push2", 0.0), Ok(None));
        assert_eq!(m.perform_step().0, vec![], "a release recalls nothing");
        m.osc_value("/push2", 1.0).unwrap();
        assert_eq!(m.perform_step().0, vec![PerformAct::Recall(2)]);
        m.learn_perform(PerformAim::Xfade);
        m.osc_value("/fader5", 0.25).unwrap().expect("learned");
        m.osc_value("/fader5", 0.5).unwrap();
        m.osc_value("/fader5", 9.0).unwrap();
        assert_eq!(
            m.perform_step().0,
            vec![PerformAct::Xfade(1.0)],
            "the last alpha of a poll, clamped"
        );
        let saved: Vec<String> = m.perform_list().iter().map(|p| p.to_string()).collect();
        assert_eq!(saved, ["osc /push2 scene 2", "osc /fader5 xfade"]);
        for p in m.perform_list() {
            assert_eq!(PerformMap::parse(&p.to_string()).unwrap(), p);
        }
        assert!(m.osc_value("/other", 1.0).is_err(), "unmapped: refused");
        assert!(m.remove_perform(PerformAim::Xfade));
        assert_eq!(m.perform_list().len(), 1);
    }

    /// A reload replaces the file's mappings; learned and unsaved ones stay unless the file maps
    /// the same control or weight; once saved, they are the file's and a reload replaces them.
    #[test]
    fn a_reload_replaces_the_files_mappings_and_keeps_unsaved_learned_ones() {
        let values = Arc::new(MidiValues::default());
        let mut m = MidiMapper::new(values.clone(), vec![]);
        m.map_osc("/file", range("x.in", 1.0));
        m.add(Mapping {
            cc: Cc {
                channel: 1,
                controller: 1,
                note: false,
            },
            range: range("y.in", 1.0),
        });
        m.learn(range("z.in", 3.0));
        m.osc_value("/learned", 0.2).unwrap();
        m.learn(range("w.in", 3.0));
        m.osc_value("/clash", 0.2).unwrap();
        assert!(m.has_learned());
        let line = m.replace_file_maps(
            &[
                spec("osc /new x.in <- k.out 0..4"),
                spec("osc /clash q.in <- k.out 0..1"),
            ],
            &[],
        );
        assert!(
            line.contains("learned and not yet saved ones kept"),
            "{line}"
        );
        let mut addrs: Vec<String> = m.osc_mappings().into_iter().map(|o| o.addr).collect();
        addrs.sort();
        assert_eq!(addrs, ["/clash", "/learned", "/new"]);
        let clash = m
            .osc_mappings()
            .into_iter()
            .find(|o| o.addr == "/clash")
            .unwrap();
        assert_eq!(clash.range.target, pr("q.in"), "the file wins");
        assert!(
            m.mappings().is_empty(),
            "the file's CC mapping went with it"
        );
        assert!(m.osc_value("/file", 0.5).is_err(), "no longer mapped");
        // Saved: a reload without them drops them.
        m.mark_saved();
        assert!(!m.has_learned());
        m.replace_file_maps(&[spec("cc 2:3 y.in <- k.out 0..1")], &[]);
        assert!(m.osc_mappings().is_empty());
        assert_eq!(m.mappings().len(), 1);
    }
}
