//! [`print_if_asked`]: `your-app template [options]`, `your-app asyncapi` and
//! `your-app typescript` print the deployment documents and the client, for a `main` that asks
//! for it.

use super::{asyncapi, Template};
use crate::app::App;

/// Prints the app's deployment template or AsyncAPI document as JSON, or its TypeScript client
/// (see [`typescript`](super::typescript)), on standard output when the program was started as
/// `your-app template [options]`, `your-app asyncapi` or `your-app typescript`, and says
/// whether it did; any other command line is left to the program. `template` takes
/// `--stage NAME`, `--x86_64`, `--memory MB`, `--timeout SECONDS`, `--env KEY=VALUE`
/// (repeatable), `--code-uri DIR`, `--fanout-consumers N`, `--no-fanout`, and for operations
/// (see [`Template`]'s fields) `--log-retention DAYS|never`, `--no-access-logs`,
/// `--no-account-log-role`, `--throttle RATE:BURST|off`, `--no-alarms`, `--alarm-email ADDRESS`,
/// `--metrics-namespace NAME` and `--tracing`, and `--authorizer` (the function as `$connect`'s
/// authorizer, [`Template::authorizer`]; on too when the app's settings say so) with
/// `--authorizer-source EXPR` (repeatable: its identity sources); an unknown option is an
/// error.
///
/// The template is named after the program, with its code from `target/lambda/<program>`
/// (where `cargo lambda build` puts it) and the app's route selection expression.
///
/// ```no_run
/// # #[lift_runtime::ws_app] mod app { use lift_runtime::prelude::*; #[ws_default] async fn d() -> WsResult { Ok(()) } }
/// #[tokio::main]
/// async fn main() -> Result<(), lift_runtime::Error> {
///     let app = lift_runtime::App::new(app::router());
///     if lift_runtime::deploy::print_if_asked(&app)? {
///         return Ok(());
///     }
///     app.run().await
/// }
/// ```
pub fn print_if_asked(app: &App) -> Result<bool, crate::Error> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    print_for(app, &args)
}

/// [`print_if_asked`] with these arguments (the program's own, without its name).
fn print_for(app: &App, args: &[String]) -> Result<bool, crate::Error> {
    let program = program_name();
    let document = match args.first().map(String::as_str) {
        Some("template") => {
            let mut template = Template::new(app.router());
            template.name = program.clone();
            template.code_uri = format!("target/lambda/{program}");
            let settings = app.described_settings();
            template.route_selection = settings.route_selection.clone();
            template.keepalive_route = settings.keepalive_route.clone();
            template.history = settings.history;
            template.authorizer = settings.authorizer.then(Vec::new);
            template.presence = settings.presence;
            template_options(template, &args[1..])?.to_json()
        }
        Some("asyncapi") => asyncapi(app, &program),
        Some("typescript") => {
            use std::io::Write;
            let mut out = std::io::stdout().lock();
            out.write_all(super::typescript(app).as_bytes())?;
            return Ok(true);
        }
        _ => return Ok(false),
    };
    print_json(&document)?;
    Ok(true)
}

/// The running program's file name, for names in generated documents.
fn program_name() -> String {
    std::env::args_os()
        .next()
        .map(std::path::PathBuf::from)
        .and_then(|path| path.file_stem().map(|s| s.to_string_lossy().into_owned()))
        .filter(|name| !name.is_empty())
        .unwrap_or_else(|| "lift-app".to_owned())
}

/// Writes a generated document to standard output (the program's output when run as
/// `your-app template`, not a log line).
fn print_json(value: &serde_json::Value) -> Result<(), crate::Error> {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    serde_json::to_writer_pretty(&mut out, value)?;
    writeln!(out)?;
    Ok(())
}

/// A mistake on the command line. Its `Debug` is its message, so `main` returning it prints
/// `Error: unknown option ...` rather than a quoted string.
struct UsageError(String);

impl std::fmt::Debug for UsageError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::fmt::Display for UsageError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for UsageError {}

/// The retentions CloudWatch Logs accepts, in days.
const RETENTION_DAYS: [u32; 22] = [
    1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922,
    3288, 3653,
];

/// Applies `your-app template` command-line options to `template`.
fn template_options(template: Template, args: &[String]) -> Result<Template, crate::Error> {
    parse_template_options(template, args).map_err(|message| UsageError(message).into())
}

fn parse_template_options(mut template: Template, args: &[String]) -> Result<Template, String> {
    let mut args = args.iter();
    while let Some(arg) = args.next() {
        let mut value = |name: &str| {
            args.next()
                .cloned()
                .ok_or_else(|| format!("`template {name}` needs a value"))
        };
        let number = |name: &str, text: String| {
            text.parse::<u32>()
                .map_err(|_| format!("`template {name}` takes a number, not `{text}`"))
        };
        match arg.as_str() {
            "--stage" => template.stage = value("--stage")?,
            "--x86_64" => template.architecture = "x86_64".to_owned(),
            "--memory" => template.memory_mb = number("--memory", value("--memory")?)?,
            "--timeout" => template.timeout_secs = number("--timeout", value("--timeout")?)?,
            "--code-uri" => template.code_uri = value("--code-uri")?,
            "--fanout-consumers" => {
                let consumers = number("--fanout-consumers", value("--fanout-consumers")?)?;
                template.fanout_consumers = Some(consumers);
            }
            "--no-fanout" => template.fanout_consumers = None,
            "--log-retention" => {
                template.log_retention_days = match value("--log-retention")?.as_str() {
                    "never" => None,
                    days => {
                        let days = number("--log-retention", days.to_owned())?;
                        if !RETENTION_DAYS.contains(&days) {
                            return Err(format!(
                                "`template --log-retention` takes a number of days CloudWatch Logs keeps logs for ({}), or never; not {days}",
                                RETENTION_DAYS.map(|d| d.to_string()).join(", ")
                            ));
                        }
                        Some(days)
                    }
                }
            }
            "--no-access-logs" => template.access_logs = false,
            "--no-account-log-role" => template.account_log_role = false,
            "--throttle" => {
                let text = value("--throttle")?;
                template.throttling = match text.as_str() {
                    "off" => None,
                    _ => {
                        let (rate, burst) = text
                            .split_once(':')
                            .and_then(|(rate, burst)| Some((rate.parse().ok()?, burst.parse().ok()?)))
                            .filter(|(rate, _): &(f64, u32)| rate.is_finite() && *rate > 0.0)
                            .ok_or_else(|| {
                                format!("`template --throttle` takes RATE:BURST (e.g. 500:1000) or off, not `{text}`")
                            })?;
                        Some(super::Throttling { rate, burst })
                    }
                }
            }
            "--no-alarms" => template.alarms = false,
            "--alarm-email" => template.alarm_email = Some(value("--alarm-email")?),
            "--metrics-namespace" => {
                template.metrics_namespace = Some(value("--metrics-namespace")?)
            }
            "--tracing" => template.tracing = true,
            "--authorizer" => {
                template.authorizer.get_or_insert_with(Vec::new);
            }
            "--authorizer-source" => {
                let source = value("--authorizer-source")?;
                if !source.starts_with("route.request.")
                    && !source.starts_with("stageVariables.")
                    && !source.starts_with("context.")
                {
                    return Err(format!(
                        "`template --authorizer-source` takes route.request.header.NAME, \
                         route.request.querystring.NAME, stageVariables.NAME or context.NAME, \
                         not `{source}`"
                    ));
                }
                template
                    .authorizer
                    .get_or_insert_with(Vec::new)
                    .push(source);
            }
            "--env" => {
                let pair = value("--env")?;
                let (key, val) = pair
                    .split_once('=')
                    .ok_or_else(|| format!("`template --env` takes KEY=VALUE, not `{pair}`"))?;
                template.environment.push((key.to_owned(), val.to_owned()));
            }
            other => {
                return Err(format!(
                    "unknown option `{other}` for `template`: use --stage NAME, --x86_64, \
                     --memory MB, --timeout SECONDS, --env KEY=VALUE, --code-uri DIR, \
                     --fanout-consumers N, --no-fanout, --log-retention DAYS|never, \
                     --no-access-logs, --no-account-log-role, --throttle RATE:BURST|off, \
                     --no-alarms, --alarm-email ADDRESS, --metrics-namespace NAME, --tracing, \
                     --authorizer, --authorizer-source EXPR"
                ))
            }
        };
    }
    Ok(template)
}

#[cfg(test)]
mod tests {
    use super::{print_for, template_options};
    use crate::deploy::Template;
    use crate::router::Router;

    fn args(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn other_command_lines_are_left_to_the_program() {
        let app = crate::App::new(Router::new(&[]));
        assert!(!print_for(&app, &[]).unwrap());
        assert!(!print_for(&app, &args(&["serve", "--port", "1"])).unwrap());
        assert!(print_for(&app, &args(&["template", "--bogus"])).is_err());
    }

    #[test]
    fn the_authorizer_options_set_its_sources() {
        let base = Template::new(&Router::new(&[]));
        let on = template_options(base.clone(), &args(&["--authorizer"])).unwrap();
        assert_eq!(on.authorizer, Some(vec![]));
        let sourced = args(&[
            "--authorizer-source",
            "route.request.querystring.token",
            "--authorizer-source",
            "route.request.header.Origin",
        ]);
        let sourced = template_options(base.clone(), &sourced).unwrap();
        assert_eq!(
            sourced.authorizer.unwrap(),
            [
                "route.request.querystring.token",
                "route.request.header.Origin"
            ]
        );
        let err = template_options(base, &args(&["--authorizer-source", "token"])).unwrap_err();
        assert!(
            err.to_string().contains("route.request.querystring.NAME"),
            "{err}"
        );
    }

    #[test]
    fn command_line_options_set_the_template() {
        let router = Router::new(&[]);
        let base = Template::new(&router);
        let options = args(&[
            "--stage",
            "dev",
            "--x86_64",
            "--memory",
            "2048",
            "--timeout",
            "20",
            "--env",
            "LIFT_JWT_SECRET=s=1",
            "--code-uri",
            "target/lambda/x",
            "--fanout-consumers",
            "40",
        ]);
        let json = template_options(base.clone(), &options).unwrap().to_json();
        let function = &json["Resources"]["Function"]["Properties"];
        assert_eq!(function["Architectures"][0], "x86_64");
        assert_eq!(function["MemorySize"], 2048);
        assert_eq!(function["Timeout"], 20);
        assert_eq!(function["CodeUri"], "target/lambda/x");
        assert_eq!(
            function["Environment"]["Variables"]["LIFT_JWT_SECRET"],
            "s=1"
        );
        assert_eq!(json["Resources"]["Stage"]["Properties"]["StageName"], "dev");
        let fanout = &function["Events"]["FanoutRecords"]["Properties"];
        assert_eq!(fanout["ScalingConfig"]["MaximumConcurrency"], 40);
        let bare = template_options(base.clone(), &args(&["--no-fanout"])).unwrap();
        assert!(bare.to_json()["Resources"].get("FanoutQueue").is_none());

        let operated = template_options(
            base.clone(),
            &args(&[
                "--log-retention",
                "7",
                "--throttle",
                "50:100",
                "--alarm-email",
                "ops@example.com",
                "--metrics-namespace",
                "Lift/Chat",
                "--tracing",
                "--no-account-log-role",
            ]),
        )
        .unwrap();
        assert_eq!(operated.log_retention_days, Some(7));
        assert_eq!(
            operated.throttling.map(|t| (t.rate, t.burst)),
            Some((50.0, 100))
        );
        assert_eq!(operated.alarm_email.as_deref(), Some("ops@example.com"));
        assert_eq!(operated.metrics_namespace.as_deref(), Some("Lift/Chat"));
        assert!(operated.tracing && !operated.account_log_role);
        let quiet = template_options(
            base.clone(),
            &args(&[
                "--log-retention",
                "never",
                "--throttle",
                "off",
                "--no-alarms",
                "--no-access-logs",
            ]),
        )
        .unwrap();
        assert_eq!(quiet.log_retention_days, None);
        assert_eq!(quiet.throttling, None);
        assert!(!quiet.alarms && !quiet.access_logs);

        for (bad, says) in [
            (&["--stage"][..], "needs a value"),
            (&["--memory", "lots"][..], "takes a number"),
            (&["--fanout-consumers", "many"][..], "takes a number"),
            (&["--env", "NOEQUALS"][..], "KEY=VALUE"),
            (&["--throttle", "fast"][..], "RATE:BURST"),
            (&["--throttle", "-1:5"][..], "RATE:BURST"),
            (&["--log-retention", "a week"][..], "takes a number"),
            (&["--log-retention", "31"][..], "1, 3, 5, 7, 14, 30"),
            (&["--arm"][..], "unknown option `--arm`"),
        ] {
            let err = template_options(base.clone(), &args(bad)).unwrap_err();
            assert!(err.to_string().contains(says), "{bad:?}: {err}");
            // What `main` prints (`Error: {:?}`) is the message, not a quoted string.
            assert_eq!(format!("{err:?}"), err.to_string());
        }
    }
}
