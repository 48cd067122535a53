"""Benchmark scripts: they print figures (ours next to the naive way); tests never time anything."""
