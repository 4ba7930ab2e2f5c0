use snell::prelude::*;

#[model]
fn tries(y: &[f64]) {
    let mu = sample!(Normal(0.0, 1.0));
    let first = y.first().ok_or("no data")?;
    observe!(y ~ Normal(mu + first, 1.0));
}

fn main() {}
