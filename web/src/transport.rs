//! [`JsTransport`]: the links and frames of a JavaScript P2P adapter as a [`Transport`], which
//! the sync engine reads through admission ([`AdmittedTransport`]).
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
//! The adapter links every peer it can reach, whatever database it is; which of them the engine
//! hears of is admission's business: the hello and the sync group live in `auroradb-net`
//! ([`auroradb_net::admission`]), where they are tested natively and run in the simulation.
//!
//! [`AdmittedTransport`]: auroradb_net::AdmittedTransport

use std::cell::{Cell, RefCell};
use std::collections::{BTreeSet, HashMap, VecDeque};
use std::task::{Poll, Waker};

use auroradb_log::{Hash, PeerId};
use auroradb_net::{NetError, Transport, TransportEvent};

/// The engine's id for the peer an adapter calls `name`: the first 16 bytes of
/// blake3(`"auroradb-peer:" + name`).
pub fn peer_id_of(name: &str) -> PeerId {
    let hash = Hash::of(format!("auroradb-peer:{name}").as_bytes());
    let mut id = [0u8; 16];
    id.copy_from_slice(&hash.0[..16]);
    PeerId(id)
}

/// A JavaScript adapter as a transport: a queue of the adapter's events (links up and down,
/// frames received), and an outbox of frames for JavaScript to send.
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

    /// The adapter linked `id`.
    pub fn peer_up(&self, id: PeerId) {
        self.up.borrow_mut().insert(id);
        self.push(TransportEvent::PeerUp(id));
    }

    /// The adapter lost `id` (if it was linked).
    pub fn peer_down(&self, id: PeerId) {
        if self.up.borrow_mut().remove(&id) {
            self.push(TransportEvent::PeerDown(id));
        }
    }

    /// Whether `id` is linked as far as the adapter said.
    pub fn is_up(&self, id: &PeerId) -> bool {
        self.up.borrow().contains(id)
    }

    /// A frame from `from`. It proves the link even if the adapter never reported it, so that
    /// losing the link later is reported too.
    pub fn frame(&self, from: PeerId, bytes: Vec<u8>) {
        if self.closed.get() {
            return;
        }
        self.up.borrow_mut().insert(from);
        self.push(TransportEvent::Frame { from, bytes });
    }

    /// Queues a frame for the adapter peer `name`.
    pub fn send_to_name(&self, name: &str, frame: Vec<u8>) {
        if !self.closed.get() {
            self.outbox.borrow_mut().push((name.to_owned(), frame));
        }
    }

    /// Takes the frames waiting to be sent, in order, as `(peer name, bytes)`.
    pub fn take_outbox(&self) -> Vec<(String, Vec<u8>)> {
        std::mem::take(&mut self.outbox.borrow_mut())
    }

    /// Events waiting to be read.
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

    use super::{JsTransport, peer_id_of};

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
    fn a_frame_proves_the_link() {
        let t = JsTransport::new();
        let b = t.register("bob");
        t.frame(b, vec![1]);
        assert!(t.is_up(&b));
        t.peer_down(b);
        assert_eq!(t.try_recv(), Some(TransportEvent::Frame { from: b, bytes: vec![1] }));
        assert_eq!(t.try_recv(), Some(TransportEvent::PeerDown(b)), "losing it is reported");
    }
}
