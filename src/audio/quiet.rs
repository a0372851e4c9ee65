//! Keeps alsa-lib from printing to stderr. On a machine without a sound card, merely looking for
//! the default device makes alsa-lib print eight `ALSA lib …` lines that say nothing a performer
//! can act on; the null sink's own note says what it means instead ("no audio device …").
//!
//! alsa-lib lets a thread install a local error handler (`snd_lib_error_set_local`); while one
//! is installed, nothing is printed. `Quiet` installs ours for the scope of a device probe and
//! counts what it swallowed.

use std::sync::atomic::{AtomicU32, Ordering};

static SWALLOWED: AtomicU32 = AtomicU32::new(0);

/// While alive, alsa-lib errors on this thread are counted, not printed.
pub struct Quiet {
    #[cfg(target_os = "linux")]
    previous: alsa_sys::snd_local_error_handler_t,
    start: u32,
}

#[cfg(target_os = "linux")]
unsafe extern "C" fn swallow(
    _file: *const std::ffi::c_char,
    _line: std::ffi::c_int,
    _func: *const std::ffi::c_char,
    _err: std::ffi::c_int,
    _fmt: *const std::ffi::c_char,
    _args: *mut alsa_sys::__va_list_tag,
) {
    SWALLOWED.fetch_add(1, Ordering::Relaxed);
}

impl Quiet {
    pub fn new() -> Quiet {
        let start = SWALLOWED.load(Ordering::Relaxed);
        #[cfg(target_os = "linux")]
        {
            // SAFETY: sets a thread-local function pointer in alsa-lib; `swallow` has the
            // handler's exact signature and touches nothing but an atomic.
            let previous = unsafe { alsa_sys::snd_lib_error_set_local(Some(swallow)) };
            Quiet { previous, start }
        }
        #[cfg(not(target_os = "linux"))]
        Quiet { start }
    }

    /// alsa-lib messages swallowed since this `Quiet` began (on any quiet thread).
    pub fn swallowed(&self) -> u32 {
        SWALLOWED.load(Ordering::Relaxed).wrapping_sub(self.start)
    }
}

impl Default for Quiet {
    fn default() -> Self {
        Quiet::new()
    }
}

impl Drop for Quiet {
    fn drop(&mut self) {
        #[cfg(target_os = "linux")]
        // SAFETY: puts back the handler that was there before (None: alsa-lib's default).
        unsafe {
            alsa_sys::snd_lib_error_set_local(self.previous);
        }
    }
}
