use snell::prelude::*;

#[model]
fn lengths(y: &[f64]) {
    let k = sample!(Normal(3.0, 1.0));
    let z = sample!([k] ~ Normal(0.0, 1.0));
    observe!(y ~ Normal(z.sum(), 1.0));
}

fn main() {}
