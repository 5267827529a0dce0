# ramcrypt: one entry point from nothing to a verdict.
#   make demo        install deps if missing, build, boot the guest, show ramcrypt at work
#   make check       every test: host unit tests and the guest selftests on both kernel lanes
#                    (KERNEL=6.12 or KERNEL=6.1: one lane; DEBUG=1: the debug kernels)
#   make attack      the full attack evaluation: RAM dumps, aeskeyfind; writes docs/security/REPORT.md
#                    (ATTACK_ARGS="--dumps 20": a reduced run, written to build/attack/REPORT-reduced.md)
#   make bench-crypto  native cipher speed against OpenSSL -> docs/bench/crypto.md
#   make bench       guest benchmarks (fault costs, slowdown, memory) -> docs/bench/
#   make mutate      break the module on purpose, one way at a time: the tests must catch each
KFLAGS := $(if $(filter 1,$(DEBUG)),--debug)
# Kernel lanes: make check runs each; every other target uses the first.
KERNEL ?= 6.12 6.1
LANE := $(firstword $(KERNEL))
export RAMCRYPT_KERNEL := $(LANE)
KDIR = $(shell scripts/build-kernel --kernel $(LANE) $(KFLAGS) --print-dir)
KSRC = $(shell scripts/build-kernel --kernel $(LANE) --print-src)
JOBS := $(shell nproc)

all: kmod userspace selftests

deps:
	@scripts/setup-deps

kernel: deps
	@scripts/build-kernel $(KFLAGS)

kmod: kernel
	$(MAKE) -C kmod KDIR=$(KDIR)

userspace: deps
	@cmake -S userspace -B build/host -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
	@cmake --build build/host -j$(JOBS)

selftests: kernel
	$(MAKE) -C selftests KSRC=$(KSRC) OUT=$(CURDIR)/build/selftests/$(LANE)

check: deps
	@scripts/check $(KFLAGS) $(addprefix --kernel ,$(KERNEL))

demo: deps
	@scripts/demo

bench-crypto: userspace
	@scripts/bench-crypto

attack: kmod userspace
	@scripts/attack $(ATTACK_ARGS)

bench: kmod userspace
	@scripts/bench

mutate: kmod userspace selftests
	@scripts/mutate

clean:
	rm -rf build
	$(MAKE) -C kmod KDIR=$(KDIR) clean

.PHONY: all deps kernel kmod userspace selftests check demo bench-crypto bench mutate clean
