import json

from index.documents import load_corpus


def load(tmp_path):
    warnings = []
    docs = load_corpus(tmp_path, warn=warnings.append)
    return {d.id: d for d in docs}, warnings


def test_txt_title_is_a_short_first_line_otherwise_the_file_name(tmp_path):
    (tmp_path / "titled.txt").write_text("عنوان الخبر\nنص الخبر الأول.\n", encoding="utf-8")
    (tmp_path / "untitled.txt").write_text("جملة كاملة تنتهي بنقطة.\nوجملة أخرى.\n", encoding="utf-8")
    docs, _ = load(tmp_path)
    assert (docs["titled.txt"].title, docs["titled.txt"].text) == ("عنوان الخبر", "نص الخبر الأول.")
    assert docs["untitled.txt"].title == "untitled"
    assert docs["untitled.txt"].text.startswith("جملة كاملة")
    assert docs["titled.txt"].lang == "ar"


def test_text_is_nfc_with_clean_whitespace(tmp_path):
    (tmp_path / "a.md").write_text(
        "# Title\r\n\r\nCafe\u0301   one\u00a0two.\u200f  \r\n\r\n\r\n\r\nNext.", encoding="utf-8"
    )
    docs, _ = load(tmp_path)
    assert docs["a.md"].title == "Title"
    assert docs["a.md"].text == "Café one two.\n\nNext."


def test_html_keeps_the_main_text_only(tmp_path):
    (tmp_path / "page.html").write_text(
        "<html><head><title>الخبر</title><script>var x = 1;</script></head><body>"
        "<nav>القائمة</nav><article><h1>الخبر</h1><p>الفقرة &amp; الأولى.</p><p>الثانية.</p></article>"
        "<footer>حقوق</footer></body></html>",
        encoding="utf-8",
    )
    docs, _ = load(tmp_path)
    assert docs["page.html"].title == "الخبر"
    assert docs["page.html"].text == "الفقرة & الأولى.\n\nالثانية."


def test_jsonl_rows_become_documents_and_bad_rows_are_reported(tmp_path):
    rows = [
        {"id": "x1", "title": "T", "text": "Body one.", "url": "https://e.x/1", "date": "2021-11-09"},
        {"title": "no text"},
    ]
    lines = [json.dumps(r) for r in rows] + ["{not json"]
    (tmp_path / "news.jsonl").write_text("\n".join(lines), encoding="utf-8")
    docs, warnings = load(tmp_path)
    assert list(docs) == ["news.jsonl#x1"]
    assert docs["news.jsonl#x1"].url == "https://e.x/1" and docs["news.jsonl#x1"].lang == "en"
    assert len(warnings) == 2 and all("news.jsonl line" in w for w in warnings)


def test_empty_and_unreadable_files_warn_and_the_rest_loads(tmp_path):
    (tmp_path / "empty.txt").write_text("  \n", encoding="utf-8")
    (tmp_path / "binary.txt").write_bytes(b"\xff\xfe\x00bad")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "good.txt").write_text("Fine text.", encoding="utf-8")
    (tmp_path / "ignored.pdf").write_bytes(b"%PDF")
    docs, warnings = load(tmp_path)
    assert list(docs) == ["sub/good.txt"]
    assert any("empty.txt" in w for w in warnings) and any("binary.txt" in w for w in warnings)


def test_nested_html_blocks_give_each_paragraph_once_and_div_text_is_kept(tmp_path):
    (tmp_path / "page.html").write_text(
        "<html><body><article>"
        "<div>Baghdad (Reuters) - the dateline sits in a div.</div>"
        "<p>First paragraph.</p>"
        "<blockquote><p>A quoted statement.</p></blockquote>"
        "<ul><li><p>A listed fact.</p></li><li>Another fact.</li></ul>"
        "<div><div>Text in nested divs,</div> and text after them.</div>"
        "</article></body></html>",
        encoding="utf-8",
    )
    docs, _ = load(tmp_path)
    assert docs["page.html"].text.split("\n\n") == [
        "Baghdad (Reuters) - the dateline sits in a div.",
        "First paragraph.",
        "A quoted statement.",
        "A listed fact.",
        "Another fact.",
        "Text in nested divs,",
        "and text after them.",
    ]


def test_a_jsonl_row_with_half_an_emoji_is_repaired_with_a_warning(tmp_path):
    good = json.dumps({"id": "ok", "text": "Fine."})
    broken = '{"id": "cut", "title": "Cut \\ud83d", "text": "Rockets fell \\ud83d on the base."}'
    (tmp_path / "feed.jsonl").write_text(good + "\n" + broken + "\n", encoding="utf-8")
    docs, warnings = load(tmp_path)
    assert docs["feed.jsonl#cut"].text == "Rockets fell on the base."
    assert docs["feed.jsonl#cut"].title == "Cut"
    assert [w for w in warnings if "feed.jsonl line 2" in w] == warnings and len(warnings) == 1
