"""The ``wetok-bench`` command line (:mod:`.main`): a thin layer over the library, one module per command group.
"""
