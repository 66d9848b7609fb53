from urllib.parse import urlsplit


def is_safe_next(target) -> bool:
    """Only redirect after login to a path on this site, never to another host."""
    if not target:
        return False
    if "\\" in target or any(ord(c) < 32 for c in target):
        return False  # browsers read /\\evil.example as another site
    parts = urlsplit(target)
    return not parts.scheme and not parts.netloc and target.startswith("/") and not target.startswith("//")
