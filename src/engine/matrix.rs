//! The engine-side neurons, whose values are W-shaped sparse maps: `self` (W itself), and
//! matrix-kind `accum`, `identity` and `gate`. Their two strokes run on the CPU in every backend.
//!
//! W stays finite and within `MAX_WEIGHT`: Self drops (and reports once) a delta entry that breaks
//! the type rule or would carry its entry out of bounds, and the other matrix neurons drop
//! NaN/Inf entries from their outputs, counted like dense NaN/Inf.
//!
//! An `image_w` (a dense image neuron) drives a block of W like Self: after its up stroke its
//! output is written into W here, so the next down stroke uses it (the Processing machines'
//! out[0], whose image *is* the network matrix).
//!
//! A `w_image` is the reverse: a dense image neuron with a matrix-kind input. Its down stroke
//! and up stroke run here (the block of its input, computed from the engine's matrix outputs
//! without a copy of W), and the engine writes the image into the backend.

use super::log::{Level, Log};
use crate::neurons::matrices::Binding;
use crate::neurons::{Network, Op, SELF, clock};
use crate::stream::kind::Kind;
use crate::stream::wmatrix::{MAX_WEIGHT, PortRef, WMatrix, weight_in_bounds};
use std::collections::{BTreeMap, HashMap};

pub(crate) enum Input {
    Matrix(WMatrix),
    Scalar(f32),
}

impl Input {
    fn matrix(self) -> WMatrix {
        match self {
            Input::Matrix(m) => m,
            Input::Scalar(_) => WMatrix::new(),
        }
    }
    fn scalar(self) -> f32 {
        match self {
            Input::Scalar(s) => s,
            Input::Matrix(_) => 0.0,
        }
    }
}

/// The engine-side down stroke's result: Self's delta input (`None` when nothing feeds it this
/// tick: W stays as it is, and nothing is allocated), and the inputs of the other matrix neurons.
/// Self's accumulator input is always W itself: `self.accum <- self.out` is fixed at 1 and no
/// other weight may target that row (`WeightError::ProtectedRow`), so it is not copied.
pub(crate) struct Inputs {
    pub self_delta: Option<WMatrix>,
    pub others: HashMap<(usize, usize), Input>,
}

/// The sum `Σ w · mout[source]` over one matrix row, or `None` when every term is empty.
fn matrix_sum(
    row: Option<&std::collections::BTreeMap<PortRef, f64>>,
    mout: &HashMap<String, WMatrix>,
) -> Option<WMatrix> {
    let row = row?;
    let live = |(src, wt): (&PortRef, &f64)| {
        mout.get(&src.neuron)
            .filter(|y| *wt != 0.0 && !y.is_empty())
            .map(|y| (y, *wt))
    };
    row.iter().filter_map(live).next()?;
    let mut m = WMatrix::new();
    for (y, wt) in row.iter().filter_map(live) {
        m.add_scaled(y, wt);
    }
    Some(m)
}

/// Down stroke of engine-side neurons: matrix inputs from matrix outputs, scalar inputs from the
/// previous tick's read-back scalars. `self_delta` is the port `self.delta` (kept by the caller
/// so that a plain tick builds no strings).
pub(crate) fn down(
    net: &Network,
    mout: &HashMap<String, WMatrix>,
    prev_scalars: &[f32],
    self_delta: &PortRef,
) -> Inputs {
    let empty = WMatrix::new();
    let w = mout.get(SELF).unwrap_or(&empty);
    let mut x = Inputs {
        self_delta: matrix_sum(w.row(self_delta), mout),
        others: HashMap::new(),
    };
    for (ni, n) in net.neurons.iter().enumerate() {
        if !n.engine_side() || matches!(n.op(), Op::SelfW | Op::Edits) {
            continue;
        }
        for (pi, port) in n.inputs.iter().enumerate() {
            let target = PortRef::new(n.name.clone(), port.name);
            let row = w.row(&target);
            let v = match port.kind {
                Kind::Matrix => Input::Matrix(matrix_sum(row, mout).unwrap_or_default()),
                _ => {
                    let mut s = 0.0f32;
                    for (src, &wt) in row.into_iter().flatten() {
                        if let Ok((sn, sp, Kind::Scalar)) = net.output_port(src)
                            && let Some(k) = net.scalar_ports.iter().position(|&q| q == (sn, sp))
                        {
                            s += wt as f32 * prev_scalars.get(k).copied().unwrap_or(0.0);
                        }
                    }
                    Input::Scalar(s)
                }
            };
            x.others.insert((ni, pi), v);
        }
    }
    x
}

/// Up stroke of the engine-side neurons other than `self` (the caller adds `Inputs::self_delta`
/// to W in place with `add_to_w`) and `edits` (which takes requests afterwards). Returns each
/// neuron's new output by neuron index; nothing (and no allocation) when there are none.
pub(crate) fn up(
    net: &Network,
    x: HashMap<(usize, usize), Input>,
    log: &mut Log,
    tick: u64,
) -> Vec<(usize, WMatrix)> {
    let mut x = x;
    let mut take = |n: usize, p: usize| x.remove(&(n, p)).unwrap_or(Input::Matrix(WMatrix::new()));
    let mut new_out = Vec::new();
    for (ni, n) in net.neurons.iter().enumerate() {
        if !n.engine_side() {
            continue;
        }
        let y = match n.op() {
            Op::SelfW | Op::Edits => continue,
            Op::Accum => {
                let mut a = take(ni, 0).matrix();
                a.add_scaled(&take(ni, 1).matrix(), 1.0);
                a
            }
            Op::Identity => take(ni, 0).matrix(),
            Op::Gate => {
                let g = take(ni, 0).scalar();
                take(ni, 1).matrix().scaled(g as f64)
            }
            other => {
                log.say_once(format!("matrix-op {}", n.name), tick, Level::Error, || {
                    format!("{}: type {other:?} cannot run on matrices", n.name)
                });
                WMatrix::new()
            }
        };
        let (y, bad) = drop_nonfinite(y);
        log.count_nonfinite(tick, &n.name, bad);
        new_out.push((ni, y));
    }
    new_out
}

/// A matrix value without its NaN/Inf entries, and how many there were.
fn drop_nonfinite(m: WMatrix) -> (WMatrix, u64) {
    let bad = m.entries().filter(|(_, _, v)| !v.is_finite()).count() as u64;
    if bad == 0 {
        return (m, 0);
    }
    let mut clean = WMatrix::new();
    for (t, s, v) in m.entries().filter(|(_, _, v)| v.is_finite()) {
        clean.add_entry(t, s, v);
    }
    (clean, bad)
}

/// The input and output ports every `image_w` names, checked against the catalogue (the type
/// rule on a weight of 1): what a patch is refused for before it runs.
pub(crate) fn check_bindings(net: &Network) -> Vec<String> {
    let mut errors = Vec::new();
    for n in &net.neurons {
        let Some(b) = &n.params.binding else { continue };
        for t in b.targets.iter().flatten() {
            for s in b.sources.iter().flatten() {
                if let Err(e) = net.check_weight(t, s, 1.0) {
                    errors.push(format!("{}: {e}", n.name));
                    return errors;
                }
            }
        }
    }
    errors
}

/// The W entries one `image_w` output writes: each (target, source) with the sum of the cells
/// naming it.
fn binding_entries(b: &Binding, img: &[f32]) -> BTreeMap<(PortRef, PortRef), f64> {
    let mut m: BTreeMap<(PortRef, PortRef), f64> = BTreeMap::new();
    for (t, s, v) in b.cells(img) {
        *m.entry((t.clone(), s.clone())).or_default() += v as f64;
    }
    m
}

/// Writes an `image_w` output into its block of W: sets the entries (`write` "values") or adds
/// to them ("deltas"), skipping (and reporting once) what breaks the type rule or the bound, as
/// Self does. Returns whether W changed.
pub(crate) fn write_binding(
    w: &mut WMatrix,
    neuron: &str,
    b: &Binding,
    img: &[f32],
    check: &Network,
    log: &mut Log,
    tick: u64,
) -> bool {
    let mut changed = false;
    for ((t, s), v) in binding_entries(b, img) {
        let now = w.get(&t, &s);
        let after = if b.deltas { now + v } else { v };
        if after == now {
            continue;
        }
        let why = match check.check_weight(&t, &s, after) {
            Err(e) => Some(e.to_string()),
            Ok(()) => (!weight_in_bounds(after)).then(|| {
                format!(
                    "the entry would become {after:e}; weights are bounded by |w| <= {MAX_WEIGHT:e}"
                )
            }),
        };
        match why {
            None => {
                w.set_entry(&t, &s, after);
                changed = true;
            }
            Some(why) => log.say_once(format!("{neuron}:{t}<-{s}"), tick, Level::Error, || {
                format!("{neuron}: W entry {t} <- {s} not written: {why}")
            }),
        }
    }
    changed
}

/// `w += delta`, skipping (and reporting once per entry) what breaks the type rule or would
/// leave the entry non-finite or beyond `MAX_WEIGHT`: a self-modifying patch cannot make W
/// ill-typed or infinite.
/// Returns whether W changed.
pub(crate) fn add_to_w(
    w: &mut WMatrix,
    delta: &WMatrix,
    check: &Network,
    log: &mut Log,
    tick: u64,
) -> bool {
    let mut changed = false;
    for (t, s, v) in delta.entries() {
        let now = w.get(t, s);
        let after = now + v;
        let why = match check.check_weight(t, s, v) {
            Err(e) => Some(e.to_string()),
            // An edit checked against the bound may land an ulp beyond it: that is rounding.
            Ok(()) if after.abs() > MAX_WEIGHT && after.abs() <= MAX_WEIGHT * (1.0 + 1e-12) => {
                // Set, not added: `now + (bound - now)` can round beyond the bound again.
                w.set_entry(t, s, MAX_WEIGHT.copysign(after));
                changed = true;
                continue;
            }
            Ok(()) => (!weight_in_bounds(after)).then(|| {
                format!(
                    "the entry would become {after:e}; weights are bounded by |w| <= {MAX_WEIGHT:e}"
                )
            }),
        };
        match why {
            None => {
                w.add_entry(t, s, v);
                changed |= v != 0.0;
            }
            Some(why) => log.say_once(format!("{t}<-{s}"), tick, Level::Error, || {
                format!("self: delta entry {t} <- {s} rejected: {why}")
            }),
        }
    }
    changed
}

/// One `w_image` of the catalogue: its ports, resolved once per catalogue, and the image it
/// fills in place every frame (no allocation per tick).
pub(crate) struct ViewSlot {
    pub neuron: usize,
    /// `NAME.m`, the row of W that feeds it.
    input: PortRef,
    rows: Vec<Option<PortRef>>,
    cols: Vec<Option<PortRef>>,
    /// Ticks between its up strokes (the frame clock).
    pub period: u64,
    pub img: Vec<f32>,
}

/// Every `w_image` of `net`.
pub(crate) fn view_slots(net: &Network) -> Vec<ViewSlot> {
    net.neurons
        .iter()
        .enumerate()
        .filter_map(|(i, n)| {
            let v = n.params.view.as_ref()?;
            let (rows, cols) = v.ports(net, n.rows, n.cols);
            Some(ViewSlot {
                neuron: i,
                input: PortRef::new(n.name.clone(), n.inputs.first()?.name),
                rows,
                cols,
                period: clock::neuron_period(n, &net.settings),
                img: vec![0.0; n.rows * n.cols],
            })
        })
        .collect()
}

/// A `w_image`'s two strokes: its input is `Σ w · mout[source]` over its row of W (the matrix
/// outputs of the last tick: from `self`, the W this tick's down stroke used), and its image the
/// block `input[rows[i]][cols[j]]`. NaN/Inf (a huge weight times a huge entry) become 0;
/// returns how many.
pub(crate) fn fill_view(v: &mut ViewSlot, mout: &HashMap<String, WMatrix>) -> u64 {
    v.img.fill(0.0);
    let Some(w) = mout.get(SELF) else { return 0 };
    let Some(row) = w.row(&v.input) else { return 0 };
    let cols = v.cols.len();
    for (src, &wt) in row {
        let Some(m) = mout.get(&src.neuron).filter(|m| wt != 0.0 && !m.is_empty()) else {
            continue;
        };
        for (i, t) in v.rows.iter().enumerate() {
            let Some(t) = t else { continue };
            if m.row(t).is_none() {
                continue;
            }
            for (j, s) in v.cols.iter().enumerate() {
                if let Some(s) = s
                    && let Some(px) = v.img.get_mut(i * cols + j)
                {
                    *px += (wt * m.get(t, s)) as f32;
                }
            }
        }
    }
    let mut bad = 0;
    for px in v.img.iter_mut().filter(|x| !x.is_finite()) {
        *px = 0.0;
        bad += 1;
    }
    bad
}
