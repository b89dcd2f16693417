"""Per-category breakdown: PSNR, SSIM and LPIPS means over the images showing each label.

The runner copies a COCO image's ``categories`` and ``supercategories`` (``;``-separated,
from ``instances_val2017.json``) into ``per_image.csv``. An image counts once in every label
it shows (a photo of a person with a dog is in ``person`` and in ``animal``); an image with no
annotation is in ``(none)``. Means are plain means over those images (``inf`` PSNR of lossless
images makes the mean ``inf``). The report shows one table per metric with a row per
supercategory and a column per tokenizer; the per-category (80 COCO categories) and
per-supercategory numbers of every tokenizer go to ``categories/<group>.csv``.

rFID per supercategory comes from the summary's ``rfid_by_supercategory`` (the runner keeps
float64 Inception statistics per supercategory, :mod:`wetok_bench.engine.groups`): one table, a
row per supercategory, ``†`` where it is unreliable (fewer images than the feature dimension,
the main rFID's rule: every supercategory of COCO val2017 but ``person``, 2,693 images).
"""

from __future__ import annotations

import io
from typing import Any

import pandas as pd

from wetok_bench.metrics.registry import get_metric, metric_names, summary_keys
from wetok_bench.report.leaderboard import Leaderboard
from wetok_bench.report.tables import Cell, Table, format_number

#: per-image CSV column -> name of one label of it
LEVELS = {"supercategories": "supercategory", "categories": "category"}
NONE_LABEL = "(none)"


def per_image_keys() -> list:
    """The per-image metrics averaged per label: the registry's per-image summary keys."""
    return [key for key in summary_keys() if key.per_image]


def category_frame(board: Leaderboard) -> pd.DataFrame | None:
    """Long table: tokenizer, job, level, label, images, and each metric's mean; None without labels."""
    records: list[dict[str, Any]] = []
    for row in board.rows:
        try:
            frame = row.job.per_image()
        except (OSError, ValueError):
            continue
        if frame is None:
            continue
        for column, level in LEVELS.items():
            if column not in frame.columns:
                continue
            labels = frame[column].fillna("").astype(str).str.split(";")
            exploded = frame.assign(_label=labels).explode("_label")
            exploded["_label"] = exploded["_label"].replace("", NONE_LABEL)
            for label, group in exploded.groupby("_label", sort=True):
                record = {"tokenizer": row.tokenizer, "job": row.job.folder.name, "level": level,
                          "label": label, "images": int(group["key"].nunique())}
                for metric in (key.name for key in per_image_keys()):
                    if metric in group.columns:
                        record[metric] = float(group[metric].astype(float).mean())
                records.append(record)
    return pd.DataFrame.from_records(records) if records else None


def category_csv(frame: pd.DataFrame) -> str:
    """The long table as CSV (full precision)."""
    buffer = io.StringIO()
    frame.to_csv(buffer, index=False, lineterminator="\n")
    return buffer.getvalue()


def supercategory_tables(board: Leaderboard, frame: pd.DataFrame) -> list[Table]:
    """One table per metric: a row per supercategory (most images first), a column per tokenizer."""
    supers = frame[frame["level"] == "supercategory"]
    if supers.empty:
        return []
    tokenizers = [r.tokenizer for r in board.rows if r.tokenizer in set(supers["tokenizer"])]
    counts = supers.groupby("label")["images"].max()  # the same for every job of one image selection
    order = sorted(counts.index, key=lambda label: (-counts[label], label))
    tables = []
    for key in per_image_keys():
        metric, header, decimals = key.name, key.header, key.decimals
        if metric not in supers.columns or supers[metric].isna().all():
            continue
        values = supers.pivot_table(index="label", columns="tokenizer", values=metric, aggfunc="first")
        rows = []
        for label in order:
            cells = [Cell(label, label), Cell(format_number(float(counts[label]), 0), int(counts[label]))]
            for tokenizer in tokenizers:
                value = values.at[label, tokenizer] if tokenizer in values.columns and label in values.index else None
                value = None if value is None or pd.isna(value) else float(value)
                cells.append(Cell(format_number(value, decimals), value))
            rows.append(cells)
        tables.append(Table(
            title=f"{board.title}: {header} per COCO supercategory",
            headers=["Supercategory", "Images", *tokenizers],
            numeric=[False, True, *([True] * len(tokenizers))],
            rows=rows,
            notes=[
                "Mean over the images that show the supercategory (an image counts in each it shows; "
                f"{NONE_LABEL}: no annotation). Per category: categories/{board.slug}.csv.",
            ],
            table_id=f"categories-{board.slug}-{metric}",
        ))
    return tables + group_tables(board)


def group_tables(board: Leaderboard) -> list[Table]:
    """One table per set metric computed per supercategory (rFID), from the summaries' group blocks."""
    tables = []
    for name in metric_names():
        cls = get_metric(name)
        if getattr(cls, "per_group", False):
            table = group_table(board, cls.headline_key(), cls.group_block())
            if table is not None:
                tables.append(table)
    return tables


def group_table(board: Leaderboard, key, block_name: str) -> Table | None:
    """Set metric ``key`` (rFID) per supercategory (the summaries' ``block_name``), ``†`` where
    unreliable; None when no job of the board has it."""
    blocks = {r.tokenizer: r.job.summary.get(block_name) for r in board.rows}
    blocks = {name: block for name, block in blocks.items() if block}
    if not blocks:
        return None
    images: dict[str, int] = {}
    for block in blocks.values():
        for label, entry in block.items():
            images[label] = max(images.get(label, 0), int(entry.get("images") or 0))
    rows = []
    for label in sorted(images, key=lambda lab: (-images[lab], lab)):
        cells = [Cell(label, label), Cell(format_number(float(images[label]), 0), images[label])]
        for block in blocks.values():
            entry = block.get(label) or {}
            value = entry.get(key.name)
            cells.append(Cell(format_number(value, key.decimals), value, mark="†" if entry.get("unreliable") else ""))
        rows.append(cells)
    return Table(
        title=f"{board.title}: {key.label} per COCO supercategory",
        headers=["Supercategory", "Images", *blocks],
        numeric=[False, True, *([True] * len(blocks))],
        rows=rows,
        notes=[f"{key.label} of the reconstructions of the images that show the supercategory against the same "
               "images' originals (an image counts in each it shows; images without annotation in none).",
               f"† unreliable: fewer images than the feature dimension ({key.label} is biased); "
               "- : fewer than 2 images."],
        table_id=f"categories-{board.slug}-{key.name}",
    )
