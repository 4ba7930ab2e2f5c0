use snell::prelude::*;

#[model]
fn functions(y: &[f64]) {
    let mu = sample!(Normal(0.0, 1.0));
    let scale = f64::exp(mu);
    observe!(y ~ Normal(0.0, scale));
}

fn main() {}
