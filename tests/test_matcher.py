"""The sentence stage: the ranker (or a CrossEncoder named in the config) scores the candidate
sentences and decides which passage comes first, built around the sentence it chose."""

import dataclasses

import pytest
import torch

from index.build import build_from_config, build_index
from index.config import load_config
from index.documents import Document
from index.matcher import PASSAGE_CHARS, MatcherError
from index.search import Searcher
from index.split import sentence_spans
from tests.conftest import write_config

MARKER = "zebra"
COUNCIL = [
    Document(
        "council.txt",
        "Council budget",
        None,
        "2026-11-02",
        "en",
        "The city council met on Monday to discuss the budget for next year.\n\n"
        "The council members argued about the budget for the new bridge for three hours.\n\n"
        f"A {MARKER} escaped from the city zoo while the council met, and keepers found it near the river.\n\n"
        "The mayor said the budget would be voted on in December, after a public hearing.",
    ),
    Document(
        "market.txt",
        "Market prices",
        None,
        "2026-11-03",
        "en",
        "Prices at the central market rose again this week, traders said.\n\n"
        "Tomatoes cost twice as much as a month ago, after floods hit the farms in the south.",
    ),
]


def tiny_cross_encoder(folder, model_dir):
    """A two-layer CrossEncoder trained here for a few steps to score high any sentence that
    holds MARKER: a reranker whose preference is known, and unlike the retriever's."""
    from sentence_transformers import CrossEncoder
    from transformers import AutoTokenizer, BertConfig, BertForSequenceClassification

    torch.manual_seed(0)
    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    shape = dict(hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=64)
    model = BertForSequenceClassification(BertConfig(vocab_size=len(tokenizer), num_labels=1, **shape))
    sentences = [
        "The council met on Monday.",
        "Prices rose at the market.",
        "The mayor spoke about the budget.",
        "Floods hit the farms in the south.",
        "The bridge will cost more than planned.",
    ]
    pairs = [(q, s) for q in ("When did the council meet?", "What rose?") for s in sentences]
    pairs += [(q, f"A {MARKER} {s[0].lower()}{s[1:]}") for q, s in pairs]
    labels = torch.tensor([0.0] * (len(pairs) // 2) + [1.0] * (len(pairs) // 2))
    optimiser = torch.optim.AdamW(model.parameters(), lr=3e-3)
    batch = tokenizer([q for q, _ in pairs], [s for _, s in pairs], padding=True, return_tensors="pt")
    for _ in range(60):
        loss = torch.nn.functional.binary_cross_entropy_with_logits(model(**batch).logits[:, 0], labels)
        loss.backward()
        optimiser.step(), optimiser.zero_grad()
    model.save_pretrained(folder), tokenizer.save_pretrained(folder)
    CrossEncoder(str(folder), device="cpu")  # loads as one
    return folder


def searcher_with(tmp_path, models, matcher: str, **search) -> Searcher:
    config = load_config(write_config(tmp_path, search={"matcher": matcher, **search}))
    build_index(config, models, COUNCIL)
    return Searcher(config, models)


def test_a_named_cross_encoder_decides_which_passage_comes_first(tmp_path, models, model_dir):
    question = "When did the council meet to discuss the budget?"
    plain = searcher_with(tmp_path / "off", models, "off").ask(question)
    assert plain.answered and MARKER not in plain.passages[0].text  # retrieval's choice: the council's lead
    reranker = tiny_cross_encoder(tmp_path / "tiny", model_dir)
    settings = {"matcher_retrieval_weight": 0.0, "matcher_min_score": -50.0}
    answer = searcher_with(tmp_path / "named", models, str(reranker), **settings).ask(question)
    first = answer.passages[0]
    assert MARKER in first.highlight and first.highlight in first.text  # its sentence, in bold
    assert first.doc_id == "council.txt" and first.paragraph == 3
    assert len({(p.doc_id, p.start) for p in answer.passages}) == len(answer.passages)  # no passage twice


def test_passages_are_built_around_the_chosen_sentence_and_stay_short(tmp_path, models):
    config = load_config(write_config(tmp_path))
    build_from_config(config, models, warn=lambda _: None)
    answer = Searcher(config, models).ask("Where were the drones launched from?", k=5)
    assert answer.answered
    for p in answer.passages:
        assert p.highlight in p.text
        assert len(p.text) <= PASSAGE_CHARS or len(sentence_spans(p.text)) == 1  # longer: one long sentence
    spans = sorted((p.doc_id, p.start, p.end) for p in answer.passages)
    assert all(a[0] != b[0] or a[2] <= b[1] for a, b in zip(spans, spans[1:]))  # none overlaps another


def test_a_matcher_that_cannot_be_loaded_is_a_clear_error(tmp_path, models):
    config = load_config(write_config(tmp_path, search={"matcher": str(tmp_path / "no-such-model")}))
    build_index(dataclasses.replace(config, search=dataclasses.replace(config.search, matcher="off")), models, COUNCIL)
    with pytest.raises(MatcherError, match="search.matcher"):
        Searcher(config, models)


def test_the_ranker_refuses_another_embedding_model(tmp_path, models):
    # Its signals are the default model's cosines: with another model they would mean nothing.
    config = load_config(write_config(tmp_path, model={"name": "intfloat/multilingual-e5-base"}))
    off = dataclasses.replace(config, search=dataclasses.replace(config.search, ranker="off"))
    build_index(off, models, COUNCIL)
    with pytest.raises(MatcherError, match="search.ranker: default"):
        Searcher(config, models)


def test_the_retired_default_matcher_says_what_replaced_it(tmp_path, models):
    config = load_config(write_config(tmp_path, search={"matcher": "default"}))
    build_index(dataclasses.replace(config, search=dataclasses.replace(config.search, matcher="off")), models, COUNCIL)
    with pytest.raises(MatcherError, match="search.ranker"):
        Searcher(config, models)
