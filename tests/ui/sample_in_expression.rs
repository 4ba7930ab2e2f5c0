use snell::prelude::*;

#[model]
fn inline(y: &[f64]) {
    let mu = 2.0 * sample!(Normal(0.0, 1.0));
    observe!(y ~ Normal(mu, 1.0));
}

fn main() {}
