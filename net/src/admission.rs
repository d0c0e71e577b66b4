//! Admission: which of the peers a transport links the sync engine hears of.
//!
//! A transport links every peer it can reach, and one signaling server or relay may serve many
//! databases. Before the engine hears of a peer, each side sends a [`Hello`] naming its sync
//! group; a peer is admitted once its hello names the same group. Peers of another group stay
//! linked but are ignored quietly: that is no error of either side, they only share a server.
//!
//! [`Admission`] is the state machine, sans-IO: transport events and ticks go in, [`Admit`]
//! steps come out (hellos to send, peers admitted or dropped, frames for the engine).
//! [`AdmittedTransport`](crate::transport::AdmittedTransport) runs it in front of any transport.
//!
//! Per link:
//!
//! ```text
//!              link up: hello (reply asked)
//!   Unknown ───────────────────────────────► Waiting { asked }
//!      ▲                                        │  tick, or an engine frame ahead of any
//!      │ link down                              │  hello: hello again (at most MAX_HELLOS)
//!      │ (from any state;                       │
//!      │  Admitted → Dropped)                   ├── hello of this group ──► Admitted { nonce }
//!                                               └── hello of another group ► OtherGroup
//!   Admitted { nonce } ── hello with a new nonce (the peer restarted) ──► Dropped, Admitted
//!   Admitted           ── hello of another group ───────────────────────► Dropped, OtherGroup
//!   OtherGroup         ── hello of this group ──────────────────────────► Admitted
//! ```
//!
//! A hello that asks for a reply is answered before the peer is admitted, so the answer leaves
//! ahead of the engine's first frame and the other side admits this one first. Engine frames
//! from a peer that is not admitted are dropped (a session that lost them is retried later).

use std::collections::BTreeMap;
use std::time::Duration;

use auroradb_log::codec::{decode_blob_v, encode_blob_v};
use auroradb_log::{ClockFn, PeerId, ntp_to_millis};
use serde::{Deserialize, Serialize};

use crate::NetError;
use crate::transport::TransportEvent;

/// Magic of a hello.
pub const MAGIC_HELLO: [u8; 4] = *b"AUhi";

/// The format version of hellos: 2 added the sender's time. A hello of version 1 is refused as
/// corrupt (from a build that also ships segments this one does not read).
pub const HELLO_VERSION: u8 = 2;

/// Hellos asking for an answer sent over one link before giving up on it (one per tick); a new
/// link-up starts over.
pub const MAX_HELLOS: u32 = 10;

/// A hello: who may sync with whom. On the wire: `AUhi`, the format version, then postcard
/// `{ reply: bool, group: string, nonce: [u8; 8], time: varint }` (see `docs/formats.md`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Hello {
    /// The receiver should answer with its own hello.
    pub reply: bool,
    /// Peers sync only within a group.
    pub group: String,
    /// Random per attachment: a new nonce from an admitted peer means it restarted, so its
    /// sessions and frame numbers start over.
    pub nonce: [u8; 8],
    /// The sender's physical clock when it sent the hello, in milliseconds since the Unix epoch
    /// (0: not told). A receiver whose clock is further from it than the drift bound reports it
    /// before any op is exchanged: the ops written on the clock ahead would be refused.
    pub time: u64,
}

impl Hello {
    /// The hello as a frame.
    pub fn encode(&self) -> Vec<u8> {
        encode_blob_v(MAGIC_HELLO, HELLO_VERSION, self)
    }

    /// A hello frame read back: `None` when `bytes` does not start with the hello magic (an
    /// engine frame starts with its length prefix), [`NetError::Corrupt`] when it does but is not
    /// a hello this build reads.
    pub fn decode(bytes: &[u8]) -> Option<Result<Hello, NetError>> {
        bytes.starts_with(&MAGIC_HELLO).then(|| {
            decode_blob_v("hello", MAGIC_HELLO, HELLO_VERSION, bytes).map_err(|e| NetError::corrupt("hello", e))
        })
    }
}

/// Where a link stands (see the module documentation).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkState {
    /// Not linked: never, or no longer.
    Unknown,
    /// Linked, no hello heard from it yet; `asked` hellos asking for an answer were sent.
    Waiting {
        /// Hellos sent asking for an answer.
        asked: u32,
    },
    /// Its hello named this group: the engine knows it.
    Admitted {
        /// The nonce of its hello (its attachment).
        nonce: [u8; 8],
    },
    /// Its hello named another group: ignored.
    OtherGroup,
}

/// What the driver of an [`Admission`] does next, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Admit {
    /// Send this hello frame to `to` (outside the engine).
    SendHello {
        /// The peer.
        to: PeerId,
        /// The encoded [`Hello`].
        frame: Vec<u8>,
    },
    /// The peer is admitted: tell the engine it is up.
    Admitted(PeerId),
    /// The admitted peer is gone, restarted or of another group now: tell the engine it is down.
    Dropped(PeerId),
    /// An engine frame from an admitted peer.
    Deliver {
        /// The sender.
        from: PeerId,
        /// The frame.
        bytes: Vec<u8>,
    },
    /// Something about a peer for the engine to report: a hello that does not parse (refused),
    /// or a clock further from this one's than the drift bound ([`NetError::ClockSkew`]; the
    /// peer is admitted all the same).
    Rejected(NetError),
}

/// The admission state machine of one peer (see the module documentation).
#[derive(Debug, Clone)]
pub struct Admission {
    hello: Hello,
    links: BTreeMap<PeerId, LinkState>,
    /// The physical clock the hellos tell, and the drift bound in milliseconds.
    clock: Option<(ClockFn, u64)>,
}

impl Admission {
    /// Admission to `group`, for an attachment identified by `nonce` (random per attachment:
    /// the caller draws it, so a test can fix it).
    pub fn new(group: impl Into<String>, nonce: [u8; 8]) -> Admission {
        Admission {
            hello: Hello { reply: false, group: group.into(), nonce, time: 0 },
            links: BTreeMap::new(),
            clock: None,
        }
    }

    /// Tells `clock` (the physical clock of the log's ids) in its hellos, and compares the
    /// peers' with it: a peer admitted with a clock more than `max_drift` away, either way, is
    /// reported ([`NetError::ClockSkew`]).
    pub fn with_clock(mut self, clock: ClockFn, max_drift: Duration) -> Admission {
        self.clock = Some((clock, max_drift.as_millis() as u64));
        self
    }

    fn now_ms(&self) -> u64 {
        self.clock.map_or(0, |(clock, _)| ntp_to_millis(clock().0))
    }

    /// The report on a peer whose hello told `time`, if its clock and this one are further
    /// apart than the drift bound. A hello that took long to arrive looks older than it is,
    /// so the bound (minutes) leaves room for that.
    fn skew(&self, time: u64) -> Option<NetError> {
        let (_, bound_ms) = self.clock?;
        let now = self.now_ms();
        if time == 0 || now == 0 {
            return None;
        }
        let (ahead_ms, local_ahead) = if time > now { (time - now, false) } else { (now - time, true) };
        (ahead_ms > bound_ms).then_some(NetError::ClockSkew { ahead_ms, bound_ms, local_ahead })
    }

    /// The group this peer syncs.
    pub fn group(&self) -> &str {
        &self.hello.group
    }

    /// Where the link to `peer` stands.
    pub fn state(&self, peer: &PeerId) -> LinkState {
        self.links.get(peer).copied().unwrap_or(LinkState::Unknown)
    }

    /// The admitted peers, ascending.
    pub fn admitted(&self) -> Vec<PeerId> {
        self.links.iter().filter(|(_, s)| matches!(s, LinkState::Admitted { .. })).map(|(p, _)| *p).collect()
    }

    /// Handles one event of the transport underneath.
    pub fn handle(&mut self, event: TransportEvent) -> Vec<Admit> {
        match event {
            TransportEvent::PeerUp(peer) => self.link_up(peer),
            TransportEvent::PeerDown(peer) => self.link_down(peer),
            TransportEvent::Frame { from, bytes } => self.frame(from, bytes),
            TransportEvent::Rejected(e) => vec![Admit::Rejected(e)],
        }
    }

    /// The transport linked `peer`: say hello, asking for an answer. A link already known keeps
    /// its state (an admitted peer stays admitted).
    pub fn link_up(&mut self, peer: PeerId) -> Vec<Admit> {
        let state = self.links.entry(peer).or_insert(LinkState::Waiting { asked: 0 });
        if let LinkState::Waiting { asked } = state {
            *asked += 1;
        }
        vec![self.hello_to(peer, true)]
    }

    /// The transport lost `peer`: forgotten, dropped from the engine if it was admitted.
    pub fn link_down(&mut self, peer: PeerId) -> Vec<Admit> {
        match self.links.remove(&peer) {
            Some(LinkState::Admitted { .. }) => vec![Admit::Dropped(peer)],
            _ => Vec::new(),
        }
    }

    /// A frame from `from`: a hello, or an engine frame delivered once `from` is admitted.
    pub fn frame(&mut self, from: PeerId, bytes: Vec<u8>) -> Vec<Admit> {
        match Hello::decode(&bytes) {
            Some(Ok(hello)) => return self.hello_from(from, hello),
            Some(Err(e)) => return vec![Admit::Rejected(e.from_peer(from))],
            None => {}
        }
        match self.links.entry(from).or_insert(LinkState::Waiting { asked: 0 }) {
            LinkState::Admitted { .. } => vec![Admit::Deliver { from, bytes }],
            // A frame ahead of the peer's hello (ours or theirs was lost): ask again; the frame
            // is dropped, and its session is retried later.
            LinkState::Waiting { asked } if *asked < MAX_HELLOS => {
                *asked += 1;
                vec![self.hello_to(from, true)]
            }
            _ => Vec::new(),
        }
    }

    /// The clock: says hello again over links that have not answered yet.
    pub fn tick(&mut self) -> Vec<Admit> {
        let mut again = Vec::new();
        for (peer, state) in self.links.iter_mut() {
            if let LinkState::Waiting { asked } = state
                && *asked < MAX_HELLOS
            {
                *asked += 1;
                again.push(*peer);
            }
        }
        again.into_iter().map(|p| self.hello_to(p, true)).collect()
    }

    /// Forgets every link (the transport closed), without dropping anyone.
    pub fn clear(&mut self) {
        self.links.clear();
    }

    fn hello_from(&mut self, from: PeerId, hello: Hello) -> Vec<Admit> {
        let state = self.links.entry(from).or_insert(LinkState::Waiting { asked: 0 });
        let was = *state;
        let mut out = Vec::new();
        if hello.group != self.hello.group {
            // A peer of another group (a shared server links everyone): ignored, unanswered.
            *state = LinkState::OtherGroup;
            if matches!(was, LinkState::Admitted { .. }) {
                out.push(Admit::Dropped(from));
            }
            return out;
        }
        *state = LinkState::Admitted { nonce: hello.nonce };
        let admit = match was {
            LinkState::Admitted { nonce } if nonce == hello.nonce => false,
            LinkState::Admitted { .. } => {
                // The peer restarted: its sessions and frame numbers start over.
                out.push(Admit::Dropped(from));
                true
            }
            _ => true,
        };
        if hello.reply {
            out.push(self.hello_to(from, false));
        }
        if admit {
            out.push(Admit::Admitted(from));
            if let Some(e) = self.skew(hello.time) {
                out.push(Admit::Rejected(e.from_peer(from)));
            }
        }
        out
    }

    fn hello_to(&self, to: PeerId, reply: bool) -> Admit {
        Admit::SendHello { to, frame: Hello { reply, time: self.now_ms(), ..self.hello.clone() }.encode() }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: PeerId = PeerId([0xa1; 16]);
    const B: PeerId = PeerId([0xb0; 16]);

    fn hello(reply: bool, group: &str, nonce: u8) -> Vec<u8> {
        Hello { reply, group: group.into(), nonce: [nonce; 8], time: 0 }.encode()
    }

    fn sends(out: &[Admit]) -> Vec<Hello> {
        out.iter()
            .filter_map(|a| match a {
                Admit::SendHello { frame, .. } => Some(Hello::decode(frame).unwrap().unwrap()),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn hellos_round_trip_and_refuse_what_they_are_not() {
        let h = Hello { reply: true, group: "app".into(), nonce: [9; 8], time: 1_700_000_000_000 };
        let bytes = h.encode();
        assert!(bytes.starts_with(&MAGIC_HELLO));
        assert_eq!(Hello::decode(&bytes).unwrap().unwrap(), h);
        // An engine frame starts with its length prefix: not a hello.
        assert!(Hello::decode(&[10, 0, 0, 0, b'A', b'U', b's', b'y', 1]).is_none());
        // A hello that does not parse, or one of a version this build does not know.
        let cut = Hello::decode(&bytes[..bytes.len() - 1]).unwrap();
        assert!(matches!(cut, Err(NetError::Corrupt { what: "hello", .. })), "{cut:?}");
        let mut newer = bytes.clone();
        newer[4] = 99;
        assert!(Hello::decode(&newer).unwrap().is_err());
        // Version 1, without the time, is refused too.
        let mut older = bytes.clone();
        older[4] = 1;
        assert!(Hello::decode(&older).unwrap().is_err());
    }

    const T0: u64 = 1_700_000_000_000;
    fn now() -> auroradb_log::NTP64 {
        auroradb_log::NTP64(auroradb_log::millis_to_ntp(T0))
    }
    fn ten_minutes_ahead() -> auroradb_log::NTP64 {
        auroradb_log::NTP64(auroradb_log::millis_to_ntp(T0 + 600_000))
    }
    fn four_minutes_ahead() -> auroradb_log::NTP64 {
        auroradb_log::NTP64(auroradb_log::millis_to_ntp(T0 + 240_000))
    }

    /// Admits `b` at `a` and `a` at `b` through their hellos; returns what each reported.
    fn admit_both(a: &mut Admission, b: &mut Admission) -> (Vec<NetError>, Vec<NetError>) {
        let reports = |out: &[Admit]| {
            out.iter().filter_map(|s| if let Admit::Rejected(e) = s { Some(e.clone()) } else { None }).collect()
        };
        let Admit::SendHello { frame, .. } = &a.link_up(B)[0] else { unreachable!() };
        let out = b.frame(A, frame.clone());
        let at_b: Vec<NetError> = reports(&out);
        let Admit::SendHello { frame, .. } = &out[0] else { unreachable!() };
        let out = a.frame(B, frame.clone());
        (reports(&out), at_b)
    }

    #[test]
    fn clocks_further_apart_than_the_drift_bound_are_reported_by_both_peers_on_admission() {
        let bound = Duration::from_secs(300);
        let mut a = Admission::new("app", [1; 8]).with_clock(ten_minutes_ahead, bound);
        let mut b = Admission::new("app", [2; 8]).with_clock(now, bound);
        let (at_a, at_b) = admit_both(&mut a, &mut b);
        assert_eq!((a.admitted(), b.admitted()), (vec![B], vec![A]), "admitted all the same");
        let skew = |local_ahead| NetError::ClockSkew { ahead_ms: 600_000, bound_ms: 300_000, local_ahead };
        assert_eq!(at_a, [skew(true).from_peer(B)], "the peer ahead learns it");
        assert_eq!(at_b, [skew(false).from_peer(A)], "the peer behind learns it");
        assert_eq!(at_a[0].name(), "ClockDrift");
        assert!(at_a[0].to_string().contains("this clock is 600000 ms ahead"), "{}", at_a[0]);
        // Hellos again (a tick, an answer) report nothing more: once per admission.
        let again = b.frame(A, Hello { reply: false, group: "app".into(), nonce: [1; 8], time: T0 + 600_000 }.encode());
        assert!(again.is_empty(), "{again:?}");

        // Within the bound, or with a clock that is not told, nothing is reported.
        let mut a = Admission::new("app", [1; 8]).with_clock(four_minutes_ahead, bound);
        let mut b = Admission::new("app", [2; 8]).with_clock(now, bound);
        assert_eq!(admit_both(&mut a, &mut b), (vec![], vec![]));
        let mut a = Admission::new("app", [1; 8]);
        let mut b = Admission::new("app", [2; 8]).with_clock(now, bound);
        assert_eq!(admit_both(&mut a, &mut b), (vec![], vec![]));
    }

    #[test]
    fn two_peers_of_one_group_admit_each_other() {
        let (mut a, mut b) = (Admission::new("app", [1; 8]), Admission::new("app", [2; 8]));
        let out = a.link_up(B);
        assert_eq!(sends(&out), [Hello { reply: true, group: "app".into(), nonce: [1; 8], time: 0 }]);
        assert_eq!(a.state(&B), LinkState::Waiting { asked: 1 });
        let Admit::SendHello { frame, .. } = &out[0] else { unreachable!() };
        // B answers before it admits A, so the answer leaves ahead of B's engine frames.
        let out = b.frame(A, frame.clone());
        assert!(!sends(&out)[0].reply, "an answer asks for none");
        assert_eq!(out[1], Admit::Admitted(A));
        assert_eq!(b.state(&A), LinkState::Admitted { nonce: [1; 8] });
        let Admit::SendHello { frame, .. } = &out[0] else { unreachable!() };
        assert_eq!(a.frame(B, frame.clone()), [Admit::Admitted(B)]);
        assert_eq!((a.admitted(), b.admitted()), (vec![B], vec![A]));
        // The same hello again changes nothing; engine frames now go through.
        assert!(a.frame(B, frame.clone()).is_empty());
        assert_eq!(a.frame(B, vec![1, 2]), [Admit::Deliver { from: B, bytes: vec![1, 2] }]);
        assert!(a.tick().is_empty(), "an admitted link is not asked again");
        assert_eq!(a.link_down(B), [Admit::Dropped(B)]);
        assert_eq!(a.state(&B), LinkState::Unknown);
        assert!(a.link_down(B).is_empty());
    }

    #[test]
    fn peers_of_another_group_are_ignored_quietly() {
        let mut a = Admission::new("app", [1; 8]);
        a.link_up(B);
        assert!(a.frame(B, hello(true, "other", 2)).is_empty(), "no answer, no event");
        assert_eq!(a.state(&B), LinkState::OtherGroup);
        assert!(a.frame(B, vec![1, 2]).is_empty(), "its frames are dropped");
        assert!(a.tick().is_empty(), "and it is not asked again");
        assert!(a.link_down(B).is_empty());
        // An admitted peer that turns up in another group is dropped.
        a.frame(B, hello(false, "app", 2));
        assert_eq!(a.frame(B, hello(false, "other", 2)), [Admit::Dropped(B)]);
        assert!(a.admitted().is_empty());
    }

    #[test]
    fn a_restarted_peer_is_dropped_and_admitted_again() {
        let mut a = Admission::new("app", [1; 8]);
        a.link_up(B);
        assert_eq!(a.frame(B, hello(false, "app", 2)), [Admit::Admitted(B)]);
        let out = a.frame(B, hello(true, "app", 3));
        assert_eq!(out.len(), 3);
        assert_eq!(out[0], Admit::Dropped(B));
        assert!(!sends(&out[1..2])[0].reply);
        assert_eq!(out[2], Admit::Admitted(B));
        assert_eq!(a.state(&B), LinkState::Admitted { nonce: [3; 8] });
    }

    #[test]
    fn silent_links_are_asked_a_bounded_number_of_times() {
        let mut a = Admission::new("app", [1; 8]);
        a.link_up(B);
        // An engine frame ahead of any hello: dropped, and hello again.
        let out = a.frame(B, vec![9, 0, 0, 0]);
        assert_eq!(sends(&out).len(), 1);
        let mut asked = 2;
        while !a.tick().is_empty() {
            asked += 1;
        }
        assert_eq!(asked, MAX_HELLOS);
        assert!(a.frame(B, vec![9, 0, 0, 0]).is_empty());
        // The adapter reporting the link up again is worth one more hello, not a new budget ...
        assert_eq!(sends(&a.link_up(B)).len(), 1);
        assert!(a.tick().is_empty());
        // ... but a link that went down and came back starts over.
        a.link_down(B);
        a.link_up(B);
        assert_eq!(a.state(&B), LinkState::Waiting { asked: 1 });
    }

    #[test]
    fn a_bad_hello_is_rejected_naming_the_peer() {
        let mut a = Admission::new("app", [1; 8]);
        let out = a.frame(B, b"AUhi\x01".to_vec());
        let [Admit::Rejected(e)] = out.as_slice() else { panic!("{out:?}") };
        assert_eq!(e.peer(), Some(B));
        assert!(matches!(e.inner(), NetError::Corrupt { what: "hello", .. }));
        assert_eq!(a.state(&B), LinkState::Unknown);
    }
}
