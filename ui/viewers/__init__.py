"""Document viewers, one per kind of document, behind the common `Viewer` interface (viewers/base.py)."""
