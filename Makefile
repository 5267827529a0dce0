# ramcrypt: one entry point from nothing to a verdict.
#   make demo        install deps if missing, build, boot the guest, show ramcrypt at work
#   make check       every test: host unit tests and the guest selftests on both kernel lanes
#                    (KERNEL=6.12 or KERNEL=6.1: one lane; DEBUG=1: the debug kernels)
#   make attack      the full attack evaluation: RAM dumps, aeskeyfind; writes docs/security/REPORT.md
#                    (ATTACK_ARGS="--dumps 20": a reduced run, written to build/attack/REPORT-reduced.md)
#   make bench-crypto  native cipher speed against OpenSSL -> docs/bench/crypto.md
#   make bench       guest benchmarks (fault costs, slowdown, memory) -> docs/bench/
#   make mutate      break the module on purpose, one way at a time: the tests must catch each
#   make install     the tool, libramcrypt, headers, ramcrypt.pc, man page, completion and the
#                    systemd/udev files (PREFIX=/usr/local, DESTDIR=); make uninstall removes them
#   make deb         the Debian packages (dpkg-buildpackage -b -us -uc), moved to build/deb
#   make check-deploy  the packages installed with apt on a Debian bookworm guest booted with
#                    systemd on the test kernel: dkms, ramcrypt-key.service, nginx protected
#                    through the drop-in, RAM dumps (DEPLOY_ARGS="--without-drop-in": must fail)
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

# Install: no tests and no guest workloads, so it needs neither GTest nor QEMU nor a
# kernel tree. uninstall removes exactly what install puts in DESTDIR/PREFIX: the list
# comes from a staging install of the same build.
PREFIX ?= /usr/local
INSTALL_BUILD := build/install
INSTALL_CMAKE := cmake -S userspace -B $(INSTALL_BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo \
	-DCMAKE_INSTALL_PREFIX=$(PREFIX) -DBUILD_TESTING=OFF -DRAMCRYPT_WORKLOADS=OFF

install-build:
	@$(INSTALL_CMAKE) >/dev/null
	@cmake --build $(INSTALL_BUILD) -j$(JOBS)

install: install-build
	DESTDIR=$(DESTDIR) cmake --install $(INSTALL_BUILD)

uninstall: install-build
	@rm -rf $(INSTALL_BUILD)/staging
	@DESTDIR=$(CURDIR)/$(INSTALL_BUILD)/staging cmake --install $(INSTALL_BUILD) >/dev/null
	@cd $(INSTALL_BUILD)/staging && find . ! -type d | sed 's|^\.||' | sort | \
		while read -r f; do \
			if [ -e "$(DESTDIR)$$f" ] || [ -L "$(DESTDIR)$$f" ]; then \
				echo "-- Removing: $(DESTDIR)$$f"; rm -f "$(DESTDIR)$$f"; fi; \
		done
	@cd $(INSTALL_BUILD)/staging && find . -mindepth 1 -type d | sort -r | sed 's|^\.||' | \
		while read -r d; do case $$d in */ramcrypt|*/ramcrypt/*) \
			rmdir "$(DESTDIR)$$d" 2>/dev/null || true;; esac; done
	@rm -rf $(INSTALL_BUILD)/staging

# dpkg-buildpackage writes to ..: the packages are moved to build/deb.
DEB_VERSION := $(shell dpkg-parsechangelog -S Version 2>/dev/null)
deb:
	dpkg-buildpackage -b -us -uc
	mkdir -p build/deb
	mv ../ramcrypt_$(DEB_VERSION)_*.changes ../ramcrypt_$(DEB_VERSION)_*.buildinfo \
		../ramcrypt*_$(DEB_VERSION)_*.deb ../libramcrypt*_$(DEB_VERSION)_*.deb build/deb/
	@ls build/deb

check-deploy: deps deb
	@scripts/check-deploy --kernel $(LANE) $(DEPLOY_ARGS)

clean:
	rm -rf build
	$(MAKE) -C kmod KDIR=$(KDIR) clean

.PHONY: all deps kernel kmod userspace selftests check demo bench-crypto bench mutate clean \
	install-build install uninstall deb check-deploy
