"""The model sidecar (``docs/sidecar.md``): read it, and embed or extract flatbuffer metadata.

Needs neither TensorFlow nor LiteRT: the flatbuffer is read with the ``tflite`` schema package
and written by hand (see ``embed_metadata``).

Example (needs a model file, so not run as a doctest)::
    sidecar = read_sidecar("jester/online_tsm_int8.tflite")
    sidecar["labels"][:2], [s["input"] for s in sidecar["states"]][:1]
"""

from __future__ import annotations

import json
import os
import struct
from pathlib import Path

from tsm_tf.export.flatbuffer import metadata_entries, parse_model, read_metadata

__all__ = [
    "FORMAT",
    "METADATA_NAME",
    "VERSION",
    "SidecarError",
    "embed_metadata",
    "extract_metadata",
    "read_sidecar",
    "sidecar_bytes",
]

FORMAT = "tsm_tf.sidecar"
VERSION = 1
METADATA_NAME = "tsm_tf"

_IDENTIFIER = b"TFL3"
_ALIGN = 16  # largest alignment inside a TFLite flatbuffer (buffer data is force_align 16)
# Model table fields (schema.fbs, in order): which hold an offset (True) or a scalar (False).
_MODEL_FIELDS = (
    ("version", False),
    ("operator_codes", True),
    ("subgraphs", True),
    ("description", True),
    ("buffers", True),
    ("metadata_buffer", True),
    ("metadata", True),
    ("signature_defs", True),
)
_BUFFERS, _METADATA = 4, 6  # field ids


class SidecarError(ValueError):
    """A sidecar that is missing, unreadable or not in the ``tsm_tf.sidecar`` format."""


def sidecar_bytes(sidecar: dict) -> bytes:
    """The UTF-8 JSON of ``sidecar`` as written to ``NAME.json`` and embedded in the model."""
    return (json.dumps(sidecar, indent=2, ensure_ascii=False) + "\n").encode("utf-8")


def _parse(data: bytes, where: str) -> dict:
    try:
        sidecar = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise SidecarError(f"{where} is not valid UTF-8 JSON ({error}).") from None
    if not isinstance(sidecar, dict) or sidecar.get("format") != FORMAT:
        raise SidecarError(
            f"{where} is not a {FORMAT} sidecar (its 'format' is "
            f"{sidecar.get('format') if isinstance(sidecar, dict) else None!r}); write it with "
            "converters/to_tflite.py."
        )
    if sidecar.get("version") != VERSION:
        raise SidecarError(
            f"{where} is {FORMAT} version {sidecar.get('version')!r}; this tsm_tf reads version "
            f"{VERSION}. Convert the model again with this version."
        )
    return sidecar


def read_sidecar(path: str | os.PathLike) -> dict:
    """The sidecar of a model: ``path`` is the ``.tflite`` or its ``.json``.

    The ``.json`` beside the model wins; the metadata embedded under ``tsm_tf`` is read when
    there is no ``.json``. When both exist they must hold the same content.
    """
    path = Path(path)
    if path.suffix == ".json":
        json_path, model_path = path, path.with_suffix(".tflite")
    else:
        json_path, model_path = path.with_suffix(".json"), path
    if not json_path.exists() and not model_path.exists():
        raise SidecarError(f"No model or sidecar at {str(path)!r}: neither the file nor its "
                           f"{json_path.name!r} exists.")

    from_json = None
    if json_path.exists():
        try:
            from_json = _parse(json_path.read_bytes(), f"Sidecar {str(json_path)!r}")
        except OSError as error:
            raise SidecarError(f"Cannot read sidecar {str(json_path)!r}: {error.strerror}.") \
                from None
    embedded = None
    if model_path.exists():
        try:
            flatbuffer = model_path.read_bytes()
        except OSError as error:
            raise SidecarError(f"Cannot read model {str(model_path)!r}: {error.strerror}.") \
                from None
        try:
            data = extract_metadata(flatbuffer, METADATA_NAME)
        except ValueError as error:
            if from_json is None:
                raise SidecarError(f"{model_path}: {error}") from None
            data = None
        if data is not None:
            embedded = _parse(data, f"The metadata {METADATA_NAME!r} of {str(model_path)!r}")

    if from_json is not None and embedded is not None and from_json != embedded:
        raise SidecarError(
            f"{str(json_path)!r} differs from the sidecar embedded in {str(model_path)!r}; "
            "convert the model again (or delete the stale .json)."
        )
    if from_json is not None:
        return from_json
    if embedded is None:
        raise SidecarError(
            f"{str(model_path)!r} has no {json_path.name!r} beside it and no embedded "
            f"{METADATA_NAME!r} metadata; convert it with converters/to_tflite.py."
        )
    return embedded


# --- flatbuffer metadata -------------------------------------------------------------------


def extract_metadata(flatbuffer: bytes, name: str) -> bytes | None:
    """The bytes stored under metadata ``name`` in a TFLite flatbuffer, or ``None``."""
    return read_metadata(flatbuffer, name)


def _u32(data: bytes | bytearray, pos: int) -> int:
    return struct.unpack_from("<I", data, pos)[0]


def _pad(out: bytearray, align: int, extra: int = 0) -> None:
    """Zero-pad ``out`` until ``len(out) + extra`` is a multiple of ``align``."""
    out.extend(b"\0" * ((-(len(out) + extra)) % align))


def _model_fields(data: bytes) -> dict[int, int]:
    """Field id -> absolute position of the field in the root Model table (present ones)."""
    table = _u32(data, 0)
    vtable = table - struct.unpack_from("<i", data, table)[0]
    vtable_size = struct.unpack_from("<H", data, vtable)[0]
    count = (vtable_size - 4) // 2
    fields = {}
    for field_id in range(count):
        offset = struct.unpack_from("<H", data, vtable + 4 + 2 * field_id)[0]
        if offset:
            if field_id >= len(_MODEL_FIELDS):
                raise ValueError(f"the model has a Model field (id {field_id}) this tsm_tf does "
                                 "not know; update tsm_tf (and the tflite package)")
            fields[field_id] = table + offset
    return fields


def _vector_targets(data: bytes, field_pos: int) -> list[int]:
    """Absolute positions of the tables a vector-of-tables field refers to."""
    vector = field_pos + _u32(data, field_pos)
    length = _u32(data, vector)
    return [vector + 4 + 4 * j + _u32(data, vector + 4 + 4 * j) for j in range(length)]


def embed_metadata(flatbuffer: bytes, name: str, data: bytes) -> bytes:
    """A copy of ``flatbuffer`` with ``data`` stored as metadata ``name`` (replacing any old one).

    The original bytes are kept untouched (shifted by a multiple of 16, so every alignment
    holds): a new root Model table is written in front of them, pointing forward into the old
    tables, with new ``buffers`` and ``metadata`` vectors; the new Buffer and Metadata tables go
    after them. The model's tensors, operators and signatures are unchanged.
    """
    flatbuffer = bytes(flatbuffer)
    model = parse_model(flatbuffer)
    if any(model.Buffers(j).Offset() > 1 for j in range(model.BuffersLength())):
        raise ValueError("models over 2 GB (buffers stored by file offset) are not supported")
    fields = _model_fields(flatbuffer)
    buffers = _vector_targets(flatbuffer, fields[_BUFFERS]) if _BUFFERS in fields else []
    old_entries = metadata_entries(model)
    metadata = _vector_targets(flatbuffer, fields[_METADATA]) if _METADATA in fields else []
    replaced = {index for entry_name, index in old_entries if entry_name == name}
    kept = [pos for pos, (entry_name, _) in zip(metadata, old_entries, strict=True)
            if entry_name != name]

    # Header: root offset and file identifier.
    out = bytearray(8)
    out[4:8] = _IDENTIFIER
    # Vtable of the new Model table: a 4-byte slot per field after the soffset; fields absent
    # from the old model stay absent (vtable entry 0).
    count = len(_MODEL_FIELDS)
    present = set(fields) | {_BUFFERS, _METADATA}
    vtable_pos = len(out)
    out += struct.pack("<HH", 4 + 2 * count, 4 + 4 * count)
    out += struct.pack(f"<{count}H", *(4 + 4 * i if i in present else 0 for i in range(count)))
    _pad(out, 4)
    table_pos = len(out)
    struct.pack_into("<I", out, 0, table_pos)
    out += struct.pack("<i", table_pos - vtable_pos)
    out += b"\0" * (4 * count)
    # Vectors of the new table, filled in once the shift of the old bytes is known.
    buffers_pos = len(out)
    out += b"\0" * (4 + 4 * (len(buffers) + 1))
    metadata_pos = len(out)
    out += b"\0" * (4 + 4 * (len(kept) + 1))
    _pad(out, _ALIGN)
    shift = len(out)
    out += flatbuffer
    _pad(out, _ALIGN)

    # New objects after the old bytes: an empty Buffer (for a replaced entry), the Buffer
    # holding ``data``, the Metadata table and its name.
    empty_table = None
    if replaced:
        empty_vtable = len(out)
        out += struct.pack("<HH", 4, 4)
        empty_table = len(out)
        out += struct.pack("<i", empty_table - empty_vtable)
    _pad(out, 4)
    data_vtable = len(out)
    out += struct.pack("<HHH", 6, 8, 4) + b"\0\0"
    data_table = len(out)
    out += struct.pack("<i", data_table - data_vtable) + b"\0\0\0\0"
    _pad(out, _ALIGN, extra=4)  # the bytes (after the length) start 16-aligned
    data_vector = len(out)
    out += struct.pack("<I", len(data)) + data
    struct.pack_into("<I", out, data_table + 4, data_vector - (data_table + 4))
    _pad(out, 4)
    meta_vtable = len(out)
    out += struct.pack("<HHHH", 8, 12, 4, 8)
    meta_table = len(out)
    out += struct.pack("<iII", meta_table - meta_vtable, 0, len(buffers))
    name_pos = len(out)
    encoded = name.encode("utf-8")
    out += struct.pack("<I", len(encoded)) + encoded + b"\0"
    _pad(out, 4)
    struct.pack_into("<I", out, meta_table + 4, name_pos - (meta_table + 4))

    def point(at: int, target: int) -> None:  # a forward uoffset stored at ``at``
        struct.pack_into("<I", out, at, target - at)

    # Buffers: the old ones (moved), an empty one in place of a replaced entry, the new one.
    struct.pack_into("<I", out, buffers_pos, len(buffers) + 1)
    for j, target in enumerate(buffers):
        slot = buffers_pos + 4 + 4 * j
        point(slot, empty_table if j in replaced else target + shift)
    point(buffers_pos + 4 + 4 * len(buffers), data_table)
    # Metadata: the kept entries (moved) and the new one.
    struct.pack_into("<I", out, metadata_pos, len(kept) + 1)
    for j, target in enumerate(kept):
        point(metadata_pos + 4 + 4 * j, target + shift)
    point(metadata_pos + 4 + 4 * len(kept), meta_table)
    # The Model fields: scalars copied, offsets re-pointed at the moved targets.
    for field_id, (_, is_offset) in enumerate(_MODEL_FIELDS):
        slot = table_pos + 4 + 4 * field_id
        if field_id == _BUFFERS:
            point(slot, buffers_pos)
        elif field_id == _METADATA:
            point(slot, metadata_pos)
        elif field_id in fields:
            old = fields[field_id]
            if is_offset:
                point(slot, old + _u32(flatbuffer, old) + shift)
            else:
                out[slot:slot + 4] = flatbuffer[old:old + 4]
    return bytes(out)
