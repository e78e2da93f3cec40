"""Encrypted OOXML (DOCX/XLSX/PPTX inside an encrypted OLE container): decrypted in the worker with the
given passwords, then read by the extractor of what is inside. The original is never changed."""

from __future__ import annotations

from pathlib import Path

from app.extract.base import ExtractContext, Extraction
from app.extract.errors import CorruptError
from app.extract.legacy import _decrypt

# Excel writes files "protected" with this built-in password; they open without asking.
_DEFAULT = ("VelvetSweatshop",)


class EncryptedOfficeExtractor:
    name = "encrypted-office"
    version = "1"
    doc_types = ("ole-encrypted",)

    def extract(self, path: Path, ctx: ExtractContext) -> Extraction:
        from app.extract.detect import detect_type
        from app.extract.registry import extractor_for

        data, _password = _decrypt(path, ctx.passwords, "Office document", default=_DEFAULT)
        ctx.work_dir.mkdir(parents=True, exist_ok=True)
        plain = ctx.work_dir / ".decrypted"
        plain.write_bytes(data)
        try:
            inner = detect_type(plain, ctx.name_hint)
            extractor = extractor_for(inner)
            if extractor is None or inner == "ole-encrypted":
                raise CorruptError(f"decrypted Office document is not readable ({inner})")
            return extractor.extract(plain, ctx)
        finally:
            plain.unlink(missing_ok=True)
