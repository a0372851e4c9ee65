//! `dmm-synth send FILE [--line N | --paragraph N | --all]`: sends lines of a file (or of
//! standard input, `-`) to the running instrument as one `/dmm/eval`, so that any text editor
//! can live-code it. The instrument evaluates them exactly as Ctrl+Enter would; errors show in
//! its log with the file's line numbers.

use super::ControlError;
use super::osc::{MAX_EVAL_BYTES, encode};
use rosc::OscType;
use std::net::{SocketAddr, UdpSocket};

/// Which lines to send.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Selection {
    /// Line N (1-based).
    Line(usize),
    /// The paragraph (lines between blank lines) holding line N.
    Paragraph(usize),
    All,
}

/// The selected lines of `text` and the number of the first one.
pub fn select(text: &str, sel: Selection) -> Result<(usize, String), ControlError> {
    let lines: Vec<&str> = text.lines().collect();
    let check = |n: usize| {
        if n == 0 || n > lines.len() {
            Err(ControlError::Send(format!(
                "line {n}: expected 1..={} (the file has {} lines)",
                lines.len().max(1),
                lines.len()
            )))
        } else {
            Ok(n - 1)
        }
    };
    let (first, last) = match sel {
        Selection::All => (0, lines.len()),
        Selection::Line(n) => {
            let i = check(n)?;
            (i, i + 1)
        }
        Selection::Paragraph(n) => {
            let i = check(n)?;
            let blank = |j: usize| lines[j].trim().is_empty();
            if blank(i) {
                return Err(ControlError::Send(format!(
                    "line {n} is blank: no paragraph there"
                )));
            }
            let mut a = i;
            while a > 0 && !blank(a - 1) {
                a -= 1;
            }
            let mut b = i + 1;
            while b < lines.len() && !blank(b) {
                b += 1;
            }
            (a, b)
        }
    };
    Ok((first + 1, lines[first..last].join("\n")))
}

/// Sends `text` (numbered from `first_line`) as one `/dmm/eval` datagram to `to`.
pub fn send_eval(to: SocketAddr, text: &str, first_line: usize) -> Result<(), ControlError> {
    if text.len() > MAX_EVAL_BYTES {
        return Err(ControlError::Send(format!(
            "{} bytes to send; one /dmm/eval holds at most {MAX_EVAL_BYTES}",
            text.len()
        )));
    }
    let first = i32::try_from(first_line)
        .map_err(|_| ControlError::Send(format!("line {first_line} is too far down")))?;
    let bytes = encode(
        "/dmm/eval",
        vec![OscType::String(text.to_string()), OscType::Int(first)],
    )?;
    let any: SocketAddr = if to.is_ipv4() {
        ([0, 0, 0, 0], 0).into()
    } else {
        (std::net::Ipv6Addr::UNSPECIFIED, 0).into()
    };
    let socket = UdpSocket::bind(any).map_err(|e| ControlError::Send(e.to_string()))?;
    socket
        .send_to(&bytes, to)
        .map_err(|e| ControlError::Send(format!("to {to}: {e}")))?;
    Ok(())
}
