//! A chat model that replies from a script: for fast tests of the bot's
//! pipeline logic (what it does with an answer, a refusal, an invented fact, a
//! slow or busy model) without loading weights. Real behaviour stays with the
//! real-model tests.

use crate::ports::{
    ChatMessage, ChatModel, FinishReason, GenerationEvent, GenerationParams, GenerationStats,
    GenerationStream, ModelError,
};
use std::collections::VecDeque;
use std::sync::Mutex;
use std::time::Duration;

/// One scripted reply.
#[derive(Debug, Clone)]
pub enum Scripted {
    /// These pieces, streamed in order, the first after `delay`.
    Text {
        pieces: Vec<String>,
        delay: Duration,
    },
    /// The queue is full.
    Overloaded,
}

impl Scripted {
    /// `text` streamed a few characters at a time, at once.
    pub fn text(text: &str) -> Scripted {
        Scripted::slow(text, Duration::ZERO)
    }

    /// `text`, its first piece after `delay`.
    pub fn slow(text: &str, delay: Duration) -> Scripted {
        let chars: Vec<char> = text.chars().collect();
        Scripted::Text {
            pieces: chars.chunks(4).map(|c| c.iter().collect()).collect(),
            delay,
        }
    }
}

/// Replies with its scripts in order; with none left, with `fallback`. A
/// prompt that contains a rule's words gets that rule's reply instead.
pub struct ScriptedChatModel {
    rules: Vec<(String, Scripted)>,
    scripts: Mutex<VecDeque<Scripted>>,
    fallback: Scripted,
    /// The prompts it was given, in order.
    prompts: Mutex<Vec<Vec<ChatMessage>>>,
}

impl ScriptedChatModel {
    pub fn new(scripts: impl IntoIterator<Item = Scripted>, fallback: Scripted) -> Self {
        ScriptedChatModel {
            rules: Vec::new(),
            scripts: Mutex::new(scripts.into_iter().collect()),
            fallback,
            prompts: Mutex::new(Vec::new()),
        }
    }

    /// Always the same reply.
    pub fn always(reply: Scripted) -> Self {
        ScriptedChatModel::new([], reply)
    }

    /// Replies by what the prompt says: the first rule whose words are in the
    /// last message, else `fallback`.
    pub fn answering(rules: &[(&str, Scripted)], fallback: Scripted) -> Self {
        ScriptedChatModel {
            rules: rules
                .iter()
                .map(|(words, reply)| ((*words).to_owned(), reply.clone()))
                .collect(),
            ..ScriptedChatModel::always(fallback)
        }
    }

    /// Every prompt so far.
    pub fn prompts(&self) -> Vec<Vec<ChatMessage>> {
        self.prompts.lock().expect("prompts lock").clone()
    }

    /// Queues more replies.
    pub fn push(&self, reply: Scripted) {
        self.scripts.lock().expect("scripts lock").push_back(reply);
    }
}

#[async_trait::async_trait]
impl ChatModel for ScriptedChatModel {
    async fn generate(
        &self,
        messages: Vec<ChatMessage>,
        params: GenerationParams,
    ) -> Result<GenerationStream, ModelError> {
        let ruled = messages.last().and_then(|last| {
            self.rules
                .iter()
                .find(|(words, _)| last.content.contains(words.as_str()))
                .map(|(_, reply)| reply.clone())
        });
        self.prompts.lock().expect("prompts lock").push(messages);
        let script = ruled.unwrap_or_else(|| {
            self.scripts
                .lock()
                .expect("scripts lock")
                .pop_front()
                .unwrap_or_else(|| self.fallback.clone())
        });
        let (pieces, delay) = match script {
            Scripted::Overloaded => return Err(ModelError::Overloaded),
            Scripted::Text { pieces, delay } => (pieces, delay),
        };
        let (events, stream) = tokio::sync::mpsc::unbounded_channel();
        tokio::spawn(async move {
            tokio::time::sleep(delay).await;
            let mut generated = 0;
            for piece in pieces.into_iter().take(params.max_tokens) {
                if events.send(Ok(GenerationEvent::Token(piece))).is_err() {
                    return; // the listener went away: cancelled
                }
                generated += 1;
            }
            let _ = events.send(Ok(GenerationEvent::Done(GenerationStats {
                prompt_tokens: 0,
                reused_prompt_tokens: 0,
                generated_tokens: generated,
                prefill_ms: 0.0,
                decode_ms: 0.0,
                finish: FinishReason::Stop,
            })));
        });
        Ok(stream)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn replies_in_script_order_then_with_the_fallback() {
        let model = ScriptedChatModel::new(
            [Scripted::text("第一句"), Scripted::Overloaded],
            Scripted::text("fallback"),
        );
        let text = |mut s: GenerationStream| async move {
            let mut out = String::new();
            while let Some(Ok(GenerationEvent::Token(t))) = s.recv().await {
                out.push_str(&t);
            }
            out
        };
        let ask = || model.generate(Vec::new(), GenerationParams::default());
        assert_eq!(text(ask().await.unwrap()).await, "第一句");
        assert!(matches!(ask().await, Err(ModelError::Overloaded)));
        assert_eq!(text(ask().await.unwrap()).await, "fallback");
        assert_eq!(model.prompts().len(), 3);
    }
}
