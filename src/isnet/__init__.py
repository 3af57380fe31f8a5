"""isnet: facial landmark estimation with the Information-Synthesis Network."""

from isnet.api import Face, LandmarkDetector
from isnet.model import ISNet, ISNetConfig, load

__all__ = ["Face", "ISNet", "ISNetConfig", "LandmarkDetector", "load"]
__version__ = "0.1.0"
