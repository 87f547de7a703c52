"""report.html per run and index.html per folder of runs: see and hear a run in a browser, offline.

Built only from the output contract files of a run folder (DESIGN.md), so `foley report DIR` can rebuild it
for any run, and a run whose report fails still delivers everything else.
"""

from foleydesigner.report.build import find_runs, write_index, write_report, write_report_safe

__all__ = ["find_runs", "write_index", "write_report", "write_report_safe"]
