"""Cellular modules: the profiles of widely used modules (data, from public AT manuals)."""
