//! Evaluating lines against the running network (Ctrl+Enter, OSC `/dmm/eval`).
