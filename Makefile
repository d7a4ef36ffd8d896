# citytwin: every target installs what it needs through `setup`; `make help` lists them.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# the embedded default data (data/README.md); ../shared/data/... or any file may override them
PARTNERSHIPS ?= data/twin_cities.csv.xz
OPEN_DATA ?= data/open
# `make data OPEN_DATA=` builds without the open tables (and says so); a missing folder is an error
OPEN_DATA_ARGS = $(if $(OPEN_DATA),--open-data $(OPEN_DATA),--no-open-data)
CITY ?= Sejong, KR
HOST ?= 127.0.0.1
PORT ?= 8000
# `make bench BENCH_ARGS="--batch-parts --batch-rows 5000"`: see benchmarks/run.py --help
BENCH_ARGS ?=
TWIN := $(BIN)/twin
STAMP := $(VENV)/.installed

.DEFAULT_GOAL := help
.PHONY: help setup data train tune evaluate demo test test-all lint bench kernels nightly serve lock clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-10s %s\n", $$1, $$2}'

$(STAMP): requirements.lock requirements-dev.lock pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip setuptools wheel
	$(BIN)/python -m pip install --quiet -r requirements.lock -r requirements-dev.lock
	$(BIN)/python -m pip install --quiet --no-deps --no-build-isolation -e .
	$(BIN)/python -m compileall -q matcher training  # the bytecode an installed wheel has
	touch $(STAMP)

setup: $(STAMP) ## make .venv and install pinned dependencies (LightFM compiles, about a minute)

data: setup ## resolve the partnerships to GeoNames, join the open tables, build city features into data/processed/
	$(TWIN) data build --partnerships $(PARTNERSHIPS) $(OPEN_DATA_ARGS)

train: setup ## train the hybrid model on data/processed/ and promote it to models/current
	$(TWIN) train

tune: setup ## seeded hyper-parameter search on the validation split, then train
	$(TWIN) train --tune

evaluate: setup ## evaluate the current model beside every baseline (warm and cold splits)
	$(TWIN) evaluate

demo: setup ## set up, build the data, train, and show who Sejong should twin with
	$(TWIN) data build --partnerships $(PARTNERSHIPS) $(OPEN_DATA_ARGS)
	$(TWIN) train
	$(TWIN) with "$(CITY)"

test: setup ## run the test suite (offline, small data)
	$(BIN)/python -m pytest -q

lint: setup ## ruff
	$(BIN)/ruff check matcher training tests benchmarks

bench: setup ## speed and memory benchmarks on the real snapshot (needs `make data train`)
	$(BIN)/python benchmarks/run.py $(BENCH_ARGS)

kernels: setup ## render the batch's compiled dense kernel from the signal table (matcher/ranking/fused_dense.py)
	$(BIN)/python -m matcher.ranking.kernelgen

serve: setup ## the web app and JSON API, http://127.0.0.1:8000/ by default (HOST=, PORT=; docs/WEB.md)
	$(TWIN) serve --host $(HOST) --port $(PORT)

nightly: setup ## the nightly job: ingest, validate, train, gate, promote, prune
	$(TWIN) nightly --partnerships $(PARTNERSHIPS) $(OPEN_DATA_ARGS)

lock: setup ## rewrite requirements.lock from the installed environment
	$(BIN)/python -m pip freeze --exclude-editable | grep -v -E '^(ruff|pytest|hypothesis|iniconfig|pluggy|Pygments|sortedcontainers|httpx2|httpcore2|truststore)==' > requirements.lock.new && mv requirements.lock.new requirements.lock

clean: ## remove built data and models (keeps .venv)
	rm -rf data/interim data/processed models/*
