"""llama.cpp (through llama-cpp-python) as the reference for the candle backend.

Reads one JSON request on stdin and writes one JSON answer on stdout. The tests and
the decode benchmark of next-models run it as a subprocess with the Python of
`.cache/venv` (installed by next-models/scripts/llama-server-setup.sh):

  {"op": "tokenize", "model": PATH, "texts": [str, ...]}
      -> {"tokens": [[int, ...], ...]}        special tokens parsed, no BOS added
  {"op": "chat", "model": PATH, "messages": [{"role": str, "content": str}, ...]}
      -> {"prompt": str}                      the GGUF's chat template, as llama-cpp-python renders it
  {"op": "greedy", "model": PATH, "tokens": [int, ...], "n": int, "threads": int}
      -> {"tokens": [int, ...], "margins": [float, ...]}
                                              greedy continuation; margins: top-1 minus top-2 logit
  {"op": "bench", "model": PATH, "tokens": [int, ...], "n": int, "threads": int, "reps": int}
      -> {"prefill_tok_s": float, "decode_tok_s": float}
                                              best of `reps` runs of the prompt and n greedy tokens
"""

import ctypes
import json
import sys
import time

import llama_cpp
from llama_cpp.llama_chat_format import Jinja2ChatFormatter


def load(request, vocab_only):
    threads = int(request.get("threads", 1))
    return llama_cpp.Llama(
        model_path=request["model"],
        n_ctx=int(request.get("n_ctx", 4096)),
        n_batch=512,
        n_threads=threads,
        n_threads_batch=threads,
        vocab_only=vocab_only,
        verbose=False,
    )


def token_text(llm, token_id):
    return llm._model.token_get_text(token_id)


def tokenize(request):
    llm = load(request, vocab_only=True)
    return {
        "tokens": [
            llm.tokenize(text.encode("utf-8"), add_bos=False, special=True)
            for text in request["texts"]
        ]
    }


def chat(request):
    llm = load(request, vocab_only=True)
    template = llm.metadata["tokenizer.chat_template"]
    bos = token_text(llm, llm.token_bos()) if llm.token_bos() >= 0 else ""
    eos = token_text(llm, llm.token_eos()) if llm.token_eos() >= 0 else ""
    formatter = Jinja2ChatFormatter(template=template, eos_token=eos, bos_token=bos)
    return {"prompt": formatter(messages=request["messages"]).prompt}


def last_logits(llm):
    pointer = llm._ctx.get_logits_ith(-1)
    n_vocab = llm.n_vocab()
    return (ctypes.c_float * n_vocab).from_address(ctypes.addressof(pointer.contents))


def greedy(request):
    llm = load(request, vocab_only=False)
    llm.reset()
    llm.eval(request["tokens"])
    out, margins = [], []
    for _ in range(int(request["n"])):
        logits = list(last_logits(llm))
        best = max(range(len(logits)), key=logits.__getitem__)
        second = max(logits[i] for i in range(len(logits)) if i != best)
        out.append(best)
        margins.append(logits[best] - second)
        if llama_cpp.llama_vocab_is_eog(llm._model.vocab, best):
            break
        llm.eval([best])
    return {"tokens": out, "margins": margins}


def bench(request):
    llm = load(request, vocab_only=False)
    tokens = request["tokens"]
    n = int(request["n"])
    best_prefill, best_decode = 0.0, 0.0
    for _ in range(int(request.get("reps", 1))):
        llm.reset()
        started = time.perf_counter()
        llm.eval(tokens)
        prefilled = time.perf_counter()
        for _ in range(n):
            token = llm.sample(temp=0.0)
            llm.eval([token])
        done = time.perf_counter()
        best_prefill = max(best_prefill, len(tokens) / (prefilled - started))
        best_decode = max(best_decode, n / (done - prefilled))
    return {"prefill_tok_s": best_prefill, "decode_tok_s": best_decode}


def main():
    request = json.load(sys.stdin)
    ops = {"tokenize": tokenize, "chat": chat, "greedy": greedy, "bench": bench}
    answer = ops[request["op"]](request)
    json.dump(answer, sys.stdout)


if __name__ == "__main__":
    main()
