"""BAM at the byte level: decompress to the raw record stream, find records, patch fields,
and compress again as valid BGZF (with correct checksums and the end-of-file block), so that
a mutation reaches the record parser rather than stopping at a checksum."""

from __future__ import annotations

import gzip
import struct
from dataclasses import dataclass
from pathlib import Path

import pysam

#: Offsets of the fixed fields of a BAM record, from the start of its ``block_size`` (SAM
#: spec 4.2): name -> (offset, struct format).
FIELDS = {
    "block_size": (0, "<i"), "ref_id": (4, "<i"), "pos": (8, "<i"), "l_read_name": (12, "<B"),
    "mapq": (13, "<B"), "bin": (14, "<H"), "n_cigar_op": (16, "<H"), "flag": (18, "<H"),
    "l_seq": (20, "<i"), "next_ref_id": (24, "<i"), "next_pos": (28, "<i"), "tlen": (32, "<i"),
}


@dataclass
class RawBam:
    """The decompressed bytes of a BAM and the offset of every record in them."""

    data: bytearray
    records: list[int]
    n_ref: int
    ref_lengths: list[int]

    @classmethod
    def read(cls, path: str | Path) -> "RawBam":
        data = bytearray(gzip.decompress(Path(path).read_bytes()))
        (l_text,) = struct.unpack_from("<i", data, 4)
        at = 8 + l_text
        (n_ref,) = struct.unpack_from("<i", data, at)
        at += 4
        lengths = []
        for _ in range(n_ref):
            (l_name,) = struct.unpack_from("<i", data, at)
            at += 4 + l_name
            lengths.append(struct.unpack_from("<i", data, at)[0])
            at += 4
        records = []
        while at + 4 <= len(data):
            records.append(at)
            at += 4 + struct.unpack_from("<i", data, at)[0]
        return cls(data, records, n_ref, lengths)

    def get(self, record: int, name: str) -> int:
        offset, fmt = FIELDS[name]
        return struct.unpack_from(fmt, self.data, self.records[record] + offset)[0]

    def set(self, record: int, name: str, value: int) -> None:
        offset, fmt = FIELDS[name]
        struct.pack_into(fmt, self.data, self.records[record] + offset, value)

    def write(self, path: str | Path) -> None:
        """Compress as BGZF with correct checksums and the end-of-file block."""
        with pysam.libcbgzf.BGZFile(str(path), "wb") as out:
            out.write(bytes(self.data))


def rewrite_records(source: str | Path, target: str | Path, edit, limit: int | None = None):
    """Copy ``source`` to ``target`` through pysam, calling ``edit(index, record)`` on each
    record (it may change the record in place) and stopping after ``limit`` records."""
    with pysam.AlignmentFile(str(source)) as src, \
            pysam.AlignmentFile(str(target), "wb", template=src) as out:
        for i, record in enumerate(src):
            if limit is not None and i >= limit:
                break
            edit(i, record)
            out.write(record)
