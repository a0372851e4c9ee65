//! The code pane: the patch's text over the picture, evaluated line by line through Self.

pub mod complete;
pub mod region;
pub mod script;
pub mod sync;
