//! # AuroraDB in the browser
//!
//! The browser half of AuroraDB: the engine (`auroradb`) over IndexedDB, and the JavaScript API.
//! This is the only crate with `wasm-bindgen`, `js-sys` and `web-sys` code; it is built for
//! `wasm32-unknown-unknown` into `pkg/` by `scripts/build-web.sh`.
//!
//! [`AuroraCore`] is the engine as JavaScript calls it; the `AuroraDB` class users see is written
//! in JavaScript (`web/js/auroradb.js`) around it, so that it exists before the wasm module has
//! loaded, can be subclassed, and is an `EventTarget`. The bindings only translate: the
//! transaction model, input validation and error names are the engine's.
//!
//! ## Modules
//!
//! - [`value`]: JavaScript values to stored values and back, and what is refused.
//! - [`idb`]: the IndexedDB storage backend.
//! - [`error`]: errors as `Error` objects, named from the engine's one table
//!   ([`auroradb::ErrorName`]).
//! - `config`: the configuration object.
//! - `records`: ops, history, diffs, reports and change lists as JavaScript objects.
//! - `events`: the events dispatched at the `AuroraDB` object.
//! - `reads`: what live reads and time-travel reads share (slice bounds, callbacks).
//! - `view`: [`PastView`], the read-only view `at(time)` returns (`Snapshot` in JavaScript).
//! - `open_database`: the state of one open database that the core, its transactions, its
//!   callbacks and its sync share; it knows the sync only through a trait (`AttachedSync`).
//! - [`transport`] and `sync`: peer-to-peer sync over the JavaScript P2P adapters (feature
//!   `sync`, on by default; without it, the local-only engine, `no_sync` stands in for them and
//!   `AuroraCore` has no peer-to-peer methods).
//! - `txn`: [`TxnHandle`], what a `transaction()` callback writes through.
//! - `database`: [`AuroraCore`], all of its methods (`database/{write,read,travel,p2p}.rs`).
//!
//! ## Module graph
//!
//! Each module uses only modules on lower rows (and, on the bottom row, those its arrows point
//! to): there is no cycle, and the storage backend (`idb`) uses no binding, only `value`.
//!
//! ```text
//! database
//! txn
//! sync                 view
//! open_database        transport        reads
//! events -> records -> value <- idb,  config -> value,  error
//! ```
//!
//! In full (`a -> b`: `a` uses `b`):
//!
//! - `value`, `error`: the engine only
//! - `records` -> `value`; `config` -> `value`; `reads` -> `value`; `idb` -> `value`
//! - `events` -> `records`
//! - `view` -> `reads`, `records`, `value`, `error`
//! - `open_database` -> `events`, `records`, `value`, `config`, `idb`, `error`
//! - `transport`: the engine only
//! - `sync` -> `open_database`, `events`, `transport`, `records`, `idb`, `error`
//! - `txn` -> `open_database`, `sync`, `events`, `value`, `error`
//! - `database` -> `txn`, `sync`, `open_database`, `view`, `reads`, `events`, `records`, `config`,
//!   `value`, `idb`, `error`

// The local-only build leaves the sync out, and with it the only users of a few fields and
// helpers the shared modules keep for it (the log handle, the sync options, `attach`...).
#![cfg_attr(not(feature = "sync"), allow(dead_code))]

mod config;
mod database;
pub mod error;
mod events;
pub mod idb;
#[cfg(not(feature = "sync"))]
mod no_sync;
mod open_database;
mod promise;
mod reads;
mod records;
#[cfg(feature = "sync")]
mod sync;
#[cfg(feature = "sync")]
pub mod transport;
mod txn;
pub mod value;
mod view;

pub use self::config::{JsConfig, SyncOptions, js_clock, parse as parse_config};
pub use self::database::{AuroraCore, delete_database};
pub use self::idb::{Durability, IdbStorage, index_key_path};
pub use self::txn::TxnHandle;
pub use self::view::PastView;

/// The peer-to-peer sync an open database can have attached.
#[cfg(feature = "sync")]
type Hub = sync::SyncHub;
/// The local-only build has no sync: no hub can be attached.
#[cfg(not(feature = "sync"))]
type Hub = no_sync::NoSync;

/// The allocator of the `.wasm`: talc instead of the standard library's dlmalloc, about 2.4 KB
/// gzipped smaller. Native builds keep the system's.
#[cfg(all(not(target_feature = "atomics"), target_family = "wasm"))]
#[global_allocator]
static TALC: talc::wasm::WasmDynamicTalc = talc::wasm::new_wasm_dynamic_allocator();

#[cfg(test)]
wasm_bindgen_test::wasm_bindgen_test_configure!(run_in_browser);
