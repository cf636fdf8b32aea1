//! What follows a `$connect` handler: the connection saved (with its session and presence), or
//! the handshake refused.

use aws_lambda_events::apigw::ApiGatewayProxyResponse;

use super::{response, Service};
use crate::context::WsContext;
use crate::error::WsError;
use crate::router::HandlerResult;

impl Service {
    /// After the middleware and the `$connect` handler ran: on `Ok` the connection is saved
    /// (its session resumed or made, its rooms told of its user when the app keeps presence,
    /// the session's earlier connection closed) and the handshake answered 200 with the headers
    /// the handler set; on `Err`, refused with the error's status.
    pub(super) async fn connected(
        &self,
        ctx: &mut WsContext,
        result: HandlerResult,
    ) -> ApiGatewayProxyResponse {
        if let Err(err) = result {
            return refuse(err);
        }
        let mut connecting = ctx.take_connecting().unwrap_or_default();
        let store = &*self.inner.store;
        let settings = &self.inner.settings;
        // A session named by the client (when sessions are on) resumes its rooms now that the
        // handler has accepted the connection.
        let session = match settings.session_ttl {
            Some(_) => crate::session::id_of(ctx.query(crate::session::PARAM)),
            None => Ok(None),
        };
        let session = match session {
            Ok(session) => session,
            Err(err) => return refuse(err),
        };
        let mut previous = None;
        if let Some(id) = &session {
            match crate::session::resume(store, &mut connecting, id, ctx.connection_id()).await {
                Ok(resumed) => previous = resumed.previous,
                Err(err) => return refuse(err),
            }
        }
        let owner = connecting.owner();
        let (headers, connection) = connecting.into_record(
            ctx.connection_id(),
            ctx.connected_at(),
            settings.connection_ttl,
            session.clone(),
        );
        // With presence, its rooms are told when its user arrives: before it is stored, since
        // a broadcast that reaches a connection whose `$connect` has not returned finds it gone
        // (410) and removes it; and before the earlier connection of its session goes, so a
        // takeover is no leave.
        Box::pin(ctx.update_presence(&connection, false)).await;
        if let Err(err) = crate::connect::store(store, &connection).await {
            tracing::error!(error = %err, "could not store the connection or its rooms; refusing it");
            Box::pin(ctx.update_presence(&connection, true)).await;
            return refuse(WsError::internal("the connection could not be stored"));
        }
        if let (Some(id), Some(ttl)) = (session, settings.session_ttl) {
            let record = crate::session::record(id, &connection, owner, ttl);
            if let Err(err) = store.save_session(&record).await {
                tracing::error!(error = %err, "could not store the session; refusing the connection");
                if let Err(err) = store.delete(&connection.id).await {
                    tracing::warn!(error = %err, "could not remove the refused connection");
                }
                Box::pin(ctx.update_presence(&connection, true)).await;
                return refuse(WsError::internal("the session could not be stored"));
            }
        }
        // The session's earlier connection, if still open, is closed: this one took it over.
        if let Some(previous) = previous {
            match ctx.disconnect(&previous).await {
                Ok(()) | Err(crate::error::SendError::Gone { .. }) => {}
                Err(err) => {
                    tracing::warn!(connection_id = %previous, error = %err, "could not close the session's earlier connection")
                }
            }
        }
        let mut answer = response(200, None);
        for (name, value) in headers {
            if let Ok(value) = http::HeaderValue::from_str(&value) {
                answer.headers.insert(name, value);
            }
        }
        answer
    }
}

/// The answer refusing a `$connect`: the error's status, and its frame as the body.
fn refuse(err: WsError) -> ApiGatewayProxyResponse {
    tracing::info!(
        status = err.status(),
        code = err.code(),
        reason = err.message(),
        "connection refused"
    );
    response(err.status(), Some(err.to_frame()))
}
