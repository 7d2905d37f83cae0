"""The node catalog: every node type, its ports, parameters and documentation."""

from opsflow.catalog.registry import Catalog, default_catalog
from opsflow.catalog.spec import NodeSpec

__all__ = ["Catalog", "NodeSpec", "default_catalog"]
