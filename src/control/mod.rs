//! Control from outside (issue 11): OSC in and out, and code sent from any text editor.
//! Outside inputs become edit requests for Self (DESIGN §1), exactly like the panel's.
//!
//! - `osc`: the address scheme, a pure decoder (bytes → `Command`s, refusing anything malformed)
//!   and the UDP listener thread.
//! - `pump`: turns received commands into edit requests on the running `Live`, coalescing floods
//!   (at most one `set` per weight per engine tick) and rate-limiting its log lines.
//! - `out`: chosen scalar outputs sent as `/dmm/out/neuron.port value` at a chosen rate.
//! - `send`: the `dmm-synth send FILE` client (`/dmm/eval` from any editor).
//!
//! Layering: control → live → engine; `Live` only knows the `ControlSource` trait.

pub mod learn;
pub mod midi;
pub mod osc;
pub mod out;
pub mod perform;

pub mod pump;
pub mod send;

use crate::stream::PortRef;
use thiserror::Error;

/// The default OSC port (the 9000 range TouchOSC examples use; clear of scsynth, sclang,
/// Tidal and Sonic Pi).
pub const DEFAULT_OSC_PORT: u16 = 9000;

/// One thing an outside controller asks of the running instrument.
#[derive(Clone, Debug, PartialEq)]
pub enum Command {
    /// `/dmm/w target.port source.port value [morph]`: `W[target][source] = value`.
    W {
        target: PortRef,
        source: PortRef,
        value: f64,
        morph: f64,
    },
    /// `/dmm/eval "lines" [first_line]`: evaluated exactly as Ctrl+Enter evaluates them;
    /// `first_line` (default 1) numbers the lines in error messages.
    Eval { text: String, first_line: usize },
    /// `/dmm/mute 0|1`: the panic button.
    Mute(bool),
    /// `/dmm/scene n`: recall scene n (1–9) as a morph, as Ctrl+n does.
    Scene(usize),
    /// `/dmm/xfade alpha`: moves the A/B crossfader to alpha in [0, 1].
    Xfade(f64),
    /// Any address outside `/dmm/` with one number (a fader, a knob): drives the weight mapped
    /// (or being learned) for that address.
    Value { addr: String, x: f64 },
}

#[derive(Debug, Error, PartialEq)]
pub enum ControlError {
    #[error("osc: malformed packet ({0})")]
    Malformed(String),
    #[error("osc {addr}: {why}")]
    BadMessage { addr: String, why: String },
    #[error(
        "osc: unknown address {0:?} (expected /dmm/w, /dmm/eval, /dmm/mute, /dmm/scene, /dmm/xfade, or a learned address with one number)"
    )]
    UnknownAddress(String),
    #[error("osc: cannot listen on {addr}: {why}")]
    Bind { addr: String, why: String },
    #[error("osc out: {0}")]
    Out(String),
    #[error("send: {0}")]
    Send(String),
    #[error("midi: {0}")]
    Midi(String),
    #[error("mapping {0}")]
    Mapping(String),
}

/// What to start beside the instrument (command-line flags).
#[derive(Clone, Debug, PartialEq)]
pub struct ControlOptions {
    /// Where OSC in listens (None: off).
    pub osc_in: Option<std::net::SocketAddr>,
    pub osc_out: Option<out::OutOptions>,
    /// Listen to every MIDI input port (hot-plugged): the `midi_*` neurons and the mappings.
    pub midi: bool,
    /// `--midi-in` names: the ports that start chosen (empty: all); the panel changes it.
    pub midi_in: Vec<String>,
    /// MIDI controllers mapped onto weights (implies `midi`).
    pub midi_maps: Vec<learn::Mapping>,
    /// OSC addresses mapped onto weights (from the patch file's `map osc` lines).
    pub osc_maps: Vec<(String, learn::Range)>,
    /// MIDI or OSC onto the crossfader and scene recall (the patch file's `map cc .. xfade`,
    /// `map note .. scene N` lines, which turn MIDI on, and `map osc /a xfade|scene N`).
    pub perform_maps: Vec<crate::patch::mapping::PerformMap>,
}

impl ControlOptions {
    /// What the patch file asks of outside control: its `map` lines (`add_patch_mappings`),
    /// and MIDI on when it has a `midi_*` neuron (which reads nothing without it).
    pub fn add_patch(&mut self, p: &crate::patch::Patch) {
        self.add_patch_mappings(&p.mappings);
        self.perform_maps.extend(p.perform_maps.iter().cloned());
        if p.neurons.iter().any(|(_, s)| s.ty.starts_with("midi_")) {
            self.midi = true;
        }
    }

    /// Adds the patch file's mappings: `map cc` lines to the MIDI mappings (which turns MIDI
    /// on), `map osc` lines to the OSC ones. A mapping for a weight already mapped on the
    /// command line is left to the command line.
    pub fn add_patch_mappings(&mut self, specs: &[crate::patch::mapping::MapSpec]) {
        use crate::patch::mapping::Control;
        for m in specs {
            let curve = if m.exp {
                learn::Curve::Exp
            } else {
                learn::Curve::Linear
            };
            // The patch checked the numbers with the same rules; a refusal here cannot happen,
            // and would only leave this mapping out.
            let Ok(range) = learn::Range::new(
                m.target.clone(),
                m.source.clone(),
                (m.min, m.max),
                curve,
                m.smoothing,
            ) else {
                continue;
            };
            let taken = self
                .midi_maps
                .iter()
                .any(|x| x.range.target == range.target && x.range.source == range.source);
            match &m.control {
                Control::Cc {
                    channel,
                    controller,
                } if !taken => self.midi_maps.push(learn::Mapping {
                    cc: learn::Cc {
                        channel: *channel,
                        controller: *controller,
                        note: false,
                    },
                    range,
                }),
                Control::Note { channel, note } if !taken => self.midi_maps.push(learn::Mapping {
                    cc: learn::Cc {
                        channel: *channel,
                        controller: *note,
                        note: true,
                    },
                    range,
                }),
                Control::Osc(addr) => self.osc_maps.push((addr.clone(), range)),
                Control::Cc { .. } | Control::Note { .. } => {}
            }
        }
    }
}

impl Default for ControlOptions {
    fn default() -> Self {
        ControlOptions {
            osc_in: Some(([127, 0, 0, 1], DEFAULT_OSC_PORT).into()),
            osc_out: None,
            midi: false,
            midi_in: Vec::new(),
            midi_maps: Vec::new(),
            osc_maps: Vec::new(),
            perform_maps: Vec::new(),
        }
    }
}

/// Starts what `opts` asks for on `live`. A port that cannot be opened does not stop the
/// instrument: it comes back as a note (and that input stays off).
pub fn start(live: &mut crate::live::Live, opts: &ControlOptions) -> Vec<String> {
    start_shared(live, opts).0
}

/// Like `start`; also returns the mapper (when MIDI or OSC in is on) for the window's learn
/// buttons and mappings list. One mapper holds the MIDI and the OSC mappings and one learn
/// state: a learn armed in the window is completed by whichever comes first, a MIDI control
/// that moves or an OSC address that sends a number.
pub fn start_shared(
    live: &mut crate::live::Live,
    opts: &ControlOptions,
) -> (Vec<String>, Option<learn::SharedMapper>) {
    let mut notes = Vec::new();
    let values = std::sync::Arc::new(midi::MidiValues::default());
    // The mappings are kept (listed, saved) even when a port cannot be opened.
    let mut mapper = learn::MidiMapper::new(values.clone(), opts.midi_maps.clone());
    for pm in &opts.perform_maps {
        mapper.add_perform(pm.clone());
    }
    for (addr, range) in &opts.osc_maps {
        mapper.map_osc(addr, range.clone());
    }
    let mut midi_on = false;
    let midi_perform = opts.perform_maps.iter().any(|m| m.osc.is_none());
    if opts.midi || !opts.midi_maps.is_empty() || midi_perform {
        let (tx, rx) = midi::feed();
        let choice = midi::PortChoice::new(opts.midi_in.clone()).shared();
        match midi::MidiPorts::start(values.clone(), Some(tx), choice) {
            Ok(p) => {
                let which = if opts.midi_in.is_empty() {
                    "every input port".to_string()
                } else {
                    format!("the input ports named {}", opts.midi_in.join(", "))
                };
                notes.push(format!(
                    "midi: listening to {which} ({} mappings)",
                    opts.midi_maps.len()
                ));
                mapper = mapper.with_ports(p).with_feed(rx);
                midi_on = true;
            }
            Err(e) => notes.push(format!("{e}; MIDI is off")),
        }
    }
    let mut osc_in = None;
    if let Some(addr) = opts.osc_in {
        match osc::OscListener::bind(addr) {
            Ok(l) => {
                notes.push(format!("osc: listening on udp {}", l.local_addr()));
                osc_in = Some(pump::OscControl::new(l));
                mapper = mapper.with_osc();
            }
            Err(e) => notes.push(format!("{e}; OSC in is off")),
        }
    }
    let shared = (midi_on || osc_in.is_some()).then(|| learn::SharedMapper::new(mapper));
    if let (Some(c), Some(m)) = (osc_in, &shared) {
        live.attach(Box::new(c.with_mapper(m.clone())));
    }
    if let Some(o) = &opts.osc_out {
        match out::OscOut::new(o.clone()) {
            Ok(s) => {
                notes.push(format!("osc out: sending to {} at {} Hz", o.to, o.rate));
                live.attach(Box::new(s));
            }
            Err(e) => notes.push(format!("{e}; OSC out is off")),
        }
    }
    if let Some(m) = &shared {
        live.attach(Box::new(m.clone()));
    }
    (notes, shared)
}
