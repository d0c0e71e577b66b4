//! [`JsTransport`]: the sync engine's [`Transport`] over a JavaScript P2P adapter, and the
//! hello that admits a peer to the engine.
//!
//! Adapters name peers by strings (`'a1b2…'`, `'custom-id'`); the engine by 16-byte
//! [`PeerId`]s. [`peer_id_of`] maps one to the other deterministically (blake3 of the name), so
//! both sides of a link agree on who starts the first session, and the transport keeps the
//! reverse table to address frames and name peers in events.
//!
//! Nothing here calls JavaScript: events from the adapter are queued for the engine, and frames
//! the engine sends wait in an outbox that the caller empties once the engine has returned (an
//! adapter's `send` may dispatch events whose listeners call the database again, which must
//! not happen while the engine is inside a call).
//!
//! # Hello
//!
//! An adapter links every peer it can reach; a PeerJS server or a relay may be shared by many
//! databases. Before the engine hears of a peer, each side sends a hello (magic `AUhi`):
//!
//! ```text
//! +------+---------+------------------------------------------------------+
//! | AUhi | version | postcard { reply, group, nonce: [u8; 8] }            |
//! +------+---------+------------------------------------------------------+
//! ```
//!
//! `group` is what peers must share to sync (`p2pConfig.group`, else `p2pConfig.room`, else
//! the database name), `nonce` is random per attachment (a new nonce from a known peer means it
//! restarted: its sessions start over), and `reply` asks the receiver to answer with its own
//! hello. A peer becomes an engine peer once its hello names the same group. The conflict
//! strategy is not compared: the log is the same whatever the strategy, and each replica
//! materializes it with its own.

use std::cell::{Cell, RefCell};
use std::collections::{BTreeSet, HashMap, VecDeque};
use std::task::{Poll, Waker};

use auroradb_log::codec::{decode_blob, encode_blob};
use auroradb_log::{Hash, LogError, PeerId};
use auroradb_net::{NetError, Transport, TransportEvent};
use serde::{Deserialize, Serialize};

/// Magic of a hello frame.
pub const MAGIC_HELLO: [u8; 4] = *b"AUhi";

/// The engine's id for the peer an adapter calls `name`: the first 16 bytes of
/// blake3(`"auroradb-peer:" + name`).
pub fn peer_id_of(name: &str) -> PeerId {
    let hash = Hash::of(format!("auroradb-peer:{name}").as_bytes());
    let mut id = [0u8; 16];
    id.copy_from_slice(&hash.0[..16]);
    PeerId(id)
}

/// A hello: who may sync with whom (see the module documentation).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Hello {
    /// The receiver should answer with its own hello.
    pub reply: bool,
    /// Peers sync only within a group.
    pub group: String,
    /// Random per attachment: a new nonce from a known peer means it restarted.
    pub nonce: [u8; 8],
}

impl Hello {
    /// The hello as a frame.
    pub fn encode(&self) -> Vec<u8> {
        encode_blob(MAGIC_HELLO, self)
    }

    /// A hello frame read back; `None` when `bytes` does not start with the hello magic (an
    /// engine frame), an error when it does but is not a valid hello.
    pub fn decode(bytes: &[u8]) -> Option<Result<Hello, LogError>> {
        bytes.starts_with(&MAGIC_HELLO).then(|| decode_blob("hello", MAGIC_HELLO, bytes))
    }

    /// Why a peer saying `theirs` cannot sync with this one, if it cannot.
    pub fn mismatch(&self, theirs: &Hello) -> Option<String> {
        (self.group != theirs.group)
            .then(|| format!("it syncs group {:?}, this database syncs group {:?}", theirs.group, self.group))
    }
}

/// The engine's transport over a JavaScript adapter: a queue of events pushed from JavaScript,
/// and an outbox of frames for JavaScript to send.
#[derive(Debug, Default)]
pub struct JsTransport {
    queue: RefCell<VecDeque<TransportEvent>>,
    outbox: RefCell<Vec<(String, Vec<u8>)>>,
    names: RefCell<HashMap<PeerId, String>>,
    up: RefCell<BTreeSet<PeerId>>,
    waker: RefCell<Option<Waker>>,
    closed: Cell<bool>,
}

impl JsTransport {
    /// An empty transport.
    pub fn new() -> JsTransport {
        JsTransport::default()
    }

    /// The engine id of the peer named `name`, remembering the name.
    pub fn register(&self, name: &str) -> PeerId {
        let id = peer_id_of(name);
        self.names.borrow_mut().entry(id).or_insert_with(|| name.to_owned());
        id
    }

    /// The adapter's name of an engine peer.
    pub fn name_of(&self, id: &PeerId) -> Option<String> {
        self.names.borrow().get(id).cloned()
    }

    /// Tells the engine that `id` is connected.
    pub fn peer_up(&self, id: PeerId) {
        self.up.borrow_mut().insert(id);
        self.push(TransportEvent::PeerUp(id));
    }

    /// Tells the engine that `id` is gone (if it was connected).
    pub fn peer_down(&self, id: PeerId) {
        if self.up.borrow_mut().remove(&id) {
            self.push(TransportEvent::PeerDown(id));
        }
    }

    /// Whether `id` is connected as far as the engine is told.
    pub fn is_up(&self, id: &PeerId) -> bool {
        self.up.borrow().contains(id)
    }

    /// Hands the engine a frame from `from`.
    pub fn frame(&self, from: PeerId, bytes: Vec<u8>) {
        self.push(TransportEvent::Frame { from, bytes });
    }

    /// Queues a frame for the adapter peer `name` (hellos, which the engine does not see).
    pub fn send_to_name(&self, name: &str, frame: Vec<u8>) {
        if !self.closed.get() {
            self.outbox.borrow_mut().push((name.to_owned(), frame));
        }
    }

    /// Takes the frames waiting to be sent, in order, as `(peer name, bytes)`.
    pub fn take_outbox(&self) -> Vec<(String, Vec<u8>)> {
        std::mem::take(&mut self.outbox.borrow_mut())
    }

    /// Events waiting for the engine.
    pub fn pending(&self) -> usize {
        self.queue.borrow().len()
    }

    /// Closes the transport: queued events and frames are dropped, `recv` ends.
    pub fn close(&self) {
        self.closed.set(true);
        self.queue.borrow_mut().clear();
        self.outbox.borrow_mut().clear();
        self.up.borrow_mut().clear();
        if let Some(w) = self.waker.borrow_mut().take() {
            w.wake();
        }
    }

    /// Whether [`JsTransport::close`] was called.
    pub fn is_closed(&self) -> bool {
        self.closed.get()
    }

    fn push(&self, event: TransportEvent) {
        if self.closed.get() {
            return;
        }
        self.queue.borrow_mut().push_back(event);
        if let Some(w) = self.waker.borrow_mut().take() {
            w.wake();
        }
    }
}

impl Transport for JsTransport {
    /// Queues the frame; the caller sends it once the engine has returned. A frame to a peer
    /// that went down meanwhile is dropped by the adapter, as a network would drop it.
    fn send(&self, to: PeerId, frame: Vec<u8>) -> auroradb_net::Result<()> {
        let name = self.names.borrow().get(&to).cloned();
        match name {
            Some(name) => {
                self.send_to_name(&name, frame);
                Ok(())
            }
            None => Err(NetError::Transport { reason: format!("no adapter peer is known as {to}") }),
        }
    }

    fn peers(&self) -> Vec<PeerId> {
        self.up.borrow().iter().copied().collect()
    }

    fn try_recv(&self) -> Option<TransportEvent> {
        self.queue.borrow_mut().pop_front()
    }

    async fn recv(&self) -> Option<TransportEvent> {
        std::future::poll_fn(|cx| {
            if let Some(ev) = self.queue.borrow_mut().pop_front() {
                return Poll::Ready(Some(ev));
            }
            if self.closed.get() {
                return Poll::Ready(None);
            }
            *self.waker.borrow_mut() = Some(cx.waker().clone());
            Poll::Pending
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use auroradb_net::{Transport, TransportEvent};
    use wasm_bindgen_test::wasm_bindgen_test;

    use super::{Hello, JsTransport, MAGIC_HELLO, peer_id_of};

    #[wasm_bindgen_test]
    fn peer_ids_are_stable_and_distinct() {
        assert_eq!(peer_id_of("alice"), peer_id_of("alice"));
        assert_ne!(peer_id_of("alice"), peer_id_of("bob"));
        let t = JsTransport::new();
        let a = t.register("alice");
        assert_eq!(t.name_of(&a).as_deref(), Some("alice"));
        assert_eq!(t.name_of(&peer_id_of("carol")), None);
    }

    #[wasm_bindgen_test]
    fn events_queue_in_order_and_frames_wait_in_the_outbox() {
        let t = JsTransport::new();
        let a = t.register("alice");
        t.peer_up(a);
        t.frame(a, vec![1, 2]);
        t.peer_down(a);
        t.peer_down(a); // already down: no second event
        assert_eq!(t.try_recv(), Some(TransportEvent::PeerUp(a)));
        assert_eq!(t.try_recv(), Some(TransportEvent::Frame { from: a, bytes: vec![1, 2] }));
        assert_eq!(t.try_recv(), Some(TransportEvent::PeerDown(a)));
        assert_eq!(t.try_recv(), None);
        t.send(a, vec![7]).unwrap();
        assert!(t.send(peer_id_of("nobody"), vec![7]).is_err());
        assert_eq!(t.take_outbox(), vec![("alice".to_owned(), vec![7])]);
        assert!(t.take_outbox().is_empty());
        t.close();
        t.frame(a, vec![3]);
        t.send(a, vec![8]).unwrap();
        assert_eq!((t.pending(), t.take_outbox().len()), (0, 0));
    }

    #[wasm_bindgen_test]
    fn hellos_round_trip_and_refuse_what_they_are_not() {
        let h = Hello { reply: true, group: "app".into(), nonce: [9; 8] };
        let bytes = h.encode();
        assert!(bytes.starts_with(&MAGIC_HELLO));
        assert_eq!(Hello::decode(&bytes).unwrap().unwrap(), h);
        // An engine frame starts with its length prefix: not a hello.
        assert!(Hello::decode(&[10, 0, 0, 0, b'A', b'U', b's', b'y', 1]).is_none());
        // A hello that does not parse, or one of a version this build does not know.
        assert!(Hello::decode(&bytes[..bytes.len() - 1]).unwrap().is_err());
        let mut newer = bytes.clone();
        newer[4] = 99;
        assert!(Hello::decode(&newer).unwrap().is_err());
        let other = Hello { group: "other".into(), ..h.clone() };
        assert!(h.mismatch(&other).unwrap().contains("group"));
        assert_eq!(h.mismatch(&Hello { reply: false, nonce: [1; 8], ..h.clone() }), None);
    }
}
