//! The distributions the macro knows, so that a misspelt name or a wrong number of arguments is a
//! compile error at the user's call rather than a type error deep in generated code. Keep in sync
//! with `snell::dist::Family` (a test in the runtime crate compiles every entry).

/// `(name, arguments, values are vectors, values are integers)`.
pub const DISTRIBUTIONS: &[(&str, &[&str], bool, bool)] = &[
    ("Normal", &["mu", "sigma"], false, false),
    ("HalfNormal", &["sigma"], false, false),
    ("StudentT", &["nu", "mu", "sigma"], false, false),
    ("Cauchy", &["mu", "sigma"], false, false),
    ("HalfCauchy", &["sigma"], false, false),
    ("Laplace", &["mu", "b"], false, false),
    ("Exponential", &["rate"], false, false),
    ("Gamma", &["shape", "rate"], false, false),
    ("InverseGamma", &["shape", "scale"], false, false),
    ("LogNormal", &["mu", "sigma"], false, false),
    ("Beta", &["a", "b"], false, false),
    ("Uniform", &["lower", "upper"], false, false),
    ("Bernoulli", &["p"], false, true),
    ("BernoulliLogit", &["logit"], false, true),
    ("BinomialLogit", &["n", "logit"], false, true),
    ("Poisson", &["rate"], false, true),
    ("PoissonLog", &["log_rate"], false, true),
    ("CategoricalLogit", &["logits"], false, true),
    ("CategoricalLogitRows", &["logits", "classes"], false, true),
    ("Dirichlet", &["alpha"], true, false),
    ("Flat", &[], false, false),
    ("MultivariateNormal", &["mu", "cholesky_factor"], true, false),
];

pub struct Known {
    pub args: &'static [&'static str],
    pub vector: bool,
    pub discrete: bool,
}

pub fn lookup(name: &str) -> Option<Known> {
    DISTRIBUTIONS.iter().find(|d| d.0 == name).map(|&(_, args, vector, discrete)| Known { args, vector, discrete })
}

/// The known name closest to `name` (for "did you mean" hints).
pub fn closest(name: &str) -> Option<&'static str> {
    let lower = name.to_lowercase();
    DISTRIBUTIONS
        .iter()
        .map(|d| (edit_distance(&lower, &d.0.to_lowercase()), d.0))
        .filter(|&(dist, cand)| dist <= 2.max(cand.len() / 3))
        .min()
        .map(|(_, n)| n)
}

fn edit_distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for i in 1..=a.len() {
        let mut cur = vec![i; b.len() + 1];
        for j in 1..=b.len() {
            let sub = prev[j - 1] + usize::from(a[i - 1] != b[j - 1]);
            cur[j] = sub.min(prev[j] + 1).min(cur[j - 1] + 1);
        }
        prev = cur;
    }
    prev[b.len()]
}
