//! OSC out: chosen scalar outputs sent as `/dmm/out/neuron.port value` (float32) to a host:port
//! at a chosen rate, for lights, other synths or a second machine. Values are read from the
//! engine's newest snapshot, so the rate is at most the poll rate (the window's frame rate); a
//! non-finite value is not sent. Sending never blocks: a datagram that cannot go is dropped.

use super::ControlError;
use super::osc::encode;
use super::pump::RateLimit;
use crate::engine::{Level, Message};
use crate::live::{ControlSource, Live};
use rosc::OscType;
use std::net::{SocketAddr, UdpSocket};
use std::time::{Duration, Instant};

/// Where and what to send.
#[derive(Clone, Debug, PartialEq)]
pub struct OutOptions {
    pub to: SocketAddr,
    /// `neuron.port` names of scalar outputs; empty: every scalar output.
    pub ports: Vec<String>,
    /// Messages per second per port (0.1..=1000).
    pub rate: f64,
}

pub struct OscOut {
    socket: UdpSocket,
    opts: OutOptions,
    period: Duration,
    last: Option<Instant>,
    last_tick: Option<u64>,
    log: RateLimit,
    /// Datagrams sent so far.
    pub sent: u64,
}

impl OscOut {
    pub fn new(opts: OutOptions) -> Result<OscOut, ControlError> {
        if !(opts.rate.is_finite() && (0.1..=1000.0).contains(&opts.rate)) {
            return Err(ControlError::Out(format!(
                "rate {}: expected 0.1..=1000 messages per second",
                opts.rate
            )));
        }
        let any: SocketAddr = if opts.to.is_ipv4() {
            ([0, 0, 0, 0], 0).into()
        } else {
            (std::net::Ipv6Addr::UNSPECIFIED, 0).into()
        };
        let fail = |e: std::io::Error| ControlError::Out(format!("{}: {e}", opts.to));
        let socket = UdpSocket::bind(any).map_err(fail)?;
        socket.set_nonblocking(true).map_err(fail)?;
        Ok(OscOut {
            socket,
            period: Duration::from_secs_f64(1.0 / opts.rate),
            opts,
            last: None,
            last_tick: None,
            log: RateLimit::default(),
            sent: 0,
        })
    }

    /// Sends the chosen values of `scalars` (`neuron.port`, value); returns problems to log.
    pub fn send(&mut self, scalars: &[(String, f32)]) -> Vec<String> {
        let mut problems = Vec::new();
        let chosen: Vec<&(String, f32)> = if self.opts.ports.is_empty() {
            scalars.iter().collect()
        } else {
            let mut v = Vec::new();
            for p in &self.opts.ports {
                match scalars.iter().find(|(n, _)| n == p) {
                    Some(s) => v.push(s),
                    None => problems.push(format!("osc out: no scalar output {p:?} to send")),
                }
            }
            v
        };
        for (name, value) in chosen {
            if !value.is_finite() {
                continue;
            }
            let bytes = match encode(&format!("/dmm/out/{name}"), vec![OscType::Float(*value)]) {
                Ok(b) => b,
                Err(e) => {
                    problems.push(e.to_string());
                    continue;
                }
            };
            match self.socket.send_to(&bytes, self.opts.to) {
                Ok(_) => self.sent += 1,
                Err(e) => problems.push(format!("osc out to {}: {e}", self.opts.to)),
            }
        }
        problems
    }
}

impl ControlSource for OscOut {
    fn pump(&mut self, live: &mut Live) -> Vec<Message> {
        let now = Instant::now();
        if self
            .last
            .is_some_and(|t| now.duration_since(t) < self.period)
        {
            return Vec::new();
        }
        let Some(snap) = live.engine().latest() else {
            return Vec::new();
        };
        // Nothing new to say.
        if self.last_tick == Some(snap.tick) {
            return Vec::new();
        }
        self.last = Some(now);
        self.last_tick = Some(snap.tick);
        let problems = self.send(&snap.scalars);
        let mut out = Vec::new();
        for p in problems {
            if let Some(text) = self.log.line(now, p) {
                out.push(Message {
                    tick: snap.tick,
                    level: Level::Error,
                    text: crate::patch::one_line(&text).into_owned(),
                });
            }
        }
        out
    }
}
