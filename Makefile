# Two commands do everything on a fresh machine:
#   make run    install, build or update the index, launch the chat on http://127.0.0.1:7860
#   make test   install, then run the whole test suite
# The index and the trained model live in the home folder (ASSISTANT_HOME, by default
# ~/.local/share/assistant); INDEX=DIR puts the index elsewhere.
PYTHON ?= python3
VENV   ?= .venv
BIN     = $(VENV)/bin
INDEX  ?=
STAMP   = $(VENV)/.installed
INDEX_FLAG = $(if $(INDEX),--index "$(INDEX)")

.PHONY: install run index test browser eval clean

# The first install trains the default embedding model, once, with its own progress
# (assistant setup; about a minute on 2 cores); later runs find it ready.
install: $(STAMP)
	$(BIN)/assistant setup

# torch comes first and pinned: on these machines 2.13.0 is a local CPU wheel;
# any other version would pull gigabytes of CUDA packages.
$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet torch==2.13.0
	$(BIN)/pip install --quiet -e ".[test]"
	touch $(STAMP)

# An unchanged corpus makes this a sub-second no-op; a changed corpus or model is picked up.
index: install
	$(BIN)/assistant ingest --corpus corpus $(INDEX_FLAG)

run: index
	$(BIN)/assistant serve $(INDEX_FLAG)

# The browser tests drive Debian's chromium; it cannot be downloaded by playwright here.
# The network test traces the app with strace, to see every lookup of every thread.
browser:
	@{ command -v chromium && command -v strace; } >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium strace >/dev/null; \
	  else echo "The browser and network tests need Debian's chromium and strace: sudo apt-get install chromium strace"; exit 1; fi; }

# The test suite (two workers, one per core), then the eval gate: every suite under
# evals/ on the bundled corpus (a temporary index), failing on any metric below
# evals/thresholds.toml; then each swapped corpus under evals/swapped/ with its own
# questions; then a small scale level of the benchmark, so that it cannot break
# silently; then the wheel, installed outside the checkout (.ci/wheel-check).
test: install browser
	GRADIO_ANALYTICS_ENABLED=False $(BIN)/python -m pytest -n 2
	$(BIN)/assistant eval --corpus corpus --report test-artifacts/eval-report
	@for dir in evals/swapped/*/; do [ -d "$${dir}corpus" ] || continue; name=$$(basename $$dir); echo "Swapped corpus: $$name"; \
	  $(BIN)/assistant eval --corpus $${dir}corpus --evals $$dir --thresholds evals/swapped/thresholds.toml \
	    --split all --no-plots --report test-artifacts/eval-swapped-$$name || exit 1; done
	$(BIN)/python benchmarks/bench.py --only scale --scale-sizes 300 --out test-artifacts/bench-scale.json
	PYTHON=$(PYTHON) .ci/wheel-check

# Compare retrieval modes side by side (report under evals/reports/).
eval: index
	$(BIN)/assistant eval --modes bm25,dense,hybrid $(INDEX_FLAG)

clean:
	rm -rf $(VENV) .assistant .pytest_cache test-artifacts dist build
