use snell::prelude::*;

#[model]
fn indexing(y: &[f64]) {
    let theta = sample!([2] ~ Normal(0.0, 1.0));
    observe!(y ~ Normal(theta[0], 1.0));
}

fn main() {}
