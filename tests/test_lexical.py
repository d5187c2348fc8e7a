from index.lexical import LexicalIndex, fold_arabic, tokens


def test_arabic_folding_removes_marks_and_unifies_letter_forms():
    assert fold_arabic("المسيّرات") == "المسيرات"  # shadda
    assert fold_arabic("إيـــران") == "ايران"  # hamza-under alef, tatweel
    assert fold_arabic("أَحْمَد") == "احمد"  # hamza-over alef, harakat
    assert fold_arabic("یک") == "يك"  # Persian yeh and keheh
    assert fold_arabic("المدينه") == "المدينة" and fold_arabic("مستشفى") == "مستشفي"


def test_word_forms_share_one_key():
    assert tokens("الطائرات المسيّرة") == tokens("طائرة المسيرات")
    assert tokens("مستشفى المدينة") == tokens("مستشفي المدينه")  # alef maqsura, ta marbuta
    assert tokens("The drones were launched") == tokens("drone launches")


def test_a_conjunction_before_the_article_matches_both_readings():
    assert set(tokens("المتفجرات")) <= set(tokens("والمتفجرات"))  # "and the explosives"
    assert set(tokens("الوالدين")) <= set(tokens("والدين"))  # "parents", not "and the religion"


def test_the_name_ali_is_evidence_but_the_preposition_is_not():
    assert tokens("على") == [] and tokens("علي") != []
    assert tokens("علی") == tokens("علي")  # typed on a Persian keyboard


def test_function_words_are_not_evidence():
    assert tokens("من أين انطلقت؟") == tokens("انطلقت")
    assert tokens("Where were they from?") == []


def test_bm25_ranks_the_matching_chunk_first_and_round_trips(tmp_path):
    texts = ["انطلقت المسيّرات من شمال شرقي بغداد", "the drones were launched from the north", "خبر آخر تماماً"]
    index = LexicalIndex.build(texts)
    assert index.scores(tokens("من أين انطلقت الطائرات المسيرة؟")).argmax() == 0
    assert index.scores(tokens("Where was the drone launched?")).argmax() == 1
    assert not index.scores(tokens("كلمات غائبة")).any()
    index.save(tmp_path / "lexical")
    again = LexicalIndex.load(tmp_path / "lexical")
    assert (again.scores(tokens("بغداد")) == index.scores(tokens("بغداد"))).all()
