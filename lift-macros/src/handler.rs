//! One expander for the handler family: `ws_route`, `ws_connect`, `ws_disconnect`, `ws_default`.
//!
//! Shaped as parse → check → generate: [`Handler::parse`] builds the model and runs the checks
//! (collecting every error), [`Handler::companion`] emits the item that plugs the user's
//! function into the runtime. The user's function itself is always emitted unchanged.

use proc_macro2::{Span, TokenStream};
use quote::{quote, quote_spanned, ToTokens};
use syn::spanned::Spanned;
use syn::{FnArg, ItemFn, LitStr, Type};

use crate::args::Args;
use crate::errors::Errors;
use crate::exports::Exports;

/// The longest route key this crate accepts (API Gateway's limit on route keys).
pub const MAX_KEY_LEN: usize = 128;

/// Which attribute of the family is being expanded.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum HandlerKind {
    Route,
    Connect,
    Disconnect,
    Default,
}

impl HandlerKind {
    pub const ALL: [HandlerKind; 4] = [
        HandlerKind::Route,
        HandlerKind::Connect,
        HandlerKind::Disconnect,
        HandlerKind::Default,
    ];

    pub fn attr_name(self) -> &'static str {
        match self {
            HandlerKind::Route => "ws_route",
            HandlerKind::Connect => "ws_connect",
            HandlerKind::Disconnect => "ws_disconnect",
            HandlerKind::Default => "ws_default",
        }
    }

    /// The attribute of this family that `attr` is, judged by the last segment of its path.
    pub fn of_attr(attr: &syn::Attribute) -> Option<HandlerKind> {
        let last = attr.path().segments.last()?;
        HandlerKind::ALL
            .into_iter()
            .find(|kind| last.ident == kind.attr_name())
    }

    /// The reserved route key of the special routes.
    fn fixed_key(self) -> Option<&'static str> {
        match self {
            HandlerKind::Route => None,
            HandlerKind::Connect => Some("$connect"),
            HandlerKind::Disconnect => Some("$disconnect"),
            HandlerKind::Default => Some("$default"),
        }
    }

    /// The options the attribute takes, for hints.
    fn options(self) -> &'static [&'static str] {
        match self {
            HandlerKind::Route | HandlerKind::Default => &["reply", "crate = \"...\""],
            HandlerKind::Connect | HandlerKind::Disconnect => &["crate = \"...\""],
        }
    }

    fn runtime_kind(self) -> &'static str {
        match self {
            HandlerKind::Route => "Message",
            HandlerKind::Connect => "Connect",
            HandlerKind::Disconnect => "Disconnect",
            HandlerKind::Default => "Default",
        }
    }
}

/// How the handler takes the request context.
#[derive(Clone, Copy)]
enum ContextParam {
    None,
    Shared,
    Mut,
}

/// The model of one handler, checked.
pub struct Handler {
    pub kind: HandlerKind,
    /// The route key (`$connect` etc. for the special routes).
    pub key: String,
    /// Where the key was written (the attribute's literal, or the attribute's name).
    pub key_span: Span,
    pub reply: bool,
    pub krate: Option<syn::Path>,
    pub ident: syn::Ident,
    vis: syn::Visibility,
    context: ContextParam,
    extractors: Vec<Type>,
    output: Option<Type>,
    /// The function's `#[cfg(...)]` attributes: its companion and its table entries carry
    /// them, so a handler compiled out is routed out with it.
    pub cfgs: Vec<syn::Attribute>,
    /// What the app's documented routing table shows of it.
    pub doc: crate::doc::HandlerDoc,
}

impl Handler {
    /// Parses and checks a handler; `attr_span` is where the attribute's name was written.
    pub fn parse(
        kind: HandlerKind,
        args: TokenStream,
        attr_span: Span,
        func: &ItemFn,
    ) -> Result<Handler, syn::Error> {
        let mut errors = Errors::default();
        let (args, (key, key_span)) = match Args::parse(args, kind.attr_name(), kind.options()) {
            Ok(args) => {
                let key = check_key_args(kind, &args, attr_span, &mut errors);
                (args, key)
            }
            Err(err) => {
                // The arguments are reported; checking the key of half-parsed ones would only
                // repeat the problem.
                errors.push(err);
                (Args::default(), (String::new(), attr_span))
            }
        };
        check_signature(kind, &func.sig, &mut errors);
        let (context, extractors) = check_inputs(&func.sig, &mut errors);
        errors.finish()?;
        let output = match &func.sig.output {
            syn::ReturnType::Default => None,
            syn::ReturnType::Type(_, ty) => Some((**ty).clone()),
        };
        Ok(Handler {
            doc: crate::doc::HandlerDoc::new(func, &extractors, output.as_ref()),
            kind,
            key,
            key_span,
            reply: args.reply.is_some(),
            krate: args.krate,
            ident: func.sig.ident.clone(),
            vis: func.vis.clone(),
            context,
            extractors,
            output,
            cfgs: func
                .attrs
                .iter()
                .filter(|attr| attr.path().is_ident("cfg"))
                .cloned()
                .collect(),
        })
    }

    /// The companion item: a braced struct named like the function (it lives in the type
    /// namespace only, so the function stays callable) implementing the runtime's `Route`.
    pub fn companion(&self, exports: &Exports) -> TokenStream {
        let Handler {
            ident, vis, key, ..
        } = self;
        let route = exports.route();
        let ws_context = exports.ws_context();
        let box_future = exports.box_future();
        let handler_result = exports.handler_result();
        let from_message = exports.from_message();
        let handler_output = exports.handler_output();
        let route_kind = exports.route_kind();
        let kind = syn::Ident::new(self.kind.runtime_kind(), Span::call_site());
        let reply = self.reply;

        let arg_idents: Vec<syn::Ident> = (0..self.extractors.len())
            .map(|i| quote::format_ident!("__lift_arg{}", i))
            .collect();
        // Each extraction is spanned at the user's type: "not an extractor" lands there.
        let extract = self.extractors.iter().zip(&arg_idents).map(|(ty, arg)| {
            quote_spanned! {ty.span()=>
                let #arg = <#ty as #from_message>::from_message(&*__lift_ctx)?;
            }
        });
        let ctx_arg = match self.context {
            ContextParam::None => quote!(),
            ContextParam::Shared => quote!(&*__lift_ctx,),
            ContextParam::Mut => quote!(&mut *__lift_ctx,),
        };
        // "not a reply" lands on the return type.
        let output_span = self
            .output
            .as_ref()
            .map_or_else(|| ident.span(), |ty| ty.span());
        let convert = quote_spanned! {output_span=>
            #handler_output::into_outcome(__lift_output)
        };
        // The future is boxed as `Send` at the function's name: a handler holding a non-`Send`
        // value across `.await` gets one error there, naming the value.
        let boxed = quote_spanned! {ident.span()=>
            ::std::boxed::Box::pin(async move {
                #(#extract)*
                let __lift_output = #ident(#ctx_arg #(#arg_idents),*).await;
                #convert
            })
        };
        let schemas = self.schemas(exports);
        let doc = format!("Routing entry of `{ident}` for the route key `{key}`.");
        let cfgs = &self.cfgs;
        quote! {
            #(#cfgs)*
            #[doc = #doc]
            #[doc(hidden)]
            #[allow(non_camel_case_types, dead_code, missing_docs)]
            #vis struct #ident {}

            #(#cfgs)*
            impl #route for #ident {
                const KEY: &'static str = #key;
                const KIND: #route_kind = #route_kind::#kind;
                const REPLY: bool = #reply;

                fn call<'__lift>(
                    __lift_ctx: &'__lift mut #ws_context,
                ) -> #box_future<'__lift, #handler_result> {
                    #boxed
                }

                #schemas
            }
        }
    }

    /// The schema functions of the companion: the first `Json<T>` extractor's `T` and the
    /// returned `Json<U>`'s `U`, when they implement `JsonSchema` (chosen by method resolution,
    /// see the runtime's `schema` module). Lifetimes are inferred there; `impl Trait` types are
    /// left out (they cannot be named).
    fn schemas(&self, exports: &Exports) -> TokenStream {
        let value = exports.value();
        let schema_of = exports.schema_of();
        let via = exports.via_json_schema();
        let none = exports.no_json_schema();
        // `fn name() -> Option<Value>`: the first of `types` that has a schema.
        let schema_fn = |name: &str, types: &mut dyn Iterator<Item = &Type>| {
            let name = syn::Ident::new(name, Span::call_site());
            let tries = types.filter_map(nameable).map(|ty| {
                quote! { .or_else(|| (&#schema_of::<#ty>::new()).schema()) }
            });
            quote! {
                fn #name() -> ::core::option::Option<#value> {
                    #[allow(unused_imports)]
                    use #via as _;
                    #[allow(unused_imports)]
                    use #none as _;
                    ::core::option::Option::None #(#tries)*
                }
            }
        };
        let message = schema_fn("message_schema", &mut self.extractors.iter());
        let reply = schema_fn("reply_schema", &mut self.output.iter());
        quote!(#message #reply)
    }
}

/// The route key and the options against the attribute's kind.
fn check_key_args(
    kind: HandlerKind,
    args: &Args,
    attr_span: Span,
    errors: &mut Errors,
) -> (String, Span) {
    if let (Some(span), HandlerKind::Connect | HandlerKind::Disconnect) = (args.reply, kind) {
        errors.push(syn::Error::new(
            span,
            format!(
                "`reply` has no meaning on `#[{}]`: API Gateway sends no message back on `{}`",
                kind.attr_name(),
                kind.fixed_key().unwrap_or_default()
            ),
        ));
    }
    match (kind.fixed_key(), &args.key) {
        (None, Some(lit)) => {
            check_key(lit, errors);
            (lit.value(), lit.span())
        }
        (None, None) => {
            errors.push(syn::Error::new(
                attr_span,
                "`#[ws_route]` needs a route key: `#[ws_route(\"sendMessage\")]`",
            ));
            (String::new(), attr_span)
        }
        (Some(fixed), Some(lit)) => {
            errors.push(syn::Error::new(
                lit.span(),
                format!(
                    "`#[{}]` takes no route key: it handles the `{fixed}` route; for a named route use `#[ws_route({})]`",
                    kind.attr_name(),
                    lit.token()
                ),
            ));
            (fixed.to_owned(), attr_span)
        }
        (Some(fixed), None) => (fixed.to_owned(), attr_span),
    }
}

/// A route key: not empty, not reserved, at most 128 characters, printable ASCII without spaces.
fn check_key(lit: &LitStr, errors: &mut Errors) {
    let key = lit.value();
    if key.is_empty() {
        errors.push(syn::Error::new(
            lit.span(),
            "the route key is empty: API Gateway selects routes by a non-empty key, e.g. `#[ws_route(\"sendMessage\")]`",
        ));
        return;
    }
    if key.starts_with('$') {
        let hint = match key.as_str() {
            "$connect" => "use `#[ws_connect]` for `$connect`",
            "$disconnect" => "use `#[ws_disconnect]` for `$disconnect`",
            "$default" => "use `#[ws_default]` for `$default`",
            _ => "the special routes have their own attributes: `#[ws_connect]`, `#[ws_disconnect]`, `#[ws_default]`",
        };
        errors.push(syn::Error::new(
            lit.span(),
            format!("route keys starting with `$` are reserved by API Gateway; {hint}"),
        ));
        return;
    }
    if key.len() > MAX_KEY_LEN {
        errors.push(syn::Error::new(
            lit.span(),
            format!(
                "the route key is {} bytes long; API Gateway route keys are at most {MAX_KEY_LEN}",
                key.len()
            ),
        ));
    }
    if let Some((index, bad)) = key.char_indices().find(|(_, c)| !c.is_ascii_graphic()) {
        // Point at the character where the compiler allows it (nightly); else at the literal.
        let span = lit
            .token()
            .subspan(index + 1..index + 1 + bad.len_utf8())
            .unwrap_or_else(|| lit.span());
        errors.push(syn::Error::new(
            span,
            format!(
                "route keys are printable ASCII without spaces; {bad:?} at byte {index} is not (clients send the key as the `action` of a JSON message)"
            ),
        ));
    }
}

/// What the function itself must be: a plain, free `async fn`, generic over lifetimes only.
fn check_signature(kind: HandlerKind, sig: &syn::Signature, errors: &mut Errors) {
    check_signature_of(kind.attr_name(), "a handler", sig, errors);
    crate::output::check_output(sig, errors);
}

/// The checks shared by handlers and middleware: a plain, free `async fn`, generic over
/// lifetimes only.
pub fn check_signature_of(attr: &str, what: &str, sig: &syn::Signature, errors: &mut Errors) {
    if let Some(constness) = &sig.constness {
        errors.push(syn::Error::new(
            constness.span,
            format!("{what} cannot be a `const fn`: remove `const`"),
        ));
    } else if sig.asyncness.is_none() {
        errors.push(syn::Error::new(
            sig.fn_token.span,
            format!(
                "a `#[{attr}]` function must be an `async fn`: write `async fn {}(...)`",
                sig.ident
            ),
        ));
    }
    if let Some(unsafety) = &sig.unsafety {
        errors.push(syn::Error::new(
            unsafety.span,
            format!("{what} cannot be an `unsafe fn`: the runtime calls it like any other function; use `unsafe {{ }}` blocks inside"),
        ));
    }
    if let Some(abi) = &sig.abi {
        errors.push(syn::Error::new_spanned(
            abi,
            format!("{what} cannot have an `extern` ABI: remove it"),
        ));
    }
    if let Some(variadic) = &sig.variadic {
        errors.push(syn::Error::new_spanned(
            variadic,
            format!("{what} cannot be variadic: take the body with `Json<T>` or `String`"),
        ));
    }
    // Lifetimes may be named (`async fn f<'a>(ctx: &'a WsContext) -> WsResult<Json<T<'a>>>`):
    // they are inferred where the function is called. Types and constants cannot be.
    let lifetimes_only = sig
        .generics
        .params
        .iter()
        .all(|param| matches!(param, syn::GenericParam::Lifetime(_)));
    if !lifetimes_only || sig.generics.where_clause.is_some() {
        errors.push(syn::Error::new_spanned(
            &sig.generics,
            format!("{what} cannot be generic: the runtime calls it with concrete types; use a concrete type (e.g. `Json<MyMessage>`)"),
        ));
    }
}

/// The context parameter and the extractors.
fn check_inputs(sig: &syn::Signature, errors: &mut Errors) -> (ContextParam, Vec<Type>) {
    let mut context = ContextParam::None;
    let mut context_seen: Option<&Type> = None;
    let mut body_seen: Option<&Type> = None;
    let mut extractors = Vec::new();
    let mut index = 0;
    for input in &sig.inputs {
        let pat_type = match input {
            FnArg::Receiver(receiver) => {
                errors.push(syn::Error::new_spanned(
                    receiver,
                    "handlers cannot take `self`: make it a free `async fn` (a handler is called with the event, not with an object)",
                ));
                continue;
            }
            FnArg::Typed(pat_type) => pat_type,
        };
        index += 1;
        let ty = &*pat_type.ty;
        match context_param(ty) {
            Some(Ok(found)) => {
                if context_seen.is_some() {
                    errors.push(syn::Error::new_spanned(
                        ty,
                        "the context is already taken by an earlier parameter: take it once, first",
                    ));
                } else if index != 1 {
                    errors.push(syn::Error::new_spanned(
                        ty,
                        "the context must be the first parameter: `ctx: &WsContext` (or `&mut WsContext`), then the extractors",
                    ));
                } else {
                    context = found;
                }
                context_seen = Some(ty);
            }
            Some(Err(err)) => errors.push(err),
            None => {
                if let Some(name) = body_extractor(ty) {
                    if let Some(first) = body_seen {
                        errors.push(syn::Error::new_spanned(
                            ty,
                            format!(
                                "`{name}` reads the message body, and so does `{}` before it: take the body once",
                                first.to_token_stream().to_string().replace(' ', "")
                            ),
                        ));
                    }
                    body_seen = Some(ty);
                }
                extractors.push(ty.clone());
            }
        }
    }
    (context, extractors)
}

/// `Some(name)` for the extractors that consume the body.
fn body_extractor(ty: &Type) -> Option<&'static str> {
    let Type::Path(path) = ty else { return None };
    let last = path.path.segments.last()?;
    if last.ident == "Json" {
        Some("Json")
    } else if last.ident == "String" {
        Some("String")
    } else {
        None
    }
}

/// `Some` when the type is the context: `&WsContext` or `&mut WsContext` (any path ending in
/// `WsContext`); an error when it is the context taken the wrong way.
fn context_param(ty: &Type) -> Option<Result<ContextParam, syn::Error>> {
    fn is_context(ty: &Type) -> bool {
        match ty {
            Type::Path(path) => path
                .path
                .segments
                .last()
                .is_some_and(|seg| seg.ident == "WsContext"),
            Type::Paren(inner) => is_context(&inner.elem),
            _ => false,
        }
    }
    match ty {
        Type::Reference(reference) if is_context(&reference.elem) => {
            Some(Ok(if reference.mutability.is_some() {
                ContextParam::Mut
            } else {
                ContextParam::Shared
            }))
        }
        ty if is_context(ty) => Some(Err(syn::Error::new_spanned(
            ty,
            "take the context by reference: `ctx: &WsContext` or `ctx: &mut WsContext`",
        ))),
        _ => None,
    }
}

/// The user's function as it is re-emitted next to errors: unchanged, except for the parts the
/// errors are about and that would make the compiler report the same mistake again.
pub fn sanitized(func: &ItemFn) -> ItemFn {
    let mut func = func.clone();
    func.sig.constness = None;
    func.sig.variadic = None;
    func
}

/// The standalone attribute: the function unchanged, then its companion or the errors.
pub fn attribute(kind: HandlerKind, args: TokenStream, item: TokenStream) -> TokenStream {
    let func: ItemFn = match syn::parse2(item.clone()) {
        Ok(func) => func,
        Err(_) => {
            let attr = match kind {
                HandlerKind::Route => "#[ws_route(\"key\")]".to_owned(),
                kind => format!("#[{}]", kind.attr_name()),
            };
            let message = format!(
                "`#[{}]` goes on an `async fn`: `{attr} async fn name(ctx: &WsContext) -> WsResult {{ ... }}`",
                kind.attr_name()
            );
            let err = match syn::parse2::<syn::Item>(item.clone()) {
                Ok(parsed) => syn::Error::new_spanned(parsed, message),
                Err(_) => syn::Error::new(Span::call_site(), message),
            }
            .to_compile_error();
            return quote!(#err #item);
        }
    };
    let expanded = match Handler::parse(kind, args, Span::call_site(), &func) {
        Ok(handler) => {
            let companion = handler.companion(&Exports::new(handler.krate.as_ref()));
            quote!(#func #companion)
        }
        Err(err) => {
            let err = err.to_compile_error();
            let func = sanitized(&func);
            quote!(#func #err)
        }
    };
    crate::debug::print(kind.attr_name(), &func.sig.ident.to_string(), &expanded);
    expanded
}

/// `ty` as the schema function of a companion can name it, if it can.
fn nameable(ty: &Type) -> Option<TokenStream> {
    // Every lifetime but `'static` becomes `'_`, inferred where the schema function names the
    // type: a reply borrowing from the context (`Json<WhoAmI<'_>>`, `Json<Reply<'a>>`) has the
    // schema of the type it borrows into. `impl Trait` cannot be named there at all.
    fn rewrite(stream: TokenStream) -> Option<TokenStream> {
        let mut out = Vec::new();
        let mut lifetime = false;
        for tree in stream {
            let tree = match tree {
                proc_macro2::TokenTree::Ident(i) if i == "impl" => return None,
                proc_macro2::TokenTree::Ident(i) if lifetime && i != "static" => {
                    proc_macro2::TokenTree::Ident(proc_macro2::Ident::new("_", i.span()))
                }
                proc_macro2::TokenTree::Group(g) => {
                    let mut group = proc_macro2::Group::new(g.delimiter(), rewrite(g.stream())?);
                    group.set_span(g.span());
                    proc_macro2::TokenTree::Group(group)
                }
                other => other,
            };
            lifetime = matches!(&tree, proc_macro2::TokenTree::Punct(p) if p.as_char() == '\'');
            out.push(tree);
        }
        Some(out.into_iter().collect())
    }
    rewrite(quote!(#ty))
}
