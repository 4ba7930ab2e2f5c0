//! Generates the model struct, its typed parameters and its `snell::Model` implementation.

use crate::ast::ModelIr;
use proc_macro2::{Span, TokenStream};
use quote::{format_ident, quote};
use syn::Ident;

fn camel_case(name: &str) -> String {
    name.split('_').filter(|s| !s.is_empty()).map(|s| {
        let mut c = s.chars();
        c.next().map(|f| f.to_uppercase().chain(c).collect::<String>()).unwrap_or_default()
    }).collect()
}

pub fn expand(ir: &ModelIr) -> TokenStream {
    let ModelIr { attrs, vis, name, args, observations, params, body } = ir;
    let fn_name = name.to_string();
    let struct_name = Ident::new(&camel_case(&fn_name), name.span());
    let params_name = format_ident!("{}Params", struct_name);
    let ctx = Ident::new("__snell_ctx", Span::call_site());
    let backend = Ident::new("__SnellB", Span::call_site());
    let docs: Vec<_> = attrs.iter().filter(|a| a.path().is_ident("doc")).collect();

    let arg_names: Vec<&Ident> = args.iter().map(|a| &a.name).collect();
    let arg_types: Vec<&syn::Type> = args.iter().map(|a| &a.ty).collect();
    let owned_types: Vec<&syn::Type> = args.iter().map(|a| &a.owned).collect();
    let to_owned: Vec<TokenStream> = args
        .iter()
        .map(|a| {
            let n = &a.name;
            if a.by_ref { quote!(::std::borrow::ToOwned::to_owned(#n)) } else { quote!(#n) }
        })
        .collect();
    let pass = |a: &crate::ast::DataArg, local: bool| -> TokenStream {
        let n = &a.name;
        match (a.by_ref, local) {
            (true, true) => quote!(&#n),
            (true, false) => quote!(&self.#n),
            (false, true) => quote!(#n),
            (false, false) => quote!(::core::clone::Clone::clone(&self.#n)),
        }
    };
    let full_call: Vec<TokenStream> = args.iter().map(|a| pass(a, false)).collect();
    let batch_call: Vec<TokenStream> = args.iter().map(|a| pass(a, observations.contains(&a.name))).collect();
    let subsets: Vec<TokenStream> = observations.iter().map(|o| quote!(let #o = ::snell::__private::Subset::subset(&self.#o, __snell_idx);)).collect();
    let obs_counts: Vec<TokenStream> = observations
        .iter()
        .map(|o| {
            let s = o.to_string();
            quote!((#s, ::snell::__private::Subset::n_rows(&#o)))
        })
        .collect();

    let param_idents: Vec<&Ident> = params.iter().map(|p| &p.name).collect();
    let param_strs: Vec<String> = params.iter().map(|p| p.name.to_string()).collect();
    let param_types: Vec<TokenStream> =
        params.iter().map(|p| if p.vector { quote!(::std::vec::Vec<f64>) } else { quote!(f64) }).collect();
    let param_index: Vec<usize> = (0..params.len()).collect();
    let params_doc = format!("Constrained parameters of [`{struct_name}`], one field per `sample!`.");
    let struct_doc = format!("The model `{fn_name}`: build it with [`{struct_name}::new`] and use it through [`snell::Model`].");

    quote! {
        #(#docs)*
        #[doc = ""]
        #[doc = #struct_doc]
        #[derive(Clone, Debug)]
        #vis struct #struct_name {
            #(#arg_names: #owned_types,)*
            __snell_layout: ::snell::Layout,
            __snell_n_obs: ::core::option::Option<usize>,
        }

        #[doc = #params_doc]
        #[derive(Clone, Debug, PartialEq)]
        #vis struct #params_name {
            #(pub #param_idents: #param_types,)*
        }

        impl #struct_name {
            /// Builds the model from its data, checking the data's values and shapes against the
            /// model; the error names the offending argument or statement.
            #[allow(clippy::ptr_arg)]
            #vis fn new(#(#arg_names: #arg_types),*) -> ::core::result::Result<Self, ::snell::ModelError> {
                #(let #arg_names: #owned_types = #to_owned;)*
                #(::snell::__private::Check::check(&#arg_names, stringify!(#arg_names))?;)*
                let __snell_n_obs = ::snell::__private::check_observations(&[#(#obs_counts),*])?;
                let mut __snell_model = Self { #(#arg_names,)* __snell_layout: ::core::default::Default::default(), __snell_n_obs };
                __snell_model.__snell_layout = ::snell::__private::discover(&__snell_model, &[#(#param_strs),*])?;
                ::core::result::Result::Ok(__snell_model)
            }

            #[allow(unused_variables, unused_mut, clippy::ptr_arg, non_snake_case)]
            fn __snell_body<#backend: ::snell::backend::Backend>(#ctx: &::snell::Ctx<#backend>, #(#arg_names: #arg_types),*) #body
        }

        impl ::snell::Model for #struct_name {
            type Params = #params_name;

            fn name(&self) -> &'static str {
                #fn_name
            }

            fn layout(&self) -> &::snell::Layout {
                &self.__snell_layout
            }

            fn run<#backend: ::snell::backend::Backend>(&self, #ctx: &::snell::Ctx<#backend>, __snell_batch: ::core::option::Option<&[usize]>) {
                match __snell_batch {
                    ::core::option::Option::Some(__snell_idx) if self.__snell_n_obs.is_some() => {
                        #(#subsets)*
                        Self::__snell_body(#ctx, #(#batch_call),*)
                    }
                    _ => Self::__snell_body(#ctx, #(#full_call),*),
                }
            }

            fn n_obs(&self) -> ::core::option::Option<usize> {
                self.__snell_n_obs
            }

            fn params_from_flat(&self, flat: &[f64]) -> ::std::result::Result<#params_name, ::snell::ModelError> {
                let mut __snell_flat = flat;
                let __snell_sites = &self.__snell_layout.sites;
                let __snell_len: usize = __snell_sites.iter().map(|s| s.len).sum();
                if flat.len() != __snell_len {
                    return ::std::result::Result::Err(::snell::ModelError::Dimension { what: "flat constrained parameter values".into(), expected: __snell_len, got: flat.len() });
                }
                ::std::result::Result::Ok(#params_name {
                    #(#param_idents: ::snell::__private::FlatField::read(&mut __snell_flat, __snell_sites[#param_index].len),)*
                })
            }

            fn params_to_flat(&self, params: &#params_name) -> ::std::vec::Vec<f64> {
                let mut __snell_out = ::std::vec::Vec::new();
                #(::snell::__private::FlatField::push_to(&params.#param_idents, &mut __snell_out);)*
                __snell_out
            }
        }
    }
}
