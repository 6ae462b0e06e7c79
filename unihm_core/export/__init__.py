"""Trajectory export (JSON / NPZ / CSV / meta.json) with a JSON schema."""

from unihm_core.export.trajectory import (
    FORMAT,
    SCHEMA_PATH,
    TrajectoryExport,
    escape_csv_cell,
    read_export,
    to_json_dict,
    validate_json,
    write_export,
)

__all__ = ["FORMAT", "SCHEMA_PATH", "TrajectoryExport", "escape_csv_cell", "read_export", "to_json_dict",
           "validate_json", "write_export"]
