"""Self-contained HTML reports of clmsim results (see :mod:`.html` for the format,
:mod:`.build` for what goes in, :mod:`.figures` for the figures and their captions)."""

from .build import load_run_dir, report_from_results, report_run_dir
from .html import Headline, Report, ReportFigure, ReportTable, render_html, write_report

__all__ = ["Headline", "Report", "ReportFigure", "ReportTable", "load_run_dir", "render_html",
           "report_from_results", "report_run_dir", "write_report"]
