//! Sessions under heavy two-way traffic. Two devices that both have
//! megabytes to send at the same moment must each go on reading while
//! their own frames wait to be written (a session that wrote everything
//! before reading again filled both directions' flow-control windows and
//! waited on the other side for ever); and a peer that sends without ever
//! reading is let go once the answers queued for it reach a bound.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use hearth_sync::{DocRequest, NetMode, NodeConfig, Received, SyncNode, TestHooks, TrustedSet};
use tokio::sync::{mpsc, watch};

/// Frames each side sends at the start of its session, and their size:
/// far more than a QUIC stream's receive window holds.
const FRAMES: usize = 24;
const FRAME: usize = 1 << 20;

/// A document owner that answers the first message of every session with
/// `FRAMES` large frames, answers each large frame it receives with a small
/// one, and counts the large frames that reach it and the sessions begun.
fn owner(
    mut requests: mpsc::UnboundedReceiver<DocRequest>,
    received: Arc<AtomicUsize>,
    sessions: Arc<AtomicUsize>,
) {
    tokio::spawn(async move {
        while let Some(request) = requests.recv().await {
            match request {
                DocRequest::Start { .. } => {
                    sessions.fetch_add(1, Ordering::Relaxed);
                }
                DocRequest::Generate { reply, .. } => {
                    // Neither a hello (`H`...) nor a removal proof.
                    let _ = reply.send(vec![vec![b'x'; FRAME]; FRAMES]);
                }
                DocRequest::Receive { frame, reply, .. } => {
                    let large = frame.len() == FRAME;
                    if large {
                        received.fetch_add(1, Ordering::Relaxed);
                    }
                    let _ = reply.send(Ok(Received {
                        reply: if large {
                            vec![vec![b'y'; 1024]]
                        } else {
                            Vec::new()
                        },
                        in_sync: false,
                        version: 0,
                    }));
                }
                DocRequest::Trust { reply, .. } => {
                    let _ = reply.send(Ok(()));
                }
                DocRequest::RemovalProof { reply, .. } => {
                    let _ = reply.send(Vec::new());
                }
                _ => {}
            }
        }
    });
}

/// A test-mode node (loopback, no relays) whose frame cap is two frames:
/// what may pile up for a peer that does not read is 18 MiB.
fn config() -> NodeConfig {
    NodeConfig {
        secret_key: hearth_sync::new_secret_key(),
        mode: NetMode::Test,
        relay: None,
        mdns: false,
        port: 0,
        test: TestHooks {
            max_frame: Some(2 * FRAME),
            ..TestHooks::default()
        },
    }
}

struct Device {
    node: SyncNode,
    trusted: watch::Sender<TrustedSet>,
    received: Arc<AtomicUsize>,
    sessions: Arc<AtomicUsize>,
    // Kept so the node's watches stay open.
    _removed: watch::Sender<hearth_sync::RemovedSet>,
    _changed: watch::Sender<u64>,
}

async fn device() -> Device {
    let (docs, requests) = mpsc::unbounded_channel();
    let received = Arc::new(AtomicUsize::new(0));
    let sessions = Arc::new(AtomicUsize::new(0));
    owner(requests, received.clone(), sessions.clone());
    let (trusted, trusted_rx) = watch::channel(TrustedSet::new());
    let (removed, removed_rx) = watch::channel(Default::default());
    let (changed, changed_rx) = watch::channel(0);
    // Each side's first burst is larger than what may pile up for a peer
    // that does not read: a burst onto an empty queue must never count.
    const { assert!(FRAMES * FRAME > 2 * FRAME + (16 << 20)) };
    let node = SyncNode::spawn(config(), docs, trusted_rx, removed_rx, changed_rx)
        .await
        .expect("a test endpoint binds on loopback");
    Device {
        node,
        trusted,
        received,
        sessions,
        _removed: removed,
        _changed: changed,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_devices_sending_megabytes_at_once_both_get_everything() {
    let (a, b) = (device().await, device().await);
    // B knows A but has no address for it, so only A dials: one session.
    b.trusted
        .send(TrustedSet::from([(a.node.id(), Vec::new())]))
        .unwrap();
    a.trusted
        .send(TrustedSet::from([(b.node.id(), b.node.direct_addrs())]))
        .unwrap();
    let started = Instant::now();
    let got = |d: &Device| d.received.load(Ordering::Relaxed);
    while got(&a) < FRAMES || got(&b) < FRAMES {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "stalled: A got {} and B got {} of {FRAMES} frames",
            got(&a),
            got(&b),
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // All of it in the one session, none ended and begun again.
    assert_eq!(a.sessions.load(Ordering::Relaxed), 1);
    assert_eq!(b.sessions.load(Ordering::Relaxed), 1);
    assert!(
        a.node.peer_status().iter().all(|p| p.last_error.is_none()),
        "{:?}",
        a.node.peer_status()
    );
    a.node.shutdown().await;
    b.node.shutdown().await;
}

/// A trusted peer that sends frame after frame and never reads what comes
/// back: the answers queue up to a bound, then the session ends, rather
/// than the daemon holding answers for it without end.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_peer_that_sends_and_never_reads_is_let_go() {
    let (docs, mut requests) = mpsc::unbounded_channel();
    // Every frame received is answered with a megabyte.
    tokio::spawn(async move {
        while let Some(request) = requests.recv().await {
            match request {
                DocRequest::Generate { reply, .. } => {
                    let _ = reply.send(Vec::new());
                }
                DocRequest::Receive { reply, .. } => {
                    let _ = reply.send(Ok(Received {
                        reply: vec![vec![b'x'; FRAME]],
                        in_sync: false,
                        version: 0,
                    }));
                }
                _ => {}
            }
        }
    });
    let peer = iroh::Endpoint::builder(iroh::endpoint::presets::Minimal)
        .clear_ip_transports()
        .bind_addr((std::net::Ipv4Addr::LOCALHOST, 0))
        .unwrap()
        .bind()
        .await
        .unwrap();
    let (_trusted, trusted_rx) = watch::channel(TrustedSet::from([(peer.id(), Vec::new())]));
    let (_removed, removed_rx) = watch::channel(Default::default());
    let (_changed, changed_rx) = watch::channel(0);
    let node = SyncNode::spawn(config(), docs, trusted_rx, removed_rx, changed_rx)
        .await
        .unwrap();
    let addr = iroh::EndpointAddr::new(node.id())
        .with_ip_addr(std::net::SocketAddr::from(([127, 0, 0, 1], node.port())));
    let conn = peer.connect(addr, hearth_sync::ALPN_SYNC).await.unwrap();
    let (mut send, _recv_never_read) = conn.open_bi().await.unwrap();
    let frame = |bytes: &[u8]| {
        let mut out = (bytes.len() as u32).to_be_bytes().to_vec();
        out.extend_from_slice(bytes);
        out
    };
    send.write_all(&frame(&hearth_sync::Hello::default().encode()))
        .await
        .unwrap();
    // Far more answers than the bound, if the session let them pile up.
    let writes = async {
        for _ in 0..400 {
            if send.write_all(&frame(b"x")).await.is_err() {
                return;
            }
        }
        std::future::pending::<()>().await
    };
    let closed = tokio::time::timeout(Duration::from_secs(60), async {
        tokio::select! {
            () = writes => unreachable!(),
            why = conn.closed() => why,
        }
    })
    .await
    .expect("the session holds answers for a peer that never reads without end");
    match closed {
        iroh::endpoint::ConnectionError::ApplicationClosed(c) => {
            assert_eq!(c.error_code, 400u32.into(), "{c:?}")
        }
        other => panic!("closed for another reason: {other:?}"),
    }
    let status = node.peer_status();
    let error = status
        .iter()
        .find_map(|p| p.last_error.clone())
        .unwrap_or_default();
    assert!(error.contains("stopped reading"), "{status:?}");
    node.shutdown().await;
    peer.close().await;
}
