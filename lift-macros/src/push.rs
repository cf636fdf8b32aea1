//! `#[ws_push("type")]`: a frame the server pushes, declared on its type inside the `#[ws_app]`
//! module, next to the routes (or beside handlers listed by `ws_routes!`, which lists the frame
//! too). It makes the type serialize with `"type": "<type>"` (it adds
//! `#[serde(tag = "type", rename = "<type>")]`) and implements `Push` for it: what the router
//! lists of it (tag, type name, JSON Schema) for the AsyncAPI document and the generated client.

use proc_macro2::{Span, TokenStream};
use quote::quote;
use syn::spanned::Spanned;
use syn::{Attribute, Item, LitStr};

use crate::errors::Errors;
use crate::exports::Exports;

/// Frame types the runtime and the generated TypeScript client use for themselves (`error` is
/// the error frame, `pong` the keep-alive's answer, `replayed` a history replay's report,
/// `presence` a room's joins and leaves, the others the client's own events).
const RESERVED: &[&str] = &[
    "error",
    "pong",
    "replayed",
    "presence",
    "open",
    "close",
    "reconnecting",
    "frame",
];

/// A pushed frame of the app.
pub struct Push {
    /// The value of its `"type"` field.
    pub tag: String,
    tag_span: Span,
    /// The type.
    pub ident: syn::Ident,
    /// The type with `'static` for each lifetime parameter, as its schema names it.
    ty: TokenStream,
    /// The item's `#[cfg]` attributes.
    cfgs: Vec<Attribute>,
    /// `pub`: the module docs link to it.
    public: bool,
    /// The struct's generics (lifetimes only), for its `impl Push`.
    generics: syn::Generics,
}

/// Whether `attr` is `#[ws_push(...)]` (by the last segment of its path).
pub fn is_push(attr: &Attribute) -> bool {
    attr.path()
        .segments
        .last()
        .is_some_and(|seg| seg.ident == "ws_push")
}

/// The attributes of a struct or an enum.
fn attrs_mut(item: &mut Item) -> Option<&mut Vec<Attribute>> {
    match item {
        Item::Struct(s) => Some(&mut s.attrs),
        Item::Enum(e) => Some(&mut e.attrs),
        _ => None,
    }
}

/// Reads the `#[ws_push("type")]` of `item`, if it has one: removes the attribute, adds the
/// serde tag, and returns the frame. Mistakes go to `errors`.
pub fn take(item: &mut Item, errors: &mut Errors) -> Option<Push> {
    let shape = match &*item {
        Item::Struct(s) if matches!(s.fields, syn::Fields::Named(_)) => Ok(()),
        Item::Struct(s) => Err(s.ident.span()),
        Item::Enum(e) => Err(e.ident.span()),
        _ => return None,
    };
    let attrs = attrs_mut(item)?;
    let position = attrs.iter().position(is_push)?;
    let attr = attrs.remove(position);
    attrs.retain(|second| {
        if !is_push(second) {
            return true;
        }
        errors.push(syn::Error::new_spanned(
            second,
            "a type is one pushed frame: remove this second `#[ws_push]`",
        ));
        false
    });
    let tag = match parse_tag(&attr) {
        Ok(tag) => tag,
        Err(err) => {
            errors.push(err);
            return None;
        }
    };
    let mut ok = true;
    if let Err(span) = shape {
        errors.push(syn::Error::new(
            span,
            "a pushed frame is a struct with named fields (it is sent as a JSON object whose \
             `\"type\"` field names it): for several kinds of frame, declare one struct each",
        ));
        ok = false;
    }
    let value = tag.value();
    if value.is_empty() {
        errors.push(syn::Error::new(
            tag.span(),
            "a frame's type is not empty: `#[ws_push(\"message\")]`",
        ));
        ok = false;
    } else if RESERVED.contains(&value.as_str()) {
        errors.push(syn::Error::new(
            tag.span(),
            format!(
                "the frame type `{value}` is reserved (the runtime's own frames and the generated \
                 client's events: {}): choose another name",
                RESERVED.join(", ")
            ),
        ));
        ok = false;
    }
    let attrs = attrs_mut(item)?;
    if !derives_serialize(attrs) {
        errors.push(syn::Error::new(
            attr.path().span(),
            "a pushed frame is sent as JSON: derive `serde::Serialize` on it (`#[derive(Serialize)]`)",
        ));
        ok = false;
    }
    for serde in attrs.iter().filter(|a| a.path().is_ident("serde")) {
        if let Some(key) = container_key(serde, &["tag", "rename", "untagged", "content"]) {
            errors.push(syn::Error::new(
                key.span(),
                format!(
                    "`#[ws_push(\"{value}\")]` sets the frame's tag itself (as `#[serde(tag = \"type\", rename = \"{value}\")]`): remove `{key}` here"
                ),
            ));
            ok = false;
        }
    }
    let Item::Struct(s) = item else { return None };
    if let Some(param) = s.generics.type_params().next() {
        errors.push(syn::Error::new(
            param.ident.span(),
            "a pushed frame has no type parameters: its JSON Schema is part of the app's protocol, one per frame type",
        ));
        ok = false;
    }
    if let Some(param) = s.generics.const_params().next() {
        errors.push(syn::Error::new(
            param.ident.span(),
            "a pushed frame has no const parameters: its JSON Schema is part of the app's protocol, one per frame type",
        ));
        ok = false;
    }
    if !ok {
        return None;
    }
    s.attrs
        .push(syn::parse_quote!(#[serde(tag = "type", rename = #tag)]));
    let ident = s.ident.clone();
    let lifetimes: Vec<_> = s.generics.lifetimes().map(|_| quote!('static)).collect();
    let ty = if lifetimes.is_empty() {
        quote!(#ident)
    } else {
        quote!(#ident<#(#lifetimes),*>)
    };
    let cfgs = s
        .attrs
        .iter()
        .filter(|a| a.path().is_ident("cfg"))
        .cloned()
        .collect();
    let public = matches!(s.vis, syn::Visibility::Public(_));
    Some(Push {
        generics: s.generics.clone(),
        public,
        tag: value,
        tag_span: tag.span(),
        ident,
        ty,
        cfgs,
    })
}

/// The `"type"` of `#[ws_push("type")]`.
fn parse_tag(attr: &Attribute) -> syn::Result<LitStr> {
    let hint =
        "write the frame's type: `#[ws_push(\"message\")]` (the value of its `\"type\"` field)";
    match &attr.meta {
        syn::Meta::List(list) => list
            .parse_args::<LitStr>()
            .map_err(|err| syn::Error::new(err.span(), hint)),
        _ => Err(syn::Error::new_spanned(attr, hint)),
    }
}

/// Whether the attributes derive `Serialize` (by the last segment of the derive's path).
fn derives_serialize(attrs: &[Attribute]) -> bool {
    attrs
        .iter()
        .filter(|a| a.path().is_ident("derive"))
        .any(|a| {
            let mut found = false;
            let _ = a.parse_nested_meta(|meta| {
                found |= meta
                    .path
                    .segments
                    .last()
                    .is_some_and(|s| s.ident == "Serialize");
                Ok(())
            });
            found
        })
}

/// The first of `keys` the `#[serde(...)]` attribute sets at the top level.
fn container_key(attr: &Attribute, keys: &[&str]) -> Option<syn::Ident> {
    let syn::Meta::List(list) = &attr.meta else {
        return None;
    };
    let mut segment_start = true;
    for tree in list.tokens.clone() {
        match &tree {
            proc_macro2::TokenTree::Ident(ident)
                if segment_start && keys.iter().any(|k| ident == k) =>
            {
                return Some(ident.clone());
            }
            proc_macro2::TokenTree::Punct(p) if p.as_char() == ',' => segment_start = true,
            _ => segment_start = false,
        }
    }
    None
}

/// One error per frame type declared twice, at the second.
pub fn check_duplicates(pushes: &[Push], errors: &mut Errors) {
    for (i, push) in pushes.iter().enumerate() {
        if !push.cfgs.is_empty() {
            continue;
        }
        if let Some(first) = pushes[..i]
            .iter()
            .find(|p| p.cfgs.is_empty() && p.tag == push.tag)
        {
            errors.push(syn::Error::new(
                push.tag_span,
                format!(
                    "the frame type `{}` is already pushed as `{}`: a client tells frames apart by their `\"type\"`, so each has its own",
                    push.tag, first.ident
                ),
            ));
        }
    }
}

/// The statement that defines `__LIFT_PUSHES: &[PushInfo]` inside `router()`.
pub fn table(pushes: &[Push], exports: &Exports) -> TokenStream {
    let push_info = exports.push_info();
    let push_trait = exports.push();
    let entries = pushes.iter().map(|push| {
        let ty = &push.ty;
        quote!(<#ty as #push_trait>::INFO)
    });
    if pushes.iter().all(|p| p.cfgs.is_empty()) {
        quote! {
            const __LIFT_PUSHES: &[#push_info] = &[ #(#entries),* ];
        }
    } else {
        let cfgs = pushes.iter().map(|p| &p.cfgs);
        quote! {
            static __LIFT_PUSH_TABLE: ::std::sync::OnceLock<::std::vec::Vec<#push_info>> =
                ::std::sync::OnceLock::new();
            let __LIFT_PUSHES: &'static [#push_info] = __LIFT_PUSH_TABLE.get_or_init(|| {
                let mut __lift_pushes = ::std::vec::Vec::new();
                #(
                    #(#cfgs)*
                    __lift_pushes.push(#entries);
                )*
                __lift_pushes
            });
        }
    }
}

/// `impl Push for Frame`: what the router lists of it (`ws_routes![...; push: Frame]` names
/// it through the trait).
pub fn impl_push(push: &Push, exports: &Exports) -> TokenStream {
    let push_trait = exports.push();
    let push_info = exports.push_info();
    let schema_of = exports.schema_of();
    let json = exports.json();
    let via = exports.via_json_schema();
    let none = exports.no_json_schema();
    let tag = &push.tag;
    let name = push.ident.to_string();
    let ident = &push.ident;
    let ty = &push.ty;
    let cfgs = &push.cfgs;
    let (impl_generics, ty_generics, where_clause) = push.generics.split_for_impl();
    quote! {
        #(#cfgs)*
        impl #impl_generics #push_trait for #ident #ty_generics #where_clause {
            const INFO: #push_info = #push_info {
                tag: #tag,
                name: #name,
                schema: || {
                    #[allow(unused_imports)]
                    use #via as _;
                    #[allow(unused_imports)]
                    use #none as _;
                    (&#schema_of::<#json<#ty>>::new()).schema()
                },
            };
        }
    }
}

/// The module docs' list of pushed frames (empty without any).
pub fn doc(pushes: &[Push]) -> String {
    if pushes.is_empty() {
        return String::new();
    }
    let mut out = String::from(
        "\n\n# Pushed frames\n\nFrames the server sends, declared with `#[ws_push]`, told apart by their `\"type\"`:\n\n| type | frame |\n|---|---|\n",
    );
    for push in pushes {
        let name = &push.ident;
        let frame = match push.public {
            true => format!("[`{name}`](struct@{name})"),
            false => format!("`{name}`"),
        };
        out.push_str(&format!("| `{}` | {frame} |\n", push.tag));
    }
    out
}

/// `#[ws_push("type")]` outside a `#[ws_app]` module, for apps split across files: the same
/// checks and serde tag, and `impl Push`, so `ws_routes![...; push: path::Frame]` can list it.
pub fn standalone(args: TokenStream, item: TokenStream) -> TokenStream {
    let mut parsed: Item = match syn::parse2(item.clone()) {
        Ok(item) => item,
        Err(err) => {
            let err = err.to_compile_error();
            return quote!(#err #item);
        }
    };
    let attr: Attribute = syn::parse_quote!(#[ws_push(#args)]);
    match &mut parsed {
        Item::Struct(s) => s.attrs.insert(0, attr),
        Item::Enum(e) => e.attrs.insert(0, attr),
        _ => {
            let err = syn::Error::new(
                Span::call_site(),
                "`#[ws_push]` goes on a struct with named fields: the frame's type",
            )
            .to_compile_error();
            return quote!(#err #item);
        }
    }
    let mut errors = Errors::default();
    let push = take(&mut parsed, &mut errors);
    let expanded = match (errors.finish(), push) {
        (Ok(()), Some(push)) => {
            let implementation = impl_push(&push, &Exports::new(None));
            quote!(#parsed #implementation)
        }
        (Err(err), _) => {
            let err = err.to_compile_error();
            quote!(#parsed #err)
        }
        (Ok(()), None) => quote!(#parsed),
    };
    crate::debug::print("ws_push", "ws_push", &expanded);
    expanded
}
