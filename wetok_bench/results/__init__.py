"""Result files and what they mean: the typed ``summary.json`` / ``manifest.json`` records
(:mod:`.records`), the one finalize that every path builds a summary with (:mod:`.finalize`),
the numbers of a result by key (:mod:`.values`), grid images (:mod:`.grid_files`) and the
baseline files (:mod:`.baselines`).
"""
