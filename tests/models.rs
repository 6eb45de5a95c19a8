//! The real model files through the real loaders: SmolLM2-135M (llama arch,
//! tokenizer built from GGUF metadata) for fast behaviour checks, and the
//! product's Qwen2.5-Coder-1.5B for a grounded Chinese answer. Files come from
//! `xiaoer models fetch` (scripts/test.sh runs it).

use std::ops::ControlFlow;
use std::path::PathBuf;
use xiaoer::llm::fetch::{QWEN_GGUF, QWEN_TOKENIZER, SMOLLM_GGUF};
use xiaoer::llm::generate::ChatEngine;
use xiaoer::llm::worker::LocalChatModel;
use xiaoer::ports::{
    ChatMessage, ChatModel, ChatRole, FinishReason, GenerationEvent, GenerationParams, Sampling,
};

fn model_path(name: &str) -> PathBuf {
    let dir = std::env::var_os("XIAOER_MODELS_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/models")));
    let path = dir.join(name);
    assert!(
        path.exists(),
        "{} is missing: run `cargo run -- models fetch` first",
        path.display()
    );
    path
}

fn smollm() -> ChatEngine {
    ChatEngine::load(&model_path(SMOLLM_GGUF), None).expect("SmolLM2 loads")
}

fn collect(
    engine: &mut ChatEngine,
    messages: &[ChatMessage],
    params: &GenerationParams,
) -> (String, xiaoer::ports::GenerationStats) {
    let mut text = String::new();
    let stats = engine
        .generate(messages, params, &mut |piece| {
            text.push_str(piece);
            ControlFlow::Continue(())
        })
        .unwrap();
    (text, stats)
}

fn greedy(max_tokens: usize) -> GenerationParams {
    GenerationParams {
        max_tokens,
        sampling: Sampling::Greedy,
        stop: Vec::new(),
    }
}

#[test]
fn the_gguf_built_tokenizer_round_trips_chinese_and_english() {
    let engine = smollm();
    for text in [
        "Where is my parcel? Order #A1234",
        "我的快递到哪里了？订单号 20261125",
        "emoji 😀 and  spaces\nnew line",
    ] {
        let ids = engine.encode(text).unwrap();
        let back = engine.tokenizer().decode(&ids, false).unwrap();
        assert_eq!(back, text);
    }
    let ids = engine.encode("<|im_start|>user\nhi<|im_end|>").unwrap();
    assert_eq!(
        ids[0],
        engine.tokenizer().token_to_id("<|im_start|>").unwrap(),
        "control tokens stay single tokens"
    );
}

#[test]
fn greedy_output_is_the_same_with_and_without_the_reused_prefix() {
    let system = ChatMessage::new(
        ChatRole::System,
        "You are a helpful shop assistant. Answer briefly. ".repeat(8),
    );
    let turn1 = vec![
        system.clone(),
        ChatMessage::new(ChatRole::User, "What is the capital of France?"),
    ];
    let mut cached = smollm();
    let (answer1, _) = collect(&mut cached, &turn1, &greedy(24));
    let mut turn2 = turn1.clone();
    turn2.push(ChatMessage::new(ChatRole::Assistant, answer1.clone()));
    turn2.push(ChatMessage::new(ChatRole::User, "And of Germany?"));
    let (with_cache, stats) = collect(&mut cached, &turn2, &greedy(24));
    assert!(
        stats.reused_prompt_tokens > 100,
        "the system prompt and first turn were reused: {stats:?}"
    );

    let mut fresh = smollm();
    fresh.set_reuse_prefix(false);
    let (without_cache, stats) = collect(&mut fresh, &turn2, &greedy(24));
    assert_eq!(stats.reused_prompt_tokens, 0);
    assert_eq!(with_cache, without_cache, "turn 1: {answer1:?}");
    assert!(!with_cache.trim().is_empty());
}

#[test]
fn max_tokens_stops_with_length_and_a_break_cancels() {
    let mut engine = smollm();
    let messages = [ChatMessage::new(
        ChatRole::User,
        "Count from one to one hundred in words.",
    )];
    let (_, stats) = collect(&mut engine, &messages, &greedy(5));
    assert_eq!(stats.finish, FinishReason::Length);
    assert_eq!(stats.generated_tokens, 5);

    let mut pieces = 0;
    let stats = engine
        .generate(&messages, &greedy(100), &mut |_| {
            pieces += 1;
            if pieces == 2 {
                ControlFlow::Break(())
            } else {
                ControlFlow::Continue(())
            }
        })
        .unwrap();
    assert_eq!(stats.finish, FinishReason::Cancelled);
    assert!(stats.generated_tokens < 10);
}

#[test]
fn seeded_sampling_is_reproducible_and_differs_from_greedy_across_seeds() {
    let messages = [ChatMessage::new(
        ChatRole::User,
        "Write a short poem about tea.",
    )];
    let sampled = |seed| GenerationParams {
        max_tokens: 20,
        sampling: Sampling::TopP {
            temperature: 1.0,
            top_p: 0.95,
            seed,
        },
        stop: Vec::new(),
    };
    let mut engine = smollm();
    let (a, _) = collect(&mut engine, &messages, &sampled(7));
    let (b, _) = collect(&mut engine, &messages, &sampled(7));
    assert_eq!(a, b, "same seed, same text");
    let others: Vec<String> = (8..12)
        .map(|s| collect(&mut engine, &messages, &sampled(s)).0)
        .collect();
    assert!(
        others.iter().any(|o| *o != a),
        "different seeds explore different text"
    );
}

#[tokio::test]
async fn the_model_thread_streams_tokens_then_stats() {
    let model = LocalChatModel::spawn(smollm(), 4);
    let messages = vec![ChatMessage::new(ChatRole::User, "Say hello.")];
    let mut stream = model.generate(messages, greedy(12)).await.unwrap();
    let mut tokens = 0;
    let mut done = None;
    while let Some(event) = stream.recv().await {
        match event.unwrap() {
            GenerationEvent::Token(_) => tokens += 1,
            GenerationEvent::Done(stats) => done = Some(stats),
        }
    }
    let stats = done.expect("a Done event closes the stream");
    assert!(tokens > 0 && stats.generated_tokens >= tokens);
}

#[tokio::test]
async fn background_work_gives_way_to_a_buyers_request_at_its_next_token() {
    let model = LocalChatModel::spawn(smollm(), 4);
    let long = vec![ChatMessage::new(
        ChatRole::User,
        "Count from 1 to 1000, separated by commas.",
    )];
    let mut background = model
        .generate_background(long.clone(), greedy(400))
        .await
        .unwrap();
    // It runs: nothing else waits.
    assert!(matches!(
        background.recv().await,
        Some(Ok(GenerationEvent::Token(_)))
    ));
    // One background request at a time.
    assert!(matches!(
        model.generate_background(long.clone(), greedy(4)).await,
        Err(xiaoer::ports::ModelError::Overloaded)
    ));
    let mut buyer = model
        .generate(
            vec![ChatMessage::new(ChatRole::User, "Say hello.")],
            greedy(8),
        )
        .await
        .unwrap();
    let mut stopped = None;
    while let Some(event) = background.recv().await {
        if let GenerationEvent::Done(stats) = event.unwrap() {
            stopped = Some(stats);
        }
    }
    let stopped = stopped.expect("the background stream ends with its stats");
    assert_eq!(stopped.finish, FinishReason::Cancelled);
    assert!(stopped.generated_tokens < 400, "{stopped:?}");
    let mut answered = None;
    while let Some(event) = buyer.recv().await {
        if let GenerationEvent::Done(stats) = event.unwrap() {
            answered = Some(stats);
        }
    }
    let answered = answered.expect("the buyer's request completes");
    assert_ne!(answered.finish, FinishReason::Cancelled);
    assert!(answered.generated_tokens > 0);
    // The slot is free again once the stopped one has left the thread.
    let again = model.generate_background(long, greedy(2)).await;
    assert!(again.is_ok(), "{:?}", again.err());
}

#[test]
fn qwen_answers_a_grounded_chinese_question_from_the_passage() {
    let mut engine = ChatEngine::load(&model_path(QWEN_GGUF), Some(&model_path(QWEN_TOKENIZER)))
        .expect("Qwen loads");
    let text = "买家收到商品后七天内可以申请无理由退货，商品需保持完好、不影响二次销售；退货运费由买家承担，质量问题除外。";
    let ids = engine.encode(text).unwrap();
    assert_eq!(
        engine.tokenizer().decode(&ids, false).unwrap(),
        text,
        "the Qwen tokenizer round-trips Chinese"
    );
    let messages = [
        ChatMessage::new(
            ChatRole::System,
            format!("你是网店客服。只根据下面的资料回答，简短。\n资料：{text}"),
        ),
        ChatMessage::new(ChatRole::User, "衣服不喜欢可以退吗？几天内？运费谁出？"),
    ];
    let (answer, stats) = collect(&mut engine, &messages, &greedy(60));
    assert!(
        answer.contains('7') || answer.contains('七'),
        "mentions the 7 days: {answer}"
    );
    assert!(
        answer.contains("买家"),
        "says the buyer pays the return shipping: {answer}"
    );
    assert_eq!(stats.finish, FinishReason::Stop, "{answer}");
}

/// The HTTP ChatModel against a real OpenAI-compatible server: llama-cpp-python's
/// server on the small model (installed by scripts/test.sh into the cache venv).
#[tokio::test]
async fn the_openai_compatible_backend_streams_from_a_real_server() {
    let python = std::env::var("XIAOER_PEER_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|_| xiaoer::llm::fetch::cache_dir().join("peer-venv/bin/python"));
    assert!(
        python.exists(),
        "{} is missing: scripts/test.sh installs llama-cpp-python there",
        python.display()
    );
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut server = tokio::process::Command::new(&python)
        .args(["-m", "llama_cpp.server", "--model"])
        .arg(model_path(SMOLLM_GGUF))
        .args([
            "--host",
            "127.0.0.1",
            "--port",
            &port.to_string(),
            "--n_threads",
            "2",
            "--chat_format",
            "chatml",
        ])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let base = format!("http://127.0.0.1:{port}/v1");
    let client = xiaoer::net::client();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
    while client.get(format!("{base}/models")).send().await.is_err() {
        assert!(
            std::time::Instant::now() < deadline,
            "llama-cpp-python server did not start"
        );
        tokio::time::sleep(std::time::Duration::from_millis(250)).await;
    }
    let model = xiaoer::llm::openai::OpenAiChatModel::new(&base, "smollm2", None);
    let messages = vec![ChatMessage::new(ChatRole::User, "Name a colour.")];
    let mut stream = model.generate(messages, greedy(16)).await.unwrap();
    let (mut text, mut done) = (String::new(), None);
    while let Some(event) = stream.recv().await {
        match event.unwrap() {
            GenerationEvent::Token(piece) => text.push_str(&piece),
            GenerationEvent::Done(stats) => done = Some(stats),
        }
    }
    let stats = done.expect("the stream ends with stats");
    assert!(!text.trim().is_empty());
    assert!(stats.generated_tokens > 0 && stats.generated_tokens <= 16);
    server.kill().await.unwrap();
}
