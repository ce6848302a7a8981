# `make demo`: set up .venv and track the sample clip. `make test`: set up and run every test (the `cluster`
# extra, Ray, included: the tracker batch tests start a local Ray and a simulated two-node cluster).
# `make reid-weights`: train the packaged ResNet ReID model again from ../shared/data (fixed seed).
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test setup bench clean reid-weights

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

# The packaged ResNet (tracker/assets/resnet18_x0_25_reid.{onnx,pt}): train-reid's default recipe, distilled from the
# packaged OSNet on every detected person of the four annotated dev sequences and MOT17-mini, plus their gt identities.
# PETS09-S2L1's frames are vtest.avi, so it gets a folder of links: gt, seqinfo.ini and the video side by side.
# REID_CACHE keeps the cut crops and OSNet's embeddings of them (benchmarks/appearance.py cuts the same ones into
# benchmarks/.cache/reid-crops). With a virtualenv of your own: make reid-weights BIN=/path/to/venv/bin STAMP=
SHARED ?= ../shared/data
REID_SEED ?= 0
REID_DATA := build/reid-data
REID_CACHE ?= build/reid-cache
REID_ASSET := tracker/assets/resnet18_x0_25_reid

reid-weights: $(STAMP)
	mkdir -p $(REID_DATA)/PETS09-S2L1
	ln -sfn $(abspath $(SHARED))/MOT15/PETS09-S2L1/gt $(REID_DATA)/PETS09-S2L1/gt
	ln -sf $(abspath $(SHARED))/MOT15/PETS09-S2L1/seqinfo.ini $(REID_DATA)/PETS09-S2L1/seqinfo.ini
	ln -sf $(abspath $(SHARED))/vtest.avi $(REID_DATA)/PETS09-S2L1/vtest.avi
	$(BIN)/tracker train-reid $(REID_DATA)/PETS09-S2L1 $(SHARED)/MOT15/TUD-Campus $(SHARED)/MOT15/KITTI-17 \
		$(SHARED)/MOT16/MOT16-11 $(SHARED)/MOT17-mini/train/MOT17-02-FRCNN $(SHARED)/MOT17-mini/train/MOT17-04-FRCNN \
		--init random --seed $(REID_SEED) --out build/reid --cache $(REID_CACHE) \
		--onnx $(REID_ASSET).onnx --half-checkpoint $(REID_ASSET).pt

clean:
	rm -rf runs build *.egg-info
