//! The one table of error kinds: each kind has its HTTP status, OpenAI `type`
//! and `code`; every refusal and failure is rendered as
//! `{"error": {"message", "type", "param", "code"}}`.

use http::StatusCode;
use serde::Serialize;

/// Every kind of error moat answers with. One row per kind in [`ErrorKind::spec`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// Malformed JSON or a missing field.
    InvalidRequest,
    /// A parameter has a value moat does not accept.
    InvalidParameter,
    /// The prompt plus the requested completion does not fit the context.
    ContextLengthExceeded,
    /// The request holds personal data and the policy is `block`.
    PiiBlocked,
    /// No credentials, or credentials that are not valid (any reason).
    InvalidApiKey,
    /// The caller may not use this model.
    ModelNotAllowed,
    /// The caller may not use this route (e.g. the admin API).
    PermissionDenied,
    /// A write made with a web UI session cookie without the session's
    /// CSRF token.
    CsrfTokenInvalid,
    /// A web UI session that ended (timed out, signed out, its key revoked).
    SessionEnded,
    /// An administrator's or auditor's web UI sign-in needs a one-time code.
    SecondFactorRequired,
    /// The one-time code was wrong, stale or used before.
    SecondFactorInvalid,
    /// The sign-in needs a second factor and the key has none.
    SecondFactorNotEnrolled,
    /// The client address is not in the allow-list.
    AddressNotAllowed,
    /// The caller may not use this server-side tool, or it is not registered.
    ToolNotAllowed,
    /// No pending tool call by that confirmation id for this caller (never
    /// issued, already decided, expired, or another caller's).
    ConfirmationNotFound,
    /// A server-side tool loop could not finish: the model kept sending
    /// invalid arguments, or the step limit was reached.
    ToolLoopFailed,
    /// Too many requests for the caller's limit.
    RateLimited,
    /// The caller's token quota cannot cover the request.
    QuotaExceeded,
    /// Too many failed authentications from this client address.
    TooManyAuthFailures,
    /// No model by that name is served.
    ModelNotFound,
    /// No route by that path.
    NotFound,
    /// The HTTP method is not allowed on this route.
    MethodNotAllowed,
    /// The request body is over the configured limit.
    PayloadTooLarge,
    /// The body is not JSON (wrong content type).
    UnsupportedMediaType,
    /// All slots are busy and the wait queue is full.
    Overloaded,
    /// The server is starting or shutting down.
    Unavailable,
    /// An upstream backend failed or sent something unusable.
    UpstreamError,
    /// An upstream backend did not answer in time.
    UpstreamTimeout,
    /// Anything else; its details are logged, never sent.
    Internal,
    /// The request body did not arrive within the body timeout.
    RequestTimeout,
    /// Too many request headers, or too many bytes of them.
    HeadersTooLarge,
}

/// Status, OpenAI error `type` and `code` of one [`ErrorKind`].
pub struct ErrorSpec {
    pub status: StatusCode,
    pub error_type: &'static str,
    pub code: Option<&'static str>,
}

impl ErrorKind {
    /// The one place that maps a kind to status, type and code.
    pub const fn spec(self) -> ErrorSpec {
        use ErrorKind::*;
        let (status, error_type, code) = match self {
            InvalidRequest => (StatusCode::BAD_REQUEST, "invalid_request_error", None),
            InvalidParameter => (
                StatusCode::BAD_REQUEST,
                "invalid_request_error",
                Some("invalid_value"),
            ),
            ContextLengthExceeded => (
                StatusCode::BAD_REQUEST,
                "invalid_request_error",
                Some("context_length_exceeded"),
            ),
            PiiBlocked => (
                StatusCode::BAD_REQUEST,
                "invalid_request_error",
                Some("pii_blocked"),
            ),
            InvalidApiKey => (
                StatusCode::UNAUTHORIZED,
                "invalid_request_error",
                Some("invalid_api_key"),
            ),
            ModelNotAllowed => (
                StatusCode::FORBIDDEN,
                "permission_error",
                Some("model_not_allowed"),
            ),
            PermissionDenied => (
                StatusCode::FORBIDDEN,
                "permission_error",
                Some("permission_denied"),
            ),
            CsrfTokenInvalid => (
                StatusCode::FORBIDDEN,
                "permission_error",
                Some("csrf_token_invalid"),
            ),
            SessionEnded => (
                StatusCode::UNAUTHORIZED,
                "invalid_request_error",
                Some("session_ended"),
            ),
            SecondFactorRequired => (
                StatusCode::UNAUTHORIZED,
                "invalid_request_error",
                Some("second_factor_required"),
            ),
            SecondFactorInvalid => (
                StatusCode::UNAUTHORIZED,
                "invalid_request_error",
                Some("second_factor_invalid"),
            ),
            SecondFactorNotEnrolled => (
                StatusCode::FORBIDDEN,
                "permission_error",
                Some("second_factor_not_enrolled"),
            ),
            AddressNotAllowed => (
                StatusCode::FORBIDDEN,
                "permission_error",
                Some("address_not_allowed"),
            ),
            ToolNotAllowed => (
                StatusCode::FORBIDDEN,
                "permission_error",
                Some("tool_not_allowed"),
            ),
            ConfirmationNotFound => (
                StatusCode::NOT_FOUND,
                "invalid_request_error",
                Some("confirmation_not_found"),
            ),
            ToolLoopFailed => (
                StatusCode::BAD_GATEWAY,
                "server_error",
                Some("tool_loop_failed"),
            ),
            RateLimited => (
                StatusCode::TOO_MANY_REQUESTS,
                "requests",
                Some("rate_limit_exceeded"),
            ),
            QuotaExceeded => (
                StatusCode::TOO_MANY_REQUESTS,
                "insufficient_quota",
                Some("insufficient_quota"),
            ),
            TooManyAuthFailures => (
                StatusCode::TOO_MANY_REQUESTS,
                "requests",
                Some("too_many_auth_failures"),
            ),
            ModelNotFound => (
                StatusCode::NOT_FOUND,
                "invalid_request_error",
                Some("model_not_found"),
            ),
            NotFound => (
                StatusCode::NOT_FOUND,
                "invalid_request_error",
                Some("not_found"),
            ),
            MethodNotAllowed => (
                StatusCode::METHOD_NOT_ALLOWED,
                "invalid_request_error",
                Some("method_not_allowed"),
            ),
            PayloadTooLarge => (
                StatusCode::PAYLOAD_TOO_LARGE,
                "invalid_request_error",
                Some("request_too_large"),
            ),
            UnsupportedMediaType => (
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "invalid_request_error",
                Some("unsupported_media_type"),
            ),
            Overloaded => (
                StatusCode::SERVICE_UNAVAILABLE,
                "server_error",
                Some("overloaded"),
            ),
            Unavailable => (
                StatusCode::SERVICE_UNAVAILABLE,
                "server_error",
                Some("unavailable"),
            ),
            UpstreamError => (
                StatusCode::BAD_GATEWAY,
                "server_error",
                Some("upstream_error"),
            ),
            UpstreamTimeout => (
                StatusCode::GATEWAY_TIMEOUT,
                "server_error",
                Some("upstream_timeout"),
            ),
            Internal => (
                StatusCode::INTERNAL_SERVER_ERROR,
                "server_error",
                Some("internal_error"),
            ),
            RequestTimeout => (
                StatusCode::REQUEST_TIMEOUT,
                "invalid_request_error",
                Some("request_timeout"),
            ),
            HeadersTooLarge => (
                StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
                "invalid_request_error",
                Some("request_header_fields_too_large"),
            ),
        };
        ErrorSpec {
            status,
            error_type,
            code,
        }
    }
}

/// The fixed text of every internal failure.
pub const INTERNAL_MESSAGE: &str = "Internal server error.";
/// The text of every overload (503 `overloaded`).
pub const OVERLOADED_MESSAGE: &str =
    "The server is overloaded: all slots are busy and the wait queue is full. Retry later.";
/// The fixed text of every 503 that is not an overload.
pub const UNAVAILABLE_MESSAGE: &str = "Service temporarily unavailable.";

/// A domain error that knows its row in the error table. Domain crates
/// implement this for their own error types and never build an
/// [`ApiError`]; the one `From` below turns any of them into one. An
/// internal error is sent with the fixed text, never its own (which may
/// name internals): log it where it happens.
pub trait ErrorCode: std::fmt::Display {
    /// The kind of error, hence status, `type` and `code`.
    fn error_kind(&self) -> ErrorKind;
    /// The request parameter at fault, if one is.
    fn param(&self) -> Option<String> {
        None
    }
    /// The text the client reads; by default the error's own. An
    /// [`ErrorKind::Internal`] error is always sent as
    /// [`INTERNAL_MESSAGE`], whatever this says.
    fn client_message(&self) -> String {
        self.to_string()
    }
}

impl<E: ErrorCode> From<E> for ApiError {
    fn from(error: E) -> Self {
        let kind = error.error_kind();
        let message = match kind {
            ErrorKind::Internal => INTERNAL_MESSAGE.to_owned(),
            _ => error.client_message(),
        };
        Self {
            kind,
            message,
            param: error.param(),
        }
    }
}

/// An error as the client sees it. 5xx messages are fixed texts: the cause
/// is logged where the error is created, never sent.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct ApiError {
    pub kind: ErrorKind,
    pub message: String,
    pub param: Option<String>,
}

impl ApiError {
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Self {
            kind,
            message: message.into(),
            param: None,
        }
    }

    /// Attach the name of the offending request parameter.
    #[must_use]
    pub fn with_param(mut self, param: impl Into<String>) -> Self {
        self.param = Some(param.into());
        self
    }

    /// A bad value for `param`.
    pub fn invalid_param(param: &str, message: impl Into<String>) -> Self {
        Self::new(ErrorKind::InvalidParameter, message).with_param(param)
    }

    pub fn model_not_found(model: &str) -> Self {
        Self::new(
            ErrorKind::ModelNotFound,
            format!("The model `{model}` does not exist or you do not have access to it."),
        )
        .with_param("model")
    }

    pub fn overloaded() -> Self {
        Self::new(ErrorKind::Overloaded, OVERLOADED_MESSAGE)
    }

    /// A server-side failure; the text sent is fixed, never the cause.
    pub fn internal() -> Self {
        Self::new(ErrorKind::Internal, INTERNAL_MESSAGE)
    }

    /// A dependency (store, audit log, key store) cannot answer now; the
    /// text sent is fixed, never the cause.
    pub fn unavailable() -> Self {
        Self::new(ErrorKind::Unavailable, UNAVAILABLE_MESSAGE)
    }

    pub fn status(&self) -> StatusCode {
        self.kind.spec().status
    }

    /// The OpenAI error object, `{"error": {...}}`.
    pub fn body(&self) -> ErrorBody<'_> {
        let spec = self.kind.spec();
        ErrorBody {
            error: ErrorObject {
                message: &self.message,
                error_type: spec.error_type,
                param: self.param.as_deref(),
                code: spec.code,
            },
        }
    }

    /// The error object serialized; never fails.
    pub fn to_json(&self) -> String {
        serde_json::to_string(&self.body()).unwrap_or_else(|_| {
            r#"{"error":{"message":"Internal server error.","type":"server_error","param":null,"code":"internal_error"}}"#.to_owned()
        })
    }

    /// Map a JSON body that failed to deserialize into a 400 naming the
    /// parameter at fault.
    pub fn from_json_error(err: &serde_path_to_error::Error<serde_json::Error>) -> Self {
        let inner = err.inner();
        let path = err.path().to_string();
        // A number too large for any float (`1e309`) is a syntax error to
        // serde_json, but the field it is in is known.
        if inner.is_syntax() && inner.to_string().starts_with("number out of range") && path != "."
        {
            return Self::invalid_param(
                &path,
                format!("Invalid value for '{path}': the number is out of range."),
            );
        }
        if inner.is_syntax() || inner.is_eof() {
            return Self::new(
                ErrorKind::InvalidRequest,
                format!("We could not parse the JSON body of your request: {inner}"),
            );
        }
        // The top-level path is "." when a whole-object field is missing.
        let param = (path != ".").then_some(path);
        let message = match &param {
            Some(p) => format!("Invalid value for '{p}': {inner}"),
            None => format!("Invalid request: {inner}"),
        };
        let mut error = Self::new(ErrorKind::InvalidRequest, message);
        if let Some(p) = param {
            error = error.with_param(p);
        } else if let Some(missing) = missing_field(&inner.to_string()) {
            error = error.with_param(missing);
        }
        error
    }
}

/// serde reports a missing field as "missing field `name` at line..".
fn missing_field(message: &str) -> Option<String> {
    let rest = message.strip_prefix("missing field `")?;
    let end = rest.find('`')?;
    Some(rest[..end].to_owned())
}

#[derive(Serialize)]
pub struct ErrorBody<'a> {
    pub error: ErrorObject<'a>,
}

#[derive(Serialize)]
pub struct ErrorObject<'a> {
    pub message: &'a str,
    #[serde(rename = "type")]
    pub error_type: &'static str,
    pub param: Option<&'a str>,
    pub code: Option<&'static str>,
}

/// Deserialize a JSON body, mapping failures into [`ApiError`].
pub fn parse_json<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    let de = &mut serde_json::Deserializer::from_slice(body);
    serde_path_to_error::deserialize(de).map_err(|e| ApiError::from_json_error(&e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, serde::Deserialize)]
    #[allow(dead_code)]
    struct Req {
        model: String,
        temperature: Option<f32>,
    }

    #[test]
    fn error_json_has_openai_shape() {
        let e = ApiError::model_not_found("nope");
        insta::assert_snapshot!(e.to_json(), @r#"{"error":{"message":"The model `nope` does not exist or you do not have access to it.","type":"invalid_request_error","param":"model","code":"model_not_found"}}"#);
        assert_eq!(e.status(), StatusCode::NOT_FOUND);
    }

    #[test]
    fn malformed_json_is_invalid_request_without_param() {
        let e = parse_json::<Req>(b"{not json").unwrap_err();
        assert_eq!(e.kind, ErrorKind::InvalidRequest);
        assert_eq!(e.param, None);
        assert_eq!(e.status(), StatusCode::BAD_REQUEST);
    }

    #[test]
    fn wrong_type_names_the_parameter() {
        let e = parse_json::<Req>(br#"{"model":"m","temperature":"hot"}"#).unwrap_err();
        assert_eq!(e.param.as_deref(), Some("temperature"));
    }

    #[test]
    fn numbers_out_of_range_name_the_parameter() {
        for (body, param) in [
            (&br#"{"model":"m","temperature":1e309}"#[..], "temperature"),
            (br#"{"model":"m","temperature":-1e999}"#, "temperature"),
        ] {
            let e = parse_json::<Req>(body).unwrap_err();
            assert_eq!(e.param.as_deref(), Some(param));
            assert_eq!(e.kind, ErrorKind::InvalidParameter);
        }
        let e = parse_json::<Req>(br#"{"model":"m","temperature":1e309}"#).unwrap_err();
        insta::assert_snapshot!(e.to_json(), @r#"{"error":{"message":"Invalid value for 'temperature': the number is out of range.","type":"invalid_request_error","param":"temperature","code":"invalid_value"}}"#);
        // A float the field cannot hold is refused here by name, or
        // (depending on serde_json's features in the build) becomes
        // infinity, which the range checks refuse by name.
        match parse_json::<Req>(br#"{"model":"m","temperature":1e308}"#) {
            Ok(r) => assert_eq!(r.temperature, Some(f32::INFINITY)),
            Err(e) => assert_eq!(e.param.as_deref(), Some("temperature")),
        }
    }

    #[test]
    fn missing_field_names_the_parameter() {
        let e = parse_json::<Req>(br#"{"temperature":1}"#).unwrap_err();
        assert_eq!(e.param.as_deref(), Some("model"));
    }

    #[test]
    fn pii_blocked_is_a_400_invalid_request() {
        let e = ApiError::new(ErrorKind::PiiBlocked, "The request contains personal data.");
        assert_eq!(e.status(), StatusCode::BAD_REQUEST);
        insta::assert_snapshot!(e.to_json(), @r#"{"error":{"message":"The request contains personal data.","type":"invalid_request_error","param":null,"code":"pii_blocked"}}"#);
    }

    #[test]
    fn internal_errors_never_leak_details() {
        let e = ApiError::internal();
        assert_eq!(e.message, "Internal server error.");
        assert_eq!(e.status(), StatusCode::INTERNAL_SERVER_ERROR);
    }
}
