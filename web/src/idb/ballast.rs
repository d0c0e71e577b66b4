//! The ballast: one record of [`SIZE`] bytes in `meta` that keeps room under the storage quota
//! for removes and clears when the browser does not say what the quota is.
//!
//! Every write appends to the log, a remove or a clear too, and Chromium refuses a transaction
//! that puts anything once the origin's usage is past its quota; its check also lets the last
//! writes that fit take the usage over it (their files grow by more than the check counts). The
//! reserve of `space` keeps room for removes where `navigator.storage.estimate()` tells the
//! quota, but a quota set from outside (the DevTools protocol's `Storage.overrideQuotaForOrigin`)
//! is enforced and not told: without the ballast, the first write refused there left every
//! remove and clear refused too, until the quota grew.
//!
//! So the first write that stores values lays the ballast (its bytes are random: a value this
//! large is kept by Chromium in a file of its own, which compression would not shrink), and a
//! write that only removes, refused for the quota, lifts it in a transaction that only deletes
//! (which Chromium lets through whatever the usage): the file goes at once and the usage drops
//! by its size, and the remove is tried again. The next write that stores values lays the
//! ballast again first, and is refused while there is no room for both: the room stays for
//! removes.

use auroradb::StorageError;
use auroradb::storage::{KeyRange, Storage, Store};

use super::IdbStorage;

/// The key of the ballast in `meta` (no other meta key starts with it).
pub(super) const KEY: &[u8] = b"ballast";

/// Its size: 512 KiB, well over the size from which Chromium keeps a value in a file of its own.
pub(super) const SIZE: usize = 512 * 1024;

/// The ballast's bytes: random, so that nothing compresses them.
pub(super) fn bytes() -> Vec<u8> {
    let mut out = vec![0u8; SIZE];
    let mut seed = [0u8; 8];
    if getrandom::getrandom(&mut seed).is_err() {
        seed = (js_sys::Date::now() as u64).to_le_bytes();
    }
    // xorshift64*: enough to defeat compression.
    let mut x = u64::from_le_bytes(seed) | 1;
    for chunk in out.chunks_mut(8) {
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        let word = x.wrapping_mul(0x2545_F491_4F6C_DD1D).to_le_bytes();
        chunk.copy_from_slice(&word[..chunk.len()]);
    }
    out
}

/// How long what a connection knows of the ballast is trusted: another connection (a tab) may
/// lay or lift it meanwhile.
const TRUSTED_MS: f64 = 10_000.0;

impl IdbStorage {
    /// Whether the ballast is laid: as this connection learnt it within [`TRUSTED_MS`], else
    /// asked of the storage (a count of one key).
    pub(super) async fn ballast_laid(&self) -> Result<bool, StorageError> {
        if let Some((laid, at)) = self.ballast.get()
            && js_sys::Date::now() - at < TRUSTED_MS
        {
            return Ok(laid);
        }
        let laid = self.count(Store::Meta, KeyRange::prefix(KEY)).await? > 0;
        self.ballast_known(laid);
        Ok(laid)
    }

    /// Records whether the ballast is laid, as of now.
    pub(super) fn ballast_known(&self, laid: bool) {
        self.ballast.set(Some((laid, js_sys::Date::now())));
    }
}
