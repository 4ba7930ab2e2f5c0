//! Parses `#[model(…)] fn name(data…) { body }` into a small model description, collecting every
//! error with the span of the user's tokens.

use crate::body::{self, ParamSite};
use syn::spanned::Spanned;
use syn::{Attribute, FnArg, Ident, Pat, Type, Visibility};

/// How a data argument is passed and stored.
pub struct DataArg {
    pub name: Ident,
    /// The type as the user wrote it (the `new` constructor takes it).
    pub ty: Type,
    /// The type stored in the model struct.
    pub owned: Type,
    /// Passed by reference (`&[f64]`, `&Matrix`) rather than by value (`f64`, `usize`).
    pub by_ref: bool,
    /// A single number (cannot be indexed by observation).
    pub scalar: bool,
}

/// What the macro knows about a model.
pub struct ModelIr {
    pub attrs: Vec<Attribute>,
    pub vis: Visibility,
    pub name: Ident,
    pub args: Vec<DataArg>,
    pub observations: Vec<Ident>,
    pub params: Vec<ParamSite>,
    pub body: syn::Block,
}

/// Options in `#[model(…)]`.
#[derive(Default)]
pub struct Options {
    pub observations: Vec<Ident>,
}

pub fn parse_options(attr: proc_macro2::TokenStream) -> syn::Result<Options> {
    let mut opts = Options::default();
    let parser = syn::meta::parser(|meta| {
        if meta.path.is_ident("observations") {
            let content;
            syn::parenthesized!(content in meta.input);
            let names = content.parse_terminated(Ident::parse_any_ident, syn::Token![,])?;
            opts.observations.extend(names);
            Ok(())
        } else {
            Err(meta.error("unknown option: `#[model]` takes `observations(x, y, …)`, the data arguments indexed by observation (for minibatches)"))
        }
    });
    syn::parse::Parser::parse2(parser, attr)?;
    Ok(opts)
}

trait ParseAnyIdent {
    fn parse_any_ident(input: syn::parse::ParseStream) -> syn::Result<Ident>;
}
impl ParseAnyIdent for Ident {
    fn parse_any_ident(input: syn::parse::ParseStream) -> syn::Result<Ident> {
        input.parse()
    }
}

const SCALARS: &[&str] = &["f64", "f32", "i32", "i64", "u32", "u64", "usize", "bool"];

fn type_name(ty: &Type) -> Option<String> {
    match ty {
        Type::Path(p) if p.qself.is_none() => Some(p.path.segments.last()?.ident.to_string()),
        _ => None,
    }
}

fn is_scalar(ty: &Type) -> bool {
    type_name(ty).is_some_and(|n| SCALARS.contains(&n.as_str())) && matches!(ty, Type::Path(p) if p.path.segments.last().unwrap().arguments.is_none())
}

/// `Vec<T>` → `Some(T)`.
fn vec_elem(ty: &Type) -> Option<&Type> {
    let Type::Path(p) = ty else { return None };
    let seg = p.path.segments.last()?;
    if seg.ident != "Vec" {
        return None;
    }
    match &seg.arguments {
        syn::PathArguments::AngleBracketed(a) if a.args.len() == 1 => match &a.args[0] {
            syn::GenericArgument::Type(t) => Some(t),
            _ => None,
        },
        _ => None,
    }
}

fn is_element(ty: &Type) -> bool {
    is_scalar(ty) || vec_elem(ty).is_some_and(|t| type_name(t).as_deref() == Some("f64"))
}

fn is_matrix(ty: &Type) -> bool {
    type_name(ty).as_deref() == Some("Matrix")
}

const SUPPORTED: &str =
    "a data argument is a number (f64, i64, usize, bool, …), a slice or Vec of numbers (`&[f64]`, `Vec<usize>`), a `&[Vec<f64>]`, or a `&Matrix`";

fn data_arg(name: Ident, ty: &Type) -> Result<DataArg, syn::Error> {
    let unsupported = || syn::Error::new(ty.span(), format!("unsupported data argument type `{}`: {SUPPORTED}", quote::quote!(#ty)));
    match ty {
        Type::Reference(r) => {
            if r.mutability.is_some() {
                return Err(syn::Error::new(r.span(), "data arguments are read-only: use `&` instead of `&mut`"));
            }
            let inner = &*r.elem;
            let owned: Type = match inner {
                Type::Slice(s) if is_element(&s.elem) => {
                    let e = &s.elem;
                    syn::parse_quote!(::std::vec::Vec<#e>)
                }
                t if vec_elem(t).is_some_and(is_element) || is_matrix(t) => t.clone(),
                _ => return Err(unsupported()),
            };
            Ok(DataArg { name, ty: ty.clone(), owned, by_ref: true, scalar: false })
        }
        t if is_scalar(t) => Ok(DataArg { name, ty: ty.clone(), owned: ty.clone(), by_ref: false, scalar: true }),
        t if vec_elem(t).is_some_and(is_element) || is_matrix(t) => Ok(DataArg { name, ty: ty.clone(), owned: ty.clone(), by_ref: false, scalar: false }),
        _ => Err(unsupported()),
    }
}

pub fn parse(opts: Options, item: proc_macro2::TokenStream, errors: &mut Vec<syn::Error>) -> Option<ModelIr> {
    let item: syn::Item = match syn::parse2(item) {
        Ok(i) => i,
        Err(e) => {
            errors.push(e);
            return None;
        }
    };
    let syn::Item::Fn(f) = item else {
        errors.push(syn::Error::new(item.span(), "`#[model]` goes on a plain function: `fn name(data arguments…) { sample!/observe! statements }`"));
        return None;
    };
    let sig = &f.sig;
    let plain = "`#[model]` needs a plain function";
    if let Some(a) = &sig.asyncness {
        errors.push(syn::Error::new(a.span(), format!("{plain}: remove `async`")));
    }
    if let Some(c) = &sig.constness {
        errors.push(syn::Error::new(c.span(), format!("{plain}: remove `const`")));
    }
    if let Some(u) = &sig.unsafety {
        errors.push(syn::Error::new(u.span(), format!("{plain}: remove `unsafe`")));
    }
    if !sig.generics.params.is_empty() || sig.generics.where_clause.is_some() {
        errors.push(syn::Error::new(sig.generics.span(), format!("{plain}: a model cannot be generic")));
    }
    if let syn::ReturnType::Type(_, ty) = &sig.output {
        errors.push(syn::Error::new(ty.span(), "a model returns nothing: its body states priors with `sample!` and likelihoods with `observe!`"));
    }
    if let Some(v) = &sig.variadic {
        errors.push(syn::Error::new(v.span(), format!("{plain}: variadic arguments are not supported")));
    }
    let mut args = Vec::new();
    for input in &sig.inputs {
        match input {
            FnArg::Receiver(r) => errors.push(syn::Error::new(r.span(), "`#[model]` goes on a free function, not a method: remove `self`")),
            FnArg::Typed(pt) => {
                let Pat::Ident(pi) = &*pt.pat else {
                    errors.push(syn::Error::new(pt.pat.span(), "a data argument needs a plain name: `y: &[f64]`"));
                    continue;
                };
                match data_arg(pi.ident.clone(), &pt.ty) {
                    Ok(a) => args.push(a),
                    Err(e) => errors.push(e),
                }
            }
        }
    }
    for ob in &opts.observations {
        match args.iter().find(|a| a.name == *ob) {
            None => errors.push(syn::Error::new(ob.span(), format!("`{ob}` is not a data argument of the model"))),
            Some(a) if a.scalar => errors.push(syn::Error::new(ob.span(), format!("`{ob}` is a single number: only vectors and matrices can be indexed by observation"))),
            Some(_) => {}
        }
    }
    let mut body = (*f.block).clone();
    let names: Vec<Ident> = args.iter().map(|a| a.name.clone()).collect();
    let params = body::rewrite(&mut body, &names, errors);
    Some(ModelIr { attrs: f.attrs.clone(), vis: f.vis.clone(), name: sig.ident.clone(), args, observations: opts.observations, params, body })
}
