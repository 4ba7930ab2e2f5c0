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
    /// A `snell::nn::Network`, `Mlp` or `SequenceNetwork` (a function of weights, not indexed by
    /// observation either).
    pub network: bool,
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
            let name = quote::ToTokens::to_token_stream(&meta.path).to_string().replace(' ', "");
            Err(syn::Error::new_spanned(
                &meta.path,
                format!("unknown option `{name}`: `#[model]` takes `observations(x, y, …)`, the data arguments indexed by observation (for minibatches)"),
            ))
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

/// An element of a data slice: a number, or a row of floats (`Vec<f64>`) or of integers
/// (`Vec<usize>`: token windows, labels per window).
fn is_element(ty: &Type) -> bool {
    is_scalar(ty) || vec_elem(ty).is_some_and(|t| matches!(type_name(t).as_deref(), Some("f64" | "usize")))
}

fn is_matrix(ty: &Type) -> bool {
    type_name(ty).as_deref() == Some("Matrix")
}

fn is_network(ty: &Type) -> bool {
    matches!(type_name(ty).as_deref(), Some("Network" | "Mlp" | "SequenceNetwork"))
}

const SUPPORTED: &str =
    "a data argument is a number (f64, i64, usize, bool, …), a slice or Vec of numbers (`&[f64]`, `Vec<usize>`), a `&[Vec<f64>]` or `&[Vec<usize>]`, a `&Matrix`, or a network (`&Network<…>`, `&Mlp`, `&SequenceNetwork<…>`)";

fn data_arg(name: Ident, ty: &Type) -> Result<DataArg, syn::Error> {
    let unsupported = || syn::Error::new_spanned(ty, format!("unsupported data argument type `{}`: {SUPPORTED}", quote::quote!(#ty)));
    match ty {
        Type::Reference(r) => {
            if r.mutability.is_some() {
                return Err(syn::Error::new_spanned(r, "data arguments are read-only: use `&` instead of `&mut`"));
            }
            let inner = &*r.elem;
            let owned: Type = match inner {
                Type::Slice(s) if is_element(&s.elem) => {
                    let e = &s.elem;
                    syn::parse_quote!(::std::vec::Vec<#e>)
                }
                t if vec_elem(t).is_some_and(is_element) || is_matrix(t) || is_network(t) => t.clone(),
                _ => return Err(unsupported()),
            };
            Ok(DataArg { name, ty: ty.clone(), owned, by_ref: true, scalar: false, network: is_network(inner) })
        }
        t if is_scalar(t) => Ok(DataArg { name, ty: ty.clone(), owned: ty.clone(), by_ref: false, scalar: true, network: false }),
        t if vec_elem(t).is_some_and(is_element) || is_matrix(t) => Ok(DataArg { name, ty: ty.clone(), owned: ty.clone(), by_ref: false, scalar: false, network: false }),
        t if is_network(t) => Err(syn::Error::new_spanned(t, "pass a network by reference: `net: &Network<…>`, `net: &Mlp` or `net: &SequenceNetwork<…>`")),
        _ => Err(unsupported()),
    }
}

/// What kind of item `#[model]` was put on, and its leading tokens (`struct Name`) to point at.
fn item_head(item: &syn::Item) -> (&'static str, proc_macro2::TokenStream) {
    use quote::quote;
    use syn::Item;
    match item {
        Item::Struct(i) => ("a struct", { let (k, n) = (&i.struct_token, &i.ident); quote!(#k #n) }),
        Item::Enum(i) => ("an enum", { let (k, n) = (&i.enum_token, &i.ident); quote!(#k #n) }),
        Item::Union(i) => ("a union", { let (k, n) = (&i.union_token, &i.ident); quote!(#k #n) }),
        Item::Trait(i) => ("a trait", { let (k, n) = (&i.trait_token, &i.ident); quote!(#k #n) }),
        Item::Impl(i) => ("an impl block", { let (k, t) = (&i.impl_token, &i.self_ty); quote!(#k #t) }),
        Item::Mod(i) => ("a module", { let (k, n) = (&i.mod_token, &i.ident); quote!(#k #n) }),
        Item::Const(i) => ("a constant", { let (k, n) = (&i.const_token, &i.ident); quote!(#k #n) }),
        Item::Static(i) => ("a static", { let (k, n) = (&i.static_token, &i.ident); quote!(#k #n) }),
        Item::Type(i) => ("a type alias", { let (k, n) = (&i.type_token, &i.ident); quote!(#k #n) }),
        Item::Use(i) => ("a `use`", quote::ToTokens::to_token_stream(&i.use_token)),
        Item::Macro(i) => ("a macro invocation", quote::ToTokens::to_token_stream(&i.mac.path)),
        other => ("this item", quote::ToTokens::to_token_stream(other).into_iter().take(2).collect()),
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
        let (what, head) = item_head(&item);
        errors.push(syn::Error::new_spanned(
            head,
            format!("`#[model]` goes on a plain function, not {what}: `fn name(data arguments…) {{ sample!/observe! statements }}`"),
        ));
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
        errors.push(syn::Error::new_spanned(&sig.generics, format!("{plain}: a model cannot be generic")));
    }
    if let syn::ReturnType::Type(_, ty) = &sig.output {
        errors.push(syn::Error::new_spanned(ty, "a model returns nothing: its body states priors with `sample!` and likelihoods with `observe!`"));
    }
    if let Some(v) = &sig.variadic {
        errors.push(syn::Error::new_spanned(v, format!("{plain}: variadic arguments are not supported")));
    }
    let mut args = Vec::new();
    let mut names = Vec::new();
    for input in &sig.inputs {
        match input {
            FnArg::Receiver(r) => errors.push(syn::Error::new_spanned(r, "`#[model]` goes on a free function, not a method: remove `self`")),
            FnArg::Typed(pt) => {
                let Pat::Ident(pi) = &*pt.pat else {
                    errors.push(syn::Error::new_spanned(&pt.pat, "a data argument needs a plain name: `y: &[f64]`"));
                    continue;
                };
                // The body is checked against every named argument, even one whose type is rejected,
                // so that a bad type is one error rather than one more per use of the argument.
                names.push(pi.ident.clone());
                match data_arg(pi.ident.clone(), &pt.ty) {
                    Ok(a) => args.push(a),
                    Err(e) => errors.push(e),
                }
            }
        }
    }
    for ob in &opts.observations {
        match args.iter().find(|a| a.name == *ob) {
            None if names.contains(ob) => {} // its type is already reported
            None => errors.push(syn::Error::new(
                ob.span(),
                format!("`observations({ob})` must name data arguments of the model, and `{ob}` is not one ({})", body::list_data(&names)),
            )),
            Some(a) if a.scalar => errors.push(syn::Error::new(ob.span(), format!("`{ob}` is a single number: only vectors and matrices can be indexed by observation"))),
            Some(a) if a.network => errors.push(syn::Error::new(ob.span(), format!("`{ob}` is a network: only vectors and matrices can be indexed by observation (list the network's inputs instead)"))),
            Some(_) => {}
        }
    }
    let mut body = (*f.block).clone();
    let params = body::rewrite(&mut body, &names, errors);
    Some(ModelIr { attrs: f.attrs.clone(), vis: f.vis.clone(), name: sig.ident.clone(), args, observations: opts.observations, params, body })
}
