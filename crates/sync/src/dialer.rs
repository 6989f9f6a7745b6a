//! Reconnecting: keeps trying to reach every trusted device we have no
//! session with, with exponential backoff per device, so an offline partner
//! costs about one dial a minute and a flapping link cannot cause a storm
//! (PROTOCOL.md, "Reconnecting").
//!
//! The schedule is [`Backoff`], pure and tested here; the loop only reads
//! the clock and the random jitter and hands them to it.
//!
//! The backoff only spaces out dials that fail. It must never delay a
//! recovery the device can see, so [`path_back`] cancels the wait and
//! starts the schedule over whenever something shows the network works
//! again: a session starts while none was open, either side having
//! dialed, or the network interfaces change (`netchange`).
//!
//! A recovery nobody can see (a router in between comes back, and no
//! interface changes) is found by probing instead: for [`PROBE_WINDOW`]
//! after a session went quiet, the dialer tries every few seconds rather
//! than backing off, so such a partition heals within about three seconds
//! however long it lasted, and costs a bounded number of dials.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use iroh::endpoint::{Connection, RecvStream, SendStream};
use iroh::{Endpoint, EndpointAddr, EndpointId, TransportAddr};

use crate::node::{CONNECT_TIMEOUT, Inner, PeerState};
use crate::{ALPN_SYNC, SyncError, session};

/// The first wait, after one failure or after a session ends.
const BACKOFF_MIN: Duration = Duration::from_millis(500);
/// The longest wait, however many failures.
const BACKOFF_MAX: Duration = Duration::from_secs(60);
/// Up to this share of the wait is added at random, so two devices do not
/// retry in lockstep.
const JITTER: f64 = 0.25;

/// One device's retry schedule: the wait doubles with each failure from
/// [`BACKOFF_MIN`] up to [`BACKOFF_MAX`]; a session that starts resets it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Backoff {
    /// The last wait without jitter; zero when nothing failed since the
    /// last reset.
    wait: Duration,
}

impl Backoff {
    /// Back to the start: the next failure waits [`BACKOFF_MIN`] again.
    pub fn reset(&mut self) {
        self.wait = Duration::ZERO;
    }

    /// Counts one more failure and returns how long to wait before the next
    /// try. `jitter` is a random number in `[0, 1)`; it adds up to a
    /// quarter of the wait.
    pub fn next(&mut self, jitter: f64) -> Duration {
        self.wait = if self.wait.is_zero() {
            BACKOFF_MIN
        } else {
            (self.wait * 2).min(BACKOFF_MAX)
        };
        self.wait + self.wait.mul_f64(jitter.clamp(0.0, 1.0) * JITTER)
    }
}

/// How long after a session went quiet the dialer keeps probing the
/// device instead of backing off. Ten minutes covers a router restarting
/// or a train tunnel; a device gone for longer costs one dial a minute.
const PROBE_WINDOW: Duration = Duration::from_secs(10 * 60);
/// While probing, dial attempts start at least this far apart.
const PROBE_SPACING: Duration = Duration::from_secs(2);
/// While probing, a dial gives up after this, so the next one follows.
/// Within it QUIC sends its first packet at about 0, 1 and 3 s, so a path
/// that heals hears from us within about 2 s.
pub(crate) const PROBE_TIMEOUT: Duration = Duration::from_secs(4);

/// Whether a device whose path went quiet is still being probed at `now`.
pub(crate) fn probing(p: &PeerState, now: Instant) -> bool {
    p.lost_at
        .is_some_and(|t| now.saturating_duration_since(t) < PROBE_WINDOW)
}

/// How long a dial started at `now` may wait for an answer.
fn connect_timeout(p: &PeerState, now: Instant) -> Duration {
    if probing(p, now) {
        PROBE_TIMEOUT
    } else {
        CONNECT_TIMEOUT
    }
}

/// Schedules the next dial of a device after a failure or a session end.
fn schedule_retry(p: &mut PeerState, now: Instant, jitter: f64) {
    p.next_try = Some(now + p.backoff.next(jitter));
}

/// Schedules the next dial after an attempt that began at `started` failed
/// (or whose session ended) at `now`: probing, at most one start per
/// [`PROBE_SPACING`] and never sooner than [`BACKOFF_MIN`] after the last
/// one ended; otherwise the backoff.
fn schedule_after(p: &mut PeerState, started: Instant, now: Instant, jitter: f64) {
    if probing(p, now) {
        let rest = BACKOFF_MIN + BACKOFF_MIN.mul_f64(jitter.clamp(0.0, 1.0) * JITTER);
        p.next_try = Some((now + rest).max(started + PROBE_SPACING));
    } else {
        schedule_retry(p, now, jitter);
    }
}

fn retry_later(p: &mut PeerState, started: Instant) {
    schedule_after(p, started, Instant::now(), rand::random::<f64>());
}

/// The rule for a path that came back: a device without a session is
/// dialed at once, and its next failure waits [`BACKOFF_MIN`] again. A dial
/// under way is left to finish; a device with a session needs nothing.
pub(crate) fn path_back(p: &mut PeerState) {
    if p.sessions == 0 {
        p.backoff.reset();
        p.next_try = None;
    }
}

/// Applies [`path_back`] to every device but `except` (whose own session
/// keeps its state), and wakes the dialer.
pub(crate) fn paths_back(inner: &Inner, except: Option<EndpointId>) {
    let ids: Vec<EndpointId> = inner
        .trusted
        .borrow()
        .keys()
        .copied()
        .filter(|id| *id != inner.me && Some(*id) != except)
        .collect();
    if ids.is_empty() {
        return;
    }
    for id in ids {
        inner.peer(id, path_back);
    }
    inner.wake_dialer.notify_one();
}

/// Dials every trusted device that is due, then sleeps until the next one
/// is due or something changes: a dial or session ended, the trusted set
/// changed, or `hearth sync` asked.
pub(crate) async fn dial_loop(inner: Arc<Inner>, endpoint: Endpoint) {
    let mut trusted = inner.trusted.clone();
    loop {
        let now = Instant::now();
        let targets: Vec<(EndpointId, Vec<SocketAddr>)> = trusted
            .borrow()
            .iter()
            .filter(|(id, _)| **id != inner.me)
            .map(|(id, a)| {
                (
                    *id,
                    inner.dial_override.map_or_else(|| a.clone(), |o| vec![o]),
                )
            })
            .collect();
        let mut next_wake = now + BACKOFF_MAX;
        for (id, addrs) in targets {
            let go = inner.peer(id, |p| {
                if p.conn.is_some() || p.dialing {
                    return false;
                }
                match p.next_try {
                    Some(t) if t > now => {
                        next_wake = next_wake.min(t);
                        false
                    }
                    _ => {
                        p.dialing = true;
                        true
                    }
                }
            });
            if go {
                tokio::spawn(dial(inner.clone(), endpoint.clone(), id, addrs));
            }
        }
        tokio::select! {
            _ = inner.wake_dialer.notified() => {}
            r = trusted.changed() => if r.is_err() { return },
            _ = tokio::time::sleep_until(next_wake.into()) => {}
        }
    }
}

/// One dial attempt, and the session if it connects.
async fn dial(inner: Arc<Inner>, endpoint: Endpoint, id: EndpointId, addrs: Vec<SocketAddr>) {
    // The tests count these lines to bound the dials of a partition.
    tracing::debug!(peer = %id.fmt_short(), "dial attempt");
    let addr = EndpointAddr::from_parts(id, addrs.into_iter().map(TransportAddr::Ip));
    let started = Instant::now();
    let timeout = inner.peer(id, |p| connect_timeout(p, started));
    match connect(&endpoint, addr, timeout).await {
        Ok((conn, send, recv)) => {
            inner.peer(id, |p| p.dialing = false);
            session::run_session(inner.clone(), conn, send, recv, id, inner.me).await;
            // A session that ended is retried soon, but not instantly.
            let ended = Instant::now();
            inner.peer(id, |p| retry_later(p, ended));
        }
        Err(e) => {
            tracing::debug!(peer = %id.fmt_short(), error = %e, "dial failed");
            inner.peer(id, |p| {
                p.dialing = false;
                p.last_error = Some(e);
                retry_later(p, started);
            });
        }
    }
    inner.wake_dialer.notify_one();
}

async fn connect(
    endpoint: &Endpoint,
    addr: EndpointAddr,
    timeout: Duration,
) -> Result<(Connection, SendStream, RecvStream), SyncError> {
    let conn = tokio::time::timeout(timeout, endpoint.connect(addr, ALPN_SYNC))
        .await
        .map_err(|_| SyncError::ConnectTimeout)?
        .map_err(|e| SyncError::Connect(e.to_string()))?;
    let (send, recv) = conn
        .open_bi()
        .await
        .map_err(|e| SyncError::Connect(e.to_string()))?;
    Ok((conn, send, recv))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn waits(b: &mut Backoff, n: usize) -> Vec<Duration> {
        (0..n).map(|_| b.next(0.0)).collect()
    }

    #[test]
    fn the_wait_starts_at_half_a_second_and_doubles() {
        let mut b = Backoff::default();
        let ms: Vec<u128> = waits(&mut b, 6).iter().map(Duration::as_millis).collect();
        assert_eq!(ms, [500, 1000, 2000, 4000, 8000, 16000]);
    }

    #[test]
    fn the_wait_stops_growing_at_a_minute() {
        let mut b = Backoff::default();
        let all = waits(&mut b, 20);
        assert_eq!(all[7], Duration::from_secs(60), "{all:?}");
        assert!(all[7..].iter().all(|w| *w == BACKOFF_MAX), "{all:?}");
        assert!(all.windows(2).all(|w| w[0] <= w[1]), "{all:?}");
    }

    #[test]
    fn jitter_adds_at_most_a_quarter() {
        for failures in 1..12 {
            let mut plain = Backoff::default();
            let base = waits(&mut plain, failures).pop().unwrap();
            for jitter in [0.0, 0.1, 0.5, 0.999_999] {
                let mut b = Backoff::default();
                waits(&mut b, failures - 1);
                let w = b.next(jitter);
                assert!(
                    w >= base && w < base + base / 4,
                    "{failures} {jitter}: {w:?}"
                );
            }
        }
        // A jitter outside [0, 1) cannot stretch or shrink the wait further.
        let top = Backoff::default().next(7.0);
        assert_eq!(top, BACKOFF_MIN + BACKOFF_MIN / 4);
        assert_eq!(Backoff::default().next(-1.0), BACKOFF_MIN);
    }

    #[test]
    fn jitter_does_not_compound() {
        let mut jittery = Backoff::default();
        let mut plain = Backoff::default();
        for _ in 0..10 {
            jittery.next(0.999);
            plain.next(0.0);
        }
        assert_eq!(jittery, plain);
    }

    #[test]
    fn a_reset_starts_over() {
        let mut b = Backoff::default();
        waits(&mut b, 9);
        b.reset();
        assert_eq!(b, Backoff::default());
        assert_eq!(b.next(0.0), BACKOFF_MIN);
        assert_eq!(b.next(0.0), BACKOFF_MIN * 2);
    }

    #[test]
    fn a_path_that_comes_back_is_dialed_at_once_and_starts_over() {
        let now = Instant::now();
        let mut p = PeerState::default();
        // A long partition: the wait has grown to the cap.
        for _ in 0..12 {
            schedule_retry(&mut p, now, 0.0);
        }
        assert_eq!(p.next_try, Some(now + BACKOFF_MAX));
        path_back(&mut p);
        // Due now, whatever the schedule said...
        assert_eq!(p.next_try, None);
        // ...and if that dial fails too, the wait starts small again.
        schedule_retry(&mut p, now, 0.0);
        assert_eq!(p.next_try, Some(now + BACKOFF_MIN));
        // A dial under way is not doubled: it stays the one attempt.
        p.dialing = true;
        path_back(&mut p);
        assert!(p.dialing);
    }

    #[test]
    fn a_path_back_leaves_a_device_with_a_session_alone() {
        // Its backoff was reset when the session started; what is there
        // now is the schedule for after it ends, and stays.
        let now = Instant::now();
        let mut p = PeerState::default();
        schedule_retry(&mut p, now, 0.0);
        schedule_retry(&mut p, now, 0.0);
        p.sessions = 1;
        let before = (p.backoff, p.next_try);
        path_back(&mut p);
        assert_eq!((p.backoff, p.next_try), before);
    }

    #[test]
    fn a_quiet_path_is_probed_every_few_seconds_for_ten_minutes_then_backed_off() {
        let lost = Instant::now();
        let mut p = PeerState {
            lost_at: Some(lost),
            ..PeerState::default()
        };
        // Many failures in a row do not grow the wait while probing: a dial
        // that timed out is followed half a second (plus jitter) later...
        let mut started = lost;
        for _ in 0..50 {
            assert_eq!(connect_timeout(&p, started), PROBE_TIMEOUT);
            let failed = started + PROBE_TIMEOUT;
            schedule_after(&mut p, started, failed, 0.999);
            let next = p.next_try.unwrap();
            assert!(next >= failed + BACKOFF_MIN, "{:?}", next - failed);
            assert!(next < failed + BACKOFF_MIN * 5 / 4, "{:?}", next - failed);
            started = next;
        }
        // ...and one that failed at once still waits out the spacing, so
        // there is no storm whatever the network answers.
        schedule_after(&mut p, started, started, 0.0);
        assert_eq!(p.next_try, Some(started + PROBE_SPACING));
        assert_eq!(
            p.backoff,
            Backoff::default(),
            "probing leaves the backoff alone"
        );
        // After the window, the backoff and the long timeout are back.
        let late = lost + PROBE_WINDOW;
        assert!(!probing(&p, late));
        assert_eq!(connect_timeout(&p, late), CONNECT_TIMEOUT);
        schedule_after(&mut p, late, late, 0.0);
        assert_eq!(p.next_try, Some(late + BACKOFF_MIN));
        schedule_after(&mut p, late, late, 0.0);
        assert_eq!(p.next_try, Some(late + BACKOFF_MIN * 2));
    }

    #[test]
    fn a_device_that_was_never_lost_is_backed_off_as_before() {
        let now = Instant::now();
        let mut p = PeerState::default();
        assert!(!probing(&p, now));
        assert_eq!(connect_timeout(&p, now), CONNECT_TIMEOUT);
        for want in [1, 2, 4, 8] {
            schedule_after(&mut p, now, now, 0.0);
            assert_eq!(p.next_try, Some(now + BACKOFF_MIN * want));
        }
    }

    #[test]
    fn a_retry_is_scheduled_from_the_given_clock() {
        let now = Instant::now();
        let mut p = PeerState::default();
        schedule_retry(&mut p, now, 0.0);
        assert_eq!(p.next_try, Some(now + BACKOFF_MIN));
        schedule_retry(&mut p, now, 0.5);
        assert_eq!(
            p.next_try,
            Some(now + BACKOFF_MIN * 2 + (BACKOFF_MIN * 2).mul_f64(0.125))
        );
        // What a started session does.
        p.backoff.reset();
        let later = now + Duration::from_secs(3600);
        schedule_retry(&mut p, later, 0.0);
        assert_eq!(p.next_try, Some(later + BACKOFF_MIN));
    }
}
