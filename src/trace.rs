//! The one trace writer, used by `render` and by `live`: one JSON line per tick,
//! `{"tick":T,"scalars":{"neuron.port":value,...}}`, with every scalar output in the network's
//! order. A value that is not finite (it never reaches W or the speakers, but a trace shows what
//! a neuron computed) is written as `null`, so every line is valid JSON.
//!
//! `TraceFile` writes synchronously (render); `TraceThread` runs a `TraceFile` on its own thread
//! behind a bounded channel (live: the engine never waits on the disk), and keeps the tick
//! numbers counting across engine restarts, which start again from 0.

use crate::engine::thread::TraceRow;
use crossbeam_channel::{Sender, bounded};
use std::fmt::Write as _;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::thread::JoinHandle;

/// Rows the live trace channel holds before the engine starts dropping (and counting) them.
pub const TRACE_ROWS: usize = 1 << 16;

/// One tick's line (without the newline) into `line`.
pub fn format_row(line: &mut String, tick: u64, names: &[String], values: &[f32]) {
    line.clear();
    let _ = write!(line, "{{\"tick\":{tick},\"scalars\":{{");
    for (i, (name, v)) in names.iter().zip(values).enumerate() {
        let sep = if i > 0 { "," } else { "" };
        // Names are checked identifiers (`neuron.port`): nothing in them needs escaping.
        if v.is_finite() {
            let _ = write!(line, "{sep}\"{name}\":{v}");
        } else {
            let _ = write!(line, "{sep}\"{name}\":null");
        }
    }
    line.push_str("}}");
}

/// A trace file written as the rows come.
pub struct TraceFile {
    path: PathBuf,
    out: BufWriter<File>,
    line: String,
}

impl TraceFile {
    pub fn create(path: &Path) -> std::io::Result<TraceFile> {
        Ok(TraceFile {
            path: path.to_path_buf(),
            out: BufWriter::new(File::create(path)?),
            line: String::new(),
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn write(&mut self, tick: u64, names: &[String], values: &[f32]) -> std::io::Result<()> {
        format_row(&mut self.line, tick, names, values);
        self.line.push('\n');
        self.out.write_all(self.line.as_bytes())
    }

    pub fn flush(&mut self) -> std::io::Result<()> {
        self.out.flush()
    }
}

/// A `TraceFile` on its own thread; rows arrive over `tx` (the engine thread holds a clone).
pub struct TraceThread {
    pub tx: Sender<TraceRow>,
    join: JoinHandle<std::io::Result<()>>,
}

impl TraceThread {
    pub fn start(path: &Path) -> std::io::Result<TraceThread> {
        let mut file = TraceFile::create(path)?;
        let (tx, rx) = bounded::<TraceRow>(TRACE_ROWS);
        let join = std::thread::Builder::new().name("dmm-trace".into()).spawn(
            move || -> std::io::Result<()> {
                let mut ticks = Renumber::default();
                // Ends when every sender (the engine's and ours) is dropped.
                while let Ok(first) = rx.recv() {
                    for row in std::iter::once(first).chain(rx.try_iter()) {
                        file.write(ticks.next(row.tick), &row.names, &row.values)?;
                    }
                    file.flush()?;
                }
                file.flush()
            },
        )?;
        Ok(TraceThread { tx, join })
    }

    /// Waits for every row sent so far to be written (the caller's sender is dropped here;
    /// the engine's must be gone already).
    pub fn finish(self) -> std::io::Result<()> {
        drop(self.tx);
        self.join
            .join()
            .unwrap_or_else(|_| Err(std::io::Error::other("the trace writer panicked")))
    }
}

/// Keeps tick numbers increasing when a restarted engine counts from 0 again.
#[derive(Default)]
struct Renumber {
    offset: u64,
    next: u64,
}

impl Renumber {
    fn next(&mut self, tick: u64) -> u64 {
        if tick.saturating_add(self.offset) < self.next {
            self.offset = self.next - tick;
        }
        let t = tick.saturating_add(self.offset);
        self.next = t.saturating_add(1);
        t
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn non_finite_values_are_null_and_lines_are_json() {
        let mut line = String::new();
        let names = vec!["a.out".to_string(), "b.out".to_string()];
        format_row(&mut line, 7, &names, &[f32::NAN, 0.5]);
        assert_eq!(line, r#"{"tick":7,"scalars":{"a.out":null,"b.out":0.5}}"#);
        let v: serde_json::Value = serde_json::from_str(&line).unwrap();
        assert_eq!(v["scalars"]["b.out"], 0.5);
        format_row(&mut line, 8, &names, &[f32::INFINITY, f32::NEG_INFINITY]);
        assert!(
            serde_json::from_str::<serde_json::Value>(&line).is_ok(),
            "{line}"
        );
    }

    #[test]
    fn restarts_keep_counting() {
        let mut r = Renumber::default();
        let got: Vec<u64> = [0, 1, 2, 0, 1, 5].iter().map(|&t| r.next(t)).collect();
        assert_eq!(got, [0, 1, 2, 3, 4, 8]);
    }
}
