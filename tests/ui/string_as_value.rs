use snell::prelude::*;

#[model]
fn strings(y: &[f64]) {
    let mu = sample!(Normal("zero", 1.0));
    observe!(y ~ Normal(mu, 1.0));
}

fn main() {}
