use snell::prelude::*;

#[model]
fn mutates(y: &mut [f64]) {
    let mu = sample!(Normal(0.0, 1.0));
    observe!(y ~ Normal(mu, 1.0));
}

fn main() {}
