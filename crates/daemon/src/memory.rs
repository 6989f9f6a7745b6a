//! Giving freed memory back to the system. glibc's allocator keeps what a
//! dropped document used for reuse, so the daemon's RSS would stay at its
//! peak after the documents it read at start-up, or for a peer, are gone.

/// Returns free heap pages to the system, where the allocator allows it.
pub fn give_back() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only releases free memory at the allocator's
    // own boundaries; it touches no live allocation.
    unsafe {
        libc::malloc_trim(0);
    }
}
