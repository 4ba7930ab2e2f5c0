use snell::prelude::*;

fn not_a_model() {
    let mu = sample!(Normal(0.0, 1.0));
}

fn main() {}
