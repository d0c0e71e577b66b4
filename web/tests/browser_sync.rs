//! Peer-to-peer sync of the JavaScript API's engine (`AuroraCore`), in headless Chromium, with
//! the adapter replaced by a wire the test controls: each core's `send(peerId, bytes)` queues
//! the frame, and the test delivers queued frames with `frame(from, bytes)` until nothing moves.
//! Databases written apart converge once linked; local writes are pushed at once; peers of
//! another group are ignored; garbage is rejected with an error naming the peer; a restarted
//! peer starts over; `autoSync: false` waits for `post()`.

#![cfg(target_arch = "wasm32")]

use std::cell::RefCell;
use std::collections::VecDeque;
use std::rc::Rc;

use auroradb_web::AuroraCore;
use js_sys::{Function, JSON, Object, Promise, Reflect, Uint8Array};
use wasm_bindgen::closure::Closure;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use wasm_bindgen_test::{wasm_bindgen_test, wasm_bindgen_test_configure};
use web_sys::{CustomEvent, Event, EventTarget};

wasm_bindgen_test_configure!(run_in_browser);

const EVENTS: [&str; 8] = ["error", "change", "set", "delete", "connection", "disconnect", "sync", "post"];

fn js(src: &str) -> JsValue {
    js_sys::eval(&format!("({src})")).unwrap_or_else(|e| panic!("bad test source {src}: {e:?}"))
}

fn json(v: &JsValue) -> String {
    if v.is_undefined() {
        return "undefined".into();
    }
    JSON::stringify(v).map(String::from).unwrap_or_else(|_| format!("{v:?}"))
}

fn get(v: &JsValue, key: &str) -> JsValue {
    Reflect::get(v, &key.into()).unwrap()
}

async fn ok(p: Promise) -> JsValue {
    JsFuture::from(p).await.unwrap_or_else(|e| panic!("rejected: {:?} {:?}", get(&e, "name"), get(&e, "message")))
}

async fn sleep(ms: u32) {
    let p: Promise = js(&format!("new Promise((r) => setTimeout(r, {ms}))")).unchecked_into();
    JsFuture::from(p).await.unwrap();
}

/// Frames in flight: `(from, to, bytes)`.
type Queue = Rc<RefCell<VecDeque<(String, String, Vec<u8>)>>>;

/// A database on the test wire, with the events it dispatched.
struct Peer {
    id: String,
    core: AuroraCore,
    seen: Rc<RefCell<Vec<(String, JsValue)>>>,
    _listeners: Vec<Closure<dyn FnMut(Event)>>,
    _send: Closure<dyn FnMut(String, Uint8Array)>,
}

impl Peer {
    /// Opens database `name` with `extra` configuration and attaches it to the wire as `id`.
    async fn open(id: &str, name: &str, extra: &str, wire: &Queue) -> Peer {
        let target = EventTarget::new().unwrap();
        let seen = Rc::new(RefCell::new(Vec::new()));
        let mut listeners = Vec::new();
        for kind in EVENTS {
            let seen = seen.clone();
            let f = Closure::<dyn FnMut(Event)>::new(move |e: Event| {
                let detail = e.dyn_ref::<CustomEvent>().map(|c| c.detail()).unwrap_or(JsValue::NULL);
                seen.borrow_mut().push((e.type_(), detail));
            });
            target.add_event_listener_with_callback(kind, f.as_ref().unchecked_ref()).unwrap();
            listeners.push(f);
        }
        let config = js(&format!("{{ name: {name:?}, distributed: true, syncInterval: 600000 {extra} }}"));
        let core = AuroraCore::open(config, target, Object::new().into(), None, None).await.unwrap();
        let (queue, from) = (wire.clone(), id.to_owned());
        let send = Closure::<dyn FnMut(String, Uint8Array)>::new(move |to: String, bytes: Uint8Array| {
            queue.borrow_mut().push_back((from.clone(), to, bytes.to_vec()));
        });
        // The engine reads the log's index, which opening leaves unloaded.
        ok(core.load_log()).await;
        core.attach(id.to_owned(), send.as_ref().unchecked_ref::<Function>().clone()).unwrap();
        Peer { id: id.into(), core, seen, _listeners: listeners, _send: send }
    }

    fn events(&self, kind: &str) -> Vec<JsValue> {
        self.seen.borrow().iter().filter(|(k, _)| k == kind).map(|(_, d)| d.clone()).collect()
    }

    async fn put(&self, key: &str, value: &str) {
        ok(self.core.put(key.into(), js(value))).await;
    }

    async fn get(&self, key: &str) -> String {
        json(&ok(self.core.get(key.into())).await)
    }

    /// Records and log fingerprint.
    async fn view(&self) -> (String, String) {
        let all = json(&ok(self.core.all()).await);
        let report = ok(self.core.verify()).await;
        (all, get(&report, "fingerprint").as_string().unwrap())
    }

    async fn destroy(self) {
        ok(self.core.destroy()).await;
    }
}

/// Links `a` and `b` as an adapter would report it on both sides.
fn link(a: &Peer, b: &Peer) {
    a.core.peer_up(b.id.clone());
    b.core.peer_up(a.id.clone());
}

/// Delivers queued frames until nothing has moved for 200 ms (the engine's work runs in tasks
/// and IndexedDB commits in between; on a loaded machine one commit can take tens of ms, so a
/// shorter quiet spell could end the wait before the last answer is sent).
async fn settle(wire: &Queue, peers: &[&Peer]) {
    let mut quiet = 0;
    for _ in 0..4000 {
        let batch: Vec<_> = wire.borrow_mut().drain(..).collect();
        if batch.is_empty() {
            quiet += 1;
            if quiet >= 40 {
                return;
            }
        } else {
            quiet = 0;
        }
        for (from, to, bytes) in batch {
            if let Some(p) = peers.iter().find(|p| p.id == to) {
                p.core.frame(from, &bytes);
            }
        }
        sleep(5).await;
    }
    panic!("the wire did not settle");
}

fn fresh(name: &str) -> String {
    format!("sync-{name}-{}-{}", js_sys::Date::now(), (js_sys::Math::random() * 1e9) as u64)
}

#[wasm_bindgen_test]
async fn databases_written_apart_converge_once_linked_and_then_push_each_write() {
    let wire: Queue = Queue::default();
    let name = fresh("pair");
    // Two browsers in one page: the databases need their own IndexedDB names, so the group
    // says they are one.
    let extra = format!(", p2pConfig: {{ group: {name:?} }}");
    let a = Peer::open("alice", &format!("{name}-a"), &extra, &wire).await;
    let b = Peer::open("bob", &format!("{name}-b"), &extra, &wire).await;
    for i in 0..20 {
        a.put(&format!("a{i}"), &format!("{{ n: {i} }}")).await;
    }
    b.put("shared", "{ by: 'bob' }").await;
    ok(b.core.remove("a3".into())).await;
    assert!(wire.borrow().is_empty(), "nothing is sent before a peer is linked");
    assert_eq!(a.core.connections(), 0);

    link(&a, &b);
    settle(&wire, &[&a, &b]).await;
    assert_eq!((a.core.connections(), b.core.connections()), (1, 1));
    assert_eq!(json(&a.core.connected_peers().into()), r#"["bob"]"#);
    let (va, vb) = (a.view().await, b.view().await);
    assert_eq!(va, vb);
    // 20 of alice, bob's one, less a3 (bob's later remove wins).
    assert_eq!(ok(b.core.count()).await.as_f64(), Some(20.0));
    assert_eq!(json(&get(&b.events("connection")[0], "peerId")), r#""alice""#);
    assert!(!a.events("sync").is_empty() || !b.events("sync").is_empty(), "the connection's round reported");
    let change = b.events("change").into_iter().find(|c| get(c, "source") == "peer").expect("a change from the peer");
    assert_eq!(get(&change, "peerId"), "alice");

    // Linked: a write goes out as soon as it is committed.
    a.put("live", "{ n: 99 }").await;
    assert!(!wire.borrow().is_empty(), "the write was pushed at once");
    settle(&wire, &[&a, &b]).await;
    assert_eq!(b.get("live").await, r#"{"n":99}"#);
    let post = b.events("post").pop().unwrap();
    assert_eq!(json(&post), r#"{"peerId":"alice","ops":1,"keys":["live"]}"#);
    let set = b.events("set").pop().unwrap();
    assert_eq!(json(&set), r#"{"key":"live","source":"peer","peerId":"alice","value":{"n":99}}"#);

    // sync() resolves with the round's report once the frames have gone back and forth.
    let round = a.core.sync();
    settle(&wire, &[&a, &b]).await;
    let report = ok(round).await;
    assert_eq!(json(&report), r#"{"peers":1,"sent":0,"received":0}"#);
    let stats = a.core.sync_stats();
    assert!(get(&stats, "sessionsCompleted").as_f64().unwrap() >= 1.0);
    assert_eq!(get(&stats, "rejected").as_f64(), Some(0.0));

    a.core.peer_down("bob".into());
    b.core.peer_down("alice".into());
    settle(&wire, &[&a, &b]).await;
    assert_eq!(a.core.connections(), 0);
    assert_eq!(json(&get(&a.events("disconnect")[0], "peerId")), r#""bob""#);
    assert!(a.events("error").is_empty() && b.events("error").is_empty());
    a.destroy().await;
    b.destroy().await;
}

#[wasm_bindgen_test]
async fn peers_of_another_group_are_ignored_and_garbage_is_rejected() {
    let wire: Queue = Queue::default();
    let name = fresh("groups");
    let a = Peer::open("alice", &format!("{name}-a"), ", p2pConfig: { room: 'one' }", &wire).await;
    let c = Peer::open("carol", &format!("{name}-c"), ", p2pConfig: { room: 'two' }", &wire).await;
    a.put("k", "{ n: 1 }").await;
    link(&a, &c);
    settle(&wire, &[&a, &c]).await;
    assert_eq!((a.core.connections(), c.core.connections()), (0, 0));
    assert_eq!(c.get("k").await, "undefined");
    assert!(a.events("error").is_empty() && c.events("error").is_empty());

    // Bytes from a linked peer that are no frame: rejected, naming the peer.
    let m = Peer::open("mallory", &format!("{name}-m"), ", p2pConfig: { room: 'one' }", &wire).await;
    link(&a, &m);
    settle(&wire, &[&a, &m]).await;
    assert_eq!(a.core.connections(), 1);
    a.core.frame("mallory".into(), &[9, 0, 0, 0, b'A', b'U', b's', b'y', 1, 0xff, 0xff, 0xff, 0xff]);
    a.core.frame("mallory".into(), &[b'A', b'U', b'h', b'i', 1]);
    settle(&wire, &[&a, &m]).await;
    let errors = a.events("error");
    assert_eq!(errors.len(), 2, "{:?}", errors.iter().map(json).collect::<Vec<_>>());
    for e in &errors {
        assert_eq!(get(e, "type"), "peer-rejected");
        assert_eq!(get(e, "peerId"), "mallory");
        assert_eq!(get(e, "operation"), "sync");
        assert_eq!(get(&get(e, "error"), "name"), get(e, "name"));
    }
    assert_eq!(get(&errors[1], "name"), "CorruptMessageError");
    assert_eq!(get(&ok(a.core.verify()).await, "ops").as_f64(), Some(1.0));
    for p in [a, c, m] {
        p.destroy().await;
    }
}

#[wasm_bindgen_test]
async fn a_restarted_peer_starts_over_and_auto_sync_off_waits_for_post() {
    let wire: Queue = Queue::default();
    let name = fresh("restart");
    let group = format!(", autoSync: false, p2pConfig: {{ group: {name:?} }}");
    let a = Peer::open("alice", &format!("{name}-a"), &group, &wire).await;
    let b = Peer::open("bob", &format!("{name}-b"), &group, &wire).await;
    link(&a, &b);
    settle(&wire, &[&a, &b]).await;
    assert_eq!(a.core.connections(), 1);

    // Without autoSync a write waits for post().
    a.put("held", "{ n: 1 }").await;
    settle(&wire, &[&a, &b]).await;
    assert_eq!(b.get("held").await, "undefined");
    assert_eq!(a.core.post(), 1);
    settle(&wire, &[&a, &b]).await;
    assert_eq!(b.get("held").await, r#"{"n":1}"#);
    assert_eq!(a.core.post(), 0, "nothing waits any more");

    // Bob comes back as a new attachment under the same id (its hello carries a new nonce):
    // alice sees it go and come back, and the pair still syncs.
    let send = Closure::<dyn FnMut(String, Uint8Array)>::new({
        let queue = wire.clone();
        move |to: String, bytes: Uint8Array| queue.borrow_mut().push_back(("bob".into(), to, bytes.to_vec()))
    });
    b.core.attach("bob".into(), send.as_ref().unchecked_ref::<Function>().clone()).unwrap();
    b.core.peer_up("alice".into());
    settle(&wire, &[&a, &b]).await;
    let kinds: Vec<String> = a
        .seen
        .borrow()
        .iter()
        .filter(|(k, _)| k == "connection" || k == "disconnect")
        .map(|(k, d)| format!("{k}:{}", get(d, "peerId").as_string().unwrap()))
        .collect();
    assert_eq!(kinds, ["connection:bob", "disconnect:bob", "connection:bob"]);
    b.put("after", "{ n: 2 }").await;
    assert_eq!(a.core.fetch(), 1);
    settle(&wire, &[&a, &b]).await;
    assert_eq!(a.get("after").await, r#"{"n":2}"#);
    assert_eq!(a.view().await, b.view().await);
    a.destroy().await;
    b.destroy().await;
    drop(send);
}
