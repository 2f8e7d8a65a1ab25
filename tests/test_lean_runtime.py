"""The runtime never pulls in TensorFlow or Keras: the Pi does not have them."""

import subprocess
import sys

RUNTIME_MODULES = [
    "impsy",
    "impsy.cli",
    "impsy.model",
    "impsy.model.litert",
    "impsy.dataset",
    "impsy.logs",
]


def test_importing_the_runtime_and_loading_a_model_imports_no_tensorflow():
    from conftest import SHIPPED_9D

    code = (
        f"import sys, importlib\n"
        f"for m in {RUNTIME_MODULES!r}: importlib.import_module(m)\n"
        f"from impsy.model import load_model\n"
        f"load_model({str(SHIPPED_9D)!r}).step(__import__('numpy').zeros(9))\n"
        f"heavy = sorted(m for m in sys.modules if m.split('.')[0] in ('tensorflow', 'keras', 'torch'))\n"
        f"print(heavy)\n"
    )
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert run.stdout.strip() == "[]"
