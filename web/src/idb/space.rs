//! The room kept under the storage quota for the writes that only remove.
//!
//! Every AuroraDB write stores its op, a remove and a clear too, and Chromium refuses any
//! transaction that stores something once the origin's usage has passed its quota. Its check is
//! made against the space it believes is left, and its files can grow by more than that: a run of
//! writes that each fit can leave the usage over the quota, and then a remove fails as well. So the
//! writes that store values ([`WriteBatch::grows`](auroradb::storage::WriteBatch::grows)) are
//! refused once they would leave less than a reserve of the quota (a hundredth of it, from 256 KiB
//! to 16 MiB), and the removes and clears keep that room.
//!
//! The usage and quota come from `navigator.storage.estimate()`, asked before a growing write
//! whenever the room left may be near the reserve; far from it (more than 64 MiB beyond), at most
//! every 10 s, counting what the writes in between took. Where the browser cannot say, no room is
//! kept.

use std::cell::Cell;

use auroradb::StorageError;
use wasm_bindgen::prelude::wasm_bindgen;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;

use super::lock::monotonic_ms;

#[wasm_bindgen(module = "/js/objects.js")]
extern "C" {
    /// `navigator.storage.estimate()` as `[usage, quota]`, or null where it cannot be asked.
    #[wasm_bindgen(js_name = storageEstimate)]
    fn storage_estimate() -> js_sys::Promise;
}

const KIB: f64 = 1024.0;
const MIB: f64 = 1024.0 * KIB;
/// The room beyond the reserve past which the browser is asked again only every [`REFRESH_MS`].
const FAR: f64 = 64.0 * MIB;
const REFRESH_MS: f64 = 10_000.0;

/// The room kept for removes under a quota of `quota` bytes.
fn reserve(quota: f64) -> f64 {
    (quota / 100.0).clamp(256.0 * KIB, 16.0 * MIB)
}

/// What a connection knows of the room left under the origin's quota.
#[derive(Debug, Default)]
pub(super) struct Space {
    /// The browser's last answer: the bytes left under the quota, the reserve, and when
    /// (`performance.now()`); `None` before the first growing write.
    known: Cell<Option<(f64, f64, f64)>>,
    /// What the growing writes since that answer took, as counted here.
    taken: Cell<f64>,
}

impl Space {
    /// Whether a growing write of `bytes` (its records' keys and values) leaves the reserve: else
    /// [`StorageError::QuotaExceeded`], before anything is written.
    pub(super) async fn make_room(&self, bytes: usize) -> Result<(), StorageError> {
        // IndexedDB holds a state record's value twice (readable, and in the record's encoding),
        // and its files grow by more than the records: twice the batch, and a little more.
        let need = bytes as f64 * 2.0 + 4.0 * KIB;
        let now = monotonic_ms();
        let (left, reserve, _) = match self.known.get() {
            Some(known @ (left, reserve, at))
                if left - self.taken.get() - need - reserve > FAR && now - at < REFRESH_MS =>
            {
                known
            }
            _ => {
                let answer = JsFuture::from(storage_estimate()).await.ok().and_then(|a| usage_and_quota(&a));
                // Where the browser cannot say, nothing is kept, and it is asked again later.
                let (left, reserve) =
                    answer.map_or((f64::INFINITY, 0.0), |(usage, quota)| (quota - usage, reserve(quota)));
                self.taken.set(0.0);
                self.known.set(Some((left, reserve, now)));
                (left, reserve, now)
            }
        };
        let left = left - self.taken.get();
        if left - need < reserve {
            return Err(StorageError::QuotaExceeded(format!(
                "the write needs about {} KiB, and {} KiB of the origin's storage quota are left, where the last \
                 {} KiB of it are kept for removes and clears",
                // Whole numbers: formatting a float would bring its formatting code in (about 6 KB
                // of wasm gzipped).
                (need / KIB).ceil() as u64,
                (left.max(0.0) / KIB) as u64,
                (reserve / KIB).ceil() as u64
            )));
        }
        self.taken.set(self.taken.get() + need);
        Ok(())
    }
}

/// `[usage, quota]` as numbers, if that is what `answer` is.
fn usage_and_quota(answer: &JsValue) -> Option<(f64, f64)> {
    let pair = answer.dyn_ref::<js_sys::Array>()?;
    Some((pair.get(0).as_f64()?, pair.get(1).as_f64()?))
}

#[cfg(test)]
mod tests {
    use wasm_bindgen_test::wasm_bindgen_test;

    use super::{KIB, MIB, reserve};

    #[wasm_bindgen_test]
    fn the_reserve_is_a_hundredth_of_the_quota_within_bounds() {
        assert_eq!(reserve(2.0 * MIB), 256.0 * KIB);
        assert_eq!(reserve(1000.0 * MIB), 10.0 * MIB);
        assert_eq!(reserve(100_000.0 * MIB), 16.0 * MIB);
    }
}
