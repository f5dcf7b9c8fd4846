//! Signals of hindsight's own process: SIGXFSZ ignored while it writes a
//! recording (so a file size limit makes the write fail, and the recorder
//! stops recording, instead of killing hindsight and, with it, a launched
//! program), the disposition the program inherits left as hindsight got
//! it, and hindsight's end by the signal that ended the program.

use std::sync::atomic::{AtomicBool, Ordering};

use nix::sys::signal::{self, SigHandler, SigSet, SigmaskHow, Signal};

/// Whether SIGXFSZ was ignored when hindsight first ignored it: what a
/// launched program must inherit (hindsight's own choice is not its).
static XFSZ_WAS_IGNORED: AtomicBool = AtomicBool::new(false);
/// Whether [`ignore_file_size_signal`] has run.
static XFSZ_IGNORED: AtomicBool = AtomicBool::new(false);

/// Ignore SIGXFSZ in this process: a write past `RLIMIT_FSIZE` then fails
/// with EFBIG, which the recording writer reports, rather than ending
/// hindsight. Launched programs get the disposition back
/// ([`restore_file_size_signal_in_child`]).
pub fn ignore_file_size_signal() {
    if XFSZ_IGNORED.swap(true, Ordering::SeqCst) {
        return;
    }
    // SAFETY: SIG_IGN is a constant disposition with no handler code.
    if let Ok(old) = unsafe { signal::signal(Signal::SIGXFSZ, SigHandler::SigIgn) } {
        XFSZ_WAS_IGNORED.store(old == SigHandler::SigIgn, Ordering::SeqCst);
    }
}

/// In a child between fork and exec: give SIGXFSZ back the disposition
/// hindsight started with (an ignored signal stays ignored across exec).
/// Async-signal-safe: two atomic loads and one system call.
pub fn restore_file_size_signal_in_child() {
    if XFSZ_IGNORED.load(Ordering::Relaxed) && !XFSZ_WAS_IGNORED.load(Ordering::Relaxed) {
        // SAFETY: SIG_DFL is a constant disposition with no handler code;
        // sigaction is async-signal-safe.
        let _ = unsafe { signal::signal(Signal::SIGXFSZ, SigHandler::SigDfl) };
    }
}

/// End this process by signal `sig`, as the recorded program ended, so its
/// parent sees the same wait status (WIFSIGNALED, WTERMSIG): the default
/// disposition is restored, the signal unblocked and raised. Hindsight is
/// first made not dumpable, so a core-dumping signal (SIGSEGV, SIGABRT)
/// leaves no core of hindsight's own to be mistaken for the program's (the
/// program's core is the kernel's to write, as without hindsight).
/// Returns only when `sig` does not end a process by default (or cannot
/// be raised); the caller then exits with 128 + `sig`.
pub fn die_by_signal(sig: i32) {
    let Ok(s) = Signal::try_from(sig) else {
        return;
    };
    let _ = nix::sys::prctl::set_dumpable(false);
    if s == Signal::SIGKILL {
        // Neither caught, ignored nor blocked: it ends the process as it is.
        let _ = signal::raise(s);
        return;
    }
    // SAFETY: SIG_DFL is a constant disposition with no handler code.
    if unsafe { signal::signal(s, SigHandler::SigDfl) }.is_err() {
        return;
    }
    let mut set = SigSet::empty();
    set.add(s);
    let _ = signal::pthread_sigmask(SigmaskHow::SIG_UNBLOCK, Some(&set), None);
    let _ = signal::raise(s);
}
