"""Peer measurement for `xiaoer bench llm`: llama.cpp (PyPI llama-cpp-python) on
the same GGUF file and thread count. Prints one JSON object.

usage: llama_cpp_peer.py MODEL.gguf PROMPT_TOKENS DECODE_TOKENS THREADS
"""
import json
import sys
import time

from llama_cpp import Llama

model, n_prompt, n_decode, threads = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
llm = Llama(model_path=model, n_threads=threads, n_threads_batch=threads, n_ctx=4096, n_batch=512, verbose=False)
text = "买家收到商品后七天内可以申请无理由退货，商品需保持完好。退货运费由买家承担，质量问题除外。" * 64
prompt = llm.tokenize(text.encode("utf-8"), add_bos=False)[:n_prompt]

llm.reset()
start = time.perf_counter()
produced = 0
first = None
for _ in llm.generate(prompt, top_k=1, temp=0.0, reset=True):
    produced += 1
    if produced == 1:
        first = time.perf_counter()
    if produced > n_decode:
        break
end = time.perf_counter()
print(json.dumps({
    "engine": "llama.cpp (llama-cpp-python)",
    "threads": threads,
    "prompt_tokens": len(prompt),
    "prefill_tok_per_s": len(prompt) / (first - start),
    "decode_tok_per_s": n_decode / (end - first),
}))
