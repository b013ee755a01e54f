"""Labels and metadata for ``compress`` and ``decompress``: read from a CSV or JSON file,
an array (``.npy``, IDX), a mapping, or the images' folders; assigned to images by their
stored names as they are compressed; written back out beside decompressed images in the
same form, so that ``compress --labels`` of what ``decompress --labels-out`` wrote stores
the same labels.

A labels file (docs/guide.md, "Labels and metadata"):

- **CSV**: a header row with a ``name`` column (the stored name: ``3/00018.png``), an
  optional ``label`` column (integers, or class names) and any other columns, stored as
  text metadata (an empty cell: no key);
- **JSON**: an object from each name to its label (an integer or a class name) or to an
  object of ``label`` (optional) and metadata; or ``{"classes": [...], "images": {...}}``
  to fix the class names and their order;
- **an array** of integers, one per image in order (``.npy``, IDX labels such as MNIST's
  ``t10k-labels-idx1-ubyte``), for array sources.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import json
import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Iterable

import numpy as np

from . import arrays
from .errors import InputError
from .format import fields as per_image
from .fsio import check_output_file, open_regular

FOLDERS = "folders"  # labels= for the first folder of each stored name
MAX_LABELS_FILE = 2**30  # bytes of a CSV or JSON labels file read
_INTEGER = re.compile(r"^[+-]?\d+$")


@dataclasses.dataclass
class Labelling:
    """Labels and metadata by stored name (or, from an array, by position)."""

    source: str  # the file it came from (or "labels"), for messages
    entries: dict[str, tuple[int | str | None, dict | None]] | None  # name -> (label, meta)
    by_position: np.ndarray | None = None  # an array of labels, one per image in order
    classes: tuple[str, ...] | None = None  # given explicitly (JSON "classes")
    folders: bool = False  # the first folder of each name

    @property
    def has_labels(self) -> bool:
        return self.folders or self.by_position is not None or any(
            label is not None for label, _ in (self.entries or {}).values())

    @property
    def has_meta(self) -> bool:
        return any(meta for _, meta in (self.entries or {}).values())

    def names_of_classes(self) -> set[str]:
        """The class names its labels use (text labels)."""
        return {label for label, _ in (self.entries or {}).values() if isinstance(label, str)}


def load(labels, *, arrays_given: bool = False) -> Labelling:
    """``compress``'s ``labels=``: ``"folders"``, a path of a labels file (CSV, JSON, or an
    array for array sources), or a mapping from names to labels or dicts."""
    if isinstance(labels, str) and labels == FOLDERS:
        return Labelling("folders", None, folders=True)
    if isinstance(labels, Mapping):
        return _from_json_value(dict(labels), "labels")
    if not isinstance(labels, (str, os.PathLike)):
        raise InputError("labels must be 'folders', a labels file (.csv, .json, .npy, IDX) "
                         f"or a dict from names to labels, not {type(labels).__name__}")
    path = Path(labels)
    shown = os.fspath(labels)
    kind = arrays.array_kind(path)
    if kind is not None:
        if not arrays_given:
            raise InputError(f"{shown}: labels from an array go with arrays (.npy, IDX) to "
                             "compress, one label per image in order; give image files a "
                             "CSV or JSON labels file")
        values = (arrays.read_idx_labels(path) if kind == "idx" else
                  np.load(path, allow_pickle=False))
        if values.ndim != 1 or values.dtype.kind not in "iu":
            raise InputError(f"{shown}: a labels array must be one-dimensional integers, not "
                             f"{values.dtype} {values.shape}")
        return Labelling(shown, None, by_position=values.astype(np.int64))
    suffix = path.suffix.lower()
    if suffix not in (".csv", ".json"):
        raise InputError(f"{shown}: a labels file is .csv or .json (or an array: .npy, IDX)")
    with open_regular(path) as f:
        data = f.read(MAX_LABELS_FILE + 1)
    if len(data) > MAX_LABELS_FILE:
        raise InputError(f"{shown} is larger than {MAX_LABELS_FILE} bytes")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise InputError(f"{shown} is not UTF-8 text") from None
    if suffix == ".csv":
        return _from_csv(text, shown)
    try:
        value = json.loads(text)
    except json.JSONDecodeError as e:
        raise InputError(f"{shown}: not valid JSON ({e})") from None
    return _from_json_value(value, shown)


def _from_csv(text: str, shown: str) -> Labelling:
    rows = csv.reader(io.StringIO(text, newline=""))
    try:
        header = next(rows)
    except StopIteration:
        raise InputError(f"{shown} is empty: it needs a header row with a 'name' column") \
            from None
    except csv.Error as e:
        raise InputError(f"{shown}: {e}") from None
    if "name" not in header or len(set(header)) != len(header):
        raise InputError(f"{shown}: the first row must name the columns, one of them 'name' "
                         "(and 'label' for labels), each once")
    at_name = header.index("name")
    at_label = header.index("label") if "label" in header else None
    entries: dict = {}
    try:
        for line, row in enumerate(rows, start=2):
            if not row:
                continue
            if len(row) != len(header):
                raise InputError(f"{shown}, line {line}: {len(row)} cells for {len(header)} "
                                 "columns")
            name = row[at_name]
            label: int | str | None = None
            if at_label is not None:
                label = _label_value(row[at_label].strip())
            meta = {key: value for k, (key, value) in enumerate(zip(header, row))
                    if k not in (at_name, at_label) and value != ""}
            _add(entries, name, label, meta or None, f"{shown}, line {line}")
    except csv.Error as e:
        raise InputError(f"{shown}: {e}") from None
    return _checked(Labelling(shown, entries))


def _label_value(cell: str) -> int | str | None:
    if cell == "":
        return None
    return int(cell) if _INTEGER.match(cell) else cell


def _from_json_value(value, shown: str) -> Labelling:
    classes = None
    if isinstance(value, dict) and "images" in value and set(value) <= {"classes", "images"}:
        classes = value.get("classes")
        value = value["images"]
        if classes is not None:
            try:
                classes = per_image.classes_for_writing(classes)
            except InputError as e:
                raise InputError(f"{shown}: classes: {e}") from None
    if not isinstance(value, dict):
        raise InputError(f"{shown}: a JSON labels file is an object from image names to labels "
                         "(or to objects of a label and metadata)")
    entries: dict = {}
    for name, entry in value.items():
        where = f"{shown}, {name!r}"
        meta = None
        if isinstance(entry, dict):
            meta = {k: v for k, v in entry.items() if k != "label"} or None
            entry = entry.get("label")
        if entry is not None and not (isinstance(entry, str) and entry) and (
                isinstance(entry, bool) or not isinstance(entry, int)):
            raise InputError(f"{where}: a label is an integer or a class name, not {entry!r}")
        _add(entries, name, entry, meta, where)
    return _checked(Labelling(shown, entries, classes=classes))


def _add(entries: dict, name, label, meta, where: str) -> None:
    if not isinstance(name, str) or not name:
        raise InputError(f"{where}: an empty name")
    if name in entries:
        raise InputError(f"{where}: {name!r} is given twice")
    if meta is not None:
        try:
            per_image.meta_for_writing([meta], 1)
        except InputError as e:
            raise InputError(f"{where}: {e}") from None
    entries[name] = (label, meta)


def _checked(labelling: Labelling) -> Labelling:
    """Labels all integers or all class names, never both; class names known to the
    classes given."""
    kinds = {type(label) for label, _ in labelling.entries.values() if label is not None}
    if len(kinds) > 1:
        raise InputError(f"{labelling.source}: the labels mix integers and class names; give "
                         "one or the other")
    if labelling.classes is not None:
        unknown = sorted(labelling.names_of_classes() - set(labelling.classes))
        if unknown:
            raise InputError(f"{labelling.source}: label {unknown[0]!r} is not among the "
                             "classes it lists")
    return labelling


class Assigner:
    """Gives each image compressed its label and metadata from a ``Labelling``, by its
    stored name (or position), with the class names the archive will hold: ``stored``
    (an archive appended to) followed by the new ones, sorted; ``folders``: the top
    folders of every name to be compressed (for ``labelling.folders``)."""

    def __init__(self, labelling: Labelling, stored: tuple[str, ...] | None,
                 stored_labelled: bool | None, folders: Iterable[str] = ()):
        self.labelling = labelling
        self.seen: set[str] = set()
        self.position = 0
        used = set(folders) if labelling.folders else labelling.names_of_classes()
        if labelling.classes is not None:
            given = labelling.classes
            if stored and given[: len(stored)] != stored:
                raise InputError(f"{labelling.source}: its classes must start with the "
                                 "archive's: " + ", ".join(stored))
            self.classes: tuple[str, ...] | None = given
        elif used:
            if stored_labelled and not stored:
                raise InputError(f"{labelling.source}: the archive's labels are integers "
                                 "without class names; give integer labels")
            base = tuple(stored or ())
            self.classes = base + tuple(sorted(used - set(base)))
        else:
            self.classes = stored
        self.index = {c: k for k, c in enumerate(self.classes or ())}

    def __call__(self, names: list[str]) -> tuple[list[int] | None, list | None]:
        """The labels (None: no labels) and metadata (None: none) of the images ``names``,
        in order; a name without a label is an ``InputError``."""
        lab = self.labelling
        labels: list[int] | None = [] if lab.has_labels else None
        meta: list | None = [] if lab.has_meta else None
        for name in names:
            if lab.by_position is not None:
                if self.position >= len(lab.by_position):
                    raise InputError(f"{lab.source} holds {len(lab.by_position)} labels, for "
                                     "fewer images than were given")
                labels.append(int(lab.by_position[self.position]))  # type: ignore[union-attr]
                self.position += 1
                continue
            if lab.folders:
                if "/" not in name:
                    raise InputError(f"{name}: labels from folders need every image in a "
                                     "folder (this one is at the top)")
                labels.append(self.index[name.split("/", 1)[0]])  # type: ignore[union-attr]
                continue
            entry = lab.entries.get(name) if lab.entries is not None else None
            if entry is None:
                raise InputError(f"{name}: {lab.source} gives this image no entry (every "
                                 "image compressed needs one)")
            self.seen.add(name)
            label, entry_meta = entry
            if labels is not None:
                if label is None:
                    raise InputError(f"{name}: {lab.source} gives this image no label")
                labels.append(self.index[label] if isinstance(label, str) else label)
            if meta is not None:
                meta.append(entry_meta)
        return labels, meta

    def unused(self) -> list[str]:
        """Names the labels file gives that no image compressed has (an array: how many
        labels were left over, as one message)."""
        lab = self.labelling
        if lab.by_position is not None:
            left = len(lab.by_position) - self.position
            return [f"{left} labels past the last image"] if left else []
        if lab.entries is None:
            return []
        return [name for name in lab.entries if name not in self.seen]


# --- writing labels beside decompressed images ------------------------------------------------
def check_output(path: str | os.PathLike, force: bool) -> Path:
    """A labels file to write: .csv or .json, replaced only with ``force``."""
    path = Path(path)
    if path.suffix.lower() not in (".csv", ".json"):
        raise InputError(f"{path}: labels are written as .csv or .json")
    check_output_file(path, force)
    return path


def render(path: Path, names: list[str], labels, meta, classes) -> bytes:
    """The labels file (CSV or JSON by ``path``'s extension) of the images ``names`` (the
    relative paths written), read back by ``load`` to the same labels and metadata: JSON
    keeps the metadata's types and the class names' order; CSV holds text (class names
    for labels that have one)."""
    suffix = path.suffix.lower()

    def shown(label: int):
        return classes[label] if classes is not None and 0 <= label < len(classes) else label

    for k, entry in enumerate(meta or ()):
        if any(isinstance(v, bytes) for v in (entry or {}).values()):
            raise InputError(f"{names[k]}: its metadata holds bytes, which a labels file "
                             "(text) cannot; read them with vaecodec.open(...).meta(i)")
        if suffix == ".json" and any(isinstance(v, float) and not np.isfinite(v)
                                     for v in (entry or {}).values()):
            raise InputError(f"{names[k]}: its metadata holds a NaN or infinite number, "
                             "which JSON cannot; write the labels as .csv")
    if suffix == ".json":
        images = {}
        for k, name in enumerate(names):
            entry = dict(meta[k] or {}) if meta is not None else {}
            if labels is not None:
                entry["label"] = shown(int(labels[k]))
            images[name] = entry if meta is not None else entry.get("label")
        document: dict = {"images": images}
        if classes is not None:
            document = {"classes": list(classes), "images": images}
        text = json.dumps(document, indent=1, ensure_ascii=False, allow_nan=False) + "\n"
    else:
        keys: list[str] = []
        for entry in meta or ():
            keys.extend(k for k in entry or () if k not in keys)
        clash = {"name", "label"} & set(keys)
        if clash:
            raise InputError(f"metadata key {sorted(clash)[0]!r} would be a column of its "
                             "own in CSV; write the labels as .json")
        out = io.StringIO(newline="")
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(["name"] + (["label"] if labels is not None else []) + keys)
        for k, name in enumerate(names):
            row = [name] + ([shown(int(labels[k]))] if labels is not None else [])
            entry = (meta[k] or {}) if meta is not None else {}
            row += ["" if entry.get(key) is None else entry[key] for key in keys]
            writer.writerow(row)
        text = out.getvalue()
    return text.encode("utf-8")
