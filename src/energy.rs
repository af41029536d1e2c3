//! The energy net of one grid: f(I; θ), a bottom-up ConvNet returning one scalar per image
//! (higher f = more probable; the energy is −f). Layers as in the official model.py:
//! conv ('SAME' padding) → normalisation → LeakyReLU(0.2), then a fully connected layer to 1.

use burn::module::{Param, ParamId};
use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::{Linear, LinearConfig, PaddingConfig2d};
use burn::prelude::*;
use burn::tensor::Gradients;
use burn::tensor::activation::leaky_relu;
use rand::RngExt;
use rand_chacha::ChaCha8Rng;

use crate::config::{GridConfig, Norm};

/// The official code's LeakyReLU slope.
pub const LEAKY_SLOPE: f64 = 0.2;
const NORM_EPSILON: f64 = 1e-5;

/// Normalisation with the statistics of the batch it is given (training-mode batch norm,
/// used in Langevin too, as in the official code), followed by a learned affine map.
#[derive(Module, Debug)]
pub struct BatchStatNorm {
    pub gamma: Param<Tensor<1>>,
    pub beta: Param<Tensor<1>>,
}

impl BatchStatNorm {
    fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let c = x.dims()[1];
        let mean = x.clone().mean_dims(&[0, 2, 3]);
        let centred = x - mean;
        let var = centred.clone().square().mean_dims(&[0, 2, 3]);
        // γ / √(var + ε) per channel first, so the whole batch is multiplied once, not divided
        // and then multiplied (one pass fewer over the activations, forward and backward).
        let scale = self.gamma.val().reshape([1, c, 1, 1]) / (var + NORM_EPSILON).sqrt();
        centred * scale + self.beta.val().reshape([1, c, 1, 1])
    }
}

#[derive(Module, Debug)]
pub struct ConvBlock {
    pub conv: Conv2d,
    pub norm: Option<BatchStatNorm>,
}

#[derive(Module, Debug)]
pub struct EnergyNet {
    pub blocks: Vec<ConvBlock>,
    pub fc: Linear,
}

/// How a parameter starts out in a fresh net.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Init {
    /// Xavier (Glorot) uniform, as the official code initialises conv and fc weights.
    Xavier {
        fan_in: usize,
        fan_out: usize,
    },
    Zeros,
    Ones,
}

/// One parameter of a grid's net, named and shaped as in PyTorch (the reference
/// implementation's `state_dict`): `conv.{i}.weight` [out, in, k, k], `conv.{i}.bias`,
/// `bn.{i}.weight` / `.bias` (batch norm only), `fc.weight` [1, features], `fc.bias` [1].
#[derive(Clone, Debug, PartialEq)]
pub struct ParamSpec {
    pub name: String,
    pub shape: Vec<usize>,
    pub init: Init,
}

impl ParamSpec {
    pub fn numel(&self) -> usize {
        self.shape.iter().product()
    }

    /// Initial values, drawn from `rng` on the host so a seed gives the same net everywhere.
    pub fn initial_values(&self, rng: &mut ChaCha8Rng) -> Vec<f32> {
        match self.init {
            Init::Xavier { fan_in, fan_out } => {
                let limit = (6.0 / (fan_in + fan_out) as f64).sqrt() as f32;
                (0..self.numel()).map(|_| rng.random_range(-limit..limit)).collect()
            }
            Init::Zeros => vec![0.0; self.numel()],
            Init::Ones => vec![1.0; self.numel()],
        }
    }
}

/// The parameters of a grid's net, in the order [`EnergyNet::build`] takes them.
pub fn parameter_specs(grid: &GridConfig, norm: Norm) -> Vec<ParamSpec> {
    let spec = |name: String, shape: Vec<usize>, init| ParamSpec { name, shape, init };
    let mut specs = Vec::new();
    let mut c_in = 3;
    for (i, l) in grid.layers.iter().enumerate() {
        let (k, c) = (l.kernel, l.channels);
        let xavier = Init::Xavier { fan_in: c_in * k * k, fan_out: c * k * k };
        specs.push(spec(format!("conv.{i}.weight"), vec![c, c_in, k, k], xavier));
        specs.push(spec(format!("conv.{i}.bias"), vec![c], Init::Zeros));
        if norm == Norm::Batch {
            specs.push(spec(format!("bn.{i}.weight"), vec![c], Init::Ones));
            specs.push(spec(format!("bn.{i}.bias"), vec![c], Init::Zeros));
        }
        c_in = c;
    }
    let d = grid.fc_inputs();
    specs.push(spec("fc.weight".into(), vec![1, d], Init::Xavier { fan_in: d, fan_out: 1 }));
    specs.push(spec("fc.bias".into(), vec![1], Init::Zeros));
    specs
}

/// A parameter's values, flat in PyTorch layout, and its id.
pub type FlatParam = (Tensor<1>, ParamId);

/// A trainable parameter: a fresh tracked leaf on the autodiff device, whatever `value` was.
fn param<const D: usize>((value, id): (Tensor<D>, ParamId)) -> Param<Tensor<D>> {
    Param::initialized(id, value.inner().autodiff().require_grad())
}

impl EnergyNet {
    /// A freshly initialised net (Xavier-uniform weights, zero biases, unit norm scales).
    pub fn new(grid: &GridConfig, norm: Norm, rng: &mut ChaCha8Rng, device: &Device) -> Self {
        let values = parameter_specs(grid, norm)
            .iter()
            .map(|s| (Tensor::from_data(TensorData::new(s.initial_values(rng), [s.numel()]), device), ParamId::new()))
            .collect();
        Self::build(grid, norm, values)
    }

    /// A net from flat parameter values in the order and PyTorch layout of [`parameter_specs`]
    /// (the caller checks their sizes).
    pub fn build(grid: &GridConfig, norm: Norm, values: Vec<FlatParam>) -> Self {
        let device = values[0].0.device();
        let mut values = values.into_iter();
        let mut next = || values.next().expect("one value per ParamSpec");
        let mut c_in = 3;
        let blocks = grid
            .layers
            .iter()
            .map(|l| {
                let (k, c) = (l.kernel, l.channels);
                let mut conv = Conv2dConfig::new([c_in, c], [k, k])
                    .with_stride([l.stride, l.stride])
                    .with_padding(PaddingConfig2d::Same)
                    .init(&device);
                let (w, id) = next();
                conv.weight = param((w.reshape([c, c_in, k, k]), id));
                let (b, id) = next();
                conv.bias = Some(param((b, id)));
                let norm = (norm == Norm::Batch).then(|| {
                    let (gamma, g_id) = next();
                    let (beta, b_id) = next();
                    BatchStatNorm { gamma: param((gamma, g_id)), beta: param((beta, b_id)) }
                });
                c_in = c;
                ConvBlock { conv, norm }
            })
            .collect();
        let d = grid.fc_inputs();
        let mut fc = LinearConfig::new(d, 1).init(&device);
        // PyTorch's [1, d] and Burn's [d, 1] hold the same values in the same flat order.
        let (w, id) = next();
        fc.weight = param((w.reshape([d, 1]), id));
        let (b, id) = next();
        fc.bias = Some(param((b, id)));
        EnergyNet { blocks, fc }
    }

    /// Every parameter, flat in PyTorch layout, in the order of [`parameter_specs`].
    pub fn flat_parameters(&self) -> Vec<FlatParam> {
        self.parameters_and_gradients(None).into_iter().map(|(p, _)| p).collect()
    }

    /// Every parameter with its gradient in `grads` (flat, in the order of [`parameter_specs`]).
    pub fn parameters_and_gradients(&self, grads: Option<&Gradients>) -> Vec<(FlatParam, Option<Tensor<1>>)> {
        fn flat<const D: usize>(p: &Param<Tensor<D>>, grads: Option<&Gradients>) -> (FlatParam, Option<Tensor<1>>) {
            let value = p.val();
            let grad = grads.and_then(|g| value.grad(g)).map(|g| g.flatten(0, D - 1));
            ((value.inner().flatten(0, D - 1), p.id), grad)
        }
        let mut out = Vec::new();
        for block in &self.blocks {
            out.push(flat(&block.conv.weight, grads));
            out.push(flat(block.conv.bias.as_ref().expect("built with a bias"), grads));
            if let Some(norm) = &block.norm {
                out.push(flat(&norm.gamma, grads));
                out.push(flat(&norm.beta, grads));
            }
        }
        out.push(flat(&self.fc.weight, grads));
        out.push(flat(self.fc.bias.as_ref().expect("built with a bias"), grads));
        out
    }

    /// The scale of f: ‖w ⊙ γ‖₂, the fully connected weights each times the γ of its channel in
    /// the last normalisation (‖w‖₂ without normalisation), one value. Batch norm makes every
    /// earlier layer's scale irrelevant, so this is what sets how steep f is, and so how far one
    /// Langevin step moves a pixel; it is also the only part of the net that can move the scale
    /// (w and γ trade it between them, hence the product).
    pub fn energy_scale(&self) -> Tensor<1> {
        let w: Tensor<1> = self.fc.weight.val().flatten(0, 1);
        let effective = match self.blocks.last().and_then(|b| b.norm.as_ref()) {
            Some(norm) => {
                let c = norm.gamma.dims()[0];
                let per_channel = w.dims()[0] / c;
                // Features are flattened channel-major, so feature j belongs to channel j / (h·w).
                let gamma: Tensor<1> =
                    norm.gamma.val().reshape([c, 1]).expand([c, per_channel]).reshape([c * per_channel]);
                w * gamma
            }
            None => w,
        };
        effective.square().sum().sqrt()
    }

    /// This net with its energy scale ([`EnergyNet::energy_scale`]) at most `cap`: where it is
    /// larger, the fully connected weights are shrunk by cap / scale (a projection after each
    /// optimiser step; f's shape is kept, only its steepness is bounded). No host round trip.
    pub fn with_energy_scale_at_most(mut self, cap: f64) -> EnergyNet {
        let factor = (self.energy_scale().recip() * cap).clamp_max(1.0);
        let [d, o] = self.fc.weight.dims();
        let shrunk = self.fc.weight.val() * factor.reshape([1, 1]).expand([d, o]);
        // A fresh tracked leaf under the same id, so that the next step still learns it.
        self.fc.weight = param((shrunk, self.fc.weight.id));
        self
    }

    /// f(I) for a batch [N, 3, s, s] of images with pixels in [0, 255]: one value per image.
    pub fn forward(&self, images: Tensor<4>) -> Tensor<1> {
        let mut x = images;
        for block in &self.blocks {
            x = block.conv.forward(x);
            if let Some(norm) = &block.norm {
                x = norm.forward(x);
            }
            x = leaky_relu(x, LEAKY_SLOPE);
        }
        // Flatten in (channel, row, column) order, as PyTorch and the official code do.
        let flat: Tensor<2> = x.flatten(1, 3);
        self.fc.forward(flat).flatten(0, 1)
    }
}
