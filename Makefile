# The two commands a newcomer needs: `make demo` and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
DEMO_ROOT ?= .demo
STAMP  := $(VENV)/.installed-test
DEMO_STAMP := $(VENV)/.installed-demo

.PHONY: demo demo-rollback demo-stop test lint typecheck system-deps clean bench-startup

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# the demo needs the project with its backends; the tests also need the test tools
$(DEMO_STAMP): $(BIN)/python pyproject.toml
	$(BIN)/python -m pip install --quiet -e '.[all]'
	touch $(DEMO_STAMP)

$(STAMP): $(BIN)/python pyproject.toml
	$(BIN)/python -m pip install --quiet -e '.[test]' -e plugins/runbook-plugin-prometheus
	touch $(STAMP) $(DEMO_STAMP)

# openssh-server for the real sshd test fleet, sudo for `become`, util-linux `unshare` for
# the isolated fleet (one namespace set per host); installed only when missing.
system-deps:
	@if [ ! -x /usr/sbin/sshd ] || ! command -v sudo >/dev/null || ! command -v ssh-keygen >/dev/null \
		|| ! command -v unshare >/dev/null; then \
		echo "installing openssh-server, openssh-client, sudo and util-linux (needed by the ssh tests)"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq openssh-server openssh-client sudo util-linux >/dev/null; \
	fi
	@if [ ! -x /usr/bin/chromium ]; then \
		echo "installing chromium (the console's browser test drives it with Playwright)"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	fi

# --isolated: separate hosts (own address, sshd, hostname, /opt …) when run as root;
# fleet.py says in one line why not and falls back to the folder fleet otherwise.
demo: $(DEMO_STAMP)
	$(BIN)/runbook lint runbooks/
	$(BIN)/python examples/demo/fleet.py init --isolated --root $(DEMO_ROOT)
	$(BIN)/runbook run runbooks/monthly-update.yaml --yes \
		--vars-file $(DEMO_ROOT)/vars.yaml --var version=v2.4.0 \
		--inventory $(DEMO_ROOT)/inventory/hosts --runs-dir $(DEMO_ROOT)/runs \
		--report-dir $(DEMO_ROOT)/report; \
	status=$$?; $(BIN)/python examples/demo/fleet.py status --root $(DEMO_ROOT); \
	$(BIN)/python examples/demo/fleet.py stop --root $(DEMO_ROOT); exit $$status

demo-rollback: $(DEMO_STAMP)
	$(BIN)/python examples/demo/fleet.py init --isolated --root $(DEMO_ROOT)
	$(BIN)/runbook run runbooks/monthly-update.yaml --yes \
		--vars-file $(DEMO_ROOT)/vars.yaml --var version=v2.4.1-broken \
		--inventory $(DEMO_ROOT)/inventory/hosts --runs-dir $(DEMO_ROOT)/runs \
		--report-dir $(DEMO_ROOT)/report; \
	status=$$?; $(BIN)/python examples/demo/fleet.py status --root $(DEMO_ROOT); \
	$(BIN)/python examples/demo/fleet.py stop --root $(DEMO_ROOT); \
	test $$status -eq 3 && echo "rolled back as expected (exit 3)"

demo-stop:
	$(BIN)/python examples/demo/fleet.py stop --root $(DEMO_ROOT)

lint: $(STAMP)
	$(BIN)/ruff check runbook_engine tests benchmarks examples plugins
	$(BIN)/runbook lint runbooks/

typecheck: $(STAMP)
	$(BIN)/mypy runbook_engine

test: system-deps $(STAMP) lint typecheck
	$(BIN)/python -m pytest -n 2 -p no:cacheprovider -q tests plugins/runbook-plugin-prometheus/tests; \
	status=$$?; if [ $$status -eq 5 ]; then echo "no tests ran: failing" >&2; exit 1; fi; exit $$status

# `runbook lint`'s cold start beside `python -c pass` and ansible-lint, which pins its own
# ansible-core and so lives in a venv of its own (docs/dev/performance.md)
PEERS := .venv-peers
$(PEERS)/bin/ansible-lint:
	$(PYTHON) -m venv $(PEERS)
	$(PEERS)/bin/python -m pip install --quiet ansible-lint

bench-startup: $(STAMP) $(PEERS)/bin/ansible-lint
	env -u PYTHONDONTWRITEBYTECODE $(BIN)/python benchmarks/bench_startup.py --rounds 15 --ansible-lint $(PEERS)/bin/ansible-lint

clean:
	if [ -x $(BIN)/python ] && [ -e $(DEMO_ROOT)/fleet.json ]; then $(BIN)/python examples/demo/fleet.py stop --root $(DEMO_ROOT); fi
	if [ -L $(DEMO_ROOT) ]; then rm -rf "$$(readlink -f $(DEMO_ROOT))"; fi
	rm -rf $(VENV) $(PEERS) $(DEMO_ROOT) .runbook .pytest_cache .mypy_cache .ruff_cache
