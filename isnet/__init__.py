"""isnet: facial landmark estimation with the Information-Synthesis Network."""

from isnet.detect import LandmarkDetector
from isnet.model import ISNet, ISNetConfig, load

__all__ = ["ISNet", "ISNetConfig", "LandmarkDetector", "load"]
__version__ = "0.1.0"
