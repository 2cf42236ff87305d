"""A register of property rights and natural-resource assets (不动产/自然资源统一确权登记)."""

__version__ = "0.1.0"
