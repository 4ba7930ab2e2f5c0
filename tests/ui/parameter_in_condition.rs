use snell::prelude::*;

#[model]
fn branches(y: &[f64]) {
    let mu = sample!(Normal(0.0, 1.0));
    if y.len() > 2 {
        observe!(y ~ Normal(mu, 1.0));
    }
    if mu > 0.0 {
        observe!(y ~ Normal(mu, 2.0));
    }
}

fn main() {}
