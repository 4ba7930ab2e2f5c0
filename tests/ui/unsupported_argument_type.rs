use snell::prelude::*;

#[model]
fn named(y: &[f64], name: String) {
    let mu = sample!(Normal(0.0, 1.0));
    observe!(y ~ Normal(mu, 1.0));
}

fn main() {}
