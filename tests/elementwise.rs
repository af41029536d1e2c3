//! The CPU backend's element-wise kernels on tensors large enough to be split over threads
//! (patched into Burn's flex backend, see vendor/patches/README.md), against a plain loop here:
//! every operation the nets, Langevin dynamics and Adam use, in place (the only handle) and
//! allocating (the input still held), and LeakyReLU's gradient. Same f32 arithmetic on both
//! sides, so the results must agree bit for bit; a part written at the wrong place or left
//! unwritten shows as a mismatch.
#![cfg(not(target_arch = "wasm32"))]

mod common;
use burn::prelude::*;
use burn::tensor::activation::leaky_relu;
use common::*;

/// Several parallel parts and a short last one.
const N: usize = 300_007;

fn tensor(values: &[f32], device: &Device) -> Tensor<1> {
    Tensor::from_data(TensorData::new(values.to_vec(), [values.len()]), device)
}

#[track_caller]
fn check(what: &str, got: Tensor<1>, want: impl IntoIterator<Item = f32>) {
    let (got, want): (Vec<f32>, Vec<f32>) = (values(got), want.into_iter().collect());
    assert_eq!(got.len(), want.len(), "{what}: length");
    if let Some(i) = (0..got.len()).find(|&i| got[i].to_bits() != want[i].to_bits()) {
        panic!("{what}: element {i} of {} is {}, expected {}", got.len(), got[i], want[i]);
    }
}

#[test]
fn large_element_wise_operations_match_a_plain_loop() {
    let device = cpu();
    let (a, b) = (pseudo_random(N, 11, -2.0, 2.0), pseudo_random(N, 12, -2.0, 2.0));
    let (ta, tb) = (tensor(&a, &device), tensor(&b, &device));
    let zip = |f: fn(f32, f32) -> f32| a.iter().zip(&b).map(move |(&x, &y)| f(x, y));

    check("scalar multiply, in place", tensor(&a, &device) * 2.5, a.iter().map(|x| x * 2.5));
    check("scalar add, allocating", ta.clone() + 1.25, a.iter().map(|x| x + 1.25));
    check("add, in place", tensor(&a, &device) + tensor(&b, &device), zip(|x, y| x + y));
    check("subtract into the right operand", ta.clone() - tensor(&b, &device), zip(|x, y| x - y));
    check("divide, allocating", ta.clone() / tb.clone(), zip(|x, y| x / y));
    check("square", ta.clone().powi_scalar(2), a.iter().map(|x| x * x));
    check("square root", ta.clone().abs().sqrt(), a.iter().map(|x| x.abs().sqrt()));
    check("clamp", ta.clone().clamp(-1.0, 1.0), a.iter().map(|x| x.clamp(-1.0, 1.0)));
    check("compare", ta.clone().lower_elem(0.0).float(), a.iter().map(|&x| (x < 0.0) as u8 as f32));
    check(
        "select",
        ta.clone().mask_where(tb.clone().lower_elem(0.0), tb.clone()),
        zip(|x, y| if y < 0.0 { y } else { x }),
    );
    check("zeros", Tensor::<1>::zeros([N], &device), std::iter::repeat_n(0.0, N));
    check("leaky ReLU", leaky_relu(ta.clone(), 0.2), a.iter().map(|&x| if x >= 0.0 { x } else { 0.2 * x }));

    // Through autodiff: d/dx Σ b · leaky_relu(x) = b where x ≥ 0, 0.2 · b elsewhere.
    let device = device.autodiff();
    let x = tensor(&a, &device).require_grad();
    let grads = (leaky_relu(x.clone(), 0.2) * tensor(&b, &device)).sum().backward();
    check("leaky ReLU gradient", x.grad(&grads).unwrap(), zip(|x, y| if x >= 0.0 { y } else { y * 0.2 }));
}
