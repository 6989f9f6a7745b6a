//! A UDP fault proxy between two test-mode daemons: this machine's kernel
//! has no `netem`, and iroh is QUIC over UDP, so a relay of datagrams that
//! sees every packet can delay, drop, duplicate and reorder them, or drop
//! them all (a partition).
//!
//! Each daemon is given the proxy's address as its peer's. The two daemons
//! must not be able to reach each other directly, or iroh's hole punching
//! finds the direct path and leaves the proxy out: one side binds the IPv6
//! loopback and the other the IPv4 one, so a direct datagram has no route.
//! Side A talks to [`FaultProxy::for_a`] (`[::1]`), side B to
//! [`FaultProxy::for_b`] (`127.0.0.1`); whatever arrives on one side leaves
//! from the other.
//!
//! Every fault is drawn from a seeded generator, one per direction, so a
//! given sequence of packets meets the same faults on every run (when each
//! packet arrives is still up to the daemons).

use std::collections::{BTreeMap, BTreeSet};
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, UdpSocket};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use rand::{Rng, SeedableRng, rngs::StdRng};

/// What the link does to each datagram, in both directions alike.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Faults {
    /// Share of datagrams dropped, 0 to 1.
    pub loss: f64,
    /// Every datagram waits this long...
    pub delay: Duration,
    /// ...give or take up to this much, drawn uniformly: datagrams that
    /// draw different delays overtake each other.
    pub jitter: Duration,
    /// Share of datagrams sent twice (each copy with its own delay).
    pub duplicate: f64,
    /// Share of datagrams held back by an extra `delay`, so that later ones
    /// pass them even without jitter.
    pub reorder: f64,
}

/// What one direction of the proxy saw.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Counts {
    pub received: u64,
    pub forwarded: u64,
    pub dropped: u64,
    pub duplicated: u64,
    /// Datagrams sent after one that arrived later than them.
    pub reordered: u64,
    /// Distinct destination connection ids of QUIC Initial packets: about
    /// one per connection attempt (see [`initial_dcid`]).
    pub initials: BTreeSet<Vec<u8>>,
}

/// The knobs, shared with the forwarding threads.
#[derive(Debug, Default)]
struct Knobs {
    faults: Faults,
    partitioned: bool,
    /// Partition once this many more bulk datagrams went from A to B.
    cut_after: Option<u64>,
    /// Where each side's daemon is; nothing is forwarded before both are
    /// known.
    a: Option<SocketAddr>,
    b: Option<SocketAddr>,
}

pub struct FaultProxy {
    for_a: SocketAddr,
    for_b: SocketAddr,
    knobs: Arc<Mutex<Knobs>>,
    /// Per direction: 0 is A to B, 1 is B to A.
    counts: [Arc<Mutex<Counts>>; 2],
    stop: Arc<AtomicBool>,
    threads: Vec<JoinHandle<()>>,
}

impl FaultProxy {
    /// Binds both sides and starts forwarding (once [`FaultProxy::route`]
    /// says where the daemons are). `seed` fixes every fault drawn.
    pub fn start(seed: u64) -> FaultProxy {
        let sock_a = UdpSocket::bind((Ipv6Addr::LOCALHOST, 0)).expect("bind [::1]");
        let sock_b = UdpSocket::bind((Ipv4Addr::LOCALHOST, 0)).expect("bind 127.0.0.1");
        let for_a = sock_a.local_addr().unwrap();
        let for_b = sock_b.local_addr().unwrap();
        let knobs: Arc<Mutex<Knobs>> = Arc::default();
        let counts: [Arc<Mutex<Counts>>; 2] = Default::default();
        let stop = Arc::new(AtomicBool::new(false));
        let mut threads = Vec::new();
        for dir in 0..2 {
            let (from, to) = if dir == 0 {
                (&sock_a, &sock_b)
            } else {
                (&sock_b, &sock_a)
            };
            let from = from.try_clone().unwrap();
            let to = to.try_clone().unwrap();
            let knobs = Arc::clone(&knobs);
            let counts = Arc::clone(&counts[dir]);
            let stop = Arc::clone(&stop);
            let rng = StdRng::seed_from_u64(seed.wrapping_mul(2).wrapping_add(dir as u64));
            threads.push(
                std::thread::Builder::new()
                    .name(format!("fault-proxy-{dir}"))
                    .spawn(move || forward(dir, from, to, knobs, counts, stop, rng))
                    .unwrap(),
            );
        }
        FaultProxy {
            for_a,
            for_b,
            knobs,
            counts,
            stop,
            threads,
        }
    }

    /// The address side A dials to reach B (IPv6 loopback).
    pub fn for_a(&self) -> SocketAddr {
        self.for_a
    }

    /// The address side B dials to reach A (IPv4 loopback).
    pub fn for_b(&self) -> SocketAddr {
        self.for_b
    }

    /// Where the two daemons listen.
    pub fn route(&self, a: SocketAddr, b: SocketAddr) {
        assert!(a.is_ipv6() && b.is_ipv4(), "A on [::1], B on 127.0.0.1");
        let mut k = self.knobs.lock().unwrap();
        k.a = Some(a);
        k.b = Some(b);
    }

    pub fn set_faults(&self, faults: Faults) {
        self.knobs.lock().unwrap().faults = faults;
    }

    /// Drops every datagram from now on, or stops doing so. Datagrams
    /// already delayed still arrive, as they would on a real link.
    pub fn partition(&self, on: bool) {
        self.knobs.lock().unwrap().partitioned = on;
    }

    /// Partitions the link by itself once `n` more bulk datagrams (short
    /// header, 1000 bytes or more: journal data, not handshakes) went from
    /// A to B, to cut a transfer in its middle.
    pub fn partition_after_bulk(&self, n: u64) {
        self.knobs.lock().unwrap().cut_after = Some(n);
    }

    pub fn is_partitioned(&self) -> bool {
        self.knobs.lock().unwrap().partitioned
    }

    /// What each direction saw so far: A to B, then B to A.
    pub fn counts(&self) -> [Counts; 2] {
        [
            self.counts[0].lock().unwrap().clone(),
            self.counts[1].lock().unwrap().clone(),
        ]
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }
}

/// How long a forwarding thread blocks at most, so it notices `stop`.
const TICK: Duration = Duration::from_millis(20);

/// One direction: receives on `from`, applies the faults, and sends each
/// datagram from `to` when it is due.
fn forward(
    dir: usize,
    from: UdpSocket,
    to: UdpSocket,
    knobs: Arc<Mutex<Knobs>>,
    counts: Arc<Mutex<Counts>>,
    stop: Arc<AtomicBool>,
    mut rng: StdRng,
) {
    // Datagrams waiting for their time, keyed by due time and then arrival
    // order, so equal times keep their order.
    let mut queue: BTreeMap<(Instant, u64), Vec<u8>> = BTreeMap::new();
    let mut seq = 0u64;
    // The highest arrival number sent so far, to count overtaking.
    let mut latest_sent = 0u64;
    let mut buf = vec![0u8; 65536];
    while !stop.load(Ordering::Relaxed) {
        let now = Instant::now();
        let wait = queue.keys().next().map_or(TICK, |(due, _)| {
            due.saturating_duration_since(now).min(TICK)
        });
        // A zero timeout means "block forever" to the socket.
        from.set_read_timeout(Some(wait.max(Duration::from_micros(100))))
            .unwrap();
        if let Ok(n) = from.recv(&mut buf) {
            let (faults, partitioned, dest) = {
                let mut k = knobs.lock().unwrap();
                let bulk = buf[0] & 0x80 == 0 && n >= 1000;
                if dir == 0
                    && bulk
                    && let Some(left) = k.cut_after
                {
                    k.cut_after = left.checked_sub(1);
                    if left == 0 {
                        k.partitioned = true;
                    }
                }
                (k.faults, k.partitioned, if dir == 0 { k.b } else { k.a })
            };
            let mut c = counts.lock().unwrap();
            c.received += 1;
            if let Some(dcid) = initial_dcid(&buf[..n]) {
                c.initials.insert(dcid.to_vec());
            }
            // Draw every number for every datagram, so one datagram's fate
            // does not shift the draws of the next.
            let lost = rng.random_bool(faults.loss.clamp(0.0, 1.0));
            let twice = rng.random_bool(faults.duplicate.clamp(0.0, 1.0));
            let held = rng.random_bool(faults.reorder.clamp(0.0, 1.0));
            let delays = [delay(&mut rng, &faults), delay(&mut rng, &faults)];
            if partitioned || lost || dest.is_none() {
                c.dropped += 1;
            } else {
                let copies = if twice { 2 } else { 1 };
                c.duplicated += copies - 1;
                let now = Instant::now();
                for d in &delays[..copies as usize] {
                    let extra = if held { faults.delay } else { Duration::ZERO };
                    seq += 1;
                    queue.insert((now + *d + extra, seq), buf[..n].to_vec());
                }
            }
        }
        let now = Instant::now();
        let dest = {
            let k = knobs.lock().unwrap();
            if dir == 0 { k.b } else { k.a }
        };
        while let Some(entry) = queue.first_entry() {
            if entry.key().0 > now {
                break;
            }
            let (_, arrival) = *entry.key();
            let bytes = entry.remove();
            if let Some(dest) = dest {
                // A full socket buffer is loss too.
                if to.send_to(&bytes, dest).is_ok() {
                    let mut c = counts.lock().unwrap();
                    c.forwarded += 1;
                    if arrival < latest_sent {
                        c.reordered += 1;
                    }
                    latest_sent = latest_sent.max(arrival);
                }
            }
        }
    }
}

fn delay(rng: &mut StdRng, f: &Faults) -> Duration {
    let j = f.jitter.as_secs_f64();
    let d = f.delay.as_secs_f64()
        + if j > 0.0 {
            rng.random_range(-j..=j)
        } else {
            0.0
        };
    Duration::from_secs_f64(d.max(0.0))
}

/// The destination connection id of a QUIC Initial packet, or `None` for
/// any other datagram.
///
/// A client's first Initial carries a random id, and its retransmissions
/// the same one, so counting distinct ids counts connection attempts. Once
/// a server answers, the client switches to the server's id, so an attempt
/// that gets through counts twice: count during a partition only.
pub fn initial_dcid(d: &[u8]) -> Option<&[u8]> {
    const V1: u32 = 1;
    const V2: u32 = 0x6b33_43cf;
    let first = *d.first()?;
    // Long header with the fixed bit.
    if first & 0xc0 != 0xc0 {
        return None;
    }
    let version = u32::from_be_bytes(d.get(1..5)?.try_into().ok()?);
    let kind = (first >> 4) & 0x3;
    let initial = match version {
        V1 => kind == 0,
        V2 => kind == 1,
        _ => false,
    };
    if !initial {
        return None;
    }
    let len = *d.get(5)? as usize;
    d.get(6..6 + len)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Sends `n` numbered datagrams through the proxy from `from`, and
    /// returns the numbers `to` received, in order, once it has been quiet
    /// for a while.
    fn through(
        proxy: &FaultProxy,
        from: &UdpSocket,
        dest: SocketAddr,
        to: &UdpSocket,
        n: u32,
    ) -> Vec<u32> {
        // Read as they come: a socket buffer that fills up loses datagrams
        // the proxy did not drop.
        let to = to.try_clone().unwrap();
        to.set_read_timeout(Some(Duration::from_millis(500)))
            .unwrap();
        let reader = std::thread::spawn(move || {
            let mut got = Vec::new();
            let mut buf = [0u8; 16];
            while let Ok(len) = to.recv(&mut buf) {
                got.push(u32::from_be_bytes(buf[..len].try_into().unwrap()));
            }
            got
        });
        let received = proxy.counts().iter().map(|c| c.received).sum::<u64>();
        for i in 0..n {
            from.send_to(&i.to_be_bytes(), dest).unwrap();
            // Let the proxy keep up, for the same reason.
            if i % 50 == 49 {
                let want = received + u64::from(i) + 1;
                let end = Instant::now() + Duration::from_secs(10);
                while proxy.counts().iter().map(|c| c.received).sum::<u64>() < want {
                    assert!(Instant::now() < end, "the proxy stopped receiving");
                    std::thread::sleep(Duration::from_millis(1));
                }
            }
        }
        reader.join().unwrap()
    }

    #[test]
    fn the_proxy_forwards_loses_duplicates_reorders_and_partitions() {
        let proxy = FaultProxy::start(5);
        let a = UdpSocket::bind((Ipv6Addr::LOCALHOST, 0)).unwrap();
        let b = UdpSocket::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
        proxy.route(a.local_addr().unwrap(), b.local_addr().unwrap());

        // A clean link delivers everything, in order, both ways.
        assert_eq!(
            through(&proxy, &a, proxy.for_a(), &b, 100),
            (0..100).collect::<Vec<_>>()
        );
        assert_eq!(
            through(&proxy, &b, proxy.for_b(), &a, 100),
            (0..100).collect::<Vec<_>>()
        );

        proxy.set_faults(Faults {
            loss: 0.2,
            delay: Duration::from_millis(20),
            jitter: Duration::from_millis(15),
            duplicate: 0.1,
            reorder: 0.1,
        });
        let got = through(&proxy, &a, proxy.for_a(), &b, 1000);
        let distinct: BTreeSet<u32> = got.iter().copied().collect();
        let lost = 1000 - distinct.len();
        assert!((120..=280).contains(&lost), "lost {lost} of 1000");
        assert!(got.len() > distinct.len(), "no duplicates");
        assert!(got.windows(2).any(|w| w[0] > w[1]), "no reordering");
        assert!(proxy.counts()[0].reordered > 0);

        // A partition drops everything; nothing was left in flight.
        proxy.partition(true);
        assert!(through(&proxy, &a, proxy.for_a(), &b, 50).is_empty());
        assert!(through(&proxy, &b, proxy.for_b(), &a, 50).is_empty());
        proxy.partition(false);
        proxy.set_faults(Faults::default());
        assert_eq!(
            through(&proxy, &b, proxy.for_b(), &a, 10),
            (0..10).collect::<Vec<_>>()
        );
    }

    #[test]
    fn an_initial_is_recognised_by_its_header() {
        let mut p = vec![0xc3, 0, 0, 0, 1, 4, 9, 8, 7, 6, 0, 0];
        assert_eq!(initial_dcid(&p), Some(&[9, 8, 7, 6][..]));
        // A handshake packet (type 2) is not an Initial.
        p[0] = 0xe3;
        assert_eq!(initial_dcid(&p), None);
        // Nor is a short-header packet, nor a truncated one.
        assert_eq!(initial_dcid(&[0x43, 1, 2, 3]), None);
        assert_eq!(initial_dcid(&[0xc3, 0, 0, 0, 1, 9, 1]), None);
    }
}
