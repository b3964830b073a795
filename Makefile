# make run   – set up, prepare the database, train if needed, start the assistant
# make test  – set up and run every check (lint, pytest, rasa validate/test, NLU hold-out)
SHELL := /bin/bash
.DEFAULT_GOAL := help
VENV := .venv
PY := $(VENV)/bin/python
RASA := $(VENV)/bin/rasa
export TF_CPP_MIN_LOG_LEVEL ?= 2
export SQLALCHEMY_WARN_20 ?= 0
# No telemetry or error reports leave this machine.
export RASA_TELEMETRY_ENABLED ?= false

.PHONY: help setup db train run shell actions test lint pytest validate test-stories test-nlu bench clean

help:
	@echo "make run    start the assistant (REST on :5005, actions on :5055)"
	@echo "make test   run every check"
	@echo "make shell  chat in the terminal"
	@echo "make train  train models/current.tar.gz if data or config changed"

setup:
	@bash scripts/setup.sh

db: setup
	@$(PY) -m actions.db init

train: setup
	@bash scripts/train_if_changed.sh

run: db train
	@$(PY) scripts/serve.py

# The action server runs in the background and is stopped however the shell ends.
shell: db train
	@$(RASA) run actions --actions actions --port 5055 >var/actions.log 2>&1 & \
	  actions_pid=$$!; trap 'kill $$actions_pid 2>/dev/null' EXIT INT TERM; \
	  $(RASA) shell --model models/current.tar.gz --endpoints endpoints.yml; \
	  status=$$?; exit $$status

lint: setup
	$(VENV)/bin/ruff check actions addons tests scripts bench

validate: setup
	$(RASA) data validate

test-stories: train
	$(RASA) test core --model models/current.tar.gz --stories tests/stories \
	  --fail-on-prediction-errors --out results/core

# Held-out (own style) and realistic (independent writer, near-domain out_of_scope)
# intent accuracy; aggregate numbers only, report in results/nlu/check_nlu.json.
test-nlu: train
	$(PY) scripts/check_nlu.py --min-holdout 0.93 --min-realistic 0.80

pytest: db train
	$(VENV)/bin/pytest -q

test: setup lint validate train test-stories test-nlu pytest

bench: db
	$(PY) -m bench.run

clean:
	rm -rf models results var/*.db
