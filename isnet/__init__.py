"""isnet: facial landmark estimation with the Information-Synthesis Network."""

from isnet.model import ISNet, ISNetConfig, load

__all__ = ["ISNet", "ISNetConfig", "load"]
__version__ = "0.1.0"
