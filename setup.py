"""Packaging beyond what pyproject.toml can say: the wheel carries testsuites/ as `harness.testsuites`.

testsuites/ stays at the top of the checkout (DESIGN.md's layout) and is the one source of the
suites; an installed hilsec finds them inside its own package, so a lab that pip-installs it runs
the same suites (`hilsec run`, `pytest --pyargs harness.testsuites`).
"""

from setuptools import find_namespace_packages, setup

setup(
    packages=[*find_namespace_packages(include=["harness", "harness.*"]), "harness.testsuites"],
    package_dir={"harness.testsuites": "testsuites"},
)
