//! The parts of a machine: its program (catalogue, engine-side outputs, down-stroke plan) and
//! the backend that runs the dense neurons.

use super::machine::Fallback;
use crate::backend::Backend;
use crate::neurons::network::{DownPlan, Network, SELF};
use crate::stream::wmatrix::{PortRef, WMatrix};
use std::collections::HashMap;
use std::sync::Arc;

/// What the machine runs: the catalogue, the outputs of the engine-side neurons (W among them)
/// and the down-stroke plan built from W.
pub(super) struct Program {
    pub(super) net: Arc<Network>,
    /// Outputs of engine-side (matrix) neurons, by name. `self`'s is W.
    pub(super) mout: HashMap<String, WMatrix>,
    pub(super) plan: PlanCache,
    /// The port `self.delta`, kept so that a plain tick builds no strings.
    pub(super) self_delta: PortRef,
}

impl Program {
    /// A program on `net` with engine-side outputs `mout`; its plan is built at the first tick.
    pub(super) fn new(net: Network, mout: HashMap<String, WMatrix>) -> Self {
        Program {
            net: Arc::new(net),
            mout,
            plan: PlanCache {
                dirty: true,
                ..Default::default()
            },
            self_delta: PortRef::new(SELF, "delta"),
        }
    }
}

/// The backend the dense neurons run on, and how to make the one to go on with when it fails.
pub(super) struct Device {
    pub(super) backend: Box<dyn Backend>,
    pub(super) fallback: Fallback,
}

/// The down-stroke plan, rebuilt when W changed or audio weights were ramping.
#[derive(Default)]
pub(super) struct PlanCache {
    pub(super) plan: DownPlan,
    /// The W the plan was built from (audio weights ramp from it to the next W).
    w: WMatrix,
    pub(super) dirty: bool,
}

impl PlanCache {
    pub(super) fn refresh(&mut self, net: &Network, w: &WMatrix) {
        if !self.dirty {
            return;
        }
        let version = self.plan.version + 1;
        self.plan = DownPlan::build(net, w, &self.w, version);
        self.w = w.clone();
        self.dirty = self
            .plan
            .rows
            .iter()
            .any(|r| r.terms.iter().any(|t| t.w0 != t.w1));
    }
}
