# A thin front door to CMake: every real rule lives in CMakeLists.txt.
BUILD ?= build
PREFIX ?= /usr/local
CMAKE_FLAGS ?=
JOBS ?= $(shell nproc)

.PHONY: all run test test-sanitize install bench clean

all: $(BUILD)/CMakeCache.txt
	@cmake --build $(BUILD) -j $(JOBS)

$(BUILD)/CMakeCache.txt:
	@cmake -S . -B $(BUILD) $(CMAKE_FLAGS)

# Builds, then watches the current directory (Ctrl-C stops it).
run: all
	./$(BUILD)/inowatch watch .

# Builds and runs every test; the last line is "N passed, N failed".
test: all
	@scripts/run-tests $(BUILD)

# The same suite under AddressSanitizer and UndefinedBehaviorSanitizer.
test-sanitize:
	@$(MAKE) --no-print-directory test BUILD=build-sanitize CMAKE_FLAGS="-DINOWATCH_SANITIZE=ON $(CMAKE_FLAGS)"

install: all
	@cmake --install $(BUILD) --prefix $(PREFIX)

bench: all
	@bench/run $(BUILD)
	@bench/extra $(BUILD)

clean:
	rm -rf build build-sanitize
