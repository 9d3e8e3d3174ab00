# Set-up and entry points. `make demo` and `make test` each create .venv on first use.
PYTHON ?= python3
VENV := .venv
# What the first install step asks pip for; override it to pick another torch build.
TORCH ?= torch==2.13.0
STAMP := $(VENV)/.installed

.PHONY: demo test clean

# torch==2.13.0 is installed first and on its own because that pin resolves to the CPU
# build on local disk; the package itself only asks for torch>=2.2.
$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --upgrade pip
	$(VENV)/bin/pip install --quiet $(TORCH)
	$(VENV)/bin/pip install --quiet -e '.[test]'
	touch $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/lognet demo

test: $(STAMP)
	$(VENV)/bin/python -m pytest -q -p no:cacheprovider

clean:
	rm -rf $(VENV) build src/*.egg-info
