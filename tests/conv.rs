//! The CPU backend's convolution (patched into Burn's flex backend as batched im2col + GEMM, see
//! vendor/patches/README.md) against a direct convolution written out here: the forward values
//! and, by autodiff, the gradients of the input and of the weight, for the paper nets' layer
//! shapes and for the edge cases of the tiling (several images per tile, a tile splitting an
//! image, groups, dilation, asymmetric padding).
#![cfg(not(target_arch = "wasm32"))]

mod common;
use burn::prelude::*;
use burn::tensor::module::conv2d;
use burn::tensor::ops::ConvOptions;
use common::*;

/// The shapes and options of one convolution.
struct Case {
    x: [usize; 4],
    w: [usize; 4],
    stride: usize,
    padding: [(usize, usize); 2],
    dilation: usize,
    groups: usize,
}

impl Case {
    fn options(&self) -> ConvOptions<2> {
        ConvOptions::new_with_padding([self.stride; 2], self.padding, [self.dilation; 2], self.groups)
    }

    fn out_size(&self, i: usize) -> usize {
        let (k, (a, b)) = (self.w[2 + i], self.padding[i]);
        (self.x[2 + i] + a + b - self.dilation * (k - 1) - 1) / self.stride + 1
    }

    /// y[b, o, oy, ox] = Σ w[o, c, kh, kw] · x[b, g·cpg + c, oy·s + kh·d − pad, ox·s + kw·d − pad].
    fn direct(&self, x: &[f64], w: &[f64]) -> Vec<f64> {
        let ([n, c_in, h, wd], [c_out, cpg, kh, kw]) = (self.x, self.w);
        let (oh, ow) = (self.out_size(0), self.out_size(1));
        let opg = c_out / self.groups;
        let mut y = vec![0.0; n * c_out * oh * ow];
        for (i, out) in y.iter_mut().enumerate() {
            let (b, o, oy, ox) = (i / (c_out * oh * ow), (i / (oh * ow)) % c_out, (i / ow) % oh, i % ow);
            for c in 0..cpg {
                for ky in 0..kh {
                    for kx in 0..kw {
                        let iy = (oy * self.stride + ky * self.dilation) as isize - self.padding[0].0 as isize;
                        let ix = (ox * self.stride + kx * self.dilation) as isize - self.padding[1].0 as isize;
                        if iy < 0 || ix < 0 || iy >= h as isize || ix >= wd as isize {
                            continue;
                        }
                        let ci = (o / opg) * cpg + c;
                        *out += w[((o * cpg + c) * kh + ky) * kw + kx]
                            * x[((b * c_in + ci) * h + iy as usize) * wd + ix as usize];
                    }
                }
            }
        }
        y
    }

    /// Burn's forward values and the gradients of Σ y·r with respect to x and w, against the
    /// direct convolution: the forward values directly, the gradients as exact differences
    /// (the convolution is linear in each argument, so ⟨r, y(x + eᵢ)⟩ − ⟨r, y(x)⟩ = ∂/∂xᵢ).
    fn check(&self) {
        let name = format!("x {:?} w {:?} {:?}", self.x, self.w, self.options());
        let (nx, nw): (usize, usize) = (self.x.iter().product(), self.w.iter().product());
        let (x, w) = (pseudo_random(nx, 1, -1.0, 1.0), pseudo_random(nw, 2, -1.0, 1.0));
        let wide = |v: &[f32]| v.iter().map(|&a| a as f64).collect::<Vec<_>>();
        let (xd, wd) = (wide(&x), wide(&w));
        let y_direct = self.direct(&xd, &wd);
        let r = pseudo_random(y_direct.len(), 3, -1.0, 1.0);
        let rd = wide(&r);
        let dot = |y: &[f64]| y.iter().zip(&rd).map(|(a, b)| a * b).sum::<f64>();

        let device = cpu().autodiff();
        let xt = Tensor::<4>::from_data(TensorData::new(x, self.x), &device).require_grad();
        let wt = Tensor::<4>::from_data(TensorData::new(w, self.w), &device).require_grad();
        let y = conv2d(xt.clone(), wt.clone(), None, self.options());
        let [_, c_out, oh, ow] = y.dims();
        assert_eq!([c_out, oh, ow], [self.w[0], self.out_size(0), self.out_size(1)], "{name}: output shape");
        let rt = Tensor::<4>::from_data(TensorData::new(r, y.dims()), &device);
        let grads = (y.clone() * rt).sum().backward();
        let (dx, dw) = (values(xt.grad(&grads).unwrap()), values(wt.grad(&grads).unwrap()));

        let y = values(y.inner());
        let close = |a: f32, b: f64, what: &str, i: usize| {
            assert!((a as f64 - b).abs() <= 1e-4 * (1.0 + b.abs()), "{name}: {what}[{i}] = {a}, direct {b}");
        };
        y.iter().zip(&y_direct).enumerate().for_each(|(i, (&a, &b))| close(a, b, "y", i));
        let base = dot(&y_direct);
        let unit = |v: &[f64], i: usize| {
            let mut v = v.to_vec();
            v[i] += 1.0;
            v
        };
        for i in (0..nx).step_by(3) {
            close(dx[i], dot(&self.direct(&unit(&xd, i), &wd)) - base, "dx", i);
        }
        assert_eq!(dw.len(), nw, "{name}: weight gradient length");
        for (i, &g) in dw.iter().enumerate() {
            close(g, dot(&self.direct(&xd, &unit(&wd, i))) - base, "dw", i);
        }
    }
}

fn case(x: [usize; 4], w: [usize; 4], stride: usize, padding: [(usize, usize); 2], dilation: usize, groups: usize) {
    Case { x, w, stride, padding, dilation, groups }.check();
}

#[test]
fn paper_layer_shapes_match_the_direct_convolution() {
    // 5×5 stride 2 with TensorFlow's SAME padding (one row and column more at the end), 3×3 stride 1.
    case([3, 3, 16, 16], [4, 3, 5, 5], 2, [(1, 2), (1, 2)], 1, 1);
    case([2, 4, 8, 8], [5, 4, 3, 3], 1, [(1, 1), (1, 1)], 1, 1);
}

#[test]
fn tiling_edge_cases_match_the_direct_convolution() {
    // Many small images per tile (and a batch that does not divide evenly into tasks).
    case([41, 2, 4, 4], [3, 2, 3, 3], 1, [(1, 1), (1, 1)], 1, 1);
    // One image larger than a tile, asymmetric padding.
    case([1, 2, 30, 25], [3, 2, 3, 3], 1, [(0, 2), (1, 0)], 1, 1);
    // Groups, a rectangular kernel, no padding along one axis.
    case([3, 4, 9, 7], [6, 2, 3, 2], 1, [(1, 1), (0, 0)], 1, 2);
    // Dilation with stride 2.
    case([2, 3, 11, 11], [2, 3, 3, 3], 2, [(2, 2), (2, 2)], 2, 1);
    // A pointwise convolution (flex's own 1×1 path forward, the patched passes backward).
    case([2, 3, 5, 5], [2, 3, 1, 1], 1, [(0, 0), (0, 0)], 1, 1);
}

/// The forward values and the gradients of Σ y·r with respect to x and w, computed on a rayon
/// pool of `threads` threads.
fn on_threads(threads: usize, x: [usize; 4], w: [usize; 4], options: &ConvOptions<2>) -> [Vec<f32>; 3] {
    let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().expect("a thread pool");
    pool.install(|| {
        let device = cpu().autodiff();
        let tensor = |shape: [usize; 4], seed| {
            Tensor::<4>::from_data(
                TensorData::new(pseudo_random(shape.iter().product(), seed, -1.0, 1.0), shape),
                &device,
            )
        };
        let (xt, wt) = (tensor(x, 1).require_grad(), tensor(w, 2).require_grad());
        let y = conv2d(xt.clone(), wt.clone(), None, options.clone());
        let r = tensor(y.dims(), 3);
        let grads = (y.clone() * r).sum().backward();
        [values(y.inner()), values(xt.grad(&grads).unwrap()), values(wt.grad(&grads).unwrap())]
    })
}

/// Convolutions of over a million multiply-adds are split over the pool's threads (smaller ones
/// stay on one thread, where the cases above run): on three threads, with a batch that does not
/// divide evenly into tasks, they give what they give on one.
#[test]
fn large_convolutions_on_three_threads_match_one_thread() {
    let cases = [
        // Grid 64's first layer of the small preset (29M multiply-adds), batch 9.
        ([9, 16, 32, 32], [32, 16, 5, 5], ConvOptions::new([2, 2], [2, 2], [1, 1], 1)),
        // Many small images per tile (21M).
        ([7, 64, 8, 8], [96, 64, 3, 3], ConvOptions::new([1, 1], [1, 1], [1, 1], 1)),
    ];
    for (x, w, options) in cases {
        let (one, three) = (on_threads(1, x, w, &options), on_threads(3, x, w, &options));
        for (what, (a, b)) in ["y", "dx", "dw"].iter().zip(one.iter().zip(&three)) {
            assert_eq!(a.len(), b.len(), "x {x:?} w {w:?}: {what} length");
            let scale = a.iter().fold(0f32, |m, v| m.max(v.abs()));
            for (i, (p, q)) in a.iter().zip(b).enumerate() {
                assert!((p - q).abs() <= 1e-5 * scale, "x {x:?} w {w:?}: {what}[{i}] = {q} on 3 threads, {p} on 1");
            }
        }
    }
}
