//! Ctrl-C during a headless run: the first one asks the run to stop after the batch in
//! hand (so that `--save` still gets the model so far), a second one ends the process
//! at once, as Ctrl-C usually does.

use std::sync::atomic::{AtomicBool, Ordering};

static ASKED: AtomicBool = AtomicBool::new(false);

/// Catches SIGINT from now on (Linux; elsewhere Ctrl-C ends the process as before).
pub fn catch() {
    #[cfg(target_os = "linux")]
    // SAFETY: `on_sigint` only touches an atomic and calls `_exit`, both
    // async-signal-safe; the sigaction struct is zeroed, then filled, before use.
    unsafe {
        let mut action: libc::sigaction = std::mem::zeroed();
        action.sa_sigaction = on_sigint as *const () as libc::sighandler_t;
        // System calls under way go on instead of failing with EINTR.
        action.sa_flags = libc::SA_RESTART;
        libc::sigemptyset(&mut action.sa_mask);
        libc::sigaction(libc::SIGINT, &action, std::ptr::null_mut());
    }
}

#[cfg(target_os = "linux")]
extern "C" fn on_sigint(_: libc::c_int) {
    if ASKED.swap(true, Ordering::SeqCst) {
        // SAFETY: `_exit` is async-signal-safe; 130 is the shell's code for SIGINT.
        unsafe { libc::_exit(130) };
    }
}

/// Set by the first Ctrl-C after `catch`.
pub fn flag() -> &'static AtomicBool {
    &ASKED
}

/// Whether Ctrl-C has been pressed since `catch`.
pub fn asked() -> bool {
    ASKED.load(Ordering::Relaxed)
}
