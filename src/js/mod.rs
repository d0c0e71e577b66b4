//! The JavaScript API: the only `wasm-bindgen` code of the crate.
//!
//! [`AuroraCore`] is the engine as JavaScript calls it; the `AuroraDB` class users see is written
//! in JavaScript (`src/js/auroradb.js`) around it, so that it exists before the wasm module has
//! loaded, can be subclassed, and is an `EventTarget`. The build (`scripts/build-web.sh`) puts
//! both in `pkg/`.
//!
//! - [`value`]: JavaScript values to stored values and back, and what is refused.
//! - [`config`]: the configuration object.
//! - [`records`]: ops, history, diffs and reports as JavaScript objects.
//! - [`error`]: errors as `Error` objects with stable names.
//! - `sync` and [`transport`]: peer-to-peer sync over the JavaScript P2P adapters.

mod config;
mod database;
pub mod error;
mod inner;
mod records;
mod sync;
pub mod transport;
mod txn;
pub mod value;
mod view;

pub use self::config::{JsConfig, SyncOptions, js_clock, parse as parse_config};
pub use self::database::{AuroraCore, delete_database};
pub use self::txn::TxnHandle;
pub use self::view::Snapshot;

#[cfg(test)]
wasm_bindgen_test::wasm_bindgen_test_configure!(run_in_browser);
