//! The memory budget (DESIGN §5): a patch's stream memory is computed at load, before anything
//! is allocated, and a patch above the budget is refused with the figure; so is an `add_neuron`
//! request (or a hot-reload replacement) that would take the running network above it.
//!
//! What counts, per neuron that runs on a backend (W-valued neurons are sparse and do not):
//! every input and every output port's buffer (`f32`s: 1 for a scalar, `block_len` for audio,
//! rows×cols for an image) and its private memory (a delay line, a filter's state) — the CPU
//! backend holds exactly these, the GPU backend holds the same two buffers on the device — plus a
//! `picture`'s decoded pixels and a `display`'s RGBA frame.
//!
//! The budget is `settings.memory_budget_mb` when the patch sets it, else half of the machine's
//! memory (`MemTotal` in /proc/meminfo), or half of the process's address-space limit
//! (`ulimit -v`) when that is lower; 4096 MiB where neither can be read.

use super::{NeuronDef, NeuronSpec, Op, resolve_shape};
use crate::stream::kind::Settings;

/// Budget used where the machine's memory cannot be read.
pub const FALLBACK_BUDGET_MB: u64 = 4096;

const MIB: u64 = 1 << 20;

/// Bytes of stream memory one neuron needs (see the module notes).
pub fn neuron_bytes(def: &NeuronDef, block_len: usize) -> u64 {
    if def.engine_side() {
        return 0;
    }
    let floats = |ports: &[super::Port]| -> u64 {
        ports
            .iter()
            .map(|p| p.kind.len(block_len) as u64)
            .fold(0, u64::saturating_add)
    };
    let pixels = (def.rows as u64).saturating_mul(def.cols as u64);
    let extra = match def.op() {
        // The decoded picture, kept beside the output it initialises.
        Op::Picture => pixels,
        // One RGBA8 frame: 4 bytes a pixel, one f32's worth.
        Op::Display => pixels,
        _ => 0,
    };
    floats(&def.inputs)
        .saturating_add(floats(&def.outputs))
        .saturating_add(def.params.memory.len as u64)
        .saturating_add(extra)
        .saturating_mul(4)
}

/// Bytes of stream memory a whole network needs (pictures loaded or not).
pub fn network_bytes(net: &super::Network) -> u64 {
    let bl = net.block_len();
    net.neurons
        .iter()
        .map(|n| neuron_bytes(n, bl))
        .fold(0, u64::saturating_add)
}

/// The budget in bytes for these settings, and where it comes from (for messages).
pub fn budget(settings: &Settings) -> (u64, String) {
    match settings.memory_budget_mb {
        Some(mb) => (
            mb.saturating_mul(MIB),
            "settings.memory_budget_mb".to_string(),
        ),
        None => {
            let mb = default_budget_mb();
            (
                mb.saturating_mul(MIB),
                "the default: half of this machine's memory; set settings.memory_budget_mb to change it"
                    .to_string(),
            )
        }
    }
}

/// Half of the machine's memory, or of the address-space limit when lower, in MiB.
pub fn default_budget_mb() -> u64 {
    let total = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|t| meminfo_kib(&t, "MemTotal:"))
        .map(|kib| kib / 1024);
    let limit = std::fs::read_to_string("/proc/self/limits")
        .ok()
        .and_then(|t| address_space_limit(&t))
        .map(|bytes| bytes / MIB);
    match (total, limit) {
        (Some(t), Some(l)) => t.min(l) / 2,
        (Some(t), None) => t / 2,
        (None, Some(l)) => l / 2,
        (None, None) => FALLBACK_BUDGET_MB,
    }
    .max(1)
}

/// A `KEY: N kB` line of /proc/meminfo, in KiB.
fn meminfo_kib(text: &str, key: &str) -> Option<u64> {
    text.lines()
        .find_map(|l| l.strip_prefix(key))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|n| n.parse().ok())
}

/// The soft "Max address space" limit of /proc/self/limits in bytes (None when unlimited).
fn address_space_limit(text: &str) -> Option<u64> {
    let line = text.lines().find(|l| l.starts_with("Max address space"))?;
    let soft = line
        .strip_prefix("Max address space")?
        .split_whitespace()
        .next()?;
    soft.parse().ok()
}

/// Checks the neurons' total stream memory against the budget, on their shapes only (no
/// picture is loaded). Specs that do not resolve are skipped: the full check reports them.
pub fn check(settings: &Settings, specs: &[(String, &str, NeuronSpec)]) -> Result<(), String> {
    let bl = settings.block_len();
    let mut total = 0u64;
    let mut largest: Option<(u64, &str)> = None;
    for (_, name, spec) in specs {
        let Ok(def) = resolve_shape(name, spec, settings) else {
            continue;
        };
        let b = neuron_bytes(&def, bl);
        total = total.saturating_add(b);
        if largest.is_none_or(|(l, _)| b > l) {
            largest = Some((b, name));
        }
    }
    let (limit, source) = budget(settings);
    if total <= limit {
        return Ok(());
    }
    let largest = largest
        .map(|(b, n)| format!("; the largest, {n:?}, needs {}", mib(b)))
        .unwrap_or_default();
    Err(format!(
        "the patch's streams need {} of memory ({} neurons{largest}), beyond the budget of {} ({source})",
        mib(total),
        specs.len(),
        mib(limit)
    ))
}

/// `bytes` in MiB (KiB below one MiB), one decimal.
pub fn mib(bytes: u64) -> String {
    if bytes < MIB {
        format!("{:.1} KiB", bytes as f64 / 1024.0)
    } else {
        format!("{:.1} MiB", bytes as f64 / MIB as f64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_meminfo_and_limits() {
        let mi = "MemTotal:       24576000 kB\nMemFree:  100 kB\n";
        assert_eq!(meminfo_kib(mi, "MemTotal:"), Some(24_576_000));
        assert_eq!(meminfo_kib(mi, "Nope:"), None);
        let lim = "Limit                     Soft Limit           Hard Limit           Units     \n\
                   Max address space         unlimited            unlimited            bytes     \n";
        assert_eq!(address_space_limit(lim), None);
        let lim =
            "Max address space         3221225472           unlimited            bytes     \n";
        assert_eq!(address_space_limit(lim), Some(3 << 30));
        assert!(default_budget_mb() >= 1);
    }
}
