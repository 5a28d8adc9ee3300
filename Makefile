# Thin wrapper: every real rule lives in CMakeLists.txt.
BUILD      ?= build
TEST_BUILD ?= build-asan
FUZZ_BUILD ?= build-fuzz
JOBS       ?= $(shell nproc)

.PHONY: all deps build run test bench soak fuzz clean

all: build

deps:
	@tools/deps.sh

build: deps
	@cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
	@cmake --build $(BUILD) -j $(JOBS) --target larkgw

run: build
	@tools/run.sh $(BUILD)/larkgw

test: deps
	@cmake -S . -B $(TEST_BUILD) -DCMAKE_BUILD_TYPE=Debug -DLARKGW_SANITIZE=ON >/dev/null
	@cmake --build $(TEST_BUILD) -j $(JOBS)
	@cd $(TEST_BUILD) && ctest --output-on-failure -j $(JOBS)

bench: build
	@SCENARIO=log bench/run.sh $(BUILD)/larkgw
	@SCENARIO=echo bench/run.sh $(BUILD)/larkgw
	@bench/reload.sh $(BUILD)/larkgw
	@bench/stream.sh $(BUILD)/larkgw
	@bench/redis.sh $(BUILD)/larkgw
	@bench/workers.sh $(BUILD)/larkgw
	@bench/ws.sh $(BUILD)/larkgw
	@bench/cpu.sh $(BUILD)/larkgw

# 20 minutes over both transports with a reload every 10 s (SOAK_SECONDS, SOAK_RATE).
soak: build
	@LARKGW_BIN=$(abspath $(BUILD))/larkgw python3 tests/soak/soak.py

fuzz:
	@tools/deps.sh clang
	@CC=clang cmake -S . -B $(FUZZ_BUILD) -DLARKGW_FUZZ=ON >/dev/null
	@cmake --build $(FUZZ_BUILD) -j $(JOBS)
	@tools/fuzz.sh $(FUZZ_BUILD)

clean:
	rm -rf $(BUILD) $(TEST_BUILD) $(FUZZ_BUILD)
