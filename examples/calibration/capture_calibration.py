#!/usr/bin/env python3
"""Capture AWQ calibration activations from a Hugging Face causal LM.

Writes the safetensors file that awqc's quantizer reads (docs/quantization.md,
"Calibration input"): one tensor per *input group* -- the linears that read
the same activation tensor, such as q/k/v or gate/up -- named after the first
linear of the group, holding [tokens, in_features] samples of that input.

Groups are discovered, not hard-coded: during a first forward pass every
nn.Linear records the Python object it received, and consecutive linears that
receive the very same tensor object form one group. For LLaMA-style models
this yields, per decoder layer, {q,k,v}_proj, o_proj, {gate,up}_proj and
down_proj. All activations come from one unmodified FP16 forward pass, as in
llm-awq and AutoAWQ (each layer sees the FP16 output of the previous one).

Needs torch, transformers and safetensors (and datasets for the default
Pile validation text). Example:

    python3 capture_calibration.py --model meta-llama/Llama-2-7b-hf \
        --out calib.safetensors --samples 128 --seq-len 512 --max-tokens 1024
"""

import argparse
import json
import os
import sys
import tempfile

import torch
from safetensors.torch import save_file
from transformers import AutoModelForCausalLM, AutoTokenizer


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--model", required=True, help="model id or local path")
    p.add_argument("--out", required=True, help="output .safetensors file")
    p.add_argument("--text-file", help="calibration text (UTF-8); default: "
                   "the Pile validation set via the datasets library")
    p.add_argument("--dataset", default="mit-han-lab/pile-val-backup",
                   help="datasets id used when --text-file is not given")
    p.add_argument("--samples", type=int, default=128,
                   help="number of token blocks (default 128)")
    p.add_argument("--seq-len", type=int, default=512,
                   help="tokens per block (default 512)")
    p.add_argument("--max-tokens", type=int, default=1024,
                   help="tokens kept per group, sub-sampled evenly over all "
                        "samples x seq-len positions (default 1024)")
    p.add_argument("--dtype", choices=["f16", "f32"], default="f16",
                   help="element type of the stored activations")
    p.add_argument("--skip", default="lm_head",
                   help="comma-separated linear names left out (kept FP16)")
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    return p.parse_args()


def calibration_blocks(args, tokenizer):
    """Concatenates documents and cuts them into [samples, seq_len] ids."""
    if args.text_file:
        with open(args.text_file, encoding="utf-8") as f:
            texts = [f.read()]
    else:
        from datasets import load_dataset
        data = load_dataset(args.dataset, split="validation")
        texts = (row["text"] for row in data)
    needed = args.samples * args.seq_len
    ids = []
    for text in texts:
        text = text.strip()
        if not text:
            continue
        ids.extend(tokenizer(text, add_special_tokens=False).input_ids)
        if len(ids) >= needed:
            break
    if len(ids) < needed:
        sys.exit(f"error: calibration text has {len(ids)} tokens, "
                 f"need samples * seq_len = {needed}")
    return torch.tensor(ids[:needed], dtype=torch.long).view(args.samples, args.seq_len)


def discover_groups(model, first_block, skip):
    """Runs one block and groups linears that receive the same tensor."""
    order = []  # (linear name, input object), in call order
    handles = []
    for name, module in model.named_modules():
        if isinstance(module, torch.nn.Linear) and name.split(".")[-1] not in skip \
                and name not in skip:
            def hook(mod, inputs, output, name=name):
                order.append((name, inputs[0]))
            handles.append(module.register_forward_hook(hook))
    try:
        with torch.no_grad():
            model(first_block)
    finally:
        for h in handles:
            h.remove()
    groups = []  # [(key, [linear names], in_features)]
    previous = None
    for name, tensor in order:
        # `order` holds a reference to every input, so no two distinct
        # inputs can share storage and object identity is reliable.
        if previous is not None and tensor is previous:
            groups[-1][1].append(name)
        else:
            groups.append((name, [name], tensor.shape[-1]))
        previous = tensor
    seen = set()
    for key, _, _ in groups:
        if key in seen:
            sys.exit(f"error: linear {key} ran twice in one forward pass; "
                     "weight sharing is not supported")
        seen.add(key)
    return groups


def main():
    args = parse_args()
    if args.samples < 1 or args.seq_len < 1 or args.max_tokens < 1:
        sys.exit("error: --samples, --seq-len and --max-tokens must be >= 1")
    torch_dtype = torch.float16 if args.device.startswith("cuda") else torch.float32
    tokenizer = AutoTokenizer.from_pretrained(args.model)
    model = AutoModelForCausalLM.from_pretrained(args.model, torch_dtype=torch_dtype)
    model.to(args.device).eval()
    blocks = calibration_blocks(args, tokenizer).to(args.device)

    skip = set(s for s in args.skip.split(",") if s)
    groups = discover_groups(model, blocks[:1], skip)
    print(f"{len(groups)} input groups:", file=sys.stderr)
    for key, members, k in groups:
        print(f"  {key} [K={k}]: {', '.join(members)}", file=sys.stderr)

    # Evenly spaced token positions over the whole calibration set.
    total = args.samples * args.seq_len
    keep = min(args.max_tokens, total)
    positions = torch.div(torch.arange(keep, dtype=torch.long) * total, keep,
                          rounding_mode="floor")
    out_dtype = torch.float16 if args.dtype == "f16" else torch.float32
    captured = {key: [] for key, _, _ in groups}
    modules = dict(model.named_modules())
    current = {}

    def make_hook(key):
        def hook(mod, inputs, output):
            x = inputs[0].reshape(-1, inputs[0].shape[-1])
            captured[key].append(x[current["rows"]].to("cpu", out_dtype))
        return hook

    handles = [modules[key].register_forward_hook(make_hook(key)) for key, _, _ in groups]
    try:
        with torch.no_grad():
            for i in range(args.samples):
                begin = i * args.seq_len
                mask = (positions >= begin) & (positions < begin + args.seq_len)
                if not bool(mask.any()):
                    continue
                current["rows"] = (positions[mask] - begin).to(args.device)
                model(blocks[i:i + 1])
                print(f"\rsample {i + 1}/{args.samples}", end="", file=sys.stderr)
    finally:
        for h in handles:
            h.remove()
    print(file=sys.stderr)

    tensors = {key: torch.cat(parts).contiguous() for key, parts in captured.items()}
    for key, t in tensors.items():
        if not torch.isfinite(t).all():
            sys.exit(f"error: captured input of {key} has NaN/Inf "
                     f"(try --dtype f32 or a CPU run in fp32)")
    metadata = {
        "format": "awqc-calibration",
        "version": "1",
        "model": args.model,
        "tokens": str(keep),
        "groups": json.dumps({key: members for key, members, _ in groups}),
    }
    # Write next to the destination, then rename: never a half-written file.
    directory = os.path.dirname(os.path.abspath(args.out))
    fd, tmp = tempfile.mkstemp(dir=directory, suffix=".safetensors.tmp")
    os.close(fd)
    try:
        save_file(tensors, tmp, metadata=metadata)
        os.replace(tmp, args.out)
    except BaseException:
        os.unlink(tmp)
        raise
    print(f"wrote {len(tensors)} groups x {keep} tokens to {args.out}", file=sys.stderr)


if __name__ == "__main__":
    main()
