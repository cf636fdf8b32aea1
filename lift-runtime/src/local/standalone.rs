//! `lift-emulator`: the emulator in front of any Lambda function. It reads the WebSocket API of
//! a SAM template and delivers each event to a Lambda Invoke API (`cargo lambda watch`, `sam
//! local start-lambda`): the deployed binary, run locally behind API Gateway's WebSocket API.

use super::invoke::Functions;
use super::template::WebSocketApi;
use super::Emulator;

const USAGE: &str = "\
lift-emulator: API Gateway's WebSocket API in front of a Lambda function running locally

USAGE:
    lift-emulator --template template.json [OPTIONS]

OPTIONS:
    --template FILE       the SAM/CloudFormation template (JSON or YAML) with an AWS::ApiGatewayV2::Api
                          of ProtocolType WEBSOCKET: its routes, route selection expression,
                          route responses, integration timeouts and $connect authorizer
    --invoke URL          the Lambda Invoke API (default http://127.0.0.1:9000, cargo lambda
                          watch's; sam local start-lambda serves http://127.0.0.1:3001)
    --function NAME       invoke every function by NAME (the binary cargo lambda watch serves);
                          --function LOGICAL_ID=NAME names one (default: its logical id, as sam
                          local start-lambda names them)
    --addr ADDR           where clients connect (default 127.0.0.1:3001, or LIFT_LOCAL_ADDR)
    --stage NAME          the stage of ws://ADDR/ (default local)
    --strict              accept Management API requests signed with the keys the emulator knows
                          only (local/local), every signature verified (LIFT_LOCAL_STRICT=1)

The function's Management API calls reach the emulator at http://ADDR/STAGE: Lift apps find
it from each event's domain; others read it from their configuration (LIFT_MANAGEMENT_ENDPOINT).
";

/// How the program reads a template's text into JSON (JSON itself, or YAML with
/// CloudFormation's short tags: `lift-emulator` brings the YAML parser).
pub type Parse = fn(&str) -> Result<serde_json::Value, String>;

/// Runs the standalone emulator with the command line's `args` (without the program's name)
/// until Ctrl-C; templates are read with `parse`.
pub async fn main(args: Vec<String>, parse: Parse) -> Result<(), crate::Error> {
    let settings = crate::Settings::from_env()?;
    crate::observe::init_logging(false, &settings.log_filter);
    let mut config = settings.local;
    let mut template = None;
    let mut invoke = "http://127.0.0.1:9000".to_owned();
    let mut names = Vec::new();
    let mut args = args.into_iter();
    while let Some(arg) = args.next() {
        let mut value = |name: &str| {
            args.next()
                .ok_or_else(|| crate::Error::from(format!("{name} needs a value\n\n{USAGE}")))
        };
        match arg.as_str() {
            "--template" => template = Some(value("--template")?),
            "--invoke" => invoke = value("--invoke")?,
            "--function" => names.push(value("--function")?),
            "--addr" => {
                let addr = value("--addr")?;
                config.addr = addr
                    .parse()
                    .map_err(|err| format!("--addr {addr}: {err} (e.g. 127.0.0.1:3001)"))?;
            }
            "--stage" => config.stage = value("--stage")?,
            "--strict" => config.any_access_key = false,
            "--help" | "-h" => {
                tracing::info!("\n{USAGE}");
                return Ok(());
            }
            other => return Err(format!("unknown option `{other}`\n\n{USAGE}").into()),
        }
    }
    let path = template.ok_or_else(|| format!("--template is required\n\n{USAGE}"))?;
    let text = std::fs::read_to_string(&path).map_err(|err| format!("{path}: {err}"))?;
    let json = parse(&text).map_err(|err| format!("{path}: {err}"))?;
    let api = WebSocketApi::from_template(&json).map_err(|err| format!("{path}: {err}"))?;
    let mut routes: Vec<String> = api.routes.keys().cloned().collect();
    routes.sort_unstable();
    let emulator = Emulator::start_functions(Functions::new(api, &invoke, &names), config).await?;
    tracing::info!(
        routes = ?routes,
        "lift-emulator: WebSocket on {}, Management API on {}, inspector on {}; events go to the \
         Invoke API at {invoke}",
        emulator.url(),
        emulator.management_endpoint(),
        emulator.inspector_url()
    );
    emulator.serve_until_ctrl_c().await
}

/// A standalone emulator started by [`start`].
#[derive(Debug)]
pub struct Running(Emulator);

impl Running {
    /// `ws://ADDR`.
    pub fn url(&self) -> String {
        self.0.url()
    }

    /// `http://ADDR/STAGE`.
    pub fn management_endpoint(&self) -> String {
        self.0.management_endpoint()
    }

    /// Closes every connection (each gets its `$disconnect`) and stops.
    pub async fn shutdown(self) {
        self.0.shutdown().await;
    }
}

/// Starts the emulator of `template`'s WebSocket API in front of the Invoke API at `invoke`
/// (`functions` as `--function` takes them), with `config` (its address, stage, limits).
pub async fn start(
    template: &serde_json::Value,
    invoke: &str,
    functions: &[String],
    config: crate::settings::LocalSettings,
) -> Result<Running, crate::Error> {
    let api = WebSocketApi::from_template(template)?;
    let emulator =
        Emulator::start_functions(Functions::new(api, invoke, functions), config).await?;
    Ok(Running(emulator))
}
