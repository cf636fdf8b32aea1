//! `lift-emulator`: API Gateway's WebSocket API, emulated in front of a Lambda function that
//! runs locally behind a Lambda Invoke API (`cargo lambda watch`, `sam local start-lambda`).
//! `lift-emulator --help` lists the options; the crate's README shows the loop.

#[tokio::main]
async fn main() -> Result<(), lift_runtime::Error> {
    lift_runtime::__emulator::main(std::env::args().skip(1).collect()).await
}
