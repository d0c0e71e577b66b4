//! The [`Transport`] trait the sync engine sends and receives frames through, the in-memory
//! transport ([`memory`]) with fault injection, and [`AdmittedTransport`], which puts
//! [`Admission`](crate::Admission) in front of any of them.

mod admitted;
pub mod memory;

pub use admitted::AdmittedTransport;

use std::rc::Rc;

use auroradb_log::PeerId;

use crate::{NetError, Result};

/// Something that happened on a transport.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TransportEvent {
    /// A peer connected.
    PeerUp(PeerId),
    /// A peer disconnected.
    PeerDown(PeerId),
    /// A frame arrived from a peer.
    Frame {
        /// The sender (authenticated by the transport's connection).
        from: PeerId,
        /// The frame's bytes.
        bytes: Vec<u8>,
    },
    /// The transport refused input from a peer (a hello that does not parse), for the engine
    /// to report; the error names the peer.
    Rejected(NetError),
}

/// A message transport between peers: sends whole frames, and reports frames received and
/// peers coming and going.
///
/// `send` and `broadcast` queue and return; they must not call back into the engine. The futures
/// need not be `Send`.
#[allow(async_fn_in_trait)]
pub trait Transport {
    /// Sends one frame to a connected peer.
    fn send(&self, to: PeerId, frame: Vec<u8>) -> Result<()>;

    /// The peers connected now.
    fn peers(&self) -> Vec<PeerId>;

    /// Sends one frame to every connected peer; returns to how many it was sent.
    fn broadcast(&self, frame: &[u8]) -> usize {
        self.peers().into_iter().filter(|p| self.send(*p, frame.to_vec()).is_ok()).count()
    }

    /// The next event if one is waiting.
    fn try_recv(&self) -> Option<TransportEvent>;

    /// The next event, waiting for one; `None` once the transport is closed.
    async fn recv(&self) -> Option<TransportEvent>;

    /// The engine's clock reached `now_ms` ([`SyncEngine::tick`](crate::SyncEngine::tick)
    /// calls it), for transports that do something in time (admission says hello again). Does
    /// nothing by default.
    fn tick(&self, now_ms: u64) {
        let _ = now_ms;
    }
}

impl<T: Transport + ?Sized> Transport for Rc<T> {
    fn send(&self, to: PeerId, frame: Vec<u8>) -> Result<()> {
        (**self).send(to, frame)
    }

    fn peers(&self) -> Vec<PeerId> {
        (**self).peers()
    }

    fn broadcast(&self, frame: &[u8]) -> usize {
        (**self).broadcast(frame)
    }

    fn try_recv(&self) -> Option<TransportEvent> {
        (**self).try_recv()
    }

    async fn recv(&self) -> Option<TransportEvent> {
        (**self).recv().await
    }

    fn tick(&self, now_ms: u64) {
        (**self).tick(now_ms)
    }
}
