"""isnet: facial landmark estimation with the Information-Synthesis Network."""

# The one place the version is written: pyproject.toml reads it from here.
__version__ = "0.1.0"

from isnet.api import Face, LandmarkDetector  # noqa: E402
from isnet.model import ISNet, ISNetConfig, load  # noqa: E402

__all__ = ["Face", "ISNet", "ISNetConfig", "LandmarkDetector", "__version__", "load"]
