//! IndexedDB failures (`DOMException` name and message) and the [`StorageError`] each becomes.

use wasm_bindgen::{JsCast, JsValue};
use web_sys::{DomException, IdbRequest, IdbTransaction};

use auroradb::StorageError;

/// A failure as IndexedDB reports it: the `DOMException` name and message.
#[derive(Debug, Clone)]
pub(super) struct IdbFailure {
    pub(super) name: String,
    pub(super) message: String,
}

impl IdbFailure {
    pub(super) fn from_js(value: &JsValue) -> IdbFailure {
        if let Some(e) = value.dyn_ref::<DomException>() {
            return IdbFailure { name: e.name(), message: e.message() };
        }
        if let Some(e) = value.dyn_ref::<js_sys::Error>() {
            return IdbFailure { name: e.name().into(), message: e.message().into() };
        }
        IdbFailure { name: "UnknownError".into(), message: format!("{value:?}") }
    }

    pub(super) fn of_request(req: &IdbRequest) -> IdbFailure {
        match req.error() {
            Ok(Some(e)) => IdbFailure { name: e.name(), message: e.message() },
            _ => IdbFailure { name: "UnknownError".into(), message: "request failed".into() },
        }
    }

    pub(super) fn of_transaction(tx: &IdbTransaction) -> IdbFailure {
        match tx.error() {
            Some(e) => IdbFailure { name: e.name(), message: e.message() },
            None => IdbFailure { name: "AbortError".into(), message: "transaction aborted".into() },
        }
    }

    /// Whether the failure is the disk running out of space: Chromium reports it as an
    /// `UnknownError` naming LevelDB's `FILE_ERROR_NO_SPACE`, not as a quota failure (the quota
    /// was not reached: something else filled the disk).
    fn is_disk_full(&self) -> bool {
        self.message.contains("FILE_ERROR_NO_SPACE") || self.message.contains("No space left on device")
    }

    pub(super) fn into_storage(self, closed: bool) -> StorageError {
        // Chromium's quota failures can come with an empty message: the name alone, then.
        let text = match self.message.as_str() {
            "" => self.name.clone(),
            message => format!("{}: {message}", self.name),
        };
        match self.name.as_str() {
            "QuotaExceededError" => StorageError::QuotaExceeded(text),
            _ if self.is_disk_full() => StorageError::QuotaExceeded(format!("the disk is full ({text})")),
            "InvalidStateError" => StorageError::Closed,
            _ if closed => StorageError::Closed,
            "AbortError" | "ConstraintError" | "DataError" | "TransactionInactiveError" => {
                StorageError::CommitFailed(text)
            }
            _ => StorageError::Backend(text),
        }
    }
}

/// The [`StorageError`] of a failed `web-sys` call, on a connection not known to be closed.
pub(super) fn storage_error(e: &JsValue) -> StorageError {
    IdbFailure::from_js(e).into_storage(false)
}

#[cfg(test)]
mod tests {
    use wasm_bindgen_test::wasm_bindgen_test;

    use super::*;

    #[wasm_bindgen_test]
    fn dom_errors_become_storage_errors() {
        let map = |name: &str, closed: bool| {
            let e = DomException::new_with_message_and_name("m", name).unwrap();
            IdbFailure::from_js(&e.into()).into_storage(closed)
        };
        assert!(matches!(map("QuotaExceededError", false), StorageError::QuotaExceeded(_)));
        assert!(matches!(map("QuotaExceededError", true), StorageError::QuotaExceeded(_)));
        assert_eq!(map("InvalidStateError", false), StorageError::Closed);
        assert_eq!(map("AbortError", true), StorageError::Closed);
        assert!(matches!(map("AbortError", false), StorageError::CommitFailed(_)));
        assert!(matches!(map("ConstraintError", false), StorageError::CommitFailed(_)));
        assert!(matches!(map("UnknownError", false), StorageError::Backend(_)));
        // Chromium's report of a full disk, as seen with a profile on a full tmpfs.
        let full = DomException::new_with_message_and_name(
            "Connection is closing because of: IO error: .../000004.log: FILE_ERROR_NO_SPACE (ChromeMethodBFE: 3::WritableFileAppend::8)",
            "UnknownError",
        )
        .unwrap();
        for closed in [false, true] {
            match IdbFailure::from_js(&full.clone().into()).into_storage(closed) {
                StorageError::QuotaExceeded(text) => assert!(text.starts_with("the disk is full"), "{text}"),
                other => panic!("a full disk is a quota failure, not {other:?}"),
            }
        }
        // A quota failure without a message names itself, and does not end in ": ".
        let bare = DomException::new_with_message_and_name("", "QuotaExceededError").unwrap();
        let quota = IdbFailure::from_js(&bare.into()).into_storage(false);
        assert_eq!(quota.to_string(), "storage quota exceeded: QuotaExceededError");
        let plain = IdbFailure::from_js(&JsValue::from_str("odd"));
        assert_eq!(plain.name, "UnknownError");
    }
}
