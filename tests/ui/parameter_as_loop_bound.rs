use snell::prelude::*;

#[model]
fn loops(y: &[f64]) {
    let k = sample!(Normal(3.0, 1.0));
    let twice = k * 2.0;
    let z = sample!([y.len()] ~ Normal(0.0, 1.0));
    let n = z.len();
    for i in 0..n {
        observe!(y ~ Normal(z.at(i), 1.0));
    }
    for _ in 0..twice {}
}

fn main() {}
