//! The events an `AuroraDB` object dispatches: every one is a `CustomEvent` at the object the
//! JavaScript class passed in (the class is an `EventTarget`).

use auroradb_snapshot::Change;
use js_sys::{Array, Function, Reflect};
use wasm_bindgen::{JsCast, JsValue};
use web_sys::{CustomEvent, CustomEventInit, EventTarget};

use crate::records::{Obj, change_js};
use crate::value::field_name;

/// Where a change came from, as the `source` of `change`, `set` and `delete` events.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// A write of this instance.
    Local,
    /// A write of another instance on the same database (another tab), noticed through the
    /// tab channel.
    Tab,
    /// `importLog()`.
    Import,
    /// A peer, through peer-to-peer sync.
    Peer,
}

impl Source {
    fn name(self) -> &'static str {
        match self {
            Source::Local => "local",
            Source::Tab => "tab",
            Source::Import => "import",
            Source::Peer => "peer",
        }
    }
}

/// Dispatches events at one target.
#[derive(Debug, Clone)]
pub struct Events {
    target: EventTarget,
    /// The target's `_wantsEvent(type)`, if it has one (the `AuroraDB` class): whether an event
    /// of that type can be seen. A target without it sees every event.
    wants: Option<Function>,
}

impl Events {
    /// Events at `target`.
    pub fn new(target: EventTarget) -> Events {
        let wants = Reflect::get(&target, &field_name("_wantsEvent")).ok().and_then(|f| f.dyn_into::<Function>().ok());
        Events { target, wants }
    }

    /// Whether an event of type `kind` can be seen (when asking throws, it can).
    fn wanted(&self, kind: &str) -> bool {
        self.wants.as_ref().is_none_or(|f| f.call1(&self.target, &field_name(kind)).map_or(true, |v| v.is_truthy()))
    }

    /// Dispatches a `CustomEvent` of type `kind` with `detail`.
    pub fn emit(&self, kind: &str, detail: &JsValue) {
        let init = CustomEventInit::new();
        init.set_detail(detail);
        if let Ok(event) = CustomEvent::new_with_event_init_dict(kind, &init) {
            // Listener exceptions are reported by the browser, not thrown here.
            let _ = self.target.dispatch_event(&event);
        }
    }

    /// Dispatches an `error` event with detail `{ type, message, error, operation }` for the
    /// JavaScript error `e` (`type` is its `name`).
    pub fn emit_error(&self, op: &str, e: &JsValue) {
        let get = |k: &str| Reflect::get(e, &JsValue::from_str(k)).unwrap_or(JsValue::UNDEFINED);
        let detail = Obj::new()
            .set("type", get("name"))
            .set("message", get("message"))
            .set("error", e.clone())
            .set("operation", op);
        self.emit("error", &detail.build());
    }

    /// Dispatches `set` / `delete` per changed key, then one `change` for all of them.
    pub fn emit_changes(&self, changes: &[Change], source: Source) {
        self.emit_changes_from(changes, source, None);
    }

    /// Like [`Events::emit_changes`]; changes from a peer also carry its id (`peerId`).
    /// Nothing is built for the types that nobody can see.
    pub fn emit_changes_from(&self, changes: &[Change], source: Source, peer: Option<&str>) {
        if changes.is_empty() {
            return;
        }
        let (set, delete, change) = (self.wanted("set"), self.wanted("delete"), self.wanted("change"));
        let with_peer = |o: Obj| match peer {
            Some(p) => o.set("peerId", p),
            None => o,
        };
        let list = Array::new();
        for c in changes {
            let one = if c.after.is_some() { set } else { delete };
            if !one && !change {
                continue;
            }
            let item = change_js(c);
            if one {
                let value = Reflect::get(&item, &field_name("value")).unwrap_or(JsValue::UNDEFINED);
                let detail = with_peer(Obj::new().set("key", c.key.as_str()).set("source", field_name(source.name())));
                match c.after {
                    Some(_) => self.emit("set", &detail.set("value", value).build()),
                    None => self.emit("delete", &detail.build()),
                }
            }
            if change {
                list.push(&item);
            }
        }
        if change {
            self.emit(
                "change",
                &with_peer(Obj::new().set("source", field_name(source.name())).set("changes", list)).build(),
            );
        }
    }
}
