//! The `#[model]` attribute of snell.
//!
//! Three stages, each in its own module: [`ast`] parses the function into a small model description
//! (data arguments, parameters, the body with `sample!`/`observe!` rewritten by [`body`]), collecting
//! every error with the user's span; [`expand`] generates the model struct, its typed parameters and
//! its `snell::Model` implementation. Errors are `compile_error!`s at the user's tokens, never panics.

use proc_macro::TokenStream;

mod ast;
mod body;
mod dists;
mod expand;

/// Turns a function into a probabilistic model. See the `snell` crate for the language.
///
/// ```ignore
/// #[model]
/// fn eight_schools(y: &[f64], sigma: &[f64]) {
///     let mu = sample!(Normal(0.0, 5.0));
///     let tau = sample!(HalfCauchy(5.0));
///     let theta_raw = sample!([y.len()] ~ Normal(0.0, 1.0));
///     let theta = mu + tau * theta_raw;
///     observe!(y ~ Normal(theta, sigma));
/// }
/// ```
#[proc_macro_attribute]
pub fn model(attr: TokenStream, item: TokenStream) -> TokenStream {
    let mut errors = Vec::new();
    let opts = match ast::parse_options(attr.into()) {
        Ok(o) => o,
        Err(e) => {
            errors.push(e);
            ast::Options::default()
        }
    };
    let ir = ast::parse(opts, item.into(), &mut errors);
    let mut out = proc_macro2::TokenStream::new();
    if let Some(ir) = &ir {
        if errors.is_empty() {
            out = expand::expand(ir);
        }
    }
    for e in errors {
        out.extend(e.to_compile_error());
    }
    out.into()
}
