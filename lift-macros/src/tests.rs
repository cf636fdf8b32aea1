//! Unit tests of parse → check → generate on `proc_macro2` input, without a compiler run (the
//! way tokio-macros and serde_derive test theirs). What users see of the errors is in the
//! trybuild cases of `ui-tests`; these pin the model and the generated items.

use proc_macro2::TokenStream;
use quote::quote;

use crate::handler::{Handler, HandlerKind};

/// The messages of every `compile_error!` in `tokens`.
fn errors(tokens: &TokenStream) -> Vec<String> {
    let file: syn::File = syn::parse2(tokens.clone()).expect("the expansion parses as items");
    file.items
        .iter()
        .filter_map(|item| match item {
            syn::Item::Macro(mac)
                if mac
                    .mac
                    .path
                    .segments
                    .last()
                    .is_some_and(|seg| seg.ident == "compile_error") =>
            {
                let lit: syn::LitStr = mac.mac.parse_body().expect("a string literal");
                Some(lit.value())
            }
            _ => None,
        })
        .collect()
}

/// Item names (fns, structs, mods) of `tokens`, at the top level.
fn item_names(tokens: &TokenStream) -> Vec<String> {
    let file: syn::File = syn::parse2(tokens.clone()).expect("the expansion parses as items");
    file.items
        .iter()
        .filter_map(|item| match item {
            syn::Item::Fn(f) => Some(format!("fn {}", f.sig.ident)),
            syn::Item::Struct(s) => Some(format!("struct {}", s.ident)),
            syn::Item::Mod(m) => Some(format!("mod {}", m.ident)),
            syn::Item::Impl(i) => {
                Some(format!("impl {}", quote!(#i).to_string().contains("Route")))
            }
            _ => None,
        })
        .collect()
}

fn parse_fn(tokens: TokenStream) -> syn::ItemFn {
    syn::parse2(tokens).expect("a function")
}

#[test]
fn a_route_is_modelled_with_its_key_reply_and_kind() {
    let func = parse_fn(quote! {
        async fn history(ctx: &WsContext, Json(q): Json<Query>) -> WsResult<Json<Vec<Msg>>> { todo!() }
    });
    let handler = Handler::parse(
        HandlerKind::Route,
        quote!("history", reply),
        proc_macro2::Span::call_site(),
        &func,
    )
    .unwrap_or_else(|err| panic!("a valid handler: {err}"));
    assert_eq!(handler.key, "history");
    assert!(handler.reply);
    assert_eq!(handler.kind, HandlerKind::Route);
    assert_eq!(handler.ident, "history");
}

#[test]
fn the_special_routes_take_their_fixed_keys() {
    let func = parse_fn(quote!(
        async fn on_connect(ctx: &mut WsContext) -> WsResult {
            Ok(())
        }
    ));
    let handler = Handler::parse(
        HandlerKind::Connect,
        TokenStream::new(),
        proc_macro2::Span::call_site(),
        &func,
    )
    .unwrap_or_else(|err| panic!("a valid handler: {err}"));
    assert_eq!(handler.key, "$connect");
}

#[test]
fn every_mistake_of_a_handler_is_reported_at_once() {
    let func = parse_fn(quote!(
        fn bad<T>(x: &WsContext, y: &WsContext) {}
    ));
    let err = Handler::parse(
        HandlerKind::Route,
        quote!("$connect"),
        proc_macro2::Span::call_site(),
        &func,
    )
    .err()
    .expect("errors");
    let messages: Vec<String> = err.into_iter().map(|e| e.to_string()).collect();
    let expected = [
        "route keys starting with `$` are reserved",
        "must be an `async fn`",
        "returns a `WsResult`",
        "cannot be generic",
        "the context is already taken",
    ];
    for part in expected {
        assert!(
            messages.iter().any(|m| m.contains(part)),
            "no error says {part:?}: {messages:#?}"
        );
    }
}

#[test]
fn the_standalone_attribute_keeps_the_function_and_adds_its_companion() {
    let out = crate::handler::attribute(
        HandlerKind::Route,
        quote!("ping", reply),
        quote!(
            async fn ping() -> WsResult<Reply> {
                Ok(Reply::text("pong"))
            }
        ),
    );
    assert!(errors(&out).is_empty(), "{out}");
    let names = item_names(&out);
    assert_eq!(names[..2], ["fn ping", "struct ping"]);
    let text = out.to_string();
    assert!(
        text.contains(":: lift_runtime :: __private :: Route for ping"),
        "{text}"
    );
    assert!(
        text.contains("const KEY : & 'static str = \"ping\""),
        "{text}"
    );
    assert!(text.contains("const REPLY : bool = true"), "{text}");
}

#[test]
fn a_mistaken_handler_is_still_emitted_beside_its_error() {
    let out = crate::handler::attribute(
        HandlerKind::Route,
        quote!(""),
        quote!(
            async fn ping() -> WsResult {
                Ok(())
            }
        ),
    );
    assert_eq!(item_names(&out), ["fn ping"]);
    assert_eq!(errors(&out).len(), 1);
    assert!(errors(&out)[0].contains("the route key is empty"));
}

#[test]
fn an_app_gets_a_router_with_an_entry_per_route() {
    let out = crate::app::expand(
        TokenStream::new(),
        quote! {
            mod chat {
                #[ws_connect]
                async fn connect(ctx: &mut WsContext) -> WsResult { Ok(()) }
                #[ws_route("send")]
                async fn send(ctx: &WsContext) -> WsResult { Ok(()) }
                fn helper() {}
            }
        },
    );
    assert!(errors(&out).is_empty(), "{out}");
    let module: syn::ItemMod = syn::parse2(out).expect("a module");
    let inner = quote!(#module).to_string();
    assert!(
        inner.contains("RouteInfo :: of :: < connect > ()"),
        "{inner}"
    );
    assert!(inner.contains("RouteInfo :: of :: < send > ()"), "{inner}");
    assert!(inner.contains("pub fn router ()"), "{inner}");
    assert!(inner.contains("fn helper ()"), "{inner}");
}

#[test]
fn duplicate_keys_in_an_app_are_one_error_naming_the_first_handler() {
    let out = crate::app::expand(
        TokenStream::new(),
        quote! {
            mod chat {
                #[ws_route("send")]
                async fn one() -> WsResult { Ok(()) }
                #[ws_route("send")]
                async fn two() -> WsResult { Ok(()) }
            }
        },
    );
    let text = out.to_string();
    assert!(
        text.contains("route key `send` is already handled by `one`"),
        "{text}"
    );
    // Beside errors, `router()` is a stand-in (so calls to it add no errors), not a table.
    assert!(text.contains("this app did not compile"), "{text}");
    assert!(!text.contains("Router :: new"), "{text}");
}

#[test]
fn a_crate_path_on_a_handler_inside_an_app_is_refused() {
    let out = crate::app::expand(
        TokenStream::new(),
        quote! {
            mod chat {
                #[ws_route("send", crate = "other")]
                async fn send() -> WsResult { Ok(()) }
            }
        },
    );
    assert!(out.to_string().contains("goes on the app"), "{out}");
}

#[test]
fn the_app_crate_path_reaches_every_generated_path() {
    let out = crate::app::expand(
        quote!(crate = "facade"),
        quote! {
            mod chat {
                #[ws_route("send")]
                async fn send() -> WsResult { Ok(()) }
            }
        },
    );
    let text = out.to_string();
    assert!(text.contains("facade :: __private :: Route"), "{text}");
    assert!(!text.contains(":: lift_runtime ::"), "{text}");
}

#[test]
fn a_middleware_must_return_what_next_run_returns() {
    let good = crate::middleware::expand(
        TokenStream::new(),
        quote!(
            async fn m(ctx: &mut WsContext, next: Next<'_>) -> WsResult<Option<Reply>> {
                next.run(ctx).await
            }
        ),
    );
    assert!(errors(&good).is_empty(), "{good}");
    assert!(
        good.to_string().contains("__lift_check_middleware"),
        "{good}"
    );
    let bad = crate::middleware::expand(
        TokenStream::new(),
        quote!(
            async fn m(ctx: &mut WsContext, next: Next<'_>) -> WsResult {
                Ok(())
            }
        ),
    );
    assert!(
        errors(&bad)[0].contains("`WsResult<Option<Reply>>`"),
        "{bad}"
    );
}

#[test]
fn a_route_list_builds_a_router_from_its_routes() {
    let out = crate::list::expand(quote!(a::ping, pong));
    let text = out.to_string();
    assert!(
        text.contains("< a :: ping as :: lift_runtime :: __private :: Route > :: ENTRY"),
        "{text}"
    );
    assert!(text.contains("< pong as"), "{text}");
    assert!(text.contains("Router :: new (__LIFT_ROUTES)"), "{text}");
    // The duplicate check names both handlers.
    assert!(
        text.contains("`pong` handles the route key that `a::ping` handles"),
        "{text}"
    );
}

fn app(body: TokenStream) -> String {
    crate::app::expand(TokenStream::new(), quote!(mod app { #body })).to_string()
}

#[test]
fn a_duplicate_is_one_error_naming_the_first() {
    let text = app(quote! {
        #[ws_route("join")]
        async fn join() -> WsResult { Ok(()) }
        #[ws_route("join")]
        async fn join_again() -> WsResult { Ok(()) }
    });
    assert_eq!(text.matches("compile_error").count(), 1, "{text}");
    assert!(text.contains("already handled by `join`"), "{text}");
}

#[test]
fn nothing_marked_as_a_handler_is_left_out_silently() {
    // In a nested module: an error at the attribute.
    let text = app(quote! {
        #[ws_route("a")]
        async fn a() -> WsResult { Ok(()) }
        mod more {
            #[ws_route("b")]
            pub async fn b() -> WsResult { Ok(()) }
        }
    });
    assert!(text.contains("`b` is in `mod more`"), "{text}");
    // Under an alias imported in the module: routed.
    let text = app(quote! {
        use lift_runtime::ws_route as route;
        #[route("a")]
        async fn a() -> WsResult { Ok(()) }
        fn helper() {}
    });
    assert!(!text.contains("compile_error"), "{text}");
    assert!(text.contains("RouteInfo :: of :: < a > ()"), "{text}");
    // Every plain function is probed for a handler's companion.
    assert!(text.contains("pub struct helper"), "{text}");
    assert!(text.contains("Probe < helper >"), "{text}");
    // Under `cfg`: the table entry and the companion carry it.
    let text = app(quote! {
        #[cfg(feature = "x")]
        #[ws_route("a")]
        async fn a() -> WsResult { Ok(()) }
    });
    assert_eq!(
        text.matches("# [cfg (feature = \"x\")]").count(),
        4,
        "{text}"
    );
    assert!(text.contains("OnceLock"), "{text}");
}

#[test]
fn plainly_wrong_return_types_are_one_error_at_the_type() {
    for (ret, says) in [
        (quote!(-> Reply), "inside a `WsResult`"),
        (quote!(-> ()), "write `-> WsResult`"),
        (
            quote!(-> Result<(), String>),
            "a handler's error is a `WsError`",
        ),
        (
            quote!(-> anyhow::Result<()>),
            "a handler's error is a `WsError`",
        ),
    ] {
        let out = crate::handler::attribute(
            crate::handler::HandlerKind::Route,
            quote!("ping"),
            quote!(async fn ping() #ret { todo!() }),
        );
        let errors = errors(&out);
        assert_eq!(errors.len(), 1, "{out}");
        assert!(errors[0].contains(says), "{ret}: {out}");
    }
    // What the syntax cannot judge (a user's alias) is left to the type checker.
    let out = crate::handler::attribute(
        crate::handler::HandlerKind::Route,
        quote!("ping"),
        quote!(
            async fn ping() -> Result<()> {
                todo!()
            }
        ),
    );
    assert!(errors(&out).is_empty(), "{out}");
}

#[test]
fn a_handler_named_router_is_one_error_and_router_stays_callable() {
    let out = crate::app::expand(
        TokenStream::new(),
        quote! {
            mod app {
                #[ws_route("route")]
                async fn router() -> WsResult { Ok(()) }
            }
        },
    );
    let text = out.to_string();
    assert!(text.contains("cannot be named `router`"), "{text}");
    assert!(text.contains("fn __lift_handler_named_router"), "{text}");
    assert!(text.contains("this app did not compile"), "{text}");
    assert_eq!(text.matches("compile_error").count(), 1, "{text}");
}

#[test]
fn the_routing_table_is_documented() {
    let text = app(quote! {
        /// Answers `pong`.
        ///
        /// More words.
        #[ws_route("ping", reply)]
        pub async fn ping(Json(p): Json<Ping>) -> WsResult<Json<Pong>> { todo!() }
        #[ws_route("raw")]
        async fn raw(body: String) -> WsResult { Ok(()) }
        #[ws_route("me", reply)]
        pub async fn me(ctx: &WsContext) -> WsResult<Json<Me<'_>>> { todo!() }
    });
    assert!(
        text.contains("| `ping` | [`ping`](fn@ping) | replies | JSON: [`Ping`](Ping) | JSON: [`Pong`](Pong) | Answers `pong`. |"),
        "{text}"
    );
    // A reply borrowing from the context: shown with its lifetime, linked to its type.
    assert!(
        text.contains("| `me` | [`me`](fn@me) | replies | — | JSON: [`Me<'_>`](Me) |  |"),
        "{text}"
    );
    // A private handler is named, not linked (a link from public docs would not resolve).
    assert!(
        text.contains("| `raw` | `raw` | one-way | text | — |  |"),
        "{text}"
    );
    // On the module (an inner attribute) and on router().
    assert!(text.contains("# ! [doc ="), "{text}");
    assert_eq!(text.matches("| route key | handler |").count(), 2, "{text}");
}
