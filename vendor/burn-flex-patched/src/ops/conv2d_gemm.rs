//! 2D convolution as batched im2col + GEMM, for the forward pass and both backward passes
//! (patch for multigrid-ebm; see PATCH.md).
//!
//! Upstream flex builds its im2col tiles per image, so a layer with a small output (8×8, 4×4)
//! gives GEMMs with a few dozen columns, and it leaves both backward passes to Burn's generic
//! fallbacks (a transposed convolution per image for the input gradient, a convolution with the
//! batch as channels for the weight gradient). Here a tile holds the output positions of
//! several images (or part of one large image), so every pass is one large GEMM per tile:
//!
//! - forward:          Y[c_out, tile]    = W[c_out, rows] · col[rows, tile]
//! - input gradient:   dcol[rows, tile]  = Wᵀ[rows, c_out] · dY[c_out, tile], then col2im
//! - weight gradient:  dW[c_out, rows]  += dY[c_out, tile] · colᵀ[tile, rows]
//!
//! where `rows` = (input channel, kernel row, kernel column) of one group, the order of the
//! weight's own layout, so the weight is used in place. Padding may be asymmetric; positions
//! outside the input read as zero.

use alloc::vec;
use alloc::vec::Vec;
use burn_backend::DType;
use burn_backend::ops::ConvOptions;
use burn_backend::ops::conv::calculate_conv_output_size_asymmetric;
use burn_std::{Bytes, Shape};

use crate::{FlexTensor, Layout};

/// Which gradient a backward pass computes.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Pass {
    Input,
    Weight,
}

/// Output positions per tile: the GEMM's N (forward, input gradient) or K (weight gradient).
const TILE: usize = 512;

/// Multiply-adds below which a convolution pass runs on the calling thread: about 0.2 ms of one
/// core's work, several times what handing tasks to the pool and waking its threads costs (tens of
/// microseconds natively, more between the Web Workers of a threaded wasm build). Without it the
/// small layers of a small net (a 4×4 or 8×8 output, a batch of 8) went to the pool for
/// microseconds of work each and ran slower on two threads than on one.
const MIN_PARALLEL_MACS: usize = 1 << 20;

/// Element types the GEMM crate multiplies natively.
pub(crate) trait GemmElement:
    bytemuck::Pod
    + burn_backend::Element
    + Copy
    + Send
    + Sync
    + 'static
    + num_traits::Zero
    + num_traits::One
    + core::ops::Add<Output = Self>
{
}
impl<T> GemmElement for T where
    T: bytemuck::Pod
        + burn_backend::Element
        + Copy
        + Send
        + Sync
        + 'static
        + num_traits::Zero
        + num_traits::One
        + core::ops::Add<Output = T>
{
}

/// Shapes and options of one convolution, and how its positions split into tasks and tiles.
#[derive(Clone, Copy, Debug)]
struct Geometry {
    batch: usize,
    c_in: usize,
    in_h: usize,
    in_w: usize,
    c_out: usize,
    k_h: usize,
    k_w: usize,
    out_h: usize,
    out_w: usize,
    stride: [usize; 2],
    pad: [usize; 2],
    dilation: [usize; 2],
    groups: usize,
}

impl Geometry {
    fn new(x_shape: &[usize], w_shape: &[usize], options: &ConvOptions<2>) -> Self {
        let [batch, c_in, in_h, in_w] = [x_shape[0], x_shape[1], x_shape[2], x_shape[3]];
        let [c_out, _, k_h, k_w] = [w_shape[0], w_shape[1], w_shape[2], w_shape[3]];
        let out = |i: usize, k: usize, size: usize| {
            calculate_conv_output_size_asymmetric(k, options.stride[i], options.padding[i], options.dilation[i], size)
        };
        Geometry {
            batch,
            c_in,
            in_h,
            in_w,
            c_out,
            k_h,
            k_w,
            out_h: out(0, k_h, in_h),
            out_w: out(1, k_w, in_w),
            stride: options.stride,
            pad: options.padding_begin(),
            dilation: options.dilation,
            groups: options.groups,
        }
    }

    fn in_per_group(&self) -> usize {
        self.c_in / self.groups
    }
    fn out_per_group(&self) -> usize {
        self.c_out / self.groups
    }
    /// Rows of a group's im2col matrix (and columns of its weight matrix).
    fn rows(&self) -> usize {
        self.in_per_group() * self.k_h * self.k_w
    }
    fn positions(&self) -> usize {
        self.out_h * self.out_w
    }
    fn image_len(&self) -> usize {
        self.c_in * self.in_h * self.in_w
    }

    /// Multiply-adds of one pass (the forward pass and both gradients have the same count).
    fn multiply_adds(&self) -> usize {
        self.batch * self.c_out * self.positions() * self.rows()
    }
    /// Threads worth using: every thread of the pool, or one for a pass too small to split.
    fn threads(&self) -> usize {
        if self.multiply_adds() >= MIN_PARALLEL_MACS { threads() } else { 1 }
    }
    /// Whether the tasks go to the pool.
    fn parallel(&self) -> bool {
        self.threads() > 1
    }

    /// Images per task: whole images (so tasks never write the same memory), as many as fill
    /// a tile, but few enough that every thread gets a task.
    fn images_per_task(&self) -> usize {
        let per_tile = (TILE / self.positions().max(1)).max(1);
        per_tile.min(self.batch.div_ceil(self.threads())).max(1)
    }
    fn tasks(&self) -> usize {
        self.batch.div_ceil(self.images_per_task())
    }
    /// Let the GEMM split its work over threads only when the tasks alone cannot keep them busy.
    fn parallel_gemm(&self) -> bool {
        self.tasks() < self.threads()
    }
}

fn threads() -> usize {
    #[cfg(feature = "rayon")]
    return rayon::current_num_threads();
    #[cfg(not(feature = "rayon"))]
    return 1;
}

/// One tile of a task: output positions `start..start + len` of the images from `first` on
/// (flattened image by image), for the channels of `group`.
#[derive(Clone, Copy, Debug)]
struct Tile {
    group: usize,
    first: usize,
    start: usize,
    len: usize,
}

/// The contiguous runs of a tile, cut at image boundaries: `f(image, position, column, run)`.
fn image_runs(g: &Geometry, tile: Tile, mut f: impl FnMut(usize, usize, usize, usize)) {
    let positions = g.positions();
    let mut column = 0;
    while column < tile.len {
        let n = tile.start + column;
        let (image, position) = (tile.first + n / positions, n % positions);
        let run = (positions - position).min(tile.len - column);
        f(image, position, column, run);
        column += run;
    }
}

/// Marks an output position whose input lies in the padding.
const PADDING: u32 = u32::MAX;

/// For each kernel offset (kh, kw) and output position, the index in an input channel plane
/// that the position reads, or [`PADDING`]: [k_h · k_w, positions]. The same for every channel
/// and image, so it is computed once per convolution.
fn patch_indices(g: &Geometry) -> Vec<u32> {
    assert!(g.in_h * g.in_w < PADDING as usize, "conv2d: input plane too large");
    let mut indices = Vec::with_capacity(g.k_h * g.k_w * g.positions());
    for kh in 0..g.k_h {
        for kw in 0..g.k_w {
            for oy in 0..g.out_h {
                let iy = (oy * g.stride[0] + kh * g.dilation[0]).checked_sub(g.pad[0]).filter(|&i| i < g.in_h);
                for ox in 0..g.out_w {
                    let ix = (ox * g.stride[1] + kw * g.dilation[1]).checked_sub(g.pad[1]).filter(|&i| i < g.in_w);
                    indices.push(match (iy, ix) {
                        (Some(iy), Some(ix)) => (iy * g.in_w + ix) as u32,
                        _ => PADDING,
                    });
                }
            }
        }
    }
    indices
}

/// Visit a tile's im2col matrix [rows, len] run by run: `f(column, plane, indices)`, where the
/// columns `column..column + indices.len()` (indices into the matrix) read the input at
/// `plane + indices[i]`.
fn im2col_walk(g: &Geometry, patches: &[u32], tile: Tile, mut f: impl FnMut(usize, usize, &[u32])) {
    let (k_area, positions) = (g.k_h * g.k_w, g.positions());
    for row in 0..g.rows() {
        let channel = tile.group * g.in_per_group() + row / k_area;
        let indices = &patches[(row % k_area) * positions..][..positions];
        image_runs(g, tile, |image, position, column, run| {
            let plane = (image * g.c_in + channel) * g.in_h * g.in_w;
            f(row * tile.len + column, plane, &indices[position..position + run]);
        });
    }
}

/// Fill a tile's im2col matrix from the input.
fn im2col<T: GemmElement>(g: &Geometry, patches: &[u32], x: &[T], tile: Tile, col: &mut [T]) {
    im2col_walk(g, patches, tile, |column, plane, indices| {
        let x = &x[plane..plane + g.in_h * g.in_w];
        for (d, &i) in col[column..column + indices.len()].iter_mut().zip(indices) {
            *d = if i == PADDING { T::zero() } else { x[i as usize] };
        }
    });
}

/// Add a tile's im2col-shaped gradient back onto the input positions it came from (col2im);
/// `dx` holds the images from input index `offset` on.
fn col2im_add<T: GemmElement>(g: &Geometry, patches: &[u32], tile: Tile, col: &[T], dx: &mut [T], offset: usize) {
    im2col_walk(g, patches, tile, |column, plane, indices| {
        let dx = &mut dx[plane - offset..plane - offset + g.in_h * g.in_w];
        for (&v, &i) in col[column..column + indices.len()].iter().zip(indices) {
            if i != PADDING {
                dx[i as usize] = dx[i as usize] + v;
            }
        }
    });
}

/// dst = lhs · rhs (or dst += lhs · rhs), each matrix given as (data, row stride, column stride).
fn gemm<T: GemmElement>(
    [m, n, k]: [usize; 3],
    dst: &mut [T],
    dst_row_stride: usize,
    accumulate: bool,
    (lhs, lhs_rs, lhs_cs): (&[T], usize, usize),
    (rhs, rhs_rs, rhs_cs): (&[T], usize, usize),
    parallel: bool,
) {
    if m == 0 || n == 0 {
        return;
    }
    // The last element each operand's strides reach must lie inside its slice.
    let extent = |rows: usize, cols: usize, rs: usize, cs: usize| (rows - 1) * rs + (cols - 1) * cs + 1;
    assert!(dst.len() >= extent(m, n, dst_row_stride, 1), "conv2d gemm: destination too short");
    if k > 0 {
        assert!(lhs.len() >= extent(m, k, lhs_rs, lhs_cs), "conv2d gemm: left operand too short");
        assert!(rhs.len() >= extent(k, n, rhs_rs, rhs_cs), "conv2d gemm: right operand too short");
    }
    #[cfg(feature = "rayon")]
    let parallelism = if parallel { gemm::Parallelism::Rayon(0) } else { gemm::Parallelism::None };
    #[cfg(not(feature = "rayon"))]
    let parallelism = {
        let _ = parallel;
        gemm::Parallelism::None
    };
    let one = T::one();
    // SAFETY: the slices cover every index the strides reach (asserted above).
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            dst.as_mut_ptr(),
            1,
            dst_row_stride as isize,
            accumulate,
            lhs.as_ptr(),
            lhs_cs as isize,
            lhs_rs as isize,
            rhs.as_ptr(),
            rhs_cs as isize,
            rhs_rs as isize,
            if accumulate { one } else { T::zero() },
            one,
            false,
            false,
            false,
            parallelism,
        );
    }
}

/// Run `task(index, chunk)` for consecutive `chunk_len` chunks of `data`, in parallel with rayon
/// when `parallel`.
fn for_each_chunk<T: Send>(
    data: &mut [T],
    chunk_len: usize,
    parallel: bool,
    task: impl Fn(usize, &mut [T]) + Send + Sync,
) {
    #[cfg(feature = "rayon")]
    if parallel {
        use rayon::prelude::*;
        data.par_chunks_mut(chunk_len.max(1)).enumerate().for_each(|(i, c)| task(i, c));
        return;
    }
    let _ = parallel;
    data.chunks_mut(chunk_len.max(1)).enumerate().for_each(|(i, c)| task(i, c));
}

/// Run `f(tile, col, out)` for every group and tile of task `task`, with scratch buffers for the
/// tile's im2col matrix [rows, len] (`col`) and its block of the output (gradient) [c_out of the
/// group, len] (`out`).
fn for_each_tile<T: GemmElement>(g: &Geometry, task: usize, mut f: impl FnMut(Tile, &mut [T], &mut [T])) {
    let first = task * g.images_per_task();
    let total = g.images_per_task().min(g.batch - first) * g.positions();
    let longest = TILE.min(total).max(1);
    with_scratch(g.rows() * longest, g.out_per_group() * longest, |col: &mut [T], out: &mut [T]| {
        for group in 0..g.groups {
            for start in (0..total).step_by(TILE) {
                f(Tile { group, first, start, len: TILE.min(total - start) }, col, out);
            }
        }
    })
}

/// Run `f(col, out)` with two scratch buffers of at least the given lengths (contents
/// unspecified: every pass overwrites them before reading). The im2col buffer alone can be
/// several MB, so with `std` the buffers are kept per thread and reused across calls instead of
/// being allocated, page-faulted and zeroed each time.
fn with_scratch<T: GemmElement, R>(col_len: usize, out_len: usize, f: impl FnOnce(&mut [T], &mut [T]) -> R) -> R {
    #[cfg(feature = "std")]
    std::thread_local! {
        static SCRATCH: core::cell::Cell<Vec<u64>> = const { core::cell::Cell::new(Vec::new()) };
    }
    let words = |n: usize| (n * core::mem::size_of::<T>()).div_ceil(8);
    // Taken out while in use: a task that waits inside a parallel GEMM may run another task on
    // this thread, which then finds the slot empty and allocates its own.
    #[cfg(feature = "std")]
    let mut buffer = SCRATCH.with(|s| s.take());
    #[cfg(not(feature = "std"))]
    let mut buffer = Vec::new();
    let (col_words, out_words) = (words(col_len), words(out_len));
    if buffer.len() < col_words + out_words {
        buffer.resize(col_words + out_words, 0u64);
    }
    let (col, out) = buffer.split_at_mut(col_words);
    let result = f(
        &mut bytemuck::cast_slice_mut::<u64, T>(col)[..col_len],
        &mut bytemuck::cast_slice_mut::<u64, T>(&mut out[..out_words])[..out_len],
    );
    #[cfg(feature = "std")]
    SCRATCH.with(|s| s.set(buffer));
    result
}

fn tensor<T: GemmElement>(data: Vec<T>, shape: [usize; 4], dtype: DType) -> FlexTensor {
    FlexTensor::new(Bytes::from_elems(data), Layout::contiguous(Shape::from(shape.to_vec())), dtype)
}

/// The forward convolution.
pub(crate) fn forward<T: GemmElement>(
    x: FlexTensor,
    weight: FlexTensor,
    bias: Option<FlexTensor>,
    options: &ConvOptions<2>,
) -> FlexTensor {
    let dtype = x.dtype();
    let (x, weight) = (x.to_contiguous(), weight.to_contiguous());
    let g = Geometry::new(x.layout().shape(), weight.layout().shape(), options);
    let (x, w): (&[T], &[T]) = (x.storage(), weight.storage());
    let bias = bias.map(|b| b.to_contiguous());
    let bias: Option<&[T]> = bias.as_ref().map(|b| b.storage());
    let (rows, opg, positions) = (g.rows(), g.out_per_group(), g.positions());
    let patches = patch_indices(&g);
    let mut y = crate::ops::par::zeroed::<T>(g.batch * g.c_out * positions);
    for_each_chunk(&mut y, g.images_per_task() * g.c_out * positions, g.parallel(), |task, y_task| {
        for_each_tile(&g, task, |tile, col, out| {
            let len = tile.len;
            im2col(&g, &patches, x, tile, col);
            let w_group = &w[tile.group * opg * rows..];
            gemm([opg, len, rows], out, len, false, (w_group, rows, 1), (col, len, 1), g.parallel_gemm());
            image_runs(&g, tile, |image, position, column, run| {
                for o in 0..opg {
                    let channel = tile.group * opg + o;
                    let b = bias.map_or(T::zero(), |b| b[channel]);
                    let dst = ((image - tile.first) * g.c_out + channel) * positions + position;
                    for (d, &v) in y_task[dst..dst + run].iter_mut().zip(&out[o * len + column..][..run]) {
                        *d = v + b;
                    }
                }
            });
        })
    });
    tensor(y, [g.batch, g.c_out, g.out_h, g.out_w], dtype)
}

/// Gather a tile of the output gradient into [c_out of the group, len].
fn gather_output_grad<T: GemmElement>(g: &Geometry, dy: &[T], tile: Tile, out: &mut [T]) {
    let (opg, positions) = (g.out_per_group(), g.positions());
    image_runs(g, tile, |image, position, column, run| {
        for o in 0..opg {
            let src = (image * g.c_out + tile.group * opg + o) * positions + position;
            out[o * tile.len + column..][..run].copy_from_slice(&dy[src..src + run]);
        }
    });
}

/// The gradient of the input: col2im of Wᵀ · dY.
pub(crate) fn x_backward<T: GemmElement>(
    x: FlexTensor,
    weight: FlexTensor,
    output_grad: FlexTensor,
    options: &ConvOptions<2>,
) -> FlexTensor {
    let dtype = output_grad.dtype();
    let (weight, output_grad) = (weight.to_contiguous(), output_grad.to_contiguous());
    let g = Geometry::new(x.layout().shape(), weight.layout().shape(), options);
    let (w, dy): (&[T], &[T]) = (weight.storage(), output_grad.storage());
    let (rows, opg) = (g.rows(), g.out_per_group());
    let patches = patch_indices(&g);
    let mut dx = crate::ops::par::zeroed::<T>(g.batch * g.image_len());
    for_each_chunk(&mut dx, g.images_per_task() * g.image_len(), g.parallel(), |task, dx_task| {
        let offset = task * g.images_per_task() * g.image_len();
        for_each_tile(&g, task, |tile, col, out| {
            gather_output_grad(&g, dy, tile, out);
            let w_group = &w[tile.group * opg * rows..];
            gemm(
                [rows, tile.len, opg],
                col,
                tile.len,
                false,
                (w_group, 1, rows),
                (out, tile.len, 1),
                g.parallel_gemm(),
            );
            col2im_add(&g, &patches, tile, col, dx_task, offset);
        })
    });
    tensor(dx, [g.batch, g.c_in, g.in_h, g.in_w], dtype)
}

/// The gradient of the weight: Σ over tiles of dY · colᵀ.
pub(crate) fn weight_backward<T: GemmElement>(
    x: FlexTensor,
    weight: FlexTensor,
    output_grad: FlexTensor,
    options: &ConvOptions<2>,
) -> FlexTensor {
    let dtype = output_grad.dtype();
    let (x, output_grad) = (x.to_contiguous(), output_grad.to_contiguous());
    let w_shape = weight.layout().shape();
    let g = Geometry::new(x.layout().shape(), w_shape, options);
    let (x, dy): (&[T], &[T]) = (x.storage(), output_grad.storage());
    let (rows, opg) = (g.rows(), g.out_per_group());
    let patches = patch_indices(&g);
    let task_grad = |task: usize, mut dw: Vec<T>| {
        for_each_tile(&g, task, |tile, col, out| {
            im2col(&g, &patches, x, tile, col);
            gather_output_grad(&g, dy, tile, out);
            let dw_group = &mut dw[tile.group * opg * rows..(tile.group + 1) * opg * rows];
            gemm(
                [opg, rows, tile.len],
                dw_group,
                rows,
                true,
                (out, tile.len, 1),
                (col, 1, tile.len),
                g.parallel_gemm(),
            );
        });
        dw
    };
    let zeros = || vec![T::zero(); g.c_out * rows];
    #[cfg(feature = "rayon")]
    let dw = if g.parallel() {
        use rayon::prelude::*;
        (0..g.tasks()).into_par_iter().fold(zeros, |dw, task| task_grad(task, dw)).reduce(zeros, |mut a, b| {
            a.iter_mut().zip(b).for_each(|(a, b)| *a = *a + b);
            a
        })
    } else {
        (0..g.tasks()).fold(zeros(), |dw, task| task_grad(task, dw))
    };
    #[cfg(not(feature = "rayon"))]
    let dw = (0..g.tasks()).fold(zeros(), |dw, task| task_grad(task, dw));
    tensor(dw, [w_shape[0], w_shape[1], w_shape[2], w_shape[3]], dtype)
}

// Tested against a direct convolution through Burn's public API (forward, and the input and
// weight gradients by autodiff): multigrid-ebm's tests/conv.rs.
