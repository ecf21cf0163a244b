#!/usr/bin/env python3
"""Writes the seed corpus of every fuzz target (docs/fuzzing.md).

usage: make-corpus.py OUT [--awqc PATH]

OUT/<target>/ receives small valid inputs (and a few near misses) made from
the repository's examples and tests: the MLIR of test/lit and examples/,
examples/tiny-llama/model.json, and safetensors files, checkpoints,
configs and indexes built here in the formats docs/formats.md describes.
With --awqc (a built awqc), the bundle target also gets a real bundle of
examples/llama-block.mlir (compiled with --no-weights) and its manifest.
OUT/awq-pipeline.dict is a libFuzzer dictionary of the MLIR seeds' tokens.
Each seed starts with the selector byte its target reads, where it has one
(see the target's file header).
"""
import argparse
import collections
import json
import os
import re
import shutil
import struct
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

DTYPE_SIZE = {"BOOL": 1, "U8": 1, "I8": 1, "F16": 2, "BF16": 2, "I16": 2,
              "I32": 4, "F32": 4, "I64": 8, "F64": 8}


def safetensors(tensors, metadata=None):
    """tensors: list of (name, dtype, shape, bytes)."""
    header = {}
    if metadata is not None:
        header["__metadata__"] = metadata
    data = b""
    for name, dtype, shape, payload in tensors:
        header[name] = {"dtype": dtype, "shape": shape,
                        "data_offsets": [len(data), len(data) + len(payload)]}
        data += payload
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * ((8 - len(text) % 8) % 8)
    return struct.pack("<Q", len(text)) + text + data


def ints(values, fmt="<i"):
    return b"".join(struct.pack(fmt, v) for v in values)


def awq_layer(prefix, k, n, group, bits=4, bias=False):
    """AutoAWQ gemm tensors of a layer, in the shapes the reader expects."""
    if bits == 3:
        words = 3 * ((n + 31) // 32)
    else:
        words = n * bits // 32
    groups = k // group
    tensors = [
        (prefix + ".qweight", "I32", [k, words],
         ints([(i * 2654435761) & 0x7fffffff for i in range(k * words)])),
        (prefix + ".qzeros", "I32", [groups, words],
         ints([0x08888888 if bits == 4 else 0 for _ in range(groups * words)])),
        (prefix + ".scales", "F16", [groups, n], ints([0x2c00] * (groups * n), "<H")),
    ]
    if bias:
        tensors.append((prefix + ".bias", "F16", [n], ints([0x3c00] * n, "<H")))
    return tensors


def gptq_layer(prefix, k, n, group, bits=4, g_idx=True):
    per_word = 32 // bits
    groups = k // group
    tensors = [
        (prefix + ".qweight", "I32", [k // per_word, n],
         ints([(i * 40503) & 0x7fffffff for i in range(k // per_word * n)])),
        (prefix + ".qzeros", "I32", [groups, n // per_word],
         ints([0x77777777 if bits == 4 else 0x7f7f7f7f] * (groups * n // per_word))),
        (prefix + ".scales", "F16", [groups, n], ints([0x2c00] * (groups * n), "<H")),
    ]
    if g_idx:
        tensors.append((prefix + ".g_idx", "I32", [k], ints([i // group for i in range(k)])))
    return tensors


def write(out, target, name, data):
    directory = os.path.join(out, target)
    os.makedirs(directory, exist_ok=True)
    if isinstance(data, str):
        data = data.encode()
    with open(os.path.join(directory, name), "wb") as f:
        f.write(data)


def plain_safetensors():
    return {
        "empty": safetensors([]),
        "metadata": safetensors([("a", "F16", [2], b"\x00\x3c\x00\xc0")],
                                {"format": "pt", "note": "seed"}),
        "dtypes": safetensors([(d.lower(), d, [1, 2], b"\x01" * (2 * s))
                               for d, s in DTYPE_SIZE.items()]),
        "scalar-and-zero": safetensors([("s", "F32", [], b"\x00\x00\x80\x3f"),
                                        ("z", "I64", [0, 3], b"")]),
        "awq-layer": safetensors(awq_layer("model.layers.0.mlp.up_proj", 64, 16, 32)),
    }


def llama_config(arch="LlamaForCausalLM", quant=None, **extra):
    config = {"architectures": [arch], "model_type": "llama",
              "hidden_size": 256, "intermediate_size": 512,
              "num_attention_heads": 4, "num_key_value_heads": 2,
              "num_hidden_layers": 1, "rms_norm_eps": 1e-5,
              "torch_dtype": "float16"}
    config.update(extra)
    if quant is not None:
        config["quantization_config"] = quant
    return config


AWQ_QUANT = {"quant_method": "awq", "bits": 4, "group_size": 128,
             "zero_point": True, "version": "gemm",
             "modules_to_not_convert": None}
GPTQ_QUANT = {"quant_method": "gptq", "bits": 4, "group_size": 128,
              "sym": False, "desc_act": False, "checkpoint_format": "gptq"}


def mlir_seeds():
    """Every `// -----` chunk of the lit MLIR tests and the example IR."""
    seeds = {}
    paths = []
    for base in ("test/lit", "examples"):
        for directory, _, files in os.walk(os.path.join(ROOT, base)):
            paths += [os.path.join(directory, f) for f in files if f.endswith(".mlir")]
    for path in sorted(paths):
        text = open(path).read()
        # Drop RUN/CHECK lines: they are comments to the parser.
        chunks = re.split(r"^// -----\s*$", text, flags=re.M)
        for i, chunk in enumerate(chunks):
            body = "\n".join(l for l in chunk.splitlines()
                             if not re.match(r"\s*// *(RUN|CHECK|expected-)", l))
            if body.strip():
                name = os.path.relpath(path, ROOT).replace("/", "_") + ".%d" % i
                seeds[name] = body + "\n"
    return seeds


def mlir_dictionary(seeds):
    counts = collections.Counter()
    for text in seeds.values():
        counts.update(re.findall(r"[#!]?awq\.[a-z_]+|\b[a-z_]+\b(?= ?[=<(])|[a-z_]+", text))
    tokens = [t for t, _ in counts.most_common(400) if len(t) > 1]
    tokens += ["// -----", "tensor<?x", "xf16>", " : i64", "func.func", "-> "]
    return "".join('"%s"\n' % t.replace("\\", "\\\\").replace('"', '\\"') for t in tokens)


def bundle_seeds(out, awqc):
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "b.awqb")
        subprocess.run([awqc, "compile", os.path.join(ROOT, "examples/llama-block.mlir"),
                        "-o", path, "--no-weights", "--target", "sm_80", "--max-m", "64"],
                       check=True, stdout=subprocess.DEVNULL)
        data = open(path, "rb").read()
    write(out, "bundle", "llama-block-no-weights", b"\x00" + data)
    length = struct.unpack("<Q", data[:8])[0]
    header = json.loads(data[8:8 + length])
    manifest = header["__metadata__"]["manifest"]
    write(out, "bundle", "llama-block-manifest", b"\x01" + manifest.encode())


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out")
    parser.add_argument("--awqc", help="a built awqc, for the bundle seeds")
    args = parser.parse_args()
    out = args.out
    # Replace an earlier corpus (marked), never anything else.
    marker = os.path.join(out, ".awqc-fuzz-seeds")
    if os.path.exists(out):
        if os.path.exists(marker):
            shutil.rmtree(out)
        elif os.listdir(out):
            sys.exit("make-corpus: %s exists and is not a seed corpus this "
                     "script wrote; refusing to write into it" % out)
    os.makedirs(out, exist_ok=True)
    open(marker, "w").close()

    for name, data in plain_safetensors().items():
        write(out, "safetensors", name, data)

    # index-json: the shards the target writes are a, b (00001) and c (00002).
    shard1, shard2 = "model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors"
    write(out, "index-json", "valid", json.dumps(
        {"metadata": {"total_size": 15}, "weight_map": {"a": shard1, "b": shard1, "c": shard2}}))
    write(out, "index-json", "missing-tensor", json.dumps(
        {"weight_map": {"a": shard1, "c": shard2}}))
    write(out, "index-json", "wrong-shard", json.dumps(
        {"weight_map": {"a": shard2, "b": shard1, "c": shard2}}))

    tiny = open(os.path.join(ROOT, "examples/tiny-llama/model.json")).read()
    write(out, "model-description", "tiny-llama", tiny)
    small = json.loads(tiny)
    small["layers"] = small["layers"][:1]
    write(out, "model-description", "one-layer", json.dumps(small))

    for name, config in {
            "llama-awq": llama_config(quant=AWQ_QUANT),
            "mistral-gptq": llama_config("MistralForCausalLM", GPTQ_QUANT),
            "qwen2-awq-bias": llama_config("Qwen2ForCausalLM", dict(AWQ_QUANT, group_size=-1),
                                           attention_bias=True),
            "llama-head-dim": llama_config(quant=dict(AWQ_QUANT, bits=8, version="awqc-gemm"),
                                           head_dim=64, mlp_bias=True),
            "no-quantization": llama_config()}.items():
        write(out, "config-json", name, json.dumps(config))

    write(out, "quantization-config", "config-awq", b"\x00" + json.dumps(
        llama_config(quant=AWQ_QUANT)).encode())
    write(out, "quantization-config", "config-gptq", b"\x00" + json.dumps(
        {"quantization_config": GPTQ_QUANT}).encode())
    write(out, "quantization-config", "quantize-config", b"\x01" + json.dumps(
        {"bits": 8, "group_size": 64, "sym": True, "desc_act": False}).encode())
    write(out, "quantization-config", "quant-config", b"\x02" + json.dumps(
        {"w_bit": 3, "q_group_size": 32, "zero_point": True, "version": "awqc-gemm",
         "modules_to_not_convert": ["lm_head"]}).encode())

    # checkpoint: settings byte (CheckpointFuzzer.cpp), then model.safetensors.
    # 0x20: AWQ, 4-bit, group 128, zero point; 0x38: same, group -1;
    # 0x22: AWQ 3-bit g128 zp (awqc-gemm); 0x21: GPTQ 4-bit g128 sym; 0x13: GPTQ 8-bit g32.
    norm = [("model.norm.weight", "F16", [64], ints([0x3c00] * 64, "<H"))]
    write(out, "checkpoint", "awq4-g128", b"\x20" + safetensors(
        awq_layer("model.layers.0.self_attn.q_proj", 128, 16, 128, bias=True) + norm))
    write(out, "checkpoint", "awq4-per-column", b"\x38" + safetensors(
        awq_layer("l", 64, 8, 64)))
    write(out, "checkpoint", "awq3-g128", b"\x22" + safetensors(
        awq_layer("l", 128, 32, 128, bits=3)))
    write(out, "checkpoint", "gptq4-sym", b"\x21" + safetensors(
        gptq_layer("l", 128, 16, 128)))
    write(out, "checkpoint", "gptq8-g32", b"\x13" + safetensors(
        gptq_layer("l", 64, 8, 32, bits=8, g_idx=False)))

    if args.awqc:
        bundle_seeds(out, args.awqc)
    else:
        print("make-corpus: no --awqc: the bundle target gets no bundle seed",
              file=sys.stderr)
    write(out, "bundle", "manifest-empty", b"\x01{}")

    # kernel-cache: odd selector = stored payload, even = raw entry bytes.
    write(out, "kernel-cache", "store-small", b"\x41" + b"\x7fELF" + bytes(range(60)))
    write(out, "kernel-cache", "store-empty", b"\xff")
    write(out, "kernel-cache", "entry-foreign", b"\x00AWQCKC01\x01\x00\x00\x00" + b"0" * 64 +
          struct.pack("<Q", 4) + b"f" * 64 + b"data")

    seeds = mlir_seeds()
    # The pipeline's options, on a first line the target reads.
    block = open(os.path.join(ROOT, "examples/llama-block.mlir")).read()
    for i, options in enumerate(["families=gemv", "families=gemm gemm-min-m=3",
                                 "target=sm_90 sm-count=7", "target=sm_86 gemm-min-m=64"]):
        seeds["options.%d" % i] = "// awq-pipeline: %s\n%s" % (options, block)
    for name, text in seeds.items():
        write(out, "awq-pipeline", name, text)
    with open(os.path.join(out, "awq-pipeline.dict"), "w") as f:
        f.write(mlir_dictionary(seeds))

    for target in sorted(os.listdir(out)):
        if os.path.isdir(os.path.join(out, target)):
            print("make-corpus: %-20s %d seed(s)" % (
                target, len(os.listdir(os.path.join(out, target)))))


if __name__ == "__main__":
    main()
