"""Every report also as PDF: A4, page numbers, the charts as vectors, Chinese text in an embedded CJK
font; read back with poppler's pdftotext and pdffonts."""

from __future__ import annotations

import subprocess
from pathlib import Path

from sqms.db import UnitOfWork
from sqms.records.service import compute_and_store
from sqms.complaints.rendering import produce_complaint_report
from sqms.monthly.rendering import produce_monthly_report
from sqms.reporting.service import verify_report
from tests.factories import PERIOD, seed_mixed


def _text(poppler, pdf: Path) -> str:
    return subprocess.run([poppler["pdftotext"], "-layout", str(pdf), "-"], capture_output=True, text=True,
                          check=True).stdout


def _fonts(poppler, pdf: Path) -> list[list[str]]:
    out = subprocess.run([poppler["pdffonts"], str(pdf)], capture_output=True, text=True, check=True).stdout
    return [line.split() for line in out.splitlines()[2:]]


def test_the_monthly_and_complaint_reports_as_pdf(poppler, sqlite_settings):
    seed_mixed(sqlite_settings)
    with UnitOfWork(sqlite_settings.database_url, actor="test") as uow:
        computation = compute_and_store(uow.session, sqlite_settings, PERIOD)
        monthly = produce_monthly_report(uow.session, sqlite_settings, computation)
        complaints = produce_complaint_report(uow.session, sqlite_settings, PERIOD, computation.as_of)
        uow.commit()
    pdf = Path(monthly.files["pdf"])
    assert pdf.name == f"monthly-report-{PERIOD}-v1.pdf" and pdf.parent == Path(monthly.files["html"]).parent
    assert verify_report(monthly)  # the PDF is part of the recorded version and its checksum
    data = pdf.read_bytes()
    assert data.startswith(b"%PDF-")
    text = _text(poppler, pdf)
    assert "服务质量月报 2026-03" in text
    for kpi in ("首次解决率", "响应及时率", "千单投诉率", "客户满意度均值", "净推荐值"):
        assert kpi in text, kpi
    assert "五、投诉分析" in text and "七、控制图（统计过程控制）" in text
    pages = text.count("\f")
    assert pages >= 2 and f"1 / {pages}" in text and f"{pages} / {pages}" in text  # page numbers
    # an embedded CJK font (Noto Sans CJK, subsetted), not a fallback with boxes
    fonts = _fonts(poppler, pdf)
    cjk = [f for f in fonts if "CJK" in f[0]]
    assert cjk and all(f[-5] == "yes" for f in cjk), fonts  # the "emb" column
    # A4 portrait (595 × 842 pt), and the charts as vector paths, not images
    info = subprocess.run([poppler["pdfinfo"], str(pdf)], capture_output=True, text=True, check=True).stdout
    assert "595.276 x 841.89 pts (A4)" in info
    images = subprocess.run([poppler["pdfimages"], "-list", str(pdf)], capture_output=True, text=True, check=True).stdout
    assert len(images.strip().splitlines()) == 2  # the header lines only: no raster image anywhere

    assert "· 版本 v1</div>" in Path(complaints.files["html"]).read_text(encoding="utf-8")
    text = _text(poppler, Path(complaints.files["pdf"]))
    assert f"投诉分析报告 {PERIOD}" in text and "按期办结率" in text
    assert any("CJK" in f[0] for f in _fonts(poppler, Path(complaints.files["pdf"])))
