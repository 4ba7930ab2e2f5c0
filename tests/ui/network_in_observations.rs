use snell::nn::layers::Linear;
use snell::nn::Network;
use snell::prelude::*;

#[model(observations(net, y))]
fn indexed(net: &Network<Linear<1, 1>, 1, 1>, x: &Matrix, y: &[f64]) {
    let w = sample!([net.len()] ~ Normal(0.0, 1.0));
    observe!(y ~ Normal(net.forward(w, x), 1.0));
}

fn main() {}
