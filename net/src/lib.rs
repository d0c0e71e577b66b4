//! # auroradb-net
//!
//! AuroraDB's peer-to-peer sync. Peers find the ops they lack by range-based set reconciliation
//! over the log's blake3 range fingerprints ([`Reconciler`]), then ship them as segments
//! ([`ship::Packer`]) that the receiver checks op by op before applying anything.
//!
//! The protocol is sans-IO: a [`Reconciler`] turns one [`Reconcile`] turn into the next, over any
//! [`RangeIndex`] (implemented for [`auroradb_log::Log`]). The [`SyncEngine`] runs sessions over a
//! [`Replica`] (the database) and a [`Transport`]; [`transport::memory`] is an in-memory
//! transport with fault injection. Which linked peers the engine hears of is decided by
//! [`Admission`] (a hello naming the sync group), run in front of a transport by
//! [`AdmittedTransport`]. An author proven to have signed two different ops at one seq (an
//! [`auroradb_log::Equivocation`]) is frozen there by every engine that learns of it, which
//! passes the proof on ([`Body::Equivocation`]), so honest replicas still converge.
//!
//! A whole two-peer handshake over the sans-IO API, frames included:
//!
//! ```
//! use auroradb_log::segment::{SegmentLimits, decode_proven_segment};
//! use auroradb_log::{Hlc, Identity, Log, LogConfig, OpKind, Value, manual_clock, set_manual_clock};
//! use auroradb_net::frame::{decode_frame, encode_frame};
//! use auroradb_net::ship::Packer;
//! use auroradb_net::{Body, FrameLimits, Message, ReconcileConfig, Reconciler};
//!
//! set_manual_clock(1_700_000_000_000);
//! let config = LogConfig::default();
//! let new_log = || {
//!     let me = Identity::generate();
//!     let mut log = Log::new(Hlc::new(me.peer(), manual_clock, config.max_drift), config);
//!     log.set_identity(me).unwrap(); // local ops are proven with its signature
//!     log
//! };
//! let (mut alice, mut bob) = (new_log(), new_log());
//! for i in 0..100 {
//!     let op = alice.append(OpKind::Put { key: format!("k{i}"), value: Value::Int(i) }).unwrap();
//!     if i < 90 {
//!         bob.insert_remote(vec![op]).unwrap(); // bob already has the first 90
//!     }
//! }
//! bob.append(OpKind::Remove { key: "k3".into() }).unwrap(); // and one op of his own
//!
//! let limits = FrameLimits::default();
//! let wire = |msg: Message| -> Message {
//!     let frame = encode_frame(1, &msg, limits.max_frame).unwrap();
//!     decode_frame(&frame, limits.max_frame).unwrap().1
//! };
//! let turn = |body: Body| Message { session: 1, initiator: true, body };
//!
//! // Alice starts: the fingerprint of her whole log.
//! let mut a = Reconciler::new(ReconcileConfig::default(), true);
//! let mut b = Reconciler::new(ReconcileConfig::default(), false);
//! let mut msg = wire(turn(Body::Reconcile(a.initiate(&alice))));
//! let mut round_trips = 0;
//! // Turns go back and forth until neither side has anything to answer.
//! loop {
//!     let Body::Reconcile(t) = msg.body else { unreachable!() };
//!     let (me, log) = if msg.initiator { (&mut b, &bob) } else { (&mut a, &alice) };
//!     let Some(answer) = me.handle(log, &t).unwrap() else { break };
//!     round_trips += !msg.initiator as u32;
//!     msg = wire(Message { initiator: !msg.initiator, ..turn(Body::Reconcile(answer)) });
//! }
//! assert!(a.is_done() && b.is_done());
//! assert_eq!(a.have().len(), 10); // alice ships her 10 newest ops
//! assert_eq!(b.have().len(), 1); // bob ships his remove
//! assert!(round_trips <= 3);
//!
//! // Each side ships what the other lacks, as checked segments that carry the proof of each
//! // author's last op.
//! let ship = |from: &Log, ids: Vec<_>| {
//!     let mut packer = Packer::new(limits);
//!     let prove = |id: &_| from.proof_of(id);
//!     for id in ids {
//!         packer.push((id, from.bytes_of(&id).unwrap().to_vec(), *from.hash_of(&id).unwrap()), &prove).unwrap();
//!     }
//!     let mut received = Vec::new();
//!     for body in packer.finish(true, &prove) {
//!         // Small ops: every body is an ops message (an op larger than a frame would come
//!         // as `Body::Piece`s).
//!         let Body::Ops(ops) = wire(turn(body)).body else { unreachable!() };
//!         for segment in ops.segments {
//!             received.push(decode_proven_segment(&segment, SegmentLimits::default()).unwrap());
//!         }
//!     }
//!     received
//! };
//! // Each receiver checks the chains and the proofs before adding anything.
//! for (ops, proofs) in ship(&alice, a.take_have()) {
//!     bob.insert_proven(ops, &proofs).unwrap();
//! }
//! for (ops, proofs) in ship(&bob, b.take_have()) {
//!     alice.insert_proven(ops, &proofs).unwrap();
//! }
//! assert_eq!(alice.fingerprint(..), bob.fingerprint(..));
//! assert_eq!(alice.len(), 101);
//! ```

pub mod admission;
mod engine;
mod error;
pub mod frame;
mod index;
mod message;
mod reconcile;
mod replica;
pub mod rng;
pub mod ship;
pub mod transport;

pub use admission::{Admission, Hello};
pub use engine::{EngineEvent, EngineStats, REPLAY_WINDOW, SHIP_SLACK, SyncConfig, SyncEngine, SyncEvent, SyncReport};
pub use error::{NetError, Result, SyncError};
pub use frame::FrameLimits;
pub use index::{IdRange, RangeIndex};
pub use message::{Body, MAX_REPORT_NAME, Message, Mode, Ops, Piece, RangeItem, Reconcile, Report};
pub use reconcile::{PairOutcome, ReconcileConfig, Reconciler, reconcile_pair};
pub use replica::{ApplyHook, ApplyOutcome, MemoryReplica, Replica, ReplicaError, ResetHook, check_waiting};
pub use transport::{AdmittedTransport, Transport, TransportEvent};
#[cfg(feature = "sim")]
pub mod fuzz;
#[cfg(feature = "sim")]
pub mod sim;
