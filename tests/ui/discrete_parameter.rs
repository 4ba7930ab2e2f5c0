use snell::prelude::*;

#[model]
fn counts(y: &[f64]) {
    let k = sample!(Poisson(3.0));
    observe!(y ~ Normal(k, 1.0));
}

fn main() {}
