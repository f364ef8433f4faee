//! slog set-up: a terminal format for people, JSON for machines, chosen by a flag or by whether
//! stderr is a terminal. Logs go to stderr so stdout stays the command's output.

use std::io::IsTerminal;

use slog::Drain;

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    Auto,
    Terminal,
    Json,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, clap::ValueEnum)]
pub enum LogLevel {
    Error,
    Warning,
    Info,
    Debug,
}

impl LogLevel {
    /// The same level for records of dependencies that log through the `log` facade.
    pub fn log(self) -> log::Level {
        match self {
            LogLevel::Error => log::Level::Error,
            LogLevel::Warning => log::Level::Warn,
            LogLevel::Info => log::Level::Info,
            LogLevel::Debug => log::Level::Debug,
        }
    }

    fn slog(self) -> slog::Level {
        match self {
            LogLevel::Error => slog::Level::Error,
            LogLevel::Warning => slog::Level::Warning,
            LogLevel::Info => slog::Level::Info,
            LogLevel::Debug => slog::Level::Debug,
        }
    }
}

/// Builds the root logger; keep the guard alive until exit so the last lines are flushed.
pub fn init(format: LogFormat, level: LogLevel) -> (slog::Logger, slog_async::AsyncGuard) {
    let terminal = match format {
        LogFormat::Auto => std::io::stderr().is_terminal(),
        LogFormat::Terminal => true,
        LogFormat::Json => false,
    };
    let drain: Box<dyn Drain<Ok = (), Err = slog::Never> + Send> = if terminal {
        let decorator = slog_term::TermDecorator::new().stderr().build();
        Box::new(slog_term::FullFormat::new(decorator).build().fuse())
    } else {
        Box::new(
            // stderr is unbuffered and the JSON drain writes each key and value apart: one
            // write(2) per line instead of dozens.
            slog_json::Json::new(std::io::LineWriter::new(std::io::stderr()))
                .add_default_keys()
                .build()
                .fuse(),
        )
    };
    let drain = slog::LevelFilter::new(drain, level.slog()).fuse();
    let (drain, guard) = slog_async::Async::new(drain)
        .chan_size(4096)
        .overflow_strategy(slog_async::OverflowStrategy::Block)
        .build_with_guard();
    let log = slog::Logger::root(drain.fuse(), slog::o!("service" => "rovim"));
    (log, guard)
}

/// Routes `log` records of dependencies (actix-web, reqwest, diesel…) into `log`, with a
/// `source` field. Keep the guard alive as long as the logger.
pub fn bridge(log: &slog::Logger, level: LogLevel) -> slog_scope::GlobalLoggerGuard {
    let guard = slog_scope::set_global_logger(log.new(slog::o!("source" => "dependency")));
    // Fails only if a `log` logger was installed already: then records go there, not lost.
    let _ = slog_stdlog::init_with_level(level.log());
    guard
}
