# hilsec: two commands do all set-up on a fresh Debian machine.
#   make demo   install, build the reference firmware, prepare what the suites boot besides the
#               device (OVMF, shim, GRUB: `hilsec image prepare`), run the suites, write reports
#   make test   install, then run the harness's own tests (unit + QEMU integration)

PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
HILSEC := $(VENV)/bin/hilsec
REPORTS ?= reports

APT_PACKAGES := qemu-system-x86 qemu-system-arm u-boot-qemu u-boot-tools tshark busybox-static \
	openssl openssh-client cpio xz-utils iproute2 libusb-1.0-0 python3-venv chromium poppler-utils \
	kamailio kamailio-tls-modules sip-tester socat \
	ovmf squashfs-tools e2fsprogs mtd-utils device-tree-compiler \
	ser2net tcpdump syslinux syslinux-common mtools dosfstools \
	osmo-stp osmo-hlr osmo-mgw osmo-msc osmo-bsc osmo-bts gcc libc6-dev

.PHONY: demo test test-extended unit bench-twins knob-matrix install apt venv lint clean

demo: install
	$(HILSEC) image build --variant hardened
	$(HILSEC) image build --variant vulnerable
	$(HILSEC) image prepare
	-$(HILSEC) run --device-profile device_profiles/qemu-reference-hardened.yaml \
		--lab-config lab_configs/local-qemu.yaml --report-dir $(REPORTS)/hardened
	-$(HILSEC) run --device-profile device_profiles/qemu-reference-vulnerable.yaml \
		--lab-config lab_configs/local-qemu.yaml --report-dir $(REPORTS)/vulnerable
	@$(PY) -m harness.report.demo_summary $(REPORTS)/hardened $(REPORTS)/vulnerable

# Every test but the bench-twin runs: the unit tests, then the integration tests (QEMU, the Osmocom
# cell, kamailio, the bench path), each two at a time; an integration module stays on one worker
# (its boards share a module fixture), and most of their time is spent waiting on the boards.
test: install
	$(HILSEC) image prepare
	$(PY) -m pytest -p no:cacheprovider tests -m unit -n 2
	$(PY) -m pytest -p no:cacheprovider tests -m "not unit and not bench_twin and not extended" -n 2 --dist loadfile

# The integration tests a loaded CI machine upsets (the resilience knobs' timing, the SIP
# registrar's TLS log): on a quiet machine.
test-extended: install
	$(PY) -m pytest -p no:cacheprovider tests -m extended -v

# The fast unit tests only (a few minutes): what `pytest tests` runs by default.
unit: install
	$(PY) -m pytest -p no:cacheprovider tests -m unit

# The whole suite on both bench twins (the hardened one with the console-lockout knob): every
# verdict equals the emulated run's (about 20 min; not in make test, for its time).
bench-twins: install
	$(HILSEC) image prepare
	HILSEC_BOTH_TWINS=1 $(PY) -m pytest -p no:cacheprovider tests -m bench_twin -v

# Every weakness knob against the whole suite (about 2.5 h on 2 cores: 28 full-suite runs of about 10 min, two at a time): which verdicts each knob changes.
knob-matrix: install
	HILSEC_KNOB_MATRIX=1 $(PY) -m pytest -p no:cacheprovider tests/test_knob_matrix.py -v

install: apt venv

apt:
	@if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		missing=$$(for p in $(APT_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || echo $$p; done); \
		lists=$$(find /var/lib/apt/lists -name '*Packages*' 2>/dev/null | head -1); \
		if [ -n "$$missing" ] || [ -z "$$lists" ]; then \
			echo "apt-get update; apt-get install $$missing"; \
			apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
		fi; \
	else echo "not root: skipping apt-get; need: $(APT_PACKAGES)"; fi

venv: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[dev,labgrid]'
	# pyserial and labgrid's pyserial-labgrid install the same `serial` package: keep labgrid's fork
	# (pyserial 3.5's API) on disk whatever order pip wrote them in
	$(PY) -m pip install -q --force-reinstall --no-deps 'pyserial-labgrid>=3.4.0.1'
	touch $@

lint: venv
	$(VENV)/bin/ruff check harness testsuites tests benchmarks
	$(VENV)/bin/ruff format --check harness testsuites tests benchmarks

clean:
	rm -rf $(VENV) $(REPORTS) build *.egg-info
