use snell::prelude::*;

struct Data {
    y: Vec<f64>,
}

impl Data {
    #[model]
    fn regression(&self) {
        let mu = sample!(Normal(0.0, 1.0));
    }
}

fn main() {}
