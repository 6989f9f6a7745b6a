//! A session's outgoing frames, written by a task of their own.
//!
//! Both sides of a session read and write one stream. If each side wrote
//! its replies before reading again, two devices with a lot to say (a
//! flood of notes one way, the key gifts it calls for the other way) could
//! fill both streams' flow-control windows and wait on each other for ever.
//! So the session loop only queues frames here and keeps reading; the
//! queue is bounded in bytes, and a peer that stops reading long enough to
//! fill it ends the session.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use iroh::endpoint::SendStream;
use tokio::sync::{Notify, mpsc, oneshot};

use crate::wire::{self, WireError};

/// Queued bytes past which the session generates nothing new of its own
/// (it still answers what arrives) until the queue drains below it.
const SOFT_LIMIT: usize = 1 << 20;

/// Bytes piled onto a backed-up queue past which the peer is taken not to
/// be reading at all: one frame of the largest size, and room for answers
/// around it.
fn hard_limit(max_frame: usize) -> usize {
    max_frame.saturating_add(16 << 20)
}

pub(crate) struct Outbox {
    tx: mpsc::UnboundedSender<Vec<u8>>,
    queued: Arc<AtomicUsize>,
    /// Signalled each time the queue drops below the soft limit.
    pub drained: Arc<Notify>,
    /// The writer's error, once it has stopped.
    pub failed: oneshot::Receiver<WireError>,
    hard: usize,
    /// Bytes queued while the queue was backed up, since it last was not:
    /// what the hard limit bounds. A burst onto a queue that was not backed
    /// up (a first sync's documents) never counts, however large.
    piled: AtomicUsize,
    _writer: crate::session::AbortOnDrop,
}

/// The queue went over its hard limit: the peer has not read for too long.
#[derive(Debug)]
pub(crate) struct Overfull(pub usize);

impl Outbox {
    /// Starts the writer on `send`. `sent` is told each frame's size on the
    /// wire once it is written.
    pub fn start(
        mut send: SendStream,
        max_frame: usize,
        sent: impl Fn(usize) + Send + 'static,
    ) -> Outbox {
        let (tx, mut rx) = mpsc::unbounded_channel::<Vec<u8>>();
        let queued = Arc::new(AtomicUsize::new(0));
        let drained = Arc::new(Notify::new());
        let (fail_tx, failed) = oneshot::channel();
        let writer = {
            let (queued, drained) = (queued.clone(), drained.clone());
            tokio::spawn(async move {
                while let Some(frame) = rx.recv().await {
                    if let Err(e) = wire::write_frame(&mut send, &frame).await {
                        let _ = fail_tx.send(e);
                        return;
                    }
                    sent(frame.len() + 4);
                    let before = queued.fetch_sub(frame.len(), Ordering::Relaxed);
                    if before >= SOFT_LIMIT && before - frame.len() < SOFT_LIMIT {
                        drained.notify_one();
                    }
                }
            })
        };
        Outbox {
            tx,
            queued,
            drained,
            failed,
            hard: hard_limit(max_frame),
            piled: AtomicUsize::new(0),
            _writer: crate::session::AbortOnDrop(writer),
        }
    }

    /// Queues frames to be written in order. What goes onto a queue below
    /// the soft limit is never refused (a first sync's message can be tens
    /// of megabytes, all at once); what piles up on a backed-up queue, the
    /// answers to a peer that sends but does not read, is bounded.
    pub fn push(&self, frames: impl IntoIterator<Item = Vec<u8>>) -> Result<(), Overfull> {
        let backed_up = self.backed_up();
        if !backed_up {
            self.piled.store(0, Ordering::Relaxed);
        }
        for frame in frames {
            let len = frame.len();
            self.queued.fetch_add(len, Ordering::Relaxed);
            // A closed writer has reported its error on `failed` already.
            let _ = self.tx.send(frame);
            if backed_up {
                let piled = self.piled.fetch_add(len, Ordering::Relaxed) + len;
                if piled > self.hard {
                    return Err(Overfull(piled));
                }
            }
        }
        Ok(())
    }

    /// Whether the queue is over the soft limit: new frames of our own
    /// wait until it drains.
    pub fn backed_up(&self) -> bool {
        self.queued.load(Ordering::Relaxed) >= SOFT_LIMIT
    }
}
