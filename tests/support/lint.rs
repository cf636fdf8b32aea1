//! AWS's linters run on generated templates: `cfn-lint` (PyPI; moto's server extra usually
//! brings it) and `sam validate --lint` (aws-sam-cli, PyPI). `scripts/test` installs both; a
//! test fails, saying so, when one is missing, rather than passing unchecked.

use std::process::Command;

use serde_json::Value;

/// Writes `template` to a temporary folder as `{name}.json`; its path.
fn write(name: &str, template: &Value) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join("lift-templates");
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(format!("{name}.json"));
    std::fs::write(&path, serde_json::to_vec_pretty(template).unwrap()).unwrap();
    path
}

/// Runs `python3 args... path` for a linter that `scripts/test` installs: whether it passed,
/// and what it said. Fails, saying how to install it, when its module is missing.
fn python(args: &[&str], path: &std::path::Path, linter: &str, install: &str) -> (bool, String) {
    let output = Command::new("python3")
        .args(args)
        .arg(path)
        .env("SAM_CLI_TELEMETRY", "0")
        .output()
        .expect("python3 runs");
    let text = String::from_utf8_lossy(&output.stdout).into_owned()
        + &String::from_utf8_lossy(&output.stderr);
    assert!(
        !text.contains("No module named"),
        "{linter} is NOT installed, so the template was not checked: use `./scripts/test` (it \
         installs it), or `pip install {install}`\n{text}"
    );
    (output.status.success(), text)
}

/// Runs `cfn-lint` on `template`: whether it passed, and what it said.
pub fn cfn_lint(name: &str, template: &Value) -> (bool, String) {
    let script = "import sys; from cfnlint.runner import main; sys.exit(main())";
    python(
        &["-c", script],
        &write(name, template),
        "cfn-lint",
        "cfn-lint",
    )
}

/// Runs `sam validate --lint` on `template` (no AWS account needed): whether it passed, and what
/// it said.
pub fn sam_validate(name: &str, template: &Value) -> (bool, String) {
    let args = [
        "-m",
        "samcli",
        "validate",
        "--lint",
        "--region",
        "us-east-1",
        "-t",
    ];
    python(
        &args,
        &write(name, template),
        "the AWS SAM CLI",
        "aws-sam-cli",
    )
}
