//! `LIFT_MACRO_DEBUG`: print what a macro expands to, for debugging. Only with the `debug`
//! feature (`lift-runtime`'s `macro-debug`), so `prettyplease` is in no build that does not ask.
//!
//! `LIFT_MACRO_DEBUG=1` (or `all`) prints every expansion to the build's stderr;
//! `LIFT_MACRO_DEBUG=name` only those of the function or module called `name`.

use proc_macro2::TokenStream;

/// Without the `debug` feature: nothing (and no `prettyplease` in users' builds).
#[cfg(not(feature = "debug"))]
pub fn print(_macro_name: &str, _item_name: &str, _tokens: &TokenStream) {}

#[cfg(feature = "debug")]
pub fn print(macro_name: &str, item_name: &str, tokens: &TokenStream) {
    let Ok(filter) = std::env::var("LIFT_MACRO_DEBUG") else {
        return;
    };
    let wanted = match filter.as_str() {
        "" | "0" | "false" => false,
        "1" | "all" | "true" => true,
        name => name == item_name,
    };
    if !wanted {
        return;
    }
    let pretty = syn::parse2::<syn::File>(tokens.clone())
        .map(|file| prettyplease::unparse(&file))
        .unwrap_or_else(|_| tokens.to_string());
    eprintln!("// ===== {macro_name} on `{item_name}` expands to:\n{pretty}");
}
