"""The building blocks every layer uses: errors, paths and environment variables, hashing, torch files,
devices and the process group, the lock, progress and logging, parameter declarations, the generic
registry and plug-in loader, the weights files the harness knows.
"""
