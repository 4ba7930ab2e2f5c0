//! Rewrites the model body: every `sample!`, `observe!` and `factor!` becomes a call on the
//! evaluation context, and the statements are checked in source order (a parameter used before its
//! `sample!`, a parameter declared twice, an observation of something that is not data).

use crate::dists;
use proc_macro2::{Span, TokenStream};
use quote::{quote, quote_spanned, ToTokens};
use std::collections::HashSet;
use syn::parse::{Parse, ParseStream, Parser};
use syn::spanned::Spanned;
use syn::visit::Visit;
use syn::visit_mut::{self, VisitMut};
use syn::{Expr, Ident, Local, Macro, Pat, Stmt, Token};

/// A parameter declared by `let name = sample!(…)`.
pub struct ParamSite {
    pub name: Ident,
    /// Its values form a vector (a `[n] ~` shape or a multivariate distribution).
    pub vector: bool,
}

struct SampleArgs {
    shape: Option<Expr>,
    dist: Expr,
    lower: Option<Expr>,
    upper: Option<Expr>,
    /// `ordered` or `positive_ordered`.
    ordered: Option<Ident>,
}

fn parse_sample(input: ParseStream) -> syn::Result<SampleArgs> {
    let shape = if input.peek(syn::token::Bracket) {
        let content;
        syn::bracketed!(content in input);
        let dims = content.parse_terminated(Expr::parse, Token![,])?;
        if dims.len() != 1 {
            return Err(syn::Error::new_spanned(&dims, "a parameter is a scalar or a vector: write `[n] ~ Dist(…)` with one length"));
        }
        input.parse::<Token![~]>()?;
        dims.into_iter().next()
    } else {
        None
    };
    let dist: Expr = input.parse()?;
    let (mut lower, mut upper, mut ordered): (Option<Expr>, Option<Expr>, Option<Ident>) = (None, None, None);
    while input.peek(Token![,]) {
        input.parse::<Token![,]>()?;
        if input.is_empty() {
            break;
        }
        let key: Ident = input.parse()?;
        if (key == "ordered" || key == "positive_ordered") && !input.peek(Token![=]) {
            if ordered.is_some() {
                return Err(syn::Error::new(key.span(), "give one order constraint: `ordered` or `positive_ordered`"));
            }
            ordered = Some(key);
            continue;
        }
        input.parse::<Token![=]>()?;
        let value: Expr = input.parse()?;
        match key.to_string().as_str() {
            "lower" if lower.is_none() => lower = Some(value),
            "upper" if upper.is_none() => upper = Some(value),
            "lower" | "upper" => return Err(syn::Error::new(key.span(), format!("`{key}` is given twice"))),
            _ => return Err(syn::Error::new(key.span(), format!("unknown option `{key}`: `sample!` takes `lower = …`, `upper = …`, and `ordered` or `positive_ordered`"))),
        }
    }
    Ok(SampleArgs { shape, dist, lower, upper, ordered })
}

fn parse_observe(input: ParseStream) -> syn::Result<(Expr, Expr)> {
    let value: Expr = input.parse()?;
    if !input.peek(Token![~]) {
        return Err(input.error("expected `~`: write `observe!(data ~ Distribution(…))`"));
    }
    input.parse::<Token![~]>()?;
    let dist: Expr = input.parse()?;
    if !input.is_empty() {
        return Err(input.error("unexpected tokens after the distribution"));
    }
    Ok((value, dist))
}

fn macro_name(mac: &Macro) -> Option<String> {
    let name = mac.path.segments.last()?.ident.to_string();
    matches!(name.as_str(), "sample" | "observe" | "factor" | "log_prob" | "deterministic").then_some(name)
}

/// The variable at the root of an expression like `y`, `y[i]`, `&y[..]`, `x.row(i)`.
fn root_ident(e: &Expr) -> Option<&Ident> {
    match e {
        Expr::Path(p) if p.qself.is_none() => p.path.get_ident(),
        Expr::Index(i) => root_ident(&i.expr),
        Expr::Field(f) => root_ident(&f.base),
        Expr::Reference(r) => root_ident(&r.expr),
        Expr::Paren(p) => root_ident(&p.expr),
        Expr::MethodCall(m) => root_ident(&m.receiver),
        Expr::Group(g) => root_ident(&g.expr),
        _ => None,
    }
}

/// `data arguments: y, sigma` for error messages.
pub fn list_data(data: &[Ident]) -> String {
    if data.is_empty() {
        "the model has no data arguments".to_string()
    } else {
        format!("data arguments: {}", data.iter().map(|d| d.to_string()).collect::<Vec<_>>().join(", "))
    }
}

/// The function part of a distribution call (`Poisson` in `Poisson(3.0)`), or the whole expression.
fn dist_name(dist: &Expr) -> &Expr {
    match dist {
        Expr::Call(call) => &call.func,
        other => other,
    }
}

/// Checks a distribution expression; returns whether its values are vectors and integers.
fn check_dist(dist: &Expr, errors: &mut Vec<syn::Error>) -> (bool, bool) {
    let Expr::Call(call) = dist else {
        errors.push(syn::Error::new_spanned(dist, "expected a distribution such as `Normal(0.0, 1.0)`"));
        return (false, false);
    };
    let Expr::Path(path) = &*call.func else {
        errors.push(syn::Error::new_spanned(&call.func, "expected the name of a distribution such as `Normal`"));
        return (false, false);
    };
    let Some(ident) = path.path.get_ident() else {
        // A path like `my_dists::Skewed(…)`: a distribution defined elsewhere; the type system checks it.
        return (false, false);
    };
    let name = ident.to_string();
    match dists::lookup(&name) {
        None => {
            let hint = match dists::closest(&name) {
                Some(c) => format!("; did you mean `{c}`?"),
                None => format!("; known distributions: {}", dists::DISTRIBUTIONS.iter().map(|d| d.0).collect::<Vec<_>>().join(", ")),
            };
            errors.push(syn::Error::new(ident.span(), format!("unknown distribution `{name}`{hint}")));
            (false, false)
        }
        Some(k) => {
            if call.args.len() != k.args.len() {
                errors.push(syn::Error::new_spanned(
                    call,
                    format!(
                        "`{name}` takes {} argument{} ({}), got {}",
                        k.args.len(),
                        if k.args.len() == 1 { "" } else { "s" },
                        k.args.join(", "),
                        call.args.len()
                    ),
                ));
            }
            (k.vector, k.discrete)
        }
    }
}

/// Qualifies a known distribution's name with `::snell::dist::` so that models need no import.
fn qualify(dist: &Expr) -> TokenStream {
    if let Expr::Call(call) = dist {
        if let Expr::Path(path) = &*call.func {
            if let Some(ident) = path.path.get_ident() {
                if dists::lookup(&ident.to_string()).is_some() {
                    let args = &call.args;
                    return quote_spanned!(call.span()=> ::snell::dist::#ident(#args));
                }
            }
        }
    }
    dist.to_token_stream()
}

struct Rewriter<'a> {
    data: &'a [Ident],
    all_params: HashSet<String>,
    declared: HashSet<String>,
    locals: HashSet<String>,
    /// Names bound to values of the model (`Real`s): parameters, deterministic quantities, and
    /// locals computed from them. Their values change from draw to draw, so Rust code that needs a
    /// number (a loop bound, a condition, an index, `f64::exp`) cannot take them.
    reals: HashSet<String>,
    params: Vec<ParamSite>,
    derived: HashSet<String>,
    errors: Vec<syn::Error>,
}

fn ctx_ident() -> Ident {
    Ident::new("__snell_ctx", Span::call_site())
}

impl Rewriter<'_> {
    fn sample(&mut self, name: &Ident, mac: &Macro) -> Expr {
        let args = match parse_sample.parse2(mac.tokens.clone()) {
            Ok(a) => a,
            Err(e) => {
                self.errors.push(e);
                return syn::parse_quote!(());
            }
        };
        let SampleArgs { mut shape, mut dist, mut lower, mut upper, ordered } = args;
        for e in [shape.as_mut(), Some(&mut dist), lower.as_mut(), upper.as_mut()].into_iter().flatten() {
            self.visit_expr_mut(e);
        }
        let (vector, discrete) = check_dist(&dist, &mut self.errors);
        if discrete {
            let name = quote::ToTokens::to_token_stream(&dist_name(&dist)).to_string();
            self.errors.push(syn::Error::new_spanned(
                &dist,
                format!("`{name}` is a discrete distribution, so it cannot be a parameter: snell's samplers need gradients; marginalise the discrete parameter out, or use `{name}` in `observe!`"),
            ));
        }
        if vector && shape.is_some() {
            self.errors.push(syn::Error::new_spanned(&dist, "this distribution is multivariate: its length comes from its arguments, drop the `[n] ~`"));
        }
        let key = name.to_string();
        if self.declared.contains(&key) {
            self.errors.push(syn::Error::new(name.span(), format!("parameter `{key}` is declared twice: each `sample!` declares a new parameter, so give this one its own name")));
        } else if self.data.iter().any(|d| *d == key) {
            self.errors.push(syn::Error::new(name.span(), format!("parameter `{key}` has the name of a data argument")));
        } else {
            self.params.push(ParamSite { name: name.clone(), vector: vector || shape.is_some() });
        }
        self.declared.insert(key.clone());
        let ctx = ctx_ident();
        let shape = match shape {
            Some(s) => quote_spanned!(s.span()=> ::core::option::Option::Some(::snell::__private::length(#s))),
            None => quote!(::core::option::Option::None),
        };
        let bound = |b: Option<Expr>| match b {
            Some(b) => quote_spanned!(b.span()=> ::core::option::Option::Some(::snell::IntoReal::into_real(#b, #ctx))),
            None => quote!(::core::option::Option::None),
        };
        let (lower, upper) = (bound(lower), bound(upper));
        let ordered = match ordered {
            Some(k) if k == "positive_ordered" => quote_spanned!(k.span()=> ::snell::Order::PositiveIncreasing),
            Some(k) => quote_spanned!(k.span()=> ::snell::Order::Increasing),
            None => quote!(::snell::Order::Any),
        };
        let dist_tokens = qualify(&dist);
        syn::parse_quote_spanned!(mac.span()=> #ctx.param(#key, #shape, #dist_tokens, #lower, #upper, #ordered))
    }

    /// Parses `value ~ Dist(…)`, rewrites and checks both sides; `None` after recording an error.
    fn parse_tilde(&mut self, mac: &Macro) -> Option<(Expr, Expr)> {
        let (mut value, mut dist) = match parse_observe.parse2(mac.tokens.clone()) {
            Ok(a) => a,
            Err(e) => {
                self.errors.push(e);
                return None;
            }
        };
        self.visit_expr_mut(&mut value);
        self.visit_expr_mut(&mut dist);
        check_dist(&dist, &mut self.errors);
        Some((value, dist))
    }

    fn observe(&mut self, mac: &Macro) -> Expr {
        let Some((value, dist)) = self.parse_tilde(mac) else { return syn::parse_quote!(()) };
        let name = match root_ident(&value) {
            Some(id) if self.data.contains(id) => id.to_string(),
            Some(id) if self.declared.contains(&id.to_string()) => {
                self.errors.push(syn::Error::new_spanned(
                    &value,
                    format!(
                        "`{id}` is a parameter, not data: `observe!` scores data arguments of the model ({}); a parameter gets its prior from `let {id} = sample!(…)`",
                        list_data(self.data)
                    ),
                ));
                String::new()
            }
            Some(id) => {
                self.errors.push(syn::Error::new_spanned(
                    &value,
                    format!("`observe!` scores data, and `{id}` is not a data argument of the model ({})", list_data(self.data)),
                ));
                String::new()
            }
            None => {
                self.errors.push(syn::Error::new_spanned(
                    &value,
                    format!("`observe!` scores data: the left of `~` must be a data argument of the model, e.g. `y` or `y[i]` ({})", list_data(self.data)),
                ));
                String::new()
            }
        };
        let ctx = ctx_ident();
        let dist_tokens = qualify(&dist);
        syn::parse_quote_spanned!(mac.span()=> #ctx.observe(#name, #value, #dist_tokens))
    }

    fn factor(&mut self, mac: &Macro) -> Expr {
        let mut value: Expr = match syn::parse2(mac.tokens.clone()) {
            Ok(v) => v,
            Err(e) => {
                self.errors.push(e);
                return syn::parse_quote!(());
            }
        };
        self.visit_expr_mut(&mut value);
        let ctx = ctx_ident();
        syn::parse_quote_spanned!(mac.span()=> #ctx.factor(::snell::IntoReal::into_real(#value, #ctx)))
    }

    /// `let theta = deterministic!(expr);`: a function of the parameters recorded with every draw
    /// (Stan's transformed parameters and generated quantities, PyMC's `Deterministic`).
    fn deterministic(&mut self, name: &Ident, mac: &Macro) -> Expr {
        let mut value: Expr = match syn::parse2(mac.tokens.clone()) {
            Ok(v) => v,
            Err(e) => {
                self.errors.push(e);
                return syn::parse_quote!(());
            }
        };
        self.visit_expr_mut(&mut value);
        let key = name.to_string();
        if self.all_params.contains(&key) || self.data.iter().any(|d| *d == key) || !self.derived.insert(key.clone()) {
            self.errors.push(syn::Error::new(name.span(), format!("`{key}` is already the name of a parameter, a data argument or another deterministic quantity")));
        }
        let ctx = ctx_ident();
        syn::parse_quote_spanned!(mac.span()=> #ctx.deterministic(#key, ::snell::IntoReal::into_real(#value, #ctx)))
    }

    /// `log_prob!(x ~ Dist(…))`: the element-wise log density as a value (Stan's `normal_lpdf`),
    /// for likelihoods written by hand such as mixtures.
    fn log_prob(&mut self, mac: &Macro) -> Expr {
        let Some((value, dist)) = self.parse_tilde(mac) else { return syn::parse_quote!(()) };
        let ctx = ctx_ident();
        let dist_tokens = qualify(&dist);
        syn::parse_quote_spanned!(mac.span()=> #ctx.log_prob(#value, #dist_tokens))
    }

    fn rewrite_macro(&mut self, mac: &Macro) -> Option<Expr> {
        match macro_name(mac)?.as_str() {
            "sample" => {
                self.errors.push(syn::Error::new_spanned(
                    mac,
                    "`sample!` must initialise a `let`, which names the parameter: write `let mu = sample!(Normal(0.0, 1.0));` and use `mu` here",
                ));
                Some(syn::parse_quote!(()))
            }
            "deterministic" => {
                self.errors.push(syn::Error::new_spanned(
                    mac,
                    "`deterministic!` must initialise a `let`, which names the quantity: write `let theta = deterministic!(mu + tau * z);`",
                ));
                Some(syn::parse_quote!(()))
            }
            "observe" => Some(self.observe(mac)),
            "log_prob" => Some(self.log_prob(mac)),
            _ => Some(self.factor(mac)),
        }
    }
}

fn sample_macro(local: &Local) -> Option<&Macro> {
    let_macro(local, "sample")
}

fn let_macro<'l>(local: &'l Local, name: &str) -> Option<&'l Macro> {
    match &*local.init.as_ref()?.expr {
        Expr::Macro(m) if macro_name(&m.mac).as_deref() == Some(name) => Some(&m.mac),
        _ => None,
    }
}

fn pat_ident(pat: &Pat) -> Option<&Ident> {
    match pat {
        Pat::Ident(p) => Some(&p.ident),
        Pat::Type(t) => pat_ident(&t.pat),
        _ => None,
    }
}

impl VisitMut for Rewriter<'_> {
    fn visit_local_mut(&mut self, local: &mut Local) {
        if let Some(mac) = sample_macro(local).cloned() {
            let Some(name) = pat_ident(&local.pat).cloned() else {
                self.errors.push(syn::Error::new_spanned(&local.pat, "a parameter is bound to a plain name: `let mu = sample!(…)`"));
                return;
            };
            let expr = self.sample(&name, &mac);
            if let Some(init) = local.init.as_mut() {
                *init.expr = expr;
            }
            self.reals.insert(name.to_string());
            return;
        }
        if let Some(mac) = let_macro(local, "deterministic").cloned() {
            let Some(name) = pat_ident(&local.pat).cloned() else {
                self.errors.push(syn::Error::new_spanned(&local.pat, "a deterministic quantity is bound to a plain name: `let theta = deterministic!(…)`"));
                return;
            };
            let expr = self.deterministic(&name, &mac);
            if let Some(init) = local.init.as_mut() {
                *init.expr = expr;
            }
            self.locals.insert(name.to_string());
            self.reals.insert(name.to_string());
            return;
        }
        let real = local.init.as_ref().is_some_and(|init| self.real_in(&init.expr).is_some());
        visit_mut::visit_local_mut(self, local);
        struct Names<'n>(Vec<String>, &'n mut HashSet<String>);
        impl<'ast> Visit<'ast> for Names<'_> {
            fn visit_pat_ident(&mut self, p: &'ast syn::PatIdent) {
                self.0.push(p.ident.to_string());
                self.1.insert(p.ident.to_string());
            }
        }
        let mut names = Names(Vec::new(), &mut self.locals);
        names.visit_pat(&local.pat);
        for n in names.0 {
            if real {
                self.reals.insert(n);
            } else {
                self.reals.remove(&n);
            }
        }
    }

    fn visit_stmt_mut(&mut self, stmt: &mut Stmt) {
        if let Stmt::Macro(m) = stmt {
            if let Some(expr) = self.rewrite_macro(&m.mac) {
                *stmt = Stmt::Expr(expr, Some(Default::default()));
                return;
            }
        }
        visit_mut::visit_stmt_mut(self, stmt);
    }

    fn visit_expr_mut(&mut self, expr: &mut Expr) {
        if let Expr::Macro(m) = expr {
            if let Some(new) = self.rewrite_macro(&m.mac) {
                *expr = new;
                return;
            }
        }
        self.check_rust_on_reals(expr);
        visit_mut::visit_expr_mut(self, expr);
    }

    fn visit_expr_path_mut(&mut self, p: &mut syn::ExprPath) {
        if let Some(id) = p.path.get_ident() {
            let key = id.to_string();
            if self.all_params.contains(&key) && !self.declared.contains(&key) && !self.locals.contains(&key) {
                self.errors.push(syn::Error::new(id.span(), format!("parameter `{key}` is used before it is declared: move its `let {key} = sample!(…)` above this line")));
            }
        }
    }
}

impl Rewriter<'_> {
    /// The first name in `e` bound to a value of the model, if any.
    fn real_in(&self, e: &Expr) -> Option<Ident> {
        struct Find<'r>(&'r HashSet<String>, Option<Ident>);
        impl<'ast> Visit<'ast> for Find<'_> {
            /// `z.len()` and the other methods that give plain numbers of a `Real` are data.
            fn visit_expr_method_call(&mut self, m: &'ast syn::ExprMethodCall) {
                if ["len", "is_empty", "shape", "as_const", "to_host"].contains(&m.method.to_string().as_str()) {
                    m.args.iter().for_each(|a| self.visit_expr(a));
                } else {
                    syn::visit::visit_expr_method_call(self, m);
                }
            }
            fn visit_expr_path(&mut self, p: &'ast syn::ExprPath) {
                if let Some(id) = p.path.get_ident() {
                    if self.1.is_none() && self.0.contains(&id.to_string()) {
                        self.1 = Some(id.clone());
                    }
                }
            }
        }
        let mut find = Find(&self.reals, None);
        find.visit_expr(e);
        find.1
    }

    /// Rust constructs that need plain numbers or a `Result`, used on values of the model: each
    /// an error at the user's span saying what to write instead (rustc's own errors there name
    /// the macro's generated types).
    fn check_rust_on_reals(&mut self, expr: &Expr) {
        let changes = "is a value of the model (a `Real`), which changes from draw to draw";
        let error = match expr {
            Expr::ForLoop(f) => self.real_in(&f.expr).map(|id| (id.span(), format!("`{id}` {changes}: a loop's bounds must come from the data (e.g. `y.len()` or a `usize` argument)"))),
            Expr::If(i) => self.real_in(&i.cond).map(|id| (id.span(), format!("`{id}` {changes}: an `if` on it would make the log density jump where its gradient cannot see; decide with data, or write one smooth expression of `{id}` (e.g. a mixture's `log_sum_exp`)"))),
            Expr::While(w) => self.real_in(&w.cond).map(|id| (id.span(), format!("`{id}` {changes}: a `while` condition must come from the data"))),
            Expr::Match(m) => self.real_in(&m.expr).map(|id| (id.span(), format!("`{id}` {changes}: a `match` must be on data"))),
            Expr::Index(ix) => match &*ix.expr {
                Expr::Path(p) => {
                    let index = ix.index.to_token_stream().to_string();
                    p.path.get_ident().filter(|id| self.reals.contains(&id.to_string())).map(|id| (ix.span(), format!("`{id}` is a vector value of the model, which `[…]` cannot index: write `{id}.at({index})`")))
                }
                _ => None,
            },
            Expr::Call(c) => match &*c.func {
                Expr::Path(p) if p.path.segments.len() == 2 && ["f64", "f32"].contains(&p.path.segments[0].ident.to_string().as_str()) => {
                    let f = &p.path.segments[1].ident;
                    let rest = if c.args.len() == 1 { "" } else { "…" };
                    c.args.iter().find_map(|a| self.real_in(a)).map(|id| (c.span(), format!("`{}::{f}` takes a number; `{id}` {changes}: call the method, `{id}.{f}({rest})`", p.path.segments[0].ident)))
                }
                _ => None,
            },
            Expr::Try(t) => Some((t.question_token.span(), "`?` cannot be used in a model body, which returns nothing: check data before building the model (the generated `new` checks shapes and values), and let the distributions report invalid parameters".to_string())),
            _ => None,
        };
        if let Some((span, msg)) = error {
            self.errors.push(syn::Error::new(span, msg));
        }
    }
}

/// Rewrites `block` in place and returns its parameters in order.
pub fn rewrite(block: &mut syn::Block, data: &[Ident], errors: &mut Vec<syn::Error>) -> Vec<ParamSite> {
    struct Collect(HashSet<String>);
    impl<'ast> Visit<'ast> for Collect {
        fn visit_local(&mut self, local: &'ast Local) {
            if let (Some(_), Some(id)) = (sample_macro(local), pat_ident(&local.pat)) {
                self.0.insert(id.to_string());
            }
            syn::visit::visit_local(self, local);
        }
    }
    let mut collect = Collect(HashSet::new());
    collect.visit_block(block);
    let mut rw = Rewriter { data, all_params: collect.0, declared: HashSet::new(), locals: HashSet::new(), reals: HashSet::new(), params: Vec::new(), derived: HashSet::new(), errors: Vec::new() };
    rw.visit_block_mut(block);
    errors.extend(rw.errors);
    rw.params
}
