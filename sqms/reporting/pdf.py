"""PDF of every report, rendered from its own HTML file with WeasyPrint: A4, page numbers, the SVG
charts as vectors and the Chinese text in an embedded CJK font (Noto Sans CJK SC from Debian's
`fonts-noto-cjk`, found through fontconfig).

Why WeasyPrint rather than Chromium's print-to-PDF: both draw the inline SVG as vectors, but
Chromium embeds the CFF-flavoured Noto CJK fonts as unnamed Type 3 glyph procedures, while WeasyPrint
embeds them as named, subsetted CID-keyed OpenType fonts (`pdffonts`: CID Type 0C, emb yes): text
that stays crisp at any zoom, copies and searches as Chinese, and prints as a real font. It also needs
no browser process on the server. `sqms doctor` checks that a CJK font is installed.
"""

from __future__ import annotations

import logging
import subprocess
from pathlib import Path

log = logging.getLogger(__name__)

CJK_FONT = "Noto Sans CJK SC"

# The print layout: A4 portrait, the page number at the foot of every page, the CJK font first, two
# charts a row, and neither a chart nor a table row split across pages.
PRINT_CSS = f"""
@page {{
  size: A4; margin: 14mm 12mm 16mm;
  @bottom-center {{ content: counter(page) " / " counter(pages); font-family: "{CJK_FONT}", sans-serif;
                    font-size: 8pt; color: #616e7c; }}
}}
html, body {{ font-family: "{CJK_FONT}", "WenQuanYi Micro Hei", sans-serif; font-size: 10pt; }}
body {{ max-width: none; margin: 0; padding: 0; }}
.grid {{ display: grid; grid-template-columns: 1fr 1fr; gap: 8px; }}
.split {{ display: grid; grid-template-columns: 1fr 1fr; gap: 8px; }}
figure, tr, .card, dl.defs div {{ break-inside: avoid; }}
svg.chart {{ max-width: 100% !important; }}
h2 {{ break-after: avoid; }}
.table-wrap {{ overflow: visible; }}
"""


class PdfError(RuntimeError):
    """The PDF could not be written (WeasyPrint or its system libraries missing)."""


def html_to_pdf(html_path: str | Path, pdf_path: str | Path | None = None) -> Path:
    """Render a self-contained report HTML file to PDF next to it (same stem) or at `pdf_path`."""
    html_path = Path(html_path)
    pdf_path = Path(pdf_path) if pdf_path else html_path.with_suffix(".pdf")
    try:
        import weasyprint
    except (ImportError, OSError) as exc:  # OSError: pango/cairo libraries missing
        raise PdfError(f"WeasyPrint cannot run: {exc}") from exc
    for name in ("weasyprint", "fontTools", "fontTools.subset"):  # per-glyph chatter, not our problem
        logging.getLogger(name).setLevel(logging.ERROR)
    document = weasyprint.HTML(filename=str(html_path), base_url=str(html_path.parent))
    document.write_pdf(str(pdf_path), stylesheets=[weasyprint.CSS(string=PRINT_CSS)])
    return pdf_path


def with_pdf(files: dict[str, Path]) -> dict[str, Path]:
    """`files` with a `pdf` rendered from its `html` (when there is an HTML and no PDF yet)."""
    if "html" not in files or "pdf" in files:
        return files
    return {**files, "pdf": html_to_pdf(files["html"])}


def cjk_font() -> str | None:
    """The file of the CJK font fontconfig picks for Chinese text in `CJK_FONT`, or None if it would
    fall back to a font without Chinese glyphs."""
    try:
        out = subprocess.run(["fc-match", "-f", "%{file}|%{lang}", f"{CJK_FONT}:lang=zh-cn"], capture_output=True,
                             text=True, timeout=10, check=False).stdout
    except (OSError, subprocess.TimeoutExpired):
        return None
    path, _, langs = out.partition("|")
    return path if path and "zh-cn" in langs.split("|") else None
