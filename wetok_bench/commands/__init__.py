"""What the CLI's reading and scoring commands do: ``score`` (:mod:`.score`, its image pairs in
:mod:`.score_pairs`), ``check`` (:mod:`.check`) and ``check --record`` (:mod:`.record`).
"""
