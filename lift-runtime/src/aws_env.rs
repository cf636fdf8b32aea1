//! The AWS configuration from the environment, as the store, the fan-out queue and the
//! Management API clients load it.

/// The standard AWS configuration chain (so `AWS_ENDPOINT_URL_DYNAMODB`, `AWS_ENDPOINT_URL_SQS`
/// and `AWS_ENDPOINT_URL` point the clients at local servers). With `local` (the emulator, not
/// Lambda), fixed placeholder credentials and region `us-east-1` are used when the environment
/// has none: local DynamoDB- and SQS-compatible servers accept any.
pub(crate) async fn load(local: bool) -> aws_config::SdkConfig {
    let mut loader = aws_config::defaults(aws_config::BehaviorVersion::latest());
    if local {
        let set = |names: &[&str]| names.iter().any(|name| std::env::var_os(name).is_some());
        if !set(&["AWS_ACCESS_KEY_ID", "AWS_PROFILE"]) {
            loader = loader.credentials_provider(aws_credential_types::Credentials::new(
                "local",
                "local",
                None,
                None,
                "lift-local",
            ));
        }
        if !set(&["AWS_REGION", "AWS_DEFAULT_REGION"]) {
            loader = loader.region(aws_config::Region::new("us-east-1"));
        }
    }
    loader.load().await
}
