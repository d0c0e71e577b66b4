//! The sync engine: a session per peer over a [`Replica`] and a [`Transport`].
//!
//! - **Connect**: when a peer comes up, the side with the smaller peer id starts a session. Which
//!   peers come up is the transport's business: behind an
//!   [`AdmittedTransport`](crate::transport::AdmittedTransport), only peers of the same group.
//! - **Session**: the initiator's [`Reconciler`] sends the first turn; turns go back and forth
//!   until both sides know the differences; then each side ships what the other lacks, in
//!   ascending id order, as segments packed in frames, the last frame marked. The receiver checks
//!   each segment ([`decode_segment`]) and applies it all or nothing through
//!   [`Replica::apply_remote`]; a bad segment is rejected with an error naming the peer.
//! - **Push** ([`SyncEngine::post`]): local writes are sent at once to every connected peer,
//!   outside any session (session 0).
//! - **Anti-entropy** ([`SyncEngine::tick`]): with `auto_sync`, a session with every peer every
//!   `sync_interval_ms`; sessions idle longer than `session_timeout_ms` are abandoned.
//!
//! Time comes only from [`SyncEngine::tick`], so a test drives it deterministically.
//!
//! Its parts, by job: the configuration (`config.rs`), the events and counters it reports
//! (`event.rs`), its state per peer and per round (`state.rs`); pushes, rounds and the clock
//! (`rounds.rs`); frames received and reconciliation turns (`session.rs`); shipping ops and
//! applying the ops received (`shipment.rs`); equivocations found, received and passed on
//! (`fork.rs`).
//!
//! [`decode_segment`]: auroradb_log::segment::decode_segment
//! [`Reconciler`]: crate::Reconciler

mod config;
mod event;
mod fork;
mod replay;
mod rounds;
mod session;
mod shipment;
mod state;

use std::cell::RefCell;

use auroradb_log::{OpId, PeerId};

use crate::frame::encode_frame;
use crate::transport::{Transport, TransportEvent};
use crate::{Body, Message, NetError, Replica, SyncError};
use state::{PeerState, State};

pub use config::SyncConfig;
pub use event::{EngineStats, SyncEvent, SyncReport};
pub use replay::REPLAY_WINDOW;
pub use state::SHIP_SLACK;

/// The events of an engine over the replica `S`.
pub type EngineEvent<S> = SyncEvent<<S as Replica>::Applied, <S as Replica>::Error>;

/// The sync engine of one peer. Methods take `&self`: the state is inside, and no borrow is held
/// across an `await`, so a database can call [`SyncEngine::post`] or [`SyncEngine::sync`] while
/// [`SyncEngine::run`] is receiving.
pub struct SyncEngine<S: Replica, T> {
    replica: S,
    transport: T,
    config: SyncConfig,
    state: RefCell<State<S::Applied, S::Error>>,
}

impl<S: Replica + core::fmt::Debug, T: core::fmt::Debug> core::fmt::Debug for SyncEngine<S, T> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("SyncEngine")
            .field("replica", &self.replica)
            .field("transport", &self.transport)
            .field("config", &self.config)
            .field("state", &self.state)
            .finish()
    }
}

impl<S: Replica, T: Transport> SyncEngine<S, T> {
    /// An engine for `replica` over `transport`.
    pub fn new(replica: S, transport: T, config: SyncConfig) -> SyncEngine<S, T> {
        SyncEngine { replica, transport, config: config.clamped(), state: RefCell::new(State::new()) }
    }

    /// The replica.
    pub fn replica(&self) -> &S {
        &self.replica
    }

    /// The transport.
    pub fn transport(&self) -> &T {
        &self.transport
    }

    /// The configuration in force (limits clamped).
    pub fn config(&self) -> &SyncConfig {
        &self.config
    }

    /// The peers connected now, as the engine knows them.
    pub fn peers(&self) -> Vec<PeerId> {
        self.state.borrow().peers.keys().copied().collect()
    }

    /// Traffic counters.
    pub fn stats(&self) -> EngineStats {
        self.state.borrow().stats
    }

    /// Takes the events that happened since the last call.
    pub fn drain_events(&self) -> Vec<EngineEvent<S>> {
        std::mem::take(&mut self.state.borrow_mut().events)
    }

    /// Whether a session with `peer` (either side's) is in progress.
    pub fn is_syncing_with(&self, peer: &PeerId) -> bool {
        self.state.borrow().peers.get(peer).is_some_and(|p| p.outgoing.is_some() || p.incoming.is_some())
    }

    /// Handles every event waiting on the transport; returns how many.
    pub async fn pump(&self) -> usize {
        let mut n = 0;
        while let Some(ev) = self.transport.try_recv() {
            self.handle(ev).await;
            n += 1;
        }
        n
    }

    /// Receives and handles events until the transport closes.
    pub async fn run(&self) {
        while let Some(ev) = self.transport.recv().await {
            self.handle(ev).await;
        }
    }

    /// Handles one transport event.
    pub async fn handle(&self, event: TransportEvent) {
        match event {
            TransportEvent::PeerUp(peer) => self.peer_up(peer),
            TransportEvent::PeerDown(peer) => self.peer_down(peer),
            TransportEvent::Frame { from, bytes } => self.frame(from, bytes).await,
            // Refused before any frame of the engine's (a bad hello): reported, not counted.
            TransportEvent::Rejected(e) => self.state.borrow_mut().events.push(SyncEvent::Error(SyncError::Net(e))),
        }
    }

    fn peer_up(&self, peer: PeerId) {
        let start = {
            let mut st = self.state.borrow_mut();
            if let Some(old) = st.peers.insert(peer, PeerState::default()) {
                for s in [old.outgoing, old.incoming].into_iter().flatten() {
                    st.abandon(peer, s);
                }
            }
            st.events.push(SyncEvent::Connection { peer });
            self.config.sync_on_connect && self.replica.local_peer() < peer
        };
        if start {
            self.start_round(&[peer], false);
        }
    }

    fn peer_down(&self, peer: PeerId) {
        let mut st = self.state.borrow_mut();
        if let Some(old) = st.peers.remove(&peer) {
            for s in [old.outgoing, old.incoming].into_iter().flatten() {
                st.abandon(peer, s);
            }
            st.events.push(SyncEvent::Disconnect { peer });
        }
    }

    fn send_msg(&self, st: &mut State<S::Applied, S::Error>, to: PeerId, msg: &Message) {
        st.seq += 1;
        match encode_frame(st.seq, msg, self.config.limits.max_frame) {
            Ok(frame) => self.send_frame(st, to, frame),
            Err(e) => st.error(e),
        }
    }

    /// Tells `to` of a shipping failure: it refused ops `to` shipped (`refused`), or it could not
    /// ship ops `to` lacks; `op` is the op concerned, `error` the failure as reported here.
    fn send_report(
        &self,
        st: &mut State<S::Applied, S::Error>,
        to: PeerId,
        refused: bool,
        op: Option<OpId>,
        error: &NetError,
    ) {
        let name = error.name().to_owned();
        let body = Body::Report(crate::Report { refused, op, name });
        self.send_msg(st, to, &Message { session: 0, initiator: true, body });
    }

    fn send_frame(&self, st: &mut State<S::Applied, S::Error>, to: PeerId, frame: Vec<u8>) {
        st.stats.frames_sent += 1;
        st.stats.bytes_sent += frame.len() as u64;
        if let Err(e) = self.transport.send(to, frame) {
            st.events.push(SyncEvent::Error(SyncError::Net(e)));
        }
    }
}
