//! Models run on their own threads behind bounded queues. The async handles
//! implement the ports; a full queue answers `Overloaded` at once (HTTP 429
//! upstream) instead of letting latency grow without bound. Each job carries the
//! caller's tracing span onto the model thread.

use super::EmbedEngine;
use super::generate::ChatEngine;
use crate::ports::{
    ChatMessage, ChatModel, EmbedKind, Embedder, GenerationEvent, GenerationParams,
    GenerationStream, ModelError,
};
use std::ops::ControlFlow;
use std::sync::Arc;
use std::sync::atomic::{AtomicIsize, AtomicUsize, Ordering};
use tokio::sync::{mpsc, oneshot};

struct ChatJob {
    messages: Vec<ChatMessage>,
    params: GenerationParams,
    events: mpsc::UnboundedSender<Result<GenerationEvent, ModelError>>,
    span: tracing::Span,
}

/// A buyer's request, or work nobody waits for (quality-inspection drafts).
enum Job {
    Foreground(ChatJob),
    Background(ChatJob),
}

/// Async handle on a chat engine running on its own thread.
#[derive(Clone)]
pub struct LocalChatModel {
    jobs: mpsc::Sender<Job>,
    /// Foreground requests admitted and not yet taken by the model thread: a
    /// background generation stops at its next token while this is above 0.
    waiting: Arc<AtomicIsize>,
    /// Background requests admitted and not yet finished (at most one).
    background: Arc<AtomicUsize>,
}

impl LocalChatModel {
    /// Moves the engine onto a new thread; at most `queue` requests wait.
    ///
    /// Background work runs only when no request waits, and gives way to one
    /// as soon as it arrives: its generation stops (finish `Cancelled`) and
    /// its caller tries again later. A buyer then waits at most for the rest
    /// of a background prompt's prefill, never for its answer.
    pub fn spawn(mut engine: ChatEngine, queue: usize) -> Self {
        // One more slot than `queue`: the background job never takes a buyer's place.
        let (jobs, mut rx) = mpsc::channel::<Job>(queue.max(1) + 1);
        let waiting = Arc::new(AtomicIsize::new(0));
        let background = Arc::new(AtomicUsize::new(0));
        let (thread_waiting, thread_background) = (waiting.clone(), background.clone());
        std::thread::Builder::new()
            .name("xiaoer-llm".into())
            .spawn(move || {
                let mut deferred: Option<ChatJob> = None;
                loop {
                    let job = match rx.try_recv() {
                        Ok(job) => job,
                        Err(mpsc::error::TryRecvError::Disconnected) => break,
                        Err(mpsc::error::TryRecvError::Empty) => match deferred.take() {
                            Some(job) => {
                                run(&mut engine, job, Some(&thread_waiting));
                                thread_background.fetch_sub(1, Ordering::SeqCst);
                                continue;
                            }
                            None => match rx.blocking_recv() {
                                Some(job) => job,
                                None => break,
                            },
                        },
                    };
                    match job {
                        Job::Foreground(job) => {
                            thread_waiting.fetch_sub(1, Ordering::SeqCst);
                            run(&mut engine, job, None);
                        }
                        // Looked at again once nothing else is queued.
                        Job::Background(job) => deferred = Some(job),
                    }
                }
            })
            .expect("spawn the model thread");
        Self {
            jobs,
            waiting,
            background,
        }
    }

    fn job(messages: Vec<ChatMessage>, params: GenerationParams) -> (ChatJob, GenerationStream) {
        let (events, stream) = mpsc::unbounded_channel();
        let job = ChatJob {
            messages,
            params,
            events,
            span: tracing::Span::current(),
        };
        (job, stream)
    }
}

/// Runs one request on the model thread. A background one (`yield_to` set)
/// stops at the first token decoded while a foreground request waits.
fn run(engine: &mut ChatEngine, job: ChatJob, yield_to: Option<&AtomicIsize>) {
    let _entered = job.span.enter();
    if job.events.is_closed() {
        return; // cancelled while waiting
    }
    let events = job.events.clone();
    let mut on_token = |piece: &str| {
        let wanted = yield_to.is_none_or(|w| w.load(Ordering::SeqCst) <= 0);
        if wanted
            && events
                .send(Ok(GenerationEvent::Token(piece.to_owned())))
                .is_ok()
        {
            ControlFlow::Continue(())
        } else {
            ControlFlow::Break(())
        }
    };
    let result = engine.generate(&job.messages, &job.params, &mut on_token);
    let _ = job.events.send(result.map(GenerationEvent::Done));
}

#[async_trait::async_trait]
impl ChatModel for LocalChatModel {
    async fn generate(
        &self,
        messages: Vec<ChatMessage>,
        params: GenerationParams,
    ) -> Result<GenerationStream, ModelError> {
        let (job, stream) = Self::job(messages, params);
        // Counted before it is queued: the thread may take it at once.
        self.waiting.fetch_add(1, Ordering::SeqCst);
        let admitted = admit(
            &self.jobs,
            Job::Foreground(job),
            "the model thread has stopped",
        );
        if admitted.is_err() {
            self.waiting.fetch_sub(1, Ordering::SeqCst);
        }
        admitted?;
        Ok(stream)
    }

    async fn generate_background(
        &self,
        messages: Vec<ChatMessage>,
        params: GenerationParams,
    ) -> Result<GenerationStream, ModelError> {
        if self
            .background
            .compare_exchange(0, 1, Ordering::SeqCst, Ordering::SeqCst)
            .is_err()
        {
            return Err(ModelError::Overloaded);
        }
        let (job, stream) = Self::job(messages, params);
        let admitted = admit(
            &self.jobs,
            Job::Background(job),
            "the model thread has stopped",
        );
        if admitted.is_err() {
            self.background.fetch_sub(1, Ordering::SeqCst);
        }
        admitted?;
        Ok(stream)
    }
}

/// Admission control: queue the job if there is room, else answer at once.
fn admit<J>(jobs: &mpsc::Sender<J>, job: J, stopped: &str) -> Result<(), ModelError> {
    jobs.try_send(job).map_err(|e| match e {
        mpsc::error::TrySendError::Full(_) => ModelError::Overloaded,
        mpsc::error::TrySendError::Closed(_) => ModelError::Unavailable(stopped.to_owned()),
    })
}

struct EmbedJob {
    texts: Vec<String>,
    kind: EmbedKind,
    reply: oneshot::Sender<Result<Vec<Vec<f32>>, ModelError>>,
    span: tracing::Span,
}

/// Async handle on an embedding engine running on its own thread.
#[derive(Clone)]
pub struct LocalEmbedder {
    jobs: mpsc::Sender<EmbedJob>,
    dim: usize,
}

impl LocalEmbedder {
    pub fn spawn(mut engine: Box<dyn EmbedEngine>, queue: usize) -> Self {
        let dim = engine.dim();
        let (jobs, mut rx) = mpsc::channel::<EmbedJob>(queue.max(1));
        std::thread::Builder::new()
            .name("xiaoer-embed".into())
            .spawn(move || {
                while let Some(job) = rx.blocking_recv() {
                    let _entered = job.span.enter();
                    if job.reply.is_closed() {
                        continue;
                    }
                    let _ = job.reply.send(engine.embed(&job.texts, job.kind));
                }
            })
            .expect("spawn the embedding thread");
        Self { jobs, dim }
    }
}

#[async_trait::async_trait]
impl Embedder for LocalEmbedder {
    fn dim(&self) -> usize {
        self.dim
    }

    async fn embed(
        &self,
        texts: Vec<String>,
        kind: EmbedKind,
    ) -> Result<Vec<Vec<f32>>, ModelError> {
        let (reply, response) = oneshot::channel();
        let job = EmbedJob {
            texts,
            kind,
            reply,
            span: tracing::Span::current(),
        };
        admit(&self.jobs, job, "the embedding thread has stopped")?;
        response
            .await
            .map_err(|_| ModelError::Unavailable("the embedding thread has stopped".into()))?
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ports::EmbedKind;

    /// A fake engine that says when it has taken a job and then blocks until
    /// released, to fill the queue.
    struct Gate {
        entered: tokio::sync::mpsc::UnboundedSender<()>,
        release: std::sync::mpsc::Receiver<()>,
    }

    impl EmbedEngine for Gate {
        fn dim(&self) -> usize {
            2
        }
        fn embed(&mut self, texts: &[String], _: EmbedKind) -> Result<Vec<Vec<f32>>, ModelError> {
            let _ = self.entered.send(());
            let _ = self.release.recv();
            Ok(texts.iter().map(|_| vec![1.0, 0.0]).collect())
        }
    }

    #[tokio::test]
    async fn a_full_queue_answers_overloaded_and_the_rest_complete() {
        let limit = std::time::Duration::from_secs(10);
        let (release, gate) = std::sync::mpsc::channel();
        let (entered, mut taken) = tokio::sync::mpsc::unbounded_channel();
        let engine = Gate {
            entered,
            release: gate,
        };
        let embedder = LocalEmbedder::spawn(Box::new(engine), 1);
        let first = tokio::spawn({
            let e = embedder.clone();
            async move { e.embed(vec!["a".into()], EmbedKind::Query).await }
        });
        // The thread holds job 1 ...
        tokio::time::timeout(limit, taken.recv()).await.unwrap();
        let second = tokio::spawn({
            let e = embedder.clone();
            async move { e.embed(vec!["b".into()], EmbedKind::Query).await }
        });
        // ... and job 2 waits in the queue of one.
        tokio::time::timeout(limit, async {
            while embedder.jobs.capacity() > 0 {
                tokio::time::sleep(std::time::Duration::from_millis(5)).await;
            }
        })
        .await
        .unwrap();
        let third = embedder.embed(vec!["c".into()], EmbedKind::Query).await;
        assert!(matches!(third, Err(ModelError::Overloaded)), "{third:?}");
        release.send(()).unwrap();
        release.send(()).unwrap();
        assert_eq!(first.await.unwrap().unwrap().len(), 1);
        assert_eq!(second.await.unwrap().unwrap().len(), 1);
    }
}
