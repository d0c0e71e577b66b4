//! [`AdmittedTransport`]: a transport whose peers are the ones [`Admission`] admitted.

use std::cell::RefCell;
use std::collections::VecDeque;

use auroradb_log::PeerId;

use super::{Transport, TransportEvent};
use crate::Result;
use crate::admission::{Admission, Admit, LinkState};

/// Runs [`Admission`] in front of a transport: the links and frames of `inner` go through it,
/// hellos go out through `inner` as it asks, and the engine reading this transport hears only
/// of admitted peers and their frames. Its clock is the engine's ([`Transport::tick`]).
#[derive(Debug)]
pub struct AdmittedTransport<T> {
    inner: T,
    admission: RefCell<Admission>,
    /// Events for the engine, in the order admission produced them.
    ready: RefCell<VecDeque<TransportEvent>>,
}

impl<T: Transport> AdmittedTransport<T> {
    /// `inner`, behind `admission`.
    pub fn new(inner: T, admission: Admission) -> AdmittedTransport<T> {
        AdmittedTransport { inner, admission: RefCell::new(admission), ready: RefCell::default() }
    }

    /// The transport underneath.
    pub fn inner(&self) -> &T {
        &self.inner
    }

    /// Where the link to `peer` stands.
    pub fn link_state(&self, peer: &PeerId) -> LinkState {
        self.admission.borrow().state(peer)
    }

    /// Forgets every link and every event not yet read (the transport underneath closed).
    pub fn reset(&self) {
        self.admission.borrow_mut().clear();
        self.ready.borrow_mut().clear();
    }

    fn admit(&self, event: TransportEvent) {
        let steps = self.admission.borrow_mut().handle(event);
        self.run(steps);
    }

    fn run(&self, steps: Vec<Admit>) {
        for step in steps {
            let event = match step {
                Admit::SendHello { to, frame } => {
                    // A hello that cannot go is lost like any frame: the link asks again.
                    let _ = self.inner.send(to, frame);
                    continue;
                }
                Admit::Admitted(peer) => TransportEvent::PeerUp(peer),
                Admit::Dropped(peer) => TransportEvent::PeerDown(peer),
                Admit::Deliver { from, bytes } => TransportEvent::Frame { from, bytes },
                Admit::Rejected(e) => TransportEvent::Rejected(e),
            };
            self.ready.borrow_mut().push_back(event);
        }
    }

    fn next_ready(&self) -> Option<TransportEvent> {
        self.ready.borrow_mut().pop_front()
    }
}

impl<T: Transport> Transport for AdmittedTransport<T> {
    fn send(&self, to: PeerId, frame: Vec<u8>) -> Result<()> {
        self.inner.send(to, frame)
    }

    fn peers(&self) -> Vec<PeerId> {
        self.admission.borrow().admitted()
    }

    fn try_recv(&self) -> Option<TransportEvent> {
        loop {
            if let Some(event) = self.next_ready() {
                return Some(event);
            }
            let event = self.inner.try_recv()?;
            self.admit(event);
        }
    }

    async fn recv(&self) -> Option<TransportEvent> {
        loop {
            if let Some(event) = self.next_ready() {
                return Some(event);
            }
            let event = self.inner.recv().await?;
            self.admit(event);
        }
    }

    fn tick(&self, now_ms: u64) {
        self.inner.tick(now_ms);
        let steps = self.admission.borrow_mut().tick();
        self.run(steps);
    }
}
