use snell::prelude::*;

#[model]
fn backwards(y: &[f64]) {
    let mu = sample!(Normal(0.0, 1.0));
    observe!(mu ~ Normal(y, 1.0));
}

fn main() {}
