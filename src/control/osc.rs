//! OSC in: the address scheme, a pure decoder and the UDP listener thread.
//!
//! | address | arguments | does |
//! |---|---|---|
//! | `/dmm/w` | `target.port source.port value [morph]` | `W[target][source] = value`, over `morph` seconds |
//! | `/dmm/eval` | `"lines" [first_line]` | evaluates the lines as Ctrl+Enter does (one edit request); errors number lines from `first_line` (default 1) |
//! | `/dmm/mute` | `0\|1` | mutes or unmutes the sound (the panic button) |
//! | `/dmm/scene` | `n` (1–9) | recalls scene n as a morph (as Ctrl+n) |
//! | `/dmm/xfade` | `alpha` (0–1) | moves the A/B crossfader |
//! | any other `/address` | one number, 0–1 | drives the weight learned or mapped for it |
//!
//! Numbers may be int32, int64, float32 or float64. A bundle's messages are taken in order. A
//! packet with anything wrong in it (bytes, address, argument count or type, a port name, a
//! non-finite or out-of-range number) is refused whole: nothing of it changes anything.

use super::{Command, ControlError};
use crate::engine::MAX_MORPH_SECONDS;
use crate::stream::{MAX_WEIGHT, PortRef};
use crossbeam_channel::{Receiver, TrySendError, bounded};
use rosc::{OscMessage, OscPacket, OscType};
use std::net::{SocketAddr, UdpSocket};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

/// The longest `/dmm/eval` text accepted, in bytes (a UDP datagram holds less anyway).
pub const MAX_EVAL_BYTES: usize = 60_000;
/// Packets waiting for the pump; beyond this a flood is dropped (and counted).
pub const INBOX_PACKETS: usize = 8192;
/// Bundles nested deeper than this are refused.
const MAX_BUNDLE_DEPTH: usize = 8;

/// Decodes one UDP datagram into its commands, in order; refuses the whole packet on any fault.
pub fn decode_packet(bytes: &[u8]) -> Result<Vec<Command>, ControlError> {
    let (_, packet) =
        rosc::decoder::decode_udp(bytes).map_err(|e| ControlError::Malformed(e.to_string()))?;
    let mut out = Vec::new();
    flatten(&packet, 0, &mut out)?;
    Ok(out)
}

fn flatten(p: &OscPacket, depth: usize, out: &mut Vec<Command>) -> Result<(), ControlError> {
    match p {
        OscPacket::Message(m) => out.push(command(m)?),
        OscPacket::Bundle(b) => {
            if depth >= MAX_BUNDLE_DEPTH {
                return Err(ControlError::Malformed(format!(
                    "bundles nested deeper than {MAX_BUNDLE_DEPTH}"
                )));
            }
            for inner in &b.content {
                flatten(inner, depth + 1, out)?;
            }
        }
    }
    Ok(())
}

/// One message → one command (see the table above).
pub fn command(m: &OscMessage) -> Result<Command, ControlError> {
    let args = m.args.as_slice();
    let parsed = match m.addr.as_str() {
        "/dmm/w" => weight(args),
        "/dmm/eval" => eval(args),
        "/dmm/mute" => mute(args),
        "/dmm/scene" => scene(args),
        "/dmm/xfade" => xfade(args),
        other if !other.starts_with("/dmm/") && other.starts_with('/') => learned(other, args),
        other => return Err(ControlError::UnknownAddress(other.to_string())),
    };
    parsed.map_err(|why| ControlError::BadMessage {
        addr: m.addr.clone(),
        why,
    })
}

/// `/dmm/w target.port source.port value [morph]`.
fn weight(args: &[OscType]) -> Result<Command, String> {
    if !(3..=4).contains(&args.len()) {
        return Err(format!(
            "{} arguments; expected target.port source.port value [morph]",
            args.len()
        ));
    }
    let port = |i: usize, what: &str| match &args[i] {
        OscType::String(s) => PortRef::parse(s).map_err(|e| format!("{what}: {e}")),
        other => Err(format!(
            "{what}: expected a string neuron.port, found {}",
            type_name(other)
        )),
    };
    let target = port(0, "target")?;
    let source = port(1, "source")?;
    let value = number(&args[2]).map_err(|t| format!("value: {t}"))?;
    if !(value.is_finite() && value.abs() <= MAX_WEIGHT) {
        return Err(format!(
            "value {value}: expected a finite weight, |w| <= {MAX_WEIGHT:e}"
        ));
    }
    let morph = match args.get(3) {
        Some(a) => number(a).map_err(|t| format!("morph: {t}"))?,
        None => 0.0,
    };
    if !(morph.is_finite() && (0.0..=MAX_MORPH_SECONDS).contains(&morph)) {
        return Err(format!(
            "morph {morph}: expected seconds in 0..={MAX_MORPH_SECONDS}"
        ));
    }
    Ok(Command::W {
        target,
        source,
        value,
        morph,
    })
}

/// `/dmm/eval text [first line]`.
fn eval(args: &[OscType]) -> Result<Command, String> {
    let (text, first) = match args {
        [OscType::String(s)] => (s, None),
        [OscType::String(s), n] => (s, Some(n)),
        args => {
            return Err(format!(
                "expected a string of patch lines [and its first line number], found {}",
                describe(args)
            ));
        }
    };
    if text.len() > MAX_EVAL_BYTES {
        return Err(format!(
            "{} bytes of text; at most {MAX_EVAL_BYTES}",
            text.len()
        ));
    }
    let first_line = match first.map(number) {
        None => 1,
        Some(Ok(n)) if n.fract() == 0.0 && (1.0..=1e9).contains(&n) => n as usize,
        Some(Ok(n)) => return Err(format!("first line {n}: expected 1 or more")),
        Some(Err(t)) => return Err(format!("first line: {t}")),
    };
    Ok(Command::Eval {
        text: text.clone(),
        first_line,
    })
}

/// `/dmm/mute 0|1`.
fn mute(args: &[OscType]) -> Result<Command, String> {
    let on = match args {
        [OscType::Bool(b)] => Some(*b),
        [a] => match number(a) {
            Ok(0.0) => Some(false),
            Ok(1.0) => Some(true),
            _ => None,
        },
        _ => None,
    };
    on.map(Command::Mute)
        .ok_or_else(|| format!("expected 0 or 1, found {}", describe(args)))
}

/// `/dmm/scene n`, n in 1..=9.
fn scene(args: &[OscType]) -> Result<Command, String> {
    match args {
        [a] => match number(a) {
            Ok(n) if n.fract() == 0.0 && (1.0..=9.0).contains(&n) => Ok(Command::Scene(n as usize)),
            Ok(n) => Err(format!("scene {n}: expected a scene number 1 to 9")),
            Err(t) => Err(t),
        },
        args => Err(format!(
            "expected a scene number 1 to 9, found {}",
            describe(args)
        )),
    }
}

/// `/dmm/xfade alpha`, alpha in 0..=1.
fn xfade(args: &[OscType]) -> Result<Command, String> {
    match args {
        [a] => match number(a) {
            Ok(x) if (0.0..=1.0).contains(&x) => Ok(Command::Xfade(x)),
            Ok(x) => Err(format!("alpha {x}: expected 0 to 1")),
            Err(t) => Err(t),
        },
        args => Err(format!(
            "expected alpha, one number 0 to 1, found {}",
            describe(args)
        )),
    }
}

/// Any other address outside `/dmm/`: one number, for a learned address.
fn learned(addr: &str, args: &[OscType]) -> Result<Command, String> {
    match args {
        [a] => match number(a) {
            Ok(x) if x.is_finite() => Ok(Command::Value {
                addr: addr.to_string(),
                x,
            }),
            Ok(x) => Err(format!("value {x}: expected a finite number")),
            Err(t) => Err(t),
        },
        args => Err(format!(
            "expected one number (for a learned address), found {}",
            describe(args)
        )),
    }
}

/// A number argument as f64 (ints, floats, doubles); else the type found.
fn number(a: &OscType) -> Result<f64, String> {
    match a {
        OscType::Int(i) => Ok(*i as f64),
        OscType::Long(i) => Ok(*i as f64),
        OscType::Float(f) => Ok(*f as f64),
        OscType::Double(d) => Ok(*d),
        other => Err(format!("expected a number, found {}", type_name(other))),
    }
}

fn type_name(a: &OscType) -> &'static str {
    match a {
        OscType::Int(_) => "int32",
        OscType::Long(_) => "int64",
        OscType::Float(_) => "float32",
        OscType::Double(_) => "float64",
        OscType::String(_) => "a string",
        OscType::Blob(_) => "a blob",
        OscType::Bool(_) => "a bool",
        OscType::Nil => "nil",
        OscType::Inf => "infinitum",
        _ => "an unsupported type",
    }
}

fn describe(args: &[OscType]) -> String {
    match args {
        [] => "no arguments".into(),
        [a] => type_name(a).into(),
        many => format!("{} arguments", many.len()),
    }
}

/// What the listener thread hands the pump: one packet's commands, or why it was refused.
#[derive(Debug)]
pub enum Inbound {
    Commands(Vec<Command>),
    Refused(ControlError),
}

/// Counters shared by the listener thread and its readers.
#[derive(Debug, Default)]
pub struct ListenerStats {
    pub packets: AtomicU64,
    /// Packets dropped because the pump was this far behind (`INBOX_PACKETS`).
    pub dropped: AtomicU64,
}

/// The UDP listener: its own thread, never blocking anyone; packets go into a bounded channel.
pub struct OscListener {
    pub rx: Receiver<Inbound>,
    pub stats: Arc<ListenerStats>,
    local: SocketAddr,
    stop: Arc<AtomicBool>,
    join: Option<JoinHandle<()>>,
}

impl OscListener {
    /// Listens on `addr` (127.0.0.1:9000 by default; port 0 picks a free port).
    pub fn bind(addr: SocketAddr) -> Result<OscListener, ControlError> {
        let fail = |e: std::io::Error| ControlError::Bind {
            addr: addr.to_string(),
            why: e.to_string(),
        };
        let socket = UdpSocket::bind(addr).map_err(fail)?;
        // Wakes up now and then to see whether it should stop.
        socket
            .set_read_timeout(Some(Duration::from_millis(50)))
            .map_err(fail)?;
        let local = socket.local_addr().map_err(fail)?;
        let (tx, rx) = bounded(INBOX_PACKETS);
        let stop = Arc::new(AtomicBool::new(false));
        let stats = Arc::new(ListenerStats::default());
        let (stop2, stats2) = (stop.clone(), stats.clone());
        let join = std::thread::Builder::new()
            .name("dmm-osc-in".into())
            .spawn(move || {
                let mut buf = vec![0u8; 65_536];
                while !stop2.load(Ordering::Relaxed) {
                    let n = match socket.recv_from(&mut buf) {
                        Ok((n, _)) => n,
                        Err(e)
                            if matches!(
                                e.kind(),
                                std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                            ) =>
                        {
                            continue;
                        }
                        // Anything else (an ICMP echo, a network going away): go on, without
                        // spinning on an error that repeats.
                        Err(_) => {
                            std::thread::sleep(Duration::from_millis(10));
                            continue;
                        }
                    };
                    stats2.packets.fetch_add(1, Ordering::Relaxed);
                    let item = match decode_packet(&buf[..n]) {
                        Ok(c) => Inbound::Commands(c),
                        Err(e) => Inbound::Refused(e),
                    };
                    match tx.try_send(item) {
                        Ok(()) => {}
                        Err(TrySendError::Full(_)) => {
                            stats2.dropped.fetch_add(1, Ordering::Relaxed);
                        }
                        Err(TrySendError::Disconnected(_)) => break,
                    }
                }
            })
            .map_err(fail)?;
        Ok(OscListener {
            rx,
            stats,
            local,
            stop,
            join: Some(join),
        })
    }

    /// The address actually bound (with the port chosen when 0 was asked for).
    pub fn local_addr(&self) -> SocketAddr {
        self.local
    }
}

impl Drop for OscListener {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(j) = self.join.take() {
            let _ = j.join();
        }
    }
}

/// Encodes one message (for `send`, OSC out and tests).
pub fn encode(addr: &str, args: Vec<OscType>) -> Result<Vec<u8>, ControlError> {
    rosc::encoder::encode(&OscPacket::Message(OscMessage {
        addr: addr.to_string(),
        args,
    }))
    .map_err(|e| ControlError::Malformed(e.to_string()))
}
