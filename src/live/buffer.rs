//! The code editor's whole-buffer evaluation (Ctrl+Shift+Enter) and its hot reload: a patch
//! parsed from the buffer becomes the running network the way a changed file does, as a diff
//! through Self (or an engine restart when the settings differ).

use super::{Live, LiveError};
use crate::patch::Patch;

impl Live {
    /// Makes the running network `p` (the editor's buffer, parsed and checked): its difference
    /// from what runs goes through Self as one batch, weight changes spread over the morph time,
    /// every neuron that stays keeps its state. An error changes nothing.
    pub fn apply_patch(&mut self, p: &Patch) -> Result<(), LiveError> {
        let mut ev = Vec::new();
        let r = self.apply(p, "evaluate the whole buffer", &mut ev);
        self.queued.extend(ev);
        r
    }
}
