use snell::prelude::*;

#[model]
fn out_of_order(y: &[f64]) {
    let mu = sample!(Normal(0.0, tau));
    let tau = sample!(HalfCauchy(5.0));
    observe!(y ~ Normal(mu, tau));
}

fn main() {}
