# JSScada collector. `make run` and `make test` are all a newcomer needs.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

# Working locations (absolute, so supervisord and its children agree).
export SCADA_DATA_DIR ?= $(CURDIR)/data
export SCADA_RUN_DIR ?= $(CURDIR)/run
export SCADA_LOG_DIR ?= $(CURDIR)/logs
export SCADA_API_HOST ?= 127.0.0.1
export SCADA_API_PORT ?= 8000
export SCADA_PYTHON := $(CURDIR)/$(BIN)/python
# The simulator (virtual-plc) departs from the manual in ASCII frames; the sample plant's plcs.csv
# lists those deviations per PLC (column deviations), so a real PLC beside them gets the manual.
export SCADA_SIMULATOR ?= true
# Which stages this host runs (README "Two hosts"): ROLE=all (default) every stage; ROLE=central the buffer,
# writer and gateway; ROLE=edge the pollers (and the simulator unless SCADA_SIMULATOR=false). supervisord
# starts a program only where its role's variable (SCADA_CENTRAL, SCADA_POLLERS) is true.
ROLE ?= all
ifeq ($(ROLE),all)
export SCADA_CENTRAL := true
export SCADA_POLLERS := true
else ifeq ($(ROLE),central)
export SCADA_CENTRAL := true
export SCADA_POLLERS := false
SCADA_SIMULATOR := false
else ifeq ($(ROLE),edge)
export SCADA_CENTRAL := false
export SCADA_POLLERS := true
else
$(error ROLE=$(ROLE): one of all, central, edge)
endif

SUPERVISORCTL := $(BIN)/supervisorctl -c supervisord.conf -s unix://$(SCADA_RUN_DIR)/supervisor.sock

.PHONY: install bytecode run stop status test lint bench clean

install: $(STAMP)

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[dev]'
	@touch $(STAMP)

# Bytecode for the project's modules, even where PYTHONDONTWRITEBYTECODE is set: without it every stage
# compiles its modules at each start (a poller then takes ~1 s instead of ~0.2 s, and more memory). The
# pollers run with -OO from a bytecode folder of their own (services/poller/interpreter.py; ~10 s the
# first time, for the standard library).
bytecode:
	@$(BIN)/python -m compileall -q common services >/dev/null
	@$(BIN)/python -m services.poller.interpreter

run: install bytecode
	@mkdir -p "$(SCADA_DATA_DIR)" "$(SCADA_LOG_DIR)" && mkdir -p -m 0700 "$(SCADA_RUN_DIR)"
	@if [ ! -f "$(SCADA_DATA_DIR)/scada.db" ]; then \
		$(BIN)/scada db init >/dev/null && $(BIN)/scada db import data/sample; fi
	@$(BIN)/scada supervisor-conf >/dev/null
	@if [ -S "$(SCADA_RUN_DIR)/supervisor.sock" ] && $(SUPERVISORCTL) pid >/dev/null 2>&1; then \
		echo "already running; updating"; $(SUPERVISORCTL) update; \
	else $(BIN)/scada strays --stop && $(BIN)/supervisord -c supervisord.conf; fi
	@sleep 3; $(SUPERVISORCTL) status || true
	@echo
	@echo "  role       $(ROLE) (all, central: buffer writer gateway, edge: pollers and simulator)"
	@if [ "$(SCADA_CENTRAL)" = true ]; then \
		echo "  dashboard  http://$(SCADA_API_HOST):$(SCADA_API_PORT)/"; \
		echo "  API        http://$(SCADA_API_HOST):$(SCADA_API_PORT)/api/polling/status"; \
		echo "  API docs   http://$(SCADA_API_HOST):$(SCADA_API_PORT)/docs"; \
		echo "  historian  $(SCADA_DATA_DIR)/tag_data.db (view TAG_DATA; scada history)"; fi
	@echo "  logs       $(SCADA_LOG_DIR)/"
	@echo "  control    $(SUPERVISORCTL) status"
	@echo "  live data  $(BIN)/scada tap"
	@echo "  stop       make stop"

# The pollers first, all at once: supervisord's own shutdown stops one program group after another, and
# each poller is a group of its own (a 100-PLC plant took over 100 s).
stop:
	@if [ -S "$(SCADA_RUN_DIR)/supervisor.sock" ] && $(SUPERVISORCTL) pid >/dev/null 2>&1; then \
		$(BIN)/scada pollers stop >/dev/null || true; \
		$(SUPERVISORCTL) shutdown; \
		for i in $$(seq 1 120); do [ -S "$(SCADA_RUN_DIR)/supervisor.sock" ] || break; sleep 0.5; done; \
	else echo "not running"; fi

status:
	@$(SUPERVISORCTL) status

# Two workers (CI has 2 cores): a file's tests stay together on one worker; most of the wall time is the
# end-to-end plants waiting on their windows, so two run side by side.
test: install bytecode
	@$(BIN)/python -m pytest -q -n 2

# The end-to-end benchmarks (~15 minutes): the whole pipeline at increasing rates, then the long chaos
# run (every stage killed three times over; nothing may be lost); see docs/BENCHMARKS.md.
bench: install
	@$(BIN)/python -m bench.pipeline
	@$(BIN)/python -m bench.chaos

lint: install
	@$(BIN)/ruff check common services tests bench
	@$(BIN)/mypy

clean: stop
	rm -rf run logs
