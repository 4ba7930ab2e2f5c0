use snell::prelude::*;

#[model]
fn m(y: &[f64]) {
    let mu = sample!(Normal(0.0, 1.0));
    observe!(y ~ Normal(deterministic!(mu * 2.0), 1.0));
}

fn main() {}
