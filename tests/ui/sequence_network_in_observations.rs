use snell::nn::layers::{Embedding, Linear};
use snell::nn::SequenceNetwork;
use snell::prelude::*;

#[model(observations(net, next))]
fn indexed(net: &SequenceNetwork<(Embedding<4, 2>, Linear<2, 4>), 4>, inputs: &[Vec<usize>], next: &[Vec<usize>]) {
    let w = sample!([net.len()] ~ Normal(0.0, 1.0));
    observe!(next ~ CategoricalLogitRows(net.forward(w, inputs), 4));
}

fn main() {}
