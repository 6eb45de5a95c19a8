//! A ChatModel over an OpenAI-compatible HTTP server (vLLM, llama.cpp's server,
//! llama-cpp-python), for shops that run inference elsewhere. Streams with SSE;
//! dropping the stream drops the HTTP response, which cancels the generation.

use crate::ports::{
    ChatMessage, ChatModel, FinishReason, GenerationEvent, GenerationParams, GenerationStats,
    GenerationStream, ModelError, Sampling,
};
use futures::StreamExt;
use serde_json::{Value, json};
use std::time::Instant;

pub struct OpenAiChatModel {
    client: reqwest::Client,
    base_url: String,
    model: String,
    api_key: Option<String>,
}

impl OpenAiChatModel {
    /// `base_url` up to and including `/v1`, e.g. `http://127.0.0.1:8000/v1`.
    pub fn new(base_url: &str, model: &str, api_key: Option<String>) -> Self {
        Self {
            client: crate::net::client(),
            base_url: base_url.trim_end_matches('/').to_owned(),
            model: model.to_owned(),
            api_key,
        }
    }

    fn body(&self, messages: &[ChatMessage], params: &GenerationParams) -> Value {
        let (temperature, top_p, seed) = match params.sampling {
            Sampling::Greedy => (0.0, 1.0, 0),
            Sampling::TopP {
                temperature,
                top_p,
                seed,
            } => (temperature, top_p, seed),
        };
        json!({
            "model": self.model,
            "messages": messages,
            "max_tokens": params.max_tokens,
            "temperature": temperature,
            "top_p": top_p,
            "seed": seed,
            "stop": params.stop,
            "stream": true,
        })
    }
}

#[async_trait::async_trait]
impl ChatModel for OpenAiChatModel {
    async fn generate(
        &self,
        messages: Vec<ChatMessage>,
        params: GenerationParams,
    ) -> Result<GenerationStream, ModelError> {
        let started = Instant::now();
        let mut request = self
            .client
            .post(format!("{}/chat/completions", self.base_url))
            .json(&self.body(&messages, &params));
        if let Some(key) = &self.api_key {
            request = request.bearer_auth(key);
        }
        let response = request
            .send()
            .await
            .map_err(|e| ModelError::Unavailable(e.to_string()))?;
        match response.status().as_u16() {
            200 => {}
            429 | 503 => return Err(ModelError::Overloaded),
            400..=499 => return Err(ModelError::Input(response.text().await.unwrap_or_default())),
            status => return Err(ModelError::Unavailable(format!("HTTP {status}"))),
        }
        let (events, stream) = tokio::sync::mpsc::unbounded_channel();
        tokio::spawn(async move {
            let result = forward_sse(response, &events, started).await;
            let _ = events.send(result.map(GenerationEvent::Done));
        });
        Ok(stream)
    }
}

async fn forward_sse(
    response: reqwest::Response,
    events: &tokio::sync::mpsc::UnboundedSender<Result<GenerationEvent, ModelError>>,
    started: Instant,
) -> Result<GenerationStats, ModelError> {
    let mut body = response.bytes_stream();
    let mut buffer = Vec::new();
    let mut generated = 0;
    let mut first_token = None;
    let mut finish = FinishReason::Stop;
    while let Some(chunk) = body.next().await {
        let chunk = chunk.map_err(|e| ModelError::Unavailable(e.to_string()))?;
        buffer.extend_from_slice(&chunk);
        while let Some(end) = buffer.iter().position(|b| *b == b'\n') {
            let line: Vec<u8> = buffer.drain(..=end).collect();
            let line = String::from_utf8_lossy(&line);
            let Some(data) = line.trim().strip_prefix("data:").map(str::trim) else {
                continue;
            };
            if data == "[DONE]" {
                return Ok(stats(generated, first_token, started, finish));
            }
            let value: Value = serde_json::from_str(data)
                .map_err(|e| ModelError::Inference(format!("bad SSE chunk: {e}")))?;
            let choice = &value["choices"][0];
            if choice["finish_reason"] == "length" {
                finish = FinishReason::Length;
            }
            if let Some(piece) = choice["delta"]["content"]
                .as_str()
                .filter(|p| !p.is_empty())
            {
                generated += 1;
                first_token.get_or_insert_with(|| started.elapsed());
                if events
                    .send(Ok(GenerationEvent::Token(piece.to_owned())))
                    .is_err()
                {
                    return Ok(stats(
                        generated,
                        first_token,
                        started,
                        FinishReason::Cancelled,
                    ));
                }
            }
        }
    }
    Ok(stats(generated, first_token, started, finish))
}

fn stats(
    generated: usize,
    first_token: Option<std::time::Duration>,
    started: Instant,
    finish: FinishReason,
) -> GenerationStats {
    let first_ms = first_token.map(|d| d.as_secs_f64() * 1e3).unwrap_or(0.0);
    GenerationStats {
        prompt_tokens: 0,
        reused_prompt_tokens: 0,
        generated_tokens: generated,
        prefill_ms: first_ms,
        decode_ms: started.elapsed().as_secs_f64() * 1e3 - first_ms,
        finish,
    }
}
