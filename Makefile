# The two commands a newcomer needs: `make demo` (the whole flow on the built-in KWS example)
# and `make test` (what CI runs). Both install what they need first.
PY ?= python3
APT_PKGS = espeak-ng flite festival festvox-kallpc16k festvox-kdlpc16k festvox-us-slt-hts gcc-arm-none-eabi libnewlib-arm-none-eabi qemu-system-arm

.PHONY: demo test deps bench

deps: .deps-stamp
.deps-stamp: setup.cfg
	@missing=""; for p in $(APT_PKGS); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ] && command -v apt-get >/dev/null; then \
	  echo "installing:$$missing"; (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing) >/dev/null \
	  || echo "warning: could not install$$missing; tests needing them will skip"; fi
	$(PY) -m pip install -q -e '.[test]'
	@touch $@

demo: deps
	$(PY) -m qsim.cli demo

test: deps
	$(PY) -m pytest -q -m "not slow" -p no:cacheprovider

bench: deps
	$(PY) bench/run_all.py
