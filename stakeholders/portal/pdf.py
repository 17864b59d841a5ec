"""HTML to PDF with WeasyPrint. Its system libraries (Pango) may be missing on a machine: then
the PDF link says what to install instead of failing with a traceback."""

from __future__ import annotations

try:  # importing WeasyPrint loads Pango; without it the rest of the portal still works
    import weasyprint
except (ImportError, OSError):  # pragma: no cover - depends on the machine
    weasyprint = None

INSTALL_HINT = (
    "PDF export needs WeasyPrint's system libraries: on Debian or Ubuntu run "
    "`apt-get install libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz0b`, then restart the server."
)


class PdfUnavailable(RuntimeError):
    """WeasyPrint or its system libraries are not installed here."""


def pdf_available() -> str | None:
    """None when PDFs can be made, else what to install."""
    return None if weasyprint is not None else INSTALL_HINT


def html_to_pdf(html: str) -> bytes:
    """The PDF of a self-contained HTML page (its styles inline: nothing is fetched)."""
    if weasyprint is None:
        raise PdfUnavailable(INSTALL_HINT)
    return weasyprint.HTML(string=html).write_pdf()
