//! The HTTP face of the witness (C2SP tlog-witness): `POST /add-checkpoint`
//! and a `GET /` that names the witness. HTTP/1.1, plain: everything on the
//! wire is public and signed (checkpoints by the log, cosignatures by the
//! witness), so confidentiality adds nothing to what the signatures prove;
//! put a TLS proxy in front if policy wants one.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::header::{CONTENT_TYPE, HeaderValue};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use pledge_ledger::cosigning::add_checkpoint::{ADD_CHECKPOINT_PATH, MAX_REQUEST_BYTES};
use tokio::net::TcpListener;

use crate::{Answer, WitnessService};

/// How long a connection may take to send its request.
const HEADER_TIMEOUT: Duration = Duration::from_secs(10);

/// Serves `witness` on `listener` until the task is dropped.
pub async fn serve(listener: TcpListener, witness: Arc<WitnessService>) {
    loop {
        let (socket, peer) = match listener.accept().await {
            Ok(accepted) => accepted,
            Err(error) => {
                tracing::warn!(%error, "accept failed");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let witness = witness.clone();
        tokio::spawn(async move {
            let service = service_fn(move |request| handle(witness.clone(), request));
            let connection = http1::Builder::new()
                .timer(hyper_util::rt::TokioTimer::new())
                .header_read_timeout(HEADER_TIMEOUT)
                .serve_connection(TokioIo::new(socket), service);
            if let Err(error) = connection.await {
                tracing::debug!(%peer, %error, "connection ended");
            }
        });
    }
}

async fn handle(
    witness: Arc<WitnessService>,
    request: Request<Incoming>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let answer = match (request.method(), request.uri().path()) {
        (&Method::POST, ADD_CHECKPOINT_PATH) => add_checkpoint(witness, request).await,
        (&Method::GET, "/") => Answer {
            status: 200,
            content_type: "text/plain; charset=utf-8",
            body: format!(
                "pledge-witness {}\npolicy line: witness {} {}\n",
                witness.identity().name,
                witness.identity().name,
                witness.identity().key
            ),
        },
        _ => Answer {
            status: 404,
            content_type: "text/plain; charset=utf-8",
            body: format!("no such endpoint: POST {ADD_CHECKPOINT_PATH} or GET /\n"),
        },
    };
    Ok(response(answer))
}

async fn add_checkpoint(witness: Arc<WitnessService>, request: Request<Incoming>) -> Answer {
    let bad = |body: &str| Answer {
        status: 400,
        content_type: "text/plain; charset=utf-8",
        body: format!("{body}\n"),
    };
    let body = match Limited::new(request.into_body(), MAX_REQUEST_BYTES)
        .collect()
        .await
    {
        Ok(collected) => collected.to_bytes(),
        Err(_) => return bad("the request body is unreadable or too large"),
    };
    let Ok(body) = String::from_utf8(body.to_vec()) else {
        return bad("the request body is not UTF-8");
    };
    let now_ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX));
    // Verification and an fsync: off the async workers.
    tokio::task::spawn_blocking(move || witness.add_checkpoint(&body, now_ms))
        .await
        .unwrap_or_else(|_| Answer {
            status: 500,
            content_type: "text/plain; charset=utf-8",
            body: "internal error\n".to_owned(),
        })
}

fn response(answer: Answer) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from(answer.body)));
    *response.status_mut() =
        StatusCode::from_u16(answer.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    response
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static(answer.content_type));
    response
}
