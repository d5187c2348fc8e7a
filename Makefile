# Two commands for a newcomer: `make run` and `make test` (see README.md).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test install index lint clean

# The CPU build of torch is pinned first: an unpinned torch pulls a multi-GB CUDA build.
$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet torch==2.13.0
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

# Prepares the default model on first use, then rebuilds only if the articles changed.
index: install
	$(BIN)/sanad-index build

# Serves Telegram when TELEGRAM_BOT_TOKEN is set; otherwise asks questions in the terminal.
run: index
	@if [ -n "$$TELEGRAM_BOT_TOKEN" ]; then \
		exec $(BIN)/sanad-bot; \
	else \
		echo "TELEGRAM_BOT_TOKEN is not set: answering in the terminal instead (Ctrl-D to quit)."; \
		exec $(BIN)/sanad-index ask; \
	fi

test: install
	$(BIN)/python -m pytest

lint: install
	$(BIN)/ruff check index bot tests bench

clean:
	rm -rf $(VENV) .sanad .pytest_cache .hypothesis
