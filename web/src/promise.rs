//! [`promise`]: a Rust future as a JavaScript `Promise`, for every async method of the bindings.

use std::pin::Pin;

use js_sys::Promise;
use wasm_bindgen::JsValue;
use wasm_bindgen_futures::future_to_promise;

/// `fut` as a `Promise`. Boxed, so that every method of every class shares one instantiation of
/// `future_to_promise` (its promise and task plumbing) rather than having one of its own: smaller
/// wasm.
pub(crate) fn promise(fut: impl Future<Output = Result<JsValue, JsValue>> + 'static) -> Promise {
    let task: Pin<Box<dyn Future<Output = Result<JsValue, JsValue>>>> = Box::pin(fut);
    future_to_promise(task)
}
