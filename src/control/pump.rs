//! From received commands to edit requests on the running instrument.
//!
//! - **Coalescing.** Commands wait in arrival order and go out together once per engine tick
//!   (when the newest snapshot's tick has moved on since the last flush). A `/dmm/w` for a weight
//!   that already waits (with no `/dmm/eval` after it) replaces the waiting value, so a flood
//!   sends at most one `set` per weight per tick, and the last value always wins.
//! - **Order.** `/dmm/eval` is a barrier: what came before it goes before it.
//! - **Logging.** Refusals and drops are logged at most once a second, with a count of the lines
//!   held back; nothing else is logged (the outcome of each request is reported by the engine).

use super::Command;
use super::learn::{MidiMapper, Range, SharedMapper};
use super::midi::MidiValues;
use super::osc::{Inbound, OscListener};
use crate::engine::edits::Edit;
use crate::engine::{Level, Message};
use crate::live::{ControlSource, Live};
use crate::neurons::{AssetDirs, Network};
use crate::patch::text::eval_snippet;
use crate::stream::WMatrix;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// At most this many packets are taken per poll (the rest wait for the next poll).
const MAX_PACKETS_PER_POLL: usize = 20_000;

/// What the pump has done so far (for the panel and tests).
#[derive(Debug, Default)]
pub struct PumpStats {
    pub sets_sent: AtomicU64,
    pub coalesced: AtomicU64,
    pub evals_sent: AtomicU64,
    pub refused: AtomicU64,
    pub flushes: AtomicU64,
}

/// One log line a second at most; the lines held back in between are counted in the next one.
#[derive(Debug, Default)]
pub struct RateLimit {
    last: Option<Instant>,
    held: u64,
}

impl RateLimit {
    /// `Some(line)` to log now, or `None` (counted) when a line went out less than a second ago.
    pub fn line(&mut self, now: Instant, text: String) -> Option<String> {
        if self
            .last
            .is_some_and(|t| now.duration_since(t) < Duration::from_secs(1))
        {
            self.held += 1;
            return None;
        }
        self.last = Some(now);
        let held = std::mem::take(&mut self.held);
        Some(if held > 0 {
            format!("{text} ({held} more held back)")
        } else {
            text
        })
    }
}

/// Commands in arrival order, waiting for the next engine tick.
#[derive(Debug, Default)]
pub struct Coalescer {
    waiting: Vec<Command>,
    /// Index in `waiting` after the last `/dmm/eval` (`W`s before it are not merged into).
    barrier: usize,
}

impl Coalescer {
    /// Queues `c`; returns true when it replaced a waiting value (coalesced).
    pub fn push(&mut self, c: Command) -> bool {
        if let Command::W {
            target,
            source,
            value,
            morph,
        } = &c
        {
            for w in &mut self.waiting[self.barrier..] {
                if let Command::W {
                    target: t,
                    source: s,
                    value: v,
                    morph: m,
                } = w
                    && t == target
                    && s == source
                {
                    (*v, *m) = (*value, *morph);
                    return true;
                }
            }
        }
        let eval = matches!(c, Command::Eval { .. });
        self.waiting.push(c);
        if eval {
            self.barrier = self.waiting.len();
        }
        false
    }

    pub fn is_empty(&self) -> bool {
        self.waiting.is_empty()
    }

    /// Everything waiting, in order.
    pub fn take(&mut self) -> Vec<Command> {
        self.barrier = 0;
        std::mem::take(&mut self.waiting)
    }
}

/// The OSC listener driven by `Live::poll`.
pub struct OscControl {
    listener: OscListener,
    queue: Coalescer,
    last_flush_tick: Option<u64>,
    refusals: RateLimit,
    eval_errors: RateLimit,
    drops: RateLimit,
    dropped_seen: u64,
    /// Learned or mapped addresses live in the mapper (one learn state with MIDI): a value
    /// 0–1 drives the weight through its range, smoothed, at most one `set` per tick.
    mapper: SharedMapper,
    /// The mapper is this listener's own (not attached to `Live` by itself): pumped here.
    own_mapper: bool,
    pub stats: Arc<PumpStats>,
}

impl OscControl {
    pub fn new(listener: OscListener) -> OscControl {
        OscControl {
            listener,
            queue: Coalescer::default(),
            last_flush_tick: None,
            refusals: RateLimit::default(),
            eval_errors: RateLimit::default(),
            drops: RateLimit::default(),
            dropped_seen: 0,
            mapper: SharedMapper::new(
                MidiMapper::new(Arc::new(MidiValues::default()), Vec::new()).with_osc(),
            ),
            own_mapper: true,
            stats: Arc::new(PumpStats::default()),
        }
    }

    /// Keeps the OSC mappings and the learn state in `mapper`, shared with the MIDI mappings
    /// and the window (`control::start_shared` attaches the mapper to `Live` itself).
    pub fn with_mapper(mut self, mapper: SharedMapper) -> OscControl {
        mapper.with(|m| {
            for o in self.mapper.with(|own| own.osc_mappings()) {
                m.map_osc(&o.addr, o.range);
            }
        });
        self.mapper = mapper;
        self.own_mapper = false;
        self
    }

    /// The next address outside `/dmm/` that sends one number (or MIDI control that moves) is
    /// mapped to `range`.
    pub fn learn(&mut self, range: Range) {
        self.mapper.with(|m| m.learn(range));
    }

    /// Maps `addr` (0–1) onto `range` (replacing its earlier mapping).
    pub fn map(&mut self, addr: &str, range: Range) {
        self.mapper.with(|m| m.map_osc(addr, range));
    }

    /// A mapped address's value goes to the mapper (a learn in progress maps it first); an
    /// unmapped one is refused.
    fn value(&mut self, addr: String, x: f64, log: &mut Vec<String>, now: Instant) {
        match self.mapper.with(|m| m.osc_value(&addr, x)) {
            Ok(learned) => log.extend(learned),
            Err(line) => {
                self.stats.refused.fetch_add(1, Ordering::Relaxed);
                log.extend(self.refusals.line(now, line));
            }
        }
    }

    pub fn local_addr(&self) -> std::net::SocketAddr {
        self.listener.local_addr()
    }

    /// Takes the packets that arrived; mutes at once, recalls the last scene and moves the
    /// crossfader to the last alpha asked for (a flood of them is one request), queues the rest.
    fn receive(&mut self, live: &mut Live, log: &mut Vec<String>) {
        let (mut scene, mut xfade) = (None, None);
        let now = Instant::now();
        let items: Vec<Inbound> = self
            .listener
            .rx
            .try_iter()
            .take(MAX_PACKETS_PER_POLL)
            .collect();
        for item in items {
            match item {
                Inbound::Commands(cs) => {
                    for c in cs {
                        match c {
                            Command::Mute(m) => live.audio().stats().set_muted(m),
                            Command::Value { addr, x } => self.value(addr, x, log, now),
                            Command::Scene(n) => {
                                if scene.replace(n).is_some() {
                                    self.stats.coalesced.fetch_add(1, Ordering::Relaxed);
                                }
                            }
                            Command::Xfade(a) => {
                                if xfade.replace(a).is_some() {
                                    self.stats.coalesced.fetch_add(1, Ordering::Relaxed);
                                }
                            }
                            c => {
                                if self.queue.push(c) {
                                    self.stats.coalesced.fetch_add(1, Ordering::Relaxed);
                                }
                            }
                        }
                    }
                }
                Inbound::Refused(e) => {
                    self.stats.refused.fetch_add(1, Ordering::Relaxed);
                    log.extend(self.refusals.line(now, format!("refused: {e}")));
                }
            }
        }
        if let Some(n) = scene
            && let Err(e) = live.recall_scene(n)
        {
            self.stats.refused.fetch_add(1, Ordering::Relaxed);
            log.extend(
                self.refusals
                    .line(now, format!("refused: osc /dmm/scene {n}: {e}")),
            );
        }
        if let Some(alpha) = xfade {
            // Between the sides last chosen in the panel; scenes 1 and 2 until then.
            let x = live.crossfader();
            let (a, b) = if x.a == 0 { (1, 2) } else { (x.a, x.b) };
            if let Err(e) = live.crossfade(a, b, alpha) {
                self.stats.refused.fetch_add(1, Ordering::Relaxed);
                log.extend(
                    self.refusals
                        .line(now, format!("refused: osc /dmm/xfade {alpha}: {e}")),
                );
            }
        }
        let dropped = self.listener.stats.dropped.load(Ordering::Relaxed);
        if dropped > self.dropped_seen {
            let n = dropped - self.dropped_seen;
            if let Some(l) = self.drops.line(
                now,
                format!("osc: {n} packets dropped (more than the instrument can take)"),
            ) {
                self.dropped_seen = dropped;
                log.push(l);
            }
        }
    }

    /// Sends what waits, once per engine tick.
    fn flush(&mut self, live: &Live, log: &mut Vec<String>) {
        if self.queue.is_empty() {
            return;
        }
        let Some(snap) = live.engine().latest() else {
            return;
        };
        if self.last_flush_tick.is_some_and(|t| snap.tick <= t) {
            return;
        }
        self.last_flush_tick = Some(snap.tick);
        self.stats.flushes.fetch_add(1, Ordering::Relaxed);
        let morph = live
            .morph_override()
            .unwrap_or(snap.net.settings.morph_time);
        let assets = AssetDirs::for_patch(live.path());
        let (edits, errors) = edits_for(self.queue.take(), &snap.net, &snap.w, &assets, morph);
        for e in edits {
            match &e {
                Edit::Set { .. } => self.stats.sets_sent.fetch_add(1, Ordering::Relaxed),
                _ => self.stats.evals_sent.fetch_add(1, Ordering::Relaxed),
            };
            live.send(e);
        }
        let now = Instant::now();
        for e in errors {
            log.extend(self.eval_errors.line(now, e));
        }
    }
}

/// The edit requests for `commands` (in order) against the running network `net`, `w`: a
/// `/dmm/w` is a `set`, a `/dmm/eval` exactly what Ctrl+Enter sends for its lines (`eval_snippet`
/// with the default morph). Lines that fail come back as one line of errors each.
pub fn edits_for(
    commands: Vec<Command>,
    net: &Network,
    w: &WMatrix,
    assets: &AssetDirs,
    morph: f64,
) -> (Vec<Edit>, Vec<String>) {
    let (mut edits, mut errors) = (Vec::new(), Vec::new());
    for c in commands {
        match c {
            Command::W {
                target,
                source,
                value,
                morph,
            } => edits.push(Edit::Set {
                target,
                source,
                weight: value,
                morph,
            }),
            Command::Eval { text, first_line } => {
                match eval_snippet(&text, first_line, net, w, assets, morph) {
                    Ok(Some(edit)) => edits.push(edit),
                    Ok(None) => {}
                    Err(errs) => {
                        let first = errs.first().map(|e| e.to_string()).unwrap_or_default();
                        let more = match errs.len() {
                            0 | 1 => String::new(),
                            n => format!(" (and {} more)", n - 1),
                        };
                        errors.push(format!("osc /dmm/eval: {first}{more}"));
                    }
                }
            }
            // Muting is not an edit (the pump applies it as it arrives); mapped values arrive
            // here already turned into `W`.
            Command::Mute(_) | Command::Value { .. } | Command::Scene(_) | Command::Xfade(_) => {}
        }
    }
    (edits, errors)
}

impl ControlSource for OscControl {
    fn pump(&mut self, live: &mut Live) -> Vec<Message> {
        let mut lines = Vec::new();
        self.receive(live, &mut lines);
        self.flush(live, &mut lines);
        let tick = live.engine().latest().map_or(0, |s| s.tick);
        let mut out: Vec<Message> = lines
            .into_iter()
            .map(|text| Message {
                tick,
                level: if text.starts_with("learned:") {
                    Level::Notice
                } else {
                    Level::Error
                },
                text: crate::patch::one_line(&text).into_owned(),
            })
            .collect();
        if self.own_mapper {
            out.extend(self.mapper.clone().pump(live));
        }
        out
    }

    fn patch_applied(&mut self, p: &crate::patch::Patch) -> Option<String> {
        // A shared mapper is attached to `Live` by itself and told there.
        if self.own_mapper {
            self.mapper.patch_applied(p)
        } else {
            None
        }
    }
}
