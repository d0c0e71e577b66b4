//! The command line.

use clap::{Parser, Subcommand, ValueEnum};

/// Inspect, verify and replay an exported AuroraDB log file.
///
/// Times are RFC 3339 (2026-11-29T10:00:00Z), milliseconds since the Unix epoch
/// (1795946400000), or an op id as printed by `log --json` (its `id` field).
#[derive(Debug, Parser)]
#[command(
    name = "auroradb",
    version,
    about,
    after_help = "Exit codes: 0 ok; 1 the file is damaged; 2 a usage error, or a file that cannot be read as a log file."
)]
pub struct Cli {
    /// Print JSON for scripts: one document, or one JSON object per line for `log` and `replay`.
    #[arg(long, global = true)]
    pub json: bool,
    /// The conflict strategy to materialize the state with (a log file records none).
    #[arg(long, global = true, value_enum, default_value_t = StrategyName::Timestamp)]
    pub strategy: StrategyName,
    /// Read the file as this author (a hex prefix of one of its authors): under local-wins and
    /// remote-wins, that author's ops are the local ones. Without it, every op is remote.
    #[arg(long = "as", global = true, value_name = "AUTHOR")]
    pub reader: Option<String>,
    /// Cut values in tables to this many characters.
    #[arg(long, global = true, default_value_t = 60)]
    pub width: usize,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// A conflict strategy by name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum StrategyName {
    /// Highest HLC wins.
    Timestamp,
    /// Highest `version` field wins, HLC breaks ties.
    Version,
    /// Per top-level field, highest HLC wins.
    Merge,
    /// The reader's own writes win (see --as).
    LocalWins,
    /// The latest remote write wins.
    RemoteWins,
}

impl StrategyName {
    /// The engine's name for it.
    pub fn as_str(self) -> &'static str {
        match self {
            StrategyName::Timestamp => "timestamp",
            StrategyName::Version => "version",
            StrategyName::Merge => "merge",
            StrategyName::LocalWins => "local-wins",
            StrategyName::RemoteWins => "remote-wins",
        }
    }
}

/// An op kind, for `log --kind`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum KindName {
    /// A put.
    Put,
    /// A remove.
    Remove,
    /// A clear.
    Clear,
    /// A transaction.
    Txn,
}

impl KindName {
    /// The engine's name for it.
    pub fn as_str(self) -> &'static str {
        match self {
            KindName::Put => "put",
            KindName::Remove => "remove",
            KindName::Clear => "clear",
            KindName::Txn => "txn",
        }
    }
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Check the file: its hash, every segment, op and author chain, then import it and run the
    /// engine's verify. Exit 0 when intact, 1 with what is damaged.
    Verify {
        /// The log file.
        file: String,
    },
    /// List the ops in id order, filtered.
    Log {
        /// The log file.
        file: String,
        /// Only ops that write this key (clears write every key).
        #[arg(long)]
        key: Option<String>,
        /// Only ops whose author's hex id starts with this.
        #[arg(long)]
        author: Option<String>,
        /// Only ops of this kind.
        #[arg(long, value_enum)]
        kind: Option<KindName>,
        /// Only ops at or after this time.
        #[arg(long)]
        from: Option<String>,
        /// Only ops at or before this time.
        #[arg(long)]
        to: Option<String>,
    },
    /// The state as of a time: every op at or before it applied.
    At {
        /// The log file.
        file: String,
        /// The time.
        time: String,
    },
    /// Every op on a key with its outcome (current, superseded, lost), concurrent edits marked.
    History {
        /// The log file.
        file: String,
        /// The key.
        key: String,
    },
    /// What changed between the states as of two times.
    Diff {
        /// The log file.
        file: String,
        /// The earlier time.
        from: String,
        /// The later time.
        to: String,
    },
    /// Replay the ops step by step, each with the keys it changed (before and after).
    Replay {
        /// The log file.
        file: String,
        /// Start with the first op at or after this time (default: the first op).
        #[arg(long)]
        from: Option<String>,
        /// Stop after the last op at or before this time (default: the last op).
        #[arg(long)]
        to: Option<String>,
    },
    /// Counts: ops, kinds, authors, keys, time span, size.
    Stats {
        /// The log file.
        file: String,
    },
}
