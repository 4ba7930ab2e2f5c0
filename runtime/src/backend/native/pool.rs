//! Per-thread pools of f64 buffers, tensor boxes and tape storage for [`Native`](super::Native).
//!
//! An evaluation allocates a tensor (an `Rc` box and a buffer) per op and as many buffers again in
//! the reverse pass, frees them all when it ends, and the next evaluation asks for the same sizes
//! again. With the system allocator this churn was over a third of the time of a small model (glibc
//! consolidating its free lists whenever a larger block is requested). So:
//!
//! * a tensor whose last handle is dropped keeps its `Rc` box and buffer for the next tensor of the
//!   same capacity class (powers of two); gradient buffers of the reverse pass are kept the same
//!   way. A class keeps at most [`PER_CLASS`] entries, the pool at most [`MAX_BYTES`], and buffers
//!   above 2^[`MAX_CLASS`] values are left to the allocator;
//! * the op list and the reverse pass's per-id vectors of the last tape are kept for the next one.
//!
//! What a thread keeps is freed by [`release`], which the samplers call on their worker threads
//! at the end of every run, so that memory does not outlive the run that needed it.

use super::tape::Op;
use super::Data;
use std::cell::{Cell, RefCell};
use std::rc::Rc;

/// Largest pooled capacity class: 2²⁰ values (8 MiB).
const MAX_CLASS: usize = 20;
/// Buffers kept per capacity class.
const PER_CLASS: usize = 256;
/// Bytes of buffers kept in all classes together, per thread.
const MAX_BYTES: usize = 64 << 20;

struct Pool {
    classes: [Vec<Vec<f64>>; MAX_CLASS + 1],
    bytes: usize,
    /// Most bytes kept: [`MAX_BYTES`], or 0 while [`release`] drops what was kept.
    limit: usize,
    /// Dropped tensors by capacity class, each the only handle to its box.
    boxes: [Vec<Rc<Data>>; MAX_CLASS + 1],
    /// What a recycled tensor's handle is left pointing to until it is dropped.
    placeholder: Option<Rc<Data>>,
    /// The op list of the last finished tape, cleared.
    ops: Vec<Op>,
    /// The per-id gradient slots and flags of the last reverse pass, cleared.
    scratch: (Vec<Vec<f64>>, Vec<bool>),
}

thread_local! {
    static POOL: RefCell<Pool> = const {
        RefCell::new(Pool {
            classes: [const { Vec::new() }; MAX_CLASS + 1],
            bytes: 0,
            limit: MAX_BYTES,
            boxes: [const { Vec::new() }; MAX_CLASS + 1],
            placeholder: None,
            ops: Vec::new(),
            scratch: (Vec::new(), Vec::new()),
        })
    };
}

/// The capacity class of `n` values: the smallest `k` with `2ᵏ ≥ n`.
#[inline]
fn class(n: usize) -> usize {
    n.max(1).next_power_of_two().trailing_zeros() as usize
}

/// An empty buffer with room for `n` values.
#[inline]
pub(super) fn take(n: usize) -> Vec<f64> {
    let k = class(n);
    if k > MAX_CLASS {
        return Vec::with_capacity(n);
    }
    let hit = POOL.try_with(|p| {
        let mut p = p.borrow_mut();
        let v = p.classes[k].pop();
        if v.is_some() {
            p.bytes -= 8 << k;
        }
        v
    });
    match hit {
        Ok(Some(v)) => v,
        _ => Vec::with_capacity(1 << k),
    }
}

/// `n` copies of `value`.
#[inline]
pub(super) fn filled(n: usize, value: f64) -> Vec<f64> {
    let mut v = take(n);
    v.resize(n, value);
    v
}

/// Gives a buffer back, emptied (dropped if its class or the pool is full, or the thread is
/// ending).
#[inline]
pub(super) fn give(mut v: Vec<f64>) {
    let cap = v.capacity();
    if cap == 0 || !cap.is_power_of_two() {
        return;
    }
    let k = cap.trailing_zeros() as usize;
    if k > MAX_CLASS {
        return;
    }
    v.clear();
    let _ = POOL.try_with(|p| {
        let mut p = p.borrow_mut();
        if p.bytes + (8 << k) <= p.limit && p.classes[k].len() < PER_CLASS {
            p.classes[k].push(v);
            p.bytes += 8 << k;
        }
    });
}

/// A tensor with an empty buffer of room for `n` values and the only handle to its box: a recycled
/// one if there is one.
#[inline]
pub(super) fn tensor(n: usize) -> Rc<Data> {
    let k = class(n);
    if k <= MAX_CLASS {
        let spare = POOL.try_with(|p| {
            let mut p = p.borrow_mut();
            let t = p.boxes[k].pop();
            if t.is_some() {
                p.bytes -= 8 << k;
            }
            t
        });
        if let Ok(Some(t)) = spare {
            t.slot.set((0, 0));
            return t;
        }
    }
    let cap = if k <= MAX_CLASS { 1 << k } else { n };
    Rc::new(Data { rows: 0, cols: 0, v: Vec::with_capacity(cap), slot: Cell::new((0, 0)) })
}

/// Called when the last handle of a tensor is dropped: keeps the tensor (box and buffer) for
/// [`tensor`], leaving the handle pointing to a placeholder.
#[inline]
pub(super) fn recycle(handle: &mut Rc<Data>) {
    let cap = handle.v.capacity();
    if cap == 0 || !cap.is_power_of_two() {
        return;
    }
    let k = cap.trailing_zeros() as usize;
    if k > MAX_CLASS {
        return;
    }
    // Anything to drop is dropped after the pool is released (a drop may give a buffer back).
    let _unkept = POOL.try_with(|p| {
        let mut p = p.borrow_mut();
        if p.bytes + (8 << k) > p.limit || p.boxes[k].len() >= PER_CLASS {
            return None;
        }
        let placeholder = p.placeholder.get_or_insert_with(|| Rc::new(Data { rows: 0, cols: 0, v: Vec::new(), slot: Cell::new((0, 0)) })).clone();
        let mut t = std::mem::replace(handle, placeholder);
        match Rc::get_mut(&mut t) {
            Some(d) => {
                d.v.clear();
                p.boxes[k].push(t);
                p.bytes += 8 << k;
                None
            }
            None => Some(t),
        }
    });
}

/// An empty op list, reusing the storage of the last finished tape of this thread.
pub(super) fn take_ops() -> Vec<Op> {
    POOL.try_with(|p| std::mem::take(&mut p.borrow_mut().ops)).unwrap_or_default()
}

/// Keeps the storage of a finished tape's op list (its ops are dropped first, which returns their
/// tensors to the pool).
pub(super) fn give_ops(mut ops: Vec<Op>) {
    ops.clear();
    let _ = POOL.try_with(|p| {
        let mut p = p.borrow_mut();
        if ops.capacity() > p.ops.capacity() {
            p.ops = ops;
        }
    });
}

/// `n` empty gradient slots and `n` false flags, reusing the last reverse pass's storage.
pub(super) fn take_scratch(n: usize) -> (Vec<Vec<f64>>, Vec<bool>) {
    let (mut g, mut needs) = POOL.try_with(|p| std::mem::take(&mut p.borrow_mut().scratch)).unwrap_or_default();
    g.resize_with(n, Vec::new);
    needs.resize(n, false);
    (g, needs)
}

/// Keeps the reverse pass's storage, after giving back the buffers still in its slots.
pub(super) fn give_scratch(mut g: Vec<Vec<f64>>, mut needs: Vec<bool>) {
    for v in g.drain(..) {
        if v.capacity() > 0 {
            give(v);
        }
    }
    needs.clear();
    let _ = POOL.try_with(|p| {
        let mut p = p.borrow_mut();
        if g.capacity() > p.scratch.0.capacity() {
            p.scratch = (g, needs);
        }
    });
}

/// Frees everything this thread's pool keeps. The kept tensors and buffers are taken out first and
/// dropped with the pool closed (a dropped tensor gives its buffer back, which is then freed).
pub(crate) fn release() {
    let kept = POOL.try_with(|p| {
        let mut p = p.borrow_mut();
        p.limit = 0;
        p.bytes = 0;
        (std::mem::take(&mut p.classes), std::mem::take(&mut p.boxes), p.placeholder.take(), std::mem::take(&mut p.ops), std::mem::take(&mut p.scratch))
    });
    drop(kept);
    let _ = POOL.try_with(|p| {
        let mut p = p.borrow_mut();
        p.limit = MAX_BYTES;
        p.bytes = 0;
    });
}

/// Bytes of buffers this thread's pool keeps.
pub(crate) fn kept_bytes() -> usize {
    POOL.try_with(|p| p.borrow().bytes).unwrap_or(0)
}
