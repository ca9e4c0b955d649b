"""Test support, one helper per job (not part of the package).

* :mod:`.processes` - free ports, a server process that is up when its URL answers;
* :mod:`.hub` - a real ``wheelhub serve`` and raw HTTP requests to it;
* :mod:`.dists` - tiny valid wheels and sdists, and wheelhouses with a manifest;
* :mod:`.pip` - pip into a clean venv, with no configuration but the index given;
* :mod:`.cli` - the ``wheelhub`` CLI in-process, through its real error boundary.
"""
