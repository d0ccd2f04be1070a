# Two commands set everything up: `make run` and `make test`.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 8000
STAMP := $(VENV)/.installed

.PHONY: install run test lint bench clean

install: $(STAMP)

$(STAMP): requirements.lock
	@command -v $(PYTHON) >/dev/null || { echo "Python 3.11 is required ($(PYTHON) not found)"; exit 1; }
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet --requirement requirements.lock
	touch $(STAMP)

# The provider simulators run beside the server (the demo's card and PayPal methods use them)
# and stop with it.
run: install
	$(BIN)/python manage.py migrate --noinput
	$(BIN)/python -m simulators & simulators=$$!; \
	trap 'kill $$simulators 2>/dev/null' EXIT INT TERM; \
	PORT=$(PORT) $(BIN)/python manage.py seed_demo --pay-through-simulators --wait 15 && \
	$(BIN)/python manage.py runserver 127.0.0.1:$(PORT)

test: install
	$(BIN)/python -m pytest

# Rule resolution, integration deletion, capture/refund overhead, the back-office list pages on
# generated data, then checkout/healthz throughput under gunicorn; on SQLite and (when
# reachable) PostgreSQL. BENCH_SIZE=small for the reduced run CI makes. All run even when one
# fails; the status is the worst.
bench: install
	$(BIN)/python -m bench.rules_resolution; status=$$?; \
	$(BIN)/python -m bench.integration_deletion || status=1; \
	$(BIN)/python -m bench.capture_overhead || status=1; \
	$(BIN)/python -m bench.list_pages || status=1; \
	$(BIN)/python -m bench.throughput || status=1; \
	$(BIN)/python -m bench.load || status=1; \
	exit $$status

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy .

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
