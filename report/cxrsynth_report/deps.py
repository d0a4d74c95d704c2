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
    """Fails early, naming the package, when a module the renderer needs is absent. umap is
    only located here (importing it compiles numba code: seconds) and imported when a UMAP is
    drawn, through require() again."""
    import importlib.util

    for module in PACKAGES:
        if module == "umap":
            if importlib.util.find_spec(module) is None:
                raise MissingPackage(
                    f"Python module 'umap' is not installed for {_python()}; install the Debian "
                    f"package {PACKAGES[module]} (apt-get install {PACKAGES[module]}, or "
                    "scripts/install_deps.sh)"
                )
        else:
            require(module)
    require("matplotlib").use("Agg")


def _python():
    import sys

    return sys.executable or "python3"
