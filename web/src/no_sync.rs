//! The local-only build (without the `sync` feature): [`NoSync`] stands in for the peer-to-peer
//! sync an open database could have attached. It has no value, so no sync is ever attached and
//! the code that asks for one (`hub()`) always finds none.

use auroradb_log::EncodedOp;

use crate::open_database::AttachedSync;

/// No peer-to-peer sync: a type without values.
pub enum NoSync {}

impl AttachedSync for NoSync {
    fn post_local(&self, _ops: &[EncodedOp]) {
        match *self {}
    }

    fn close(&self) {
        match *self {}
    }
}

impl NoSync {
    /// Number of connected peers (never called: there is no value).
    pub fn connections(&self) -> usize {
        match *self {}
    }

    /// This peer's id on the network (never called: there is no value).
    pub fn local(&self) -> &str {
        match *self {}
    }
}
