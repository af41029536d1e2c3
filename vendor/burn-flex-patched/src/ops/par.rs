//! Element-wise kernels over large contiguous slices, split over rayon's threads (a multigrid-ebm
//! patch, see PATCH.md). Upstream runs them on the calling thread, so with many cores the
//! element-wise passes of a training step (LeakyReLU and its gradient, scalar and binary
//! arithmetic, the optimiser's update) ran serially while the convolutions ran in parallel.
//! Below `MIN_PARALLEL` elements, and without the `rayon` feature (wasm), they still run on the
//! calling thread.

use alloc::vec::Vec;
#[cfg(feature = "rayon")]
use core::mem::MaybeUninit;
use core::ops::Range;

/// Elements per task: 64 KiB of f32, so that rayon's per-task cost stays small beside the work.
#[cfg(feature = "rayon")]
const CHUNK: usize = 16 * 1024;
/// The smallest slice worth splitting: 1 MiB of f32, a fraction of a millisecond of one core's
/// work. (At 4 chunks, the activations of a small net at batch 8 went to the pool for tens of
/// microseconds of work each, about what waking a Web Worker of a threaded wasm build costs.)
#[cfg(feature = "rayon")]
const MIN_PARALLEL: usize = 16 * CHUNK;

/// Call `f(part, range)` for consecutive parts of `dst` covering it, `range` being the part's
/// place in `dst` (to slice the other operands alike); in parallel when `dst` is large.
#[inline]
pub(crate) fn chunks_mut<T, F>(dst: &mut [T], f: F)
where
    T: Send,
    F: Fn(&mut [T], Range<usize>) + Sync + Send,
{
    #[cfg(feature = "rayon")]
    if dst.len() >= MIN_PARALLEL {
        use rayon::prelude::*;
        dst.par_chunks_mut(CHUNK).enumerate().for_each(|(i, part)| {
            let start = i * CHUNK;
            let end = start + part.len();
            f(part, start..end)
        });
        return;
    }
    let n = dst.len();
    f(dst, 0..n)
}

/// `dst[i] = op(dst[i])` for every element.
#[inline]
pub(crate) fn update<T, Op>(dst: &mut [T], op: Op)
where
    T: Copy + Send,
    Op: Fn(T) -> T + Sync + Send,
{
    chunks_mut(dst, |part, _| {
        for x in part {
            *x = op(*x);
        }
    })
}

/// A new vector of `n` elements, written part by part by `f(part, range)` (`range` as in
/// `chunks_mut`), which must write every element of its part. (Without rayon, the functions below
/// keep upstream's code: in wasm, V8 ran some kernels at half speed in some page loads when they
/// went through here, as it did with other code changes, see reports/bench.md.)
#[cfg(feature = "rayon")]
#[inline]
fn collect<R, F>(n: usize, f: F) -> Vec<R>
where
    R: Send,
    F: Fn(&mut [MaybeUninit<R>], Range<usize>) + Sync + Send,
{
    let mut out = Vec::with_capacity(n);
    chunks_mut(&mut out.spare_capacity_mut()[..n], f);
    // SAFETY: the parts cover `0..n`, and `f` wrote every element of each.
    unsafe { out.set_len(n) };
    out
}

/// `src.map(op)` into a new vector.
#[inline]
pub(crate) fn map<T, R, Op>(src: &[T], op: Op) -> Vec<R>
where
    T: Copy + Sync,
    R: Send,
    Op: Fn(T) -> R + Sync + Send,
{
    #[cfg(not(feature = "rayon"))]
    return src.iter().map(|&x| op(x)).collect();
    #[cfg(feature = "rayon")]
    collect(src.len(), |part, range| {
        for (o, &x) in part.iter_mut().zip(&src[range]) {
            o.write(op(x));
        }
    })
}

/// `op(a[i], b[i])` for every `i` into a new vector (`a` and `b` of the same length).
#[inline]
pub(crate) fn zip_map<T, U, R, Op>(a: &[T], b: &[U], op: Op) -> Vec<R>
where
    T: Copy + Sync,
    U: Copy + Sync,
    R: Send,
    Op: Fn(T, U) -> R + Sync + Send,
{
    assert_eq!(a.len(), b.len(), "zip_map: length mismatch");
    #[cfg(not(feature = "rayon"))]
    return a.iter().zip(b).map(|(&x, &y)| op(x, y)).collect();
    #[cfg(feature = "rayon")]
    collect(a.len(), |part, range| {
        for ((o, &x), &y) in part.iter_mut().zip(&a[range.clone()]).zip(&b[range]) {
            o.write(op(x, y));
        }
    })
}

/// A vector of `n` zeros (the zeroing split over the threads when large).
#[inline]
pub(crate) fn zeroed<T: bytemuck::Zeroable + Copy + Send>(n: usize) -> Vec<T> {
    #[cfg(not(feature = "rayon"))]
    return alloc::vec![T::zeroed(); n];
    #[cfg(feature = "rayon")]
    collect(n, |part, _| {
        for o in part {
            o.write(T::zeroed());
        }
    })
}
