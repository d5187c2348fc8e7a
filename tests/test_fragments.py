from urllib.parse import unquote

from index.fragments import link_to_quote, text_fragment

ARTICLE = (
    "Rockets hit the base at dawn. The drones were launched from north-east of Baghdad, police said "
    "on Monday night in a statement. Rockets hit the base again at noon & nobody was hurt."
)


def test_a_long_quote_is_named_by_its_first_and_last_words():
    start = ARTICLE.find("The drones")
    end = ARTICLE.find("statement.") + len("statement.")
    directive = text_fragment(ARTICLE, start, end)
    first, last = directive.removeprefix(":~:text=").split(",")
    assert unquote(first) == "The drones were launched" and unquote(last) == "night in a statement."


def test_reserved_characters_are_encoded_and_a_repeated_start_gets_a_prefix():
    start = ARTICLE.rfind("Rockets")
    directive = text_fragment(ARTICLE, start, len(ARTICLE)).removeprefix(":~:text=")
    prefix, rest = directive.split("-,", 1)
    assert unquote(prefix) == "in a statement."  # the words before the quote
    assert "&" not in rest and "%26" in rest and unquote(rest.split(",")[0]) == "Rockets hit the base"
    assert text_fragment("A north-east wind.", 0, 18) == ":~:text=A%20north%2Deast%20wind."


def test_the_link_keeps_the_page_and_replaces_any_fragment():
    link = link_to_quote("https://news.example/a?id=7#top", ARTICLE, 0, 29)
    assert link.startswith("https://news.example/a?id=7#:~:text=Rockets%20hit")
    assert link_to_quote("https://news.example/a", ARTICLE, 5, 5) == "https://news.example/a"
