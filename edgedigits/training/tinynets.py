"""Nets of few weights and few nodes, registered beside models.py's references (registry.register).
"""

from __future__ import annotations
