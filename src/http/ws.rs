//! WebSockets. A conversation socket first replays what the client missed (events
//! after `?after=`), then streams live events strictly in sequence order: any gap
//! (a lagging subscriber, events committed by another path) is filled from the
//! database, so a client never sees a hole or a double.

use super::AppState;
use super::error::ApiError;
use super::extract::{ApiQuery, Caller, conversation_id};
use crate::domain::conversation::{ConversationId, ConversationState};
use crate::domain::message::{ClientMsgId, MessageBody, RawMessageBody};
use crate::domain::staff::Permission;
use crate::services::chat::MAX_PAGE;
use crate::services::events::{ChatEvent, EventPayload};
use crate::services::hub::{LiveFrame, StaffFrame};
use crate::services::staff::StaffUser;
use axum::Extension;
use axum::extract::ws::rejection::WebSocketUpgradeRejection;
use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade};
use axum::extract::{Path, State};
use axum::response::Response;
use futures::SinkExt;
use futures::stream::{SplitSink, StreamExt};
use serde::Deserialize;
use serde_json::json;
use std::time::Duration;
use tokio::sync::broadcast::error::RecvError;

const KEEPALIVE: Duration = Duration::from_secs(25);
/// 1012: "service restart", so clients reconnect (and resume) rather than give up.
const CLOSE_RESTART: u16 = 1012;

type Sink = SplitSink<WebSocket, Message>;

#[derive(Debug, Deserialize)]
pub struct WsQuery {
    #[serde(default)]
    pub after: i64,
}

fn upgrade(
    ws: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> Result<WebSocketUpgrade, ApiError> {
    ws.map_err(|r| ApiError::bad_request("websocket_required", r.body_text()))
}

/// A socket on one conversation, for its buyer or for staff who may see it.
pub async fn conversation_socket(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    ApiQuery(q): ApiQuery<WsQuery>,
    ws: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> Result<Response, ApiError> {
    let ws = upgrade(ws)?;
    let id = conversation_id(&id)?;
    state.chat.visible(caller.actor(), &id).await?;
    Ok(ws.on_upgrade(move |socket| conversation_session(state, socket, caller, id, q.after)))
}

pub async fn staff_feed_socket(
    State(state): State<AppState>,
    Extension(staff): Extension<StaffUser>,
    ws: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> Result<Response, ApiError> {
    let ws = upgrade(ws)?;
    Ok(ws.on_upgrade(move |socket| staff_feed(state, socket, staff)))
}

/// Frames a client may send on a conversation socket.
#[derive(Debug, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum ClientFrame {
    Send {
        client_msg_id: String,
        body: RawMessageBody,
    },
    Typing,
    Read {
        seq: i64,
    },
}

async fn send_json(sink: &mut Sink, value: serde_json::Value) -> Result<(), axum::Error> {
    sink.send(Message::Text(value.to_string().into())).await
}

fn event_frame(event: &ChatEvent) -> serde_json::Value {
    json!({ "type": "event", "event": event })
}

/// Sends an event as this participant may see it (buyers never see internal notes).
async fn send_event(sink: &mut Sink, party: &Caller, event: &ChatEvent) -> Result<(), axum::Error> {
    match party {
        Caller::Staff(_) => send_json(sink, event_frame(event)).await,
        Caller::Buyer(_) => match event.for_buyer() {
            Some(visible) => send_json(sink, event_frame(&visible)).await,
            None => Ok(()),
        },
    }
}

struct Gauge(&'static str);

impl Gauge {
    fn up(name: &'static str) -> Self {
        metrics::gauge!(name).increment(1.0);
        Gauge(name)
    }
}

impl Drop for Gauge {
    fn drop(&mut self) {
        metrics::gauge!(self.0).decrement(1.0);
    }
}

async fn conversation_session(
    state: AppState,
    socket: WebSocket,
    party: Caller,
    id: ConversationId,
    after: i64,
) {
    let _gauge = Gauge::up("xiaoer_ws_connections");
    let (mut sink, mut stream) = socket.split();
    // Subscribe before reading history, so nothing committed in between is missed.
    let mut live = state.chat.hub().subscribe(id.as_str());
    let mut last = after.max(0);
    let mut shutdown = state.shutdown.clone();
    if catch_up(&state, &id, &party, &mut last, &mut sink)
        .await
        .is_err()
        || send_json(&mut sink, json!({ "type": "ready", "last_seq": last }))
            .await
            .is_err()
    {
        return;
    }
    let mut keepalive =
        tokio::time::interval_at(tokio::time::Instant::now() + KEEPALIVE, KEEPALIVE);
    loop {
        let step = tokio::select! {
            frame = live.recv() => forward_live(&state, &id, &party, frame, &mut last, &mut sink).await,
            incoming = stream.next() => match incoming {
                Some(Ok(Message::Text(text))) => handle_client_frame(&state, &id, &party, &text, &mut sink).await,
                Some(Ok(Message::Close(_))) | Some(Err(_)) | None => break,
                Some(Ok(_)) => Ok(()),
            },
            _ = keepalive.tick() => sink.send(Message::Ping(Default::default())).await,
            _ = shutdown.changed() => {
                let _ = sink.send(Message::Close(Some(CloseFrame { code: CLOSE_RESTART, reason: "server restarting".into() }))).await;
                break;
            }
        };
        if step.is_err() {
            break;
        }
    }
}

/// Sends every committed event after `last`, in order, and advances `last`.
async fn catch_up(
    state: &AppState,
    id: &ConversationId,
    party: &Caller,
    last: &mut i64,
    sink: &mut Sink,
) -> Result<(), axum::Error> {
    loop {
        let events = match state.chat.events(id, *last, MAX_PAGE).await {
            Ok(events) => events,
            Err(error) => {
                tracing::error!(%error, "replay failed");
                return Err(axum::Error::new(error));
            }
        };
        let n = events.len() as i64;
        for event in events {
            *last = event.seq;
            send_event(sink, party, &event).await?;
        }
        if n < MAX_PAGE {
            return Ok(());
        }
    }
}

async fn forward_live(
    state: &AppState,
    id: &ConversationId,
    party: &Caller,
    frame: Result<LiveFrame, RecvError>,
    last: &mut i64,
    sink: &mut Sink,
) -> Result<(), axum::Error> {
    match frame {
        Ok(LiveFrame::Event(event)) if event.seq <= *last => Ok(()),
        Ok(LiveFrame::Event(event)) if event.seq == *last + 1 => {
            *last = event.seq;
            send_event(sink, party, &event).await
        }
        Ok(LiveFrame::Committed { seq }) if seq <= *last => Ok(()),
        // A gap, a lag or another node's commit: the database has everything, in order.
        Ok(LiveFrame::Event(_)) | Ok(LiveFrame::Committed { .. }) | Err(RecvError::Lagged(_)) => {
            catch_up(state, id, party, last, sink).await
        }
        Ok(LiveFrame::Queue(status)) => {
            send_json(sink, json!({ "type": "queue", "queue": &*status })).await
        }
        Ok(LiveFrame::Typing { from, .. }) if from == party.kind() => Ok(()),
        Ok(LiveFrame::Typing { from, .. }) => {
            send_json(sink, json!({ "type": "typing", "from": from })).await
        }
        Ok(LiveFrame::Stream {
            stream_id, delta, ..
        }) => {
            send_json(
                sink,
                json!({ "type": "stream", "stream_id": &*stream_id, "delta": delta }),
            )
            .await
        }
        Ok(LiveFrame::Read { reader, seq, .. }) => {
            send_json(
                sink,
                json!({ "type": "read", "reader": &*reader, "seq": seq }),
            )
            .await
        }
        Err(RecvError::Closed) => Err(axum::Error::new("hub closed")),
    }
}

async fn handle_client_frame(
    state: &AppState,
    id: &ConversationId,
    party: &Caller,
    text: &str,
    sink: &mut Sink,
) -> Result<(), axum::Error> {
    let frame: ClientFrame = match serde_json::from_str(text) {
        Ok(frame) => frame,
        Err(e) => {
            return send_json(
                sink,
                error_frame(None, &ApiError::bad_request("malformed_frame", e)),
            )
            .await;
        }
    };
    match frame {
        ClientFrame::Send {
            client_msg_id,
            body,
        } => {
            let result = async {
                let client_id = ClientMsgId::parse(&client_msg_id)?;
                let body = MessageBody::parse(body)?;
                Ok::<_, ApiError>(
                    state
                        .chat
                        .send(party.actor(), id, Some(client_id), body)
                        .await?,
                )
            }
            .await;
            let reply = match result {
                Ok(ack) => {
                    json!({ "type": "ack", "client_msg_id": client_msg_id, "seq": ack.seq, "duplicate": ack.duplicate })
                }
                Err(error) => error_frame(Some(&client_msg_id), &error),
            };
            send_json(sink, reply).await
        }
        ClientFrame::Typing => {
            if let Ok(conversation) = state.chat.visible(party.actor(), id).await {
                state.chat.typing(&conversation, party.kind());
            }
            Ok(())
        }
        ClientFrame::Read { seq } => match state.chat.mark_read(party.actor(), id, seq).await {
            Ok(_) => Ok(()),
            Err(e) => send_json(sink, error_frame(None, &e.into())).await,
        },
    }
}

fn error_frame(client_msg_id: Option<&str>, error: &ApiError) -> serde_json::Value {
    let (status, code, message) = error.public_parts();
    json!({ "type": "error", "client_msg_id": client_msg_id, "status": status.as_u16(), "code": code, "message": message })
}

/// Live feed for the console: queue changes for everyone who may take chats, the
/// events of one's own chats, everything for supervisors. No replay: on connect
/// (and on `lagged`) the console reloads its lists over REST.
async fn staff_feed(state: AppState, socket: WebSocket, staff: StaffUser) {
    let _gauge = Gauge::up("xiaoer_ws_staff_connections");
    let (mut sink, mut stream) = socket.split();
    let mut feed = state.chat.hub().subscribe_staff();
    let mut shutdown = state.shutdown.clone();
    if send_json(&mut sink, json!({ "type": "ready" }))
        .await
        .is_err()
    {
        return;
    }
    let mut keepalive =
        tokio::time::interval_at(tokio::time::Instant::now() + KEEPALIVE, KEEPALIVE);
    loop {
        let step = tokio::select! {
            frame = feed.recv() => match frame {
                Ok(frame) if staff_sees(&staff, &frame) => send_json(&mut sink, staff_frame_json(&frame)).await,
                Ok(_) => Ok(()),
                Err(RecvError::Lagged(missed)) => send_json(&mut sink, json!({ "type": "lagged", "missed": missed })).await,
                Err(RecvError::Closed) => break,
            },
            incoming = stream.next() => match incoming {
                Some(Ok(Message::Close(_))) | Some(Err(_)) | None => break,
                Some(Ok(_)) => Ok(()),
            },
            _ = keepalive.tick() => sink.send(Message::Ping(Default::default())).await,
            _ = shutdown.changed() => {
                let _ = sink.send(Message::Close(Some(CloseFrame { code: CLOSE_RESTART, reason: "server restarting".into() }))).await;
                break;
            }
        };
        if step.is_err() {
            break;
        }
    }
}

fn staff_sees(staff: &StaffUser, frame: &StaffFrame) -> bool {
    let owns = frame.agent_id.as_deref() == Some(staff.id.as_str());
    let queue_change = match &frame.frame {
        LiveFrame::Event(e) => matches!(
            e.payload,
            EventPayload::StateChanged {
                from: ConversationState::Waiting,
                ..
            } | EventPayload::StateChanged {
                to: ConversationState::Waiting,
                ..
            }
        ),
        LiveFrame::Typing { .. }
        | LiveFrame::Read { .. }
        | LiveFrame::Queue(_)
        | LiveFrame::Committed { .. }
        | LiveFrame::Stream { .. } => false,
    };
    staff.can(Permission::ViewAllChats)
        || owns
        || (queue_change && staff.can(Permission::ViewQueue))
}

fn staff_frame_json(frame: &StaffFrame) -> serde_json::Value {
    match &frame.frame {
        LiveFrame::Event(event) => event_frame(event),
        LiveFrame::Typing {
            conversation_id,
            from,
        } => {
            json!({ "type": "typing", "conversation_id": &**conversation_id, "from": from })
        }
        LiveFrame::Stream {
            conversation_id,
            stream_id,
            delta,
        } => {
            json!({ "type": "stream", "conversation_id": &**conversation_id, "stream_id": &**stream_id, "delta": delta })
        }
        LiveFrame::Read {
            conversation_id,
            reader,
            seq,
        } => {
            json!({ "type": "read", "conversation_id": &**conversation_id, "reader": &**reader, "seq": seq })
        }
        LiveFrame::Queue(status) => json!({ "type": "queue", "queue": &**status }),
        // Only ever sent to conversation sockets; the staff feed never sees it.
        LiveFrame::Committed { seq } => json!({ "type": "committed", "seq": seq }),
    }
}
