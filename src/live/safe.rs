//! Safe start: a patch that does not load at launch does not stop the instrument. It starts
//! silent on an empty program (default settings, no neurons), keeps the path and watches the
//! file, so the next good save, reload or evaluation plays (through Self, or by a restart when
//! the file's settings differ). Until then saving is refused: it would write the empty program
//! over the performer's file.

use super::record::RecordOptions;
use super::{Live, LiveError, LiveOptions, load};
use crate::backend::Backend;
use crate::neurons::AssetDirs;
use crate::patch::Patch;
use std::path::Path;

/// The program that runs before any patch has loaded: Self and the edits neuron only.
const EMPTY: &str = r#"{"neurons": {}, "weights": {}}"#;

impl Live {
    /// Opens `path`; when the file does not load, starts on the empty program instead and
    /// returns its errors beside the instrument.
    pub fn open_safe(
        path: &Path,
        backend: Box<dyn Backend>,
        opts: LiveOptions,
        record: Option<RecordOptions>,
    ) -> Result<(Live, Option<LiveError>), LiveError> {
        match load(path) {
            Ok((text, patch)) => Ok((Live::start(path, text, patch, backend, opts, record)?, None)),
            Err(e) => {
                let empty = Patch::parse(
                    EMPTY,
                    &path.display().to_string(),
                    &AssetDirs::for_patch(path),
                )?;
                // An empty `last_text`: any text the file gets next is a change to load.
                let mut live = Live::start(path, String::new(), empty, backend, opts, record)?;
                live.no_program = true;
                Ok((live, Some(e)))
            }
        }
    }

    /// Whether the instrument is waiting for a first program that loads (see `open_safe`).
    pub fn no_program(&self) -> bool {
        self.no_program
    }
}
