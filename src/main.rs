//! The `apiscope` binary: set up the allocator (mimalloc, returning freed memory at once),
//! parse arguments, run, map the outcome to an exit code (0 ok, 1 findings at or above
//! `--fail-on`, 2 bad usage or unreadable input).

use std::process::ExitCode;

// Exchanges carry many small owned strings (headers); mimalloc makes their churn cheap.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// mimalloc's `mi_option_purge_delay` (its position in `mi_option_e`, mimalloc.h v3; the
/// Rust bindings do not name it).
const MI_OPTION_PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;
/// Its default in mimalloc v3, in milliseconds.
const MI_DEFAULT_PURGE_DELAY: std::ffi::c_long = 1000;

/// Give memory that mimalloc no longer uses back to the OS at once instead of after its
/// default delay of a second: `stats` frees the reader's exchanges as fast as it makes them,
/// and with the delay the freed pages stayed resident (tens of MiB of peak RSS on a 1 GB
/// capture, for no measurable CPU). `diff` keeps the default: its workers free each batch's
/// bodies and reuse the pages for the next batch at once, so purging them only added
/// `madvise` calls and page faults (about 5% of its samples in a profile on a 20,000-entry HAR) for no
/// lower peak. Only a default value is changed, so an explicit `MIMALLOC_PURGE_DELAY` wins,
/// and an option 15 that means something else (another mimalloc) is left alone.
#[allow(unsafe_code)]
fn tune_allocator() {
    if std::env::args_os().nth(1).is_some_and(|c| c == "diff") {
        return;
    }
    // SAFETY: `mi_option_get` / `mi_option_set` read and store an option's value (mimalloc
    // reads it whenever it decides to purge); they have no preconditions and may be called
    // at any time.
    unsafe {
        if libmimalloc_sys::mi_option_get(MI_OPTION_PURGE_DELAY) == MI_DEFAULT_PURGE_DELAY {
            libmimalloc_sys::mi_option_set(MI_OPTION_PURGE_DELAY, 0);
        }
    }
}

/// True when `e` is a closed output pipe (`apiscope flows … | head`), directly or inside a
/// JSON writer's error: not a failure, the reader of the output has what it wanted.
fn is_broken_pipe(e: &(dyn std::error::Error + 'static)) -> bool {
    let pipe = std::io::ErrorKind::BrokenPipe;
    e.downcast_ref::<std::io::Error>().is_some_and(|e| e.kind() == pipe)
        || e.downcast_ref::<serde_json::Error>().is_some_and(|e| e.io_error_kind() == Some(pipe))
}

/// The error and its causes on one line, `a: b: c`, leaving out a cause whose text the line
/// already holds (library errors often name their cause in their own message).
fn error_text(err: &anyhow::Error) -> String {
    let mut out = String::new();
    for cause in err.chain() {
        let text = cause.to_string();
        if out.contains(&text) {
            continue;
        }
        if !out.is_empty() {
            out.push_str(": ");
        }
        out.push_str(&text);
    }
    out
}

fn main() -> ExitCode {
    tune_allocator();
    let code = match apiscope::cli::run_from_args() {
        Ok(code) => code,
        Err(err) => {
            if err.chain().any(is_broken_pipe) {
                0
            } else {
                eprintln!("apiscope: {}", apiscope::model::text::visible(&error_text(&err)));
                2
            }
        }
    };
    ExitCode::from(code)
}
