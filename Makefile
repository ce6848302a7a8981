# `make demo`: set up .venv and track the sample clip. `make test`: set up and run every test (the `cluster`
# extra, Ray, included: the tracker batch tests start a local Ray and a simulated two-node cluster).
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test setup bench clean

$(STAMP): pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q torch==2.14.1 torchvision==0.29.1
	$(BIN)/pip install -q -e ".[dev,cluster]"
	touch $(STAMP)

setup: $(STAMP)

demo: $(STAMP)
	$(BIN)/tracker track samples/pets09_s2l1_150.mp4 --out runs/demo

test: $(STAMP)
	$(BIN)/python -m pytest -q

# Peers for the benchmarks: the `bench` extra, then BoxMOT without its dependencies (its metadata pins
# opencv-python<5 and filterpy<2 and would downgrade the stack; its trackers run on what is installed).
BOXMOT := boxmot==25.0.0
BENCH_STAMP := $(VENV)/.bench-installed

$(BENCH_STAMP): $(STAMP)
	$(BIN)/pip install -q -e ".[dev,bench]"
	$(BIN)/pip install -q --no-deps $(BOXMOT)
	touch $(BENCH_STAMP)

bench: $(BENCH_STAMP)
	$(BIN)/python benchmarks/accuracy.py
	$(BIN)/python benchmarks/association.py
	$(BIN)/python benchmarks/pipeline.py

clean:
	rm -rf runs build *.egg-info
