//! # AuroraDB in the browser
//!
//! The browser half of AuroraDB: the engine (`auroradb`) over IndexedDB, and the JavaScript API.
//! This is the only crate with `wasm-bindgen`, `js-sys` and `web-sys` code; it is built for
//! `wasm32-unknown-unknown` into `pkg/` by `scripts/build-web.sh`.
//!
//! [`AuroraCore`] is the engine as JavaScript calls it; the `AuroraDB` class users see is written
//! in JavaScript (`web/js/auroradb.js`) around it, so that it exists before the wasm module has
//! loaded, can be subclassed, and is an `EventTarget`.
//!
//! - [`idb`]: the IndexedDB storage backend.
//! - [`value`]: JavaScript values to stored values and back, and what is refused.
//! - `config`: the configuration object.
//! - `records`: ops, history, diffs and reports as JavaScript objects.
//! - [`error`]: errors as `Error` objects with stable names.
//! - `sync` and [`transport`]: peer-to-peer sync over the JavaScript P2P adapters.

mod config;
mod database;
pub mod error;
pub mod idb;
mod inner;
mod records;
mod sync;
pub mod transport;
mod txn;
pub mod value;
mod view;

pub use self::config::{JsConfig, SyncOptions, js_clock, parse as parse_config};
pub use self::database::{AuroraCore, delete_database};
pub use self::idb::{IdbStorage, index_key_path};
pub use self::txn::TxnHandle;
pub use self::view::Snapshot;

#[cfg(test)]
wasm_bindgen_test::wasm_bindgen_test_configure!(run_in_browser);
