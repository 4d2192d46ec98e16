"""Flowfill's small SD3-architecture text-to-image model: data, networks, training, export, evaluation."""
