"""Pictures made in the tests (no binary files in the repository): real ones, and hostile ones."""

import io
import struct
import zlib

from PIL import Image


def image_bytes(kind="PNG", size=(40, 50), mode="RGB", color=(60, 90, 140), **save):
    """A real image of ``size`` in ``kind`` (PNG, JPEG, WEBP, GIF), saved with ``save`` options (exif=...)."""
    buffer = io.BytesIO()
    Image.new(mode, size, color).save(buffer, kind, **save)
    return buffer.getvalue()


def png_chunk(kind, data):
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def declared_png(width, height):
    """A few hundred bytes that declare a ``width`` × ``height`` PNG: a decompression bomb's header.

    The pixel data is a run of zero rows that inflates to the whole image
    (one byte of filter plus one grey byte per pixel) from a tiny stream.
    """
    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    row = b"\x00" * (width + 1)
    packer = zlib.compressobj(9)
    data = b"".join(packer.compress(row) for _ in range(min(height, 64))) + packer.flush()
    return b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", header) + png_chunk(b"IDAT", data) + png_chunk(b"IEND", b"")


POLYGLOT_HTML = b"<html><body><script>alert(document.cookie)</script></body></html>"


def png_html_polyglot():
    """A valid PNG that is also an HTML page: the markup in a text chunk and after the end."""
    png = image_bytes("PNG", (20, 20))
    end = png.rindex(b"IEND") - 4
    return png[:end] + png_chunk(b"tEXt", b"Comment\x00" + POLYGLOT_HTML) + png[end:] + POLYGLOT_HTML
