#!/usr/bin/env python3
"""Times one LoRA training step of PyTorch + PEFT on the CPU, the reference that the Rust
(candle) trainer's step is compared with: same model, rank, batch and sequence length.

The model is a GGUF file (SmolLM2-135M-Instruct.Q4_1.gguf), loaded by transformers,
which dequantizes every tensor to float32 into a plain LlamaForCausalLM (nn.Linear
layers, tied embeddings) and undoes the row permutation of attn_q/attn_k that llama.cpp's
converter applies. PEFT puts LoRA adapters (rank --rank, alpha --alpha, dropout
--dropout) on q_proj, k_proj, v_proj, o_proj, gate_proj, up_proj and down_proj; the base
weights stay frozen. AdamW (torch defaults but lr: betas 0.9/0.999, eps 1e-8, weight
decay 0.01) runs over the LoRA parameters only.

One step: a forward pass with labels over --batch sequences of --seq-len token ids,
the backward pass, optimizer.step(), optimizer.zero_grad(). The token ids are drawn once,
uniformly in [0, vocab), from a generator seeded with --seed, and the same batch is used
at every step (so loss_last < loss_first shows that the adapters learn). The labels are
the ids with the first half (seq_len // 2 positions) set to -100: that part is the
prompt, and the loss is on the second half only. --warmup steps run untimed, then
--steps timed ones.

stdout gets exactly one JSON line:
  {"impl": "pytorch+peft", "torch", "peft", "threads", "batch", "seq_len", "rank",
   "steps", "sec_per_step" (median of the timed steps), "sec_per_step_all",
   "tokens_per_sec" (batch * seq_len / sec_per_step), "peak_rss_bytes" (VmHWM of /proc/self/status, else ru_maxrss),
   "loss_first" (the very first step's loss, before any update), "loss_last" (the last
   timed step's), "trainable_params", and for the record "transformers", "alpha",
   "dropout", "lr", "warmup", "gradient_checkpointing", "attn_implementation", "seed",
   "load_sec"}
Everything else goes to stderr. Bad arguments or a missing file: a message and exit 2.

Run it with the venv of next-models/scripts/train-bench-setup.sh:
  py=$(next-models/scripts/train-bench-setup.sh | tail -n 1)
  "$py" next-models/scripts/peft_train_step.py --gguf PATH/SmolLM2-135M-Instruct.Q4_1.gguf --threads 2
"""

import argparse
import json
import os
import resource
import statistics
import sys
import time

TARGET_MODULES = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]


def parse_args(argv):
    p = argparse.ArgumentParser(
        description="Time one LoRA training step of PyTorch + PEFT on the CPU; prints one JSON line.")
    p.add_argument("--gguf", required=True, help="the model, a GGUF file (SmolLM2-135M-Instruct.Q4_1.gguf)")
    p.add_argument("--rank", type=int, default=8, help="LoRA rank (default 8)")
    p.add_argument("--alpha", type=float, default=16.0, help="LoRA alpha (default 16)")
    p.add_argument("--dropout", type=float, default=0.0, help="LoRA dropout (default 0.0)")
    p.add_argument("--lr", type=float, default=1e-4, help="AdamW learning rate (default 1e-4)")
    p.add_argument("--batch", type=int, default=1, help="sequences per step (default 1)")
    p.add_argument("--seq-len", type=int, default=512, help="tokens per sequence (default 512)")
    p.add_argument("--warmup", type=int, default=1, help="untimed steps first (default 1)")
    p.add_argument("--steps", type=int, default=3, help="timed steps (default 3)")
    p.add_argument("--threads", type=int, default=os.cpu_count() or 1,
                   help="torch.set_num_threads (default: os.cpu_count(), here %(default)s)")
    p.add_argument("--seed", type=int, default=0, help="seed of the token ids (default 0)")
    p.add_argument("--gradient-checkpointing", action="store_true",
                   help="recompute the decoder layers' activations in the backward pass (off by default)")
    a = p.parse_args(argv)

    if not os.path.isfile(a.gguf):
        p.error(f"--gguf {a.gguf}: no such file")
    try:
        with open(a.gguf, "rb") as f:
            magic = f.read(4)
    except OSError as e:
        p.error(f"--gguf {a.gguf}: cannot read it: {e}")
    if magic != b"GGUF":
        p.error(f"--gguf {a.gguf}: not a GGUF file (it does not start with the GGUF magic)")
    for name, value, low in [("--rank", a.rank, 1), ("--batch", a.batch, 1), ("--seq-len", a.seq_len, 2),
                             ("--warmup", a.warmup, 0), ("--steps", a.steps, 1), ("--threads", a.threads, 1)]:
        if value < low:
            p.error(f"{name} must be at least {low}, not {value}")
    if not 0.0 <= a.dropout < 1.0:
        p.error(f"--dropout must be in [0, 1), not {a.dropout}")
    if not a.alpha > 0:
        p.error(f"--alpha must be positive, not {a.alpha}")
    if not a.lr > 0:
        p.error(f"--lr must be positive, not {a.lr}")
    return a


def log(*msg):
    print(*msg, file=sys.stderr, flush=True)


def peak_rss_bytes():
    """This process's peak resident memory. ru_maxrss is not it when a parent started
    this script: Linux keeps the parent's peak at the fork in the child's ru_maxrss
    across exec, while VmHWM belongs to this process's own address space."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def main(argv):
    args = parse_args(argv)

    # stdout is for the JSON line alone: anything else that would be written there, by
    # Python code or by a native library, goes to stderr.
    json_out = os.fdopen(os.dup(1), "w")
    sys.stdout.flush()
    os.dup2(2, 1)
    sys.stdout = sys.stderr

    # The model is a local file: never ask the hub for anything.
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    os.environ.setdefault("TQDM_DISABLE", "1")  # transformers' GGUF dequantization progress bar

    import torch
    torch.set_num_threads(args.threads)
    torch.set_num_interop_threads(1)

    import peft
    import transformers
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM
    transformers.utils.logging.disable_progress_bar()

    path = os.path.abspath(args.gguf)
    log(f"torch {torch.__version__}, transformers {transformers.__version__}, peft {peft.__version__}; "
        f"{torch.get_num_threads()} threads, CPU capability {torch.backends.cpu.get_cpu_capability()}")
    log(f"loading {path} (dequantized to float32)")
    t0 = time.perf_counter()
    model = AutoModelForCausalLM.from_pretrained(
        os.path.dirname(path), gguf_file=os.path.basename(path), dtype=torch.float32)
    load_sec = time.perf_counter() - t0
    model.config.use_cache = False
    vocab = model.config.vocab_size
    log(f"loaded {type(model).__name__} in {load_sec:.1f} s: {sum(p.numel() for p in model.parameters()):,} "
        f"parameters, vocab {vocab}, {model.config.num_hidden_layers} layers, hidden {model.config.hidden_size}, "
        f"attention {model.config._attn_implementation}")

    if args.gradient_checkpointing:
        # Non-reentrant checkpointing: the gradients reach the adapters although the
        # inputs (the frozen embeddings' output) do not require grad.
        # (transformers 5 renamed gradient_checkpointing_enable activation_checkpointing_enable.)
        if hasattr(model, "activation_checkpointing_enable"):
            model.activation_checkpointing_enable(activation_checkpointing_kwargs={"use_reentrant": False})
        else:
            model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})

    lora = LoraConfig(r=args.rank, lora_alpha=args.alpha, lora_dropout=args.dropout,
                      target_modules=TARGET_MODULES, bias="none", task_type="CAUSAL_LM")
    model = get_peft_model(model, lora)
    model.train()
    trainable = [p for p in model.parameters() if p.requires_grad]
    trainable_params = sum(p.numel() for p in trainable)
    total_params = sum(p.numel() for p in model.parameters())
    log(f"LoRA rank {args.rank}, alpha {args.alpha:g}, dropout {args.dropout:g} on {', '.join(TARGET_MODULES)}: "
        f"{trainable_params:,} trainable of {total_params:,} parameters")
    optimizer = torch.optim.AdamW(trainable, lr=args.lr)

    gen = torch.Generator().manual_seed(args.seed)
    input_ids = torch.randint(0, vocab, (args.batch, args.seq_len), generator=gen, dtype=torch.long)
    labels = input_ids.clone()
    labels[:, : args.seq_len // 2] = -100  # the prompt half: no loss there

    def step():
        out = model(input_ids=input_ids, labels=labels)
        out.loss.backward()
        optimizer.step()
        optimizer.zero_grad()
        return out.loss.item()

    losses, times = [], []
    for i in range(args.warmup + args.steps):
        t = time.perf_counter()
        loss = step()
        dt = time.perf_counter() - t
        losses.append(loss)
        timed = i >= args.warmup
        if timed:
            times.append(dt)
        log(f"{'step' if timed else 'warmup'} {i + 1}/{args.warmup + args.steps}: {dt:.3f} s, loss {loss:.4f}")

    median = statistics.median(times)
    result = {
        "impl": "pytorch+peft",
        "torch": torch.__version__,
        "peft": peft.__version__,
        "threads": torch.get_num_threads(),
        "batch": args.batch,
        "seq_len": args.seq_len,
        "rank": args.rank,
        "steps": args.steps,
        "sec_per_step": median,
        "sec_per_step_all": times,
        "tokens_per_sec": args.batch * args.seq_len / median,
        "peak_rss_bytes": peak_rss_bytes(),
        "loss_first": losses[0],
        "loss_last": losses[-1],
        "trainable_params": trainable_params,
        "transformers": transformers.__version__,
        "alpha": args.alpha,
        "dropout": args.dropout,
        "lr": args.lr,
        "warmup": args.warmup,
        "gradient_checkpointing": args.gradient_checkpointing,
        "attn_implementation": model.config._attn_implementation,
        "seed": args.seed,
        "load_sec": load_sec,
    }
    json_out.write(json.dumps(result) + "\n")
    json_out.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
