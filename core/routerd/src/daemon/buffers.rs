//! Reusable byte buffers for the data path: a packet read from the TUN, a chunk read from a
//! tty, a relayed frame. A buffer goes back to its pool when it has been handled, so the
//! steady state allocates nothing per packet.

use std::sync::{Arc, Mutex, PoisonError};

/// A bounded free list of equally sized buffers. Cloning shares the pool.
#[derive(Debug, Clone)]
pub struct BufPool {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    free: Mutex<Vec<Vec<u8>>>,
    size: usize,
    keep: usize,
}

impl BufPool {
    /// A pool of buffers of `size` octets keeping at most `keep` idle ones.
    pub fn new(size: usize, keep: usize) -> Self {
        BufPool {
            inner: Arc::new(Inner {
                free: Mutex::new(Vec::with_capacity(keep)),
                size,
                keep,
            }),
        }
    }

    /// A buffer of the pool's size (contents unspecified), reused when one is idle.
    pub fn get(&self) -> Vec<u8> {
        let reused = self
            .inner
            .free
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .pop();
        match reused {
            Some(mut b) => {
                b.resize(self.inner.size, 0);
                b
            }
            None => vec![0; self.inner.size],
        }
    }

    /// A buffer holding a copy of `bytes` (longer than the pool's size is fine: the buffer
    /// grows once and keeps its capacity).
    pub fn copy_of(&self, bytes: &[u8]) -> Vec<u8> {
        let mut b = self.get();
        b.clear();
        b.extend_from_slice(bytes);
        b
    }

    /// Gives a buffer back.
    pub fn put(&self, buf: Vec<u8>) {
        let mut free = self
            .inner
            .free
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if free.len() < self.inner.keep {
            free.push(buf);
        }
    }

    /// Idle buffers held.
    pub fn idle(&self) -> usize {
        self.inner
            .free
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buffers_are_reused_and_the_pool_is_bounded() {
        let pool = BufPool::new(16, 2);
        let a = pool.get();
        let ptr = a.as_ptr();
        assert_eq!(a.len(), 16);
        pool.put(a);
        let b = pool.copy_of(b"abc");
        assert_eq!(b.as_ptr(), ptr, "the idle buffer was reused");
        assert_eq!(b, b"abc");
        pool.put(b);
        pool.put(vec![0; 16]);
        pool.put(vec![0; 16]);
        assert_eq!(pool.idle(), 2);
    }
}
