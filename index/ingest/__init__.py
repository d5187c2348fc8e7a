"""Ingestion: articles from feeds and links into the article store.

`http` fetches (one client: timeouts, a size cap, bounded redirects, retries with backoff),
`feeds` reads RSS/Atom safely, `extract` takes an article page's text, title and date,
`urls` gives the canonical form of a link, and `pipeline` puts them together for
`sanad-index add` and `update`.
"""
