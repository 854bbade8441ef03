//! The `apiscope` binary: parse arguments, run, map the outcome to an exit code
//! (0 ok, 1 findings at or above `--fail-on`, 2 bad usage or unreadable input).

use std::process::ExitCode;

// Exchanges carry many small owned strings (headers); mimalloc makes their churn cheap.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let code = match apiscope::cli::run_from_args() {
        Ok(code) => code,
        Err(err) => {
            if err
                .chain()
                .any(|c| c.downcast_ref::<std::io::Error>().is_some_and(|e| e.kind() == std::io::ErrorKind::BrokenPipe))
            {
                0
            } else {
                eprintln!("apiscope: {}", apiscope::model::text::visible(&format!("{err:#}")));
                2
            }
        }
    };
    ExitCode::from(code)
}
