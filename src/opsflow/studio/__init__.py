"""Opsflow Studio: the desktop designer. The only package that imports PySide6."""
