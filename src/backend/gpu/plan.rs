//! What one tick dispatches, built from the neuron table: each neuron's kernels (its row's entry
//! point, grid, reduction pass and per-tick parameters), the down stroke (one `lincomb` dispatch
//! per kind over the plan rows uploaded to the `plan` buffer) and the read-back (`gather`, then
//! one `frame` per display).

use super::layout::Layout;
use crate::neurons::clock;
use crate::neurons::network::{DownPlan, Network, Term};
use crate::neurons::table::{Grid, Kernel, PARTIAL_ENTRY, PerTick, Variant};
use crate::stream::kind::Kind;

/// Per-dispatch parameters; the same layout as `Params` in shaders/common.wgsl.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, bytemuck::Pod, bytemuck::Zeroable)]
pub struct Params {
    pub in0: u32,
    pub in1: u32,
    pub in2: u32,
    pub in3: u32,
    pub out0: u32,
    pub out1: u32,
    pub n: u32,
    pub rows: u32,
    pub cols: u32,
    pub k: u32,
    pub neuron: u32,
    pub key: u32,
    pub tick_lo: u32,
    pub tick_hi: u32,
    pub f0: f32,
    pub f1: f32,
    /// The neuron's settings as numbers (`Params::consts` of src/neurons/mod.rs).
    pub c: [f32; 16],
}

/// Bytes of one `Params` (the uniform binding's size).
pub const PARAMS_BYTES: u64 = std::mem::size_of::<Params>() as u64;

#[derive(Clone, Debug)]
pub struct Dispatch {
    pub entry: &'static str,
    pub params: Params,
    pub groups: (u32, u32, u32),
    pub per_tick: PerTick,
    /// The neuron's name and `seed` setting (for the noise key), or what the dispatch is for.
    pub name: String,
    pub own_seed: u64,
    /// Runs on the ticks that are multiples of this (the frame clock; 1 = every tick).
    pub period: u64,
}

impl Dispatch {
    fn backend(entry: &'static str, params: Params, groups: (u32, u32, u32), name: &str) -> Self {
        Dispatch {
            entry,
            params,
            groups,
            per_tick: PerTick::None,
            name: name.to_string(),
            own_seed: 0,
            period: 1,
        }
    }

    /// Whether the dispatch runs at `tick`.
    pub fn due(&self, tick: u64) -> bool {
        clock::due(self.period, tick)
    }
}

/// Workgroups for `n` invocations of 256, spread over y when x would pass 65535.
pub fn groups_1d(n: usize) -> (u32, u32, u32) {
    let g = n.div_ceil(256).max(1) as u32;
    let x = g.min(65535);
    (x, g.div_ceil(x), 1)
}

/// Workgroups of the first reduction pass (at most 256, each a strided loop).
fn partial_groups(n: usize) -> u32 {
    n.div_ceil(256).clamp(1, 256) as u32
}

/// The workgroups of a table grid for these parameters.
pub fn groups(grid: Grid, p: &Params) -> (u32, u32, u32) {
    match grid {
        Grid::Elements => groups_1d(p.n as usize),
        Grid::Single => (1, 1, 1),
        Grid::Rows => {
            let x = p.rows.clamp(1, 65535);
            (x, p.rows.div_ceil(x).max(1), 1)
        }
        Grid::Columns { per_group } => (p.cols.div_ceil(per_group).max(1), 1, 1),
        Grid::Tiles { cols, rows } => (
            p.cols.div_ceil(cols).max(1),
            p.rows.div_ceil(rows).max(1),
            1,
        ),
    }
}

/// The parameters every kernel of neuron `n` gets (see `Gpu` in src/neurons/table.rs).
fn base_params(layout: &Layout, net: &Network, n: usize) -> Params {
    let def = &net.neurons[n];
    let len_in0 = layout.in_len[n].first().copied().unwrap_or(1);
    let rows = def.rows as u32;
    let dt = if def.kind == Kind::Audio {
        1.0 / net.settings.sample_rate as f64
    } else {
        1.0 / net.settings.tick_rate
    };
    Params {
        in0: layout.input(n, 0),
        in1: layout.input(n, 1),
        in2: layout.input(n, 2),
        in3: layout.input(n, 3),
        out0: layout.output(n, 0),
        out1: layout.output(n, 1),
        n: layout.out_len[n].first().copied().unwrap_or(1),
        rows,
        cols: def.cols as u32,
        k: len_in0 / rows.max(1),
        neuron: n as u32,
        // A type's variant bits (noise types overwrite the key every tick).
        key: def.params.mode,
        f0: 1.0 / def.params.temperature,
        f1: dt as f32,
        c: def.params.consts,
        ..Default::default()
    }
}

/// The up-stroke dispatches of neuron `n`, from its type's row. `scratch` is the next free
/// element of the reductions' scratch buffer.
pub fn up_dispatches(
    layout: &Layout,
    net: &Network,
    n: usize,
    variant: Variant,
    scratch: &mut u32,
    out: &mut Vec<Dispatch>,
) {
    let def = &net.neurons[n];
    let gpu = &def.info.gpu;
    let entry = match gpu.kernel_for(def.kind == Kind::Audio) {
        Kernel::None => return,
        Kernel::One(e) => e,
        Kernel::Variants { tiled, regs } => match variant {
            Variant::Tiled => tiled,
            Variant::Regs => regs,
        },
    };
    let mut p = base_params(layout, net, n);
    let period = clock::neuron_period(def, &net.settings);
    let dispatch = |entry, params, groups, per_tick| Dispatch {
        entry,
        params,
        groups,
        per_tick,
        name: def.name.clone(),
        own_seed: def.params.seed,
        period,
    };
    if let Some(mode) = gpu.reduce {
        let n_in = layout.in_len[n].first().copied().unwrap_or(1);
        let g = partial_groups(n_in as usize);
        let first = Params {
            n: n_in,
            key: mode as u32,
            k: *scratch,
            ..p
        };
        *scratch += 2 * 256;
        out.push(dispatch(PARTIAL_ENTRY, first, (g, 1, 1), PerTick::None));
        p = Params { rows: g, ..first };
    }
    out.push(dispatch(
        entry.name,
        p,
        groups(entry.grid, &p),
        gpu.per_tick,
    ));
}

/// The dispatches that depend on the down plan, and the words of the `plan` buffer.
#[derive(Default)]
pub struct Plan {
    /// One `lincomb` per kind.
    pub down: Vec<Dispatch>,
    /// `gather` of the scalars and audio_out blocks.
    pub tail: Vec<Dispatch>,
    /// One `frame` per display.
    pub frames: Vec<Dispatch>,
    /// Display neuron, rows, cols, offset in `io` (u32 words).
    pub frame_slots: Vec<(usize, usize, usize, u32)>,
    /// Words gathered (scalars, then audio) at the start of `io`.
    pub gather_len: u32,
    /// Words of `io` in all (gather, then frames).
    pub io_words: u32,
    pub words: Vec<u32>,
    pub version: Option<u64>,
}

/// One input port the down stroke writes: a plan row, or a zero row for an input without
/// weights (the `ins` buffer is not cleared: inputs of the frame clock hold between frame ticks).
struct Dst<'a> {
    neuron: usize,
    port: usize,
    ramp: bool,
    terms: &'a [Term],
}

/// The dispatches of one clock and kind: `(period, kind order)` and its rows.
type Group<'a> = ((u64, u8), Vec<Dst<'a>>);

impl Plan {
    pub fn new(layout: &Layout, net: &Network, plan: &DownPlan) -> Plan {
        let mut p = Plan::default();
        let groups = down_groups(layout, net, plan);
        p.push_rows(layout, &groups);
        let gather_at = p.push_gather(layout, net);
        p.down = lincomb_dispatches(layout, &groups);
        if p.gather_len > 0 {
            let params = Params {
                k: gather_at,
                n: p.gather_len,
                ..Default::default()
            };
            let g = groups_1d(p.gather_len as usize);
            p.tail
                .push(Dispatch::backend("gather", params, g, "read-back"));
        }
        p.push_frames(layout, net);
        p.version = Some(plan.version);
        p
    }

    /// The rows of every group, in order, then their terms.
    fn push_rows(&mut self, layout: &Layout, groups: &[Group]) {
        let n_rows: usize = groups.iter().map(|(_, g)| g.len()).sum();
        let words = &mut self.words;
        words.resize(4 * n_rows, 0);
        let mut terms: Vec<u32> = Vec::new();
        let mut term_count = 0u32;
        for (slot, row) in groups.iter().flat_map(|(_, g)| g).enumerate() {
            words[4 * slot] = layout.in_off[row.neuron][row.port];
            words[4 * slot + 1] = layout.in_len[row.neuron][row.port];
            words[4 * slot + 2] = term_count;
            words[4 * slot + 3] = row.terms.len() as u32 | ((row.ramp as u32) << 31);
            for t in row.terms {
                let src = layout.out_off[t.neuron][t.port];
                terms.extend_from_slice(&[src, t.w0.to_bits(), t.w1.to_bits()]);
                term_count += 1;
            }
        }
        // Terms are addressed as 3·(first + t): start them at an index divisible by 3.
        let term_base = (4 * n_rows) as u32;
        let pad = (3 - term_base % 3) % 3;
        words.resize(words.len() + pad as usize, 0);
        let first_term = (term_base + pad) / 3;
        for slot in 0..n_rows {
            words[4 * slot + 2] += first_term;
        }
        words.extend_from_slice(&terms);
    }

    /// The gather list: every scalar output, then each audio_out's left and right inputs (bit 31
    /// marks an offset into `ins`). Returns where it starts in the plan words.
    fn push_gather(&mut self, layout: &Layout, net: &Network) -> u32 {
        let at = self.words.len() as u32;
        for &(n, p) in &net.scalar_ports {
            self.words.push(layout.out_off[n][p]);
        }
        for &n in &net.audio_outs {
            for p in 0..2 {
                let (off, len) = (layout.in_off[n][p], layout.in_len[n][p]);
                self.words.extend((off..off + len).map(|i| i | 1 << 31));
            }
        }
        self.gather_len = self.words.len() as u32 - at;
        at
    }

    fn push_frames(&mut self, layout: &Layout, net: &Network) {
        let mut at = self.gather_len;
        for &n in &net.displays {
            let def = &net.neurons[n];
            let px = (def.rows * def.cols) as u32;
            let params = Params {
                in0: layout.input(n, 0),
                in1: layout.input(n, 1),
                in2: layout.input(n, 2),
                in3: layout.input(n, 3),
                out0: at,
                n: px,
                ..Default::default()
            };
            let g = groups_1d(px as usize);
            self.frames
                .push(Dispatch::backend("frame", params, g, &def.name));
            self.frame_slots.push((n, def.rows, def.cols, at));
            at += px;
        }
        self.io_words = at;
    }
}

/// x over a row's elements, 256 to a workgroup; rows over y, then z past 65535 rows (the
/// per-dimension limit), as shaders/lincomb.wgsl reads them.
pub fn lincomb_groups(max_len: u32, rows: u32) -> (u32, u32, u32) {
    let y = rows.clamp(1, MAX_GROUPS);
    (max_len.div_ceil(256).max(1), y, rows.div_ceil(y).max(1))
}

/// Workgroups per dimension every adapter allows.
pub const MAX_GROUPS: u32 = 65535;

/// Every dense input of the backend's neurons, grouped by clock and kind (scalar, audio,
/// image): the plan's rows, then a zero row for each input without one.
fn down_groups<'a>(layout: &Layout, net: &Network, plan: &'a DownPlan) -> Vec<Group<'a>> {
    let mut groups: std::collections::BTreeMap<(u64, u8), Vec<Dst<'a>>> = Default::default();
    let mut planned = vec![Vec::new(); net.neurons.len()];
    for (n, ports) in planned.iter_mut().enumerate() {
        *ports = vec![false; layout.in_off.get(n).map_or(0, Vec::len)];
    }
    let key = |n: usize, p: usize, kind: Kind| {
        let order = match kind {
            Kind::Scalar => 0,
            Kind::Audio => 1,
            _ => 2,
        };
        (
            clock::input_period(&net.neurons[n], p, &net.settings),
            order,
        )
    };
    for row in &plan.rows {
        if let Some(x) = planned
            .get_mut(row.neuron)
            .and_then(|v| v.get_mut(row.port))
        {
            *x = true;
        }
        groups
            .entry(key(row.neuron, row.port, row.kind))
            .or_default()
            .push(Dst {
                neuron: row.neuron,
                port: row.port,
                ramp: row.kind == Kind::Audio,
                terms: &row.terms,
            });
    }
    for (n, ports) in planned.iter().enumerate() {
        for (p, _) in ports.iter().enumerate().filter(|(_, done)| !**done) {
            let kind = net.neurons[n].inputs[p].kind;
            groups.entry(key(n, p, kind)).or_default().push(Dst {
                neuron: n,
                port: p,
                ramp: false,
                terms: &[],
            });
        }
    }
    groups.into_iter().collect()
}

/// One `lincomb` dispatch per group: x over its longest row, y over its rows.
fn lincomb_dispatches(layout: &Layout, groups: &[Group]) -> Vec<Dispatch> {
    let mut first = 0u32;
    let mut out = Vec::new();
    for ((period, _), rows) in groups {
        let max_len = rows
            .iter()
            .map(|r| layout.in_len[r.neuron][r.port])
            .max()
            .unwrap_or(1);
        let nr = rows.len() as u32;
        let params = Params {
            k: first,
            rows: nr,
            ..Default::default()
        };
        let g = lincomb_groups(max_len, nr);
        let mut d = Dispatch::backend("lincomb", params, g, "down stroke");
        d.period = *period;
        out.push(d);
        first += nr;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dispatch_grids_stay_within_the_per_dimension_limit() {
        for rows in [1, 2, 65535, 65536, 100_000, 1_000_000] {
            let (x, y, z) = lincomb_groups(300, rows);
            assert_eq!(x, 2);
            assert!(y <= MAX_GROUPS && z <= MAX_GROUPS, "{rows}: {y}×{z}");
            assert!(y as u64 * z as u64 >= rows as u64, "{rows} rows covered");
        }
        let p = Params {
            n: 70_000 * 256,
            rows: 100_000,
            cols: 3,
            ..Default::default()
        };
        for grid in [Grid::Elements, Grid::Rows, Grid::Single] {
            let (x, y, z) = groups(grid, &p);
            assert!(
                x <= MAX_GROUPS && y <= MAX_GROUPS && z <= MAX_GROUPS,
                "{grid:?}"
            );
        }
        assert_eq!(groups(Grid::Rows, &p), (65535, 2, 1));
        assert_eq!(groups(Grid::Tiles { cols: 64, rows: 64 }, &p), (1, 1563, 1));
    }
}
