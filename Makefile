# Set-up lives here so that the README's two commands work on a fresh machine:
#   make demo   trains the small RDN preset on the embedded photos (set-up included)
#   make test   runs the whole test suite (set-up included)
#   make notebook  opens notebooks/ in JupyterLab (installs requirements-notebook.txt into the venv)
#   make app    the browser app comparing models on your own images (installs requirements-app.txt)
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
# CPU wheel pinned by measurement (see README "Paddle version"); installed only when the venv
# cannot already import paddle (AI Studio's preinstalled GPU Paddle is seen through
# --system-site-packages and left alone).
PADDLE_CPU ?= paddlepaddle==3.0.0

.PHONY: setup test demo notebook app clean-venv

setup: $(VENV)/.installed

$(VENV)/.installed: requirements.txt pyproject.toml Makefile
	$(PYTHON) -m venv --system-site-packages $(VENV)
	$(PY) -m pip install -q -r requirements.txt
	$(PY) -m pip install -q --no-deps -e .
	$(PY) -c "import paddle" 2>/dev/null || $(PY) -m pip install -q "$(PADDLE_CPU)"
	$(PY) -c "import paddle; print('paddle', paddle.__version__)"
	touch $@

$(VENV)/.test-installed: $(VENV)/.installed requirements-test.txt requirements-onnx.txt requirements-onnx.txt
	$(PY) -m pip install -q -r requirements-test.txt
	touch $@

test: $(VENV)/.test-installed
	$(PY) -m pytest -q tests

demo: setup
	$(PY) -m paddle_sr.train demo

$(VENV)/.notebook-installed: $(VENV)/.installed requirements-notebook.txt
	$(PY) -m pip install -q -r requirements-notebook.txt
	touch $@

notebook: $(VENV)/.notebook-installed
	$(PY) -m jupyter lab notebooks/

# APP_ARGS: e.g. make app APP_ARGS="--server-name 0.0.0.0 --port 8080"
app: setup
	$(PY) -m pip install -q -r requirements-app.txt
	$(PY) -m paddle_sr.app $(APP_ARGS)

clean-venv:
	rm -rf $(VENV)
