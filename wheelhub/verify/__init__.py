"""``wheelhub test``: install the wheelhouse into clean runtime containers and import it.

Named ``verify`` so pytest does not take the package for tests.
"""
