//! WebSockets. A conversation socket first replays what the client missed (events
//! after `?after=`), then streams live events strictly in sequence order: any gap
//! (a lagging subscriber, events committed by another path) is filled from the
//! database, so a client never sees a hole or a double. Staff sockets keep
//! re-checking their right to stay open (see `grant`).

mod grant;

use super::AppState;
use super::error::ApiError;
use super::extract::{ApiQuery, Caller, conversation_id};
use super::limits::RateClass;
use crate::domain::conversation::{ConversationId, ConversationState};
use crate::domain::message::{ClientMsgId, MessageBody, RawMessageBody};
use crate::domain::staff::Permission;
use crate::services::chat::MAX_PAGE;
use crate::services::events::{ChatEvent, EventPayload};
use crate::services::hub::{LiveFrame, StaffFrame};
use crate::services::staff::StaffUser;
use axum::Extension;
use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade};
use axum::extract::{FromRequestParts, Path, Request, State};
use axum::response::Response;
use futures::SinkExt;
use futures::stream::{SplitSink, StreamExt};
use grant::{BuyerGrant, Party, Revoked, StaffGrant, next_change};
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

/// The upgrade, and for staff the grant the socket keeps re-checking.
async fn upgrade(
    state: &AppState,
    request: Request,
    staff: Option<StaffUser>,
) -> Result<(WebSocketUpgrade, Option<StaffGrant>), ApiError> {
    let grant = match staff {
        Some(user) => {
            Some(StaffGrant::for_request(state, &request, user).ok_or(ApiError::Unauthenticated)?)
        }
        None => None,
    };
    let (mut parts, _) = request.into_parts();
    let ws = WebSocketUpgrade::from_request_parts(&mut parts, state)
        .await
        .map_err(|r| ApiError::bad_request("websocket_required", r.body_text()))?;
    Ok((ws, grant))
}

/// A socket on one conversation, for its buyer or for staff who may see it.
pub async fn conversation_socket(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    ApiQuery(q): ApiQuery<WsQuery>,
    request: Request,
) -> Result<Response, ApiError> {
    let id = conversation_id(&id)?;
    state.chat.visible(caller.actor(), &id).await?;
    let (staff, buyer) = match &caller {
        Caller::Staff(user) => (Some(user.clone()), None),
        Caller::Buyer(visitor) => (
            None,
            Some(BuyerGrant::for_request(&request, &visitor.id).ok_or(ApiError::Unauthenticated)?),
        ),
    };
    let (ws, grant) = upgrade(&state, request, staff).await?;
    let party = Party {
        caller,
        grant,
        buyer,
    };
    Ok(ws.on_upgrade(move |socket| conversation_session(state, socket, party, id, q.after)))
}

pub async fn staff_feed_socket(
    State(state): State<AppState>,
    Extension(staff): Extension<StaffUser>,
    request: Request,
) -> Result<Response, ApiError> {
    let (ws, grant) = upgrade(&state, request, Some(staff)).await?;
    let grant = grant.ok_or(ApiError::Unauthenticated)?;
    Ok(ws.on_upgrade(move |socket| staff_feed(state, socket, grant)))
}

/// Why a socket loop ends.
enum Stop {
    /// The client went away (or the hub closed): nothing left to tell it.
    Socket,
    Revoked(Revoked),
}

impl From<axum::Error> for Stop {
    fn from(_: axum::Error) -> Self {
        Stop::Socket
    }
}

impl From<Revoked> for Stop {
    fn from(r: Revoked) -> Self {
        Stop::Revoked(r)
    }
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

/// Sends an event as this participant may see it (buyers never see internal notes;
/// staff only while the chat is still theirs to see: a state change, such as a
/// transfer to someone else, is checked before it goes out).
async fn send_event(
    state: &AppState,
    id: &ConversationId,
    party: &mut Party,
    event: &ChatEvent,
    sink: &mut Sink,
) -> Result<(), Stop> {
    let changes_owner = matches!(event.payload, EventPayload::StateChanged { .. });
    party.still_allowed(state, id, changes_owner).await?;
    match &party.caller {
        Caller::Staff(_) => send_json(sink, event_frame(event)).await?,
        Caller::Buyer(_) => {
            if let Some(visible) = event.for_buyer() {
                send_json(sink, event_frame(&visible)).await?;
            }
        }
    }
    Ok(())
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
    mut party: Party,
    id: ConversationId,
    after: i64,
) {
    let _gauge = Gauge::up("xiaoer_ws_connections");
    let (mut sink, mut stream) = socket.split();
    // Subscribe before reading history, so nothing committed in between is missed.
    let mut live = state.chat.hub().subscribe(id.as_str());
    let mut changes =
        (party.grant.is_some() || party.buyer.is_some()).then(|| state.staff.access_changes());
    let mut last = after.max(0);
    let mut shutdown = state.shutdown.clone();
    let mut step = catch_up(&state, &id, &mut party, &mut last, &mut sink).await;
    if step.is_ok() {
        step = send_json(&mut sink, json!({ "type": "ready", "last_seq": last }))
            .await
            .map_err(Stop::from);
    }
    let mut keepalive =
        tokio::time::interval_at(tokio::time::Instant::now() + KEEPALIVE, KEEPALIVE);
    while step.is_ok() {
        step = tokio::select! {
            // A revocation heard here wins over frames that are ready at the same time.
            biased;
            change = next_change(&mut changes) => {
                let concerned = party.grant.as_ref().is_some_and(|g| g.concerned_by(&change))
                    || party.buyer.as_mut().is_some_and(|b| b.concerned_by(&change));
                if matches!(change, Err(RecvError::Closed)) {
                    changes = None;
                }
                if concerned { party.still_allowed(&state, &id, true).await.map_err(Stop::from) } else { Ok(()) }
            }
            frame = live.recv() => forward_live(&state, &id, &mut party, frame, &mut last, &mut sink).await,
            incoming = stream.next() => match incoming {
                Some(Ok(Message::Text(text))) => handle_client_frame(&state, &id, &mut party, &text, &mut sink).await,
                Some(Ok(Message::Close(_))) | Some(Err(_)) | None => break,
                Some(Ok(_)) => Ok(()),
            },
            _ = keepalive.tick() => match party.still_allowed(&state, &id, true).await {
                Ok(()) => sink.send(Message::Ping(Default::default())).await.map_err(Stop::from),
                Err(revoked) => Err(revoked.into()),
            },
            _ = shutdown.changed() => {
                let _ = sink.send(Message::Close(Some(CloseFrame { code: CLOSE_RESTART, reason: "server restarting".into() }))).await;
                break;
            }
        };
    }
    close_revoked(step, &mut sink).await;
}

/// A staff socket whose right ended is told why (4401 or 4403) as it closes.
async fn close_revoked(step: Result<(), Stop>, sink: &mut Sink) {
    if let Err(Stop::Revoked(revoked)) = step {
        let _ = sink.send(Message::Close(Some(revoked.close_frame()))).await;
    }
}

/// Sends every committed event after `last`, in order, and advances `last`.
async fn catch_up(
    state: &AppState,
    id: &ConversationId,
    party: &mut Party,
    last: &mut i64,
    sink: &mut Sink,
) -> Result<(), Stop> {
    loop {
        let events = match state.chat.events(id, *last, MAX_PAGE).await {
            Ok(events) => events,
            Err(error) => {
                tracing::error!(%error, "replay failed");
                return Err(axum::Error::new(error).into());
            }
        };
        let n = events.len() as i64;
        for event in events {
            *last = event.seq;
            send_event(state, id, party, &event, sink).await?;
        }
        if n < MAX_PAGE {
            return Ok(());
        }
    }
}

async fn forward_live(
    state: &AppState,
    id: &ConversationId,
    party: &mut Party,
    frame: Result<LiveFrame, RecvError>,
    last: &mut i64,
    sink: &mut Sink,
) -> Result<(), Stop> {
    let frame = match frame {
        Ok(LiveFrame::Event(event)) if event.seq <= *last => return Ok(()),
        Ok(LiveFrame::Event(event)) if event.seq == *last + 1 => {
            *last = event.seq;
            return send_event(state, id, party, &event, sink).await;
        }
        Ok(LiveFrame::Committed { seq }) if seq <= *last => return Ok(()),
        // A gap, a lag or another node's commit: the database has everything, in order.
        Ok(LiveFrame::Event(_)) | Ok(LiveFrame::Committed { .. }) | Err(RecvError::Lagged(_)) => {
            return catch_up(state, id, party, last, sink).await;
        }
        Err(RecvError::Closed) => return Err(axum::Error::new("hub closed").into()),
        Ok(frame) => frame,
    };
    party.still_allowed(state, id, false).await?;
    Ok(send_live(&party.caller, frame, sink).await?)
}

/// Frames that are not stored events: typing, streamed pieces, receipts, queue.
async fn send_live(party: &Caller, frame: LiveFrame, sink: &mut Sink) -> Result<(), axum::Error> {
    match frame {
        LiveFrame::Event(_)
        | LiveFrame::Committed { .. }
        | LiveFrame::Bell { .. }
        | LiveFrame::QueueAlert(_) => Ok(()),
        LiveFrame::Queue(status) => {
            send_json(sink, json!({ "type": "queue", "queue": &*status })).await
        }
        LiveFrame::Typing { from, .. } if from == party.kind() => Ok(()),
        LiveFrame::Typing { from, .. } => {
            send_json(sink, json!({ "type": "typing", "from": from })).await
        }
        LiveFrame::Stream {
            stream_id, delta, ..
        } => {
            send_json(
                sink,
                json!({ "type": "stream", "stream_id": &*stream_id, "delta": delta }),
            )
            .await
        }
        LiveFrame::Read { reader, seq, .. } => {
            send_json(
                sink,
                json!({ "type": "read", "reader": &*reader, "seq": seq }),
            )
            .await
        }
    }
}

async fn handle_client_frame(
    state: &AppState,
    id: &ConversationId,
    party: &mut Party,
    text: &str,
    sink: &mut Sink,
) -> Result<(), Stop> {
    let frame: ClientFrame = match serde_json::from_str(text) {
        Ok(frame) => frame,
        Err(e) => {
            let error = ApiError::bad_request("malformed_frame", e);
            return Ok(send_json(sink, error_frame(None, &error)).await?);
        }
    };
    // Staff write only while still signed in and the chat is still theirs.
    let writes = !matches!(frame, ClientFrame::Typing);
    party.still_allowed(state, id, writes).await?;
    let party = &party.caller;
    if let Err(limited) = count_buyer_frame(state, party, &frame).await {
        let client_msg_id = match &frame {
            ClientFrame::Send { client_msg_id, .. } => Some(client_msg_id.as_str()),
            _ => None,
        };
        return Ok(send_json(sink, error_frame(client_msg_id, &limited)).await?);
    }
    Ok(act_on_frame(state, id, party, frame, sink).await?)
}

/// A buyer's messages on the socket count against the same per-visitor limit as
/// over REST; typing frames against their own.
async fn count_buyer_frame(
    state: &AppState,
    party: &Caller,
    frame: &ClientFrame,
) -> Result<(), ApiError> {
    let Caller::Buyer(visitor) = party else {
        return Ok(());
    };
    state.blocks.check(None, Some(&visitor.id))?;
    let class = match frame {
        ClientFrame::Send { .. } => RateClass::BuyerMessage,
        ClientFrame::Typing => RateClass::Typing,
        ClientFrame::Read { .. } => RateClass::Unlimited,
    };
    state.limits.check(class, None, Some(&visitor.id)).await
}

async fn act_on_frame(
    state: &AppState,
    id: &ConversationId,
    party: &Caller,
    frame: ClientFrame,
    sink: &mut Sink,
) -> Result<(), axum::Error> {
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
                        .sender
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
async fn staff_feed(state: AppState, socket: WebSocket, mut grant: StaffGrant) {
    let _gauge = Gauge::up("xiaoer_ws_staff_connections");
    let (mut sink, mut stream) = socket.split();
    let mut feed = state.chat.hub().subscribe_staff();
    let mut changes = Some(state.staff.access_changes());
    let mut shutdown = state.shutdown.clone();
    let mut step = send_json(&mut sink, json!({ "type": "ready" }))
        .await
        .map_err(Stop::from);
    let mut keepalive =
        tokio::time::interval_at(tokio::time::Instant::now() + KEEPALIVE, KEEPALIVE);
    while step.is_ok() {
        step = tokio::select! {
            biased;
            change = next_change(&mut changes) => {
                if matches!(change, Err(RecvError::Closed)) {
                    changes = None;
                }
                match grant.concerned_by(&change) {
                    true => grant.check(&state, true).await.map(|_| ()).map_err(Stop::from),
                    false => Ok(()),
                }
            }
            frame = feed.recv() => match frame {
                Ok(frame) => feed_frame(&state, &mut grant, &frame, &mut sink).await,
                Err(RecvError::Lagged(missed)) => send_json(&mut sink, json!({ "type": "lagged", "missed": missed })).await.map_err(Stop::from),
                Err(RecvError::Closed) => break,
            },
            incoming = stream.next() => match incoming {
                Some(Ok(Message::Close(_))) | Some(Err(_)) | None => break,
                Some(Ok(_)) => Ok(()),
            },
            _ = keepalive.tick() => match grant.check(&state, true).await {
                Ok(_) => sink.send(Message::Ping(Default::default())).await.map_err(Stop::from),
                Err(revoked) => Err(revoked.into()),
            },
            _ = shutdown.changed() => {
                let _ = sink.send(Message::Close(Some(CloseFrame { code: CLOSE_RESTART, reason: "server restarting".into() }))).await;
                break;
            }
        };
    }
    close_revoked(step, &mut sink).await;
}

/// One frame of the feed, if the staff member (checked again when stale, with
/// the role they have now) may see it.
async fn feed_frame(
    state: &AppState,
    grant: &mut StaffGrant,
    frame: &StaffFrame,
    sink: &mut Sink,
) -> Result<(), Stop> {
    if !staff_sees(grant.user(), frame) {
        return Ok(());
    }
    grant.check(state, false).await?;
    if staff_sees(grant.user(), frame) {
        send_json(sink, staff_frame_json(frame)).await?;
    }
    Ok(())
}

fn staff_sees(staff: &StaffUser, frame: &StaffFrame) -> bool {
    let owns = frame.agent_id.as_deref() == Some(staff.id.as_str());
    match frame.frame {
        LiveFrame::Bell { .. } => return owns, // one's own bell, whatever one's role
        LiveFrame::QueueAlert(_) => return staff.can(Permission::ViewAllChats),
        _ => {}
    }
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
        | LiveFrame::Bell { .. }
        | LiveFrame::QueueAlert(_)
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
        LiveFrame::Bell { unread } => json!({ "type": "bell", "unread": unread }),
        LiveFrame::QueueAlert(alert) => json!({ "type": "queue_alert", "alert": &**alert }),
    }
}
