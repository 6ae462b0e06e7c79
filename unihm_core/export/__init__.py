"""Trajectory export (JSON / NPZ / CSV / meta.json) with a JSON schema, and result folders
written atomically (:mod:`unihm_core.export.result`)."""

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
from unihm_core.export.result import (
    OutputFolderError,
    check_out_dir,
    holds_result,
    target_mesh,
    write_folder,
    write_result,
)

__all__ = ["FORMAT", "SCHEMA_PATH", "TrajectoryExport", "escape_csv_cell", "read_export", "to_json_dict",
           "validate_json", "write_export", "OutputFolderError", "check_out_dir", "holds_result", "target_mesh",
           "write_folder", "write_result"]
