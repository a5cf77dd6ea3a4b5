"""Fixtures for every layer of tests/, from plugin modules in ``tests.builders``."""

pytest_plugins = ["tests.builders.cds_fixtures"]
