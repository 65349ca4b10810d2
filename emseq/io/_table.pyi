import numpy as np

TEXT: int
INTEGER: int
FLOAT: int

def format_columns(kinds: list[int], columns: list, float_format: bytes, n_rows: int,
                   general_precision: int = ...) -> bytes | None: ...

def format_ragged_rows(offsets: np.ndarray, values: np.ndarray, last: np.ndarray) -> bytes: ...
