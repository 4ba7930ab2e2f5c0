use snell::prelude::*;

#[model]
struct EightSchools {
    y: Vec<f64>,
}

fn main() {}
