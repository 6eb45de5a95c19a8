//! `xiaoer bench llm`: the local chat engine on the product's Qwen GGUF, and
//! llama.cpp (through the PyPI package llama-cpp-python) on the same file and
//! thread count in the same run.
//!
//! Figures: prefill tok/s on a fresh ~500-token prompt; decode tok/s; time to
//! first token for a turn that reuses a cached ~200-token system prompt and adds
//! ~300 new tokens (the bot's usual case).

use crate::llm::generate::ChatEngine;
use crate::llm::source::ModelSource;
use crate::ports::{ChatMessage, ChatRole, GenerationParams, GenerationStats, Sampling};
use anyhow::Context;
use serde_json::json;
use std::ops::ControlFlow;
use std::path::{Path, PathBuf};
use std::time::Instant;

#[derive(clap::Args, Debug, Clone)]
pub struct LlmBenchArgs {
    /// Tokens to decode in the decode measurement.
    #[arg(long, default_value_t = 128)]
    pub decode_tokens: usize,
    /// Python with llama-cpp-python for the peer; "none" skips it.
    #[arg(long, env = "XIAOER_PEER_PYTHON")]
    pub peer_python: Option<String>,
}

const POLICY: &str =
    "买家收到商品后七天内可以申请无理由退货，商品需保持完好。退货运费由买家承担，质量问题除外。";

/// The model and tokenizer come from Settings (`--llm-model`, `--llm-tokenizer`).
pub async fn run(args: LlmBenchArgs, settings: &crate::config::Settings) -> anyhow::Result<()> {
    let threads = std::env::var("RAYON_NUM_THREADS")
        .ok()
        .and_then(|t| t.parse().ok())
        .unwrap_or(2usize);
    let gguf = ModelSource::parse(&settings.llm_model)?.resolve()?;
    let tokenizer = match settings.llm_tokenizer.as_str() {
        "gguf" => None,
        spec => Some(ModelSource::parse(spec)?.resolve()?),
    };
    let decode_tokens = args.decode_tokens;
    let engine_gguf = gguf.clone();
    let ours = tokio::task::spawn_blocking(move || measure(&engine_gguf, tokenizer, decode_tokens))
        .await??;
    let peer = match args.peer_python.as_deref() {
        Some("none") => json!(null),
        python => run_peer(
            python,
            &gguf,
            ours["prefill"]["prompt_tokens"].as_u64().unwrap_or(500),
            decode_tokens,
            threads,
        )?,
    };
    let report = json!({ "bench": "llm", "model": gguf.display().to_string(), "threads": threads, "xiaoer": ours, "peer": peer });
    println!("{}", serde_json::to_string_pretty(&report)?);
    Ok(())
}

fn generate(
    engine: &mut ChatEngine,
    messages: &[ChatMessage],
    max_tokens: usize,
) -> anyhow::Result<(GenerationStats, Option<f64>)> {
    let started = Instant::now();
    let mut first_token_ms = None;
    let params = GenerationParams {
        max_tokens,
        sampling: Sampling::Greedy,
        stop: Vec::new(),
    };
    let stats = engine.generate(messages, &params, &mut |_| {
        first_token_ms.get_or_insert_with(|| started.elapsed().as_secs_f64() * 1e3);
        ControlFlow::Continue(())
    })?;
    Ok((stats, first_token_ms))
}

fn measure(
    gguf: &Path,
    tokenizer: Option<PathBuf>,
    decode_tokens: usize,
) -> anyhow::Result<serde_json::Value> {
    let load_started = Instant::now();
    let mut engine = ChatEngine::load(gguf, tokenizer.as_deref())
        .context("load the model (run `xiaoer models fetch`)")?;
    let load_s = load_started.elapsed().as_secs_f64();

    // Prefill: a fresh prompt of about 500 tokens, nothing reused.
    engine.set_reuse_prefix(false);
    let long = vec![ChatMessage::new(
        ChatRole::User,
        format!("{}\n请总结上面的退货政策。", POLICY.repeat(17)),
    )];
    let (prefill, _) = generate(&mut engine, &long, 1)?;

    // Decode: a long answer.
    let essay = vec![ChatMessage::new(
        ChatRole::User,
        "请写一篇关于网店客服如何处理退货的详细文章，至少一千字。",
    )];
    let (decode, _) = generate(&mut engine, &essay, decode_tokens)?;

    // TTFT: a ~200-token system prompt cached by a first turn, then a turn adding ~300 tokens.
    engine.set_reuse_prefix(true);
    let system = ChatMessage::new(
        ChatRole::System,
        format!(
            "你是网店“店小二”的客服助手。只根据资料回答，不知道就说不知道。资料：{}",
            POLICY.repeat(6)
        ),
    );
    let warm = vec![system.clone(), ChatMessage::new(ChatRole::User, "你好")];
    generate(&mut engine, &warm, 1)?;
    let turn = vec![
        system,
        ChatMessage::new(
            ChatRole::User,
            format!("{}\n我买的衣服不合适，能退吗？", POLICY.repeat(10)),
        ),
    ];
    let (ttft_stats, ttft_ms) = generate(&mut engine, &turn, 1)?;

    Ok(json!({
        "engine": "xiaoer (candle)",
        "load_s": load_s,
        "prefill": { "prompt_tokens": prefill.prompt_tokens, "tok_per_s": prefill.prompt_tokens as f64 / (prefill.prefill_ms / 1e3) },
        "decode": { "tokens": decode.generated_tokens, "tok_per_s": decode.generated_tokens as f64 / (decode.decode_ms / 1e3) },
        "ttft": {
            "cached_prompt_tokens": ttft_stats.reused_prompt_tokens,
            "new_prompt_tokens": ttft_stats.prompt_tokens - ttft_stats.reused_prompt_tokens,
            "ms": ttft_ms,
        },
    }))
}

fn run_peer(
    python: Option<&str>,
    gguf: &Path,
    prompt_tokens: u64,
    decode_tokens: usize,
    threads: usize,
) -> anyhow::Result<serde_json::Value> {
    let default_python = crate::llm::fetch::cache_dir().join("peer-venv/bin/python");
    let python = python.map(PathBuf::from).unwrap_or(default_python);
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/llama_cpp_peer.py");
    let output = std::process::Command::new(&python)
        .arg(&script)
        .arg(gguf)
        .arg(prompt_tokens.to_string())
        .arg(decode_tokens.to_string())
        .arg(threads.to_string())
        .output()
        .with_context(|| format!("run the llama.cpp peer with {} (install llama-cpp-python there, or pass --peer-python none)", python.display()))?;
    if !output.status.success() {
        anyhow::bail!(
            "llama.cpp peer failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
    Ok(serde_json::from_slice(&output.stdout)?)
}
