"""Repository-level pytest configuration: pytester for the plugin's own tests.

The lstm_props plugin itself is registered through the ``pytest11`` entry point of the
installed package (``pip install -e .``), so it is active wherever the package is installed.
"""

pytest_plugins = ["pytester"]
