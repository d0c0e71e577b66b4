//! # auroradb-cli
//!
//! The `auroradb` command: inspect, verify and replay a log file exported by AuroraDB
//! (`Database::export_log`, `exportLog()` in JavaScript). The file is read op by op
//! ([`file`]), so that `verify` can say what is damaged, and is then imported into a
//! [`auroradb::Database`] over [`auroradb::MemoryStorage`]; every answer comes from the engine's
//! own `state_at`, `history`, `diff`, `replay` and `verify`.
//!
//! Exit codes: 0 ok; 1 the file is damaged (or `verify` found damage); 2 a usage error, or a
//! file that cannot be read as a log file at all (missing, another format, another version,
//! truncated). Errors are one line on stderr: `auroradb: <file>: <reason>`.
//!
//! ```
//! let mut out = Vec::new();
//! let mut err = Vec::new();
//! let code = auroradb_cli::run(["auroradb", "verify", "/no/such/file"], &mut out, &mut err);
//! assert_eq!(code, 2);
//! assert!(String::from_utf8(err).unwrap().starts_with("auroradb: /no/such/file: "));
//! ```

pub mod args;
mod commands;
pub mod file;
mod load;
pub mod render;
mod travel;
pub mod when;

use std::ffi::OsString;
use std::io::Write;

pub use args::{Cli, Command};
pub use load::{Loaded, open};

/// Why a command failed, and with which exit code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CliError {
    /// Bad arguments (exit 2).
    Usage(String),
    /// The file cannot be read as a log file (exit 2).
    Unreadable {
        /// The file as named.
        file: String,
        /// Why.
        reason: String,
    },
    /// The file is a log file, but damaged (exit 1).
    Damaged {
        /// The file as named.
        file: String,
        /// What is damaged.
        reason: String,
    },
    /// Writing the output failed (exit 2; a closed pipe exits 0 quietly).
    Output(std::io::ErrorKind),
}

impl CliError {
    /// The process exit code for this error.
    pub fn exit_code(&self) -> i32 {
        match self {
            CliError::Damaged { .. } => 1,
            CliError::Output(std::io::ErrorKind::BrokenPipe) => 0,
            _ => 2,
        }
    }
}

impl core::fmt::Display for CliError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            CliError::Usage(reason) => f.write_str(reason),
            CliError::Unreadable { file, reason } => write!(f, "{file}: {reason}"),
            CliError::Damaged { file, reason } => write!(f, "{file}: damaged: {reason}"),
            CliError::Output(kind) => write!(f, "cannot write the output: {kind}"),
        }
    }
}

impl std::error::Error for CliError {}

impl From<std::io::Error> for CliError {
    fn from(e: std::io::Error) -> Self {
        CliError::Output(e.kind())
    }
}

/// Runs the command line `args` (program name first), writing the output to `out` and errors and
/// help to `err`; returns the exit code. Never panics on any file.
pub fn run<I, T>(args: I, out: &mut dyn Write, err: &mut dyn Write) -> i32
where
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
{
    use clap::Parser;
    let cli = match Cli::try_parse_from(args) {
        Ok(cli) => cli,
        Err(e) => {
            let text = e.render().to_string();
            let code = e.exit_code();
            let sink: &mut dyn Write = if code == 0 { out } else { err };
            let _ = sink.write_all(text.as_bytes());
            return code;
        }
    };
    match commands::run(&cli, out) {
        Ok(code) => code,
        Err(e) => {
            if !matches!(e, CliError::Output(std::io::ErrorKind::BrokenPipe)) {
                let _ = writeln!(err, "auroradb: {e}");
            }
            e.exit_code()
        }
    }
}
