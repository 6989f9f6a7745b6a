//! Logging to a daily file under the data dir, filtered by `HEARTH_LOG`.
//! Entry text is never logged: only ids, kinds, counts and timings.

use std::path::Path;

use tracing_subscriber::EnvFilter;

/// Keeps the background writer alive; logs are flushed when it drops.
pub struct LogGuard {
    _guard: Option<tracing_appender::non_blocking::WorkerGuard>,
}

/// Lines the background writer can hold before it drops new ones.
const LOG_QUEUE_LINES: usize = 4_096;

pub fn init(log_dir: &Path, foreground: bool) -> LogGuard {
    let filter = EnvFilter::try_from_env("HEARTH_LOG").unwrap_or_else(|_| EnvFilter::new("info"));
    let appender = tracing_appender::rolling::Builder::new()
        .rotation(tracing_appender::rolling::Rotation::DAILY)
        .filename_prefix("hearth")
        .filename_suffix("log")
        .max_log_files(14)
        .build(log_dir);
    match appender {
        Ok(file) => {
            // The writer's queue is allocated whole up front: the default,
            // 128,000 lines, is 4 MB held all day. A burst beyond this many
            // lines drops lines (the default lossy mode) rather than block.
            let (writer, guard) = tracing_appender::non_blocking::NonBlockingBuilder::default()
                .buffered_lines_limit(LOG_QUEUE_LINES)
                .finish(file);
            let _ = tracing_subscriber::fmt()
                .with_env_filter(filter)
                .with_ansi(false)
                .with_writer(writer)
                .try_init();
            LogGuard {
                _guard: Some(guard),
            }
        }
        Err(e) => {
            // A log file we cannot open is not a reason to refuse to run.
            let _ = tracing_subscriber::fmt()
                .with_env_filter(filter)
                .with_ansi(foreground)
                .with_writer(std::io::stderr)
                .try_init();
            tracing::warn!(dir = %log_dir.display(), error = %e, "cannot open the log file; logging to stderr");
            LogGuard { _guard: None }
        }
    }
}
