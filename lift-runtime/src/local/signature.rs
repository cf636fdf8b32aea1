//! The emulator's Management API checks each request's SigV4 signature, as API Gateway does:
//! the request is signed again with `aws-sigv4` (the signer the AWS SDKs use), with the secret
//! of the access key it names, its time and its signed headers, and the signatures must match.
//! So a signing bug in any client, the runtime's own included, cannot pass the tests.

use std::time::{Duration, SystemTime};

use aws_credential_types::Credentials;
use aws_sigv4::http_request::{sign, SignableBody, SignableRequest, SigningSettings};
use aws_sigv4::sign::v4;
use aws_smithy_runtime_api::client::identity::Identity;
use axum::http::{HeaderMap, Method, StatusCode, Uri};

/// Why a request was refused: the status, `x-amzn-errortype` and message API Gateway answers.
#[derive(Debug)]
pub(super) struct Refused {
    pub status: StatusCode,
    pub kind: &'static str,
    pub message: String,
}

fn refused(kind: &'static str, message: impl Into<String>) -> Refused {
    let status = if kind == "IncompleteSignatureException" {
        StatusCode::BAD_REQUEST
    } else {
        StatusCode::FORBIDDEN
    };
    Refused {
        status,
        kind,
        message: message.into(),
    }
}

/// The parts of an `Authorization: AWS4-HMAC-SHA256 ...` header.
struct Authorization<'a> {
    access_key: &'a str,
    date: &'a str,
    region: &'a str,
    service: &'a str,
    signed_headers: Vec<&'a str>,
    signature: &'a str,
}

fn parse(header: &str) -> Option<Authorization<'_>> {
    let rest = header.strip_prefix("AWS4-HMAC-SHA256")?.trim_start();
    let (mut credential, mut signed, mut signature) = (None, None, None);
    for part in rest.split(',') {
        let (name, value) = part.trim().split_once('=')?;
        match name {
            "Credential" => credential = Some(value),
            "SignedHeaders" => signed = Some(value),
            "Signature" => signature = Some(value),
            _ => {}
        }
    }
    let mut scope = credential?.split('/');
    let access_key = scope.next()?;
    let date = scope.next()?;
    let region = scope.next()?;
    let service = scope.next()?;
    if scope.next()? != "aws4_request" || scope.next().is_some() {
        return None;
    }
    Some(Authorization {
        access_key,
        date,
        region,
        service,
        signed_headers: signed?.split(';').collect(),
        signature: signature?,
    })
}

/// How far a request's `X-Amz-Date` may be from now (API Gateway: 15 minutes).
const CLOCK_SKEW: Duration = Duration::from_secs(15 * 60);

/// The form every signature must have, whoever signed it: the service `execute-api` in its
/// credential scope, the scope's date the request's, and the request's time within 15 minutes
/// of `now`. Answers the request's time.
fn check_form(
    auth: &Authorization<'_>,
    amz_date: Option<&str>,
    now: SystemTime,
) -> Result<SystemTime, Refused> {
    if auth.service != "execute-api" {
        return Err(refused(
            "InvalidSignatureException",
            format!(
                "Credential should be scoped to correct service: 'execute-api', not '{}'.",
                auth.service
            ),
        ));
    }
    let amz_date = amz_date.unwrap_or_default();
    let time = chrono::NaiveDateTime::parse_from_str(amz_date, "%Y%m%dT%H%M%SZ")
        .map(|date| SystemTime::from(date.and_utc()))
        .map_err(|_| {
            refused(
                "IncompleteSignatureException",
                "no valid X-Amz-Date header (YYYYMMDD'T'HHMMSS'Z')",
            )
        })?;
    if !amz_date.starts_with(auth.date) || auth.date.len() != 8 {
        return Err(refused(
            "InvalidSignatureException",
            format!(
                "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date \
                 from HTTP: '{}' != '{}', from '{amz_date}'.",
                auth.date,
                &amz_date[..8.min(amz_date.len())]
            ),
        ));
    }
    let skew = match now.duration_since(time) {
        Ok(behind) => (behind > CLOCK_SKEW).then_some("expired: it is over 15 minutes old"),
        Err(ahead) => (ahead.duration() > CLOCK_SKEW)
            .then_some("not yet current: it is over 15 minutes in the future"),
    };
    if let Some(skew) = skew {
        return Err(refused(
            "InvalidSignatureException",
            format!("Signature {skew} (X-Amz-Date {amz_date}; check the clock)"),
        ));
    }
    Ok(time)
}

/// Checks the signature of a request to the emulator's Management API; `credentials` are the
/// access keys it knows, with their secrets. A signature of the right form ([`check_form`])
/// with an access key it does not know passes when `any_key` (it cannot be checked without the
/// secret).
pub(super) fn verify(
    credentials: &[(String, String)],
    any_key: bool,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<(), Refused> {
    let header = |name: &str| headers.get(name).and_then(|value| value.to_str().ok());
    let Some(authorization) = header("authorization") else {
        return Err(refused(
            "MissingAuthenticationTokenException",
            "Missing Authentication Token: sign Management API requests with SigV4",
        ));
    };
    let auth = parse(authorization).ok_or_else(|| {
        refused(
            "IncompleteSignatureException",
            format!("the Authorization header is not a SigV4 signature: {authorization}"),
        )
    })?;
    let time = check_form(&auth, header("x-amz-date"), SystemTime::now())?;
    let Some((_, secret)) = credentials.iter().find(|(key, _)| key == auth.access_key) else {
        if any_key {
            tracing::debug!(
                access_key = auth.access_key,
                "a Management API request signed with an access key the emulator does not know: accepted"
            );
            return Ok(());
        }
        return Err(refused(
            "UnrecognizedClientException",
            format!(
                "the security token included in the request is invalid (access key `{}` is not one \
                 the emulator knows: add it to Settings::local.credentials)",
                auth.access_key
            ),
        ));
    };
    let token = header("x-amz-security-token").map(str::to_owned);
    let identity: Identity =
        Credentials::new(auth.access_key, secret.as_str(), token, None, "emulator").into();

    // The signer adds X-Amz-Date and the session token itself, from the time and the identity.
    let mut signed = Vec::new();
    for name in &auth.signed_headers {
        if matches!(*name, "x-amz-date" | "x-amz-security-token") {
            continue;
        }
        let value = header(name).ok_or_else(|| {
            refused(
                "IncompleteSignatureException",
                format!("the signed header `{name}` is missing"),
            )
        })?;
        signed.push((*name, value));
    }
    let params = v4::SigningParams::builder()
        .identity(&identity)
        .region(auth.region)
        .name(auth.service)
        .time(time)
        .settings(SigningSettings::default())
        .build()
        .map_err(|err| refused("IncompleteSignatureException", err.to_string()))?
        .into();
    let host = header("host").unwrap_or("localhost");
    let url = format!(
        "http://{host}{}",
        uri.path_and_query().map_or("/", |p| p.as_str())
    );
    let signable = SignableRequest::new(
        method.as_str(),
        &url,
        signed.into_iter(),
        SignableBody::Bytes(body),
    )
    .map_err(|err| refused("IncompleteSignatureException", err.to_string()))?;
    let expected = sign(signable, &params)
        .map_err(|err| refused("IncompleteSignatureException", err.to_string()))?;
    if expected.signature() != auth.signature {
        return Err(refused(
            "InvalidSignatureException",
            "The request signature we calculated does not match the signature you provided. \
             Check your AWS Secret Access Key and signing method.",
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn signed_request(secret: &str, body: &[u8]) -> (HeaderMap, Uri) {
        signed_with(secret, "execute-api", SystemTime::now(), body)
    }

    fn signed_with(secret: &str, service: &str, time: SystemTime, body: &[u8]) -> (HeaderMap, Uri) {
        let identity: Identity = Credentials::new("local", secret, None, None, "t").into();
        let params = v4::SigningParams::builder()
            .identity(&identity)
            .region("us-east-1")
            .name(service)
            .time(time)
            .settings(SigningSettings::default())
            .build()
            .unwrap()
            .into();
        let url = "http://127.0.0.1:3001/local/@connections/abc%3D";
        let signable = SignableRequest::new(
            "POST",
            url,
            [("host", "127.0.0.1:3001")].into_iter(),
            SignableBody::Bytes(body),
        )
        .unwrap();
        let (instructions, _) = sign(signable, &params).unwrap().into_parts();
        let mut request = http::Request::post(url)
            .header("host", "127.0.0.1:3001")
            .body(())
            .unwrap();
        instructions.apply_to_request_http1x(&mut request);
        (request.headers().clone(), request.uri().clone())
    }

    #[test]
    fn good_signatures_pass_and_bad_ones_are_refused() {
        let known = [("local".to_owned(), "local".to_owned())];
        let (headers, uri) = signed_request("local", b"hi");
        verify(&known, false, &Method::POST, &uri, &headers, b"hi").unwrap();

        // Another body, another secret, another method: the signature does not match.
        let err = verify(&known, false, &Method::POST, &uri, &headers, b"ho").unwrap_err();
        assert_eq!(err.kind, "InvalidSignatureException");
        let (headers_other, _) = signed_request("other-secret", b"hi");
        let err = verify(&known, false, &Method::POST, &uri, &headers_other, b"hi").unwrap_err();
        assert_eq!(
            (err.status, err.kind),
            (StatusCode::FORBIDDEN, "InvalidSignatureException")
        );
        let err = verify(&known, false, &Method::DELETE, &uri, &headers, b"hi").unwrap_err();
        assert_eq!(err.kind, "InvalidSignatureException");
        // Accepting any access key does not stop the check of one it knows.
        let err = verify(&known, true, &Method::POST, &uri, &headers_other, b"hi").unwrap_err();
        assert_eq!(err.kind, "InvalidSignatureException");

        let unknown = [("someone".to_owned(), "local".to_owned())];
        let err = verify(&unknown, false, &Method::POST, &uri, &headers, b"hi").unwrap_err();
        assert_eq!(err.kind, "UnrecognizedClientException");
        // Unless any access key is accepted (as moto's and LocalStack's are): still a SigV4
        // signature, not checked.
        verify(&unknown, true, &Method::POST, &uri, &headers, b"hi").unwrap();
        let err = verify(
            &unknown,
            true,
            &Method::POST,
            &uri,
            &HeaderMap::new(),
            b"hi",
        )
        .unwrap_err();
        assert_eq!(err.kind, "MissingAuthenticationTokenException");
        let err = verify(&known, false, &Method::POST, &uri, &HeaderMap::new(), b"hi").unwrap_err();
        assert_eq!(err.kind, "MissingAuthenticationTokenException");
    }

    #[test]
    fn any_signature_must_have_the_form_of_an_execute_api_one_of_now() {
        let anyone = [("someone".to_owned(), "local".to_owned())];
        let post = |headers: &HeaderMap, uri: &Uri, any| {
            verify(&anyone, any, &Method::POST, uri, headers, b"hi")
        };
        // Known key or not, strict or not: another service's scope is refused...
        let (headers, uri) = signed_with("local", "s3", SystemTime::now(), b"hi");
        for any in [true, false] {
            let err = post(&headers, &uri, any).unwrap_err();
            assert_eq!(err.kind, "InvalidSignatureException", "{}", err.message);
            assert!(
                err.message.contains("'execute-api', not 's3'"),
                "{}",
                err.message
            );
        }
        // ... and so is a signature over 15 minutes old or ahead.
        let minutes = |n: u64| Duration::from_secs(n * 60);
        for time in [
            SystemTime::now() - minutes(16),
            SystemTime::now() + minutes(16),
        ] {
            let (headers, uri) = signed_with("local", "execute-api", time, b"hi");
            let err = post(&headers, &uri, true).unwrap_err();
            assert_eq!(
                (err.status, err.kind),
                (StatusCode::FORBIDDEN, "InvalidSignatureException")
            );
            assert!(err.message.contains("15 minutes"), "{}", err.message);
            let known = [("local".to_owned(), "local".to_owned())];
            let err = verify(&known, false, &Method::POST, &uri, &headers, b"hi").unwrap_err();
            assert!(err.message.contains("15 minutes"), "{}", err.message);
        }
        // 14 minutes is within the skew API Gateway allows.
        let (headers, uri) = signed_with(
            "local",
            "execute-api",
            SystemTime::now() - minutes(14),
            b"hi",
        );
        post(&headers, &uri, true).unwrap();

        // A scope of another day than the request's, or without its terminator.
        let auth = parse(
            "AWS4-HMAC-SHA256 Credential=k/20260101/us-east-1/execute-api/aws4_request, \
             SignedHeaders=host;x-amz-date, Signature=00",
        )
        .unwrap();
        let now = SystemTime::now();
        let today = chrono::DateTime::<chrono::Utc>::from(now)
            .format("%Y%m%dT%H%M%SZ")
            .to_string();
        let err = check_form(&auth, Some(&today), now).unwrap_err();
        assert!(err.message.contains("'20260101' != "), "{}", err.message);
        assert!(parse(
            "AWS4-HMAC-SHA256 Credential=k/20260101/us-east-1/execute-api, \
             SignedHeaders=host, Signature=00"
        )
        .is_none());
        let err = check_form(&auth, None, now).unwrap_err();
        assert_eq!(err.kind, "IncompleteSignatureException");
    }
}
