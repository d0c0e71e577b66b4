//! An in-memory network of peers with seeded fault injection: dropped, duplicated, delayed and
//! reordered frames, and partitions. Deterministic: the same seed and the same calls give the
//! same deliveries.
//!
//! Frames sent are held in flight until [`MemoryNetwork::step`] (or
//! [`MemoryNetwork::deliver_all`]) moves them into the recipient's inbox, which its
//! [`MemoryTransport`] reads.

use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::rc::Rc;
use std::task::{Poll, Waker};

use auroradb_log::PeerId;

use super::{Transport, TransportEvent};
use crate::rng::SplitMix64;
use crate::{NetError, Result};

/// Which faults the network injects, as probabilities per frame.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Faults {
    /// Probability that a frame is lost.
    pub drop: f64,
    /// Probability that a frame is delivered twice.
    pub duplicate: f64,
    /// Probability that a frame is held back behind later ones.
    pub reorder: f64,
    /// Largest extra delay, in steps, of a held-back frame.
    pub max_delay: u64,
}

impl Faults {
    /// No faults: every frame is delivered once, in order.
    pub const NONE: Faults = Faults { drop: 0.0, duplicate: 0.0, reorder: 0.0, max_delay: 0 };
}

/// Counters of what the network did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct NetworkStats {
    /// Frames sent.
    pub sent: u64,
    /// Bytes sent.
    pub bytes: u64,
    /// Frames delivered.
    pub delivered: u64,
    /// Frames dropped by faults or partitions.
    pub dropped: u64,
    /// Extra copies delivered.
    pub duplicated: u64,
}

#[derive(Debug)]
struct Flight {
    due: u64,
    order: u64,
    from: PeerId,
    to: PeerId,
    bytes: Vec<u8>,
}

#[derive(Debug, Default)]
struct Inbox {
    events: VecDeque<TransportEvent>,
    waker: Option<Waker>,
    links: BTreeSet<PeerId>,
    closed: bool,
}

#[derive(Debug)]
struct Net {
    rng: SplitMix64,
    faults: Faults,
    inboxes: BTreeMap<PeerId, Inbox>,
    flights: Vec<Flight>,
    clock: u64,
    order: u64,
    cut: BTreeSet<(PeerId, PeerId)>,
    stats: NetworkStats,
    auto: bool,
}

impl Net {
    fn push_event(&mut self, to: PeerId, ev: TransportEvent) {
        if let Some(inbox) = self.inboxes.get_mut(&to) {
            inbox.events.push_back(ev);
            if let Some(w) = inbox.waker.take() {
                w.wake();
            }
        }
    }

    fn is_cut(&self, a: PeerId, b: PeerId) -> bool {
        self.cut.contains(&(a.min(b), a.max(b)))
    }
}

/// The network: create endpoints, connect them, set faults and partitions, and step deliveries.
/// Cloning gives another handle to the same network.
#[derive(Debug, Clone)]
pub struct MemoryNetwork {
    net: Rc<RefCell<Net>>,
}

impl MemoryNetwork {
    /// A network whose faults draw from a generator seeded with `seed`.
    pub fn new(seed: u64) -> MemoryNetwork {
        MemoryNetwork {
            net: Rc::new(RefCell::new(Net {
                rng: SplitMix64::new(seed),
                faults: Faults::NONE,
                inboxes: BTreeMap::new(),
                flights: Vec::new(),
                clock: 0,
                order: 0,
                cut: BTreeSet::new(),
                stats: NetworkStats::default(),
                auto: false,
            })),
        }
    }

    /// The endpoint of `peer` (created on first use).
    pub fn endpoint(&self, peer: PeerId) -> MemoryTransport {
        self.net.borrow_mut().inboxes.entry(peer).or_default();
        MemoryTransport { peer, net: self.net.clone() }
    }

    /// Connects `a` and `b`: each receives [`TransportEvent::PeerUp`] for the other.
    pub fn connect(&self, a: PeerId, b: PeerId) {
        let mut net = self.net.borrow_mut();
        for (x, y) in [(a, b), (b, a)] {
            let inbox = net.inboxes.entry(x).or_default();
            if inbox.links.insert(y) {
                net.push_event(x, TransportEvent::PeerUp(y));
            }
        }
    }

    /// Whether `a` and `b` are linked.
    pub fn linked(&self, a: PeerId, b: PeerId) -> bool {
        self.net.borrow().inboxes.get(&a).is_some_and(|i| i.links.contains(&b))
    }

    /// Disconnects `a` and `b`: each receives [`TransportEvent::PeerDown`] for the other, and the
    /// frames in flight between them are lost.
    pub fn disconnect(&self, a: PeerId, b: PeerId) {
        let mut net = self.net.borrow_mut();
        for (x, y) in [(a, b), (b, a)] {
            if net.inboxes.get_mut(&x).is_some_and(|i| i.links.remove(&y)) {
                net.push_event(x, TransportEvent::PeerDown(y));
            }
        }
        let before = net.flights.len();
        net.flights.retain(|f| !((f.from == a && f.to == b) || (f.from == b && f.to == a)));
        net.stats.dropped += (before - net.flights.len()) as u64;
    }

    /// Sets the faults injected from now on.
    pub fn set_faults(&self, faults: Faults) {
        self.net.borrow_mut().faults = faults;
    }

    /// Cuts the network into `groups`: frames between peers of different groups are lost
    /// (silently: the connections stay up). Peers in no group keep all their links.
    pub fn partition(&self, groups: &[Vec<PeerId>]) {
        let mut net = self.net.borrow_mut();
        net.cut.clear();
        for (i, g) in groups.iter().enumerate() {
            for h in &groups[i + 1..] {
                for a in g {
                    for b in h {
                        net.cut.insert(((*a).min(*b), (*a).max(*b)));
                    }
                }
            }
        }
    }

    /// With `auto`, frames are delivered into the recipient's inbox as they are sent (faults
    /// still apply, delays do not), waking a task waiting in [`Transport::recv`]: for engines
    /// driven by an executor rather than by [`MemoryNetwork::step`].
    pub fn set_auto_deliver(&self, auto: bool) {
        self.net.borrow_mut().auto = auto;
    }

    /// Removes every partition.
    pub fn heal(&self) {
        self.net.borrow_mut().cut.clear();
    }

    /// Frames in flight.
    pub fn in_flight(&self) -> usize {
        self.net.borrow().flights.len()
    }

    /// What the network did so far.
    pub fn stats(&self) -> NetworkStats {
        self.net.borrow().stats
    }

    /// Delivers the next frame due (advancing the network's clock to it), into its recipient's
    /// inbox; returns the recipient, or `None` when nothing is in flight. Frames lost to a
    /// partition or a closed link are dropped here.
    pub fn step(&self) -> Option<PeerId> {
        let mut net = self.net.borrow_mut();
        loop {
            let i = (0..net.flights.len()).min_by_key(|&i| (net.flights[i].due, net.flights[i].order))?;
            let f = net.flights.swap_remove(i);
            net.clock = net.clock.max(f.due);
            let linked = net.inboxes.get(&f.to).is_some_and(|i| i.links.contains(&f.from));
            if !linked || net.is_cut(f.from, f.to) {
                net.stats.dropped += 1;
                continue;
            }
            net.stats.delivered += 1;
            net.push_event(f.to, TransportEvent::Frame { from: f.from, bytes: f.bytes });
            return Some(f.to);
        }
    }

    /// Delivers every frame in flight (including those sent meanwhile by no one: delivery does not
    /// run any engine); returns how many were delivered.
    pub fn deliver_all(&self) -> usize {
        let mut n = 0;
        while self.step().is_some() {
            n += 1;
        }
        n
    }

    /// Queues a frame from `from` to `to` as if `from` had sent it (for tests that play a
    /// misbehaving peer), bypassing fault injection.
    pub fn inject(&self, from: PeerId, to: PeerId, bytes: Vec<u8>) {
        let mut net = self.net.borrow_mut();
        let (due, order) = (net.clock, net.order);
        net.order += 1;
        net.flights.push(Flight { due, order, from, to, bytes });
    }

    fn send(&self, from: PeerId, to: PeerId, bytes: Vec<u8>) -> Result<()> {
        let mut net = self.net.borrow_mut();
        if !net.inboxes.get(&from).is_some_and(|i| i.links.contains(&to)) {
            return Err(NetError::NotConnected(to));
        }
        net.stats.sent += 1;
        net.stats.bytes += bytes.len() as u64;
        let faults = net.faults;
        if net.rng.chance(faults.drop) {
            net.stats.dropped += 1;
            return Ok(());
        }
        let copies = if net.rng.chance(faults.duplicate) { 2 } else { 1 };
        net.stats.duplicated += copies - 1;
        for _ in 0..copies {
            let delay = if faults.max_delay > 0 && net.rng.chance(faults.reorder) {
                net.rng.range(1, faults.max_delay)
            } else {
                0
            };
            let (due, order) = (net.clock + delay, net.order);
            net.order += 1;
            net.flights.push(Flight { due, order, from, to, bytes: bytes.clone() });
        }
        if net.auto {
            drop(net);
            while self.step().is_some() {}
        }
        Ok(())
    }
}

/// One peer's endpoint of a [`MemoryNetwork`].
#[derive(Debug, Clone)]
pub struct MemoryTransport {
    peer: PeerId,
    net: Rc<RefCell<Net>>,
}

impl MemoryTransport {
    /// The peer this endpoint belongs to.
    pub fn peer(&self) -> PeerId {
        self.peer
    }

    /// Events waiting in the inbox.
    pub fn pending(&self) -> usize {
        self.net.borrow().inboxes.get(&self.peer).map_or(0, |i| i.events.len())
    }

    /// Closes the endpoint: [`Transport::recv`] returns `None` once the inbox is empty.
    pub fn close(&self) {
        let mut net = self.net.borrow_mut();
        if let Some(inbox) = net.inboxes.get_mut(&self.peer) {
            inbox.closed = true;
            if let Some(w) = inbox.waker.take() {
                w.wake();
            }
        }
    }
}

impl Transport for MemoryTransport {
    fn send(&self, to: PeerId, frame: Vec<u8>) -> Result<()> {
        MemoryNetwork { net: self.net.clone() }.send(self.peer, to, frame)
    }

    fn peers(&self) -> Vec<PeerId> {
        self.net.borrow().inboxes.get(&self.peer).map(|i| i.links.iter().copied().collect()).unwrap_or_default()
    }

    fn try_recv(&self) -> Option<TransportEvent> {
        self.net.borrow_mut().inboxes.get_mut(&self.peer)?.events.pop_front()
    }

    async fn recv(&self) -> Option<TransportEvent> {
        std::future::poll_fn(|cx| {
            let mut net = self.net.borrow_mut();
            let Some(inbox) = net.inboxes.get_mut(&self.peer) else { return Poll::Ready(None) };
            match inbox.events.pop_front() {
                Some(ev) => Poll::Ready(Some(ev)),
                None if inbox.closed => Poll::Ready(None),
                None => {
                    inbox.waker = Some(cx.waker().clone());
                    Poll::Pending
                }
            }
        })
        .await
    }
}
