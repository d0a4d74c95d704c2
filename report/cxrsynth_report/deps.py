"""Third-party modules, imported lazily so a missing one is a clear error, not a traceback."""
import importlib

# module name -> Debian package that provides it
PACKAGES = {
    "numpy": "python3-numpy",
    "matplotlib": "python3-matplotlib",
    "PIL": "python3-pil",
    "umap": "umap-learn",
}


class MissingPackage(Exception):
    pass


def require(module):
    try:
        return importlib.import_module(module)
    except ImportError as e:
        raise MissingPackage(
            f"Python module '{module}' is not importable by {_python()} ({e}); "
            f"install the Debian package {PACKAGES.get(module, module)} "
            f"(apt-get install {PACKAGES.get(module, module)}, or scripts/install_deps.sh)"
        ) from None


def check_all():
    """Imports every module the renderer needs; raises MissingPackage naming the first absent."""
    for module in PACKAGES:
        require(module)
    mpl = require("matplotlib")
    mpl.use("Agg")


def _python():
    import sys

    return sys.executable or "python3"
