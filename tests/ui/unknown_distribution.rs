use snell::prelude::*;

#[model]
fn misspelt(y: &[f64]) {
    let mu = sample!(Normall(0.0, 1.0));
    observe!(y ~ Normal(mu, 1.0));
}

fn main() {}
