use snell::prelude::*;

#[model]
fn too_few(y: &[f64]) {
    let mu = sample!(Normal(0.0));
    observe!(y ~ Normal(mu, 1.0));
}

fn main() {}
